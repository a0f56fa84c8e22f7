//! Helpers for the flow-log integration tests: flow records written in any field order (v2
//! default without a header, v3/v4/v5 custom headers), plain or gzip objects under the S3 layout,
//! an engine harness over a [`MemoryStore`], and the ASFF check every produced finding goes
//! through.
//!
//! Listed and remote hosts use documentation addresses (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 2001:db8::/32); instances use 10.x (and fd00::/8 for IPv6).
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::net::IpAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use recon_core::asff;
use recon_core::config::EngineConfig;
use recon_core::engine::{CommitReport, Engine, ObjectRef, ObjectReport};
use recon_core::finding::Subject;
use recon_core::finding::{Ec2Subject, Evidence, Finding, FindingType, ListKind, NetworkEvidence};
use recon_core::input::{self, region_from_key, Limits};
use recon_core::intel::{IpSet, ThreatIntel};
use recon_core::store::MemoryStore;
use recon_core::suppress::Suppressions;
use recon_core::time::Timestamp;
use serde_json::Value;

/// The account the flow logs are delivered to.
pub const ACCOUNT: &str = "111122223333";
/// The Region of the flow logs' S3 path.
pub const REGION: &str = "eu-west-1";
/// The instance in the logs.
pub const INSTANCE: &str = "i-0a1b2c3d4e5f60718";
/// Its network interface.
pub const ENI: &str = "eni-0a1b2c3d4e5f60718";
/// Its VPC.
pub const VPC: &str = "vpc-0a1b2c3d4e5f60718";
/// Its subnet.
pub const SUBNET: &str = "subnet-0a1b2c3d4e5f60718";
/// Its private address.
pub const LOCAL: &str = "10.0.1.15";
/// Its IPv6 address.
pub const LOCAL_V6: &str = "fd00:10::15";
/// A host on the managed list (`scanners`, entry `198.51.100.0/24`).
pub const SCANNER: &str = "198.51.100.7";
/// A second host on the managed list.
pub const SCANNER_2: &str = "198.51.100.8";
/// A host on the custom list (`my-blocklist`, entry `203.0.113.66`).
pub const CUSTOM_BAD: &str = "203.0.113.66";
/// A host inside the managed /24 that the trusted list (`office`) holds.
pub const TRUSTED: &str = "198.51.100.200";
/// An IPv6 scanner on the managed list (entry `2001:db8:bad::/48`).
pub const SCANNER_V6: &str = "2001:db8:bad::7";
/// A host the instance scans (on no list).
pub const TARGET: &str = "203.0.113.50";
/// An IPv6 host the instance scans.
pub const TARGET_V6: &str = "2001:db8:cafe::50";
/// A client of the instance (on no list).
pub const CLIENT: &str = "192.0.2.77";
/// 2026-09-21T12:00:00Z, the first flow's start, in Unix seconds.
pub const T0: i64 = 1_789_992_000;
/// The wall clock of the first commit, in milliseconds (an hour after [`T0`]).
pub const NOW_MS: i64 = (T0 + 3_600) * 1000;
/// Five minutes in milliseconds.
pub const FIVE_MIN_MS: i64 = 5 * 60_000;

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

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

// ---------------------------------------------------------------------------------------------
// Formats

/// A flow-log format: its fields in column order, the version it writes and whether a header
/// line names them.
#[derive(Clone, Copy, Debug)]
pub struct Format {
    pub fields: &'static [&'static str],
    pub version: u8,
    pub header: bool,
}

const V2_FIELDS: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// The default format: v2 fields, no header line.
pub const V2: Format = Format {
    fields: V2_FIELDS,
    version: 2,
    header: false,
};

/// v3 fields (instance-id, tcp-flags, pkt-*) in shuffled order, with a header.
pub const V3: Format = Format {
    fields: &[
        "srcaddr",
        "instance-id",
        "tcp-flags",
        "dstaddr",
        "version",
        "vpc-id",
        "log-status",
        "subnet-id",
        "interface-id",
        "account-id",
        "type",
        "pkt-srcaddr",
        "pkt-dstaddr",
        "dstport",
        "srcport",
        "protocol",
        "bytes",
        "packets",
        "end",
        "start",
        "action",
    ],
    version: 3,
    header: true,
};

/// v4 fields (region, az-id, sublocation) in shuffled order, with a header.
pub const V4: Format = Format {
    fields: &[
        "account-id",
        "region",
        "start",
        "az-id",
        "interface-id",
        "instance-id",
        "dstaddr",
        "srcaddr",
        "dstport",
        "srcport",
        "protocol",
        "tcp-flags",
        "end",
        "action",
        "log-status",
        "version",
        "sublocation-type",
        "sublocation-id",
        "pkt-dstaddr",
        "pkt-srcaddr",
        "vpc-id",
        "subnet-id",
    ],
    version: 4,
    header: true,
};

/// v5 fields (flow-direction, traffic-path, AWS service names) in shuffled order, with a header.
pub const V5: Format = Format {
    fields: &[
        "interface-id",
        "flow-direction",
        "traffic-path",
        "srcaddr",
        "dstaddr",
        "pkt-src-aws-service",
        "srcport",
        "dstport",
        "protocol",
        "region",
        "instance-id",
        "tcp-flags",
        "pkt-srcaddr",
        "pkt-dstaddr",
        "pkt-dst-aws-service",
        "type",
        "account-id",
        "vpc-id",
        "subnet-id",
        "version",
        "packets",
        "bytes",
        "start",
        "end",
        "action",
        "log-status",
        "az-id",
    ],
    version: 5,
    header: true,
};

// ---------------------------------------------------------------------------------------------
// Flow records

/// One flow record, rendered into whatever columns a [`Format`] has.
#[derive(Clone, Debug)]
pub struct Flow {
    pub account: String,
    pub eni: String,
    pub instance: Option<String>,
    pub src: String,
    pub dst: String,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub proto: Option<u8>,
    /// Unix seconds.
    pub start: i64,
    pub action: Option<&'static str>,
    pub flags: Option<u16>,
    pub pkt_src: Option<String>,
    pub pkt_dst: Option<String>,
    pub region: Option<String>,
    pub direction: Option<&'static str>,
}

impl Flow {
    /// The instance opening a TCP connection (SYN) to `remote:port` at `t` (Unix seconds).
    pub fn out(remote: &str, port: u16, t: i64) -> Flow {
        let local = if remote.contains(':') {
            LOCAL_V6
        } else {
            LOCAL
        };
        Flow {
            account: ACCOUNT.into(),
            eni: ENI.into(),
            instance: Some(INSTANCE.into()),
            src: local.into(),
            dst: remote.into(),
            sport: Some(51515),
            dport: Some(port),
            proto: Some(6),
            start: t,
            action: Some("ACCEPT"),
            flags: Some(2),
            pkt_src: None,
            pkt_dst: None,
            region: Some(REGION.into()),
            direction: Some("egress"),
        }
    }

    /// `remote:51234` opening a TCP connection (SYN) to the instance's `port` at `t`.
    pub fn inbound(remote: &str, port: u16, t: i64) -> Flow {
        let mut f = Flow::out(remote, 0, t);
        std::mem::swap(&mut f.src, &mut f.dst);
        f.sport = Some(51234);
        f.dport = Some(port);
        f.direction = Some("ingress");
        f
    }

    pub fn flags(mut self, flags: Option<u16>) -> Flow {
        self.flags = flags;
        self
    }

    pub fn ports(mut self, src: u16, dst: u16) -> Flow {
        self.sport = Some(src);
        self.dport = Some(dst);
        self
    }

    pub fn reject(mut self) -> Flow {
        self.action = Some("REJECT");
        self
    }

    pub fn no_instance(mut self) -> Flow {
        self.instance = None;
        self
    }

    pub fn account(mut self, account: &str) -> Flow {
        self.account = account.into();
        self
    }

    pub fn region(mut self, region: &str) -> Flow {
        self.region = Some(region.into());
        self
    }

    pub fn eni(mut self, eni: &str, instance: Option<&str>) -> Flow {
        self.eni = eni.into();
        self.instance = instance.map(str::to_owned);
        self
    }

    pub fn local(mut self, addr: &str) -> Flow {
        if self.direction == Some("ingress") {
            self.dst = addr.into();
        } else {
            self.src = addr.into();
        }
        self
    }

    /// The column value of `field`, `-` when absent.
    pub fn value(&self, field: &str, version: u8) -> String {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let num = |v: Option<u16>| opt(v.map(|n| n.to_string()));
        match field {
            "version" => version.to_string(),
            "account-id" => self.account.clone(),
            "interface-id" => self.eni.clone(),
            "instance-id" => opt(self.instance.clone()),
            "vpc-id" => VPC.into(),
            "subnet-id" => SUBNET.into(),
            "srcaddr" => self.src.clone(),
            "dstaddr" => self.dst.clone(),
            "pkt-srcaddr" => self.pkt_src.clone().unwrap_or_else(|| self.src.clone()),
            "pkt-dstaddr" => self.pkt_dst.clone().unwrap_or_else(|| self.dst.clone()),
            "srcport" => num(self.sport),
            "dstport" => num(self.dport),
            "protocol" => opt(self.proto.map(|p| p.to_string())),
            "packets" => "1".into(),
            "bytes" => "44".into(),
            "start" => self.start.to_string(),
            "end" => (self.start + 60).to_string(),
            "action" => opt(self.action.map(str::to_owned)),
            "log-status" => "OK".into(),
            "tcp-flags" => num(self.flags),
            "type" => if self.src.contains(':') {
                "IPv6"
            } else {
                "IPv4"
            }
            .into(),
            "region" => opt(self.region.clone()),
            "az-id" => "euw1-az1".into(),
            "flow-direction" => opt(self.direction.map(str::to_owned)),
            "traffic-path" => if self.direction == Some("egress") {
                "8"
            } else {
                "-"
            }
            .into(),
            "sublocation-type"
            | "sublocation-id"
            | "pkt-src-aws-service"
            | "pkt-dst-aws-service" => "-".into(),
            other => panic!("the test helper does not write {other}"),
        }
    }

    /// The record as one line of `format`, without its newline.
    pub fn line(&self, format: &Format) -> String {
        let cols: Vec<String> = format
            .fields
            .iter()
            .map(|f| self.value(f, format.version))
            .collect();
        cols.join(" ")
    }
}

/// The text of a flow-log object: the header (when the format has one), then one line a flow.
pub fn text(format: &Format, flows: &[Flow]) -> String {
    let mut s = String::new();
    if format.header {
        s.push_str(&format.fields.join(" "));
        s.push('\n');
    }
    for f in flows {
        s.push_str(&f.line(format));
        s.push('\n');
    }
    s
}

/// `data` gzip-compressed, as flow logs are delivered.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip write");
    e.finish().expect("gzip finish")
}

/// The S3 key of the `n`th five-minute flow-log file of [`ACCOUNT`] in [`REGION`].
pub fn key(n: u32) -> String {
    key_for(ACCOUNT, n)
}

/// The S3 key of the `n`th flow-log file of `account`.
pub fn key_for(account: &str, n: u32) -> String {
    format!(
        "AWSLogs/{account}/vpcflowlogs/{REGION}/2026/09/21/\
         {account}_vpcflowlogs_{REGION}_fl-0123456789abcdef0_20260921T12{n:02}Z_a1b2c3d4.log.gz"
    )
}

/// `count` outbound SYNs to consecutive ports of `remote` from `first_port`, `step` seconds apart
/// from `start`.
pub fn sweep(remote: &str, first_port: u16, count: u16, start: i64, step: i64) -> Vec<Flow> {
    (0..count)
        .map(|i| Flow::out(remote, first_port + i, start + i64::from(i) * step))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Threat intel

/// A managed list `scanners` (198.51.100.0/24, 2001:db8:bad::/48), a custom list
/// `my-blocklist` (203.0.113.66) and a trusted list `office` (198.51.100.200).
pub fn intel() -> ThreatIntel {
    let mut t = ThreatIntel::default();
    t.add(
        ListKind::Managed,
        ip_set("scanners", &["198.51.100.0/24", "2001:db8:bad::/48"]),
    );
    t.add(ListKind::Custom, ip_set("my-blocklist", &[CUSTOM_BAD]));
    t.add(ListKind::Trusted, ip_set("office", &[TRUSTED]));
    t
}

pub fn ip_set(name: &str, entries: &[&str]) -> IpSet {
    let mut set = IpSet::new(name);
    for e in entries {
        set.insert(e).expect("valid test entry");
    }
    set
}

// ---------------------------------------------------------------------------------------------
// Engine harness

/// An engine and the reports of the objects scanned into its pending batch.
pub struct Batch {
    pub engine: Engine,
    pub reports: Vec<ObjectReport>,
}

impl Batch {
    /// An engine with `config`, `intel` and `rules`.
    pub fn new(config: EngineConfig, intel: ThreatIntel, rules: Suppressions) -> Self {
        Batch {
            engine: Engine::new(config, intel, rules),
            reports: Vec::new(),
        }
    }

    /// The default configuration, [`intel`], no rules.
    pub fn standard() -> Self {
        Batch::new(EngineConfig::default(), intel(), Suppressions::default())
    }

    /// Loads the Portscan windows a previous batch left in `store`.
    pub fn resume(mut self, store: &MemoryStore) -> Self {
        block_on(self.engine.load_flow_state(store)).expect("load flow state");
        self
    }

    /// Opens `bytes` as the object `name` (plain or gzip) and scans it.
    pub fn scan(&mut self, name: &str, bytes: Vec<u8>) -> &ObjectReport {
        let opened = input::open_bytes(name, bytes, Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let object = ObjectRef {
            id: format!("{name}#etag"),
            name: name.to_owned(),
            region_hint: region_from_key(name),
        };
        let report = self.engine.scan(&object, opened);
        self.reports.push(report);
        self.reports.last().expect("just pushed")
    }

    /// Scans `flows` written in `format` as the object `name`, gzip-compressed when it ends in
    /// `.gz`.
    pub fn scan_flows(&mut self, name: &str, format: &Format, flows: &[Flow]) -> &ObjectReport {
        let body = text(format, flows).into_bytes();
        let bytes = if name.ends_with(".gz") {
            gzip(&body)
        } else {
            body
        };
        self.scan(name, bytes)
    }

    /// Asserts that no object scanned so far had a malformed line or stopped early.
    pub fn assert_clean(&self) {
        for r in &self.reports {
            assert!(r.issues.is_empty(), "{}: {:?}", r.name, r.issues);
            assert_eq!(r.issue_count, 0, "{}", r.name);
            assert!(r.fatal.is_none(), "{}: {:?}", r.name, r.fatal);
        }
    }

    /// Commits at `now_ms` and checks every finding (and every batch of them) as ASFF.
    pub fn commit(mut self, store: &mut MemoryStore, now_ms: i64) -> CommitReport {
        let report = block_on(self.engine.commit(store, Timestamp(now_ms))).expect("commit");
        check_all(&report.findings);
        report
    }
}

/// Scans each `(name, format, flows)` object into one batch with the standard engine, asserts
/// they were read without issues and commits to a fresh store.
pub fn detect(objects: &[(&str, &Format, &[Flow])]) -> CommitReport {
    let mut b = Batch::standard();
    for (name, format, flows) in objects {
        b.scan_flows(name, format, flows);
    }
    b.assert_clean();
    b.commit(&mut MemoryStore::default(), NOW_MS)
}

// ---------------------------------------------------------------------------------------------
// ASFF and finding accessors

/// Renders `f` and checks it against Security Hub's rules, panicking with every violation.
pub fn asff(f: &Finding) -> Value {
    let v = asff::render(f);
    if let Err(violations) = asff::validate(&v) {
        panic!(
            "finding {} renders invalid ASFF: {violations:?}\n{}",
            f.id,
            serde_json::to_string_pretty(&v).unwrap_or_default()
        );
    }
    v
}

/// [`asff`] for each finding, then every `BatchImportFindings` request they pack into.
pub fn check_all(findings: &[Finding]) {
    let rendered: Vec<Value> = findings.iter().map(asff).collect();
    if rendered.is_empty() {
        return;
    }
    for batch in asff::batches(rendered) {
        if let Err(violations) = asff::validate_batch(&batch) {
            panic!("invalid BatchImportFindings request: {violations:?}");
        }
    }
}

/// The value at a JSON pointer of a rendered finding (`Null` when absent).
pub fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or(&Value::Null)
}

/// The findings of one type.
pub fn of_type(findings: &[Finding], t: FindingType) -> Vec<&Finding> {
    findings.iter().filter(|f| f.finding_type == t).collect()
}

/// The single finding of type `t`, panicking with a summary otherwise.
pub fn single(findings: &[Finding], t: FindingType) -> &Finding {
    let found = of_type(findings, t);
    assert_eq!(found.len(), 1, "expected one {t}: {:#?}", brief(findings));
    found[0]
}

/// `(type, subject, remote, count)` of each finding, for messages.
pub fn brief(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{} {} {:?} x{}", f.finding_type, f.id, f.remote_ip, f.count))
        .collect()
}

/// The network evidence of a flow-log finding.
pub fn net(f: &Finding) -> &NetworkEvidence {
    match &f.evidence {
        Evidence::Network(n) => n,
        Evidence::Api(_) => panic!("{} has API evidence", f.id),
    }
}

/// The EC2 subject of a flow-log finding.
pub fn ec2(f: &Finding) -> &Ec2Subject {
    match &f.subject {
        Subject::Ec2(e) => e,
        Subject::Principal(_) => panic!("{} is about a principal", f.id),
    }
}

/// The ports of a finding's evidence, in evidence order.
pub fn ports(f: &Finding) -> Vec<u16> {
    net(f).ports.iter().map(|p| p.port).collect()
}
