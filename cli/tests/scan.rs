//! `recon scan` end to end: the binary over a fixture tree in a temporary folder (gzip
//! CloudTrail, a digest, a junk file, a Tor list), its three output formats, re-runs against the
//! same state, bad arguments, and the bundled samples.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use recon_core::asff;
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";
const TOR_IP: &str = "198.51.100.23";

fn recon(args: &[&str]) -> Output {
    recon_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn recon_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(args)
        .current_dir(dir)
        .env_remove("RECON_LOG")
        .env_remove("RECON_STATE_DIR")
        .output()
        .expect("run recon")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_success(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// Parses `--format asff` output and checks every finding against Security Hub's rules.
fn asff_findings(o: &Output) -> Vec<Value> {
    assert_success(o);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(o)));
    let Value::Array(findings) = v else {
        panic!("stdout is not a JSON array:\n{}", stdout(o));
    };
    for f in &findings {
        if let Err(violations) = asff::validate(f) {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("{} is not valid ASFF: {}", f["Id"], list.join("; "));
        }
    }
    if !findings.is_empty() {
        assert!(asff::validate_batch(&findings).is_ok());
    }
    findings
}

/// The Recon type of an ASFF finding, e.g. `Recon:IAMUser/TorIPCaller`.
fn recon_type(f: &Value) -> String {
    let t = f["Types"][0].as_str().expect("Types[0]");
    t.strip_prefix("TTPs/Discovery/")
        .expect("a Recon type")
        .replacen('-', "/", 1)
}

fn types_of(findings: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = findings.iter().map(recon_type).collect();
    v.sort();
    v.dedup();
    v
}

/// The finding of `type` whose id names `subject`.
fn finding<'a>(findings: &'a [Value], t: &str, subject: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| recon_type(f) == t && f["Id"].as_str().is_some_and(|id| id.contains(subject)))
        .unwrap_or_else(|| {
            let ids: Vec<&str> = findings.iter().filter_map(|f| f["Id"].as_str()).collect();
            panic!("no {t} finding about {subject}; have {ids:?}")
        })
}

// ---------------------------------------------------------------------------------------------
// Fixtures

fn user(name: &str) -> Value {
    json!({
        "type": "IAMUser",
        "principalId": format!("AIDA{}", name.to_uppercase()),
        "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAEXAMPLEKEY000001",
        "userName": name
    })
}

/// A record with `eventVersion` first, as CloudTrail writes it.
fn record(who: &Value, source: &str, name: &str, time: &str, ip: &str) -> String {
    let rest = json!({
        "userIdentity": who,
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.30",
        "eventID": format!("{name}-{time}-{ip}"),
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT
    });
    let body = rest.to_string();
    format!("{{\"eventVersion\":\"1.08\",{}", &body[1..])
}

fn envelope(records: &[String]) -> Vec<u8> {
    format!("{{\"Records\":[{}]}}", records.join(",")).into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write fixture");
}

fn trail_file(root: &Path, day: u32, unique: &str) -> PathBuf {
    root.join(format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/{day:02}/\
         {ACCOUNT}_CloudTrail_us-east-1_202611{day:02}T1200Z_{unique}.json.gz"
    ))
}

/// A temporary folder holding `logs/` (one gzip trail file, a digest, a junk file) and a Tor
/// exit list inside the scanned tree, plus a state folder outside it.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let f = Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let alice = user("alice");
        let day1 = [
            record(
                &alice,
                "ec2.amazonaws.com",
                "DescribeInstances",
                "2026-11-01T10:00:00Z",
                TOR_IP,
            ),
            record(
                &alice,
                "iam.amazonaws.com",
                "ListUsers",
                "2026-11-01T10:01:00Z",
                TOR_IP,
            ),
            record(
                &alice,
                "ec2.amazonaws.com",
                "RunInstances",
                "2026-11-01T10:02:00Z",
                TOR_IP,
            ),
        ];
        write(
            &trail_file(&f.logs(), 1, "aaaaaaaaaaaaaaaa"),
            &gzip(&envelope(&day1)),
        );
        let digest = json!({
            "awsAccountId": ACCOUNT,
            "digestStartTime": "2026-11-01T00:00:00Z",
            "digestEndTime": "2026-11-01T23:59:59Z",
            "logFiles": []
        });
        let digest_path = f.logs().join(format!(
            "AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/01/\
             {ACCOUNT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20261101T235959Z.json.gz"
        ));
        write(&digest_path, &gzip(digest.to_string().as_bytes()));
        write(
            &f.logs().join("notes/README.txt"),
            b"exported from the incident bucket\n",
        );
        write(
            &f.tor_list(),
            format!("{TOR_IP}\n198.51.100.24\n").as_bytes(),
        );
        f
    }

    fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    fn tor_list(&self) -> PathBuf {
        self.logs().join("lists/tor-exits.txt")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn path(p: &Path) -> &str {
        p.to_str().expect("UTF-8 temp path")
    }

    /// `recon scan` over the logs with this fixture's state and Tor list, learning period 0.
    fn scan(&self, format: &str) -> Output {
        let (state, tor, logs) = (self.state(), self.tor_list(), self.logs());
        recon(&[
            "scan",
            "--state",
            Fixture::path(&state),
            "--format",
            format,
            "--learning-period",
            "0",
            "--tor-exits",
            Fixture::path(&tor),
            Fixture::path(&logs),
        ])
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

/// A run whose findings cannot be written (stdout on a full disk) stores nothing: scanning
/// again reports the same findings, rather than skipping the files as already processed.
#[cfg(target_os = "linux")]
#[test]
fn findings_that_could_not_be_written_are_reported_again() {
    let fx = Fixture::new();
    let (state, tor, logs) = (fx.state(), fx.tor_list(), fx.logs());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let failed = Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(["scan", "--state", Fixture::path(&state), "--format", "asff"])
        .args(["--learning-period", "0", "--tor-exits", Fixture::path(&tor)])
        .arg(Fixture::path(&logs))
        .env_remove("RECON_LOG")
        .stdout(full)
        .output()
        .expect("run recon");
    assert!(!failed.status.success(), "{}", stderr(&failed));
    assert!(
        stderr(&failed).contains("could not write the findings"),
        "{}",
        stderr(&failed)
    );
    let again = fx.scan("asff");
    assert_success(&again);
    assert_eq!(asff_findings(&again).len(), 3, "{}", stderr(&again));
}

#[test]
fn more_findings_than_one_import_takes_come_in_import_sized_batches() {
    // 150 principals listing buckets from a Tor exit, each for the first time: 300 findings,
    // more than the 100 that one batch-import-findings call takes. One request a line, each
    // one Security Hub accepts.
    let fx = Fixture::new();
    let records: Vec<String> = (0..150)
        .map(|i| {
            let who = user(&format!("u{i:03}"));
            record(
                &who,
                "s3.amazonaws.com",
                "ListBuckets",
                "2026-11-01T10:00:00Z",
                TOR_IP,
            )
        })
        .collect();
    let logs = fx.state().with_file_name("many");
    write(
        &trail_file(&logs, 1, "cccccccccccccccc"),
        &gzip(&envelope(&records)),
    );
    let out = recon(&[
        "scan",
        "--state",
        Fixture::path(&fx.state()),
        "--format",
        "asff-batches",
        "--learning-period",
        "0",
        "--tor-exits",
        Fixture::path(&fx.tor_list()),
        Fixture::path(&logs),
    ]);
    assert_success(&out);
    let batches: Vec<Vec<Value>> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 100]);
    let all: Vec<&Value> = batches.iter().flatten().collect();
    for kind in ["TorIPCaller", "ResourcePermissions"] {
        let n = all
            .iter()
            .filter(|f| f["Types"][0].as_str().is_some_and(|t| t.ends_with(kind)));
        assert_eq!(n.count(), 150, "{kind}");
    }
    for batch in &batches {
        assert!(asff::validate_batch(batch).is_ok());
        for f in batch {
            assert!(asff::validate(f).is_ok(), "{}", f["Id"]);
        }
    }
}

#[test]
fn asff_run_then_rerun_then_new_file_continues_the_same_state() {
    let fx = Fixture::new();
    let first = asff_findings(&fx.scan("asff"));
    assert_eq!(
        types_of(&first),
        [
            "Recon:IAMUser/ResourcePermissions",
            "Recon:IAMUser/TorIPCaller",
            "Recon:IAMUser/UserPermissions"
        ]
    );
    let tor = finding(&first, "Recon:IAMUser/TorIPCaller", "user/alice");
    assert_eq!(tor["ProductFields"]["recon/count"], json!("2"));
    assert_eq!(tor["AwsAccountId"], json!(ACCOUNT));

    let again = fx.scan("asff");
    assert_success(&again);
    assert_eq!(stdout(&again).trim(), "[]");
    assert!(
        stderr(&again).contains("already processed"),
        "{}",
        stderr(&again)
    );

    // Day 2: a new API (network) and a repeat of a known one, both from the Tor exit.
    let alice = user("alice");
    let day2 = [
        record(
            &alice,
            "ec2.amazonaws.com",
            "DescribeSecurityGroups",
            "2026-11-02T09:00:00Z",
            TOR_IP,
        ),
        record(
            &alice,
            "ec2.amazonaws.com",
            "DescribeInstances",
            "2026-11-02T09:01:00Z",
            TOR_IP,
        ),
    ];
    write(
        &trail_file(&fx.logs(), 2, "bbbbbbbbbbbbbbbb"),
        &gzip(&envelope(&day2)),
    );
    let third = fx.scan("asff");
    let findings = asff_findings(&third);
    assert_eq!(
        types_of(&findings),
        [
            "Recon:IAMUser/NetworkPermissions",
            "Recon:IAMUser/TorIPCaller"
        ],
        "only the new finding and the updated one"
    );
    let updated = finding(&findings, "Recon:IAMUser/TorIPCaller", "user/alice");
    assert_eq!(updated["Id"], tor["Id"]);
    assert_eq!(updated["ProductFields"]["recon/count"], json!("4"));
    assert_eq!(updated["CreatedAt"], tor["CreatedAt"]);
    assert_eq!(updated["FirstObservedAt"], tor["FirstObservedAt"]);
    assert!(
        stderr(&third).contains("already processed"),
        "day 1 is skipped"
    );
}

#[test]
fn table_format_prints_a_header_then_one_row_per_finding() {
    let fx = Fixture::new();
    let out = fx.scan("table");
    assert_success(&out);
    let text = stdout(&out);
    let header = text.lines().next().expect("a header line");
    for column in ["SEV", "TYPE", "COUNT", "FIRST SEEN"] {
        assert!(header.contains(column), "{header}");
    }
    // Rows (lines that start with a severity) come as a timeline: by first-seen time.
    let firsts: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().nth(3).expect("a first-seen column"))
        .collect();
    assert!(firsts.len() >= 2, "{text}");
    assert!(firsts.windows(2).all(|w| w[0] <= w[1]), "{text}");
    assert!(text.contains("Recon:IAMUser/TorIPCaller"), "{text}");
    assert!(
        text.contains(&format!("arn:aws:iam::{ACCOUNT}:user/alice")),
        "{text}"
    );
}

#[test]
fn jsonl_format_prints_one_valid_asff_finding_per_line() {
    let fx = Fixture::new();
    let out = fx.scan("jsonl");
    assert_success(&out);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for line in lines {
        let f: Value = serde_json::from_str(line).expect("each line is one JSON object");
        assert!(f.is_object());
        assert!(asff::validate(&f).is_ok(), "{line}");
    }
}

#[test]
fn a_bad_learning_period_exits_2_naming_the_flag() {
    let fx = Fixture::new();
    let out = recon(&[
        "scan",
        "--learning-period",
        "7days",
        Fixture::path(&fx.logs()),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--learning-period"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

#[cfg(unix)]
#[test]
fn a_broken_symbolic_link_is_named_and_passed_over() {
    let fx = Fixture::new();
    let link = fx.logs().join("gone.json.gz");
    std::os::unix::fs::symlink(fx.logs().join("no-such-file"), &link).expect("symlink");
    let out = fx.scan("table");
    assert_success(&out);
    let err = stderr(&out);
    assert!(err.contains("broken symbolic link passed over"), "{err}");
    assert!(err.contains("gone.json.gz"), "{err}");
}

#[test]
fn a_region_that_is_no_region_exits_2_naming_the_flag() {
    // It would become the Region of findings' ProductArn, which Security Hub refuses.
    let fx = Fixture::new();
    let out = recon(&["scan", "--region", "moon", Fixture::path(&fx.logs())]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--region"), "{}", stderr(&out));
}

#[test]
fn a_bad_account_id_exits_2_naming_the_flag() {
    let fx = Fixture::new();
    let out = recon(&["scan", "--account-id", "123", Fixture::path(&fx.logs())]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--account-id"), "{}", stderr(&out));
}

#[test]
fn a_nonexistent_path_exits_nonzero_naming_it() {
    let fx = Fixture::new();
    let missing = fx.dir.path().join("no-such-folder");
    let state = fx.state();
    let out = recon(&[
        "scan",
        "--state",
        Fixture::path(&state),
        Fixture::path(&missing),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no-such-folder"), "{}", stderr(&out));
}

#[test]
fn headerless_custom_flow_logs_read_with_flow_format_and_the_portscan_threshold_is_a_flag() {
    // Version-5 flow logs exported from CloudWatch Logs: no header, a time before each line.
    let dir = tempfile::tempdir().expect("temp dir");
    let fields = "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
                  packets bytes start end action log-status flow-direction";
    let lines: String = (20..36)
        .map(|port| {
            format!(
                "2026-09-21T14:13:{port:02}.000Z 5 {ACCOUNT} eni-0a1b2c3d 10.0.0.5 \
                 203.0.113.9 40000 {port} 6 1 40 {} {} REJECT OK egress\n",
                1_790_000_000 + port,
                1_790_000_060 + port
            )
        })
        .collect();
    let file = dir.path().join("exported/000000.gz");
    write(&file, &gzip(lines.as_bytes()));
    let scan = |extra: &[&str]| {
        let state = dir.path().join(format!("state-{}", extra.len()));
        let mut args = vec!["scan", "--no-progress", "--format", "jsonl", "--state"];
        args.push(Fixture::path(&state));
        args.extend_from_slice(extra);
        args.push(Fixture::path(&file));
        recon(&args)
    };
    let portscans = |out: &Output| {
        let text = stdout(out);
        text.lines()
            .filter(|l| l.contains("Recon:EC2-Portscan"))
            .count()
    };
    // Read as version 2, every line has a column too many.
    let default = scan(&[]);
    assert_success(&default);
    assert!(
        stderr(&default).contains("16 malformed"),
        "{}",
        stderr(&default)
    );
    let v5 = scan(&["--flow-format", fields]);
    assert_success(&v5);
    assert!(stderr(&v5).contains("0 malformed"), "{}", stderr(&v5));
    assert_eq!(portscans(&v5), 1, "{}", stdout(&v5));
    // Sixteen ports are not a scan when it takes twenty.
    let strict = scan(&["--flow-format", fields, "--portscan-ports", "20"]);
    assert_success(&strict);
    assert_eq!(portscans(&strict), 0, "{}", stdout(&strict));
    let bad = scan(&["--portscan-window", "0"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn a_state_folder_in_use_by_another_scan_is_refused_with_a_hint() {
    let fx = Fixture::new();
    let state = fx.state();
    std::fs::create_dir_all(&state).expect("state folder");
    // Another scan holds the store open (as `recon scan` does for its whole run).
    let _held = redb::Database::create(state.join("recon.redb")).expect("store opens");
    let out = recon(&[
        "scan",
        "--state",
        Fixture::path(&state),
        Fixture::path(&fx.logs()),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another recon scan using this state folder"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_threat_list_is_named_once_with_its_reason_once() {
    let fx = Fixture::new();
    let missing = fx.dir.path().join("no-such-list.txt");
    let state = fx.state();
    let out = recon(&[
        "scan",
        "--state",
        Fixture::path(&state),
        "--threat-list",
        Fixture::path(&missing),
        Fixture::path(&fx.logs()),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.matches("no-such-list.txt").count(), 1, "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    assert!(
        stdout(&out).is_empty(),
        "no findings from a scan that did not run"
    );
}

#[test]
fn a_malformed_record_is_reported_with_file_and_index_and_the_scan_still_succeeds() {
    let fx = Fixture::new();
    let alice = user("alice");
    let records = [
        record(
            &alice,
            "ec2.amazonaws.com",
            "DescribeVpcs",
            "2026-11-03T08:00:00Z",
            TOR_IP,
        ),
        r#"{"eventVersion":"1.08","eventName":["broken"}"#.to_owned(),
        record(
            &alice,
            "ec2.amazonaws.com",
            "DescribeSubnets",
            "2026-11-03T08:01:00Z",
            TOR_IP,
        ),
    ];
    let file = trail_file(&fx.logs(), 3, "cccccccccccccccc");
    write(&file, &gzip(&envelope(&records)));
    let out = fx.scan("asff");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let findings = asff_findings(&out);
    let err = stderr(&out);
    let expected = format!("{}: record 1:", file.display());
    assert!(err.contains(&expected), "wanted {expected:?} in:\n{err}");
    let net = finding(&findings, "Recon:IAMUser/NetworkPermissions", "user/alice");
    let new = net["ProductFields"]["recon/new-apis"].to_string();
    assert!(
        new.contains("DescribeSubnets"),
        "the record after the broken one counts: {net}"
    );
}

#[test]
fn a_gzip_file_cut_short_reports_the_cut_and_counts_the_records_before_it() {
    let fx = Fixture::new();
    let bob = user("bob");
    let records: Vec<String> = (0..50)
        .map(|i| {
            let time = format!("2026-11-02T10:{i:02}:00Z");
            record(
                &bob,
                "ec2.amazonaws.com",
                "DescribeInstances",
                &time,
                TOR_IP,
            )
        })
        .collect();
    let plain = envelope(&records);
    let gz = gzip(&plain);
    // Alike records compress to little after the first: most of the file is needed for most
    // of the records.
    let cut = &gz[..gz.len() * 9 / 10];
    // The records wholly in what a decoder makes of the cut file.
    let mut decoded = Vec::new();
    let failed =
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(cut), &mut decoded);
    assert!(failed.is_err() && plain.starts_with(&decoded));
    let mut end = 0;
    let whole = records
        .iter()
        .take_while(|r| {
            end += 1 + r.len();
            end <= decoded.len()
        })
        .count();
    assert!((10..50).contains(&whole), "{whole} records before the cut");
    let file = trail_file(&fx.logs(), 2, "cut0000000000000");
    write(&file, cut);
    let out = fx.scan("asff");
    let err = stderr(&out);
    let expected = format!(
        "{}: read stopped early: read failed: gzip stream cut short (after {whole} records)",
        file.display()
    );
    assert!(err.contains(&expected), "wanted {expected:?} in:\n{err}");
    let findings = asff_findings(&out);
    let tor = finding(&findings, "Recon:IAMUser/TorIPCaller", "user/bob");
    assert_eq!(
        tor["ProductFields"]["recon/count"],
        whole.to_string(),
        "{tor}"
    );
}

/// Findings as JSON lines without their run times, and stderr with the state folder named
/// `STATE`: what two scans of the same files into fresh states must share.
fn comparable(out: &Output, state: &Path) -> (Vec<Value>, String) {
    assert_success(out);
    let findings = stdout(out)
        .lines()
        .map(|line| {
            let mut f: Value = serde_json::from_str(line).expect("a JSON line");
            for key in [
                "CreatedAt",
                "UpdatedAt",
                "FirstObservedAt",
                "LastObservedAt",
            ] {
                if let Some(o) = f.as_object_mut() {
                    o.remove(key);
                }
            }
            f
        })
        .collect();
    let report = stderr(out)
        .replace(Fixture::path(state), "STATE")
        .lines()
        .map(|line| match line.split_once("Z  ") {
            // A log line's time.
            Some((time, rest)) if time.len() < 32 && time.starts_with("20") => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    (findings, report)
}

#[test]
fn reading_ahead_on_threads_changes_nothing_but_the_threads() {
    // More files than readers; files held in memory and streamed ones (several gzip members,
    // larger than one piece of a stream); a cut gzip stream, a malformed record, the same
    // content twice, a digest, a junk file and a flow log with a Portscan.
    let fx = Fixture::new();
    let alice = user("alice");
    let apis = [
        "DescribeVpcs",
        "ListRoles",
        "GetBucketPolicy",
        "DescribeKeyPairs",
    ];
    for day in 2..9u32 {
        let api = apis[day as usize % apis.len()];
        let mut records = vec![record(
            &alice,
            "ec2.amazonaws.com",
            api,
            &format!("2026-11-{day:02}T09:00:00Z"),
            TOR_IP,
        )];
        if day == 4 {
            records.push(r#"{"eventVersion":"1.08","eventName":["broken"}"#.to_owned());
        }
        write(
            &trail_file(&fx.logs(), day, &format!("{day:016}")),
            &gzip(&envelope(&records)),
        );
    }
    let copy = std::fs::read(trail_file(&fx.logs(), 5, &format!("{:016}", 5))).expect("read");
    write(&fx.logs().join("copies/again.json.gz"), &copy);
    let bob = user("bob");
    // Discovery calls: all read in full, more than one batch of them (1 MiB).
    let mut many: Vec<String> = (0..3000)
        .map(|i| {
            let time = format!(
                "2026-11-10T{:02}:{:02}:{:02}Z",
                i / 3600,
                i / 60 % 60,
                i % 60
            );
            record(
                &bob,
                "ec2.amazonaws.com",
                "DescribeInstances",
                &time,
                "203.0.113.77",
            )
        })
        .collect();
    // Found only if the last gzip member is read.
    let last = record(
        &bob,
        "s3.amazonaws.com",
        "ListBuckets",
        "2026-11-10T12:00:00Z",
        TOR_IP,
    );
    many.push(last);
    let plain = envelope(&many);
    assert!(
        plain.len() > 5 << 20 >> 2,
        "the stream spans several pieces and batches"
    );
    let (head, tail) = plain.split_at(plain.len() / 3);
    let members = [gzip(head), gzip(tail)].concat();
    write(&trail_file(&fx.logs(), 10, "members000000000"), &members);
    let cut = gzip(&plain);
    write(
        &trail_file(&fx.logs(), 11, "cut0000000000000"),
        &cut[..cut.len() / 2],
    );
    let mut flows = String::from("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n");
    for port in 20..40 {
        flows.push_str(&format!(
            "2 {ACCOUNT} eni-0a1b2c3d 10.0.0.5 203.0.113.9 40000 {port} 6 1 40 {} {} REJECT OK\n",
            1_790_000_000 + port,
            1_790_000_060 + port
        ));
    }
    write(
        &fx.logs().join(format!(
            "AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/2026/11/01/\
             {ACCOUNT}_vpcflowlogs_us-east-1_fl-0abc_20261101T0000Z_0001.log.gz"
        )),
        &gzip(flows.as_bytes()),
    );
    let (tor, logs) = (fx.tor_list(), fx.logs());
    let scan = |readers: &str, state: &Path| {
        recon(&[
            "scan",
            "--no-progress",
            "--read-ahead",
            readers,
            "--state",
            Fixture::path(state),
            "--format",
            "jsonl",
            "--learning-period",
            "0",
            "--tor-exits",
            Fixture::path(&tor),
            Fixture::path(&logs),
        ])
    };
    let one = fx.dir.path().join("state-one");
    let (alone, alone_err) = comparable(&scan("0", &one), &one);
    for readers in ["1", "3"] {
        let state = fx.dir.path().join(format!("state-{readers}"));
        let (ahead, ahead_err) = comparable(&scan(readers, &state), &state);
        assert_eq!(ahead, alone, "findings with {readers} readers");
        assert_eq!(ahead_err, alone_err, "the report with {readers} readers");
        // A second run finds every file processed, as the first did without readers.
        let (again, again_err) = comparable(&scan(readers, &state), &state);
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(
            again_err.matches("already processed, skipped").count(),
            15,
            "{again_err}"
        );
    }
    // What the files hold was all read: the streamed files, the cut one up to its cut, the
    // malformed record, the copy, the Portscan.
    finding(&alone, "Recon:EC2/Portscan", "eni-0a1b2c3d");
    let tor = finding(&alone, "Recon:IAMUser/TorIPCaller", "user/bob");
    assert!(tor.to_string().contains("ListBuckets"), "{tor}");
    for expected in [
        "cut0000000000000.json.gz: read stopped early",
        "0000000000000004.json.gz: record 1:",
        // Files are read in delivery order, and a name without a delivery time comes first:
        // the copy is read, the delivery file it copies is the one already processed.
        "0000000000000005.json.gz: already processed",
    ] {
        assert!(
            alone_err.contains(expected),
            "{expected:?} in:\n{alone_err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The bundled samples

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

#[test]
fn the_bundled_samples_raise_all_eight_types_with_the_readme_command() {
    let state = tempfile::tempdir().expect("temp dir");
    let out = recon_in(
        &workspace_root(),
        &[
            "scan",
            "--state",
            Fixture::path(state.path()),
            "--tor-exits",
            "samples/lists/tor-exits.txt",
            "--threat-list",
            "samples/lists/managed-threats.netset",
            "--custom-threat-list",
            "samples/lists/custom-threats.txt",
            "--trusted-ips",
            "samples/lists/trusted.txt",
            "samples/",
        ],
    );
    assert_success(&out);
    let text = stdout(&out);
    for t in [
        "Recon:IAMUser/TorIPCaller",
        "Recon:IAMUser/MaliciousIPCaller ",
        "Recon:IAMUser/MaliciousIPCaller.Custom",
        "Recon:IAMUser/UserPermissions",
        "Recon:IAMUser/ResourcePermissions",
        "Recon:IAMUser/NetworkPermissions",
        "Recon:EC2/PortProbeUnprotectedPort",
        "Recon:EC2/Portscan",
    ] {
        assert!(text.contains(t), "{t} missing from:\n{text}");
    }
    let high_network = text.lines().any(|l| {
        l.starts_with("HIGH")
            && l.contains("Recon:IAMUser/NetworkPermissions")
            && l.contains("role/web-app-role")
    });
    assert!(high_network, "the instance role's finding is High:\n{text}");
    for quiet in ["role/ci-deploy", "AWSServiceRole"] {
        assert!(!text.contains(quiet), "{quiet} must raise nothing:\n{text}");
    }
    // admin's daily calls are never new; only the one from a listed proxy is reported.
    let admin: Vec<&str> = text.lines().filter(|l| l.contains("user/admin")).collect();
    assert_eq!(admin.len(), 1, "{text}");
    assert!(
        admin[0].contains("Recon:IAMUser/MaliciousIPCaller "),
        "{text}"
    );
    assert!(stderr(&out).contains("0 malformed"), "{}", stderr(&out));
}

#[test]
fn the_bundled_samples_as_asff_name_the_attackers_and_nothing_else() {
    let root = workspace_root();
    let state = tempfile::tempdir().expect("temp dir");
    let out = recon_in(
        &root,
        &[
            "scan",
            "--format",
            "asff",
            "--state",
            Fixture::path(state.path()),
            "--tor-exits",
            "samples/lists/tor-exits.txt",
            "--threat-list",
            "samples/lists/managed-threats.netset",
            "--custom-threat-list",
            "samples/lists/custom-threats.txt",
            "--trusted-ips",
            "samples/lists/trusted.txt",
            "--suppressions",
            "samples/suppressions.toml",
            "samples/",
        ],
    );
    let findings = asff_findings(&out);
    assert!(stderr(&out).contains("0 suppressed"), "{}", stderr(&out));
    assert_eq!(findings.len(), 9, "{}", stdout(&out));
    let proxy = finding(&findings, "Recon:IAMUser/MaliciousIPCaller", "user/admin");
    let indicator = &proxy["ThreatIntelIndicators"][0];
    assert_eq!(indicator["Value"], json!("198.51.100.66"));
    let listed = indicator.to_string();
    assert!(
        listed.contains("managed-threats"),
        "the list is named: {listed}"
    );
    let tor = finding(&findings, "Recon:IAMUser/TorIPCaller", "user/build-bot");
    assert_eq!(tor["ThreatIntelIndicators"][0]["Value"], json!(TOR_IP));
    let custom = finding(
        &findings,
        "Recon:IAMUser/MaliciousIPCaller.Custom",
        "role/web-app-role",
    );
    assert_eq!(
        custom["ThreatIntelIndicators"][0]["Value"],
        json!("203.0.113.50")
    );
    let user = finding(&findings, "Recon:IAMUser/UserPermissions", "user/build-bot");
    let new = user["ProductFields"]["recon/new-apis"].to_string();
    for api in [
        "GetCallerIdentity",
        "ListUsers",
        "ListRoles",
        "ListAttachedUserPolicies",
    ] {
        assert!(new.contains(api), "{api} not among {new}");
    }
    let web = finding(
        &findings,
        "Recon:IAMUser/NetworkPermissions",
        "role/web-app-role",
    );
    assert_eq!(web["Severity"]["Label"], json!("HIGH"));
    let bot = finding(
        &findings,
        "Recon:IAMUser/NetworkPermissions",
        "user/build-bot",
    );
    assert_eq!(bot["Severity"]["Label"], json!("MEDIUM"));
    finding(
        &findings,
        "Recon:IAMUser/ResourcePermissions",
        "user/build-bot",
    );
    let probe = finding(
        &findings,
        "Recon:EC2/PortProbeUnprotectedPort",
        "i-0abc1234def567890",
    );
    assert_eq!(
        probe["Severity"]["Label"],
        json!("HIGH"),
        "9200 was reached"
    );
    assert_eq!(probe["Action"]["ActionType"], json!("PORT_PROBE"));
    let scan = finding(&findings, "Recon:EC2/Portscan", "i-0abc1234def567890");
    assert_eq!(scan["Network"]["Direction"], json!("OUT"));
    assert_eq!(scan["Network"]["DestinationIpV4"], json!("10.0.2.30"));
}
