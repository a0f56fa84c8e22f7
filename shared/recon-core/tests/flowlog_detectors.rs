//! The VPC Flow Logs half end to end: every format the reader takes (v2 default without a
//! header, v3/v4/v5 custom headers in any order, gzip or plain), placeholder and malformed lines,
//! Recon:EC2/Portscan and Recon:EC2/PortProbeUnprotectedPort through the engine (positive and
//! negative), windows carried across objects and commits, IPv6, aggregation, suppression, the
//! memory bound and the team's real flow logs. Every finding produced goes through the ASFF
//! validator (see `flow_common::Batch::commit`).
//!
//! Regression tests for bugs this suite found are at the end. Known limitations are kept as
//! `#[ignore]`d tests that state them: run them with `-- --ignored`.

use std::net::IpAddr;

mod corpus_support;
use corpus_support::{corpus, files_under};

mod flow_common;

use flow_common::*;
use recon_core::config::EngineConfig;
use recon_core::detect::portscan::STATE_KEY;
use recon_core::engine::CommitReport;
use recon_core::finding::{FindingType, ListKind, Severity};
use recon_core::input::ObjectKind;
use recon_core::intel::ThreatIntel;
use recon_core::store::MemoryStore;
use recon_core::suppress::Suppressions;
use recon_core::time::Timestamp;
use serde_json::json;

use FindingType::{PortProbeUnprotectedPort, Portscan};

/// An outbound sweep of 16 ports (20–35) of [`TARGET`] over 75 seconds, and an accepted SSH
/// probe from [`SCANNER`]: what every format must show.
fn scan_and_probe() -> Vec<Flow> {
    let mut flows = sweep(TARGET, 20, 16, T0, 5);
    flows.push(Flow::inbound(SCANNER, 22, T0 + 30));
    flows
}

/// Scans [`scan_and_probe`] written in `format` as object `name`, checks that every line was a
/// record a detector looked at, and that both findings came out about [`ENI`] (and
/// [`INSTANCE`] when `instance_in_format`).
fn assert_format_detects(format: &Format, name: &str, instance_in_format: bool) {
    let flows = scan_and_probe();
    let mut b = Batch::standard();
    let r = b.scan_flows(name, format, &flows).clone();
    b.assert_clean();
    assert_eq!(r.kind, Some(ObjectKind::FlowLog), "{name}");
    assert_eq!(r.records, flows.len() as u64);
    assert_eq!(r.evaluated, flows.len() as u64);
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert_eq!(c.findings.len(), 2, "{:#?}", brief(&c.findings));
    let scan = single(&c.findings, Portscan);
    assert_eq!(scan.remote_ip, Some(ip(TARGET)));
    assert_eq!(net(scan).distinct_ports, Some(16));
    let probe = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(probe.remote_ip, Some(ip(SCANNER)));
    assert_eq!(ports(probe), [22]);
    for f in [scan, probe] {
        assert_eq!(f.account_id, ACCOUNT);
        assert_eq!(ec2(f).interface_id.as_deref(), Some(ENI));
        let instance = instance_in_format.then_some(INSTANCE);
        assert_eq!(ec2(f).instance_id.as_deref(), instance);
        assert_eq!(ec2(f).local_ip, Some(ip(LOCAL)));
    }
}

// ---------------------------------------------------------------------------------------------
// Formats

#[test]
fn default_v2_without_header_plain() {
    assert_format_detects(&V2, &key(0).replace(".gz", ""), false);
}

#[test]
fn default_v2_without_header_gzip() {
    assert_format_detects(&V2, &key(0), false);
}

#[test]
fn default_v2_exported_from_cloudwatch_logs_with_a_time_before_each_line() {
    // Flow logs published to CloudWatch Logs, then exported to S3: no header, and each event
    // after its time.
    let flows = scan_and_probe();
    let body: String = flows
        .iter()
        .map(|f| {
            let time = Timestamp(f.start * 1000).to_rfc3339();
            format!("{time} {}\n", f.line(&V2))
        })
        .collect();
    let bytes = gzip(body.as_bytes());
    assert_found_in(
        Batch::standard(),
        "exported/000000.gz",
        bytes,
        ObjectKind::FlowLog,
    );
}

/// Scans `bytes`, which hold [`scan_and_probe`], as object `name` with `b`; checks that it was
/// read cleanly as `kind`, every flow evaluated, and that the Portscan and the probe came out.
fn assert_found_in(mut b: Batch, name: &str, bytes: Vec<u8>, kind: ObjectKind) {
    let r = b.scan(name, bytes).clone();
    b.assert_clean();
    assert_eq!(r.kind, Some(kind), "{name}");
    assert_eq!(r.evaluated, scan_and_probe().len() as u64, "{name}");
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert_eq!(net(single(&c.findings, Portscan)).distinct_ports, Some(16));
    assert_eq!(ports(single(&c.findings, PortProbeUnprotectedPort)), [22]);
}

/// Flow-log lines as the messages of CloudWatch Logs events, as `aws logs filter-log-events`
/// prints them.
fn log_events(lines: &[String]) -> String {
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            json!({
                "logStreamName": ENI,
                "timestamp": 1_795_000_000_000_i64 + i as i64,
                "message": line,
                "ingestionTime": 1_795_000_005_000_i64,
                "eventId": format!("{i:056}"),
            })
        })
        .collect();
    let out = json!({ "events": events, "searchedLogStreams": [] });
    serde_json::to_string_pretty(&out).expect("serialises")
}

#[test]
fn flow_logs_in_cloudwatch_logs_as_filter_log_events_prints_them() {
    // Flow logs published to CloudWatch Logs and read back with the API: each line the message
    // of an event, in the default format or (with --flow-format) a custom one.
    let flows = scan_and_probe();
    let mut custom = EngineConfig::default();
    custom
        .set_flow_format("--flow-format", &V5.fields.join(" "))
        .expect("format");
    for (format, config) in [(&V2, EngineConfig::default()), (&V5, custom)] {
        let lines: Vec<String> = flows.iter().map(|f| f.line(format)).collect();
        let b = Batch::new(config, intel(), Suppressions::default());
        let bytes = log_events(&lines).into_bytes();
        assert_found_in(b, "events.json", bytes, ObjectKind::FlowLogEvents);
    }
    // A broken message is reported by its event's index; the others still count.
    let mut lines: Vec<String> = flows.iter().map(|f| f.line(&V2)).collect();
    lines[3] = "2 111122223333 eni-0a1b2c3d4e5f60718 not-an-address".into();
    let mut b = Batch::standard();
    let r = b
        .scan("events.json", log_events(&lines).into_bytes())
        .clone();
    assert_eq!(r.records, flows.len() as u64 - 1);
    assert_eq!(r.issues.len(), 1, "{:?}", r.issues);
    assert_eq!((r.issues[0].position, r.issues[0].is_line), (3, false));
}

#[test]
fn v3_custom_header_in_shuffled_order_gzip() {
    assert_format_detects(&V3, &key(0), true);
}

#[test]
fn v3_custom_header_in_shuffled_order_plain() {
    assert_format_detects(&V3, &key(0).replace(".gz", ""), true);
}

#[test]
fn v4_custom_header_in_shuffled_order() {
    assert_format_detects(&V4, &key(0), true);
    assert_format_detects(&V4, &key(0).replace(".gz", ""), true);
}

#[test]
fn v5_custom_header_with_flow_direction_in_shuffled_order() {
    assert_format_detects(&V5, &key(0), true);
    assert_format_detects(&V5, &key(0).replace(".gz", ""), true);
}

#[test]
fn region_field_wins_over_the_object_path() {
    let flows: Vec<Flow> = scan_and_probe()
        .into_iter()
        .map(|f| f.region("ap-southeast-2"))
        .collect();
    let c = detect(&[(&key(0), &V4, &flows)]);
    assert_eq!(c.findings.len(), 2);
    for f in &c.findings {
        assert_eq!(f.region, "ap-southeast-2");
        assert_eq!(at(&asff(f), "/Region"), "ap-southeast-2");
    }
    // Without a region field the object path names it.
    let c = detect(&[(&key(0), &V3, &flows)]);
    assert!(c.findings.iter().all(|f| f.region == REGION));
}

#[test]
fn packet_addresses_override_interface_addresses() {
    // A pod on a secondary address (pkt-srcaddr) scans through a middlebox (dstaddr) to TARGET
    // (pkt-dstaddr).
    let flows: Vec<Flow> = sweep(TARGET, 20, 16, T0, 5)
        .into_iter()
        .map(|mut f| {
            f.pkt_src = Some("10.0.1.77".into());
            f.pkt_dst = Some(TARGET.into());
            f.dst = "10.0.0.220".into();
            f
        })
        .collect();
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert_eq!(scan.remote_ip, Some(ip(TARGET)));
    assert_eq!(ec2(scan).local_ip, Some(ip("10.0.1.77")));
    let v = asff(scan);
    assert_eq!(at(&v, "/Network/SourceIpV4"), "10.0.1.77");
    assert_eq!(at(&v, "/Network/DestinationIpV4"), TARGET);
}

// ---------------------------------------------------------------------------------------------
// Placeholders and malformed lines

#[test]
fn dash_fields_nodata_and_skipdata_lines_are_records_not_issues() {
    let mut text = text(&V2, &scan_and_probe());
    let t = T0;
    let extra = [
        format!("2 {ACCOUNT} {ENI} - - - - - - - {t} {} - NODATA", t + 60),
        format!("2 {ACCOUNT} {ENI} - - - - - - - {t} {} - SKIPDATA", t + 60),
        // ICMP without ports.
        format!(
            "2 {ACCOUNT} {ENI} {LOCAL} {TARGET} - - 1 1 84 {t} {} ACCEPT OK",
            t + 60
        ),
        // No start time: nothing to place in a window.
        format!("2 {ACCOUNT} {ENI} {SCANNER} {LOCAL} 51234 3389 6 1 44 - - ACCEPT OK"),
    ];
    for line in &extra {
        text.push_str(line);
        text.push('\n');
    }
    let mut b = Batch::standard();
    let r = b.scan(&key(0), gzip(text.as_bytes())).clone();
    b.assert_clean();
    assert_eq!(r.records, 17 + 4);
    assert_eq!(
        r.evaluated,
        17 + 1,
        "only the ICMP line of the extras is traffic in time"
    );
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert_eq!(c.findings.len(), 2, "{:#?}", brief(&c.findings));
    let probe = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(ports(probe), [22], "the probe of 3389 had no start time");
}

#[test]
fn v3_dash_fields_are_absent_values() {
    // instance-id, tcp-flags and the packet addresses all `-`: the ENI is the subject and the
    // ports tell who opened each connection.
    let flows: Vec<Flow> = scan_and_probe()
        .into_iter()
        .map(|f| f.no_instance().flags(None))
        .collect();
    let body = text(&V3, &flows);
    let lines: Vec<String> = body
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                return l.to_owned();
            }
            // pkt-srcaddr and pkt-dstaddr are columns 12 and 13 of V3.
            let mut cols: Vec<&str> = l.split(' ').collect();
            cols[11] = "-";
            cols[12] = "-";
            cols.join(" ")
        })
        .collect();
    let mut b = Batch::standard();
    b.scan(&key(0), gzip(lines.join("\n").as_bytes()));
    b.assert_clean();
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert_eq!(c.findings.len(), 2, "{:#?}", brief(&c.findings));
    for f in &c.findings {
        assert_eq!(ec2(f).instance_id, None);
        assert_eq!(ec2(f).interface_id.as_deref(), Some(ENI));
        assert_eq!(at(&asff(f), "/Resources/0/Type"), "AwsEc2NetworkInterface");
    }
}

#[test]
fn unknown_account_comes_from_the_object_key() {
    let flows: Vec<Flow> = scan_and_probe()
        .into_iter()
        .map(|f| f.account("unknown"))
        .collect();
    let c = detect(&[(&key_for("444455556666", 0), &V2, &flows)]);
    assert_eq!(c.findings.len(), 2);
    for f in &c.findings {
        assert_eq!(f.account_id, "444455556666");
        assert_eq!(at(&asff(f), "/AwsAccountId"), "444455556666");
    }
    // A known account in the record wins over the key.
    let c = detect(&[(&key_for("444455556666", 0), &V2, &scan_and_probe())]);
    assert!(c.findings.iter().all(|f| f.account_id == ACCOUNT));
}

#[test]
fn unknown_account_falls_back_to_the_configured_account() {
    let flows: Vec<Flow> = scan_and_probe()
        .into_iter()
        .map(|f| f.account("unknown"))
        .collect();
    let name = "exports/eni-flows.log";
    let config = EngineConfig {
        account_id: Some("777788889999".into()),
        ..EngineConfig::default()
    };
    let mut b = Batch::new(config, intel(), Suppressions::default());
    b.scan_flows(name, &V2, &flows);
    b.assert_clean();
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert_eq!(c.findings.len(), 2);
    assert!(c.findings.iter().all(|f| f.account_id == "777788889999"));
    assert!(c.findings.iter().all(|f| f.region == "us-east-1"));

    // No account anywhere: the records are read but nothing can be attributed.
    let mut b = Batch::standard();
    let r = b.scan_flows(name, &V2, &flows).clone();
    assert_eq!(r.records, flows.len() as u64);
    assert_eq!(r.evaluated, 0);
    assert_eq!(
        r.without_account,
        flows.len() as u64,
        "they are counted, and warned of"
    );
    assert!(b
        .commit(&mut MemoryStore::default(), NOW_MS)
        .findings
        .is_empty());
}

#[test]
fn extra_spaces_tabs_and_trailing_carriage_returns_are_tolerated() {
    for format in [&V2, &V5] {
        let body = text(format, &scan_and_probe());
        let messy: String = body
            .lines()
            .enumerate()
            .map(|(i, l)| {
                // The first line keeps to spaces: see bug_a_tab_separated_first_line_is_a_flow_log.
                let l = match i {
                    0 => l.replace(' ', "   "),
                    _ if i % 2 == 0 => l.replace(' ', "  \t "),
                    _ => format!("  {l}   "),
                };
                format!("{l}\r\n")
            })
            .collect();
        let mut b = Batch::standard();
        let r = b.scan(&key(0), gzip(messy.as_bytes())).clone();
        b.assert_clean();
        assert_eq!(r.records, 17, "{format:?}");
        let c = b.commit(&mut MemoryStore::default(), NOW_MS);
        assert_eq!(c.findings.len(), 2, "{format:?}: {:#?}", brief(&c.findings));
        let scan = single(&c.findings, Portscan);
        assert_eq!(net(scan).distinct_ports, Some(16));
    }
}

#[test]
fn a_line_dated_centuries_ahead_is_malformed_and_leaves_open_scans_alone() {
    // Such a time would be invalid in ASFF and, taken as the stream's clock, would close every
    // open window: the scan around it would be lost.
    let flows = sweep(TARGET, 20, 16, T0, 5);
    let mut lines = vec![V5.fields.join(" ")];
    lines.extend(flows[..8].iter().map(|f| f.line(&V5)));
    lines.push(Flow::out(TARGET, 9, 9_999_999_999_999).line(&V5)); // line 10
    lines.extend(flows[8..].iter().map(|f| f.line(&V5)));
    let mut b = Batch::standard();
    let r = b.scan(&key(0), gzip(lines.join("\n").as_bytes())).clone();
    let positions: Vec<u64> = r.issues.iter().map(|i| i.position).collect();
    assert_eq!(positions, [10], "{:#?}", r.issues);
    assert!(r.issues[0].reason.contains("start"), "{:?}", r.issues);
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    let scan = single(&c.findings, Portscan);
    assert_eq!(net(scan).distinct_ports, Some(16));
}

#[test]
fn malformed_lines_are_reported_by_object_and_line_and_later_lines_still_count() {
    let flows = sweep(TARGET, 20, 16, T0, 5);
    let good = |i: usize| flows[i].line(&V5);
    let mut lines = vec![V5.fields.join(" ")]; // line 1
    lines.extend((0..8).map(good)); // lines 2..=9
                                    // line 10: trailing junk after the last column.
    lines.push(format!(
        "{} trailing-junk",
        Flow::out(TARGET, 100, T0 + 40).line(&V5)
    ));
    // line 11: an impossible address.
    lines.push(Flow::out("203.0.113.999", 101, T0 + 41).line(&V5));
    // line 12: cut short.
    let short = Flow::out(TARGET, 102, T0 + 42).line(&V5);
    lines.push(short[..short.len() / 2].to_owned());
    // line 13: a trailing comment is not junk.
    lines.push(format!("{} # retried", good(8)));
    lines.extend((9..16).map(good)); // lines 14..=20
                                     // line 21: garbage at the end of the file, without a newline.
    lines.push("this is not a flow record".into());
    let name = key(0);
    let mut b = Batch::standard();
    let r = b.scan(&name, gzip(lines.join("\n").as_bytes())).clone();
    let positions: Vec<u64> = r.issues.iter().map(|i| i.position).collect();
    assert_eq!(positions, [10, 11, 12, 21], "{:#?}", r.issues);
    assert_eq!(r.issue_count, 4);
    assert!(r.fatal.is_none());
    for issue in &r.issues {
        assert!(issue.is_line);
        assert_eq!(issue.object, name);
        assert!(!issue.reason.is_empty());
        assert!(
            issue
                .to_string()
                .starts_with(&format!("{name}: line {}: ", issue.position)),
            "{issue}"
        );
        let line = format!("line {}", issue.position);
        assert_eq!(
            issue.to_string().matches(&line).count(),
            1,
            "the line is named once: {issue}"
        );
    }
    assert_eq!(r.records, 16);
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    let scan = single(&c.findings, Portscan);
    assert_eq!(
        net(scan).distinct_ports,
        Some(16),
        "only the 16 good lines count"
    );
    assert!(!ports(scan).contains(&100));
}

// ---------------------------------------------------------------------------------------------
// Portscan: positive

#[test]
fn portscan_by_an_instance_is_one_medium_finding_about_the_instance() {
    let flows = sweep(TARGET, 1000, 16, T0, 10);
    let c = detect(&[(&key(0), &V5, &flows)]);
    assert_eq!(c.findings.len(), 1, "{:#?}", brief(&c.findings));
    assert_eq!(c.created, 1);
    let f = single(&c.findings, Portscan);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.account_id, ACCOUNT);
    assert_eq!(f.region, REGION);
    assert_eq!(f.remote_ip, Some(ip(TARGET)));
    assert_eq!(f.intel, None);
    assert_eq!(f.count, 16);
    assert_eq!(f.first_seen, Timestamp::from_secs(T0));
    assert_eq!(f.last_seen, Timestamp::from_secs(T0 + 150));
    let n = net(f);
    assert_eq!(n.distinct_ports, Some(16));
    assert_eq!(n.protocol.as_deref(), Some("TCP"));
    assert!(!n.blocked);
    let mut seen = ports(f);
    seen.sort_unstable();
    assert_eq!(seen, (1000..1016).collect::<Vec<u16>>());
    assert_eq!(n.sources.len(), 1);
    assert!(n.sources[0].starts_with(&key(0)), "{:?}", n.sources);
    let e = ec2(f);
    assert_eq!(e.instance_id.as_deref(), Some(INSTANCE));
    assert_eq!(e.interface_id.as_deref(), Some(ENI));
    assert_eq!(e.vpc_id.as_deref(), Some(VPC));
    assert_eq!(e.subnet_id.as_deref(), Some(SUBNET));
    assert_eq!(e.local_ip, Some(ip(LOCAL)));
    assert!(f.id.contains(INSTANCE) && f.id.contains(TARGET), "{}", f.id);

    let v = asff(f);
    assert_eq!(at(&v, "/Resources/0/Type"), "AwsEc2Instance");
    assert_eq!(
        at(&v, "/Resources/0/Id"),
        format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{INSTANCE}").as_str()
    );
    assert_eq!(at(&v, "/Action/ActionType"), "NETWORK_CONNECTION");
    assert_eq!(
        at(&v, "/Action/NetworkConnectionAction/ConnectionDirection"),
        "OUT"
    );
    assert_eq!(
        at(
            &v,
            "/Action/NetworkConnectionAction/RemoteIpDetails/IpAddressV4"
        ),
        TARGET
    );
    assert_eq!(at(&v, "/Action/NetworkConnectionAction/Blocked"), false);
    assert_eq!(at(&v, "/Network/Direction"), "OUT");
    assert_eq!(at(&v, "/Network/SourceIpV4"), LOCAL);
    assert_eq!(at(&v, "/Network/DestinationIpV4"), TARGET);
    assert_eq!(at(&v, "/Severity/Label"), "MEDIUM");
    assert_eq!(at(&v, "/ProductFields/recon~1distinct-ports"), "16");
    assert_eq!(at(&v, "/ProductFields/recon~1remote-ip"), TARGET);
    assert_eq!(at(&v, "/Types/0"), "TTPs/Discovery/Recon:EC2-Portscan");
}

#[test]
fn portscan_without_instance_id_names_the_network_interface() {
    let flows: Vec<Flow> = sweep(TARGET, 1000, 16, T0, 10)
        .into_iter()
        .map(Flow::no_instance)
        .collect();
    let c = detect(&[(&key(0), &V5, &flows)]);
    let f = single(&c.findings, Portscan);
    assert_eq!(ec2(f).instance_id, None);
    assert_eq!(ec2(f).interface_id.as_deref(), Some(ENI));
    assert!(f.id.contains(ENI), "{}", f.id);
    let v = asff(f);
    assert_eq!(at(&v, "/Resources/0/Type"), "AwsEc2NetworkInterface");
    assert_eq!(
        at(&v, "/Resources/0/Id"),
        format!("arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/{ENI}").as_str()
    );
    assert_eq!(at(&v, "/Action/ActionType"), "NETWORK_CONNECTION");
    assert_eq!(at(&v, "/Network/Direction"), "OUT");
}

#[test]
fn fourteen_ports_is_not_a_portscan_and_fifteen_is() {
    let c = detect(&[(&key(0), &V5, &sweep(TARGET, 1000, 14, T0, 10))]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    // Repeating the same 14 ports does not make a fifteenth.
    let mut again = sweep(TARGET, 1000, 14, T0, 10);
    again.extend(sweep(TARGET, 1000, 14, T0 + 150, 5));
    let c = detect(&[(&key(0), &V5, &again)]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    let c = detect(&[(&key(0), &V5, &sweep(TARGET, 1000, 15, T0, 10))]);
    let f = single(&c.findings, Portscan);
    assert_eq!(net(f).distinct_ports, Some(15));
}

#[test]
fn rejected_attempts_count_toward_a_portscan() {
    let flows: Vec<Flow> = sweep(TARGET, 1000, 16, T0, 10)
        .into_iter()
        .map(Flow::reject)
        .collect();
    let c = detect(&[(&key(0), &V5, &flows)]);
    let f = single(&c.findings, Portscan);
    assert!(net(f).blocked);
    assert_eq!(f.count, 16);
    let v = asff(f);
    assert_eq!(at(&v, "/Action/NetworkConnectionAction/Blocked"), true);
    assert_eq!(at(&v, "/ProductFields/recon~1blocked"), "true");
    let description = at(&v, "/Description").as_str().unwrap_or_default();
    assert!(
        description.ends_with("The traffic was rejected."),
        "{description}"
    );

    // Half of them rejected: not blocked, and the description no longer says "accepted" of
    // them all.
    let half: Vec<Flow> = sweep(TARGET, 1000, 16, T0, 10)
        .into_iter()
        .enumerate()
        .map(|(i, f)| if i % 2 == 0 { f.reject() } else { f })
        .collect();
    let c = detect(&[(&key(0), &V5, &half)]);
    let f = single(&c.findings, Portscan);
    assert!(!net(f).blocked);
    assert_eq!(net(f).rejected, 8);
    let v = asff(f);
    assert_eq!(at(&v, "/Action/NetworkConnectionAction/Blocked"), false);
    assert_eq!(at(&v, "/ProductFields/recon~1rejected-flows"), "8");
    let description = at(&v, "/Description").as_str().unwrap_or_default();
    assert!(
        description.ends_with("8 of the 16 flows were rejected, the others accepted."),
        "{description}"
    );
}

#[test]
fn a_scan_of_more_ports_than_a_window_keeps_says_at_least() {
    // A window keeps 60 ports (four times the threshold): a 1,000-port scan must not claim it
    // contacted exactly 60.
    let c = detect(&[(&key(0), &V5, &sweep(TARGET, 1000, 1000, T0, 0))]);
    let f = single(&c.findings, Portscan);
    assert_eq!(f.count, 1000);
    assert_eq!(net(f).distinct_ports, Some(60));
    assert!(net(f).distinct_ports_at_least);
    let v = asff(f);
    let description = at(&v, "/Description")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        description.contains("at least 60 distinct TCP ports"),
        "{description}"
    );
    assert_eq!(
        at(&v, "/ProductFields/recon~1distinct-ports-at-least"),
        "true"
    );
    // Within what a window keeps, the count is exact.
    let c = detect(&[(&key(0), &V5, &sweep(TARGET, 1000, 16, T0, 5))]);
    let f = single(&c.findings, Portscan);
    assert_eq!(net(f).distinct_ports, Some(16));
    assert!(!net(f).distinct_ports_at_least);
    assert!(asff(f)
        .pointer("/ProductFields/recon~1distinct-ports-at-least")
        .is_none());
}

#[test]
fn scanning_an_internal_host_counts() {
    let internal = "10.0.2.30";
    // With flow-direction.
    let c = detect(&[(&key(0), &V5, &sweep(internal, 1, 20, T0, 3))]);
    let f = single(&c.findings, Portscan);
    assert_eq!(f.remote_ip, Some(ip(internal)));
    assert_eq!(ec2(f).local_ip, Some(ip(LOCAL)));
    assert_eq!(at(&asff(f), "/Network/DestinationIpV4"), internal);
    // Without it (v3): the interface's own address, learnt from a flow to a public host, tells
    // which side is the instance.
    let mut flows = vec![Flow::out(TARGET, 443, T0)];
    flows.extend(sweep(internal, 1, 20, T0 + 1, 3));
    let c = detect(&[(&key(0), &V3, &flows)]);
    let f = single(&c.findings, Portscan);
    assert_eq!(f.remote_ip, Some(ip(internal)));
    assert_eq!(net(f).distinct_ports, Some(20));
}

#[test]
fn a_udp_sweep_counts_too() {
    let flows: Vec<Flow> = sweep(TARGET, 1000, 16, T0, 10)
        .into_iter()
        .map(|mut f| {
            f.proto = Some(17);
            f.flags = None;
            f
        })
        .collect();
    let c = detect(&[(&key(0), &V5, &flows)]);
    let f = single(&c.findings, Portscan);
    assert_eq!(net(f).protocol.as_deref(), Some("UDP"));
}

#[test]
fn portscan_threshold_and_window_are_configurable() {
    let config = EngineConfig {
        portscan_ports: 5,
        portscan_window_ms: 60_000,
        ..EngineConfig::default()
    };
    let run = |config: &EngineConfig, flows: &[Flow]| {
        let mut b = Batch::new(config.clone(), intel(), Suppressions::default());
        b.scan_flows(&key(0), &V5, flows);
        b.assert_clean();
        b.commit(&mut MemoryStore::default(), NOW_MS)
    };
    // 5 ports in 40 s: a scan under the custom settings, not under the defaults.
    let burst = sweep(TARGET, 1000, 5, T0, 10);
    let f = run(&config, &burst);
    assert_eq!(net(single(&f.findings, Portscan)).distinct_ports, Some(5));
    assert!(run(&EngineConfig::default(), &burst).findings.is_empty());
    // The same 5 ports 25 s apart (100 s): within the default 5 minutes, beyond 60 s.
    let spread = sweep(TARGET, 1000, 5, T0, 25);
    assert!(run(&config, &spread).findings.is_empty());
    let wide = EngineConfig {
        portscan_window_ms: 120_000,
        ..config
    };
    assert_eq!(run(&wide, &spread).findings.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Portscan across objects and commits

/// Ports 1000–1007 from `T0`, 10 s apart.
fn first_half() -> Vec<Flow> {
    sweep(TARGET, 1000, 8, T0, 10)
}

/// Ports 1008–1015 from `T0 + offset` seconds, 10 s apart.
fn second_half(offset: i64) -> Vec<Flow> {
    sweep(TARGET, 1008, 8, T0 + offset, 10)
}

#[test]
fn a_scan_split_over_two_objects_in_one_batch_is_one_portscan() {
    let (a, b) = (first_half(), second_half(120));
    // In delivery order, and the later object first (S3 listings and notifications are not
    // ordered by time).
    for (x, y) in [(&a, &b), (&b, &a)] {
        let c = detect(&[(&key(0), &V5, x), (&key(5), &V5, y)]);
        let f = single(&c.findings, Portscan);
        assert_eq!(net(f).distinct_ports, Some(16));
        assert_eq!(f.count, 16);
        assert_eq!(c.objects, 2);
    }
    // Read in order, the finding spans every flow (out of order: see
    // bug_a_scan_read_later_half_first_spans_all_its_flows).
    let c = detect(&[(&key(0), &V5, &a), (&key(5), &V5, &b)]);
    let f = single(&c.findings, Portscan);
    assert_eq!(f.first_seen, Timestamp::from_secs(T0));
    assert_eq!(f.last_seen, Timestamp::from_secs(T0 + 190));
}

#[test]
fn a_scan_split_over_two_runs_five_minutes_apart_is_one_portscan() {
    let mut store = MemoryStore::default();
    let mut run1 = Batch::standard().resume(&store);
    run1.scan_flows(&key(0), &V5, &first_half());
    let c1 = run1.commit(&mut store, NOW_MS);
    assert!(c1.findings.is_empty(), "{:#?}", brief(&c1.findings));
    assert!(
        store.state.contains_key(STATE_KEY),
        "open windows are stored"
    );

    // Without the stored windows the second half alone is no scan.
    let mut cold = Batch::standard();
    cold.scan_flows(&key(5), &V5, &second_half(120));
    assert!(cold
        .commit(&mut store.clone(), NOW_MS + FIVE_MIN_MS)
        .findings
        .is_empty());

    let mut run2 = Batch::standard().resume(&store);
    run2.scan_flows(&key(5), &V5, &second_half(120));
    let c2 = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    let f = single(&c2.findings, Portscan);
    assert_eq!(net(f).distinct_ports, Some(16));
    assert_eq!(f.first_seen, Timestamp::from_secs(T0));
    assert_eq!(f.created_at, Timestamp(NOW_MS + FIVE_MIN_MS));
    assert_eq!(ec2(f).instance_id.as_deref(), Some(INSTANCE));
    assert_eq!(store.findings.len(), 1);
}

#[test]
fn a_second_half_twenty_minutes_later_is_not_a_scan() {
    // One batch.
    let c = detect(&[
        (&key(0), &V5, &first_half()),
        (&key(20), &V5, &second_half(20 * 60)),
    ]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    // Two runs.
    let mut store = MemoryStore::default();
    let mut run1 = Batch::standard().resume(&store);
    run1.scan_flows(&key(0), &V5, &first_half());
    run1.commit(&mut store, NOW_MS);
    let mut run2 = Batch::standard().resume(&store);
    run2.scan_flows(&key(20), &V5, &second_half(20 * 60));
    let c = run2.commit(&mut store, NOW_MS + 20 * 60_000);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    assert!(store.findings.is_empty());
}

#[test]
fn a_scan_that_goes_on_in_the_next_run_updates_its_finding() {
    let mut store = MemoryStore::default();
    let mut run1 = Batch::standard().resume(&store);
    run1.scan_flows(&key(0), &V5, &sweep(TARGET, 1000, 16, T0, 5));
    let c1 = run1.commit(&mut store, NOW_MS);
    let first = single(&c1.findings, Portscan).clone();
    let mut run2 = Batch::standard().resume(&store);
    run2.scan_flows(&key(5), &V5, &sweep(TARGET, 1016, 4, T0 + 90, 5));
    let c2 = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert_eq!(c2.created, 0);
    let f = single(&c2.findings, Portscan);
    assert_eq!(f.id, first.id);
    assert_eq!(f.count, 20);
    assert!(f.updated_at > first.updated_at);
    assert_eq!(f.created_at, first.created_at);
    assert_eq!(f.last_seen, Timestamp::from_secs(T0 + 105));
    assert_eq!(store.findings.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Portscan: negative

/// A server at `LOCAL:443` answering `CLIENT`'s connections from 30 ephemeral ports in two
/// minutes, the replies flagged `reply_flags` (cycled), the client's SYNs flagged 2 or 3.
fn busy_server(reply_flags: &[Option<u16>]) -> Vec<Flow> {
    let mut flows = Vec::new();
    for i in 0..30u16 {
        let t = T0 + i64::from(i) * 4;
        let client_port = 40000 + i * 7;
        let syn = if i % 2 == 0 { 2 } else { 3 };
        flows.push(
            Flow::inbound(CLIENT, 443, t)
                .ports(client_port, 443)
                .flags(Some(syn)),
        );
        let flags = reply_flags[usize::from(i) % reply_flags.len()];
        flows.push(
            Flow::out(CLIENT, client_port, t)
                .ports(443, client_port)
                .flags(flags),
        );
    }
    flows
}

#[test]
fn a_server_answering_one_client_from_443_is_not_a_portscan() {
    let flows = busy_server(&[Some(18), Some(19)]);
    let mut b = Batch::standard();
    let r = b.scan_flows(&key(0), &V5, &flows).clone();
    b.assert_clean();
    assert_eq!(r.evaluated, 60, "the detectors saw every flow");
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
}

#[test]
fn a_server_reply_without_tcp_flags_is_not_a_portscan() {
    let flows = busy_server(&[None]);
    for format in [&V2, &V5] {
        let mut b = Batch::standard();
        let r = b.scan_flows(&key(0), format, &flows).clone();
        b.assert_clean();
        assert_eq!(r.evaluated, 60, "{format:?}");
        let c = b.commit(&mut MemoryStore::default(), NOW_MS);
        assert!(
            c.findings.is_empty(),
            "{format:?}: {:#?}",
            brief(&c.findings)
        );
    }
}

#[test]
fn a_slow_drip_of_one_new_port_every_two_minutes_is_not_a_portscan() {
    let flows = sweep(TARGET, 1000, 31, T0, 120);
    assert_eq!(flows.last().map(|f| f.start), Some(T0 + 3600));
    let c = detect(&[(&key(0), &V5, &flows)]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
}

#[test]
fn many_hosts_one_port_each_is_not_a_portscan() {
    let flows: Vec<Flow> = (1..=200u16)
        .map(|i| {
            let host = if i <= 100 {
                format!("203.0.113.{i}")
            } else {
                format!("192.0.2.{}", i - 100)
            };
            Flow::out(&host, 443, T0 + i64::from(i) / 2)
        })
        .collect();
    let c = detect(&[(&key(0), &V5, &flows)]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
}

// ---------------------------------------------------------------------------------------------
// PortProbeUnprotectedPort

#[test]
fn an_accepted_probe_from_a_managed_list_host_is_a_low_finding() {
    let c = detect(&[(&key(0), &V5, &[Flow::inbound(SCANNER, 22, T0)])]);
    assert_eq!(c.findings.len(), 1, "{:#?}", brief(&c.findings));
    let f = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.remote_ip, Some(ip(SCANNER)));
    assert_eq!(f.count, 1);
    let hit = f.intel.as_ref().expect("the list entry");
    assert_eq!(hit.kind, ListKind::Managed);
    assert_eq!(hit.list, "scanners");
    assert_eq!(hit.entry, "198.51.100.0/24");
    let n = net(f);
    assert_eq!(n.ports.len(), 1);
    assert_eq!(n.ports[0].port, 22);
    assert_eq!(n.ports[0].name.as_deref(), Some("SSH"));
    assert!(!n.blocked);
    assert_eq!(ec2(f).instance_id.as_deref(), Some(INSTANCE));
    assert_eq!(ec2(f).local_ip, Some(ip(LOCAL)));

    let v = asff(f);
    assert_eq!(
        at(&v, "/Types/0"),
        "TTPs/Discovery/Recon:EC2-PortProbeUnprotectedPort"
    );
    assert_eq!(at(&v, "/Severity/Label"), "LOW");
    assert_eq!(at(&v, "/Resources/0/Type"), "AwsEc2Instance");
    assert_eq!(at(&v, "/Action/ActionType"), "PORT_PROBE");
    let detail = at(&v, "/Action/PortProbeAction/PortProbeDetails/0");
    assert_eq!(at(detail, "/LocalPortDetails/Port"), 22);
    assert_eq!(at(detail, "/LocalPortDetails/PortName"), "SSH");
    assert_eq!(at(detail, "/RemoteIpDetails/IpAddressV4"), SCANNER);
    assert_eq!(at(&v, "/Action/PortProbeAction/Blocked"), false);
    assert_eq!(at(&v, "/Network/Direction"), "IN");
    assert_eq!(at(&v, "/Network/SourceIpV4"), SCANNER);
    assert_eq!(at(&v, "/Network/DestinationIpV4"), LOCAL);
    assert_eq!(at(&v, "/Network/DestinationPort"), 22);
    assert_eq!(at(&v, "/ThreatIntelIndicators/0/Value"), SCANNER);
    assert_eq!(at(&v, "/ThreatIntelIndicators/0/Source"), "scanners");
    assert_eq!(at(&v, "/ProductFields/recon~1threat-list~1kind"), "managed");
    assert_eq!(
        at(&v, "/ProductFields/recon~1threat-list~1entry"),
        "198.51.100.0/24"
    );
}

#[test]
fn an_accepted_probe_from_a_custom_list_host_is_a_finding() {
    let c = detect(&[(&key(0), &V2, &[Flow::inbound(CUSTOM_BAD, 3389, T0)])]);
    let f = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(f.severity, Severity::Low);
    let hit = f.intel.as_ref().expect("the list entry");
    assert_eq!(
        (hit.kind, hit.list.as_str(), hit.entry.as_str()),
        (ListKind::Custom, "my-blocklist", CUSTOM_BAD)
    );
    assert_eq!(net(f).ports[0].port, 3389);
    assert_eq!(net(f).ports[0].name.as_deref(), Some("RDP"));
    let v = asff(f);
    assert_eq!(at(&v, "/Resources/0/Type"), "AwsEc2NetworkInterface");
    assert_eq!(at(&v, "/ProductFields/recon~1threat-list~1kind"), "custom");
}

#[test]
fn a_custom_list_entry_wins_over_a_managed_one() {
    let mut intel = intel();
    intel.add(ListKind::Custom, ip_set("watch", &[SCANNER]));
    let mut b = Batch::new(EngineConfig::default(), intel, Suppressions::default());
    b.scan_flows(&key(0), &V5, &[Flow::inbound(SCANNER, 22, T0)]);
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    let f = single(&c.findings, PortProbeUnprotectedPort);
    let hit = f.intel.as_ref().expect("the list entry");
    assert_eq!((hit.kind, hit.list.as_str()), (ListKind::Custom, "watch"));
}

#[test]
fn probes_of_elasticsearch_ports_are_high() {
    for port in [9200, 9300] {
        let c = detect(&[(&key(0), &V5, &[Flow::inbound(SCANNER, port, T0)])]);
        let f = single(&c.findings, PortProbeUnprotectedPort);
        assert_eq!(f.severity, Severity::High, "port {port}");
        assert_eq!(net(f).ports[0].name.as_deref(), Some("Elasticsearch"));
        assert_eq!(at(&asff(f), "/Severity/Label"), "HIGH");
    }
    // A low probe first, Elasticsearch next: the one finding becomes High.
    let flows = [
        Flow::inbound(SCANNER, 22, T0),
        Flow::inbound(SCANNER, 9200, T0 + 5),
    ];
    let c = detect(&[(&key(0), &V5, &flows)]);
    let f = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(f.severity, Severity::High);
    let mut seen = ports(f);
    seen.sort_unstable();
    assert_eq!(seen, [22, 9200]);
}

#[test]
fn rejected_probes_are_not_findings() {
    let flows: Vec<Flow> = [22, 80, 9200]
        .into_iter()
        .map(|p| Flow::inbound(SCANNER, p, T0).reject())
        .collect();
    for format in [&V2, &V5] {
        let c = detect(&[(&key(0), format, &flows)]);
        assert!(
            c.findings.is_empty(),
            "{format:?}: {:#?}",
            brief(&c.findings)
        );
    }
}

#[test]
fn a_trusted_host_is_never_a_probe_finding() {
    let flows = [
        Flow::inbound(TRUSTED, 22, T0),
        Flow::inbound(TRUSTED, 9200, T0 + 1),
    ];
    let c = detect(&[(&key(0), &V5, &flows)]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    // Its neighbour in the same managed /24 is not trusted.
    let c = detect(&[(&key(0), &V5, &[Flow::inbound(SCANNER_2, 22, T0)])]);
    assert_eq!(
        single(&c.findings, PortProbeUnprotectedPort).remote_ip,
        Some(ip(SCANNER_2))
    );
}

#[test]
fn an_unlisted_host_is_not_a_probe_finding() {
    let c = detect(&[(&key(0), &V5, &[Flow::inbound(CLIENT, 22, T0)])]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
}

#[test]
fn replies_to_connections_the_instance_opened_are_not_probes() {
    // The instance fetches from a listed host's HTTPS port; the replies come in from 443 to an
    // ephemeral port.
    let mut flows = Vec::new();
    for (i, flags) in [Some(18), Some(19), Some(18)].into_iter().enumerate() {
        let t = T0 + i as i64 * 10;
        let eph = 51000 + i as u16;
        flows.push(Flow::out(SCANNER, 443, t).ports(eph, 443));
        flows.push(Flow::inbound(SCANNER, eph, t).ports(443, eph).flags(flags));
    }
    let c = detect(&[(&key(0), &V5, &flows)]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    // Without tcp-flags or flow-direction the ports tell the same.
    let bare: Vec<Flow> = flows.iter().cloned().map(|f| f.flags(None)).collect();
    let c = detect(&[(&key(0), &V2, &bare)]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
}

// ---------------------------------------------------------------------------------------------
// IPv6

#[test]
fn ipv6_probe_from_a_listed_scanner_is_found_and_renders_valid_asff() {
    let flows = [Flow::inbound(SCANNER_V6, 22, T0).local(LOCAL_V6)];
    for format in [&V2, &V5] {
        let c = detect(&[(&key(0), format, &flows)]);
        let f = single(&c.findings, PortProbeUnprotectedPort);
        assert_eq!(f.remote_ip, Some(ip(SCANNER_V6)));
        assert_eq!(ec2(f).local_ip, Some(ip(LOCAL_V6)));
        assert_eq!(
            f.intel.as_ref().map(|h| h.entry.as_str()),
            Some("2001:db8:bad::/48")
        );
        let v = asff(f);
        assert_eq!(at(&v, "/Network/SourceIpV6"), SCANNER_V6);
        assert_eq!(at(&v, "/Network/DestinationIpV6"), LOCAL_V6);
        assert_eq!(at(&v, "/ThreatIntelIndicators/0/Type"), "IPV6_ADDRESS");
        let detail = at(&v, "/Action/PortProbeAction/PortProbeDetails/0");
        assert_eq!(at(detail, "/LocalPortDetails/Port"), 22);
        assert!(
            at(detail, "/RemoteIpDetails").is_null(),
            "ASFF has no IPv6 there"
        );
    }
}

#[test]
fn ipv6_portscan_is_found_and_renders_valid_asff() {
    let flows = sweep(TARGET_V6, 1000, 16, T0, 10);
    for format in [&V2, &V5] {
        let c = detect(&[(&key(0), format, &flows)]);
        let f = single(&c.findings, Portscan);
        assert_eq!(f.remote_ip, Some(ip(TARGET_V6)));
        assert_eq!(ec2(f).local_ip, Some(ip(LOCAL_V6)));
        let v = asff(f);
        assert_eq!(at(&v, "/Action/ActionType"), "NETWORK_CONNECTION");
        assert!(at(&v, "/Action/NetworkConnectionAction/RemoteIpDetails").is_null());
        assert_eq!(at(&v, "/Network/SourceIpV6"), LOCAL_V6);
        assert_eq!(at(&v, "/Network/DestinationIpV6"), TARGET_V6);
        assert_eq!(at(&v, "/ProductFields/recon~1remote-ip"), TARGET_V6);
    }
}

#[test]
fn ipv6_with_global_addresses_in_a_v2_log_is_placed_by_the_address_every_record_shares() {
    // VPC IPv6 addresses are global: a v2 record (no flow-direction) has no private side. The
    // interface's own address is on each of its records, so a second peer names it, and the
    // scan read before that is evaluated then.
    let me = "2600:1f18:aa::15";
    let mut flows: Vec<Flow> = sweep(TARGET_V6, 1000, 16, T0, 5)
        .into_iter()
        .map(|f| f.local(me))
        .collect();
    flows.push(Flow::inbound(SCANNER_V6, 22, T0 + 90).local(me));
    flows.push(Flow::inbound(SCANNER_V6, 9200, T0 + 95).local(me));
    let c = detect(&[(&key(0), &V2, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert_eq!(scan.remote_ip, Some(ip(TARGET_V6)));
    assert_eq!(net(scan).distinct_ports, Some(16));
    assert_eq!(ec2(scan).local_ip, Some(ip(me)));
    let probe = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(probe.remote_ip, Some(ip(SCANNER_V6)));
    assert_eq!(probe.severity, Severity::High);
    assert_eq!(probe.count, 2);
}

#[test]
fn ipv6_records_of_one_peer_only_stay_unplaced_rather_than_guessed() {
    // Nothing tells which of two global addresses is the interface's: no finding, rather than
    // a scan blamed on its target.
    let flows: Vec<Flow> = sweep(TARGET_V6, 1000, 16, T0, 5)
        .into_iter()
        .map(|f| f.local("2600:1f18:aa::15"))
        .collect();
    let c = detect(&[(&key(0), &V2, &flows)]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
}

// ---------------------------------------------------------------------------------------------
// Aggregation

#[test]
fn repeated_probes_from_one_host_update_one_finding() {
    let mut store = MemoryStore::default();
    let mut run1 = Batch::standard().resume(&store);
    run1.scan_flows(
        &key(0),
        &V5,
        &[
            Flow::inbound(SCANNER, 22, T0),
            Flow::inbound(SCANNER, 22, T0 + 10),
            Flow::inbound(SCANNER, 80, T0 + 20),
        ],
    );
    let c1 = run1.commit(&mut store, NOW_MS);
    assert_eq!((c1.findings.len(), c1.created), (1, 1));
    let first = single(&c1.findings, PortProbeUnprotectedPort).clone();
    assert_eq!(first.count, 3);
    assert_eq!(ports(&first), [22, 80], "most probed first");
    assert_eq!(net(&first).ports[0].count, 2);

    // The next run, committed at the same wall-clock time: still one finding, UpdatedAt moves.
    let mut run2 = Batch::standard().resume(&store);
    run2.scan_flows(
        &key(5),
        &V5,
        &[
            Flow::inbound(SCANNER, 22, T0 + 300),
            Flow::inbound(SCANNER, 443, T0 + 310),
        ],
    );
    let c2 = run2.commit(&mut store, NOW_MS);
    assert_eq!((c2.findings.len(), c2.created), (1, 0));
    let f = single(&c2.findings, PortProbeUnprotectedPort);
    assert_eq!(f.id, first.id);
    assert_eq!(f.count, 5);
    assert!(f.updated_at > first.updated_at, "UpdatedAt strictly later");
    assert_eq!(f.created_at, first.created_at);
    assert_eq!(f.first_seen, Timestamp::from_secs(T0));
    assert_eq!(f.last_seen, Timestamp::from_secs(T0 + 310));
    assert_eq!(net(f).ports[0].port, 22);
    assert_eq!(net(f).ports[0].count, 3);
    let v = asff(f);
    assert_eq!(at(&v, "/ProductFields/recon~1count"), "5");
    assert_ne!(at(&v, "/UpdatedAt"), at(&v, "/CreatedAt"));
    assert_eq!(store.findings.len(), 1);

    // A second scanner is a second finding for the same instance.
    let mut run3 = Batch::standard().resume(&store);
    run3.scan_flows(&key(10), &V5, &[Flow::inbound(SCANNER_2, 22, T0 + 600)]);
    let c3 = run3.commit(&mut store, NOW_MS + 1);
    assert_eq!(c3.created, 1);
    assert_eq!(store.findings.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Suppression

/// A Portscan of [`TARGET`] and probes from [`SCANNER`] (port 22) and [`CUSTOM_BAD`] (port
/// 3389) under `rules`, the instance id written when `instance`; returns the types suppressed
/// (by the rule named "the rule") and `type@remote` of the findings kept.
fn suppressed_run(rules: &str, format: &Format, instance: bool) -> (Vec<FindingType>, Vec<String>) {
    let rules = Suppressions::parse("rules.toml", rules).expect("valid rules");
    let mut flows = sweep(TARGET, 1000, 16, T0, 5);
    flows.push(Flow::inbound(SCANNER, 22, T0 + 1));
    flows.push(Flow::inbound(CUSTOM_BAD, 3389, T0 + 2));
    if !instance {
        flows = flows.into_iter().map(Flow::no_instance).collect();
    }
    let mut b = Batch::new(EngineConfig::default(), intel(), rules);
    b.scan_flows(&key(0), format, &flows);
    b.assert_clean();
    let mut store = MemoryStore::default();
    let c = b.commit(&mut store, NOW_MS);
    assert_eq!(
        c.findings.len() + c.suppressed.len(),
        3,
        "{:#?}",
        brief(&c.findings)
    );
    assert_eq!(
        store.findings.len(),
        c.findings.len(),
        "suppressed findings are not stored"
    );
    let mut suppressed: Vec<FindingType> = c.suppressed.iter().map(|(t, _)| *t).collect();
    suppressed.sort();
    let kept: Vec<String> = c
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}@{}",
                f.finding_type,
                f.remote_ip.map(|i| i.to_string()).unwrap_or_default()
            )
        })
        .collect();
    for (_, rule) in &c.suppressed {
        assert_eq!(rule, "the rule");
    }
    (suppressed, kept)
}

#[test]
fn suppression_by_instance_drops_its_portscan() {
    let rules = format!(
        "[[rule]]\nname = \"the rule\"\nfinding_type = \"Recon:EC2/Portscan\"\ninstance = \"{INSTANCE}\"\n"
    );
    let (suppressed, kept) = suppressed_run(&rules, &V5, true);
    assert_eq!(suppressed, [Portscan]);
    assert_eq!(kept.len(), 2, "{kept:?}");
    // Another instance's scan is not matched.
    let other = rules.replace(INSTANCE, "i-0fffffffffffffff0");
    let (suppressed, _) = suppressed_run(&other, &V5, true);
    assert!(suppressed.is_empty());
}

#[test]
fn suppression_by_interface_drops_every_finding_of_that_interface() {
    let rules = format!("[[rule]]\nname = \"the rule\"\ninterface = \"{ENI}\"\n");
    // With or without the instance id in the log.
    for (format, instance) in [(&V2, false), (&V5, true)] {
        let (suppressed, kept) = suppressed_run(&rules, format, instance);
        assert_eq!(
            suppressed,
            [PortProbeUnprotectedPort, PortProbeUnprotectedPort, Portscan]
        );
        assert!(kept.is_empty(), "{kept:?}");
    }
}

#[test]
fn suppression_by_cidr_drops_findings_about_those_remote_hosts() {
    let rules = "[[rule]]\nname = \"the rule\"\ncidr = \"198.51.100.0/24\"\n";
    let (suppressed, kept) = suppressed_run(rules, &V5, true);
    assert_eq!(suppressed, [PortProbeUnprotectedPort]);
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|k| !k.ends_with(SCANNER)), "{kept:?}");
    let rules = format!("[[rule]]\nname = \"the rule\"\ncidr = \"{TARGET}\"\n");
    let (suppressed, _) = suppressed_run(&rules, &V5, true);
    assert_eq!(suppressed, [Portscan]);
}

#[test]
fn suppression_by_port_drops_probes_of_that_port() {
    let rules = "[[rule]]\nname = \"the rule\"\nport = 22\n";
    let (suppressed, kept) = suppressed_run(rules, &V5, true);
    assert_eq!(suppressed, [PortProbeUnprotectedPort]);
    assert!(kept.iter().any(|k| k.ends_with(CUSTOM_BAD)), "{kept:?}");
    assert!(
        kept.iter().any(|k| k.starts_with("Recon:EC2/Portscan")),
        "{kept:?}"
    );
}

#[test]
fn a_high_probe_names_its_port_first_among_many() {
    // Thirty ports probed twice each, then 9200 once: the bounded evidence still holds 9200,
    // and the title and network details name it.
    let mut flows: Vec<Flow> = (1..=30)
        .flat_map(|p| {
            [
                Flow::inbound(SCANNER, p, T0 + i64::from(p)),
                Flow::inbound(SCANNER, p, T0 + 40),
            ]
        })
        .collect();
    flows.push(Flow::inbound(SCANNER, 9200, T0 + 60));
    let c = detect(&[(&key(0), &V5, &flows)]);
    let f = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(net(f).ports[0].port, 9200);
    let v = asff(f);
    assert_eq!(at(&v, "/Network/DestinationPort"), 9200);
    let title = at(&v, "/Title");
    assert!(
        title.as_str().is_some_and(|t| t.contains("9200")),
        "{title}"
    );
    let first = "/Action/PortProbeAction/PortProbeDetails/0/LocalPortDetails/Port";
    assert_eq!(at(&v, first), 9200);
}

#[test]
fn a_port_rule_suppresses_that_port_s_probes_not_a_high_probe_of_the_same_host() {
    // One listed host probes SSH and then Elasticsearch: the rule for 22 takes the SSH probes
    // out; the 9200 probe still raises its High finding, with only 9200 in it.
    let rules = "[[rule]]\nname = \"ssh is fine\"\nport = 22\n";
    let rules = Suppressions::parse("rules.toml", rules).expect("valid rules");
    let flows = [
        Flow::inbound(SCANNER, 22, T0),
        Flow::inbound(SCANNER, 22, T0 + 5),
        Flow::inbound(SCANNER, 9200, T0 + 10),
    ];
    let mut b = Batch::new(EngineConfig::default(), intel(), rules.clone());
    b.scan_flows(&key(0), &V5, &flows);
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    let f = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.count, 1);
    let ports: Vec<u16> = net(f).ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, [9200]);
    assert!(
        c.suppressed.is_empty(),
        "the finding was raised: {:?}",
        c.suppressed
    );
    // Only SSH probes: the finding is suppressed, and counted once.
    let mut b = Batch::new(EngineConfig::default(), intel(), rules);
    b.scan_flows(&key(0), &V5, &flows[..2]);
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    assert_eq!(
        c.suppressed,
        [(PortProbeUnprotectedPort, "ssh is fine".to_owned())]
    );
}

// ---------------------------------------------------------------------------------------------
// Memory bound

#[test]
fn two_hundred_thousand_hosts_over_two_hours_leave_few_open_windows() {
    const FLOWS: u32 = 200_000;
    const SPAN_S: i64 = 2 * 3600;
    const OBJECTS: u32 = 24; // one every five minutes
    let host = |n: u32| format!("2001:db8:{:x}:{:x}::1", n >> 16, n & 0xffff);
    let per_object = FLOWS / OBJECTS + 1;
    let mut b = Batch::standard();
    let mut written = 0u32;
    for n in 0..OBJECTS {
        let mut body = V5.fields.join(" ");
        body.push('\n');
        for _ in 0..per_object {
            if written == FLOWS {
                break;
            }
            let t = T0 + i64::from(written) * SPAN_S / i64::from(FLOWS);
            body.push_str(&Flow::out(&host(written), 443, t).line(&V5));
            body.push('\n');
            written += 1;
        }
        b.scan(&key(n), gzip(body.as_bytes()));
    }
    assert_eq!(written, FLOWS);
    b.assert_clean();
    let records: u64 = b.reports.iter().map(|r| r.records).sum();
    assert_eq!(records, u64::from(FLOWS));
    let mut store = MemoryStore::default();
    let c = b.commit(&mut store, NOW_MS + 2 * 3_600_000);
    assert!(c.findings.is_empty(), "one port per host is no scan");
    assert_eq!(c.objects, OBJECTS as usize);

    let blob = store
        .state
        .get(STATE_KEY)
        .expect("the last windows are stored");
    let text = String::from_utf8_lossy(blob);
    // One port per host: only hosts of the last window (5 of 120 minutes: about 8,300 of
    // 200,000) can be open; such windows get no late allowance.
    let quoted = |n: u32| format!("\"{}\"", ip(&host(n)));
    assert!(
        !text.contains(&quoted(0)),
        "the first host's window was kept"
    );
    assert!(
        !text.contains(&quoted(FLOWS / 2)),
        "a host of an hour ago was kept"
    );
    assert!(
        text.contains(&quoted(FLOWS - 1)),
        "the last host's window is open"
    );
    let open = serde_json::from_slice::<serde_json::Value>(blob)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len));
    if let Some(open) = open {
        let bound = FLOWS as usize / 24 * 11 / 10;
        assert!(
            open <= bound,
            "{open} windows stored, expected at most {bound}"
        );
    }
    eprintln!(
        "stored Portscan state: {} bytes, {open:?} windows",
        blob.len()
    );
    assert!(
        blob.len() < 4 << 20,
        "stored state is {} bytes for ~8,300 open windows",
        blob.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Mixed folder

#[test]
fn a_cloudtrail_object_and_a_flow_log_in_one_batch_both_produce_findings() {
    let time = Timestamp::from_secs(T0).to_rfc3339();
    let trail = json!({"Records": [{
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEALICE0001",
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLEALICE0001",
            "userName": "alice"
        },
        "eventTime": time,
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": REGION,
        "sourceIPAddress": SCANNER,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": null,
        "responseElements": null,
        "requestID": "0f0e0d0c-0000-4000-8000-000000000001",
        "eventID": "0f0e0d0c-0000-4000-8000-000000000002",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT
    }]});
    let trail_key = format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/09/21/\
         {ACCOUNT}_CloudTrail_{REGION}_20260921T1200Z_a1b2c3d4.json.gz"
    );
    let mut b = Batch::standard();
    let ct = b
        .scan(&trail_key, gzip(trail.to_string().as_bytes()))
        .clone();
    assert_eq!(ct.kind, Some(ObjectKind::CloudTrail));
    assert_eq!(ct.evaluated, 1);
    let fl = b.scan_flows(&key(0), &V5, &scan_and_probe()).clone();
    assert_eq!(fl.kind, Some(ObjectKind::FlowLog));
    b.assert_clean();
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert_eq!(c.objects, 2);
    let mut types: Vec<FindingType> = c.findings.iter().map(|f| f.finding_type).collect();
    types.sort();
    assert_eq!(
        types,
        [
            PortProbeUnprotectedPort,
            Portscan,
            FindingType::MaliciousIpCaller
        ],
        "{:#?}",
        brief(&c.findings)
    );
}

// ---------------------------------------------------------------------------------------------
// Real data

/// The real-data scanners the OpenSearch log must show probing, both in firehol_level1.
const REAL_SCANNERS: [&str; 2] = ["89.248.165.46", "185.254.196.238"];

#[test]
fn every_real_flow_log_scans_without_issues() {
    let Some(root) = corpus("every_real_flow_log_scans_without_issues") else {
        return;
    };
    let mut b = Batch::standard();
    let mut flow_logs = 0;
    for path in files_under(&root.join("vpc-flow-logs")) {
        let name = path.display().to_string();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = b.scan(&name, bytes).clone();
        eprintln!(
            "{name}: {:?}, {} records, {} evaluated",
            r.kind, r.records, r.evaluated
        );
        if r.kind == Some(ObjectKind::FlowLog) {
            flow_logs += 1;
            assert!(r.records > 0, "{name}");
        }
    }
    b.assert_clean();
    assert!(flow_logs >= 7, "{flow_logs} flow logs recognised");
    b.commit(&mut MemoryStore::default(), NOW_MS);
}

#[test]
fn opensearch_raw_log_yields_port_probes_for_real_scanners() {
    let Some(root) = corpus("opensearch_raw_log_yields_port_probes_for_real_scanners") else {
        return;
    };
    let list = root.join("threat-lists/firehol_via_o4isec/firehol_level1.netset");
    let mut intel = ThreatIntel::default();
    intel
        .load_file(ListKind::Managed, &list)
        .unwrap_or_else(|e| panic!("{}: {e}", list.display()));
    for s in REAL_SCANNERS {
        assert!(
            intel.lookup(ip(s)).managed.is_some(),
            "{s} is not in firehol_level1 any more: update the test"
        );
    }
    let mut config = EngineConfig::default();
    config
        .set_account_id("--account-id", "347283850106")
        .expect("account");
    let path = root.join("vpc-flow-logs/opensearch-catalog_aws_vpc_flow/raw.log");
    let name = path.display().to_string();
    let mut b = Batch::new(config, intel.clone(), Suppressions::default());
    let r = b
        .scan(
            &name,
            std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}")),
        )
        .clone();
    b.assert_clean();
    assert_eq!(r.kind, Some(ObjectKind::FlowLog));
    assert_eq!(r.records, 775);
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert!(
        of_type(&c.findings, Portscan).is_empty(),
        "{:#?}",
        brief(&c.findings)
    );
    let probes = of_type(&c.findings, PortProbeUnprotectedPort);
    for s in REAL_SCANNERS {
        let found = probes.iter().find(|f| f.remote_ip == Some(ip(s)));
        let f =
            found.unwrap_or_else(|| panic!("no probe finding for {s}: {:#?}", brief(&c.findings)));
        assert_eq!(f.account_id, "347283850106");
        assert_eq!(
            f.intel.as_ref().map(|h| h.list.as_str()),
            Some("firehol_level1")
        );
        assert!(ec2(f).interface_id.is_some());
    }
    for f in &probes {
        let remote = f.remote_ip.expect("remote address");
        assert!(
            intel.lookup(remote).managed.is_some(),
            "{remote} is not listed"
        );
        assert!(!net(f).blocked);
    }
    eprintln!("{} probe findings: {:#?}", probes.len(), brief(&c.findings));
}

// ---------------------------------------------------------------------------------------------
// Engine bugs: each test fails today.

#[test]
fn regression_a_header_starting_with_instance_id_is_a_flow_log() {
    let format = Format {
        fields: &[
            "instance-id",
            "interface-id",
            "srcaddr",
            "dstaddr",
            "srcport",
            "dstport",
            "protocol",
            "tcp-flags",
            "start",
            "action",
            "log-status",
        ],
        version: 3,
        header: true,
    };
    let mut b = Batch::standard();
    let r = b.scan_flows(&key(0), &format, &scan_and_probe()).clone();
    assert_eq!(r.kind, Some(ObjectKind::FlowLog), "{r:?}");
    assert_eq!(
        b.commit(&mut MemoryStore::default(), NOW_MS).findings.len(),
        2
    );
}

#[test]
fn regression_halves_twenty_minutes_apart_scanned_in_reverse_order_are_not_a_scan() {
    let c = detect(&[
        (&key(20), &V5, &second_half(20 * 60)),
        (&key(0), &V5, &first_half()),
    ]);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
}

#[test]
fn regression_a_tab_separated_first_line_is_a_flow_log() {
    let body = text(&V2, &scan_and_probe()).replace(' ', "\t");
    let mut b = Batch::standard();
    let r = b.scan(&key(0), gzip(body.as_bytes())).clone();
    assert_eq!(r.kind, Some(ObjectKind::FlowLog), "{r:?}");
    assert_eq!(r.records, 17);
}

#[test]
fn regression_a_scan_read_later_half_first_spans_all_its_flows() {
    let c = detect(&[
        (&key(5), &V5, &second_half(120)),
        (&key(0), &V5, &first_half()),
    ]);
    let f = single(&c.findings, Portscan);
    assert_eq!(f.first_seen, Timestamp::from_secs(T0), "FirstObservedAt");
    assert_eq!(
        f.last_seen,
        Timestamp::from_secs(T0 + 190),
        "LastObservedAt"
    );
}

#[test]
fn regression_a_batch_without_flow_logs_keeps_the_stored_windows() {
    let mut store = MemoryStore::default();
    let mut run1 = Batch::standard().resume(&store);
    run1.scan_flows(&key(0), &V5, &first_half());
    run1.commit(&mut store, NOW_MS);
    assert!(store.state.contains_key(STATE_KEY));
    // A CloudTrail-only batch: load_flow_state is documented as needed before flow logs only.
    let trail = json!({"Records": []}).to_string();
    let mut ct = Batch::standard();
    ct.scan(
        &format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/09/21/ct.json"),
        trail.into_bytes(),
    );
    ct.commit(&mut store, NOW_MS + 60_000);
    assert!(
        store.state.contains_key(STATE_KEY),
        "the open windows were deleted"
    );
    let mut run2 = Batch::standard().resume(&store);
    run2.scan_flows(&key(5), &V5, &second_half(120));
    let c = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert_eq!(of_type(&c.findings, Portscan).len(), 1);
}

#[test]
#[ignore = "engine limitation: in a v2 log without flow-direction, flows between two private addresses have no known local side, so an internal scan by an instance that never talked to a public host is missed"]
fn limitation_v2_scan_of_an_internal_host_is_found() {
    let c = detect(&[(&key(0), &V2, &sweep("10.0.2.30", 1, 20, T0, 3))]);
    assert_eq!(
        of_type(&c.findings, Portscan).len(),
        1,
        "{:#?}",
        brief(&c.findings)
    );
}

#[test]
fn regression_stored_portscan_state_of_ten_thousand_windows_is_under_a_mebibyte() {
    let flows: Vec<Flow> = (0..10_000u32)
        .map(|n| {
            let host = format!("2001:db8:{:x}:{:x}::1", n >> 16, n & 0xffff);
            Flow::out(&host, 443, T0 + i64::from(n) / 50)
        })
        .collect();
    let mut store = MemoryStore::default();
    let mut b = Batch::standard();
    b.scan_flows(&key(0), &V5, &flows);
    b.commit(&mut store, NOW_MS);
    let blob = store.state.get(STATE_KEY).expect("open windows");
    assert!(blob.len() < 1 << 20, "{} bytes", blob.len());
}

#[test]
fn regression_damage_in_the_compressed_data_keeps_the_lines_decoded_before_it() {
    // A scan, then enough other traffic that the damage and the scan lie in the decoder's
    // first piece: that piece was lost whole, and with it the object ("corrupt deflate stream",
    // unreadable, no finding).
    let mut flows = sweep(TARGET, 20, 16, T0, 5);
    flows.extend((0..700u16).map(|i| {
        let remote = format!("198.51.{}.{}", i / 250, i % 250);
        Flow::out(&remote, 443, T0 + 100 + i64::from(i)).ports(33000 + i, 443)
    }));
    let plain = text(&V5, &flows);
    assert!(plain.len() < 200 << 10, "{} bytes", plain.len());
    let good = gzip(plain.as_bytes());
    let decoded_before_error = |gz: &[u8]| {
        let mut out = Vec::new();
        let failed = std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out);
        // Read in small steps, as the output before an error is what a careful reader keeps.
        let mut small = flate2::read::GzDecoder::new(gz);
        let (mut kept, mut buf) = (0usize, [0u8; 512]);
        while let Ok(n @ 1..) = std::io::Read::read(&mut small, &mut buf) {
            kept += n;
        }
        failed.is_err().then_some(kept)
    };
    let (damaged, kept) = (good.len() * 3 / 4..good.len() - 8)
        .find_map(|at| {
            let mut bad = good.clone();
            bad[at] ^= 0xFF;
            decoded_before_error(&bad)
                .filter(|kept| (plain.len() / 2..plain.len() - 4096).contains(kept))
                .map(|kept| (bad, kept))
        })
        .expect("a one-byte damage that stops the decoder well before the end");
    let lines_kept = plain[..kept].matches('\n').count() as u64;

    let mut b = Batch::standard();
    let r = b.scan(&key(0), damaged).clone();
    let fatal = r.fatal.clone().expect("the damage ends the object");
    assert!(fatal.contains("corrupt gzip stream"), "{fatal}");
    // Every whole line decoded before the damage counts (the header is line 1), as a record
    // or, where the damage garbled it before the decoder noticed, as a malformed line.
    let read = r.records + r.issue_count;
    assert!(read >= lines_kept - 1, "{read} of {lines_kept}: {fatal}");
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert_eq!(net(single(&c.findings, Portscan)).distinct_ports, Some(16));
}

/// The Portscan of `findings`, with its interface and local address.
fn scan_side(findings: &[recon_core::finding::Finding]) -> (Option<String>, Option<IpAddr>, u64) {
    let scan = single(findings, Portscan);
    (
        ec2(scan).interface_id.clone(),
        ec2(scan).local_ip,
        scan.count,
    )
}

#[test]
fn regression_nat_gateway_traffic_is_placed_by_the_interface_addresses() {
    // A NAT gateway's interface (10.0.0.220) logs each connection twice: in from the instance
    // behind it (pkt-dstaddr the internet host), out to the host. The packet-level addresses
    // placed the ingress record's far end as the interface's own: the finding had the host as
    // both Source and Destination, and counted each connection twice without flow-direction.
    const NAT: &str = "10.0.0.220";
    const BEHIND: &str = "10.0.1.5";
    let mut flows = Vec::new();
    for p in 0..16u16 {
        let t = T0 + i64::from(p);
        let mut inbound = Flow::out(TARGET, 1000 + p, t).no_instance();
        (inbound.src, inbound.dst) = (BEHIND.into(), NAT.into());
        (inbound.pkt_src, inbound.pkt_dst) = (Some(BEHIND.into()), Some(TARGET.into()));
        inbound.direction = Some("ingress");
        let mut out = Flow::out(TARGET, 1000 + p, t).no_instance().local(NAT);
        (out.pkt_src, out.pkt_dst) = (Some(NAT.into()), Some(TARGET.into()));
        flows.extend([inbound, out]);
    }
    for format in [&V5, &V3] {
        let c = detect(&[(&key(0), format, &flows)]);
        let scan = single(&c.findings, Portscan);
        assert_eq!(scan.remote_ip, Some(ip(TARGET)), "{format:?}");
        assert_eq!(
            scan_side(&c.findings),
            (Some(ENI.into()), Some(ip(NAT)), 16)
        );
        let v = asff(scan);
        assert_eq!(at(&v, "/Network/SourceIpV4"), NAT);
        assert_eq!(at(&v, "/Network/DestinationIpV4"), TARGET);
    }
}

#[test]
fn regression_findings_name_the_interface_of_an_instance_with_two() {
    // The first interface seen named every finding of the instance, with its address, and a
    // suppression rule for the second interface matched nothing.
    const ENI_2: &str = "eni-0bbbbbbbbbbbbbbb2";
    let first = Flow::out("198.51.200.20", 443, T0 - 10);
    let mut flows = vec![first];
    flows.extend(
        sweep(TARGET, 2000, 16, T0, 5)
            .into_iter()
            .chain([Flow::inbound(SCANNER, 22, T0 + 3)])
            .map(|f| f.eni(ENI_2, Some(INSTANCE)).local("10.0.2.5")),
    );
    let c = detect(&[(&key(0), &V5, &flows)]);
    assert_eq!(
        scan_side(&c.findings),
        (Some(ENI_2.into()), Some(ip("10.0.2.5")), 16)
    );
    let probe = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(ec2(probe).interface_id.as_deref(), Some(ENI_2));
    assert_eq!(ec2(probe).local_ip, Some(ip("10.0.2.5")));
    assert_eq!(ec2(probe).instance_id.as_deref(), Some(INSTANCE));

    let rules = format!("[[rule]]\nname = \"second\"\ninterface = \"{ENI_2}\"\n");
    let rules = Suppressions::parse("rules.toml", &rules).expect("valid rules");
    let mut b = Batch::new(EngineConfig::default(), intel(), rules);
    b.scan_flows(&key(0), &V5, &flows);
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    assert_eq!(c.suppressed.len(), 2, "{:?}", c.suppressed);
}

#[test]
fn regression_a_v3_internal_scan_from_an_instances_second_interface_is_found() {
    // Without flow-direction, the first interface's address stood for the instance's: records
    // of the second, between two private hosts, matched neither side and were never placed.
    const ENI_2: &str = "eni-0bbbbbbbbbbbbbbb2";
    let mut flows = vec![Flow::out("198.51.200.20", 443, T0 - 10)];
    flows.push(Flow::out("10.0.3.10", 443, T0 - 5));
    flows.extend(sweep("10.0.3.9", 2000, 16, T0, 5));
    let flows: Vec<Flow> = flows
        .into_iter()
        .enumerate()
        .map(|(i, f)| match i {
            0 => f,
            _ => f.eni(ENI_2, Some(INSTANCE)).local("10.0.2.5"),
        })
        .collect();
    let c = detect(&[(&key(0), &V3, &flows)]);
    assert_eq!(
        scan_side(&c.findings),
        (Some(ENI_2.into()), Some(ip("10.0.2.5")), 16),
        "{:#?}",
        brief(&c.findings)
    );
}

#[test]
fn regression_pods_behind_a_node_interface_do_not_hide_its_address() {
    // Pods' packet-level addresses differ from record to record while the node's interface
    // address stays: read by packet addresses, the database every pod talks to looked like
    // the interface's own address, and a pod's internal scan was missed.
    let pod = |f: Flow, pod: &str| {
        let mut f = f.local("10.0.1.5");
        (f.pkt_src, f.pkt_dst) = (Some(pod.into()), Some(f.dst.clone()));
        f
    };
    let mut flows = vec![
        pod(Flow::out("10.0.3.9", 5432, T0 - 20), "10.0.1.77"),
        pod(Flow::out("10.0.3.9", 5432, T0 - 19), "10.0.1.78"),
    ];
    flows.extend(
        sweep("10.0.3.50", 2000, 16, T0, 5)
            .into_iter()
            .map(|f| pod(f, "10.0.1.77")),
    );
    let c = detect(&[(&key(0), &V3, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert_eq!(scan.remote_ip, Some(ip("10.0.3.50")));
    assert_eq!(ec2(scan).local_ip, Some(ip("10.0.1.77")), "the pod scanned");
}

#[test]
fn regression_a_suppressed_scan_stays_suppressed_as_it_goes_on_in_later_runs() {
    // A rule matched the scan when it was raised (port 1000 among its ports); its next port,
    // in the next run, made a finding of its own that the rule did not match alone.
    let rules =
        "[[rule]]\nname = \"scans of 1000\"\nfinding_type = \"Recon:EC2/Portscan\"\nport = 1000\n";
    let batch = |store: &MemoryStore| {
        let rules = Suppressions::parse("rules.toml", rules).expect("valid rules");
        Batch::new(EngineConfig::default(), intel(), rules).resume(store)
    };
    let mut store = MemoryStore::default();
    let mut run1 = batch(&store);
    run1.scan_flows(&key(0), &V5, &sweep(TARGET, 1000, 16, T0, 5));
    let c1 = run1.commit(&mut store, NOW_MS);
    assert!(c1.findings.is_empty(), "{:#?}", brief(&c1.findings));
    assert_eq!(c1.suppressed, [(Portscan, "scans of 1000".to_owned())]);

    let mut run2 = batch(&store);
    run2.scan_flows(&key(5), &V5, &sweep(TARGET, 2000, 3, T0 + 100, 5));
    let c2 = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(c2.findings.is_empty(), "{:#?}", brief(&c2.findings));
    assert_eq!(c2.suppressed.len(), 1, "{:?}", c2.suppressed);
    assert!(store.findings.is_empty());

    // A later scan of the same host, after the window ended, is judged afresh.
    let mut run3 = batch(&store);
    run3.scan_flows(&key(60), &V5, &sweep(TARGET, 3000, 16, T0 + 3600, 5));
    let c3 = run3.commit(&mut store, NOW_MS + 12 * FIVE_MIN_MS);
    assert_eq!(single(&c3.findings, Portscan).remote_ip, Some(ip(TARGET)));
}

#[test]
fn regression_a_run_keeps_at_most_max_subjects_and_goes_on_with_those_it_knows() {
    // One new interface a line grew memory without bound (about 450 bytes each: a 5.5 MB
    // file took 450 MB).
    use recon_core::detect::portscan::MAX_SUBJECTS;
    let eni = |n: usize| format!("eni-{n:017x}");
    let mut flows: Vec<Flow> = (0..MAX_SUBJECTS)
        .map(|n| Flow::out("198.51.200.20", 443, T0).eni(&eni(n), None))
        .collect();
    flows.push(Flow::inbound(SCANNER, 22, T0 + 1).eni(&eni(MAX_SUBJECTS), None));
    flows.push(Flow::inbound(SCANNER, 23, T0 + 2).eni(&eni(7), None));
    let mut b = Batch::standard();
    let r = b.scan_flows(&key(0), &V5, &flows).clone();
    assert_eq!(r.records, MAX_SUBJECTS as u64 + 2);
    assert_eq!(
        r.evaluated,
        MAX_SUBJECTS as u64 + 1,
        "the one past the limit is not"
    );
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    let probe = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(ec2(probe).interface_id, Some(eni(7)));
}

// Faults found by the second semantics audit, after the interface-level sides.

const ENI_B: &str = "eni-0bbbbbbbbbbbbbbb2";

/// Portscan rules naming interface [`ENI`], as `rules.toml`.
fn rules_for_eni() -> Suppressions {
    let rules = format!(
        "[[rule]]\nname = \"first interface\"\nfinding_type = \"Recon:EC2/Portscan\"\n\
         interface = \"{ENI}\"\n"
    );
    Suppressions::parse("rules.toml", &rules).expect("valid rules")
}

#[test]
fn regression_an_internal_scan_going_on_into_a_second_run_is_found_in_v2() {
    // The interface's address learnt in run 1 was not restored with its windows: run 2's
    // records waited for it again and were dropped.
    let mut first = vec![
        Flow::out("10.0.9.9", 5432, T0),
        Flow::out("10.0.3.3", 443, T0 + 1),
    ];
    first.extend(sweep("10.0.7.7", 1000, 10, T0 + 60, 1));
    let second = sweep("10.0.7.7", 1010, 10, T0 + 120, 1);
    let mut store = MemoryStore::default();
    let mut run1 = Batch::standard().resume(&store);
    run1.scan_flows(&key(0), &V2, &first);
    assert!(run1.commit(&mut store, NOW_MS).findings.is_empty());
    let mut run2 = Batch::standard().resume(&store);
    run2.scan_flows(&key(5), &V2, &second);
    let c = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert_eq!(net(single(&c.findings, Portscan)).distinct_ports, Some(20));
}

#[test]
fn regression_a_finding_about_a_second_interface_names_its_subnet() {
    let mut flows = vec![Flow::out("198.51.200.20", 443, T0 - 10)];
    flows.extend(
        sweep(TARGET, 2000, 16, T0, 5)
            .into_iter()
            .map(|f| f.eni(ENI_B, Some(INSTANCE)).local("10.0.2.7")),
    );
    let lines: Vec<String> = text(&V5, &flows)
        .lines()
        .map(|l| match l.contains(ENI_B) {
            true => l.replace(SUBNET, "subnet-0bbbbbbbbbbbbbbb2"),
            false => l.to_owned(),
        })
        .collect();
    let mut b = Batch::standard();
    b.scan(&key(0), lines.join("\n").into_bytes());
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    let scan = single(&c.findings, Portscan);
    assert_eq!(ec2(scan).interface_id.as_deref(), Some(ENI_B));
    assert_eq!(
        ec2(scan).subnet_id.as_deref(),
        Some("subnet-0bbbbbbbbbbbbbbb2")
    );
}

#[test]
fn regression_a_stray_later_flow_read_first_does_not_hide_an_earlier_scan() {
    // Another flow log's later file read first left one port eight minutes after the scan.
    let mut flows = vec![Flow::out(TARGET, 443, T0 + 840)];
    flows.extend(sweep(TARGET, 2000, 20, T0 + 360, 1));
    let c = detect(&[(&key(0), &V5, &flows)]);
    assert_eq!(net(single(&c.findings, Portscan)).distinct_ports, Some(20));
}

#[test]
fn regression_a_scan_over_two_interfaces_is_suppressed_alike_in_one_run_or_two() {
    // Raised through the first interface (which the rule names), then going on through the
    // second: one run named the last interface seen and was not suppressed; two runs were.
    let via_a = sweep(TARGET, 3000, 15, T0, 1);
    let via_b: Vec<Flow> = sweep(TARGET, 3100, 5, T0 + 60, 1)
        .into_iter()
        .map(|f| f.eni(ENI_B, Some(INSTANCE)).local("10.0.2.7"))
        .collect();
    let batch = |store: &MemoryStore| {
        Batch::new(EngineConfig::default(), intel(), rules_for_eni()).resume(store)
    };
    let mut one = batch(&MemoryStore::default());
    one.scan_flows(&key(0), &V5, &[via_a.clone(), via_b.clone()].concat());
    let c = one.commit(&mut MemoryStore::default(), NOW_MS);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    assert_eq!(c.suppressed.len(), 1);

    let mut store = MemoryStore::default();
    let mut run1 = batch(&store);
    run1.scan_flows(&key(0), &V5, &via_a);
    assert_eq!(run1.commit(&mut store, NOW_MS).suppressed.len(), 1);
    let mut run2 = batch(&store);
    run2.scan_flows(&key(5), &V5, &via_b);
    let c = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    assert_eq!(c.suppressed, [(Portscan, "first interface".to_owned())]);
}

#[test]
fn regression_a_scan_suppressed_by_a_rule_since_removed_is_reported_as_it_goes_on() {
    let mut store = MemoryStore::default();
    let mut run1 = Batch::new(EngineConfig::default(), intel(), rules_for_eni()).resume(&store);
    run1.scan_flows(&key(0), &V5, &sweep(TARGET, 3000, 15, T0, 1));
    assert_eq!(run1.commit(&mut store, NOW_MS).suppressed.len(), 1);
    let mut run2 = Batch::standard().resume(&store);
    run2.scan_flows(&key(5), &V5, &sweep(TARGET, 3100, 5, T0 + 60, 1));
    let c = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(c.suppressed.is_empty(), "{:?}", c.suppressed);
    assert_eq!(single(&c.findings, Portscan).count, 5);
}

#[test]
fn regression_records_waiting_for_the_address_are_evaluated_when_a_public_peer_shows_it() {
    // v2: a scan of a private host, then one flow to a public host, which shows the interface's
    // address: the scan's records waited for it and were dropped at the end of the run.
    let mut flows = sweep("10.0.7.7", 1000, 20, T0, 1);
    flows.push(Flow::out("198.51.200.20", 443, T0 + 30));
    let c = detect(&[(&key(0), &V2, &flows)]);
    assert_eq!(net(single(&c.findings, Portscan)).distinct_ports, Some(20));
}

#[test]
fn regression_probes_of_two_interfaces_keep_each_ports_address() {
    // One finding per (instance, scanner): every probed port was shown on the last probe's
    // address, 22 on an address that never received it.
    let flows = vec![
        Flow::inbound(SCANNER, 22, T0),
        Flow::inbound(SCANNER, 3389, T0 + 10)
            .eni(ENI_B, Some(INSTANCE))
            .local("10.0.2.5"),
    ];
    let c = detect(&[(&key(0), &V5, &flows)]);
    let probe = single(&c.findings, PortProbeUnprotectedPort);
    let v = asff(probe);
    let details = at(&v, "/Action/PortProbeAction/PortProbeDetails");
    let pairs: Vec<(u64, &str)> = details
        .as_array()
        .expect("details")
        .iter()
        .map(|d| {
            (
                d["LocalPortDetails"]["Port"].as_u64().unwrap_or_default(),
                d["LocalIpDetails"]["IpAddressV4"]
                    .as_str()
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(pairs, [(22, LOCAL), (3389, "10.0.2.5")]);
    assert_eq!(at(&v, "/Network/DestinationIpV4"), LOCAL);
    assert_eq!(at(&v, "/Network/DestinationPort"), 22);
    assert_eq!(
        at(&v, "/ProductFields/recon~1evidence~1ports"),
        "22 (SSH) on 10.0.1.15 x1, 3389 (RDP) on 10.0.2.5 x1"
    );
}

#[test]
fn regression_a_v2_interface_with_several_addresses_places_each_once_it_shows() {
    // Secondary addresses (a node's pods in v2 logs): the first address stood for the
    // interface, and a scan from another address to a private host was never placed.
    const A2: &str = "10.0.1.16";
    const A3: &str = "10.0.1.17";
    let public = |from: &str, t: i64| Flow::out("198.51.200.20", 443, t).local(from);
    let scan = |from: &str, target: &str, first: u16| -> Vec<Flow> {
        sweep(target, first, 16, T0 + 10, 1)
            .into_iter()
            .map(|f| f.local(from))
            .collect()
    };
    // The address shows before the scan, or after it (its records waited), while another
    // address's scan waits on.
    let before = [
        vec![public(LOCAL, T0), public(A2, T0 + 1)],
        scan(A2, "10.0.7.7", 1000),
    ]
    .concat();
    let after = [
        vec![public(LOCAL, T0)],
        scan(A2, "10.0.7.7", 1000),
        scan(A3, "10.0.8.8", 2000),
        vec![public(A2, T0 + 40), public(A3, T0 + 41)],
    ]
    .concat();
    for (flows, scans) in [(before, 1), (after, 2)] {
        let c = detect(&[(&key(0), &V2, &flows)]);
        let found = of_type(&c.findings, Portscan);
        assert_eq!(found.len(), scans, "{:#?}", brief(&c.findings));
        let by = found.iter().find(|f| f.remote_ip == Some(ip("10.0.7.7")));
        assert_eq!(by.map(|f| ec2(f).local_ip), Some(Some(ip(A2))));
    }
}

// Faults found by the third semantics audit.

/// Two runs over `first` then `second` (v3: no flow-direction), the Portscans of the second.
fn two_runs(first: &[Flow], second: &[Flow]) -> CommitReport {
    let mut store = MemoryStore::default();
    let mut run1 = Batch::standard().resume(&store);
    run1.scan_flows(&key(0), &V3, first);
    run1.commit(&mut store, NOW_MS);
    let mut run2 = Batch::standard().resume(&store);
    run2.scan_flows(&key(5), &V3, second);
    run2.commit(&mut store, NOW_MS + FIVE_MIN_MS)
}

#[test]
fn regression_every_interface_keeps_its_address_across_runs() {
    // Only the first interface's address was restored, and it was whichever interface's
    // address was learnt first: an internal scan going on into the next run from the second
    // interface (or, when the second was learnt first, from the first) was never placed.
    const B_LOCAL: &str = "10.0.2.5";
    let via_b = |f: Flow| f.eni(ENI_B, Some(INSTANCE)).local(B_LOCAL);
    let public_a = Flow::out("198.51.200.20", 443, T0 - 10);
    let public_b = via_b(Flow::out("198.51.200.21", 443, T0 - 9));
    let half = |first: u16, start: i64| sweep("10.0.7.7", first, 10, start, 1);
    let b_half = |first: u16, start: i64| half(first, start).into_iter().map(via_b).collect();

    for (publics, scan1, scan2, local) in [
        (
            vec![public_a.clone(), public_b.clone()],
            b_half(1000, T0),
            b_half(1010, T0 + 60),
            B_LOCAL,
        ),
        (
            vec![public_b, public_a],
            half(1000, T0),
            half(1010, T0 + 60),
            LOCAL,
        ),
    ] {
        let c = two_runs(&[publics, scan1].concat(), &scan2);
        let scan = single(&c.findings, Portscan);
        assert_eq!(net(scan).distinct_ports, Some(20));
        assert_eq!(ec2(scan).local_ip, Some(ip(local)));
    }
}

/// A batch with the Portscan rule `rules` (TOML), resuming from `store`.
fn with_rules(store: &MemoryStore, rules: &str) -> Batch {
    let rules = Suppressions::parse("rules.toml", rules).expect("valid rules");
    Batch::new(EngineConfig::default(), intel(), rules).resume(store)
}

const RULE_1000: &str =
    "[[rule]]\nname = \"scans of 1000\"\nfinding_type = \"Recon:EC2/Portscan\"\nport = 1000\n";

#[test]
fn regression_a_new_window_after_a_suppressed_scan_is_not_suppressed() {
    // A suppressed scan, then (after its window ended) three ports of the same host: the rule
    // marked that new window, and a later scan it became lost every port after its first
    // fifteen.
    let mut store = MemoryStore::default();
    let mut run1 = with_rules(&store, RULE_1000);
    let first = [
        sweep(TARGET, 1000, 16, T0, 1),
        sweep(TARGET, 3000, 3, T0 + 400, 1),
    ];
    run1.scan_flows(&key(0), &V5, &first.concat());
    let c1 = run1.commit(&mut store, NOW_MS);
    assert_eq!(c1.suppressed.len(), 1, "{:?}", c1.suppressed);
    let mut run2 = with_rules(&store, RULE_1000);
    run2.scan_flows(&key(5), &V5, &sweep(TARGET, 3003, 18, T0 + 420, 1));
    let c2 = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(c2.suppressed.is_empty(), "{:?}", c2.suppressed);
    let scan = single(&c2.findings, Portscan);
    assert_eq!(scan.count, 21, "{:?}", net(scan));
}

#[test]
fn regression_a_scan_suppressed_before_rules_were_named_in_the_state_stays_suppressed() {
    // The state of the previous version marks a suppressed window without naming its rule:
    // it was read as suppressed by no rule in force, and its next ports became a finding.
    let mut store = MemoryStore::default();
    let mut run1 = with_rules(&store, RULE_1000);
    run1.scan_flows(&key(0), &V5, &sweep(TARGET, 1000, 16, T0, 1));
    assert_eq!(run1.commit(&mut store, NOW_MS).suppressed.len(), 1);
    let blob = store.state.get_mut(STATE_KEY).expect("open windows");
    let mut state: serde_json::Value = serde_json::from_slice(blob).expect("json");
    let saved = state.as_object_mut().expect("object");
    assert!(saved.remove("suppressed_by").is_some(), "{saved:?}");
    *blob = serde_json::to_vec(&state).expect("json");

    let mut run2 = with_rules(&store, RULE_1000);
    run2.scan_flows(&key(5), &V5, &sweep(TARGET, 2000, 3, T0 + 60, 1));
    let c = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    assert_eq!(c.suppressed.len(), 1);
}

#[test]
fn regression_a_rule_edited_since_it_dropped_a_scan_is_no_longer_the_rule_in_force() {
    // Rules were known by name only: a rule kept its name but no longer matched the scan (its
    // port changed), and the scan's next ports were still dropped in its name.
    let mut store = MemoryStore::default();
    let mut run1 = with_rules(&store, RULE_1000);
    run1.scan_flows(&key(0), &V5, &sweep(TARGET, 1000, 16, T0, 1));
    assert_eq!(run1.commit(&mut store, NOW_MS).suppressed.len(), 1);
    let mut run2 = with_rules(&store, &RULE_1000.replace("1000\n", "8080\n"));
    run2.scan_flows(&key(5), &V5, &sweep(TARGET, 2000, 3, T0 + 60, 1));
    let c = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(c.suppressed.is_empty(), "{:?}", c.suppressed);
    let scan = single(&c.findings, Portscan);
    assert_eq!(scan.count, 3);
    assert!(
        net(scan).sources.iter().any(|s| s.contains(&key(5))),
        "a finding names the lines it comes from: {:?}",
        net(scan).sources
    );
}

#[test]
fn regression_two_rules_of_one_name_are_refused() {
    let twice = format!("{RULE_1000}{}", RULE_1000.replace("1000\n", "22\n"));
    let e = Suppressions::parse("rules.toml", &twice).expect_err("one name, two rules");
    assert!(e.to_string().contains("scans of 1000"), "{e}");
}

// Faults found by the fourth semantics audit.

#[test]
fn regression_a_scan_suppressed_by_the_previous_version_stays_suppressed() {
    // State that names the rule by its bare name in `suppressed_by` (as a version before rule
    // identities wrote it): looked up by "name #hash", the unchanged rule was taken for gone,
    // and the suppressed scan's next ports became a finding.
    let mut store = MemoryStore::default();
    let mut run1 = with_rules(&store, RULE_1000);
    run1.scan_flows(&key(0), &V5, &sweep(TARGET, 1000, 16, T0, 1));
    assert_eq!(run1.commit(&mut store, NOW_MS).suppressed.len(), 1);
    // Rewrite the state with bare rule names.
    let blob = store.state.get_mut(STATE_KEY).expect("open windows");
    let mut state: serde_json::Value = serde_json::from_slice(blob).expect("json");
    let by = state["suppressed_by"]
        .as_array_mut()
        .expect("suppressed_by");
    for entry in by.iter_mut() {
        let id = entry[2].as_str().expect("rule").to_owned();
        assert!(id.starts_with("scans of 1000 #"), "{id}");
        entry[2] = json!("scans of 1000");
    }
    *blob = serde_json::to_vec(&state).expect("json");

    let mut run2 = with_rules(&store, RULE_1000);
    run2.scan_flows(&key(5), &V5, &sweep(TARGET, 2000, 3, T0 + 60, 1));
    let c = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    assert_eq!(c.suppressed.len(), 1, "{:?}", c.suppressed);
}

/// A scan of [`TARGET`], one port a second from port 1000: `first` ports in one file of the
/// instance's first interface, `then` in another, and between them the file of its second
/// interface with one connection to the host seven minutes later.
fn split_around_a_later_flow(first: u16, then: u16) -> CommitReport {
    let later = Flow::out(TARGET, 443, T0 + 420)
        .eni(ENI_B, Some(INSTANCE))
        .local("10.0.2.5");
    detect(&[
        (&key(0), &V5, &sweep(TARGET, 1000, first, T0, 1)),
        (&key(1), &V5, &[later]),
        (
            &key(2),
            &V5,
            &sweep(TARGET, 1000 + first, then, T0 + i64::from(first), 1),
        ),
    ])
}

#[test]
fn regression_a_later_flow_to_the_host_read_among_a_scan_s_ports_does_not_end_it() {
    // Sixteen ports of TARGET in 16 s, split over two files of ENI A; between them the file of
    // the instance's other interface, with one connection to TARGET seven minutes later. It is
    // more than a window after the first half's last port, so the window was started over,
    // dropping the first half (the window otherwise keeps ports of the late allowance behind
    // its latest one), and the second half alone is eight ports.
    let c = split_around_a_later_flow(8, 8);
    let scan = single(&c.findings, Portscan);
    assert_eq!(net(scan).distinct_ports, Some(16));
}

#[test]
fn regression_a_flow_outside_the_scan_is_not_counted_in_it() {
    // A scan of 15 ports, all rejected, ten minutes after an accepted HTTPS connection to the
    // host; the HTTPS record is read after the scan's first one (records are not sorted). The
    // window keeps it (late allowance) and the finding counts it: 16 flows, "not blocked".
    let mut flows = vec![Flow::out(TARGET, 1000, T0 + 600).reject()];
    flows.push(Flow::out(TARGET, 443, T0));
    flows.extend(
        sweep(TARGET, 1001, 14, T0 + 601, 1)
            .into_iter()
            .map(Flow::reject),
    );
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert!(!ports(scan).contains(&443), "{:?}", ports(scan));
    assert_eq!(net(scan).distinct_ports, Some(15));
    assert_eq!(
        (scan.count, net(scan).rejected, net(scan).blocked),
        (15, 15, true),
        "the accepted 443 ten minutes before is not part of the scan"
    );
}

#[test]
fn regression_an_earlier_flow_near_a_port_kept_outside_the_scan_does_not_join_it() {
    // As above, and after the scan was raised a record of port 8443 at T0+60 (nine minutes
    // before the scan) is read. A fired window ignores an older flow unless a kept port is
    // within a window of it; the 443 at T0, kept but no part of the scan, is: the 8443 joined
    // the finding, and FirstObservedAt moved nine minutes before the scan.
    let mut flows = vec![Flow::out(TARGET, 1000, T0 + 600)];
    flows.push(Flow::out(TARGET, 443, T0));
    flows.extend(sweep(TARGET, 1001, 14, T0 + 601, 1));
    flows.push(Flow::out(TARGET, 8443, T0 + 60));
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert!(!ports(scan).contains(&8443), "{:?}", ports(scan));
    assert_eq!(
        scan.first_seen,
        Timestamp::from_secs(T0 + 600),
        "FirstObservedAt"
    );
}

#[test]
fn regression_a_later_retry_of_a_scanned_port_read_first_does_not_hide_the_scan() {
    // Fifteen ports of TARGET in 15 s, 443 among them; the instance connects to 443 again
    // six and a half minutes later, and that record is read first. A port keeps only its
    // latest try, so 443 sits at T0+400 and the other 14 ports are all that fall in one
    // window.
    let mut flows = vec![Flow::out(TARGET, 443, T0 + 400)];
    flows.extend(sweep(TARGET, 1000, 14, T0, 1));
    flows.push(Flow::out(TARGET, 443, T0 + 14));
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert_eq!(net(scan).distinct_ports, Some(15));
}

// Faults found by the fifth semantics audit.

#[test]
fn regression_tries_of_a_scanned_port_before_the_scan_are_not_counted_in_it() {
    // The instance uses HTTPS to TARGET every 10 s for the nine minutes before it scans it:
    // 15 ports in 15 s, 443 among them, all rejected (records in time order). The finding's
    // count, rejections and "blocked" should be the scan's own: 15 flows, 15 rejected.
    let mut flows: Vec<Flow> = (0..54)
        .map(|i| Flow::out(TARGET, 443, T0 + i * 10))
        .collect();
    flows.push(Flow::out(TARGET, 443, T0 + 600).reject());
    flows.extend(
        sweep(TARGET, 1001, 14, T0 + 601, 1)
            .into_iter()
            .map(Flow::reject),
    );
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert_eq!(net(scan).distinct_ports, Some(15));
    assert_eq!(
        (scan.count, net(scan).rejected, net(scan).blocked),
        (15, 15, true),
        "{:?}",
        net(scan).ports
    );
    assert_eq!(scan.first_seen, Timestamp::from_secs(T0 + 600));
}

#[test]
fn regression_a_scan_try_between_earlier_and_later_tries_of_its_port_is_not_lost() {
    // Fifteen ports of TARGET in 15 s, 443 among them. The instance also connected to 443 ten
    // minutes before and ten minutes after; those two records are read first (another
    // interface's files). A port keeps only its earliest and latest try: 443's try in the scan
    // lay between them and was forgotten, and the other 14 ports are no scan.
    let mut flows = vec![
        Flow::out(TARGET, 443, T0 + 1200),
        Flow::out(TARGET, 443, T0),
    ];
    flows.extend(sweep(TARGET, 1000, 14, T0 + 600, 1));
    flows.push(Flow::out(TARGET, 443, T0 + 605));
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert_eq!(net(scan).distinct_ports, Some(15));
}

#[test]
fn regression_earlier_flows_read_after_a_scan_do_not_chain_back_into_it() {
    // A scan of 15 ports at T0+600. Read after it: 8443 at T0+400 (within a window of the
    // scan), then 8080 at T0+150 and 22 at T0-100, each within a window of the one before but
    // not of the scan. A fired window took an older flow when a kept port was near it, and
    // each one taken made the next one near.
    let mut flows = sweep(TARGET, 1000, 15, T0 + 600, 1);
    flows.push(Flow::out(TARGET, 8443, T0 + 400));
    flows.push(Flow::out(TARGET, 8080, T0 + 150));
    flows.push(Flow::out(TARGET, 22, T0 - 100));
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert!(!ports(scan).contains(&22), "{:?}", ports(scan));
    assert!(!ports(scan).contains(&8080), "{:?}", ports(scan));
    assert!(
        scan.first_seen >= Timestamp::from_secs(T0 + 600 - 300),
        "FirstObservedAt {:?} is more than a window before the scan",
        scan.first_seen
    );
}

#[test]
fn regression_a_later_flow_read_after_a_scan_was_raised_does_not_drop_the_rest_of_it() {
    // As regression_a_later_flow_to_the_host_read_among_a_scan_s_ports_does_not_end_it, but
    // the first file already holds enough ports to raise the scan: 24 ports in 24 s, split
    // over two files of ENI A, with the other interface's file (one connection to TARGET seven
    // minutes later) read between them. The fired window was started over by the later flow,
    // and the scan's last eight ports went into the new window: lost from the finding.
    let c = split_around_a_later_flow(16, 8);
    let scan = single(&c.findings, Portscan);
    assert_eq!(
        (scan.count, net(scan).distinct_ports),
        (24, Some(24)),
        "{:?}",
        ports(scan)
    );
    assert_eq!(scan.last_seen, Timestamp::from_secs(T0 + 23));
}

#[test]
fn regression_an_earlier_scan_read_after_a_later_one_of_the_same_host_is_counted() {
    // Two scans of TARGET ten minutes apart, 15 ports each; the later one's file is read
    // first. Read in time order the finding counts both (30 flows from T0); read the other way
    // the fired window ignored every flow of the earlier scan (more than a window before its
    // last, no kept port near), and the finding said 15 flows from T0+600.
    assert_two_scans_count_in_either_order(600);
}

/// Two scans of [`TARGET`], 15 ports each, `gap` seconds apart, read in either order: one
/// finding of 30 flows from the first.
fn assert_two_scans_count_in_either_order(gap: i64) {
    let earlier = sweep(TARGET, 1000, 15, T0, 1);
    let later = sweep(TARGET, 2000, 15, T0 + gap, 1);
    for (name, order) in [
        ("earlier", [&earlier, &later]),
        ("later", [&later, &earlier]),
    ] {
        let c = detect(&[(&key(0), &V5, order[0]), (&key(1), &V5, order[1])]);
        let scan = single(&c.findings, Portscan);
        assert_eq!(
            (scan.count, scan.first_seen),
            (30, Timestamp::from_secs(T0)),
            "read {name} first"
        );
    }
}

#[test]
fn regression_a_tcp_scan_after_dns_to_the_host_is_labelled_tcp() {
    // The instance asks TARGET for DNS (UDP 53) every minute, then scans 15 TCP ports of it:
    // the window, started by a DNS query and never started over, labelled the scan UDP.
    let mut flows: Vec<Flow> = (0..10)
        .map(|i| {
            let mut f = Flow::out(TARGET, 53, T0 + i * 60);
            f.proto = Some(17);
            f.flags = None;
            f
        })
        .collect();
    flows.extend(sweep(TARGET, 1000, 15, T0 + 600, 1));
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert_eq!(
        net(scan).protocol.as_deref(),
        Some("TCP"),
        "{:?}",
        ports(scan)
    );
}

// Faults found by the sixth semantics audit.

#[test]
fn regression_flows_that_joined_a_scan_are_not_counted_again_by_an_earlier_search() {
    // A scan of TARGET at T0+600 (15 ports) is read first. Then 20 ports at T0+290..T0+309:
    // the file of T0+300..309 (within a window of the scan: they join it, 10 flows counted),
    // then the file of T0+290..299 (more than a window before: the earlier search). The
    // earlier search counts the ten joined flows again when its five flows and they make 15.
    let later = sweep(TARGET, 1000, 15, T0 + 600, 1);
    let joined = sweep(TARGET, 2010, 10, T0 + 300, 1);
    let earlier = sweep(TARGET, 2000, 10, T0 + 290, 1);
    let c = detect(&[
        (&key(0), &V5, &later),
        (&key(1), &V5, &joined),
        (&key(2), &V5, &earlier),
    ]);
    let scan = single(&c.findings, Portscan);
    assert!(
        scan.count <= 35,
        "35 flows to the host, the finding counts {}: {:?}",
        scan.count,
        net(scan).ports
    );
}

#[test]
fn regression_tries_counted_in_a_scan_after_its_span_are_not_counted_again() {
    // Fifteen ports of TARGET in 15 s, 14 of them tried again 200 s later; the records of one
    // file are not sorted and the scan's last port comes after the retries. The raised scan
    // counted the retries (29 flows) but its span ended at T0+14; a single HTTPS connection at
    // T0+320 was "past" it, and the retries' latest tries plus 443 made a second "scan" that
    // counted the 14 retries again: more flows than the host ever saw.
    let mut flows = sweep(TARGET, 1000, 14, T0, 1);
    flows.extend(sweep(TARGET, 1000, 14, T0 + 200, 1));
    flows.push(Flow::out(TARGET, 1014, T0 + 14));
    let https = [Flow::out(TARGET, 443, T0 + 320)];
    let c = detect(&[(&key(0), &V5, &flows), (&key(1), &V5, &https)]);
    let scan = single(&c.findings, Portscan);
    assert!(
        scan.count <= 30,
        "30 flows to the host, the finding counts {}: {:?}",
        scan.count,
        net(scan).ports
    );
}

const RULE_1014: &str =
    "[[rule]]\nname = \"scans of 1014\"\nfinding_type = \"Recon:EC2/Portscan\"\nport = 1014\n";

#[test]
fn regression_a_suppressed_scan_s_retries_and_one_later_flow_are_not_a_new_scan() {
    // As above over two runs: the scan (with its retries) is suppressed in the first run. In
    // the second, one HTTPS connection at T0+320 joins the retries kept in the window into a
    // "new scan", judged afresh: the rule does not match it and the suppressed scan's
    // retries come out as a finding.
    let mut store = MemoryStore::default();
    let mut run1 = with_rules(&store, RULE_1014);
    let mut flows = sweep(TARGET, 1000, 14, T0, 1);
    flows.extend(sweep(TARGET, 1000, 14, T0 + 200, 1));
    flows.push(Flow::out(TARGET, 1014, T0 + 14));
    run1.scan_flows(&key(0), &V5, &flows);
    let c1 = run1.commit(&mut store, NOW_MS);
    assert!(c1.findings.is_empty(), "{:#?}", brief(&c1.findings));
    assert_eq!(c1.suppressed.len(), 1);
    let mut run2 = with_rules(&store, RULE_1014);
    run2.scan_flows(&key(5), &V5, &[Flow::out(TARGET, 443, T0 + 320)]);
    let c2 = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(
        c2.findings.is_empty(),
        "one HTTPS connection after a suppressed scan: {:#?} {:?}",
        brief(&c2.findings),
        c2.findings.iter().map(ports).collect::<Vec<_>>()
    );
}

#[test]
fn regression_an_earlier_scan_of_a_suppressed_window_is_suppressed_in_a_later_run_too() {
    // A scan of TARGET at T0+600 suppressed by a rule on its port 1000; an earlier scan of the
    // same host (T0) read afterwards. In one run both are one finding, suppressed. Over two
    // runs the earlier scan goes through the earlier search, which raises a first-time
    // candidate whatever the window's suppression: it is published.
    let later = sweep(TARGET, 1000, 15, T0 + 600, 1);
    let earlier = sweep(TARGET, 2000, 15, T0, 1);

    let mut one = with_rules(&MemoryStore::default(), RULE_1000);
    one.scan_flows(&key(0), &V5, &later);
    one.scan_flows(&key(1), &V5, &earlier);
    let c = one.commit(&mut MemoryStore::default(), NOW_MS);
    assert!(c.findings.is_empty(), "one run: {:#?}", brief(&c.findings));

    let mut store = MemoryStore::default();
    let mut run1 = with_rules(&store, RULE_1000);
    run1.scan_flows(&key(0), &V5, &later);
    let c1 = run1.commit(&mut store, NOW_MS);
    assert!(c1.findings.is_empty());
    let mut run2 = with_rules(&store, RULE_1000);
    run2.scan_flows(&key(1), &V5, &earlier);
    let c2 = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(
        c2.findings.is_empty(),
        "two runs: {:#?} suppressed {:?}",
        brief(&c2.findings),
        c2.suppressed
    );
}

#[test]
fn regression_state_with_five_values_a_port_is_read() {
    // State written with a port tried more than once, or rejected, as `[port, latest,
    // earliest, tries, rejected]` was unreadable once ports took seven values, and every
    // stored window was dropped: here a suppressed scan, whose next ports then became a
    // finding of their own.
    let mut store = MemoryStore::default();
    let mut run1 = with_rules(&store, RULE_1000);
    let scan: Vec<Flow> = sweep(TARGET, 1000, 16, T0, 1)
        .into_iter()
        .map(Flow::reject)
        .collect();
    run1.scan_flows(&key(0), &V5, &scan);
    assert_eq!(run1.commit(&mut store, NOW_MS).suppressed.len(), 1);
    // Rewrite the state with five values a port and no scan span.
    let blob = store.state.get_mut(STATE_KEY).expect("open windows");
    let mut state: serde_json::Value = serde_json::from_slice(blob).expect("json");
    for w in state["windows"].as_array_mut().expect("windows") {
        let w = &mut w[2];
        w.as_object_mut().expect("window").remove("S");
        let ports = &mut w["P"];
        let mut old = |t: &mut serde_json::Value| {
            if let Some(a) = t.as_array_mut() {
                if a.len() == 7 {
                    a.truncate(5);
                }
            }
        };
        old(&mut ports["p"]);
        if let Some(more) = ports.get_mut("m").and_then(|m| m.as_array_mut()) {
            more.iter_mut().for_each(&mut old);
        }
    }
    *blob = serde_json::to_vec(&state).expect("json");

    let mut run2 = with_rules(&store, RULE_1000);
    run2.scan_flows(&key(5), &V5, &sweep(TARGET, 2000, 15, T0 + 60, 1));
    let c = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(c.findings.is_empty(), "{:#?}", brief(&c.findings));
    assert_eq!(c.suppressed.len(), 1, "{:?}", c.suppressed);
}

#[test]
fn regression_a_slow_scan_s_flows_read_before_it_was_raised_are_counted() {
    // One port every 20 s, 30 ports over ten minutes. In time order the finding counts all
    // 30. Read with its second half first, the scan is raised over its first 15 ports with
    // the span ending at T0+300; the 13 ports read before, at T0+320..T0+560, lie within a
    // window of the scan but outside the intersection Seen::raised counts, and never join it.
    let flows: Vec<Flow> = (0..30u16)
        .map(|i| Flow::out(TARGET, 1000 + i, T0 + 20 * i64::from(i)))
        .collect();
    let ordered = detect(&[(&key(0), &V5, &flows)]);
    assert_eq!(single(&ordered.findings, Portscan).count, 30);
    let mut shuffled: Vec<Flow> = flows[15..29].to_vec();
    shuffled.extend_from_slice(&flows[..15]);
    shuffled.push(flows[29].clone());
    let c = detect(&[(&key(0), &V5, &shuffled)]);
    let scan = single(&c.findings, Portscan);
    assert_eq!(scan.count, 30, "{:?}", ports(scan));
}

#[test]
fn regression_hours_of_https_after_a_scan_do_not_go_on_as_the_scan() {
    // A scan of 15 ports of TARGET at T0, then the instance's ordinary HTTPS to the host every
    // four minutes for a day, all in the next run. Each connection was within a window of the
    // span, which it extended: the day of HTTPS was the scan "going on", and the finding said
    // it lasted a day. Now only a port the scan had not tried takes it further: the first
    // connection or two (within a window of the scan) join it, the rest do not.
    let scan = sweep(TARGET, 1000, 15, T0, 1);
    let https: Vec<Flow> = (1..=360)
        .map(|i| Flow::out(TARGET, 443, T0 + 14 + i * 240))
        .collect();
    let c = two_runs(&scan, &https);
    for f in of_type(&c.findings, Portscan) {
        assert!(f.count <= 17, "{:#?}", brief(&c.findings));
        assert!(
            f.last_seen <= Timestamp::from_secs(T0 + 14 + 600),
            "the scan went on until {:?}",
            f.last_seen
        );
    }
}

// Faults found by the seventh semantics audit.

#[test]
fn regression_polls_of_a_port_forgotten_by_the_late_allowance_are_not_counted_in_a_scan() {
    // The instance checks TARGET:443 every minute for an hour, then scans 15 other ports of
    // it (records in time order). Only the 443 tries within a window of the scan belong to it.
    let mut flows: Vec<Flow> = (0..=61)
        .map(|i| Flow::out(TARGET, 443, T0 + i * 60))
        .collect();
    flows.extend(sweep(TARGET, 1000, 15, T0 + 3700, 1));
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    let (first, last) = (scan.first_seen, scan.last_seen);
    let between = flows
        .iter()
        .filter(|f| (first..=last).contains(&Timestamp::from_secs(f.start)))
        .count() as u64;
    assert!(
        scan.count <= between,
        "{} flows from {first:?} to {last:?}, the finding counts {}: {:?}",
        between,
        scan.count,
        net(scan).ports
    );
}

#[test]
fn regression_a_port_polled_between_two_scans_is_not_counted_twice() {
    // 443 is among the ports of a scan at T0, the instance polls it every minute, and scans the
    // host again 25 minutes later: 54 flows to the host in all.
    let mut flows = sweep(TARGET, 1000, 14, T0, 1);
    flows.push(Flow::out(TARGET, 443, T0 + 14));
    flows.extend((1..=25).map(|i| Flow::out(TARGET, 443, T0 + i * 60)));
    flows.extend(sweep(TARGET, 2000, 14, T0 + 1500, 1));
    let c = detect(&[(&key(0), &V5, &flows)]);
    let scan = single(&c.findings, Portscan);
    assert!(
        scan.count <= flows.len() as u64,
        "{} flows to the host, the finding counts {}: {:?}",
        flows.len(),
        scan.count,
        net(scan).ports
    );
}

#[test]
fn regression_one_flow_half_an_hour_later_read_first_does_not_hide_a_scan() {
    // The instance's other interface (in another flow log, whose files are read first) opens
    // one HTTPS connection to TARGET half an hour after the first interface scans 20 ports of
    // it. Without that record the scan is found.
    let later = Flow::out(TARGET, 443, T0 + 1800)
        .eni(ENI_B, Some(INSTANCE))
        .local("10.0.2.5");
    let scan = sweep(TARGET, 1000, 20, T0, 1);
    let alone = detect(&[(&key(0), &V5, &scan)]);
    assert_eq!(single(&alone.findings, Portscan).count, 20);
    let c = detect(&[(&key(0), &V5, &[later]), (&key(1), &V5, &scan)]);
    let found = single(&c.findings, Portscan);
    assert_eq!(net(found).distinct_ports, Some(20));
}

#[test]
fn regression_an_earlier_scan_read_after_a_later_one_an_hour_apart_is_counted() {
    // As regression_an_earlier_scan_read_after_a_later_one_of_the_same_host_is_counted, the
    // scans an hour apart: read in time order the finding counts both.
    assert_two_scans_count_in_either_order(3600);
}

#[test]
fn regression_a_suppressed_scan_s_retries_read_after_it_and_one_later_flow_are_not_a_new_scan() {
    // As regression_a_suppressed_scan_s_retries_and_one_later_flow_are_not_a_new_scan, but the
    // retries (a second pass over the same ports four minutes later) come after the scan was
    // raised: they join it without moving its span, and one HTTPS connection just past the
    // span's reach makes a "new scan" of the retries with it, judged afresh.
    let mut store = MemoryStore::default();
    let mut run1 = with_rules(&store, RULE_1000);
    let mut flows = sweep(TARGET, 1000, 15, T0, 1);
    flows.extend(sweep(TARGET, 1000, 15, T0 + 240, 1));
    run1.scan_flows(&key(0), &V5, &flows);
    let c1 = run1.commit(&mut store, NOW_MS);
    assert!(c1.findings.is_empty(), "{:#?}", brief(&c1.findings));
    assert_eq!(c1.suppressed.len(), 1);
    let mut run2 = with_rules(&store, RULE_1000);
    run2.scan_flows(&key(5), &V5, &[Flow::out(TARGET, 443, T0 + 320)]);
    let c2 = run2.commit(&mut store, NOW_MS + FIVE_MIN_MS);
    assert!(
        c2.findings.is_empty(),
        "one HTTPS connection after a suppressed scan: {:#?} {:?}",
        brief(&c2.findings),
        c2.findings
            .iter()
            .map(|f| (ports(f), net(f).distinct_ports))
            .collect::<Vec<_>>()
    );
}

// Faults found by the eighth semantics audit (realistic delivery and workloads).

#[test]
#[ignore = "engine limitation: a slow scan whose records are not sorted is raised on the first run read, and ports cut before it or read between its span and the next search's are lost (a few per cent of an nmap -T1 scan in 10-minute files)"]
fn limitation_a_sneaky_scan_in_ten_minute_files_counts_every_flow() {
    // nmap -T1 (one port every 15 s) logged with the default 10-minute aggregation: each
    // file holds 40 of its ports spread over ten minutes, its records not sorted. Read in
    // time order the finding counts all 80 flows from T0 to T0+1185.
    let first = sweep(TARGET, 1000, 40, T0, 15);
    let second = sweep(TARGET, 1040, 40, T0 + 600, 15);
    let ordered = detect(&[(&key(10), &V5, &first), (&key(20), &V5, &second)]);
    assert_eq!(
        single(&ordered.findings, Portscan).count,
        80,
        "read in time order"
    );
    // The records of each file in a fixed scrambled order.
    let scramble = |v: &[Flow]| -> Vec<Flow> { (0..40).map(|i| v[i * 21 % 40].clone()).collect() };
    let c = detect(&[
        (&key(10), &V5, &scramble(&first)),
        (&key(20), &V5, &scramble(&second)),
    ]);
    let scan = single(&c.findings, Portscan);
    assert_eq!(
        (scan.count, scan.first_seen, scan.last_seen),
        (
            80,
            Timestamp::from_secs(T0),
            Timestamp::from_secs(T0 + 1185)
        ),
        "{:?}",
        ports(scan)
    );
}

#[test]
#[ignore = "engine limitation: without SYN flags (UDP, v2) who opened a flow is judged by its ports, and a server on a port of 32768 or more answering many NATed peers of one address looks like a scan of it"]
fn limitation_a_wireguard_server_answering_an_office_behind_one_nat_is_not_a_portscan() {
    // The instance runs WireGuard (UDP 51820). Twenty staff connect from the office, whose
    // firewall translates them to one public address with source ports of its choosing
    // (1024-65535). Each peer's packets and the server's replies are logged.
    let mut flows = Vec::new();
    for i in 0..20u16 {
        let peer_port = 20_000 + i * 37;
        let t = T0 + i64::from(i) * 10;
        let mut inbound = Flow::inbound(CLIENT, 51820, t)
            .ports(peer_port, 51820)
            .flags(None);
        inbound.proto = Some(17);
        let mut reply = Flow::out(CLIENT, peer_port, t)
            .ports(51820, peer_port)
            .flags(None);
        reply.proto = Some(17);
        flows.extend([inbound, reply]);
    }
    let found: Vec<(u8, Vec<String>)> = [&V2, &V3, &V5]
        .into_iter()
        .map(|format| {
            let c = detect(&[(&key(0), format, &flows)]);
            (format.version, brief(&c.findings))
        })
        .filter(|(_, f)| !f.is_empty())
        .collect();
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn regression_a_fifteen_port_scan_straddling_two_ten_minute_intervals_is_found() {
    // One flow log, 10-minute aggregation. The scan's first port (T0+595) falls in one
    // interval and is published in the file of 12:10; its other 14 (T0+600..T0+795, 15 s
    // apart) in the next interval's file, of 12:20, which also holds another instance's
    // flow from late in that interval (T0+1190), read before them (records are not sorted).
    let other = Flow::out("198.51.200.20", 443, T0 + 1190)
        .eni("eni-0ccccccccccccccc3", Some("i-0ccccccccccccccc3"))
        .local("10.0.3.3");
    let first = vec![Flow::out(TARGET, 1000, T0 + 595)];
    let mut second = vec![other];
    second.extend(sweep(TARGET, 1001, 14, T0 + 600, 15));
    let alone = detect(&[(&key(10), &V5, &first), (&key(20), &V5, &second[1..])]);
    assert_eq!(
        single(&alone.findings, Portscan).count,
        15,
        "without the other instance's flow"
    );
    let c = detect(&[(&key(10), &V5, &first), (&key(20), &V5, &second)]);
    assert_eq!(single(&c.findings, Portscan).count, 15);
}

// ---------------------------------------------------------------------------------------------
// Faults found by the ninth audit (PortProbe end to end).

#[test]
fn regression_a_rule_for_ssh_on_one_interface_does_not_hide_a_high_probe_of_the_other() {
    // An instance with two reachable interfaces; the rule says SSH on the first one is fine.
    // A listed scanner probes Elasticsearch on the first interface, then SSH on the second. No
    // probe matches the rule on its own, yet the aggregated finding (named after the interface
    // its activity began on, holding both ports) matches it at commit: the High finding is
    // dropped as suppressed.
    let rules =
        format!("[[rule]]\nname = \"ssh on eth0 is fine\"\ninterface = \"{ENI}\"\nport = 22\n");
    let rules = Suppressions::parse("rules.toml", &rules).expect("valid rules");
    let flows = [
        Flow::inbound(SCANNER, 9200, T0),
        Flow::inbound(SCANNER, 22, T0 + 10)
            .eni(ENI_B, Some(INSTANCE))
            .local("10.0.2.5"),
    ];
    let mut b = Batch::new(EngineConfig::default(), intel(), rules);
    b.scan_flows(&key(0), &V5, &flows);
    b.assert_clean();
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert!(c.suppressed.is_empty(), "suppressed: {:?}", c.suppressed);
    let f = single(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.count, 2);
}

#[test]
fn regression_a_finding_with_tcp_and_udp_probes_labels_each_port_with_its_protocol() {
    // A listed scanner (Shodan/Censys style) probes SSH over TCP, then SNMP over UDP twice. The
    // finding's one protocol is the first probe's: the description says "TCP ports 161 (SNMP),
    // 22 (SSH)" and the Network block pairs Protocol TCP with DestinationPort 161, a UDP port.
    let flows = [
        Flow::inbound(SCANNER, 22, T0),
        Flow::inbound(SCANNER, 161, T0 + 5).flags(None),
        Flow::inbound(SCANNER, 161, T0 + 6).flags(None),
    ];
    let flows: Vec<Flow> = flows
        .into_iter()
        .enumerate()
        .map(|(i, mut f)| {
            if i > 0 {
                f.proto = Some(17);
            }
            f
        })
        .collect();
    let c = detect(&[(&key(0), &V5, &flows)]);
    let f = single(&c.findings, PortProbeUnprotectedPort);
    let v = asff(f);
    assert_eq!(at(&v, "/Network/DestinationPort"), 161);
    assert_eq!(
        at(&v, "/Network/Protocol"),
        "UDP",
        "the Network block's port is a UDP port: {}",
        at(&v, "/Network")
    );
    let d = at(&v, "/Description")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!d.contains("TCP ports 161"), "{d}");
    assert!(
        d.contains("161/UDP (SNMP)") && d.contains("22/TCP (SSH)"),
        "{d}"
    );
    assert_eq!(at(&v, "/ProductFields/recon~1protocol"), "UDP/TCP");
}

#[test]
fn probe_scenarios_checked_by_the_ninth_audit_behave() {
    // One scanner, three instances: three findings, each its own count.
    let mut flows = Vec::new();
    for (n, inst) in [
        "i-0000000000000000a",
        "i-0000000000000000b",
        "i-0000000000000000c",
    ]
    .iter()
    .enumerate()
    {
        let eni = format!("eni-000000000000000{n}a");
        let local = format!("10.0.1.{}", 20 + n);
        for k in 0..=n {
            flows.push(
                Flow::inbound(SCANNER, 22, T0 + k as i64)
                    .eni(&eni, Some(inst))
                    .local(&local),
            );
        }
    }
    let c = detect(&[(&key(0), &V5, &flows)]);
    let mut counts: Vec<u64> = of_type(&c.findings, PortProbeUnprotectedPort)
        .iter()
        .map(|f| f.count)
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 3]);
    // Two hosts of one listed /24: two findings, each naming the /24 entry.
    let c = detect(&[(
        &key(0),
        &V2,
        &[
            Flow::inbound(SCANNER, 22, T0),
            Flow::inbound(SCANNER_2, 22, T0 + 1),
        ],
    )]);
    let probes = of_type(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(probes.len(), 2);
    assert!(probes
        .iter()
        .all(|f| f.intel.as_ref().map(|h| h.entry.as_str()) == Some("198.51.100.0/24")));
    // IPv6 CIDR rule.
    let rules = Suppressions::parse(
        "r.toml",
        "[[rule]]\nname = \"v6\"\ncidr = \"2001:db8:bad::/48\"\n",
    )
    .expect("rules");
    let mut b = Batch::new(EngineConfig::default(), intel(), rules);
    b.scan_flows(
        &key(0),
        &V5,
        &[Flow::inbound(SCANNER_V6, 22, T0).local(LOCAL_V6)],
    );
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert!(c.findings.is_empty());
    assert_eq!(c.suppressed.len(), 1);
    // A trusted CIDR over a custom-list host.
    let mut t = intel();
    t.add(ListKind::Trusted, ip_set("vendor", &["203.0.113.0/24"]));
    let mut b = Batch::new(EngineConfig::default(), t, Suppressions::default());
    b.scan_flows(&key(0), &V5, &[Flow::inbound(CUSTOM_BAD, 22, T0)]);
    let c = b.commit(&mut MemoryStore::default(), NOW_MS);
    assert!(c.findings.is_empty());
    // Files read in reverse order, one run each: First/Last seen and count as in one run.
    let mut store = MemoryStore::default();
    let mut r1 = Batch::standard().resume(&store);
    r1.scan_flows(&key(5), &V5, &[Flow::inbound(SCANNER, 9200, T0 + 300)]);
    let c1 = r1.commit(&mut store, NOW_MS);
    let mut r2 = Batch::standard().resume(&store);
    r2.scan_flows(&key(0), &V5, &[Flow::inbound(SCANNER, 22, T0)]);
    let c2 = r2.commit(&mut store, NOW_MS);
    let (a, f) = (
        single(&c1.findings, PortProbeUnprotectedPort),
        single(&c2.findings, PortProbeUnprotectedPort),
    );
    assert_eq!(f.count, 2);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.first_seen, Timestamp::from_secs(T0));
    assert_eq!(f.last_seen, Timestamp::from_secs(T0 + 300));
    assert!(f.updated_at > a.updated_at);
    assert_eq!(f.created_at, a.created_at);
    // NAT gateway ENI (v5 fields without flow-direction, as the grafana test data): the
    // instance behind it fetches from a listed host; the replies are not probes.
    const NAT: &str = "10.0.0.220";
    const BEHIND: &str = "10.0.1.5";
    let mut nat = Vec::new();
    for i in 0..3u16 {
        let t = T0 + i64::from(i);
        let eph = 40000 + i;
        let nport = 50000 + i;
        let mut a = Flow::out(SCANNER, 443, t).no_instance().ports(eph, 443);
        (a.src, a.dst, a.pkt_dst) = (BEHIND.into(), NAT.into(), Some(SCANNER.into()));
        let b = Flow::out(SCANNER, 443, t)
            .no_instance()
            .local(NAT)
            .ports(nport, 443);
        let r = Flow::inbound(SCANNER, nport, t)
            .no_instance()
            .local(NAT)
            .ports(443, nport)
            .flags(Some(18));
        let mut d = Flow::out(BEHIND, eph, t)
            .no_instance()
            .local(NAT)
            .ports(443, eph)
            .flags(Some(18));
        d.pkt_src = Some(SCANNER.into());
        nat.extend([a, b, r, d]);
    }
    let nat: Vec<Flow> = nat
        .into_iter()
        .map(|mut f| {
            f.direction = None;
            f
        })
        .collect();
    for format in [&V3, &V2] {
        let c = detect(&[(&key(0), format, &nat)]);
        assert!(
            of_type(&c.findings, PortProbeUnprotectedPort).is_empty(),
            "{:#?}",
            brief(&c.findings)
        );
    }
}

#[test]
#[ignore = "engine limitation: a default-format record names no instance, so its findings are keyed by the interface, and a custom-format log of the same interface makes a second finding"]
fn limitation_one_probe_in_the_default_and_a_custom_format_log_of_one_instance_is_one_finding() {
    // The VPC's flow log to S3 in the default format, and a second, custom-format (v5) log of
    // the same subnet: both show the one SSH probe of the instance by a listed scanner.
    let probe = [Flow::inbound(SCANNER, 22, T0)];
    let c = detect(&[(&key(0), &V2, &probe), (&key(1), &V5, &probe)]);
    let probes = of_type(&c.findings, PortProbeUnprotectedPort);
    assert_eq!(probes.len(), 1, "{:#?}", brief(&c.findings));
}
