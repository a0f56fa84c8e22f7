//! Helpers shared by the integration tests: CloudTrail records built as JSON with every
//! `userIdentity` shape, the three object layouts (plain or gzip), an engine with a
//! [`MemoryStore`] behind it, and the ASFF check every produced finding goes through.
//!
//! Listed addresses are documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
//! 2001:db8::/32), which the threat-intel loader deliberately accepts.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use recon_core::asff;
use recon_core::config::EngineConfig;
use recon_core::engine::{CommitReport, Engine, ObjectRef, ObjectReport};
use recon_core::finding::{ApiEvidence, Evidence, Finding, FindingType, ListKind, Principal};
use recon_core::finding::{Severity, Subject};
use recon_core::input::{self, region_from_key, Limits};
use recon_core::intel::{IpSet, ThreatIntel};
use recon_core::store::{MemoryStore, Store};
use recon_core::suppress::Suppressions;
use recon_core::time::Timestamp;
use serde_json::{json, Map, Value};

/// The account every record is delivered to unless a test says otherwise.
pub const ACCOUNT: &str = "111122223333";
/// A Tor exit in the tests' lists.
pub const TOR_IP: &str = "198.51.100.23";
/// An address no list holds.
pub const CLEAN_IP: &str = "192.0.2.10";
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// One week in milliseconds (the default learning period).
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// The wall clock the harness commits at unless told otherwise.
pub const NOW: &str = "2026-12-01T00:00:00Z";

pub const EC2: &str = "ec2.amazonaws.com";
pub const S3: &str = "s3.amazonaws.com";
pub const IAM: &str = "iam.amazonaws.com";
pub const STS: &str = "sts.amazonaws.com";
pub const LAMBDA: &str = "lambda.amazonaws.com";

// ---------------------------------------------------------------------------------------------
// Futures

/// Runs a future that is always ready (every [`MemoryStore`] future is) to completion.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the future was not ready: MemoryStore futures never wait"),
    }
}

// ---------------------------------------------------------------------------------------------
// Time

/// `2026-11-<day>T<h>:<m>:00Z`: the tests' calendar runs through November 2026.
pub fn at(day: u32, h: u32, m: u32) -> String {
    format!("2026-11-{day:02}T{h:02}:{m:02}:00Z")
}

/// Parses a timestamp the helpers wrote.
pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap_or_else(|| panic!("bad test timestamp {s}"))
}

// ---------------------------------------------------------------------------------------------
// userIdentity shapes

/// An IAM user with a long-term access key.
pub fn iam_user(name: &str) -> Value {
    json!({
        "type": "IAMUser",
        "principalId": format!("AIDA{}", id_suffix(name)),
        "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        "accountId": ACCOUNT,
        "accessKeyId": format!("AKIA{}", id_suffix(name)),
        "userName": name
    })
}

/// The ARN of an IAM user.
pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

/// The ARN of an IAM role.
pub fn role_arn(role: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{role}")
}

/// An assumed-role session of `role` named `session`, with its session issuer.
pub fn assumed_role(role: &str, session: &str) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROA{}:{session}", id_suffix(role)),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
        "accountId": ACCOUNT,
        "accessKeyId": format!("ASIA{}", id_suffix(session)),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": format!("AROA{}", id_suffix(role)),
                "arn": role_arn(role),
                "accountId": ACCOUNT,
                "userName": role
            },
            "attributes": {"creationDate": "2026-11-01T00:00:00Z", "mfaAuthenticated": "false"}
        }
    })
}

/// Instance-profile credentials: the session is named after the instance.
pub fn instance_role(role: &str, instance_id: &str) -> Value {
    assumed_role(role, instance_id)
}

/// Instance-profile credentials recognised by `ec2RoleDelivery` (the session name says nothing).
pub fn instance_role_delivered(role: &str, session: &str) -> Value {
    let mut v = assumed_role(role, session);
    v["sessionContext"]["ec2RoleDelivery"] = json!("2.0");
    v
}

/// The account root user.
pub fn root() -> Value {
    json!({
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": format!("arn:aws:iam::{ACCOUNT}:root"),
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAROOTSESSION00001"
    })
}

/// A federated user (GetFederationToken) issued by an IAM user.
pub fn federated_user(name: &str) -> Value {
    json!({
        "type": "FederatedUser",
        "principalId": format!("{ACCOUNT}:{name}"),
        "arn": format!("arn:aws:sts::{ACCOUNT}:federated-user/{name}"),
        "accountId": ACCOUNT,
        "accessKeyId": format!("ASIA{}", id_suffix(name)),
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "principalId": "AIDABROKER0000000001",
                "arn": user_arn("federation-broker"),
                "accountId": ACCOUNT,
                "userName": "federation-broker"
            }
        }
    })
}

/// An AWS service acting on its own.
pub fn aws_service(service: &str) -> Value {
    json!({"type": "AWSService", "invokedBy": service})
}

/// A principal of another account (cross-account access).
pub fn aws_account(principal_id: &str, account: &str) -> Value {
    json!({"type": "AWSAccount", "principalId": principal_id, "accountId": account})
}

/// An IAM Identity Center user.
pub fn identity_center_user(user_id: &str) -> Value {
    json!({
        "type": "IdentityCenterUser",
        "accountId": ACCOUNT,
        "onBehalfOf": {
            "userId": user_id,
            "identityStoreArn": format!("arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067000000")
        },
        "credentialId": "EXAMPLEcredentialId"
    })
}

/// A SAML-federated user (AssumeRoleWithSAML).
pub fn saml_user(name: &str) -> Value {
    json!({
        "type": "SAMLUser",
        "principalId": format!("SAMPLEprovider:{name}"),
        "userName": name,
        "identityProvider": "bdGOnTesti4+7eXAmPleTestE="
    })
}

/// A web-identity user (AssumeRoleWithWebIdentity).
pub fn web_identity_user(name: &str) -> Value {
    json!({
        "type": "WebIdentityUser",
        "principalId": format!("accounts.google.com:{name}"),
        "userName": name,
        "identityProvider": "accounts.google.com"
    })
}

/// An identity without `type`, as some service events log it (no `invokedBy` either).
pub fn untyped(principal_id: &str) -> Value {
    json!({"accountId": ACCOUNT, "principalId": principal_id})
}

/// An identity without `type`, invoked by `AWS Internal` (an AWS service event).
pub fn untyped_internal() -> Value {
    json!({"accountId": ACCOUNT, "invokedBy": "AWS Internal"})
}

/// A session of a service-linked role.
pub fn service_linked_role(service: &str, role: &str) -> Value {
    let mut v = assumed_role(role, "session");
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/{service}/{role}");
    v["sessionContext"]["sessionIssuer"]["arn"] = json!(arn);
    v
}

/// Sixteen characters derived from `s`, for access key and principal ids.
fn id_suffix(s: &str) -> String {
    let h = recon_core::finding::fnv1a(s.as_bytes());
    format!("{h:016X}")
}

/// Adds `invokedBy` to an identity.
pub fn invoked_by(mut identity: Value, service: &str) -> Value {
    identity["invokedBy"] = json!(service);
    identity
}

// ---------------------------------------------------------------------------------------------
// Records

/// A CloudTrail record under construction.
#[derive(Clone, Debug)]
pub struct Rec(pub Map<String, Value>);

/// A management-event API call by `identity` at `time` (RFC 3339) from [`CLEAN_IP`].
pub fn rec(identity: Value, source: &str, name: &str, time: &str) -> Rec {
    let mut m = Map::new();
    m.insert("eventVersion".into(), json!("1.08"));
    m.insert("userIdentity".into(), identity);
    m.insert("eventTime".into(), json!(time));
    m.insert("eventSource".into(), json!(source));
    m.insert("eventName".into(), json!(name));
    m.insert("awsRegion".into(), json!("us-east-1"));
    m.insert("sourceIPAddress".into(), json!(CLEAN_IP));
    m.insert("userAgent".into(), json!("aws-cli/2.15.30 md/arch#x86_64"));
    m.insert("requestParameters".into(), Value::Null);
    m.insert("responseElements".into(), Value::Null);
    m.insert("readOnly".into(), json!(true));
    m.insert("eventType".into(), json!("AwsApiCall"));
    m.insert("managementEvent".into(), json!(true));
    m.insert("recipientAccountId".into(), json!(ACCOUNT));
    m.insert("eventCategory".into(), json!("Management"));
    let mut r = Rec(m);
    let id = recon_core::finding::fnv1a(r.json().as_bytes());
    r.0.insert("eventID".into(), json!(format!("{id:016x}-test")));
    r
}

impl Rec {
    /// Wraps any JSON object as a record.
    pub fn raw(v: Value) -> Rec {
        match v {
            Value::Object(m) => Rec(m),
            other => panic!("a record is an object, not {other}"),
        }
    }

    /// Sets `sourceIPAddress`.
    pub fn ip(self, ip: &str) -> Rec {
        self.set("sourceIPAddress", json!(ip))
    }

    /// Sets `errorCode` (and an `errorMessage`).
    pub fn error(self, code: &str) -> Rec {
        self.set("errorCode", json!(code)).set(
            "errorMessage",
            json!("You are not authorized to perform this operation."),
        )
    }

    /// Sets `awsRegion`.
    pub fn region(self, region: &str) -> Rec {
        self.set("awsRegion", json!(region))
    }

    /// Sets `eventID`.
    pub fn event_id(self, id: &str) -> Rec {
        self.set("eventID", json!(id))
    }

    /// Sets any field.
    pub fn set(mut self, key: &str, value: Value) -> Rec {
        self.0.insert(key.into(), value);
        self
    }

    /// Removes a field.
    pub fn without(mut self, key: &str) -> Rec {
        self.0.remove(key);
        self
    }

    /// The record as CloudTrail writes it: `eventVersion` first (the reader resynchronises on
    /// `{"eventVersion"` after a broken record), then the other fields.
    pub fn json(&self) -> String {
        let mut out = String::from("{");
        let first = self.0.get("eventVersion").map(|v| ("eventVersion", v));
        let rest = self.0.iter().filter(|(k, _)| *k != "eventVersion");
        let fields = first.into_iter().chain(rest.map(|(k, v)| (k.as_str(), v)));
        for (i, (k, v)) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&json!(k).to_string());
            out.push(':');
            out.push_str(&v.to_string());
        }
        out.push('}');
        out
    }

    /// The record as a JSON value.
    pub fn value(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Object layouts

/// CloudTrail's delivery envelope: `{"Records":[…]}`.
pub fn envelope(recs: &[Rec]) -> Vec<u8> {
    envelope_raw(&recs.iter().map(Rec::json).collect::<Vec<_>>())
}

/// An envelope around already-serialised records (which may be broken on purpose).
pub fn envelope_raw(items: &[String]) -> Vec<u8> {
    format!("{{\"Records\":[{}]}}", items.join(",")).into_bytes()
}

/// A bare JSON array of records.
pub fn array(recs: &[Rec]) -> Vec<u8> {
    let items: Vec<String> = recs.iter().map(Rec::json).collect();
    format!("[{}]", items.join(",\n")).into_bytes()
}

/// CloudTrail sent to CloudWatch Logs and exported to S3: each record on its own line after
/// its event's time.
pub fn cloudwatch_export(recs: &[Rec]) -> Vec<u8> {
    let mut out = String::new();
    for r in recs {
        let time = r.value()["eventTime"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        out.push_str(&format!("{} {}\n", time.replace('Z', ".000Z"), r.json()));
    }
    out.into_bytes()
}

/// Event history as `aws cloudtrail lookup-events` prints it: each record a JSON string in an
/// entry that repeats a few of its fields.
pub fn event_history(recs: &[Rec]) -> Vec<u8> {
    let events: Vec<Value> = recs
        .iter()
        .map(|r| {
            let v = r.value();
            serde_json::json!({
                "EventId": v["eventID"],
                "EventName": v["eventName"],
                "ReadOnly": "true",
                "EventTime": "2026-11-01T00:00:00+00:00",
                "EventSource": v["eventSource"],
                "Resources": [],
                "CloudTrailEvent": r.json(),
            })
        })
        .collect();
    let history = serde_json::json!({ "Events": events, "NextToken": "abc" });
    serde_json::to_vec_pretty(&history).expect("history serialises")
}

/// CloudTrail sent to CloudWatch Logs, as `aws logs filter-log-events` prints its events: each
/// record the `message` of one, as a JSON string, keys in the order the CLI prints them.
pub fn log_events(recs: &[Rec]) -> Vec<u8> {
    let events: Vec<String> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "{{\"logStreamName\": \"{ACCOUNT}_CloudTrail_us-east-1\", \"timestamp\": {}, \
                 \"message\": {}, \"ingestionTime\": {}, \"eventId\": \"{:056}\"}}",
                1_795_000_000_000_i64 + i as i64,
                json!(r.json()),
                1_795_000_005_000_i64 + i as i64,
                i
            )
        })
        .collect();
    format!(
        "{{\n    \"events\": [\n        {}\n    ],\n    \"searchedLogStreams\": []\n}}\n",
        events.join(",\n        ")
    )
    .into_bytes()
}

/// One record per line.
pub fn lines(recs: &[Rec]) -> Vec<u8> {
    let mut out = String::new();
    for r in recs {
        out.push_str(&r.json());
        out.push('\n');
    }
    out.into_bytes()
}

/// Gzip-compresses `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip write");
    e.finish().expect("gzip finish")
}

/// The S3 key CloudTrail would give a log file of this account delivered on `day`.
pub fn trail_key(day: u32, unique: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/{day:02}/\
         {ACCOUNT}_CloudTrail_us-east-1_202611{day:02}T0000Z_{unique}.json.gz"
    )
}

// ---------------------------------------------------------------------------------------------
// Threat intel

/// A named list holding `entries`.
pub fn list(name: &str, entries: &[&str]) -> IpSet {
    let mut set = IpSet::new(name);
    for e in entries {
        set.insert(e)
            .unwrap_or_else(|err| panic!("list {name}: {e}: {err}"));
    }
    set
}

/// Threat intel made of `(kind, list name, entries)`.
pub fn intel(lists: &[(ListKind, &str, &[&str])]) -> ThreatIntel {
    let mut ti = ThreatIntel::default();
    for (kind, name, entries) in lists {
        ti.add(*kind, list(name, entries));
    }
    ti
}

/// A Tor exit list named `tor-exits` holding [`TOR_IP`].
pub fn tor_intel() -> ThreatIntel {
    intel(&[(ListKind::Tor, "tor-exits", &[TOR_IP])])
}

// ---------------------------------------------------------------------------------------------
// Engine and store

/// An engine configuration with this learning period.
pub fn config(learning_period_ms: i64) -> EngineConfig {
    EngineConfig {
        learning_period_ms,
        ..EngineConfig::default()
    }
}

/// An engine, its store and the clock it commits at.
pub struct Harness {
    pub engine: Engine,
    pub store: MemoryStore,
    pub now: Timestamp,
}

impl Harness {
    /// An engine with this learning period and these lists, no suppression rules.
    pub fn new(learning_period_ms: i64, intel: ThreatIntel) -> Harness {
        Harness::with(config(learning_period_ms), intel, Suppressions::default())
    }

    /// An engine with everything given.
    pub fn with(config: EngineConfig, intel: ThreatIntel, rules: Suppressions) -> Harness {
        Harness {
            engine: Engine::new(config, intel, rules),
            store: MemoryStore::default(),
            now: ts(NOW),
        }
    }

    /// An engine with this learning period and these lists, reading within `limits`.
    pub fn limited(learning_period_ms: i64, intel: ThreatIntel, limits: Limits) -> Harness {
        let mut h = Harness::new(learning_period_ms, ThreatIntel::default());
        let rules = Suppressions::default();
        h.engine = Engine::new(config(learning_period_ms), intel, rules).with_limits(limits);
        h
    }

    /// Opens `bytes` in memory (as the CLI does for small files) and scans them; the object's id
    /// is its name.
    pub fn scan(&mut self, name: &str, bytes: Vec<u8>) -> ObjectReport {
        self.try_scan(name, bytes)
            .unwrap_or_else(|e| panic!("{name}: cannot open: {e}"))
    }

    /// Like [`Harness::scan`], but an object that cannot be opened is an error.
    pub fn try_scan(&mut self, name: &str, bytes: Vec<u8>) -> std::io::Result<ObjectReport> {
        let opened = input::open_bytes(name, bytes, self.engine.limits())?;
        Ok(self.engine.scan(&object(name), opened))
    }

    /// Opens `bytes` as a stream (as the CLI does for large files) and scans them.
    pub fn scan_streamed(&mut self, name: &str, bytes: Vec<u8>) -> ObjectReport {
        let limits = self.engine.limits();
        let opened = input::open(name, Box::new(std::io::Cursor::new(bytes)), limits)
            .unwrap_or_else(|e| panic!("{name}: cannot open: {e}"));
        self.engine.scan(&object(name), opened)
    }

    /// Commits at the harness clock; every finding returned and stored must be valid ASFF.
    pub fn commit(&mut self) -> CommitReport {
        self.commit_at(self.now)
    }

    /// Commits at `now`; every finding returned and stored must be valid ASFF.
    pub fn commit_at(&mut self, now: Timestamp) -> CommitReport {
        let report =
            block_on(self.engine.commit(&mut self.store, now)).expect("MemoryStore commit");
        assert_valid_asff(&report.findings);
        let stored: Vec<Finding> = self.store.findings.values().cloned().collect();
        assert_valid_asff(&stored);
        report
    }

    /// True when the store says the object was processed.
    pub fn is_processed(&self, id: &str) -> bool {
        block_on(self.store.is_processed(id)).expect("MemoryStore read")
    }

    /// Every stored finding.
    pub fn stored(&self) -> Vec<Finding> {
        self.store.findings.values().cloned().collect()
    }
}

/// The object reference the harness uses: id and name are the same, the Region from the key.
pub fn object(name: &str) -> ObjectRef {
    ObjectRef {
        id: name.to_owned(),
        name: name.to_owned(),
        region_hint: region_from_key(name),
    }
}

// ---------------------------------------------------------------------------------------------
// ASFF

/// Renders every finding as ASFF and checks it against Security Hub's rules, then checks the
/// `BatchImportFindings` requests they pack into.
pub fn assert_valid_asff(findings: &[Finding]) {
    let mut rendered = Vec::with_capacity(findings.len());
    for f in findings {
        let v = asff::render(f);
        if let Err(violations) = asff::validate(&v) {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("finding {} is not valid ASFF: {}", f.id, list.join("; "));
        }
        assert_eq!(v["Id"], json!(f.id), "ASFF Id is the finding id");
        assert_eq!(
            v["Types"][0],
            json!(f.finding_type.asff_type()),
            "ASFF Types of {}",
            f.id
        );
        rendered.push(v);
    }
    let batches = asff::batches(rendered);
    let total: usize = batches.iter().map(Vec::len).sum();
    assert_eq!(total, findings.len(), "every finding lands in one batch");
    for batch in &batches {
        assert!(batch.len() <= asff::MAX_FINDINGS_PER_BATCH);
        if let Err(violations) = asff::validate_batch(batch) {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("batch is not a valid request: {}", list.join("; "));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Looking at findings

/// The findings of one type.
pub fn of_type(findings: &[Finding], t: FindingType) -> Vec<&Finding> {
    findings.iter().filter(|f| f.finding_type == t).collect()
}

/// The finding of type `t` about the principal whose key is `key`, if any.
pub fn find<'a>(findings: &'a [Finding], t: FindingType, key: &str) -> Option<&'a Finding> {
    findings
        .iter()
        .find(|f| f.finding_type == t && principal(f).key == key)
}

/// Like [`find`], but the finding must exist.
pub fn expect_finding<'a>(findings: &'a [Finding], t: FindingType, key: &str) -> &'a Finding {
    find(findings, t, key).unwrap_or_else(|| {
        panic!(
            "no {t} finding for {key}; have {:?}",
            brief(findings).into_iter().collect::<Vec<_>>()
        )
    })
}

/// The types present, sorted.
pub fn types(findings: &[Finding]) -> Vec<FindingType> {
    let set: BTreeSet<FindingType> = findings.iter().map(|f| f.finding_type).collect();
    set.into_iter().collect()
}

/// `(type, subject key)` of every finding, for messages.
pub fn brief(findings: &[Finding]) -> BTreeSet<(FindingType, String)> {
    findings
        .iter()
        .map(|f| (f.finding_type, principal(f).key.clone()))
        .collect()
}

/// The principal a CloudTrail finding is about.
pub fn principal(f: &Finding) -> &Principal {
    match &f.subject {
        Subject::Principal(p) => p,
        Subject::Ec2(e) => panic!("{} is about an instance ({e:?})", f.id),
    }
}

/// The API evidence of a CloudTrail finding.
pub fn api_evidence(f: &Finding) -> &ApiEvidence {
    match &f.evidence {
        Evidence::Api(e) => e,
        Evidence::Network(n) => panic!("{} has network evidence ({n:?})", f.id),
    }
}

/// The new APIs of a first-seen finding, sorted.
pub fn new_apis(f: &Finding) -> Vec<String> {
    let mut v = api_evidence(f).new_apis.clone();
    v.sort();
    v
}

/// What must not depend on input order: id, type, severity, count, event-time span, the APIs
/// with their counts, and the new APIs.
pub type Fingerprint = (
    String,
    FindingType,
    Severity,
    u64,
    Timestamp,
    Timestamp,
    Vec<(String, u64)>,
    Vec<String>,
);

/// The order-independent fingerprint of a set of findings.
pub fn fingerprint(findings: &[Finding]) -> BTreeSet<Fingerprint> {
    findings
        .iter()
        .map(|f| {
            let ev = api_evidence(f);
            let mut apis: Vec<(String, u64)> =
                ev.apis.iter().map(|a| (a.api.clone(), a.count)).collect();
            apis.sort();
            (
                f.id.clone(),
                f.finding_type,
                f.severity,
                f.count,
                f.first_seen,
                f.last_seen,
                apis,
                new_apis(f),
            )
        })
        .collect()
}
