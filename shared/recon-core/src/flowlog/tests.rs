//! Reader-level tests on hand-written fixtures (documentation addresses only), the shared
//! corpus of real logs when `RECON_CORPUS` is set, and an ignored throughput measurement.

use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::*;
use crate::corpus_support::{corpus, files_under};

const V2: &str = "\
2 123456789010 eni-0a1b2c3d4e5f60718 198.51.100.7 192.0.2.10 49761 3389 6 20 4249 \
    1418530010 1418530070 REJECT OK
2 123456789010 eni-0a1b2c3d4e5f60718 - - - - - - - 1431280876 1431280934 - NODATA
2 unknown eni-0a1b2c3d4e5f60719 - - - - - - - 1431280876 1431280934 - SKIPDATA
2 123456789010 eni-0a1b2c3d4e5f60718 203.0.113.12 192.0.2.10 0 0 1 4 336 1432917027 \
    1432917142 ACCEPT OK
2 123456789010 eni-0a1b2c3d4e5f60718 2001:db8:1234:a100::5 2001:db8:1234:a102::7 34892 22 \
    6 54 8855 1477913708 1477913820 ACCEPT OK
";

/// Collects every record of `text` as (record debug string, error) pairs.
fn read_all(text: &[u8]) -> (Vec<String>, Vec<LineError>) {
    let mut reader = FlowLogReader::new(text);
    let (mut records, mut errors) = (Vec::new(), Vec::new());
    while let Some(next) = reader.next_record() {
        match next {
            Ok(rec) => records.push(format!("{rec:?}")),
            Err(e) => errors.push(e),
        }
    }
    (records, errors)
}

fn ip(text: &str) -> Option<IpAddr> {
    text.parse().ok()
}

#[test]
fn default_v2_without_header() {
    let mut reader = FlowLogReader::new(V2.as_bytes());
    assert_eq!(reader.format(), &Format::default_v2());
    let mut statuses = Vec::new();
    let mut data = 0;
    while let Some(next) = reader.next_record() {
        let rec = next.expect("valid");
        assert_eq!(rec.version, Some(2));
        statuses.push(rec.log_status);
        data += usize::from(rec.is_data());
        if rec.protocol == Some(1) {
            assert_eq!((rec.srcport, rec.dstport), (Some(0), Some(0)));
            assert_eq!(initiator(&rec), Initiator::Unknown);
        }
        if rec.srcaddr.is_some_and(|a| a.is_ipv6()) {
            assert_eq!(rec.dstaddr, ip("2001:db8:1234:a102::7"));
            assert_eq!(initiator(&rec), Initiator::Source);
        }
        if rec.log_status == Some(LogStatus::SkipData) {
            assert_eq!(rec.account_id, None, "unknown account");
        }
    }
    use LogStatus::{NoData, Ok as Fine, SkipData};
    assert_eq!(
        statuses,
        [
            Some(Fine),
            Some(NoData),
            Some(SkipData),
            Some(Fine),
            Some(Fine)
        ]
    );
    assert_eq!(data, 3);
    assert_eq!(reader.lines_read(), 5);
}

#[test]
fn v3_header_in_custom_order_with_tcp_flags() {
    let text = "\
version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport \
    dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status
3 vpc-0a1b2c3d subnet-0a1b2c3d i-0123456789abcdef0 eni-0a1b2c3d4e5f60718 123456789010 IPv4 \
    203.0.113.9 10.0.0.62 43416 5001 203.0.113.9 10.0.0.62 6 568 8 1566848875 1566848933 \
    ACCEPT 2 OK
3 vpc-0a1b2c3d subnet-0a1b2c3d i-0123456789abcdef0 eni-0a1b2c3d4e5f60718 123456789010 IPv4 \
    10.0.0.62 203.0.113.9 5001 43416 10.0.0.62 203.0.113.9 6 376 7 1566848875 1566848933 \
    ACCEPT 18 OK
3 vpc-0a1b2c3d subnet-0a1b2c3d i-0123456789abcdef0 eni-0a1b2c3d4e5f60718 123456789010 IPv4 \
    203.0.113.9 10.0.0.62 43638 5001 203.0.113.9 10.0.0.62 6 1260 17 1566933133 1566933193 \
    ACCEPT 3 OK
3 vpc-0a1b2c3d subnet-0a1b2c3d i-0123456789abcdef0 eni-0a1b2c3d4e5f60718 123456789010 IPv4 \
    10.0.0.62 203.0.113.9 5001 43638  10.0.0.62 203.0.113.9 6 967 14 1566933133 1566933193 \
    ACCEPT 19 OK
3 vpc-0a1b2c3d subnet-0a1b2c3d i-0123456789abcdef0 eni-0a1b2c3d4e5f60718 123456789010 IPv4 \
    10.0.0.62 203.0.113.9 5001 43418 10.0.0.62 203.0.113.9 6 63388 1219 1566848933 1566849113 \
    ACCEPT 1 OK
";
    let mut reader = FlowLogReader::new(text.as_bytes());
    assert_eq!(reader.format().len(), 21);
    assert_eq!(reader.format().position(Field::TcpFlags), Some(19));
    let mut seen = Vec::new();
    while let Some(next) = reader.next_record() {
        let rec = next.expect("valid");
        assert_eq!(rec.vpc_id, Some("vpc-0a1b2c3d"));
        assert_eq!(rec.instance_id, Some("i-0123456789abcdef0"));
        assert_eq!(rec.traffic_type, Some("IPv4"));
        assert_eq!(rec.protocol, Some(6));
        seen.push((rec.tcp_flags, initiator(&rec)));
    }
    let (src, dst) = (Initiator::Source, Initiator::Destination);
    let expected = [(2, src), (18, dst), (3, src), (19, dst), (1, dst)];
    assert_eq!(seen, expected.map(|(f, i)| (Some(f), i)));
}

#[test]
fn v4_and_v5_headers() {
    let text = "\
region az-id sublocation-type sublocation-id srcaddr dstaddr version action log-status
us-west-2 usw2-lax1-az1 localzone usw2-lax1-az1 192.0.2.4 198.51.100.8 4 ACCEPT OK
version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id \
    vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id \
    action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service \
    traffic-path flow-direction log-status
5 203.0.113.40 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 \
    vpc-0a1b2c3d subnet-0a1b2c3d i-0123456789abcdef0 eni-0a1b2c3d4e5f60718 ap-southeast-2 \
    apse2-az3 - - ACCEPT 19 203.0.113.40 10.0.0.71 S3 - - ingress OK
5 10.0.0.71 203.0.113.40 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 \
    vpc-0a1b2c3d subnet-0a1b2c3d i-0123456789abcdef0 eni-0a1b2c3d4e5f60718 ap-southeast-2 \
    apse2-az3 - - ACCEPT 3 10.0.0.71 203.0.113.40 - S3 8 egress OK
";
    let mut reader = FlowLogReader::new(text.as_bytes());
    assert_eq!(reader.format().columns()[0], Field::Region);
    let v4 = reader.next_record().expect("record").expect("valid");
    assert_eq!(v4.region, Some("us-west-2"));
    assert_eq!(v4.sublocation_type, Some("localzone"));
    assert_eq!(v4.sublocation_id, Some("usw2-lax1-az1"));
    assert_eq!(v4.version, Some(4));
    let ingress = reader.next_record().expect("record").expect("valid");
    assert_eq!(ingress.flow_direction, Some(Direction::Ingress));
    assert_eq!(ingress.pkt_src_aws_service, Some("S3"));
    assert_eq!(ingress.traffic_path, None);
    assert_eq!(
        (ingress.sublocation_type, ingress.sublocation_id),
        (None, None)
    );
    assert_eq!(initiator(&ingress), Initiator::Destination);
    let egress = reader.next_record().expect("record").expect("valid");
    assert_eq!(egress.flow_direction, Some(Direction::Egress));
    assert_eq!(egress.traffic_path, Some(8));
    assert_eq!(egress.pkt_dst_aws_service, Some("S3"));
    assert_eq!(initiator(&egress), Initiator::Source);
    assert!(reader.next_record().is_none());
    assert_eq!(reader.format().len(), 29);
}

#[test]
fn every_field_as_placeholder() {
    let names: Vec<&str> = FIELD_NAMES.to_vec();
    let text = format!(
        "{}\n{}\n",
        names.join(" "),
        vec!["-"; names.len()].join(" ")
    );
    let mut reader = FlowLogReader::new(text.as_bytes());
    assert!(reader.format().columns().iter().all(|f| f.is_known()));
    let rec = reader.next_record().expect("record").expect("valid");
    assert_eq!(rec, FlowRecord::default());
    assert!(!rec.is_data());
    assert_eq!(initiator(&rec), Initiator::Unknown);
}

/// Every field name AWS defines, versions 2 to 8.
const FIELD_NAMES: [&str; 40] = [
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
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
];

#[test]
fn nodata_and_skipdata_with_v5_tail() {
    let text = "\
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes \
    start end action log-status pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service
5 123456789012 eni-0a1b2c3d4e5f60718 - - - - - - - 1754324989 1754325020 - NODATA - - - -
5 123456789012 eni-0a1b2c3d4e5f60718 - - - - - - - 1754324989 1754325020 - SKIPDATA - - - -
5 123456789012 eni-0a1b2c3d4e5f60718 10.0.0.5 10.0.1.9 443 54428 6 16 6942 1754321693 \
    1754321724 ACCEPT OK 203.0.113.74 10.0.1.9 AMAZON -";
    let mut reader = FlowLogReader::new(text.as_bytes());
    let mut kinds = Vec::new();
    while let Some(next) = reader.next_record() {
        let rec = next.expect("valid");
        kinds.push((rec.log_status, rec.is_data(), rec.source()));
    }
    assert_eq!(
        kinds,
        [
            (Some(LogStatus::NoData), false, None),
            (Some(LogStatus::SkipData), false, None),
            (Some(LogStatus::Ok), true, ip("203.0.113.74")),
        ]
    );
}

#[test]
fn malformed_lines_are_numbered_and_reading_continues() {
    let text = b"\
version srcaddr dstaddr srcport dstport protocol action log-status

2 192.0.2.1 198.51.100.2 50000 22 6 ACCEPT OK
2 192.0.2.1 198.51.100.2 50000 22 6 ACCEPT
2 192.0.2.999 198.51.100.2 50000 22 6 ACCEPT OK
# a comment line
2 192.0.2.1 198.51.100.2 50000 22 6 ACCEPT OK stray
2 192.0.2.1 198.51.100.2 5x 22 6 ACCEPT OK
2 192.0.2.1 198.51.100.2 50000 22 6 \xff\xfeACCEPT OK
2 192.0.2.1 198.51.100.2 50000 23 6 ACCEPT OK #annotated
2 192.0.2.1 198.51.100.2 50000 23 6 DROP OK
";
    let (records, errors) = read_all(text);
    assert_eq!(records.len(), 2);
    let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [4, 5, 6, 7, 8, 9, 11]);
    assert!(errors.iter().all(|e| e.kind == LineErrorKind::Malformed));
    let reasons: Vec<&str> = errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons[0], "7 columns, the format has 8");
    assert_eq!(reasons[1], "invalid srcaddr: \"192.0.2.999\"");
    // No flow log has comment lines: one is a damaged record as likely as a note.
    assert!(reasons[2].starts_with("starts with #"), "{}", reasons[2]);
    assert!(
        reasons[3].starts_with("9 columns, the format has 8"),
        "{}",
        reasons[3]
    );
    assert_eq!(reasons[4], "invalid srcport: \"5x\"");
    assert!(reasons[5].starts_with("not UTF-8"), "{}", reasons[5]);
    assert_eq!(reasons[6], "invalid action: \"DROP\"");
    assert_eq!(
        errors[1].to_string(),
        "line 5: invalid srcaddr: \"192.0.2.999\""
    );
}

#[test]
fn header_mid_file_switches_format() {
    let text = "\
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes \
    start end action log-status
2 123456789010 eni-0a1b2c3d4e5f60718 198.51.100.7 192.0.2.10 49761 3389 6 20 4249 \
    1418530010 1418530070 REJECT OK
interface-id srcaddr dstaddr dstport tcp-flags flow-direction
eni-0a1b2c3d4e5f60718 203.0.113.5 10.0.0.8 9200 2 ingress
eni-0a1b2c3d4e5f60718 203.0.113.5 10.0.0.8 9300 2 ingress
";
    let mut reader = FlowLogReader::new(text.as_bytes());
    let first = reader.next_record().expect("record").expect("valid");
    assert_eq!(first.dstport, Some(3389));
    assert_eq!(reader.format().len(), 14);
    let mut ports = Vec::new();
    while let Some(next) = reader.next_record() {
        let rec = next.expect("valid");
        assert_eq!(rec.flow_direction, Some(Direction::Ingress));
        assert_eq!(rec.version, None);
        ports.push(rec.dstport);
    }
    assert_eq!(ports, [Some(9200), Some(9300)]);
    assert_eq!(reader.format().columns()[0], Field::InterfaceId);
    assert_eq!(reader.lines_read(), 5);
}

#[test]
fn lent_records_are_the_records_returned() {
    let text = format!("{V2}not a record\n{}\n", "9".repeat(MAX_LINE_BYTES + 1));
    let mut returned = Vec::new();
    let mut reader = FlowLogReader::new(text.as_bytes());
    while let Some((line, item)) = reader.next_numbered() {
        returned.push(format!("{line} {item:?}"));
    }
    let mut lent = Vec::new();
    let mut reader = FlowLogReader::new(text.as_bytes());
    while let Some(entry) = reader.next_with(|line, item| format!("{line} {item:?}")) {
        lent.push(entry);
    }
    assert_eq!(
        returned.len(),
        7,
        "five records, a malformed line, a long line"
    );
    // `{:?}` of `Ok(&record)` and `Ok(record)` print alike.
    assert_eq!(lent, returned);
}

#[test]
fn a_projection_parses_only_the_fields_kept_and_still_counts_columns() {
    const KEPT: &[Field] = &[Field::SrcAddr, Field::DstPort, Field::Action];
    let text = "\
version srcaddr dstport bytes action
2 198.51.100.7 443 not-a-number ACCEPT
2 198.51.100.8 22 100
version srcaddr bytes dstport action
2 198.51.100.9 100 8080 REJECT
";
    let mut reader = FlowLogReader::new(text.as_bytes()).keeping(KEPT);
    let first = reader.next_record().and_then(Result::ok);
    let first = first.map(|r| (r.srcaddr, r.dstport, r.action, r.bytes, r.version));
    assert_eq!(
        first,
        Some((
            ip("198.51.100.7"),
            Some(443),
            Some(Action::Accept),
            None,
            None
        )),
        "kept fields parsed, the others left unparsed and unchecked"
    );
    let short = reader.next_record().and_then(Result::err);
    assert_eq!(
        short.map(|e| (e.line, e.kind)),
        Some((3, LineErrorKind::Malformed))
    );
    // The header in mid-file moves `dstport`: the projection follows it.
    let third = reader.next_record().and_then(Result::ok);
    let third = third.map(|r| (r.dstport, r.action, r.bytes));
    assert_eq!(third, Some((Some(8080), Some(Action::Reject), None)));
    assert!(reader.next_record().is_none());
    // Without the projection the same bad column is an error.
    let (_, errors) = read_all(text.as_bytes());
    assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3]);
}

#[test]
fn bad_header_is_reported_once() {
    let text = "srcaddr srcaddr dstaddr\n192.0.2.1 198.51.100.2 50000 22 6 20 40 1 2 ACCEPT OK\n";
    let (records, errors) = read_all(text.as_bytes());
    assert!(records.is_empty());
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].line, 1);
    assert_eq!(
        errors[0].reason,
        "bad header: flow-log header names srcaddr twice"
    );
    assert_eq!(
        errors[1].line, 2,
        "default v2 still applies: too few columns"
    );
}

#[test]
fn long_line_is_skipped() {
    let good = "2 123456789010 eni-1 192.0.2.1 198.51.100.2 50000 22 6 1 40 1 2 ACCEPT OK\n";
    let long = format!("2 {}\n", "x".repeat(MAX_LINE_BYTES * 3));
    let text = format!("{good}{long}{good}");
    // A small buffer forces the long line to arrive in many pieces.
    let mut reader = FlowLogReader::new(BufReader::with_capacity(1024, text.as_bytes()));
    assert!(reader.next_record().expect("record").is_ok());
    let err = reader.next_record().expect("record").expect_err("too long");
    assert_eq!((err.line, err.kind), (2, LineErrorKind::TooLong));
    assert!(
        err.reason.contains(&(MAX_LINE_BYTES * 3 + 2).to_string()),
        "{}",
        err.reason
    );
    assert!(reader.next_record().expect("record").is_ok());
    assert!(reader.next_record().is_none());
    assert_eq!(reader.lines_read(), 3);
}

#[test]
fn long_line_inside_the_reader_buffer_is_skipped() {
    // A `&[u8]` reader hands out the whole input as one buffer: the zero-copy path.
    let good = "2 123456789010 eni-1 192.0.2.1 198.51.100.2 50000 22 6 1 40 1 2 ACCEPT OK\n";
    let text = format!("{good}{}\n{good}", "9 ".repeat(MAX_LINE_BYTES));
    let (records, errors) = read_all(text.as_bytes());
    assert_eq!(records.len(), 2);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].line, errors[0].kind),
        (2, LineErrorKind::TooLong)
    );
}

#[test]
fn lines_straddling_small_buffers_parse_the_same() {
    let mut text = String::from("\n");
    text.push_str("version srcaddr dstaddr srcport dstport protocol tcp-flags action log-status\n");
    for i in 0..40 {
        text.push_str(&format!(
            "5 203.0.113.{i} 10.0.0.5 5{i:04} 22 6 2 ACCEPT OK\r\n"
        ));
    }
    text.push_str("5 2001:db8::1 2001:db8::2 - - 58 - REJECT OK");
    let (expected, none) = read_all(text.as_bytes());
    assert!(none.is_empty());
    assert_eq!(expected.len(), 41);
    for capacity in [1, 2, 7, 16, 63, 64, 65, 100, 4096] {
        let mut reader = FlowLogReader::new(BufReader::with_capacity(capacity, text.as_bytes()));
        let mut got = Vec::new();
        while let Some(next) = reader.next_record() {
            got.push(format!("{:?}", next.expect("valid")));
        }
        assert_eq!(got, expected, "buffer capacity {capacity}");
        assert_eq!(reader.lines_read(), 43);
    }
}

#[test]
fn crlf_missing_final_newline_and_blank_lines() {
    let text = "\r\n  \n\
        version srcaddr dstaddr action log-status\r\n\
        3 192.0.2.1 198.51.100.2 ACCEPT OK\r\n\
        \t\n\
        3 192.0.2.1 198.51.100.3 REJECT OK";
    let mut reader = FlowLogReader::new(text.as_bytes());
    assert_eq!(reader.format().len(), 5);
    let a = reader.next_record().expect("record").expect("valid");
    assert_eq!(a.log_status, Some(LogStatus::Ok));
    let b = reader.next_record().expect("record").expect("valid");
    assert_eq!(
        (b.action, b.dstaddr),
        (Some(Action::Reject), ip("198.51.100.3"))
    );
    assert!(reader.next_record().is_none());
    assert!(reader.next_record().is_none());
    assert_eq!(reader.lines_read(), 6);
}

#[test]
fn empty_and_header_only_streams() {
    let (records, errors) = read_all(b"");
    assert!(records.is_empty() && errors.is_empty());
    let mut reader = FlowLogReader::new(&b"version srcaddr dstaddr\n"[..]);
    assert_eq!(reader.format().len(), 3);
    assert!(reader.next_record().is_none());
}

/// Yields `data`, then fails.
struct FailingReader<'a> {
    data: &'a [u8],
}

impl Read for FailingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "corrupt deflate stream",
            ));
        }
        self.data.read(buf)
    }
}

#[test]
fn io_error_ends_the_stream_with_position() {
    let data = V2.as_bytes();
    let cut = data.len() - 20; // inside the last line
    let mut reader = FlowLogReader::new(BufReader::new(FailingReader { data: &data[..cut] }));
    let mut ok = 0;
    let err = loop {
        match reader.next_record() {
            Some(Ok(_)) => ok += 1,
            Some(Err(e)) => break e,
            None => panic!("stream ended without the I/O error"),
        }
    };
    assert_eq!(ok, 4);
    assert!(err.is_fatal());
    assert_eq!(err.line, 5);
    assert_eq!(
        err.reason,
        "read failed after 4 complete lines: corrupt deflate stream"
    );
    assert!(reader.next_record().is_none());
}

#[test]
fn io_error_before_first_record() {
    let mut reader = FlowLogReader::new(BufReader::new(FailingReader { data: b"" }));
    let err = reader.next_record().expect("error").expect_err("io");
    assert_eq!((err.line, err.kind), (1, LineErrorKind::Io));
    assert!(reader.next_record().is_none());
}

#[test]
fn with_format_for_headerless_custom_streams() {
    let format = Format::from_header("${srcaddr} ${dstaddr} ${dstport}").expect("format");
    let mut reader = FlowLogReader::with_format(&b"192.0.2.1 198.51.100.2 445\n"[..], format);
    let rec = reader.next_record().expect("record").expect("valid");
    assert_eq!(rec.dstport, Some(445));
    assert_eq!(rec.dstport.and_then(port_name), Some("SMB"));
}

#[test]
fn line_error_converts_to_flow_log_error() {
    let (_, errors) = read_all(b"2 oops\n");
    let err: FlowLogError = errors[0].clone().into();
    assert_eq!(err.to_string(), "line 1: 2 columns, the format has 14");
}

// --- Shared corpus -----------------------------------------------------------------------------

struct Tally {
    records: usize,
    nodata: usize,
    data: usize,
    errors: Vec<LineError>,
}

fn tally(path: &Path) -> Tally {
    let file = std::fs::File::open(path).expect("readable corpus file");
    let mut reader = FlowLogReader::new(BufReader::new(file));
    let mut t = Tally {
        records: 0,
        nodata: 0,
        data: 0,
        errors: Vec::new(),
    };
    while let Some(next) = reader.next_record() {
        match next {
            Ok(rec) => {
                t.records += 1;
                t.nodata += usize::from(rec.log_status == Some(LogStatus::NoData));
                t.data += usize::from(rec.is_data());
            }
            Err(e) => t.errors.push(e),
        }
    }
    t
}

/// Every `.log` file of the shared corpus parses without a single line error. The NAT-gateway
/// documentation example ends two records with `#comments`; those are comments, not errors.
#[test]
fn shared_corpus_parses_cleanly() {
    let Some(root) = corpus("shared_corpus_parses_cleanly") else {
        return;
    };
    let dir = Path::new(&root).join("vpc-flow-logs");
    let logs: Vec<PathBuf> = files_under(&dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert!(
        logs.len() >= 8,
        "expected the corpus logs under {}",
        dir.display()
    );
    for path in &logs {
        let t = tally(path);
        eprintln!(
            "{}: {} records, {} NODATA",
            path.display(),
            t.records,
            t.nodata
        );
        assert!(t.errors.is_empty(), "{}: {:?}", path.display(), t.errors);
        assert!(t.records > 0, "{}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        match name {
            "raw.log" => assert_eq!((t.records, t.nodata, t.data), (775, 404, 371)),
            "nat-gateway-custom_examples.log" => assert_eq!((t.records, t.data), (6, 6)),
            "aws-test_flow_logs.log" => assert_eq!((t.records, t.data), (6, 4)),
            _ => {}
        }
    }
}

// --- Throughput ----------------------------------------------------------------------------------

const BENCH_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport \
    protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags \
    type pkt-srcaddr pkt-dstaddr flow-direction";

/// A small deterministic generator (xorshift64*), enough to vary the synthetic lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `lines` synthetic v5 records shaped like the benchmark corpus (2 % NODATA).
fn synthetic_v5(lines: usize) -> Vec<u8> {
    use std::fmt::Write;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = String::with_capacity(lines * 200);
    out.push_str(BENCH_HEADER);
    out.push('\n');
    let ports = [443, 80, 53, 22, 3306, 5432, 6379, 8080, 123, 9200];
    for i in 0..lines {
        let eni = rng.below(400);
        let start = 1_790_000_000 + i as u64 / 100;
        if rng.below(50) == 0 {
            let _ = writeln!(
                out,
                "5 111122223333 eni-{eni:017x} - - - - - - - {start} {} - NODATA - - \
                 i-{eni:017x} - - - - -",
                start + 60
            );
            continue;
        }
        let own = format!("10.0.{}.{}", eni / 250, eni % 250 + 1);
        let peer = format!(
            "{}.{}.{}.{}",
            rng.below(223) + 1,
            rng.below(256),
            rng.below(256),
            rng.below(254) + 1
        );
        let inbound = rng.below(2) == 0;
        let (src, dst) = if inbound {
            (&peer, &own)
        } else {
            (&own, &peer)
        };
        let port = ports[rng.below(10) as usize];
        let eph = 32768 + rng.below(28232);
        let action = if rng.below(100) < 85 {
            "ACCEPT"
        } else {
            "REJECT"
        };
        let packets = rng.below(200) + 1;
        let flags = [2, 3, 18, 19, 1][rng.below(5) as usize];
        let dir = if inbound { "ingress" } else { "egress" };
        let _ = writeln!(
            out,
            "5 111122223333 eni-{eni:017x} {src} {dst} {eph} {port} 6 {packets} {} {start} {} \
             {action} OK vpc-0a1b2c3d subnet-0a1b2c3d i-{eni:017x} {flags} IPv4 {src} {dst} {dir}",
            packets * (40 + rng.below(1460)),
            start + rng.below(60) + 1
        );
    }
    out.into_bytes()
}

/// CPU time of the current thread in seconds, where Linux reports it (`None` elsewhere). The
/// throughput test reports it next to wall time, which other load on a shared machine inflates.
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

/// Parses 2,000,000 synthetic v5 lines from memory and prints lines/s (best of five runs). Run
/// with `cargo test --release -- --ignored --nocapture flowlog_throughput`.
#[test]
#[ignore = "throughput measurement; run in release mode"]
fn flowlog_throughput() {
    const LINES: usize = 2_000_000;
    let data = synthetic_v5(LINES);
    let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let started = (std::time::Instant::now(), thread_cpu_secs());
        let mut reader = FlowLogReader::new(&data[..]);
        let (mut records, mut checksum) = (0usize, 0u64);
        while let Some(next) = reader.next_record() {
            let rec = next.expect("synthetic lines are valid");
            records += 1;
            checksum += u64::from(rec.dstport.unwrap_or(0)) + u64::from(rec.source().is_some());
        }
        wall = wall.min(started.0.elapsed().as_secs_f64());
        if let (Some(end), Some(start)) = (thread_cpu_secs(), started.1) {
            cpu = cpu.min(end - start);
        }
        assert_eq!(records, LINES);
        std::hint::black_box(checksum);
    }
    let mb = data.len() as f64 / 1e6;
    for (clock, secs) in [("wall", wall), ("thread CPU", cpu)] {
        if secs < f64::MAX {
            let (rate, ns) = (LINES as f64 / secs / 1e6, secs * 1e9 / LINES as f64);
            let mb_s = mb / secs;
            eprintln!(
                "flowlog ({clock}): {LINES} lines, {mb:.0} MB: {rate:.2} M lines/s, \
                 {mb_s:.0} MB/s, {ns:.0} ns/line"
            );
        }
    }
}

/// Random lines built from the bytes that matter to the parser never panic it, whatever the
/// format, and whole streams of them never panic the reader.
#[test]
fn random_lines_never_panic() {
    const ALPHABET: &[u8] = b"0123456789....----::::    \t\r#abcdefxyzACEPTOKNDS\xff\xc3\xa9$";
    let wide = Format::from_header(BENCH_HEADER).expect("format");
    let narrow = Format::from_header("srcaddr ${dstport} future-field").expect("format");
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let mut stream = Vec::new();
    for _ in 0..20_000 {
        let len = rng.below(300) as usize;
        let line: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize])
            .collect();
        for format in [&Format::default_v2(), &wide, &narrow] {
            let _ = parse_record(&line, format);
        }
        stream.extend_from_slice(&line);
        stream.push(b'\n');
    }
    // Valid lines with a few bytes changed reach every column parser.
    for line in synthetic_v5(5_000).split(|b| *b == b'\n') {
        let mut line = line.to_vec();
        for _ in 0..rng.below(4) {
            if !line.is_empty() && !line.starts_with(b"version") {
                let at = rng.below(line.len() as u64) as usize;
                line[at] = ALPHABET[rng.below(ALPHABET.len() as u64) as usize];
            }
        }
        let _ = parse_record(&line, &wide);
        stream.extend_from_slice(&line);
        stream.push(b'\n');
    }
    let (records, errors) = read_all(&stream);
    assert!(
        records.len() > 1_000 && errors.len() > 1_000,
        "{} {}",
        records.len(),
        errors.len()
    );
}

#[test]
fn synthetic_lines_parse() {
    let data = synthetic_v5(2000);
    let (records, errors) = read_all(&data);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(records.len(), 2000);
}

#[test]
fn reader_is_a_buf_read_consumer() {
    // `&[u8]`, `BufReader<File>` and `BufReader<GzDecoder<…>>` all satisfy the bound.
    fn takes<R: BufRead>(r: R) -> usize {
        let mut reader = FlowLogReader::new(r);
        let mut n = 0;
        while reader.next_record().is_some() {
            n += 1;
        }
        n
    }
    assert_eq!(takes(io::Cursor::new(V2.as_bytes())), 5);
}

#[test]
fn a_damaged_header_is_still_the_header() {
    // One changed byte used to leave the header unrecognised, and every line after it
    // malformed against the default format.
    let records = "5 eni-0a1b2c3d 192.0.2.1 198.51.100.2 50000 22 ACCEPT\n\
                   5 eni-0a1b2c3d 192.0.2.1 198.51.100.2 50001 23 REJECT\n";
    for header in [
        "~ersion interface-id srcaddr dstaddr srcport dstport action",
        "5ersion interface-id srcaddr dstaddr srcport dstport action",
        "version interface-id srcaddr dstaddr srcport dstport~ action",
        "version interface-id srcaddr dst\u{7f}addr srcport dstport action",
    ] {
        let text = format!("{header}\n{records}");
        for lent in [false, true] {
            let mut reader = FlowLogReader::new(text.as_bytes());
            let mut seen = Vec::new();
            loop {
                let next = if lent {
                    reader.next_with(|line, r| (line, r.map(|r| (r.srcport, r.action))))
                } else {
                    reader
                        .next_numbered()
                        .map(|(line, r)| (line, r.map(|r| (r.srcport, r.action))))
                };
                let Some((line, item)) = next else { break };
                seen.push((line, item.map_err(|e| e.reason)));
            }
            assert_eq!(seen.len(), 3, "{header}: {seen:?}");
            let (line, Err(reason)) = &seen[0] else {
                panic!("{header}: {seen:?}")
            };
            assert_eq!(*line, 1);
            assert!(
                reason.starts_with("a damaged header, read as one"),
                "{reason}"
            );
            assert_eq!(
                seen[1].1,
                Ok((Some(50000), Some(Action::Accept))),
                "{header}"
            );
            assert_eq!(
                seen[2].1,
                Ok((Some(50001), Some(Action::Reject))),
                "{header}"
            );
        }
    }
    // Records are never taken for a damaged header, nor is a line with one name.
    for line in [
        "2 111122223333 eni-0a1b2c3d version srcaddr 50000 22 6 1 40 1 2 ACCEPT OK",
        "~ersion",
        "version dstport x y z",
    ] {
        assert!(
            Format::from_damaged_header(line.as_bytes()).is_none(),
            "{line}"
        );
    }
}

#[test]
fn a_byte_order_mark_or_an_export_time_before_the_header_leaves_it_a_header() {
    // A file saved by an editor starts with a byte-order mark; a CloudWatch Logs export puts
    // each event's time before it, the header's too. Either made line 1 a damaged header, and
    // with the time every later line had a column too few.
    let header = "version srcaddr dstaddr srcport dstport protocol start end action log-status \
                  interface-id account-id flow-direction";
    let record = "5 3.90.198.217 10.0.0.5 51515 22 6 1764547300 1764547330 ACCEPT OK \
                  eni-0a1b2c3d4e5f60718 111122223333 ingress";
    let time = "2025-12-01T00:00:00.000Z ";
    for text in [
        format!("\u{feff}{header}\n{record}\n"),
        format!("{time}{header}\n{time}{record}\n"),
        format!("\u{feff}{time}{header}\n{time}{record}\n"),
        format!("\u{feff}{}\n", V2.lines().next().unwrap_or_default()),
    ] {
        let (records, errors) = read_all(text.as_bytes());
        assert!(errors.is_empty(), "{text:?}: {errors:?}");
        assert_eq!(records.len(), 1, "{text:?}");
    }
    // A byte-order mark is only the first bytes of a file, not a line's.
    let (records, errors) = read_all(format!("{record}\n\u{feff}{record}\n").as_bytes());
    assert_eq!((records.len(), errors.len()), (0, 2), "{errors:?}");
}
