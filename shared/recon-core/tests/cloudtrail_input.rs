//! CloudTrail input through the engine: every layout plain and gzip, in memory and streamed;
//! empty objects; files that are not logs (digests, Insights, other services); malformed and
//! incomplete records; truncated gzip; decompression bombs; oversized records.

mod common;

use common::*;
use recon_core::engine::ObjectReport;
use recon_core::finding::FindingType;
use recon_core::input::{Limits, ObjectKind};
use recon_core::intel::ThreatIntel;

use FindingType::{ResourcePermissions, TorIpCaller};

/// Five records: three discovery calls from a Tor exit, one write, one AWS service call.
fn sample() -> Vec<Rec> {
    let admin = iam_user("admin");
    vec![
        rec(admin.clone(), EC2, "DescribeInstances", &at(1, 0, 0)).ip(TOR_IP),
        rec(admin.clone(), EC2, "RunInstances", &at(1, 0, 1)).ip(TOR_IP),
        rec(admin.clone(), S3, "ListBuckets", &at(1, 0, 2)).ip(TOR_IP),
        rec(
            aws_service("cloudtrail.amazonaws.com"),
            S3,
            "GetBucketAcl",
            &at(1, 0, 3),
        )
        .ip("cloudtrail.amazonaws.com"),
        rec(admin, EC2, "DescribeRegions", &at(1, 0, 4)).ip(TOR_IP),
    ]
}

fn assert_clean(report: &ObjectReport) {
    assert!(report.issues.is_empty(), "{:?}", report.issues);
    assert_eq!(report.issue_count, 0);
    assert_eq!(report.fatal, None);
}

/// How far a fatal read got: the `N` of "(after N records)".
fn records_before_fatal(report: &ObjectReport) -> u64 {
    let fatal = report.fatal.as_deref().expect("a fatal error");
    let n = fatal
        .rsplit_once("(after ")
        .and_then(|(_, rest)| rest.split_once(" records)"))
        .and_then(|(n, _)| n.parse().ok());
    n.unwrap_or_else(|| panic!("no record count in {fatal:?}"))
}

#[test]
fn every_layout_plain_or_gzip_in_memory_or_streamed_reads_the_same_records() {
    let recs = sample();
    let layouts = [
        ("envelope", envelope(&recs), ObjectKind::CloudTrail),
        ("array", array(&recs), ObjectKind::CloudTrailArray),
        ("lines", lines(&recs), ObjectKind::CloudTrailLines),
        (
            "lookup-events",
            event_history(&recs),
            ObjectKind::CloudTrailEventHistory,
        ),
        (
            "cloudwatch-export",
            cloudwatch_export(&recs),
            ObjectKind::CloudTrailLines,
        ),
        (
            "filter-log-events",
            log_events(&recs),
            ObjectKind::CloudTrailLogEvents,
        ),
    ];
    let mut expected = None;
    for (layout, plain, kind) in layouts {
        for (suffix, bytes) in [("json", plain.clone()), ("json.gz", gzip(&plain))] {
            for streamed in [false, true] {
                let name = format!("{layout}.{suffix}");
                let mut h = Harness::new(0, tor_intel());
                let report = if streamed {
                    h.scan_streamed(&name, bytes.clone())
                } else {
                    h.scan(&name, bytes.clone())
                };
                let what = format!("{name} streamed={streamed}");
                assert_clean(&report);
                assert_eq!(report.kind, Some(kind), "{what}");
                assert_eq!(report.records, 5, "{what}");
                assert_eq!(report.evaluated, 3, "{what}");
                assert_eq!(report.service_activity, 1, "{what}");
                let c = h.commit();
                assert_eq!(
                    types(&c.findings),
                    [TorIpCaller, ResourcePermissions],
                    "{what}"
                );
                let got = fingerprint(&c.findings);
                match &expected {
                    None => expected = Some(got),
                    Some(e) => assert_eq!(&got, e, "{what}"),
                }
            }
        }
    }
}

#[test]
fn records_split_across_lines_and_concatenated_objects_are_read() {
    let recs = sample();
    let mut pretty = String::new();
    for r in &recs {
        let v = r.value();
        pretty.push_str(&serde_json::to_string_pretty(&v).expect("json"));
    }
    let mut h = Harness::new(0, tor_intel());
    let report = h.scan("export.json", pretty.into_bytes());
    assert_clean(&report);
    assert_eq!(report.kind, Some(ObjectKind::CloudTrailLines));
    assert_eq!(report.records, 5);
    assert_eq!(report.evaluated, 3);
}

#[test]
fn delivery_files_joined_by_cat_are_read_to_the_end() {
    // `cat a.json.gz b.json.gz`: two gzip members, each a whole delivery file (and the same
    // joined before compression). Every record of both counts, in memory and streamed.
    let recs = sample();
    let (first, second) = recs.split_at(2);
    let members = [gzip(&envelope(first)), gzip(&envelope(second))].concat();
    let plain = [envelope(first), b"\n".to_vec(), envelope(second)].concat();
    for (name, bytes) in [("joined.json.gz", members), ("joined.json", plain)] {
        for streamed in [false, true] {
            let mut h = Harness::new(0, tor_intel());
            let report = if streamed {
                h.scan_streamed(name, bytes.clone())
            } else {
                h.scan(name, bytes.clone())
            };
            assert_clean(&report);
            assert_eq!(report.records, 5, "{name} streamed={streamed}");
            assert_eq!(report.evaluated, 3, "{name} streamed={streamed}");
        }
    }
}

#[test]
fn empty_objects_hold_no_records_and_no_issues() {
    let cases: [(&str, Vec<u8>, ObjectKind); 6] = [
        (
            "envelope.json",
            br#"{"Records":[]}"#.to_vec(),
            ObjectKind::CloudTrail,
        ),
        (
            "envelope.json.gz",
            gzip(br#"{"Records":[]}"#),
            ObjectKind::CloudTrail,
        ),
        ("array.json", b"[]".to_vec(), ObjectKind::CloudTrailArray),
        ("empty.json", Vec::new(), ObjectKind::Empty),
        ("empty.json.gz", gzip(b""), ObjectKind::Empty),
        ("blank.json", b"\n  \r\n".to_vec(), ObjectKind::Empty),
    ];
    let mut h = Harness::new(0, tor_intel());
    for (name, bytes, kind) in cases {
        let report = h.scan(name, bytes);
        assert_clean(&report);
        assert_eq!(report.kind, Some(kind), "{name}");
        assert_eq!(report.records, 0, "{name}");
    }
    let c = h.commit();
    assert!(c.findings.is_empty());
    assert_eq!(c.objects, 6);
    assert!(h.is_processed("empty.json.gz"));
}

const DIGEST: &str = r#"{"awsAccountId":"111122223333","digestStartTime":"2026-11-01T00:00:00Z","digestEndTime":"2026-11-01T01:00:00Z","digestS3Bucket":"trail-bucket","digestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20261101T010000Z.json.gz","digestPublicKeyFingerprint":"0f8e4c9b7a7d1f5e3b2a19c8d7e6f5a4","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":"2026-11-01T00:59:00Z","oldestEventTime":"2026-11-01T00:00:00Z","previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,"previousDigestHashAlgorithm":null,"previousDigestSignature":null,"logFiles":[{"s3Bucket":"trail-bucket","s3Object":"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdefghijklmnop.json.gz","hashValue":"9c3f0a1e","hashAlgorithm":"SHA-256","newestEventTime":"2026-11-01T00:04:00Z","oldestEventTime":"2026-11-01T00:00:00Z"}]}"#;

#[test]
fn digest_files_are_recognised_by_key_or_content_and_passed_over() {
    let key = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/\
               111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20261101T010000Z.json.gz";
    // Keys reordered: the content is still recognised, not read as records.
    let reordered = DIGEST.replacen(r#""awsAccountId":"111122223333","#, "", 1);
    let reordered = reordered.replacen('}', r#","awsAccountId":"111122223333"}"#, 1);
    let mut h = Harness::new(0, tor_intel());
    for (name, bytes) in [
        (key, gzip(DIGEST.as_bytes())),
        ("downloads/digest.json", DIGEST.as_bytes().to_vec()),
        ("downloads/digest-reordered.json", reordered.into_bytes()),
    ] {
        let report = h.scan(name, bytes);
        assert_eq!(report.kind, Some(ObjectKind::CloudTrailDigest), "{name}");
        assert_eq!(report.records, 0, "{name}");
        assert_clean(&report);
    }
    assert!(h.commit().findings.is_empty());
}

const INSIGHT: &str = r#"{"Records":[{"eventVersion":"1.08","eventTime":"2026-11-09T10:00:00Z","awsRegion":"us-east-1","eventID":"6b1d4f3e-insight","eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333","sharedEventID":"a1b2c3d4","insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","insightType":"ApiCallRateInsight","insightContext":{"statistics":{"baseline":{"average":0.01},"insight":{"average":12.5}}}},"eventCategory":"Insight"}]}"#;

#[test]
fn insights_files_raise_nothing_whether_recognised_by_key_or_read() {
    let key = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/11/09/\
               111122223333_CloudTrail-Insight_us-east-1_20261109T1005Z_abcdefghijklmnop.json.gz";
    let mut h = Harness::new(0, tor_intel());
    let by_key = h.scan(key, gzip(INSIGHT.as_bytes()));
    assert_eq!(by_key.kind, Some(ObjectKind::CloudTrailInsight));
    assert_eq!(by_key.records, 0);
    // Under another name it is read as a trail: the record is passed over, not an issue.
    let read = h.scan("insight.json", INSIGHT.as_bytes().to_vec());
    assert_eq!(read.kind, Some(ObjectKind::CloudTrail));
    assert_eq!(read.records, 1);
    assert_eq!(read.evaluated, 0);
    assert_clean(&read);
    assert!(h.commit().findings.is_empty());
}

#[test]
fn other_services_files_are_passed_over() {
    let cases: [(&str, &[u8]); 4] = [
        (
            "AWSLogs/111122223333/Config/ConfigWritabilityCheckFile",
            b"This file was written to check that AWS Config can deliver to this bucket.\n",
        ),
        (
            "AWSLogs/111122223333/Config/us-east-1/2026/11/1/ConfigSnapshot/snapshot.json",
            br#"{"fileVersion":"1.0","configSnapshotId":"x","configurationItems":[]}"#,
        ),
        (
            "access-logs/2026-11-01-00-00-00-ABCDEF",
            b"79a59df9 trail-bucket [01/Nov/2026:00:00:00 +0000] 192.0.2.3 - 3E57427F REST.GET.BUCKET - \"GET / HTTP/1.1\" 200 -\n",
        ),
        ("flowlogs/f.log", b"version account-id interface-id srcaddr dstaddr\n"),
    ];
    let mut h = Harness::new(0, tor_intel());
    for (name, bytes) in cases {
        let report = h.scan(name, gzip(bytes));
        assert!(
            matches!(report.kind, Some(ObjectKind::Other | ObjectKind::FlowLog)),
            "{name}: {:?}",
            report.kind
        );
        assert_eq!(report.records, 0, "{name}");
        assert_clean(&report);
    }
    assert_eq!(
        h.scan(
            "AWSLogs/111122223333/Config/ConfigWritabilityCheckFile",
            cases[0].1.to_vec()
        )
        .kind,
        Some(ObjectKind::Other)
    );
    assert!(h.commit().findings.is_empty());
}

/// Record 1 broken, records 0 and 2 fine (by different users, so both are visible).
fn with_broken_middle(broken: &str) -> Vec<String> {
    vec![
        rec(iam_user("first"), EC2, "DescribeInstances", &at(1, 0, 0))
            .ip(TOR_IP)
            .json(),
        broken.to_owned(),
        rec(iam_user("last"), EC2, "DescribeInstances", &at(1, 0, 2))
            .ip(TOR_IP)
            .json(),
    ]
}

fn assert_middle_issue_and_both_neighbours_counted(name: &str, bytes: Vec<u8>, is_line: bool) {
    let mut h = Harness::new(0, tor_intel());
    let report = h.scan(name, bytes);
    assert_eq!(report.issue_count, 1, "{name}: {:?}", report.issues);
    let issue = &report.issues[0];
    assert_eq!(issue.object, name);
    assert_eq!(issue.position, 1, "{name}: {issue}");
    assert_eq!(issue.is_line, is_line);
    let shown = issue.to_string();
    assert!(shown.starts_with(&format!("{name}: record 1: ")), "{shown}");
    assert_eq!(report.fatal, None, "{name}");
    assert_eq!(report.evaluated, 2, "{name}: later records still count");
    let c = h.commit();
    expect_finding(&c.findings, TorIpCaller, &user_arn("first"));
    expect_finding(&c.findings, TorIpCaller, &user_arn("last"));
}

#[test]
fn a_structurally_broken_record_is_reported_with_object_and_index_and_later_records_count() {
    let broken = r#"{"eventVersion":"1.08","eventName":["DescribeInstances"}"#;
    let items = with_broken_middle(broken);
    assert_middle_issue_and_both_neighbours_counted("e.json", envelope_raw(&items), false);
    let gz = gzip(&envelope_raw(&items));
    assert_middle_issue_and_both_neighbours_counted("e.json.gz", gz, false);
    let array = format!("[{}]", items.join(","));
    assert_middle_issue_and_both_neighbours_counted("a.json", array.into_bytes(), false);
}

#[test]
fn a_line_that_is_not_json_is_reported_with_its_index_and_later_lines_count() {
    let items = with_broken_middle("this line is not JSON at all");
    let text = items.join("\n") + "\n";
    assert_middle_issue_and_both_neighbours_counted("l.json", text.into_bytes(), false);
}

#[test]
fn a_record_with_a_bad_field_type_is_reported_and_later_records_count() {
    // Well-formed JSON, but userIdentity is a string: the full parse fails for this record only.
    let bad = rec(iam_user("x"), EC2, "DescribeInstances", &at(1, 0, 1))
        .set("userIdentity", serde_json::json!("not an object"))
        .json();
    let items = with_broken_middle(&bad);
    assert_middle_issue_and_both_neighbours_counted("t.json", envelope_raw(&items), false);
}

#[test]
fn a_broken_record_among_alphabetically_keyed_records_does_not_hide_the_rest() {
    // Grimoire (Stratus Red Team) and many exporters write keys sorted: `awsRegion` first.
    let sorted = |r: Rec| serde_json::to_string(&r.value()).expect("json");
    let items = [
        sorted(rec(iam_user("first"), EC2, "DescribeInstances", &at(1, 0, 0)).ip(TOR_IP)),
        r#"{"awsRegion":"us-east-1","eventName":["x"}"#.to_owned(),
        sorted(rec(iam_user("last"), EC2, "DescribeInstances", &at(1, 0, 2)).ip(TOR_IP)),
    ];
    let array = format!("[{}]", items.join(","));
    assert_middle_issue_and_both_neighbours_counted("sorted.json", array.into_bytes(), false);
}

#[test]
fn records_without_a_valid_event_time_are_issues_and_the_rest_still_count() {
    let admin = iam_user("admin");
    let recs = [
        rec(admin.clone(), EC2, "DescribeInstances", &at(1, 0, 0)).ip(TOR_IP),
        // Discovery (full parse) and write (fast path) records without eventTime.
        rec(admin.clone(), EC2, "DescribeVpcs", &at(1, 0, 1)).without("eventTime"),
        rec(admin.clone(), EC2, "RunInstances", &at(1, 0, 2)).without("eventTime"),
        rec(admin.clone(), EC2, "DescribeSubnets", "yesterday"),
        rec(admin, S3, "ListBuckets", &at(1, 0, 4)).ip(TOR_IP),
    ];
    let mut h = Harness::new(0, tor_intel());
    let report = h.scan("times.json", envelope(&recs));
    let positions: Vec<u64> = report.issues.iter().map(|i| i.position).collect();
    assert_eq!(positions, [1, 2, 3], "{:?}", report.issues);
    for issue in &report.issues {
        assert!(issue.reason.contains("eventTime"), "{issue}");
    }
    assert_eq!(report.records, 5);
    assert_eq!(report.evaluated, 2);
    let c = h.commit();
    let tor = expect_finding(&c.findings, TorIpCaller, &user_arn("admin"));
    assert_eq!(tor.count, 2);
    let res = expect_finding(&c.findings, ResourcePermissions, &user_arn("admin"));
    assert!(!new_apis(res).contains(&"DescribeVpcs".to_owned()));
}

#[test]
fn a_logstash_export_with_at_timestamp_instead_of_event_time_is_read() {
    let recs: Vec<Rec> = sample()
        .into_iter()
        .map(|r| {
            let time = r.0["eventTime"].clone();
            r.without("eventTime")
                .set("@timestamp", time)
                .set("@version", serde_json::json!("1"))
        })
        .collect();
    let mut h = Harness::new(0, tor_intel());
    let report = h.scan("logstash.json", lines(&recs));
    assert_clean(&report);
    assert_eq!(report.evaluated, 3);
}

/// `n` distinct discovery calls from the Tor exit, with padding that does not compress away.
fn many_records(n: u32) -> Vec<Rec> {
    (0..n)
        .map(|i| {
            let pad: String = (0..40u64)
                .map(|k| (u64::from(i) * 7919 + k).wrapping_mul(2_654_435_761) % (1 << 32))
                .map(|x| format!("{x:08x}"))
                .collect();
            rec(
                iam_user("bulk"),
                EC2,
                "DescribeInstances",
                &at(1 + i / 1440, (i / 60) % 24, i % 60),
            )
            .ip(TOR_IP)
            .set("requestParameters", serde_json::json!({ "filterSet": pad }))
        })
        .collect()
}

#[test]
fn a_truncated_gzip_object_is_fatal_after_the_records_before_the_cut() {
    let total = 3000;
    let mut gz = gzip(&envelope(&many_records(total)));
    gz.truncate(gz.len() * 6 / 10);
    let mut h = Harness::new(0, tor_intel());
    let report = h.scan("cut.json.gz", gz);
    let fatal = report
        .fatal
        .clone()
        .expect("a truncated object is cut short");
    assert!(
        report.records > 0 && report.records < u64::from(total),
        "{report:?}"
    );
    assert_eq!(records_before_fatal(&report), report.records, "{fatal}");
    assert!(report.issues.is_empty());
    let c = h.commit();
    let tor = expect_finding(&c.findings, TorIpCaller, &user_arn("bulk"));
    assert_eq!(
        tor.count, report.records,
        "every record before the cut counts"
    );
}

/// What a gzip decoder hands out of `gz` before it fails; panics when it does not fail.
fn decoded_before_failure(gz: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut decoder = flate2::read::MultiGzDecoder::new(gz);
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => panic!("the stream ends without failing"),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(_) => return out,
        }
    }
}

/// How many of `recs`, as `plain` holds them in order, end within its first `len` bytes.
fn whole_records(plain: &[u8], recs: &[Rec], len: usize) -> u64 {
    let mut from = 0;
    let mut whole = 0;
    for r in recs {
        let json = r.json();
        let at = plain[from..]
            .windows(json.len())
            .position(|w| w == json.as_bytes())
            .expect("the record is in the object");
        from += at + json.len();
        whole += u64::from(from <= len);
    }
    whole
}

/// Scans the damaged gzip object `gz` in memory, streamed and on a reader as `--read-ahead`
/// does: each counts `whole` records, and reports the read failure after them.
fn assert_counts_before_failure(name: &str, gz: &[u8], whole: u64) {
    let mut memory = Harness::new(0, tor_intel());
    let mut streamed = Harness::new(0, tor_intel());
    let read = {
        let mut h = Harness::new(0, tor_intel());
        let opened = recon_core::input::open_bytes(name, gz.to_vec(), h.engine.limits())
            .unwrap_or_else(|e| panic!("{name}: cannot open: {e}"));
        let kind = opened.kind;
        let mut batches = Vec::new();
        h.engine.trail_reader().read(opened, |batch| {
            batches.push(batch);
            true
        });
        h.engine.scan_read(&object(name), kind, batches)
    };
    for (how, report) in [
        ("in memory", memory.scan(name, gz.to_vec())),
        ("streamed", streamed.scan_streamed(name, gz.to_vec())),
        ("read ahead", read),
    ] {
        let fatal = report.fatal.clone().unwrap_or_default();
        assert!(
            fatal.starts_with("read failed: "),
            "{name} {how}: {report:?}"
        );
        assert_eq!(report.records, whole, "{name} {how}: {fatal}");
        assert_eq!(
            records_before_fatal(&report),
            whole,
            "{name} {how}: {fatal}"
        );
        assert!(
            report.issues.is_empty(),
            "{name} {how}: {:?}",
            report.issues
        );
    }
    let c = memory.commit();
    let tor = expect_finding(&c.findings, TorIpCaller, &user_arn("bulk"));
    assert_eq!(
        tor.count, whole,
        "{name}: every record before the failure counts"
    );
}

#[test]
fn a_small_gzip_file_cut_in_half_counts_every_record_before_the_cut() {
    // Smaller than one read of the stream: the cut once cost every record.
    let recs = many_records(50);
    for (name, plain) in [
        ("cut.json.gz", envelope(&recs)),
        ("cut-lines.json.gz", lines(&recs)),
    ] {
        let gz = gzip(&plain);
        let cut = &gz[..gz.len() / 2];
        let decoded = decoded_before_failure(cut);
        assert!(plain.starts_with(&decoded), "{name}: a prefix is decoded");
        let whole = whole_records(&plain, &recs, decoded.len());
        assert!(
            (20..50).contains(&whole),
            "{name}: {whole} records before the cut"
        );
        assert_counts_before_failure(name, cut, whole);
    }
}

#[test]
fn a_gzip_file_with_a_corrupt_checksum_counts_all_its_records_and_is_still_reported() {
    let recs = many_records(50);
    let mut gz = gzip(&envelope(&recs));
    // The CRC-32 of the content, in the trailer's first four bytes.
    let crc = gz.len() - 8;
    gz[crc] ^= 0xFF;
    assert_counts_before_failure("crc.json.gz", &gz, 50);
}

#[test]
fn a_decompression_bomb_stops_at_the_limit_after_the_records_before_it() {
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    let head: Vec<String> = many_records(100).iter().map(Rec::json).collect();
    let mut body = format!("{{\"Records\":[{}", head.join(","));
    body.push_str(&" ".repeat(8 << 20));
    body.push_str(&format!(",{}]}}", many_records(1)[0].json()));
    let bomb = gzip(body.as_bytes());
    assert!(bomb.len() < 64 << 10, "a bomb is small when compressed");
    let mut h = Harness::limited(0, tor_intel(), limits);
    let report = h.scan("bomb.json.gz", bomb);
    let fatal = report.fatal.clone().expect("the bomb is stopped");
    assert!(
        fatal.contains("exceeds the limit of 1048576 bytes"),
        "{fatal}"
    );
    assert_eq!(report.records, 100);
    assert_eq!(records_before_fatal(&report), 100);
    let c = h.commit();
    assert_eq!(
        expect_finding(&c.findings, TorIpCaller, &user_arn("bulk")).count,
        100
    );
}

fn oversized_object(limit: usize) -> Vec<u8> {
    let mut recs = many_records(3);
    let huge = "x".repeat(limit * 3);
    recs.push(
        rec(iam_user("huge"), EC2, "DescribeInstances", &at(2, 0, 0))
            .ip(TOR_IP)
            .set("requestParameters", serde_json::json!({ "blob": huge })),
    );
    recs.extend(many_records(2));
    envelope(&recs)
}

fn with_record_limit(limit: usize) -> Harness {
    let limits = Limits {
        max_record_bytes: limit,
        ..Limits::default()
    };
    Harness::limited(0, tor_intel(), limits)
}

#[test]
fn a_record_over_the_size_limit_is_skipped_when_streamed_and_the_rest_still_counts() {
    // Larger than the reader's 256 KiB chunk, so it must be buffered to be read: the reader
    // gives up buffering at the limit and reads past the record instead.
    let limit = 128 << 10;
    let mut h = with_record_limit(limit);
    let report = h.scan_streamed("huge.json", oversized_object(limit));
    assert_eq!(report.fatal, None, "{report:?}");
    assert_eq!(report.issue_count, 1, "{:?}", report.issues);
    assert_eq!(report.issues[0].position, 3, "{:?}", report.issues);
    let reason = &report.issues[0].reason;
    assert!(
        reason.contains(&format!("larger than the limit of {limit} bytes, skipped")),
        "{reason}"
    );
    assert_eq!(report.records, 5, "the three before it and the two after");
    let c = h.commit();
    assert!(find(&c.findings, TorIpCaller, &user_arn("huge")).is_none());
    assert_eq!(
        expect_finding(&c.findings, TorIpCaller, &user_arn("bulk")).count,
        5
    );
}

#[test]
fn a_record_over_the_size_limit_at_the_end_of_a_stream_is_reported_as_such() {
    // The stream ends inside the oversized record: the records before it count.
    let limit = 128 << 10;
    let bytes = oversized_object(limit);
    let cut = bytes.len() - 2_000;
    let mut h = with_record_limit(limit);
    let report = h.scan_streamed("cut.json", bytes[..cut].to_vec());
    assert_eq!(report.records, 3, "{report:?}");
    let reasons: Vec<&str> = report.issues.iter().map(|i| i.reason.as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("skipped")), "{reasons:?}");
}

#[test]
fn a_record_over_the_size_limit_is_refused_in_memory_too() {
    let limit = 128 << 10;
    let mut h = with_record_limit(limit);
    let report = h.scan("huge.json", oversized_object(limit));
    assert!(
        report.fatal.is_some() || report.issue_count > 0,
        "{report:?}"
    );
    let c = h.commit();
    assert!(find(&c.findings, TorIpCaller, &user_arn("huge")).is_none());
}

#[test]
fn a_utf8_byte_order_mark_does_not_stop_the_read() {
    let recs = sample();
    for (name, body) in [
        ("bom-envelope.json", envelope(&recs)),
        ("bom-array.json", array(&recs)),
        ("bom-lines.json", lines(&recs)),
    ] {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(body);
        let mut h = Harness::new(0, tor_intel());
        let report = h.scan(name, bytes);
        assert_clean(&report);
        assert_eq!(report.records, 5, "{name}");
    }
}

#[test]
fn escaped_key_fields_are_parsed_fully_and_still_evaluated() {
    // `Describe\u0049nstances` is `DescribeInstances`; the fast scan cannot read it.
    let raw = rec(iam_user("admin"), EC2, "DescribeInstances", &at(1, 0, 0))
        .ip(TOR_IP)
        .json()
        .replace("DescribeInstances", "Describe\\u0049nstances")
        .replace(TOR_IP, "198.51.100.\\u00323");
    let mut h = Harness::new(0, tor_intel());
    let report = h.scan("escaped.json", envelope_raw(&[raw]));
    assert_clean(&report);
    assert_eq!(report.evaluated, 1);
    let c = h.commit();
    let f = expect_finding(&c.findings, ResourcePermissions, &user_arn("admin"));
    assert_eq!(new_apis(f), ["DescribeInstances"]);
    expect_finding(&c.findings, TorIpCaller, &user_arn("admin"));
}

#[test]
fn the_region_comes_from_the_object_key_when_the_record_has_none() {
    let key = "AWSLogs/111122223333/CloudTrail/eu-west-3/2026/11/01/\
               111122223333_CloudTrail_eu-west-3_20261101T0000Z_abcdefghijklmnop.json.gz";
    let recs = [
        rec(iam_user("admin"), EC2, "DescribeInstances", &at(1, 0, 0))
            .ip(TOR_IP)
            .without("awsRegion"),
    ];
    let mut h = Harness::new(0, tor_intel());
    h.scan(key, gzip(&envelope(&recs)));
    h.scan(
        "no-hint.json",
        envelope(&[rec(iam_user("bob"), EC2, "DescribeVpcs", &at(1, 0, 0)).without("awsRegion")]),
    );
    let c = h.commit();
    let f = expect_finding(&c.findings, TorIpCaller, &user_arn("admin"));
    assert_eq!(f.region, "eu-west-3");
    let f = expect_finding(
        &c.findings,
        FindingType::NetworkPermissions,
        &user_arn("bob"),
    );
    assert_eq!(f.region, "us-east-1", "the configured default Region");
}

#[test]
fn a_record_without_any_account_is_an_issue_unless_an_account_id_is_configured() {
    // A SAML user carries no accountId; the record has no recipientAccountId either.
    let recs = [
        rec(saml_user("carol"), EC2, "DescribeInstances", &at(1, 0, 0))
            .without("recipientAccountId"),
    ];
    let mut h = Harness::new(0, ThreatIntel::default());
    let report = h.scan("no-account.json", envelope(&recs));
    assert_eq!(report.issue_count, 1);
    assert!(
        report.issues[0].reason.contains("--account-id"),
        "{:?}",
        report.issues
    );
    assert!(h.commit().findings.is_empty());

    let mut cfg = config(0);
    cfg.account_id = Some("444455556666".into());
    let mut h = Harness::with(cfg, ThreatIntel::default(), Default::default());
    let report = h.scan("no-account.json", envelope(&recs));
    assert_clean(&report);
    let c = h.commit();
    let f = expect_finding(
        &c.findings,
        ResourcePermissions,
        "SAMLUser:bdGOnTesti4+7eXAmPleTestE=:carol",
    );
    assert_eq!(f.account_id, "444455556666");
}

#[test]
fn anonymous_s3_callers_take_the_bucket_owners_account_never_anonymous_principal() {
    // Unauthenticated S3 requests carry `ANONYMOUS_PRINCIPAL` where an account id would be.
    let anonymous = aws_account("", "ANONYMOUS_PRINCIPAL");
    let listing = |time: &str| rec(anonymous.clone(), S3, "ListObjects", time).ip(TOR_IP);
    // As CloudTrail delivers it: the bucket owner is the recipient account.
    let mut h = Harness::new(0, tor_intel());
    let report = h.scan("owner.json", envelope(&[listing(&at(1, 0, 0))]));
    assert_clean(&report);
    let findings = h.commit().findings;
    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(|f| f.account_id == ACCOUNT),
        "{findings:?}"
    );
    // Exported without it (as the OTRF honey-bucket set is): the configured account, else an
    // issue; never a finding filed under `ANONYMOUS_PRINCIPAL` (invalid ASFF).
    let bare = [listing(&at(1, 0, 1)).without("recipientAccountId")];
    let mut h = Harness::new(0, tor_intel());
    let report = h.scan("bare.json", envelope(&bare));
    assert_eq!(report.issue_count, 1, "{:?}", report.issues);
    assert!(h.commit().findings.is_empty());
    let mut cfg = config(0);
    cfg.account_id = Some("444455556666".into());
    let mut h = Harness::with(cfg, tor_intel(), Default::default());
    let report = h.scan("bare.json", envelope(&bare));
    assert_clean(&report);
    let findings = h.commit().findings;
    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(|f| f.account_id == "444455556666"),
        "{findings:?}"
    );
}
