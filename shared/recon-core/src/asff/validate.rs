//! Checks rendered findings, and whole `BatchImportFindings` requests, against Security Hub's
//! rules: required attributes and their types, value enums, length and count limits, the Types
//! pattern and namespaces, timestamp formats and order, the default-product ARN, the reserved
//! `aws/` ProductFields namespace, and the absence of nulls and blank strings (which the service
//! rejects). Every violation is reported, each with the path of the offending attribute.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value};

use super::batch::request_len;
use super::text::{has_text, text_len};
use super::{limits, serialized_len, SCHEMA_VERSION, TYPE_NAMESPACES};
use super::{MAX_BATCH_BYTES, MAX_FINDINGS_PER_BATCH, MAX_FINDING_BYTES};
use crate::time::Timestamp;

/// The pattern every `Types` entry must match.
pub const TYPES_PATTERN: &str = "^([^/]+)(/[^/]+){0,2}$";

const PARTITIONS: [&str; 6] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-us-iso",
    "aws-us-iso-b",
    "AzureCloud",
];
const SEVERITY_LABELS: [&str; 5] = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
const ACTIONS: [(&str, &str); 4] = [
    ("NETWORK_CONNECTION", "NetworkConnectionAction"),
    ("AWS_API_CALL", "AwsApiCallAction"),
    ("DNS_REQUEST", "DnsRequestAction"),
    ("PORT_PROBE", "PortProbeAction"),
];
const INDICATOR_TYPES: [&str; 11] = [
    "DOMAIN",
    "EMAIL_ADDRESS",
    "HASH_MD5",
    "HASH_SHA1",
    "HASH_SHA256",
    "HASH_SHA512",
    "IPV4_ADDRESS",
    "IPV6_ADDRESS",
    "MUTEX",
    "PROCESS",
    "URL",
];
const INDICATOR_CATEGORIES: [&str; 6] = [
    "BACKDOOR",
    "CARD_STEALER",
    "COMMAND_AND_CONTROL",
    "DROP_SITE",
    "EXPLOIT_SITE",
    "KEYLOGGER",
];

/// One broken rule: the attribute path (e.g. `Types[0]`, `ProductFields["aws/x"]`) and what is
/// wrong with it. Displays as `<path>: <message>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Violation {
    /// Where: the attribute path inside the finding, `[i].`-prefixed inside a batch.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Checks one rendered finding against Security Hub's rules; returns every violation.
pub fn validate(finding: &Value) -> Result<(), Vec<Violation>> {
    let mut c = Checker::default();
    check_finding(&mut c, finding, "");
    c.finish()
}

/// Checks a `BatchImportFindings` request: 1–[`MAX_FINDINGS_PER_BATCH`] findings, at most
/// [`MAX_BATCH_BYTES`] serialized, no Id twice, and every finding valid (paths prefixed `[i].`).
pub fn validate_batch(findings: &[Value]) -> Result<(), Vec<Violation>> {
    let mut c = Checker::default();
    let n = findings.len();
    if n == 0 || n > MAX_FINDINGS_PER_BATCH {
        c.flag(
            "Findings",
            format!("must hold 1–{MAX_FINDINGS_PER_BATCH} findings, holds {n}"),
        );
    }
    let bytes = request_len(findings);
    if bytes > MAX_BATCH_BYTES {
        c.flag(
            "Findings",
            format!("request is {bytes} bytes, over the {MAX_BATCH_BYTES} limit"),
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        if let Some(id) = f.get("Id").and_then(Value::as_str) {
            if let Some(first) = seen.insert(id, i) {
                c.flag(
                    format!("[{i}].Id"),
                    format!("duplicates the Id of finding [{first}]"),
                );
            }
        }
        check_finding(&mut c, f, &format!("[{i}]"));
    }
    c.finish()
}

/// The path of `key` under `base`: `base.key`, or `base["key"]` for keys that are not plain
/// identifiers (ProductFields keys, for example).
fn child(base: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (base.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{key:?}]"),
    }
}

fn root(prefix: &str) -> &str {
    if prefix.is_empty() {
        "finding"
    } else {
        prefix
    }
}

/// Collects violations and offers typed, path-aware accessors.
#[derive(Default)]
struct Checker {
    out: Vec<Violation>,
}

impl Checker {
    fn flag(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.out.push(Violation {
            path: path.into(),
            message: message.into(),
        });
    }

    fn finish(self) -> Result<(), Vec<Violation>> {
        if self.out.is_empty() {
            Ok(())
        } else {
            Err(self.out)
        }
    }

    /// The string at `key`, flagging a value of another type. Null is left to the value walk.
    fn string<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        base: &str,
    ) -> Option<&'a str> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.flag(child(base, key), "must be a string");
                None
            }
        }
    }

    /// Like [`Checker::string`], and flags a missing value.
    fn required<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        base: &str,
    ) -> Option<&'a str> {
        if obj.get(key).is_none_or(Value::is_null) {
            self.flag(child(base, key), "is required");
            return None;
        }
        self.string(obj, key, base)
    }

    fn object<'a>(&mut self, v: Option<&'a Value>, path: &str) -> Option<&'a Map<String, Value>> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                self.flag(path, "must be an object");
                None
            }
        }
    }

    fn array<'a>(&mut self, v: Option<&'a Value>, path: &str) -> Option<&'a Vec<Value>> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a),
            Some(_) => {
                self.flag(path, "must be an array");
                None
            }
        }
    }

    fn length(&mut self, path: &str, s: &str, min: usize, max: usize) {
        self.length_at(|| path.to_owned(), s, min, max);
    }

    /// [`Checker::length`] with the path made only for a violation.
    fn length_at(&mut self, path: impl FnOnce() -> String, s: &str, min: usize, max: usize) {
        let n = text_len(s);
        if n < min || n > max {
            self.flag(
                path(),
                format!("must be {min}–{max} characters long, is {n}"),
            );
        }
    }

    fn count(&mut self, path: &str, n: usize, min: usize, max: usize) {
        if n < min || n > max {
            self.flag(path, format!("must hold {min}–{max} items, holds {n}"));
        }
    }

    fn one_of(&mut self, path: &str, s: &str, allowed: &[&str]) {
        if !allowed.contains(&s) {
            self.flag(path, format!("{s:?} is not one of {}", allowed.join(", ")));
        }
    }

    /// A string at `key` of at most `max` characters (and at least one, when present).
    fn bounded(&mut self, obj: &Map<String, Value>, key: &str, base: &str, max: usize) {
        if let Some(s) = self.string(obj, key, base) {
            self.length_at(|| child(base, key), s, 1, max);
        }
    }

    fn timestamp(&mut self, obj: &Map<String, Value>, key: &str, base: &str) -> Option<Timestamp> {
        let s = self.string(obj, key, base)?;
        // `Timestamp::parse` also takes a space for the `T`; ASFF does not.
        let t = Timestamp::parse(s).filter(|_| s.as_bytes().get(10) == Some(&b'T'));
        if t.is_none() {
            self.flag(
                child(base, key),
                format!("{s:?} is not an ISO 8601 timestamp"),
            );
        }
        t
    }

    fn port(&mut self, obj: &Map<String, Value>, key: &str, base: &str) {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64().is_some_and(|p| p <= 65_535) => {}
            Some(_) => self.flag(child(base, key), "must be an integer port 0–65535"),
        }
    }

    fn ip(&mut self, obj: &Map<String, Value>, key: &str, base: &str, v6: bool) {
        if let Some(s) = self.string(obj, key, base) {
            let ok = if v6 {
                s.parse::<Ipv6Addr>().is_ok()
            } else {
                s.parse::<Ipv4Addr>().is_ok()
            };
            if !ok {
                let kind = if v6 { "IPv6" } else { "IPv4" };
                self.flag(child(base, key), format!("{s:?} is not an {kind} address"));
            }
        }
    }
}

fn check_finding(c: &mut Checker, v: &Value, prefix: &str) {
    let Some(obj) = v.as_object() else {
        c.flag(root(prefix), "must be a JSON object");
        return;
    };
    check_identity(c, obj, prefix);
    check_product_arn(c, obj, prefix);
    check_classification(c, obj, prefix);
    check_times(c, obj, prefix);
    check_resources(c, obj, prefix);
    check_product_fields(c, obj, prefix);
    check_threat_intel(c, obj, prefix);
    check_action(c, obj, prefix);
    check_network(c, obj, prefix);
    check_remediation(c, obj, prefix);
    check_values(c, v, &|| prefix.to_owned());
    let bytes = serialized_len(v);
    if bytes > MAX_FINDING_BYTES {
        c.flag(
            root(prefix),
            format!("is {bytes} bytes, over the {MAX_FINDING_BYTES} limit"),
        );
    }
}

fn check_identity(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    if let Some(s) = c.required(obj, "SchemaVersion", p) {
        if s != SCHEMA_VERSION {
            c.flag(
                child(p, "SchemaVersion"),
                format!("must be {SCHEMA_VERSION}, is {s:?}"),
            );
        }
    }
    for (key, max) in [
        ("Id", limits::ID),
        ("GeneratorId", limits::ID),
        ("Title", limits::TITLE),
        ("Description", limits::DESCRIPTION),
    ] {
        if let Some(s) = c.required(obj, key, p) {
            c.length_at(|| child(p, key), s, 1, max);
        }
    }
    if let Some(s) = c.required(obj, "AwsAccountId", p) {
        if !crate::input::is_account_id(s.as_bytes()) {
            c.flag(
                child(p, "AwsAccountId"),
                format!("must be exactly 12 digits, is {s:?}"),
            );
        }
    }
    c.bounded(obj, "Region", p, limits::REGION);
    c.bounded(obj, "ProductName", p, limits::NAME);
    c.bounded(obj, "CompanyName", p, limits::NAME);
    if let Some(s) = c.string(obj, "RecordState", p) {
        c.one_of(&child(p, "RecordState"), s, &["ACTIVE", "ARCHIVED"]);
    }
}

/// `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`, with a real
/// Region's shape, the partition of that Region, the account equal to `AwsAccountId` and the
/// Region equal to `Region` when present (a mismatch surfaces as AccessDeniedException at
/// import time).
fn check_product_arn(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    let Some(arn) = c.required(obj, "ProductArn", p) else {
        return;
    };
    let path = child(p, "ProductArn");
    c.length(&path, arn, 12, 2048);
    let parts: Vec<&str> = arn.split(':').collect();
    let shape = match parts.as_slice() {
        ["arn", partition, "securityhub", region, account, resource]
            if PARTITIONS.contains(partition)
                && !region.is_empty()
                && *resource == format!("product/{account}/default") =>
        {
            Some((*partition, *region, *account))
        }
        _ => None,
    };
    let Some((partition, region, account)) = shape else {
        let want = "arn:<partition>:securityhub:<region>:<account>:product/<account>/default";
        c.flag(path, format!("must have the default-product shape {want}"));
        return;
    };
    if !crate::input::is_region(region) {
        c.flag(&path, format!("{region} is not a Region"));
    } else if partition != super::partition_of(region) {
        let want = super::partition_of(region);
        c.flag(
            &path,
            format!("{region} is in partition {want}, not {partition}"),
        );
    }
    if let Some(id) = obj.get("AwsAccountId").and_then(Value::as_str) {
        if id != account {
            c.flag(
                &path,
                format!("account {account} does not match AwsAccountId {id}"),
            );
        }
    }
    if let Some(r) = obj.get("Region").and_then(Value::as_str) {
        if r != region {
            c.flag(&path, format!("Region {region} does not match Region {r}"));
        }
    }
}

fn check_classification(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    let fpf_path = child(p, "FindingProviderFields");
    let fpf = c.object(obj.get("FindingProviderFields"), &fpf_path);
    let mut has_types = check_types(c, obj.get("Types"), &child(p, "Types"));
    let mut has_severity = check_severity(c, obj.get("Severity"), &child(p, "Severity"));
    if let Some(fpf) = fpf {
        has_types |= check_types(c, fpf.get("Types"), &child(&fpf_path, "Types"));
        has_severity |= check_severity(c, fpf.get("Severity"), &child(&fpf_path, "Severity"));
        for key in ["Confidence", "Criticality"] {
            if fpf
                .get(key)
                .is_some_and(|v| v.as_u64().is_none_or(|n| n > 100))
            {
                c.flag(child(&fpf_path, key), "must be an integer 0–100");
            }
        }
    }
    if !has_types {
        c.flag(
            child(p, "Types"),
            "is required (top-level or in FindingProviderFields)",
        );
    }
    if !has_severity {
        c.flag(
            child(p, "Severity"),
            "is required (top-level or in FindingProviderFields)",
        );
    }
}

/// True when `Types` is present (whether or not it is valid).
fn check_types(c: &mut Checker, v: Option<&Value>, path: &str) -> bool {
    let Some(types) = c.array(v, path) else {
        return v.is_some_and(|v| !v.is_null());
    };
    c.count(path, types.len(), 1, limits::TYPES);
    for (i, t) in types.iter().enumerate() {
        let item = format!("{path}[{i}]");
        match t.as_str() {
            None => c.flag(item, "must be a string"),
            Some(s) if !types_pattern_matches(s) => {
                c.flag(item, format!("does not match {TYPES_PATTERN}"));
            }
            Some(s) => {
                let ns = s.split('/').next().unwrap_or_default();
                if !TYPE_NAMESPACES.contains(&ns) {
                    c.flag(
                        item,
                        format!(
                            "namespace {ns:?} is not one of {}",
                            TYPE_NAMESPACES.join(", ")
                        ),
                    );
                }
            }
        }
    }
    true
}

/// `^([^/]+)(/[^/]+){0,2}$`: one to three non-empty, `/`-separated segments.
pub(super) fn types_pattern_matches(s: &str) -> bool {
    let segments = s.split('/');
    let n = segments.clone().count();
    (1..=3).contains(&n) && segments.into_iter().all(|seg| !seg.is_empty())
}

/// True when `Severity` is present (whether or not it is valid).
fn check_severity(c: &mut Checker, v: Option<&Value>, path: &str) -> bool {
    let Some(sev) = c.object(v, path) else {
        return v.is_some_and(|v| !v.is_null());
    };
    if let Some(label) = c.string(sev, "Label", path) {
        c.one_of(&child(path, "Label"), label, &SEVERITY_LABELS);
    }
    match sev.get("Normalized") {
        None => {
            if !sev.contains_key("Label") {
                c.flag(
                    child(path, "Label"),
                    "is required (or the deprecated Normalized)",
                );
            }
        }
        Some(n) if n.as_u64().is_some_and(|n| n <= 100) => {}
        Some(_) => c.flag(child(path, "Normalized"), "must be an integer 0–100"),
    }
    c.bounded(sev, "Original", path, limits::SEVERITY_ORIGINAL);
    if sev.get("Product").is_some_and(|v| !v.is_number()) {
        c.flag(child(path, "Product"), "must be a number");
    }
    true
}

fn check_times(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    let mut times = [None; 4];
    for (i, key) in [
        "CreatedAt",
        "UpdatedAt",
        "FirstObservedAt",
        "LastObservedAt",
    ]
    .iter()
    .enumerate()
    {
        if i < 2 && obj.get(*key).is_none_or(Value::is_null) {
            c.flag(child(p, key), "is required");
        }
        times[i] = c.timestamp(obj, key, p);
    }
    if let [Some(created), Some(updated), ..] = times {
        if updated < created {
            c.flag(child(p, "UpdatedAt"), "must not be earlier than CreatedAt");
        }
    }
    if let [_, _, Some(first), Some(last)] = times {
        if last < first {
            c.flag(
                child(p, "LastObservedAt"),
                "must not be earlier than FirstObservedAt",
            );
        }
    }
}

fn check_resources(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    let path = child(p, "Resources");
    if obj.get("Resources").is_none_or(Value::is_null) {
        c.flag(path, "is required");
        return;
    }
    let Some(resources) = c.array(obj.get("Resources"), &path) else {
        return;
    };
    c.count(&path, resources.len(), 1, limits::RESOURCES);
    for (i, r) in resources.iter().enumerate() {
        let item = format!("{path}[{i}]");
        let Some(r) = c.object(Some(r), &item) else {
            continue;
        };
        if let Some(t) = c.required(r, "Type", &item) {
            c.length_at(|| child(&item, "Type"), t, 1, limits::RESOURCE_TYPE);
        }
        c.required(r, "Id", &item);
        if let Some(part) = c.string(r, "Partition", &item) {
            c.one_of(&child(&item, "Partition"), part, &PARTITIONS);
        }
        c.bounded(r, "Region", &item, limits::REGION);
        check_details(c, r.get("Details"), &child(&item, "Details"));
    }
}

fn check_details(c: &mut Checker, v: Option<&Value>, path: &str) {
    let Some(details) = c.object(v, path) else {
        return;
    };
    if let Some(other) = c.object(details.get("Other"), &child(path, "Other")) {
        let other_path = child(path, "Other");
        if other.len() > 50 {
            c.flag(
                &other_path,
                format!("must hold at most 50 pairs, holds {}", other.len()),
            );
        }
        for key in other.keys() {
            c.length(&other_path, key, 1, 127);
            c.bounded(other, key, &other_path, 1023);
        }
    }
    let session = ["AwsIamAccessKey", "SessionContext", "Attributes"];
    let mut base = path.to_owned();
    let mut node = Some(details);
    for key in session {
        base = child(&base, key);
        node = node.and_then(|n| n.get(key)).and_then(Value::as_object);
    }
    if let Some(attributes) = node {
        c.timestamp(attributes, "CreationDate", &base);
    }
}

fn check_product_fields(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    let path = child(p, "ProductFields");
    let Some(fields) = c.object(obj.get("ProductFields"), &path) else {
        return;
    };
    if fields.len() > limits::PRODUCT_FIELDS {
        let n = fields.len();
        c.flag(
            &path,
            format!(
                "must hold at most {} pairs, holds {n}",
                limits::PRODUCT_FIELDS
            ),
        );
    }
    for key in fields.keys() {
        let key_path = child(&path, key);
        if text_len(key) > limits::PRODUCT_FIELD_KEY || key.is_empty() {
            c.flag(
                &key_path,
                format!(
                    "key must be 1–{} characters long",
                    limits::PRODUCT_FIELD_KEY
                ),
            );
        }
        if key.to_ascii_lowercase().starts_with("aws/") {
            c.flag(
                &key_path,
                "key is in the aws/ namespace, which is reserved for AWS",
            );
        }
        c.bounded(fields, key, &path, limits::PRODUCT_FIELD_VALUE);
    }
}

fn check_threat_intel(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    let path = child(p, "ThreatIntelIndicators");
    let Some(items) = c.array(obj.get("ThreatIntelIndicators"), &path) else {
        return;
    };
    c.count(&path, items.len(), 1, limits::THREAT_INTEL_INDICATORS);
    for (i, item) in items.iter().enumerate() {
        let base = format!("{path}[{i}]");
        let Some(t) = c.object(Some(item), &base) else {
            continue;
        };
        if let Some(s) = c.string(t, "Type", &base) {
            c.one_of(&child(&base, "Type"), s, &INDICATOR_TYPES);
        }
        if let Some(s) = c.string(t, "Category", &base) {
            c.one_of(&child(&base, "Category"), s, &INDICATOR_CATEGORIES);
        }
        c.bounded(t, "Value", &base, limits::THREAT_INTEL_VALUE);
        c.bounded(t, "Source", &base, limits::THREAT_INTEL_SOURCE);
        c.timestamp(t, "LastObservedAt", &base);
    }
}

fn check_action(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    let path = child(p, "Action");
    let Some(action) = c.object(obj.get("Action"), &path) else {
        return;
    };
    let Some(kind) = c.required(action, "ActionType", &path) else {
        return;
    };
    let Some((_, sub)) = ACTIONS.iter().find(|(t, _)| *t == kind) else {
        let allowed: Vec<&str> = ACTIONS.iter().map(|(t, _)| *t).collect();
        c.one_of(&child(&path, "ActionType"), kind, &allowed);
        return;
    };
    let sub_path = child(&path, sub);
    if action.get(*sub).is_none_or(Value::is_null) {
        c.flag(&sub_path, format!("is required when ActionType is {kind}"));
        return;
    }
    let Some(detail) = c.object(action.get(*sub), &sub_path) else {
        return;
    };
    match kind {
        "AWS_API_CALL" => check_api_call(c, detail, &sub_path),
        "NETWORK_CONNECTION" => check_connection(c, detail, &sub_path),
        "PORT_PROBE" => check_port_probe(c, detail, &sub_path),
        _ => {}
    }
}

fn check_remote_ip(c: &mut Checker, obj: &Map<String, Value>, key: &str, base: &str) {
    let path = child(base, key);
    if let Some(details) = c.object(obj.get(key), &path) {
        c.ip(details, "IpAddressV4", &path, false);
    }
}

fn check_port_details(c: &mut Checker, obj: &Map<String, Value>, key: &str, base: &str) {
    let path = child(base, key);
    if let Some(details) = c.object(obj.get(key), &path) {
        c.port(details, "Port", &path);
        c.bounded(details, "PortName", &path, limits::NAME);
    }
}

fn check_api_call(c: &mut Checker, a: &Map<String, Value>, path: &str) {
    c.bounded(a, "Api", path, limits::NAME);
    c.bounded(a, "ServiceName", path, limits::NAME);
    if let Some(s) = c.string(a, "CallerType", path) {
        c.one_of(&child(path, "CallerType"), s, &["remoteip", "domain"]);
    }
    check_remote_ip(c, a, "RemoteIpDetails", path);
    let first = c.timestamp(a, "FirstSeen", path);
    let last = c.timestamp(a, "LastSeen", path);
    if let (Some(first), Some(last)) = (first, last) {
        if last < first {
            c.flag(
                child(path, "LastSeen"),
                "must not be earlier than FirstSeen",
            );
        }
    }
}

fn check_connection(c: &mut Checker, a: &Map<String, Value>, path: &str) {
    if let Some(s) = c.string(a, "ConnectionDirection", path) {
        c.one_of(&child(path, "ConnectionDirection"), s, &["IN", "OUT"]);
    }
    c.bounded(a, "Protocol", path, limits::ACTION_PROTOCOL);
    check_remote_ip(c, a, "RemoteIpDetails", path);
    check_port_details(c, a, "RemotePortDetails", path);
    check_port_details(c, a, "LocalPortDetails", path);
    if a.get("Blocked").is_some_and(|b| !b.is_boolean()) {
        c.flag(child(path, "Blocked"), "must be a boolean");
    }
}

fn check_port_probe(c: &mut Checker, a: &Map<String, Value>, path: &str) {
    let list_path = child(path, "PortProbeDetails");
    if let Some(details) = c.array(a.get("PortProbeDetails"), &list_path) {
        for (i, d) in details.iter().enumerate() {
            let base = format!("{list_path}[{i}]");
            if let Some(d) = c.object(Some(d), &base) {
                check_port_details(c, d, "LocalPortDetails", &base);
                check_remote_ip(c, d, "LocalIpDetails", &base);
                check_remote_ip(c, d, "RemoteIpDetails", &base);
            }
        }
    }
    if a.get("Blocked").is_some_and(|b| !b.is_boolean()) {
        c.flag(child(path, "Blocked"), "must be a boolean");
    }
}

fn check_network(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    let path = child(p, "Network");
    let Some(n) = c.object(obj.get("Network"), &path) else {
        return;
    };
    if let Some(s) = c.string(n, "Direction", &path) {
        c.one_of(&child(&path, "Direction"), s, &["IN", "OUT"]);
    }
    c.bounded(n, "Protocol", &path, limits::NETWORK_PROTOCOL);
    for (key, v6) in [
        ("SourceIpV4", false),
        ("SourceIpV6", true),
        ("DestinationIpV4", false),
        ("DestinationIpV6", true),
    ] {
        c.ip(n, key, &path, v6);
    }
    c.port(n, "SourcePort", &path);
    c.port(n, "DestinationPort", &path);
}

fn check_remediation(c: &mut Checker, obj: &Map<String, Value>, p: &str) {
    let path = child(p, "Remediation");
    let Some(r) = c.object(obj.get("Remediation"), &path) else {
        return;
    };
    let rec_path = child(&path, "Recommendation");
    if let Some(rec) = c.object(r.get("Recommendation"), &rec_path) {
        c.bounded(rec, "Text", &rec_path, limits::REMEDIATION_TEXT);
    }
}

/// No `null` and no empty or whitespace-only string anywhere (Security Hub rejects both).
/// Walks every value under `v`, whose path `path` spells out only when a rule is broken (a
/// finding has a hundred or more values, nearly always all fine).
fn check_values(c: &mut Checker, v: &Value, path: &dyn Fn() -> String) {
    match v {
        Value::Null => c.flag(root(&path()), "must not be null"),
        Value::String(s) if !has_text(s) => c.flag(root(&path()), "must not be empty or blank"),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_values(c, item, &|| format!("{}[{i}]", path()));
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                check_values(c, item, &|| child(&path(), key));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::{fixtures, render};
    use super::*;

    fn valid() -> Value {
        render(&fixtures::tor_caller())
    }

    fn violations(v: &Value) -> Vec<Violation> {
        validate(v).err().unwrap_or_default()
    }

    /// Asserts the mutation broke exactly one rule, at `path`, with `fragment` in the message.
    fn assert_only(v: &Value, path: &str, fragment: &str) {
        let found = violations(v);
        assert_eq!(
            found.len(),
            1,
            "expected one violation at {path}, got {found:?}"
        );
        assert_eq!(found[0].path, path, "{found:?}");
        assert!(
            found[0].message.contains(fragment),
            "{:?} lacks {fragment:?}",
            found[0]
        );
    }

    /// Asserts some violation is at `path` with `fragment` in its message.
    fn assert_flags(v: &Value, path: &str, fragment: &str) {
        let found = violations(v);
        assert!(
            found
                .iter()
                .any(|x| x.path == path && x.message.contains(fragment)),
            "no {path} violation containing {fragment:?} in {found:?}"
        );
    }

    fn set(v: &mut Value, pointer: &str, value: Value) {
        *v.pointer_mut(pointer).expect("pointer exists") = value;
    }

    #[test]
    fn the_rendered_finding_is_valid() {
        assert_eq!(validate(&valid()), Ok(()));
    }

    #[test]
    fn violations_display_path_and_message() {
        let mut v = valid();
        set(
            &mut v,
            "/Types/0",
            json!("TTPs/Discovery/Recon:IAMUser/TorIPCaller"),
        );
        let found = violations(&v);
        assert_eq!(
            found[0].to_string(),
            "Types[0]: does not match ^([^/]+)(/[^/]+){0,2}$"
        );
    }

    #[test]
    fn types_with_four_segments() {
        let mut v = valid();
        set(
            &mut v,
            "/Types/0",
            json!("TTPs/Discovery/Recon:IAMUser/TorIPCaller"),
        );
        assert_only(&v, "Types[0]", "does not match ^([^/]+)(/[^/]+){0,2}$");
    }

    #[test]
    fn types_pattern_by_hand() {
        for ok in [
            "TTPs",
            "TTPs/Discovery",
            "TTPs/Discovery/Recon:EC2-Portscan",
            "a b/c d",
        ] {
            assert!(types_pattern_matches(ok), "{ok}");
        }
        for bad in [
            "",
            "/TTPs",
            "TTPs/",
            "TTPs//x",
            "a/b/c/d",
            "TTPs/Discovery/",
        ] {
            assert!(!types_pattern_matches(bad), "{bad}");
        }
    }

    #[test]
    fn types_with_a_bad_namespace() {
        let mut v = valid();
        set(
            &mut v,
            "/FindingProviderFields/Types/0",
            json!("Recon/Discovery/Portscan"),
        );
        assert_only(&v, "FindingProviderFields.Types[0]", "namespace \"Recon\"");
    }

    #[test]
    fn types_may_come_from_finding_provider_fields_only() {
        let mut v = valid();
        v.as_object_mut().map(|o| o.remove("Types"));
        v.as_object_mut().map(|o| o.remove("Severity"));
        assert_eq!(validate(&v), Ok(()));
        v.as_object_mut().map(|o| o.remove("FindingProviderFields"));
        assert_flags(&v, "Types", "is required");
        assert_flags(&v, "Severity", "is required");
    }

    #[test]
    fn empty_and_oversized_types() {
        let mut v = valid();
        set(&mut v, "/Types", json!([]));
        assert_only(&v, "Types", "1–50 items");
        set(&mut v, "/Types", Value::Array(vec![json!("TTPs"); 51]));
        assert_only(&v, "Types", "holds 51");
    }

    #[test]
    fn missing_title() {
        let mut v = valid();
        v.as_object_mut().map(|o| o.remove("Title"));
        assert_only(&v, "Title", "is required");
    }

    #[test]
    fn title_of_257_chars() {
        let mut v = valid();
        set(&mut v, "/Title", json!("t".repeat(257)));
        assert_only(&v, "Title", "1–256");
    }

    #[test]
    fn wrongly_typed_required_field() {
        let mut v = valid();
        set(&mut v, "/Title", json!(42));
        assert_only(&v, "Title", "must be a string");
    }

    #[test]
    fn thirteen_digit_account() {
        let mut v = valid();
        set(&mut v, "/AwsAccountId", json!("1111222233334"));
        assert_flags(&v, "AwsAccountId", "exactly 12 digits");
    }

    #[test]
    fn product_arn_of_another_account_or_region() {
        let mut v = valid();
        let other = "arn:aws:securityhub:us-east-1:999988887777:product/999988887777/default";
        set(&mut v, "/ProductArn", json!(other));
        assert_only(&v, "ProductArn", "does not match AwsAccountId");
        let other = "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default";
        set(&mut v, "/ProductArn", json!(other));
        assert_only(&v, "ProductArn", "does not match Region");
        set(
            &mut v,
            "/ProductArn",
            json!("arn:aws:securityhub:us-east-1::product/aws/guardduty"),
        );
        assert_only(&v, "ProductArn", "default-product shape");
    }

    #[test]
    fn product_arn_outside_a_real_region_or_its_partition() {
        let mut v = valid();
        let arn = |partition: &str, region: &str| {
            json!(format!(
                "arn:{partition}:securityhub:{region}:111122223333:product/111122223333/default"
            ))
        };
        set(&mut v, "/ProductArn", arn("aws", "moon"));
        set(&mut v, "/Region", json!("moon"));
        assert_only(&v, "ProductArn", "is not a Region");
        set(&mut v, "/ProductArn", arn("aws", "cn-north-1"));
        set(&mut v, "/Region", json!("cn-north-1"));
        assert_only(&v, "ProductArn", "in partition aws-cn");
        set(&mut v, "/ProductArn", arn("aws-cn", "cn-north-1"));
        assert!(violations(&v).is_empty(), "{:?}", violations(&v));
    }

    #[test]
    fn description_of_1025_chars() {
        let mut v = valid();
        set(&mut v, "/Description", json!("d".repeat(1025)));
        assert_only(&v, "Description", "1–1024");
        set(&mut v, "/Description", json!("d".repeat(1024)));
        assert_eq!(validate(&v), Ok(()));
    }

    #[test]
    fn aws_product_fields_key() {
        let mut v = valid();
        v["ProductFields"]["aws/guardduty/count"] = json!("1");
        assert_only(
            &v,
            "ProductFields[\"aws/guardduty/count\"]",
            "reserved for AWS",
        );
    }

    #[test]
    fn product_fields_limits() {
        let mut v = valid();
        set(
            &mut v,
            "/ProductFields/recon~1count",
            json!("v".repeat(2049)),
        );
        assert_only(&v, "ProductFields[\"recon/count\"]", "1–2048");
        let mut v = valid();
        v["ProductFields"]["k".repeat(129).as_str()] = json!("x");
        assert_only(&v, &format!("ProductFields.{}", "k".repeat(129)), "1–128");
        let mut v = valid();
        let fields: serde_json::Map<String, Value> = (0..51)
            .map(|i| (format!("recon/f{i}"), json!("x")))
            .collect();
        set(&mut v, "/ProductFields", Value::Object(fields));
        assert_only(&v, "ProductFields", "at most 50 pairs");
    }

    #[test]
    fn null_value() {
        let mut v = valid();
        set(
            &mut v,
            "/Resources/0/Details/AwsIamAccessKey/PrincipalName",
            Value::Null,
        );
        assert_only(
            &v,
            "Resources[0].Details.AwsIamAccessKey.PrincipalName",
            "must not be null",
        );
    }

    #[test]
    fn empty_string() {
        let mut v = valid();
        set(&mut v, "/Action/AwsApiCallAction/ServiceName", json!(""));
        assert_flags(
            &v,
            "Action.AwsApiCallAction.ServiceName",
            "must not be empty",
        );
        let mut v = valid();
        set(
            &mut v,
            "/Resources/0/Details/AwsIamAccessKey/PrincipalName",
            json!(" "),
        );
        assert_only(
            &v,
            "Resources[0].Details.AwsIamAccessKey.PrincipalName",
            "blank",
        );
    }

    #[test]
    fn blank_id() {
        let mut v = valid();
        set(&mut v, "/Id", json!("   "));
        assert_only(&v, "Id", "blank");
    }

    #[test]
    fn updated_before_created() {
        let mut v = valid();
        set(&mut v, "/UpdatedAt", json!("2024-05-01T10:09:59Z"));
        assert_only(&v, "UpdatedAt", "earlier than CreatedAt");
    }

    #[test]
    fn last_observed_before_first_observed() {
        let mut v = valid();
        set(
            &mut v,
            "/LastObservedAt",
            json!("2024-05-01T09:00:00+00:00"),
        );
        assert_only(&v, "LastObservedAt", "earlier than FirstObservedAt");
    }

    #[test]
    fn unparseable_timestamp() {
        let mut v = valid();
        set(&mut v, "/CreatedAt", json!("2024-05-01 10:10:00Z"));
        assert_only(&v, "CreatedAt", "not an ISO 8601 timestamp");
        let mut v = valid();
        set(
            &mut v,
            "/Action/AwsApiCallAction/FirstSeen",
            json!("yesterday"),
        );
        assert_only(
            &v,
            "Action.AwsApiCallAction.FirstSeen",
            "not an ISO 8601 timestamp",
        );
    }

    #[test]
    fn schema_version_and_severity_label() {
        let mut v = valid();
        set(&mut v, "/SchemaVersion", json!("2020-01-01"));
        assert_only(&v, "SchemaVersion", "2018-10-08");
        let mut v = valid();
        set(&mut v, "/Severity/Label", json!("SEVERE"));
        assert_only(&v, "Severity.Label", "is not one of");
        let mut v = valid();
        set(
            &mut v,
            "/FindingProviderFields/Severity/Original",
            json!("o".repeat(65)),
        );
        assert_only(&v, "FindingProviderFields.Severity.Original", "1–64");
    }

    #[test]
    fn resource_rules() {
        let mut v = valid();
        set(&mut v, "/Resources", json!([]));
        assert_only(&v, "Resources", "1–32 items");
        let mut v = valid();
        let one = v["Resources"][0].clone();
        set(&mut v, "/Resources", Value::Array(vec![one; 33]));
        assert_only(&v, "Resources", "holds 33");
        let mut v = valid();
        set(&mut v, "/Resources/0/Partition", json!("aws-mars"));
        assert_only(&v, "Resources[0].Partition", "is not one of");
        let mut v = valid();
        set(&mut v, "/Resources/0/Region", json!("r".repeat(17)));
        assert_only(&v, "Resources[0].Region", "1–16");
        let mut v = valid();
        v["Resources"][0].as_object_mut().map(|r| r.remove("Id"));
        assert_only(&v, "Resources[0].Id", "is required");
    }

    #[test]
    fn threat_intel_rules() {
        let mut v = valid();
        let one = v["ThreatIntelIndicators"][0].clone();
        set(&mut v, "/ThreatIntelIndicators", Value::Array(vec![one; 6]));
        assert_only(&v, "ThreatIntelIndicators", "holds 6");
        let mut v = valid();
        set(
            &mut v,
            "/ThreatIntelIndicators/0/Source",
            json!("s".repeat(65)),
        );
        assert_only(&v, "ThreatIntelIndicators[0].Source", "1–64");
        let mut v = valid();
        v["ThreatIntelIndicators"][0]["Category"] = json!("SCANNER");
        assert_only(&v, "ThreatIntelIndicators[0].Category", "is not one of");
        let mut v = valid();
        set(&mut v, "/ThreatIntelIndicators/0/Type", json!("IP"));
        assert_only(&v, "ThreatIntelIndicators[0].Type", "is not one of");
    }

    #[test]
    fn action_type_needs_its_sub_object() {
        let mut v = valid();
        set(&mut v, "/Action/ActionType", json!("PORT_PROBE"));
        assert_only(
            &v,
            "Action.PortProbeAction",
            "is required when ActionType is PORT_PROBE",
        );
        let mut v = valid();
        set(&mut v, "/Action/ActionType", json!("API_CALL"));
        assert_only(&v, "Action.ActionType", "is not one of");
    }

    #[test]
    fn network_rules() {
        let mut v = valid();
        set(&mut v, "/Network/Direction", json!("INBOUND"));
        assert_only(&v, "Network.Direction", "is not one of");
        let mut v = valid();
        set(&mut v, "/Network/SourceIpV4", json!("2001:db8::1"));
        assert_only(&v, "Network.SourceIpV4", "not an IPv4 address");
        let mut v = render(&fixtures::port_probe());
        set(&mut v, "/Network/DestinationPort", json!(70_000));
        assert_only(&v, "Network.DestinationPort", "0–65535");
    }

    #[test]
    fn remediation_text_of_513_chars() {
        let mut v = valid();
        set(
            &mut v,
            "/Remediation/Recommendation/Text",
            json!("r".repeat(513)),
        );
        assert_only(&v, "Remediation.Recommendation.Text", "1–512");
    }

    #[test]
    fn oversized_finding() {
        let mut v = valid();
        let other: serde_json::Map<String, Value> = (0..50)
            .map(|i| (format!("k{i}"), json!("x".repeat(1000))))
            .collect();
        let mut big = valid();
        set(&mut big, "/Resources/0/Details", json!({ "Other": other }));
        assert_eq!(validate(&big), Ok(()));
        set(
            &mut v,
            "/Resources/0/Details",
            json!({ "Other": other, "Pad": "p".repeat(250_000) }),
        );
        assert_only(&v, "finding", "over the 245760 limit");
    }

    #[test]
    fn not_an_object() {
        assert_only(&json!([1]), "finding", "JSON object");
    }

    #[test]
    fn batch_of_101_findings() {
        let findings: Vec<Value> = (0..101)
            .map(|i| {
                let mut v = valid();
                set(&mut v, "/Id", json!(format!("recon/test/{i}")));
                v
            })
            .collect();
        let found = validate_batch(&findings).err().unwrap_or_default();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "Findings");
        assert!(found[0].message.contains("holds 101"));
        assert_eq!(validate_batch(&findings[..100]), Ok(()));
    }

    #[test]
    fn empty_batch_and_duplicate_ids() {
        let found = validate_batch(&[]).err().unwrap_or_default();
        assert!(found
            .iter()
            .any(|v| v.path == "Findings" && v.message.contains("holds 0")));
        let found = validate_batch(&[valid(), valid()])
            .err()
            .unwrap_or_default();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].to_string(),
            "[1].Id: duplicates the Id of finding [0]"
        );
    }

    #[test]
    fn batch_reports_findings_by_index_and_total_size() {
        let mut bad = valid();
        set(&mut bad, "/Types/0", json!("Nope"));
        set(&mut bad, "/Id", json!("other"));
        let found = validate_batch(&[valid(), bad]).err().unwrap_or_default();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "[1].Types[0]");
        let pad = |i: usize| json!({"Id": format!("f{i}"), "Pad": "p".repeat(200_000)});
        let findings: Vec<Value> = (0..32).map(pad).collect();
        let found = validate_batch(&findings).err().unwrap_or_default();
        assert!(found
            .iter()
            .any(|v| v.path == "Findings" && v.message.contains("bytes")));
    }
}
