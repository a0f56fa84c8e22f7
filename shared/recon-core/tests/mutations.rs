//! Damaged input, thousands of ways: every layout the readers take, in plain text and gzip, with
//! bytes flipped, cut, dropped, repeated and junk spliced in, by a seeded generator (so every
//! run sees the same inputs and a failure names the case that broke).
//!
//! Whatever the damage, a scan must not panic, must read the object the same way in memory and
//! as a stream, must report only positions the object has, and must emit only findings that
//! Security Hub accepts. Damage confined to one line, or to one record of a delivery file,
//! costs that line or record and nothing else.

mod common;

use common::{
    aws_service, envelope, event_history, gzip, iam_user, instance_role, intel, lines, rec, root,
    Harness, Rec, TOR_IP,
};
use recon_core::engine::ObjectReport;
use recon_core::finding::{Finding, ListKind};
use recon_core::input;
use recon_core::intel::ThreatIntel;

/// A flow-log host on the managed list of [`lists`].
const SCANNER: &str = "198.51.100.7";

/// An xorshift generator: no random-number crate, the same cases every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn lists() -> ThreatIntel {
    intel(&[
        (ListKind::Tor, "tor-exits", &[TOR_IP]),
        (ListKind::Managed, "scanners", &["198.51.100.0/24"]),
        (ListKind::Custom, "my-blocklist", &["203.0.113.66"]),
    ])
}

/// Discovery calls that raise findings of all six CloudTrail types, among ordinary ones.
fn trail_records() -> Vec<Rec> {
    let t = |m: u32| common::at(20, 10, m);
    vec![
        rec(
            iam_user("alice"),
            "ec2.amazonaws.com",
            "DescribeInstances",
            &t(0),
        )
        .ip(TOR_IP),
        rec(
            iam_user("alice"),
            "ec2.amazonaws.com",
            "DescribeSecurityGroups",
            &t(1),
        ),
        rec(iam_user("alice"), "iam.amazonaws.com", "ListUsers", &t(2)).error("AccessDenied"),
        rec(
            instance_role("web", "i-0123456789abcdef0"),
            "iam.amazonaws.com",
            "ListRoles",
            &t(3),
        )
        .ip("198.51.100.9"),
        rec(root(), "s3.amazonaws.com", "PutObject", &t(4)).ip(TOR_IP),
        rec(
            aws_service("config.amazonaws.com"),
            "ec2.amazonaws.com",
            "DescribeVpcs",
            &t(5),
        ),
        rec(
            iam_user("bob"),
            "lambda.amazonaws.com",
            "ListFunctions20150331",
            &t(6),
        )
        .set(
            "requestParameters",
            serde_json::json!({"maxItems": 50, "tags": ["a", "b\"c"]}),
        )
        .ip("203.0.113.66"),
        rec(
            iam_user("bob"),
            "ec2.amazonaws.com",
            "DescribeRouteTables",
            &t(7),
        )
        .ip("2001:db8::1"),
        // A service's own call, passed over on its key fields alone.
        rec(
            aws_service("cloudtrail.amazonaws.com"),
            "s3.amazonaws.com",
            "GetBucketAcl",
            &t(8),
        )
        .ip("cloudtrail.amazonaws.com"),
    ]
}

/// A JSON array of records as `jq` or an export tool prints it: indented, keys in any order.
fn pretty(recs: &[Rec]) -> Vec<u8> {
    let values: Vec<serde_json::Value> = recs.iter().map(Rec::value).collect();
    serde_json::to_vec_pretty(&values).expect("serialises")
}

/// The CloudTrail layouts, each as `(name, bytes)`.
fn trail_objects() -> Vec<(&'static str, Vec<u8>)> {
    let recs = trail_records();
    vec![
        ("envelope.json", envelope(&recs)),
        ("array.json", common::array(&recs)),
        ("pretty.json", pretty(&recs)),
        ("lines.json", lines(&recs)),
        ("export.log", common::cloudwatch_export(&recs)),
        ("history.json", event_history(&recs)),
        ("log-events.json", common::log_events(&recs)),
    ]
}

/// Flow logs with a Portscan (16 ports in a minute) and probes from a listed host, with a
/// header (version 5) and without one (version 2).
fn flow_objects() -> Vec<(&'static str, Vec<u8>)> {
    let t0 = 1_789_992_000;
    let mut v5 = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes \
         start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr \
         pkt-dstaddr flow-direction\n",
    );
    let mut v2 = String::new();
    for port in 0..16u16 {
        let (start, dport) = (t0 + i64::from(port) * 3, 20 + port * 7);
        v5.push_str(&format!(
            "5 111122223333 eni-0a1b2c3d4e5f60718 10.0.1.15 203.0.113.50 {} {dport} 6 1 60 \
             {start} {} REJECT OK vpc-0a1b2c3d subnet-0a1b2c3d i-0a1b2c3d4e5f60718 2 IPv4 \
             10.0.1.15 203.0.113.50 egress\n",
            40_000 + port,
            start + 5,
        ));
        v2.push_str(&format!(
            "2 111122223333 eni-0a1b2c3d4e5f60718 {SCANNER} 10.0.1.15 {} {} 6 3 180 {start} {} \
             ACCEPT OK\n",
            50_000 + port,
            [22, 9200, 3389, 443][usize::from(port % 4)],
            start + 5,
        ));
    }
    v2.push_str(
        "2 111122223333 eni-0a1b2c3d4e5f60718 - - - - - - - 1789992100 1789992160 - NODATA\n",
    );
    // The same lines as CloudWatch Logs events, as `aws logs filter-log-events` prints them.
    let events: Vec<serde_json::Value> = v2
        .lines()
        .map(|line| serde_json::json!({"logStreamName": "eni-0a1b2c3d4e5f60718", "message": line}))
        .collect();
    let events = serde_json::to_vec_pretty(&serde_json::json!({ "events": events }));
    vec![
        ("flows-v5.log", v5.into_bytes()),
        ("flows-v2.log", v2.into_bytes()),
        ("flow-events.json", events.expect("serialises")),
    ]
}

/// Bytes that matter to the readers, more likely than others as replacements.
const SPECIAL: &[u8] = b"\"{}[],:\\ \n\t\r-#0159.e/\x00\xff\xc3";

/// Damages `bytes` one to three times; says how, for the failure message.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) -> String {
    let mut how = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let len = bytes.len();
        let at = rng.below(len + 1);
        let span = 1 + rng.below(64);
        match rng.below(7) {
            0 if at < len => {
                bytes[at] = SPECIAL[rng.below(SPECIAL.len())];
                how.push(format!("set byte {at} to {:#04x}", bytes[at]));
            }
            1 if at < len => {
                bytes[at] = rng.next() as u8;
                how.push(format!("set byte {at} to {:#04x}", bytes[at]));
            }
            2 => {
                let end = (at + span).min(len);
                bytes.drain(at..end);
                how.push(format!("dropped {at}..{end}"));
            }
            3 => {
                let end = (at + span).min(len);
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
                how.push(format!("repeated {at}..{end}"));
            }
            4 => {
                let junk: Vec<u8> = (0..span)
                    .map(|_| SPECIAL[rng.below(SPECIAL.len())])
                    .collect();
                bytes.splice(at..at, junk);
                how.push(format!("inserted {span} bytes at {at}"));
            }
            5 => {
                bytes.truncate(at);
                how.push(format!("cut at {at}"));
            }
            _ => {
                let from = rng.below(len.saturating_sub(span) + 1);
                let end = (from + span).min(len);
                let copy = bytes[from..end].to_vec();
                bytes.splice(at..at, copy);
                how.push(format!("copied {from}..{end} to {at}"));
            }
        }
    }
    how.join(", ")
}

/// What a scan and its commit came to, for comparing two ways of reading the same bytes.
#[derive(Debug, PartialEq)]
struct Outcome {
    kind: String,
    records: u64,
    evaluated: u64,
    issues: Vec<(u64, bool)>,
    issue_count: u64,
    stopped_early: bool,
    findings: Vec<(String, u64)>,
}

fn outcome(report: &ObjectReport, findings: &[Finding]) -> Outcome {
    let mut found: Vec<(String, u64)> = findings.iter().map(|f| (f.id.clone(), f.count)).collect();
    found.sort();
    Outcome {
        kind: format!("{:?}", report.kind),
        records: report.records,
        evaluated: report.evaluated,
        issues: report
            .issues
            .iter()
            .map(|i| (i.position, i.is_line))
            .collect(),
        issue_count: report.issue_count,
        stopped_early: report.fatal.is_some(),
        findings: found,
    }
}

/// Scans `bytes` in memory and as a stream (each commit checks every finding against ASFF's
/// rules) and returns both outcomes.
fn scan_both(name: &str, bytes: &[u8]) -> (Outcome, Outcome) {
    let mut memory = Harness::new(0, lists());
    let in_memory = match memory.try_scan(name, bytes.to_vec()) {
        Ok(report) => outcome(&report, &memory.commit().findings),
        Err(e) => unopened(&e),
    };
    let mut stream = Harness::new(0, lists());
    let limits = stream.engine.limits();
    let streamed = match input::open(name, Box::new(std::io::Cursor::new(bytes.to_vec())), limits) {
        Ok(opened) => {
            let report = stream.engine.scan(&common::object(name), opened);
            outcome(&report, &stream.commit().findings)
        }
        Err(e) => unopened(&e),
    };
    assert_read_elsewhere_alike(name, bytes);
    (in_memory, streamed)
}

/// A CloudTrail object read by a [`TrailReader`](recon_core::engine::TrailReader), as
/// `recon scan --read-ahead` does on another thread, and scanned from its batches (one batch a
/// record kept, the most handing over): the same report, every reason included, and the same
/// findings as [`Engine::scan`](recon_core::engine::Engine::scan).
fn assert_read_elsewhere_alike(name: &str, bytes: &[u8]) {
    let object = common::object(name);
    let mut direct = Harness::new(0, lists());
    let Ok(opened) = input::open_bytes(name, bytes.to_vec(), direct.engine.limits()) else {
        return;
    };
    if !opened.kind.is_cloudtrail() {
        return;
    }
    let kind = opened.kind;
    let report = direct.engine.scan(&object, opened);
    let findings = direct.commit().findings;
    let mut elsewhere = Harness::new(0, lists());
    let opened = input::open_bytes(name, bytes.to_vec(), elsewhere.engine.limits())
        .unwrap_or_else(|e| panic!("{name}: opens once, not twice: {e}"));
    let mut reader = elsewhere.engine.trail_reader().with_batch_bytes(1);
    let mut batches = Vec::new();
    reader.read(opened, |batch| {
        batches.push(batch);
        true
    });
    let read = elsewhere.engine.scan_read(&object, kind, batches);
    assert_eq!(
        format!("{read:?}"),
        format!("{report:?}"),
        "{name}: the reports"
    );
    let found = elsewhere.commit().findings;
    assert_eq!(
        format!("{found:?}"),
        format!("{findings:?}"),
        "{name}: the findings"
    );
}

/// The outcome of an object that could not be opened.
fn unopened(e: &std::io::Error) -> Outcome {
    Outcome {
        kind: format!("not opened: {:?}", e.kind()),
        records: 0,
        evaluated: 0,
        issues: Vec::new(),
        issue_count: 0,
        stopped_early: true,
        findings: Vec::new(),
    }
}

/// Lines in `text` (a last line without `\n` counts).
fn line_count(text: &[u8]) -> u64 {
    let newlines = text.iter().filter(|b| **b == b'\n').count() as u64;
    newlines + u64::from(!text.is_empty() && !text.ends_with(b"\n"))
}

/// Runs `cases` damaged copies of every object, plain and gzip (the gzip ones damaged before
/// or after compression), through [`scan_both`].
fn damage_everything(objects: Vec<(&'static str, Vec<u8>)>, seed: u64, cases: usize) {
    let mut rng = Rng(seed);
    for (name, original) in &objects {
        // The undamaged object finds something: the damaged ones exercise the detectors too.
        let (clean, _) = scan_both(name, original);
        assert!(
            !clean.findings.is_empty(),
            "{name}: the seed object finds nothing"
        );
        assert_eq!(clean.issue_count, 0, "{name}: the seed object is not clean");
        for case in 0..cases {
            let mut bytes = original.clone();
            let (plain, compressed, how) = if case % 3 == 2 {
                // The damage falls on the compressed bytes instead.
                let mut packed = gzip(original);
                let how = mutate(&mut rng, &mut packed);
                (bytes, Some(packed), how)
            } else {
                let how = mutate(&mut rng, &mut bytes);
                let packed = (case % 3 == 1).then(|| gzip(&bytes));
                (bytes, packed, how)
            };
            let target = compressed.as_deref().unwrap_or(&plain);
            let label = format!("{name} case {case} ({how}; layer {})", case % 3);
            let (in_memory, streamed) = scan_both(name, target);
            assert_eq!(in_memory, streamed, "{label}: memory and stream disagree");
            if case % 3 != 2 {
                let lines = line_count(&plain);
                for (position, is_line) in &in_memory.issues {
                    if *is_line {
                        assert!(
                            (1..=lines).contains(position),
                            "{label}: issue at line {position} of {lines}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn damaged_cloudtrail_never_panics_and_reads_alike_in_memory_and_streamed() {
    damage_everything(trail_objects(), 0x9E37_79B9_7F4A_7C15, 300);
}

#[test]
fn damaged_flow_logs_never_panic_and_read_alike_in_memory_and_streamed() {
    damage_everything(flow_objects(), 0xD1B5_4A32_D192_ED03, 600);
}

/// Replaces bytes of line `line` (zero-based) of `text` with bytes that are not `\n`.
fn damage_line(rng: &mut Rng, text: &[u8], line: usize) -> Vec<u8> {
    let mut starts = vec![0];
    starts.extend(
        text.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1),
    );
    let (from, to) = (starts[line], starts[line + 1] - 1);
    let mut out = text.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = from + rng.below(to - from);
        out[at] = match SPECIAL[rng.below(SPECIAL.len())] {
            b'\n' => b'~',
            b => b,
        };
    }
    out
}

#[test]
fn damage_inside_one_line_costs_that_line_only() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut objects: Vec<_> = flow_objects()
        .into_iter()
        .filter(|(name, _)| name.ends_with(".log"))
        .collect();
    objects.push(("lines.json", lines(&trail_records())));
    objects.push(("export.log", common::cloudwatch_export(&trail_records())));
    for (name, original) in objects {
        let header = u64::from(name == "flows-v5.log");
        let total = line_count(&original) - header;
        let (clean, _) = scan_both(name, &original);
        assert_eq!(clean.records, total, "{name}: every line is a record");
        for case in 0..200 {
            let line = header as usize + rng.below(total as usize);
            let damaged = damage_line(&mut rng, &original, line);
            let (outcome, _) = scan_both(name, &damaged);
            let label = format!("{name} case {case} (line {})", line + 1);
            assert!(outcome.records <= total, "{label}: {outcome:?}");
            assert!(outcome.records + 1 >= total, "{label}: {outcome:?}");
            if outcome.stopped_early {
                // A record left open on the last line looks like a file cut short, and is
                // reported as one.
                assert_eq!(
                    line,
                    header as usize + total as usize - 1,
                    "{label}: stopped early"
                );
                assert_eq!(outcome.records, total - 1, "{label}: {outcome:?}");
                continue;
            }
            // Every other line is still read; the damaged one is still a record, or an issue
            // that names it, or both (a CloudTrail record read whose values are unusable). A
            // record closed early by the damage leaves the rest of its line, reported too.
            assert!(outcome.issue_count <= 2, "{label}: {outcome:?}");
            assert!(
                outcome.records + outcome.issue_count >= total,
                "{label}: {outcome:?}"
            );
            if let Some((position, is_line)) = outcome.issues.first() {
                let expected = if *is_line {
                    line as u64 + 1
                } else {
                    (line - header as usize) as u64
                };
                assert_eq!(*position, expected, "{label}: the issue names another line");
            }
        }
    }
}

#[test]
fn damage_inside_one_record_of_a_delivery_file_costs_that_record_only() {
    let mut rng = Rng(0x8CB9_2BA7_2F3D_8DD7);
    let recs = trail_records();
    let compact: Vec<String> = recs.iter().map(Rec::json).collect();
    // Indented as `jq` prints an array, keys in any order.
    let indented: Vec<String> = recs
        .iter()
        .map(|r| {
            let text = serde_json::to_string_pretty(&r.value()).expect("json");
            text.replace('\n', "\n  ")
        })
        .collect();
    let total = compact.len() as u64;
    for (name, items, prefix, separator, suffix) in [
        ("envelope.json", &compact, "{\"Records\":[", ",", "]}"),
        ("array.json", &compact, "[", ",", "]"),
        ("pretty.json", &indented, "[\n  ", ",\n  ", "\n]\n"),
    ] {
        for case in 0..300 {
            let k = rng.below(items.len());
            let mut damaged = items.clone();
            damaged[k] = damage_inside(&mut rng, &items[k]);
            let data = format!("{prefix}{}{suffix}", damaged.join(separator));
            let (outcome, _) = scan_both(name, data.as_bytes());
            let label = format!("{name} case {case} (record {k}): {data}");
            assert!(outcome.records + 1 >= total, "{label}: {outcome:?}");
            // A last record that does not end looks like a file cut short, and is reported so.
            assert!(
                !outcome.stopped_early || k + 1 == items.len(),
                "{label}: {outcome:?}"
            );
            if outcome.records < total && !outcome.stopped_early {
                let first = outcome.issues.first().map(|(position, _)| *position);
                assert_eq!(first, Some(k as u64), "{label}: {outcome:?}");
            }
        }
    }
}

/// `record` with one to four of its bytes replaced, none of them its first (a record that no
/// longer starts with `{` is not one to find) nor a line break, by bytes that matter to the
/// readers.
fn damage_inside(rng: &mut Rng, record: &str) -> String {
    let mut bytes = record.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = 1 + rng.below(bytes.len() - 1);
        if bytes[at] != b'\n' {
            bytes[at] = match SPECIAL[rng.below(SPECIAL.len())] {
                b'\n' => b'~',
                b => b,
            };
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn the_seed_objects_raise_every_kind_of_finding() {
    // Guards the cases above against seeds that exercise no detector.
    let mut all = Vec::new();
    for (name, bytes) in trail_objects().into_iter().chain(flow_objects()) {
        let mut h = Harness::new(0, lists());
        h.scan(name, bytes);
        all.extend(h.commit().findings);
    }
    let mut types: Vec<String> = all.iter().map(|f| f.finding_type.to_string()).collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), 8, "{types:?}");
}
