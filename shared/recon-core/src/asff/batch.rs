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
        warn!(
            id,
            bytes = serialized_len(f),
            "ASFF finding too large to import; dropped"
        );
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
    f.get("UpdatedAt")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse)
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
    let Some(fields) = finding
        .get_mut("ProductFields")
        .and_then(Value::as_object_mut)
    else {
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
    if let Some(fields) = finding
        .get_mut("ProductFields")
        .and_then(Value::as_object_mut)
    {
        fields.retain(|key, _| !key.starts_with(EVIDENCE_FIELDS_PREFIX));
    }
    fits(finding)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{fixtures, render, validate, validate_batch};
    use super::*;

    fn numbered(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| {
                let mut v = render(&fixtures::portscan());
                v["Id"] = json!(format!("recon/portscan/{i}"));
                v
            })
            .collect()
    }

    fn padded(i: usize, bytes: usize) -> Value {
        json!({"Id": format!("pad/{i}"), "Pad": "p".repeat(bytes)})
    }

    #[test]
    fn splits_at_100_findings() {
        let out = batches(numbered(250));
        let sizes: Vec<usize> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(out[1][0]["Id"], "recon/portscan/100");
        for batch in &out {
            assert_eq!(validate_batch(batch), Ok(()));
        }
        assert!(batches(Vec::new()).is_empty());
    }

    #[test]
    fn splits_at_6_mb() {
        let findings: Vec<Value> = (0..31).map(|i| padded(i, 200 * 1024)).collect();
        let out = batches(findings);
        let sizes: Vec<usize> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [30, 1]);
        assert!(out.iter().all(|b| request_len(b) <= MAX_BATCH_BYTES));
        // A request of exactly 6 MB is one batch; one byte more is two.
        let sized = |i: usize, total: usize| padded(i, total - serialized_len(&padded(i, 0)));
        let each = 233_000;
        let last = MAX_BATCH_BYTES - REQUEST_OVERHEAD - 26 - 26 * each;
        let exact = |extra: usize| -> Vec<Value> {
            let mut v: Vec<Value> = (0..26).map(|i| sized(i, each)).collect();
            v.push(sized(26, last + extra));
            v
        };
        assert_eq!(request_len(&exact(0)), MAX_BATCH_BYTES);
        assert_eq!(batches(exact(0)).len(), 1);
        assert_eq!(
            batches(exact(1)).iter().map(Vec::len).collect::<Vec<_>>(),
            [26, 1]
        );
    }

    #[test]
    fn request_len_matches_the_serialized_body() {
        let findings = numbered(3);
        let body = serde_json::to_string(&json!({ "Findings": findings })).unwrap_or_default();
        assert_eq!(request_len(&findings), body.len());
    }

    #[test]
    fn oversized_finding_loses_its_details_first() {
        let mut v = render(&fixtures::port_probe());
        v["Resources"][0]["Details"]["Other"] = json!({"Pad": "p".repeat(300 * 1024)});
        assert!(serialized_len(&v) > MAX_FINDING_BYTES);
        let out = batches(vec![v]);
        assert_eq!(out.len(), 1);
        let v = &out[0][0];
        assert!(v["Resources"][0].get("Details").is_none());
        assert!(
            v["ProductFields"]["recon/evidence/ports"].is_string(),
            "evidence kept"
        );
        assert_eq!(validate(v), Ok(()));
    }

    #[test]
    fn then_its_evidence_fields_are_trimmed() {
        let mut v = render(&fixtures::tor_caller());
        for i in 0..20 {
            v["ProductFields"][format!("recon/evidence/x{i}")] = json!("e".repeat(20_000));
        }
        assert!(serialized_len(&v) > MAX_FINDING_BYTES);
        assert!(shrink_to_fit(&mut v));
        assert!(v["Resources"][0].get("Details").is_none());
        let trimmed = v["ProductFields"]["recon/evidence/x0"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(trimmed.chars().count(), TRIMMED_EVIDENCE);
        assert_eq!(v["ProductFields"]["recon/count"], "3");
    }

    #[test]
    fn and_removed_when_trimming_is_not_enough() {
        let mut v = render(&fixtures::tor_caller());
        for i in 0..1_000 {
            v["ProductFields"][format!("recon/evidence/{i}")] = json!("e".repeat(300));
        }
        assert!(shrink_to_fit(&mut v));
        let fields = v["ProductFields"]
            .as_object()
            .map(|m| m.len())
            .unwrap_or_default();
        assert!(fields > 0 && serialized_len(&v) <= MAX_FINDING_BYTES);
        assert!(v["ProductFields"].get("recon/evidence/0").is_none());
    }

    #[test]
    fn unshrinkable_findings_are_rejected() {
        let mut big = render(&fixtures::tor_caller());
        big["Description"] = json!("d".repeat(300 * 1024));
        let plan = plan_batches(vec![big, render(&fixtures::portscan())]);
        assert_eq!(plan.rejected.len(), 1);
        assert_eq!(plan.batches.len(), 1);
        assert_eq!(plan.batches[0].len(), 1);
    }

    #[test]
    fn duplicate_ids_keep_the_latest_update() {
        let older = render(&fixtures::tor_caller());
        let mut newer = older.clone();
        newer["UpdatedAt"] = json!("2024-05-01T11:00:00.000Z");
        newer["ProductFields"]["recon/count"] = json!("9");
        let other = render(&fixtures::portscan());
        let out = batches(vec![newer.clone(), other.clone(), older.clone()]);
        assert_eq!(out, vec![vec![newer.clone(), other.clone()]]);
        let out = batches(vec![older, other.clone(), newer.clone()]);
        assert_eq!(out, vec![vec![other, newer]]);
        assert_eq!(validate_batch(&out[0]), Ok(()));
    }
}
