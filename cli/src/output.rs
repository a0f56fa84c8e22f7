//! What `recon scan` prints: findings on stdout (table, ASFF array, JSON lines or import-sized
//! batches) and a summary of the run on stderr.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use recon_core::asff;
use recon_core::engine::{CommitReport, ObjectReport};
use recon_core::finding::{Evidence, Finding, FindingType, Subject};
use recon_core::time::Timestamp;

use crate::args::Format;

/// Prints the findings the run created or updated, each once in its final state. ASFF is
/// rendered and written one finding at a time, so memory does not grow with the findings.
pub fn print(format: Format, commit: &CommitReport) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Table => table(&mut out, &commit.findings)?,
        Format::Asff => {
            let n = commit.findings.len();
            if n > asff::MAX_FINDINGS_PER_BATCH {
                let per = asff::MAX_FINDINGS_PER_BATCH;
                tracing::warn!(
                    findings = n,
                    "batch-import-findings takes at most {per} findings a call: use \
                     --format asff-batches for one import request a line"
                );
            }
            write!(out, "[")?;
            let mut first = true;
            for v in commit.findings.iter().filter_map(rendered) {
                write!(out, "{}\n  ", if first { "" } else { "," })?;
                serde_json::to_writer(&mut out, &v)?;
                first = false;
            }
            writeln!(out, "{}]", if first { "" } else { "\n" })?;
        }
        Format::Jsonl => {
            for v in commit.findings.iter().filter_map(rendered) {
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            }
        }
        Format::AsffBatches => {
            // Batching sizes every finding, so all of them are rendered first: this format
            // holds the run's findings in memory, the others write them one at a time.
            let findings: Vec<serde_json::Value> =
                commit.findings.iter().filter_map(rendered).collect();
            for batch in asff::batches(findings) {
                serde_json::to_writer(&mut out, &batch)?;
                writeln!(out)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// ASFF for a finding; a finding that breaks Security Hub's rules is reported and left out (it
/// would be rejected on import).
fn rendered(f: &Finding) -> Option<serde_json::Value> {
    let v = asff::render(f);
    match asff::validate(&v) {
        Ok(()) => Some(v),
        Err(violations) => {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            tracing::error!(id = %f.id, violations = %list.join("; "), "finding is not valid ASFF; left out");
            None
        }
    }
}

fn table(out: &mut impl Write, findings: &[Finding]) -> Result<()> {
    if findings.is_empty() {
        writeln!(out, "No new or updated findings.")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<6}  {:<38}  {:>5}  {:<20}  SUBJECT / DETAIL",
        "SEV", "TYPE", "COUNT", "FIRST SEEN"
    )?;
    // Findings come in first-seen order: a timeline of the reconnaissance.
    for f in findings {
        writeln!(
            out,
            "{:<6}  {:<38}  {:>5}  {:<20}  {}",
            f.severity.label(),
            f.finding_type.name(),
            f.count,
            seconds(f.first_seen),
            subject(f)
        )?;
        if let Some(d) = detail(f) {
            writeln!(out, "{:<6}  {:<38}  {:>5}  {:<20}    {d}", "", "", "", "")?;
        }
    }
    Ok(())
}

/// A time to the second, as the table shows it.
fn seconds(t: Timestamp) -> String {
    let mut text = t.to_string();
    text.truncate(19);
    text
}

fn subject(f: &Finding) -> String {
    match &f.subject {
        Subject::Principal(p) => p.key.clone(),
        Subject::Ec2(e) => e
            .instance_id
            .clone()
            .or_else(|| e.interface_id.clone())
            .unwrap_or_else(|| "unknown instance".into()),
    }
}

fn detail(f: &Finding) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(ip) = f.remote_ip {
        let dir = if f.finding_type == FindingType::Portscan {
            "to"
        } else {
            "from"
        };
        parts.push(format!("{dir} {ip}"));
    }
    if let Some(hit) = &f.intel {
        parts.push(format!("listed in {} as {}", hit.list, hit.entry));
    }
    match &f.evidence {
        Evidence::Api(e) if !e.new_apis.is_empty() => {
            parts.push(format!("new: {}", e.new_apis.join(", ")))
        }
        Evidence::Api(e) => {
            let apis: Vec<String> = e
                .apis
                .iter()
                .map(|a| format!("{}×{}", a.api, a.count))
                .collect();
            parts.push(apis.join(", "));
        }
        Evidence::Network(n) => {
            let ports: Vec<String> = n.ports.iter().map(|p| p.port.to_string()).collect();
            parts.push(format!("ports {}", ports.join(",")));
        }
    }
    if f.last_seen != f.first_seen {
        parts.push(format!("last seen {}", seconds(f.last_seen)));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The run's summary on stderr.
pub fn summary(
    commit: &CommitReport,
    reports: &[ObjectReport],
    skipped: usize,
    unreadable: usize,
    state: &Path,
) {
    let records: u64 = reports.iter().map(|r| r.records).sum();
    let evaluated: u64 = reports.iter().map(|r| r.evaluated).sum();
    let issues: u64 = reports.iter().map(|r| r.issue_count).sum();
    let stopped = reports.iter().filter(|r| r.fatal.is_some()).count();
    let not_logs = reports
        .iter()
        .filter(|r| r.kind.is_some_and(|k| !k.is_log()))
        .count();
    eprintln!(
        "recon: {} objects scanned ({not_logs} not logs), {skipped} already processed, {unreadable} unreadable; \
         {records} records, {evaluated} evaluated, {issues} malformed, {stopped} objects cut short",
        reports.len()
    );
    eprintln!(
        "recon: {} findings created, {} updated, {} suppressed; state in {}",
        commit.created,
        commit.findings.len() - commit.created,
        commit.suppressed.len(),
        state.display()
    );
    for r in reports
        .iter()
        .filter(|r| r.issue_count > 0 || r.fatal.is_some())
    {
        for i in &r.issues {
            eprintln!("recon: {i}");
        }
        if r.issue_count > r.issues.len() as u64 {
            eprintln!(
                "recon: {}: {} more malformed records",
                r.name,
                r.issue_count - r.issues.len() as u64
            );
        }
        if let Some(f) = &r.fatal {
            eprintln!("recon: {}: read stopped early: {f}", r.name);
        }
    }
}
