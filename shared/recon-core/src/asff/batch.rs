//! Packing findings into `BatchImportFindings` requests: at most [`MAX_FINDINGS_PER_BATCH`]
//! findings and [`MAX_BATCH_BYTES`] bytes each, one finding per Id, and every finding shrunk
//! below [`MAX_FINDING_BYTES`] where that is possible.
//!
//! Shrinking follows Security Hub: first `Resources[].Details` is removed (what the service does
//! to an oversized finding), then the evidence ProductFields (`recon/evidence/…`) are cut short,
//! then removed. A finding still too big after that is not sent; [`plan_batches`] returns it.

use std::collections::HashMap;

use serde_json::Value;
use tracing::{debug, warn};

use super::text::truncate;
use super::{serialized_len, EVIDENCE_FIELDS_PREFIX};
use super::{MAX_BATCH_BYTES, MAX_FINDINGS_PER_BATCH, MAX_FINDING_BYTES};
use crate::time::Timestamp;

/// How long an evidence ProductFields value may stay when a finding must shrink.
const TRIMMED_EVIDENCE: usize = 256;
/// `{"Findings":[` and `]}` around the findings of a request.
const REQUEST_OVERHEAD: usize = r#"{"Findings":[]}"#.len();

/// The result of [`plan_batches`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchPlan {
    /// Requests to send, in order.
    pub batches: Vec<Vec<Value>>,
    /// Findings that could not be shrunk under [`MAX_FINDING_BYTES`] and are not sent.
    pub rejected: Vec<Value>,
}

/// The serialized size of a `{"Findings":[…]}` request body holding `findings`.
pub fn request_len(findings: &[Value]) -> usize {
    let items: usize = findings.iter().map(serialized_len).sum();
    REQUEST_OVERHEAD + items + findings.len().saturating_sub(1)
}

/// Splits findings into requests Security Hub accepts (see [`plan_batches`]); findings that
/// cannot be made small enough are logged and left out.
pub fn batches(findings: Vec<Value>) -> Vec<Vec<Value>> {
    let plan = plan_batches(findings);
    for f in &plan.rejected {
        let id = f.get("Id").and_then(Value::as_str).unwrap_or("<no Id>");
        warn!(id, bytes = serialized_len(f), "ASFF finding too large to import; dropped");
    }
    plan.batches
}

/// Splits findings into requests of at most [`MAX_FINDINGS_PER_BATCH`] findings and
/// [`MAX_BATCH_BYTES`] bytes, keeping their order. Findings sharing an Id are collapsed to the
/// one with the latest `UpdatedAt` (the later one on a tie), since Security Hub ignores an update
/// that is not strictly newer. Oversized findings are shrunk with [`shrink_to_fit`]; those that
/// stay too big are returned in [`BatchPlan::rejected`].
pub fn plan_batches(findings: Vec<Value>) -> BatchPlan {
    let mut plan = BatchPlan::default();
    let mut current: Vec<Value> = Vec::new();
    let mut current_bytes = REQUEST_OVERHEAD;
    for mut f in dedup_by_id(findings) {
        if !shrink_to_fit(&mut f) {
            plan.rejected.push(f);
            continue;
        }
        let bytes = serialized_len(&f);
        let separator = usize::from(!current.is_empty());
        let full = current.len() == MAX_FINDINGS_PER_BATCH
            || current_bytes + separator + bytes > MAX_BATCH_BYTES;
        if full && !current.is_empty() {
            plan.batches.push(std::mem::take(&mut current));
            current_bytes = REQUEST_OVERHEAD;
        }
        current_bytes += usize::from(!current.is_empty()) + bytes;
        current.push(f);
    }
    if !current.is_empty() {
        plan.batches.push(current);
    }
    plan
}

fn updated_at(f: &Value) -> Option<Timestamp> {
    f.get("UpdatedAt").and_then(Value::as_str).and_then(Timestamp::parse)
}

/// Keeps one finding per Id (the latest `UpdatedAt`, the later one on a tie) at the position of
/// the one kept. Findings without a string Id are kept as they are.
fn dedup_by_id(findings: Vec<Value>) -> Vec<Value> {
    let mut slots: Vec<Option<Value>> = Vec::with_capacity(findings.len());
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for f in findings {
        let Some(id) = f.get("Id").and_then(Value::as_str).map(str::to_owned) else {
            slots.push(Some(f));
            continue;
        };
        if let Some(&prev) = by_id.get(&id) {
            let older = slots[prev].as_ref().and_then(updated_at);
            if updated_at(&f) < older {
                debug!(id, "dropping an older duplicate of an ASFF finding");
                continue;
            }
            debug!(id, "replacing an older duplicate of an ASFF finding");
            slots[prev] = None;
        }
        by_id.insert(id, slots.len());
        slots.push(Some(f));
    }
    slots.into_iter().flatten().collect()
}

/// Shrinks a finding over [`MAX_FINDING_BYTES`]: removes `Resources[].Details`, then cuts the
/// evidence ProductFields short, then removes them. Returns whether it now fits.
pub fn shrink_to_fit(finding: &mut Value) -> bool {
    let fits = |f: &Value| serialized_len(f) <= MAX_FINDING_BYTES;
    if fits(finding) {
        return true;
    }
    if let Some(resources) = finding.get_mut("Resources").and_then(Value::as_array_mut) {
        for r in resources.iter_mut().filter_map(Value::as_object_mut) {
            r.remove("Details");
        }
    }
    debug!("ASFF finding over the size limit: removed Resources[].Details");
    if fits(finding) {
        return true;
    }
    let Some(fields) = finding.get_mut("ProductFields").and_then(Value::as_object_mut) else {
        return false;
    };
    for (key, value) in fields.iter_mut() {
        if let (true, Some(s)) = (key.starts_with(EVIDENCE_FIELDS_PREFIX), value.as_str()) {
            *value = Value::String(truncate(s, TRIMMED_EVIDENCE));
        }
    }
    debug!("ASFF finding still over the size limit: trimmed evidence ProductFields");
    if fits(finding) {
        return true;
    }
    if let Some(fields) = finding.get_mut("ProductFields").and_then(Value::as_object_mut) {
        fields.retain(|key, _| !key.starts_with(EVIDENCE_FIELDS_PREFIX));
    }
    fits(finding)
}
