//! Replays of the team's real data sets (see the data folder's `SOURCES.md`) when
//! `RECON_CORPUS` points at it; otherwise every test says it skipped and passes.
//!
//! `RECON_CORPUS=/path/to/data cargo test -p recon-core --test corpus -- --nocapture`

mod corpus_support;
use corpus_support::{corpus, files_under};

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use recon_core::engine::ObjectReport;
use recon_core::finding::{Finding, FindingType, ListKind};
use recon_core::input::{self, ObjectKind};
use recon_core::intel::ThreatIntel;

use FindingType::{MaliciousIpCaller, ResourcePermissions, UserPermissions};

/// The SANS lab's intruder.
const INTRUDER: &str = "arn:aws:iam::342082656213:user/jmerckle";
/// The address he worked from (an EC2 host, not a documentation address: the real one).
const INTRUDER_IP: &str = "3.238.12.183";
const HOUR_MS: i64 = 3_600_000;

/// Scans every CloudTrail file among `paths` into `h`, passing over archives and CSV by name
/// and anything else that is not CloudTrail by kind. Returns the reports of the files scanned.
fn scan_files(h: &mut Harness, paths: &[PathBuf]) -> Vec<ObjectReport> {
    let mut reports = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        if name.ends_with(".zip") || name.ends_with(".csv") {
            continue;
        }
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let opened = input::open_bytes(&name, bytes, h.engine.limits())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if !opened.kind.is_cloudtrail() {
            eprintln!("{name}: {}, passed over", opened.kind.describe());
            continue;
        }
        reports.push(h.engine.scan(&object(&name), opened));
    }
    reports
}

fn assert_no_issues(reports: &[ObjectReport]) {
    for r in reports {
        assert!(r.issues.is_empty(), "{}: {:?}", r.name, r.issues);
        assert_eq!(r.issue_count, 0, "{}", r.name);
        assert_eq!(r.fatal, None, "{}", r.name);
    }
}

fn total_records(reports: &[ObjectReport]) -> u64 {
    reports.iter().map(|r| r.records).sum()
}

/// One replay of the SANS lab, shared by the tests that look at it.
struct SansRun {
    reports: Vec<ObjectReport>,
    files: usize,
    findings: Vec<Finding>,
}

/// Scans the SANS lab once: 12-hour learning period, a managed list holding the intruder's
/// address.
fn sans(root: &Path) -> &'static SansRun {
    static RUN: OnceLock<SansRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = root.join("suzaku-sample-data/SANS-504-S3-ransomware-lab");
        let files = files_under(&dir);
        let lists = intel(&[(ListKind::Managed, "sans-intruder", &[INTRUDER_IP])]);
        let mut h = Harness::new(12 * HOUR_MS, lists);
        let reports = scan_files(&mut h, &files);
        let report = h.commit();
        SansRun {
            reports,
            files: files.len(),
            findings: report.findings,
        }
    })
}

fn assert_new_apis_include(f: &Finding, wanted: &[&str]) {
    let have = new_apis(f);
    for api in wanted {
        assert!(
            have.iter().any(|a| a == api),
            "{} lacks {api} among new APIs {have:?}",
            f.id
        );
    }
}

#[test]
fn sans_lab_reads_all_30477_records_without_issues() {
    let Some(root) = corpus("sans_lab_reads_all_30477_records_without_issues") else {
        return;
    };
    let run = sans(&root);
    assert_eq!(
        run.reports.len(),
        run.files,
        "every file is a CloudTrail file"
    );
    assert!(run
        .reports
        .iter()
        .all(|r| r.kind == Some(ObjectKind::CloudTrail)));
    assert_no_issues(&run.reports);
    assert_eq!(total_records(&run.reports), 30_477);
}

#[test]
fn sans_intruder_raises_user_and_resource_permissions_after_a_12h_learning_period() {
    let test = "sans_intruder_raises_user_and_resource_permissions_after_a_12h_learning_period";
    let Some(root) = corpus(test) else {
        return;
    };
    let run = sans(&root);
    let user = expect_finding(&run.findings, UserPermissions, INTRUDER);
    assert_new_apis_include(user, &["ListUsers", "ListRoles", "GetCallerIdentity"]);
    let res = expect_finding(&run.findings, ResourcePermissions, INTRUDER);
    assert_new_apis_include(res, &["ListBuckets", "DescribeInstances"]);
    for f in [user, res] {
        assert_eq!(f.account_id, "342082656213");
        assert!(f.first_seen >= ts("2021-07-29T13:02:53Z"), "{}", f.id);
    }
}

#[test]
fn sans_intruder_address_on_a_managed_list_raises_malicious_ip_caller() {
    let Some(root) = corpus("sans_intruder_address_on_a_managed_list_raises_malicious_ip_caller")
    else {
        return;
    };
    let run = sans(&root);
    let f = expect_finding(&run.findings, MaliciousIpCaller, INTRUDER);
    assert_eq!(f.remote_ip, INTRUDER_IP.parse().ok());
    assert_eq!(
        f.intel.as_ref().map(|h| h.list.as_str()),
        Some("sans-intruder")
    );
    assert!(f.count >= 10, "most of his discovery calls: {}", f.count);
    // Nobody else worked from that address.
    assert_eq!(
        of_type(&run.findings, MaliciousIpCaller).len(),
        1,
        "{:?}",
        brief(&run.findings)
    );
}

#[test]
fn sans_lab_as_newest_first_event_history_raises_the_same_findings() {
    // The same 30,477 records as `aws cloudtrail lookup-events` would print them for an
    // account without a trail: one document, records as strings, newest first.
    let test = "sans_lab_as_newest_first_event_history_raises_the_same_findings";
    let Some(root) = corpus(test) else {
        return;
    };
    let run = sans(&root);
    let dir = root.join("suzaku-sample-data/SANS-504-S3-ransomware-lab");
    let mut events = Vec::new();
    for path in files_under(&dir) {
        let gz = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file: serde_json::Value = serde_json::from_str(&text).expect("a delivery file");
        for record in file["Records"].as_array().expect("Records") {
            let time = record["eventTime"].as_str().unwrap_or_default().to_owned();
            let entry = serde_json::json!({
                "EventId": record["eventID"],
                "EventName": record["eventName"],
                "CloudTrailEvent": record.to_string(),
            });
            events.push((time, entry));
        }
    }
    events.sort_by(|a, b| b.0.cmp(&a.0));
    let entries: Vec<serde_json::Value> = events.into_iter().map(|(_, e)| e).collect();
    let history = serde_json::to_vec(&serde_json::json!({ "Events": entries })).expect("json");
    let lists = intel(&[(ListKind::Managed, "sans-intruder", &[INTRUDER_IP])]);
    let mut h = Harness::new(12 * HOUR_MS, lists);
    let report = h.scan("lookup-events.json", history);
    assert_eq!(report.kind, Some(ObjectKind::CloudTrailEventHistory));
    assert_no_issues(std::slice::from_ref(&report));
    assert_eq!(report.records, 30_477);
    let findings = h.commit().findings;
    let view = |fs: &[Finding]| {
        let mut v: Vec<String> = fs
            .iter()
            .map(|f| format!("{} {:?} {} {}", f.id, f.finding_type, f.count, f.first_seen))
            .collect();
        v.sort();
        v
    };
    assert!(!findings.is_empty());
    assert_eq!(view(&findings), view(&run.findings));
}

/// The fields of one CSV line; quoted fields may hold commas (the honey-bucket file has no
/// doubled quotes, which this does not undo).
fn csv_fields(line: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        let (field, after) = match rest.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').expect("a closing quote");
                (&quoted[..end], quoted[end + 1..].strip_prefix(','))
            }
            None => match rest.split_once(',') {
                Some((field, after)) => (field, Some(after)),
                None => (rest, None),
            },
        };
        fields.push(field);
        match after {
            Some(after) => rest = after,
            None => return fields,
        }
    }
}

#[test]
fn otrf_honey_bucket_scanners_on_ipsum_raise_malicious_ip_caller_under_the_owners_account() {
    // 301 anonymous S3 requests from 224 internet scanners, as CSV: rebuilt as CloudTrail
    // records (without recipientAccountId, which the export dropped). Three of the scanners
    // are on ipsum.
    let test =
        "otrf_honey_bucket_scanners_on_ipsum_raise_malicious_ip_caller_under_the_owners_account";
    let Some(root) = corpus(test) else {
        return;
    };
    let csv = root.join("OTRF_Security-Datasets_aws/AWS_S3_HoneyBucketLogs.csv");
    let text = std::fs::read_to_string(&csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
    let mut lines = text.lines();
    let header = csv_fields(lines.next().expect("a header"));
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let python_dict = |s: &str| -> serde_json::Value {
        serde_json::from_str(&s.replace('\'', "\"")).expect("a dict of plain strings")
    };
    let records: Vec<String> = lines
        .map(|line| {
            let f = csv_fields(line);
            serde_json::json!({
                "eventVersion": "1.08",
                "userIdentity": python_dict(f[col("User ID")]),
                "eventTime": f[col("Event DateTime")],
                "eventSource": "s3.amazonaws.com",
                "eventName": f[col("Event Name")],
                "awsRegion": "eu-west-1",
                "sourceIPAddress": f[col("Source IP")],
                "userAgent": f[col("Request User Agent")],
                "requestParameters": python_dict(f[col("Request Parameters")]),
                "eventID": f[col("Event ID")],
                "eventType": f[col("Event Type")],
            })
            .to_string()
        })
        .collect();
    assert_eq!(records.len(), 301);
    let mut lists = ThreatIntel::default();
    let ipsum = root.join("threat-lists/stamparm_ipsum/ipsum.txt");
    lists
        .load_file(ListKind::Managed, &ipsum)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = config(0);
    cfg.account_id = Some("111122223333".into());
    let mut h = Harness::with(cfg, lists, Default::default());
    let report = h.scan("honey-bucket.json", envelope_raw(&records));
    assert_no_issues(std::slice::from_ref(&report));
    let findings = h.commit().findings;
    let mut callers: Vec<String> = findings
        .iter()
        .filter(|f| f.finding_type == MaliciousIpCaller)
        .map(|f| {
            assert_eq!(f.account_id, "111122223333", "{}", f.id);
            f.remote_ip.map(|ip| ip.to_string()).unwrap_or_default()
        })
        .collect();
    callers.sort();
    assert_eq!(callers, ["212.83.184.12", "212.83.184.13", "212.83.184.17"]);
}

#[test]
fn stratus_detonation_logs_read_as_json_arrays_without_issues() {
    let Some(root) = corpus("stratus_detonation_logs_read_as_json_arrays_without_issues") else {
        return;
    };
    let files: Vec<PathBuf> = files_under(&root.join("stratus-red-team_detonation-logs"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let reports = scan_files(&mut h, &files);
    assert_eq!(reports.len(), files.len());
    assert!(reports
        .iter()
        .all(|r| r.kind == Some(ObjectKind::CloudTrailArray)));
    assert_no_issues(&reports);
    assert_eq!(total_records(&reports), 310);
    h.commit();
}

#[test]
fn stratus_user_data_download_raises_resource_permissions_with_learning_period_zero() {
    let test = "stratus_user_data_download_raises_resource_permissions_with_learning_period_zero";
    let Some(root) = corpus(test) else {
        return;
    };
    let file =
        root.join("stratus-red-team_detonation-logs/aws.discovery.ec2-download-user-data.json");
    let mut h = Harness::new(0, ThreatIntel::default());
    let reports = scan_files(&mut h, &[file]);
    assert_no_issues(&reports);
    let c = h.commit();
    let role = "arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role";
    let f = expect_finding(&c.findings, ResourcePermissions, role);
    assert_eq!(new_apis(f), ["DescribeInstanceAttribute"]);
    assert_eq!(f.count, 15);
    let call = &api_evidence(f).apis[0];
    assert_eq!(
        call.last_error.as_deref(),
        Some("Client.UnauthorizedOperation")
    );
}

#[test]
fn invictus_ir_trail_reads_every_record_without_issues() {
    let Some(root) = corpus("invictus_ir_trail_reads_every_record_without_issues") else {
        return;
    };
    let files = files_under(&root.join("invictus-ir_aws_dataset/CloudTrail"));
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let reports = scan_files(&mut h, &files);
    assert!(!reports.is_empty());
    assert!(reports
        .iter()
        .all(|r| r.kind == Some(ObjectKind::CloudTrail)));
    assert_no_issues(&reports);
    assert_eq!(total_records(&reports), 2_900);
    assert!(reports.iter().map(|r| r.evaluated).sum::<u64>() > 1_000);
    h.commit();
}

#[test]
fn otrf_exfiltration_lines_read_every_record_without_issues() {
    let Some(root) = corpus("otrf_exfiltration_lines_read_every_record_without_issues") else {
        return;
    };
    // The folder also holds the zip archives and a CSV of S3 access logs.
    let files = files_under(&root.join("OTRF_Security-Datasets_aws"));
    let mut h = Harness::new(0, ThreatIntel::default());
    let reports = scan_files(&mut h, &files);
    assert_eq!(reports.len(), 1, "only the JSON-lines export is CloudTrail");
    assert_eq!(reports[0].kind, Some(ObjectKind::CloudTrailLines));
    assert!(reports[0]
        .name
        .ends_with("ec2_proxy_s3_exfiltration_2020-09-14011940.json"));
    assert_no_issues(&reports);
    assert_eq!(total_records(&reports), 103);
    let c = h.commit();
    // The stolen instance-role credentials listing buckets: High.
    let stolen = c
        .findings
        .iter()
        .find(|f| f.finding_type == ResourcePermissions && principal(f).instance_credentials);
    let stolen =
        stolen.unwrap_or_else(|| panic!("no instance-role finding: {:?}", brief(&c.findings)));
    assert_eq!(stolen.severity, recon_core::finding::Severity::High);
    assert!(new_apis(stolen).contains(&"ListBuckets".to_owned()));
}

/// Every real record reads the same through the fast record reading as through serde over the
/// whole record: SANS, Stratus Red Team, Invictus and OTRF, all layouts.
#[test]
fn fast_record_reading_agrees_with_serde_on_every_real_record() {
    use recon_core::cloudtrail::{Layout, Record, RecordReader};

    let Some(root) = corpus("fast_record_reading_agrees_with_serde_on_every_real_record") else {
        return;
    };
    let limits = input::Limits::default();
    let (mut compared, mut refused, mut colons) = (0usize, 0usize, Vec::new());
    for path in files_under(&root) {
        let name = path.display().to_string();
        if name.ends_with(".zip") || name.ends_with(".csv") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Ok(opened) = input::open_bytes(&name, bytes, limits) else {
            continue;
        };
        let Some(layout) = Layout::of(opened.kind) else {
            continue;
        };
        let input::Content::Bytes(content) = opened.content else {
            continue;
        };
        let mut reader = RecordReader::from_bytes(content, layout, limits.max_record_bytes);
        while let Some(item) = reader.next_record() {
            let Ok(raw) = item else { continue };
            let fast = Record::read_fast(raw.bytes, &mut colons);
            // Records that are not JSON (traildiscover's samples with bare keys) are refused
            // by both, and the engine reports serde's reason.
            let Ok(full) = serde_json::from_slice::<Record<'_>>(raw.bytes) else {
                assert!(fast.is_none(), "{name} record {}: read fast", raw.index);
                refused += 1;
                continue;
            };
            let fast = fast.unwrap_or_else(|| panic!("{name} record {}: not read fast", raw.index));
            assert_eq!(
                format!("{fast:?}"),
                format!("{full:?}"),
                "{name} record {}",
                raw.index
            );
            compared += 1;
        }
    }
    eprintln!(
        "fast record reading: {compared} real records agree with serde, {refused} refused by both"
    );
    assert!(compared > 30_477, "only {compared} records compared");
}
