//! One flow-log record, borrowed from its line, and the allocation-free line parser.

use std::net::IpAddr;

use memchr::memchr;
use serde::{Deserialize, Serialize};

use super::field::{bounded, Field, Format};
use super::parse::{Bounds, Columns, Invalid};
use super::reader::MAX_LINE_BYTES;
use crate::cloudtrail::record::is_instance_id;
use crate::input::{is_account_id, is_region};
use crate::time::Timestamp;

/// The `action` field: whether security groups and network ACLs let the traffic through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    /// `ACCEPT`.
    Accept,
    /// `REJECT`.
    Reject,
}

/// The `log-status` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogStatus {
    /// `OK`: data is logged normally.
    Ok,
    /// `NODATA`: no traffic to or from the interface in the interval.
    NoData,
    /// `SKIPDATA`: some records were skipped in the interval (capacity or internal error).
    SkipData,
}

/// The `flow-direction` field, relative to the interface the record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// `ingress`: traffic arriving at the interface.
    Ingress,
    /// `egress`: traffic leaving the interface.
    Egress,
}

/// One flow-log record. Strings borrow from the line; every field is `None` when the column
/// holds `-` or the format lacks it (and `account_id` also when it is `unknown`).
///
/// Fields of version 7 and later (ECS metadata) are recognised in headers but not kept, except
/// `reject-reason`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowRecord<'a> {
    /// `version`.
    pub version: Option<u8>,
    /// `account-id`.
    pub account_id: Option<&'a str>,
    /// `interface-id`.
    pub interface_id: Option<&'a str>,
    /// `srcaddr`.
    pub srcaddr: Option<IpAddr>,
    /// `dstaddr`.
    pub dstaddr: Option<IpAddr>,
    /// `srcport`.
    pub srcport: Option<u16>,
    /// `dstport`.
    pub dstport: Option<u16>,
    /// `protocol` (IANA number; see [`super::protocol_name`]).
    pub protocol: Option<u8>,
    /// `packets`.
    pub packets: Option<u64>,
    /// `bytes`.
    pub bytes: Option<u64>,
    /// `start`, Unix seconds.
    pub start: Option<i64>,
    /// `end`, Unix seconds.
    pub end: Option<i64>,
    /// `action`.
    pub action: Option<Action>,
    /// `log-status`.
    pub log_status: Option<LogStatus>,
    /// `vpc-id`.
    pub vpc_id: Option<&'a str>,
    /// `subnet-id`.
    pub subnet_id: Option<&'a str>,
    /// `instance-id`.
    pub instance_id: Option<&'a str>,
    /// `tcp-flags`, the OR of the flags seen in the interval.
    pub tcp_flags: Option<u16>,
    /// `type`: `IPv4`, `IPv6` or `EFA`.
    pub traffic_type: Option<&'a str>,
    /// `pkt-srcaddr`.
    pub pkt_srcaddr: Option<IpAddr>,
    /// `pkt-dstaddr`.
    pub pkt_dstaddr: Option<IpAddr>,
    /// `region`.
    pub region: Option<&'a str>,
    /// `az-id`.
    pub az_id: Option<&'a str>,
    /// `sublocation-type`.
    pub sublocation_type: Option<&'a str>,
    /// `sublocation-id`.
    pub sublocation_id: Option<&'a str>,
    /// `flow-direction`.
    pub flow_direction: Option<Direction>,
    /// `traffic-path`.
    pub traffic_path: Option<u8>,
    /// `pkt-src-aws-service`.
    pub pkt_src_aws_service: Option<&'a str>,
    /// `pkt-dst-aws-service`.
    pub pkt_dst_aws_service: Option<&'a str>,
    /// `reject-reason`.
    pub reject_reason: Option<&'a str>,
}

impl FlowRecord<'_> {
    /// The packet-level source: `pkt-srcaddr` when present, else `srcaddr`.
    pub fn source(&self) -> Option<IpAddr> {
        self.pkt_srcaddr.or(self.srcaddr)
    }

    /// The packet-level destination: `pkt-dstaddr` when present, else `dstaddr`.
    pub fn destination(&self) -> Option<IpAddr> {
        self.pkt_dstaddr.or(self.dstaddr)
    }

    /// Whether the record describes traffic: log-status is `OK` (or not in the format) and both
    /// a source and a destination address are known. False for NODATA and SKIPDATA records.
    pub fn is_data(&self) -> bool {
        matches!(self.log_status, None | Some(LogStatus::Ok))
            && self.source().is_some()
            && self.destination().is_some()
    }

    /// `start` as a [`Timestamp`].
    pub fn start_time(&self) -> Option<Timestamp> {
        self.start.map(Timestamp::from_secs)
    }

    /// `end` as a [`Timestamp`].
    pub fn end_time(&self) -> Option<Timestamp> {
        self.end.map(Timestamp::from_secs)
    }
}

/// Why one line is not a valid record.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// The line is not UTF-8.
    #[error("not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The line has fewer columns than the format.
    #[error("{found} columns, the format has {expected}")]
    TooFewColumns {
        /// Columns found before the end of the line or a `#` comment.
        found: usize,
        /// Columns in the format.
        expected: usize,
    },
    /// The line has more columns than the format and the extra ones are not a `#` comment.
    #[error("{found} columns, the format has {expected} (extra columns are not a # comment)")]
    TooManyColumns {
        /// Columns found.
        found: usize,
        /// Columns in the format.
        expected: usize,
    },
    /// The line is longer than [`MAX_LINE_BYTES`].
    #[error("line of {len} bytes exceeds {MAX_LINE_BYTES} bytes")]
    TooLong {
        /// Length of the line in bytes.
        len: usize,
    },
    /// A column does not hold a valid value for its field.
    #[error("invalid {field}: {text:?}")]
    InvalidValue {
        /// The field.
        field: Field,
        /// The column's text, cut to 64 characters.
        text: String,
    },
}

/// Parses one line (without its `\n`) as a record of `format`.
///
/// Columns are separated by runs of spaces, tabs or other ASCII control bytes (so a trailing
/// `\r` is ignored). A token starting with `#` begins a comment that runs to the end of the
/// line: after the last column it is ignored, before it the line has too few columns. Columns
/// whose field is [`Field::Unknown`] or not kept in [`FlowRecord`] are skipped unparsed.
/// Lines longer than [`MAX_LINE_BYTES`] are rejected. Nothing is allocated unless the line is
/// invalid.
pub fn parse_record<'a>(line: &'a [u8], format: &Format) -> Result<FlowRecord<'a>, RecordError> {
    let mut record = FlowRecord::default();
    let plan = Plan::new(format.columns());
    parse_into(line, &plan, &mut record, &mut Bounds::new())?;
    Ok(record)
}

/// No column.
const ABSENT: u8 = u8::MAX;

/// A line's columns arranged for parsing: the column of every field a record keeps, so that a
/// line is read field by field in straight-line code (one predictable branch a field) instead
/// of by a branch on each column's field.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The field of each column, [`Field::Unknown`] for those skipped.
    fields: Vec<Field>,
    /// The column of each field (indexed by `Field as usize`), or [`ABSENT`].
    column: [u8; Field::Unknown as usize + 1],
}

impl Plan {
    /// The plan for columns holding `fields` (at most [`MAX_COLUMNS`](super::field::MAX_COLUMNS)
    /// of them, each known field once, as a [`Format`] guarantees).
    pub(crate) fn new(fields: &[Field]) -> Plan {
        let mut column = [ABSENT; Field::Unknown as usize + 1];
        for (index, field) in fields.iter().enumerate() {
            if *field != Field::Unknown {
                column[*field as usize] = u8::try_from(index).unwrap_or(ABSENT);
            }
        }
        Plan {
            fields: fields.to_vec(),
            column,
        }
    }

    /// A plan that reads only `field`, from column `index`.
    fn single(field: Field, index: usize) -> Plan {
        let mut fields = vec![Field::Unknown; index + 1];
        fields[index] = field;
        Plan::new(&fields)
    }

    /// The column of `field`, if the line has it.
    #[inline(always)]
    fn at(&self, field: Field) -> Option<usize> {
        let column = self.column[field as usize];
        (column != ABSENT).then_some(usize::from(column))
    }
}

/// A parser of single lines in one format, keeping some fields: for lines that do not come
/// from a text stream (the messages of CloudWatch Logs events).
pub(crate) struct LineParser {
    plan: Plan,
    bounds: Bounds,
}

impl LineParser {
    /// A parser of lines in `format` that reads only the fields in `keep`.
    pub(crate) fn new(format: &Format, keep: &[Field]) -> LineParser {
        let fields: Vec<Field> = format
            .columns()
            .iter()
            .map(|f| if keep.contains(f) { *f } else { Field::Unknown })
            .collect();
        LineParser {
            plan: Plan::new(&fields),
            bounds: Bounds::new(),
        }
    }

    /// Parses `line` (without its `\n`) into `record`, which must start out empty.
    pub(crate) fn parse<'a>(
        &mut self,
        line: &'a [u8],
        record: &mut FlowRecord<'a>,
    ) -> Result<(), RecordError> {
        parse_into(line, &self.plan, record, &mut self.bounds)
    }
}

/// [`parse_record`] into `record`, which must start out empty (all `None`), with `bounds` as
/// scratch space, for the columns of a format (or a projection of one: see
/// [`FlowLogReader::keeping`](super::FlowLogReader::keeping)).
#[inline]
pub(crate) fn parse_into<'a>(
    line: &'a [u8],
    plan: &Plan,
    record: &mut FlowRecord<'a>,
    bounds: &mut Bounds,
) -> Result<(), RecordError> {
    let fields = plan.fields.as_slice();
    if line.len() > MAX_LINE_BYTES {
        return Err(RecordError::TooLong { len: line.len() });
    }
    let text = match crate::simd::ascii_str(line) {
        Some(text) => text,
        None => std::str::from_utf8(line).map_err(|e| RecordError::NotUtf8 {
            offset: e.valid_up_to(),
        })?,
    };
    let columns = bounds.split(text, fields.len());
    // Columns before a `#` comment; one quick scan shows that most lines have none.
    let mut found = columns.len();
    if memchr(b'#', line).is_some() {
        found = (0..found).find(|i| columns.is_comment(*i)).unwrap_or(found);
    }
    if found < fields.len() {
        return Err(RecordError::TooFewColumns {
            found,
            expected: fields.len(),
        });
    }
    if record.read(plan, &columns).is_err() {
        return Err(first_invalid(fields, &columns));
    }
    if found > fields.len() {
        return Err(too_many_columns(text, fields.len()));
    }
    Ok(())
}

/// The error for the first column, in line order, whose value is invalid for its field (the
/// planned read stops at the first invalid field in its own order).
#[cold]
fn first_invalid(fields: &[Field], columns: &Columns<'_, '_>) -> RecordError {
    for (index, field) in fields.iter().enumerate() {
        if FlowRecord::default()
            .read(&Plan::single(*field, index), columns)
            .is_err()
        {
            return invalid_value(*field, columns.text(index));
        }
    }
    // Not reached: the planned read fails only where a column fails on its own.
    invalid_value(Field::Unknown, "")
}

#[cold]
fn invalid_value(field: Field, text: &str) -> RecordError {
    RecordError::InvalidValue {
        field,
        text: bounded(text),
    }
}

#[cold]
fn too_many_columns(text: &str, expected: usize) -> RecordError {
    let found = text
        .split(|c: char| c <= ' ')
        .filter(|t| !t.is_empty())
        .take_while(|t| !t.starts_with('#'))
        .count();
    RecordError::TooManyColumns { found, expected }
}

impl<'a> FlowRecord<'a> {
    /// Reads every field of `plan` from `c`.
    #[inline(always)]
    fn read(&mut self, plan: &Plan, c: &Columns<'a, '_>) -> Result<(), Invalid> {
        use Field as F;
        macro_rules! read {
            ($slot:ident, $field:expr, $column:ident => $value:expr) => {
                if let Some($column) = plan.at($field) {
                    self.$slot = $value;
                }
            };
        }
        read!(srcaddr, F::SrcAddr, i => c.ip(i)?);
        read!(dstaddr, F::DstAddr, i => c.ip(i)?);
        // Packet-level addresses mostly repeat the interface's: a column equal to the
        // `srcaddr`/`dstaddr` column takes that value without a second parse.
        if let Some(i) = plan.at(F::PktSrcAddr) {
            match plan.at(F::SrcAddr) {
                Some(twin) if c.same(i, twin) => self.pkt_srcaddr = self.srcaddr,
                _ => self.pkt_srcaddr = c.ip(i)?,
            }
        }
        if let Some(i) = plan.at(F::PktDstAddr) {
            match plan.at(F::DstAddr) {
                Some(twin) if c.same(i, twin) => self.pkt_dstaddr = self.dstaddr,
                _ => self.pkt_dstaddr = c.ip(i)?,
            }
        }
        read!(version, F::Version, i => number(c, i)?);
        read!(srcport, F::SrcPort, i => number(c, i)?);
        read!(dstport, F::DstPort, i => number(c, i)?);
        read!(protocol, F::Protocol, i => number(c, i)?);
        read!(packets, F::Packets, i => number(c, i)?);
        read!(bytes, F::Bytes, i => number(c, i)?);
        read!(start, F::Start, i => time(c, i)?);
        read!(end, F::End, i => time(c, i)?);
        read!(tcp_flags, F::TcpFlags, i => number(c, i)?);
        read!(traffic_path, F::TrafficPath, i => number(c, i)?);
        read!(action, F::Action, i => keyword(c.text(i), action)?);
        read!(log_status, F::LogStatus, i => keyword(c.text(i), log_status)?);
        read!(flow_direction, F::FlowDirection, i => keyword(c.text(i), direction)?);
        read!(account_id, F::AccountId, i => account(c.text(i))?);
        read!(interface_id, F::InterfaceId, i => resource_id(c.text(i))?);
        read!(vpc_id, F::VpcId, i => resource_id(c.text(i))?);
        read!(subnet_id, F::SubnetId, i => resource_id(c.text(i))?);
        read!(instance_id, F::InstanceId, i => checked(c.text(i), is_instance_id)?);
        read!(traffic_type, F::Type, i => text(c.text(i)));
        read!(region, F::Region, i => checked(c.text(i), is_region)?);
        read!(az_id, F::AzId, i => resource_id(c.text(i))?);
        read!(sublocation_type, F::SublocationType, i => text(c.text(i)));
        read!(sublocation_id, F::SublocationId, i => resource_id(c.text(i))?);
        read!(pkt_src_aws_service, F::PktSrcAwsService, i => text(c.text(i)));
        read!(pkt_dst_aws_service, F::PktDstAwsService, i => text(c.text(i)));
        read!(reject_reason, F::RejectReason, i => text(c.text(i)));
        Ok(())
    }
}

/// A text column: `None` for `-`.
#[inline(always)]
fn text(token: &str) -> Option<&str> {
    (token != "-").then_some(token)
}

/// Longest resource id accepted in an id column (interface, VPC, subnet, zone, sublocation).
/// AWS ids are at most 25 characters; the bound keeps a damaged or hostile line from making
/// every per-interface record (and the state stored for it) as large as the line.
pub const MAX_ID_BYTES: usize = 64;

/// A resource id column: `None` for `-`, invalid when longer than [`MAX_ID_BYTES`].
#[inline(always)]
fn resource_id(token: &str) -> Result<Option<&str>, Invalid> {
    match token {
        "-" => Ok(None),
        _ if token.len() <= MAX_ID_BYTES => Ok(Some(token)),
        _ => Err(Invalid),
    }
}

/// A text column of a known shape (an instance id, a Region: they go into ARNs and ASFF
/// fields): `None` for `-`, invalid when not of that shape.
#[inline(always)]
fn checked(token: &str, shape: impl Fn(&str) -> bool) -> Result<Option<&str>, Invalid> {
    match token {
        "-" => Ok(None),
        _ if shape(token) => Ok(Some(token)),
        _ => Err(Invalid),
    }
}

/// An unsigned integer column of type `T` (`u8`, `u16`, `u64` or `i64`); `-` is `None`.
#[inline(always)]
fn number<T: Bounded>(columns: &Columns<'_, '_>, index: usize) -> Result<Option<T>, Invalid> {
    Ok(columns
        .uint(index, T::MAX)?
        .and_then(|v| T::try_from(v).ok()))
}

/// A Unix time in seconds, which must fall before 2100: a time far ahead would make invalid
/// ASFF times (past year 9999) and move the stream's clock, closing every open Portscan
/// window at once.
#[inline(always)]
fn time(columns: &Columns<'_, '_>, index: usize) -> Result<Option<i64>, Invalid> {
    const PLAUSIBLE: std::ops::Range<i64> = 0..4_102_444_800;
    match number::<i64>(columns, index)? {
        Some(t) if !PLAUSIBLE.contains(&t) => Err(Invalid),
        t => Ok(t),
    }
}

/// The integer types of record fields, with their largest value as a `u64`.
trait Bounded: TryFrom<u64> {
    const MAX: u64;
}

impl Bounded for u8 {
    const MAX: u64 = u8::MAX as u64;
}

impl Bounded for u16 {
    const MAX: u64 = u16::MAX as u64;
}

impl Bounded for u64 {
    const MAX: u64 = u64::MAX;
}

impl Bounded for i64 {
    const MAX: u64 = i64::MAX as u64;
}

/// A keyword column: `-` is `None`, a known keyword its value, anything else invalid.
#[inline]
fn keyword<T>(token: &str, parse: fn(&str) -> Option<T>) -> Result<Option<T>, Invalid> {
    if token == "-" {
        return Ok(None);
    }
    parse(token).map(Some).ok_or(Invalid)
}

/// An account id: `None` for `-` and `unknown`, invalid unless twelve digits (it becomes the
/// finding's `AwsAccountId`).
#[inline(always)]
fn account(token: &str) -> Result<Option<&str>, Invalid> {
    match token {
        "-" | "unknown" => Ok(None),
        _ if is_account_id(token.as_bytes()) => Ok(Some(token)),
        _ => Err(Invalid),
    }
}

fn action(token: &str) -> Option<Action> {
    match token {
        "ACCEPT" => Some(Action::Accept),
        "REJECT" => Some(Action::Reject),
        _ => None,
    }
}

fn log_status(token: &str) -> Option<LogStatus> {
    match token {
        "OK" => Some(LogStatus::Ok),
        "NODATA" => Some(LogStatus::NoData),
        "SKIPDATA" => Some(LogStatus::SkipData),
        _ => None,
    }
}

fn direction(token: &str) -> Option<Direction> {
    match token {
        "ingress" => Some(Direction::Ingress),
        "egress" => Some(Direction::Egress),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(line: &str) -> Result<FlowRecord<'_>, RecordError> {
        parse_record(line.as_bytes(), &Format::default_v2())
    }

    #[test]
    fn resource_ids_are_bounded() {
        // An interface id is the key of everything kept per interface: a line of 64 KiB must
        // not make one that large.
        let format = Format::from_header("interface-id vpc-id subnet-id").expect("header");
        let ok = format!(
            "eni-{} vpc-0a1b2c3d subnet-0a1b2c3d",
            "a".repeat(MAX_ID_BYTES - 4)
        );
        let r = parse_record(ok.as_bytes(), &format).expect("at the bound");
        assert_eq!(r.interface_id.map(str::len), Some(MAX_ID_BYTES));
        for (column, field) in [
            (0, Field::InterfaceId),
            (1, Field::VpcId),
            (2, Field::SubnetId),
        ] {
            let mut tokens = ["eni-0a1b2c3d", "vpc-0a1b2c3d", "subnet-0a1b2c3d"].map(String::from);
            tokens[column] = "x".repeat(MAX_ID_BYTES + 1);
            let line = tokens.join(" ");
            match parse_record(line.as_bytes(), &format) {
                Err(RecordError::InvalidValue { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn instance_ids_and_regions_must_have_their_shape() {
        // Both go into ARNs and ASFF fields: junk there made findings invalid.
        let format = Format::from_header("version instance-id region").expect("header");
        fn read<'a>(line: &'a str, format: &Format) -> Result<FlowRecord<'a>, RecordError> {
            parse_record(line.as_bytes(), format)
        }
        let ok = read("5 i-0123456789abcdef0 us-east-1", &format).expect("valid");
        assert_eq!(ok.instance_id, Some("i-0123456789abcdef0"));
        assert_eq!(ok.region, Some("us-east-1"));
        let none = read("5 - -", &format).expect("placeholders");
        assert_eq!((none.instance_id, none.region), (None, None));
        for (line, field, text) in [
            ("5 i-xyz us-east-1", Field::InstanceId, "i-xyz"),
            (
                "5 i-0123456789abcdef0 Us-East-1",
                Field::Region,
                "Us-East-1",
            ),
            (
                "5 - not-a-region-at-all-really",
                Field::Region,
                "not-a-region-at-all-really",
            ),
        ] {
            let expected = RecordError::InvalidValue {
                field,
                text: text.to_owned(),
            };
            assert_eq!(read(line, &format).map(|_| ()), Err(expected), "{line}");
        }
    }

    #[test]
    fn default_v2_record() {
        let r = v2(
            "2 123456789010 eni-0a1b2c3d4e5f60718 198.51.100.7 192.0.2.10 49761 3389 6 20 \
                    4249 1418530010 1418530070 REJECT OK",
        )
        .expect("valid");
        assert_eq!(r.version, Some(2));
        assert_eq!(r.account_id, Some("123456789010"));
        assert_eq!(r.interface_id, Some("eni-0a1b2c3d4e5f60718"));
        assert_eq!(r.srcaddr, "198.51.100.7".parse().ok());
        assert_eq!(r.dstaddr, "192.0.2.10".parse().ok());
        assert_eq!(
            (r.srcport, r.dstport, r.protocol),
            (Some(49761), Some(3389), Some(6))
        );
        assert_eq!((r.packets, r.bytes), (Some(20), Some(4249)));
        assert_eq!((r.start, r.end), (Some(1_418_530_010), Some(1_418_530_070)));
        assert_eq!(r.action, Some(Action::Reject));
        assert_eq!(r.log_status, Some(LogStatus::Ok));
        assert_eq!(r.start_time(), Some(Timestamp(1_418_530_010_000)));
        assert_eq!(r.end_time().map(Timestamp::secs), Some(1_418_530_070));
        assert!(r.is_data());
        assert_eq!(r.vpc_id, None);
        assert_eq!(r.tcp_flags, None);
    }

    #[test]
    fn placeholders_and_unknown_account() {
        let r = v2("2 unknown eni-0a1b2c3d4e5f60718 - - - - - - - 1431280876 1431280934 - NODATA")
            .expect("valid");
        assert_eq!(r.account_id, None);
        assert_eq!(
            (r.srcaddr, r.dstaddr, r.srcport, r.dstport),
            (None, None, None, None)
        );
        assert_eq!(
            (r.protocol, r.packets, r.bytes, r.action),
            (None, None, None, None)
        );
        assert_eq!(r.log_status, Some(LogStatus::NoData));
        assert!(!r.is_data());
        let all_dash = vec!["-"; 14].join(" ");
        assert_eq!(v2(&all_dash), Ok(FlowRecord::default()));
    }

    #[test]
    fn blanks_and_carriage_return() {
        let r =
            v2("  2 123456789010 eni-1 192.0.2.1  198.51.100.2 443\t50000 6 1 40 1 2 ACCEPT OK\r")
                .expect("valid");
        assert_eq!(r.srcport, Some(443));
        assert_eq!(r.dstport, Some(50000));
        assert_eq!(r.log_status, Some(LogStatus::Ok));
    }

    #[test]
    fn comments_and_column_counts() {
        let base = "2 123456789010 eni-1 192.0.2.1 198.51.100.2 443 50000 6 1 40 1 2 ACCEPT OK";
        assert!(v2(&format!("{base} #the reply")).is_ok());
        assert!(
            v2(&format!("{base}#tight")).is_err(),
            "OK#tight is not a log-status"
        );
        assert_eq!(
            v2(&format!("{base} extra more #c")),
            Err(RecordError::TooManyColumns {
                found: 16,
                expected: 14
            })
        );
        assert_eq!(
            v2("2 123456789010 eni-1 #comment too early"),
            Err(RecordError::TooFewColumns {
                found: 3,
                expected: 14
            })
        );
        assert_eq!(
            v2(""),
            Err(RecordError::TooFewColumns {
                found: 0,
                expected: 14
            })
        );
    }

    #[test]
    fn invalid_values_name_the_field() {
        let cases = [
            (
                "x 1 e 192.0.2.1 192.0.2.2 1 2 6 1 1 1 1 ACCEPT OK",
                Field::Version,
                "x",
            ),
            (
                "2 111122223333 e 192.0.2.300 192.0.2.2 1 2 6 1 1 1 1 ACCEPT OK",
                Field::SrcAddr,
                "192.0.2.300",
            ),
            (
                "2 111122223333 e 192.0.2.1 192.0.2.2 70000 2 6 1 1 1 1 ACCEPT OK",
                Field::SrcPort,
                "70000",
            ),
            (
                "2 111122223333 e 192.0.2.1 192.0.2.2 1 2 300 1 1 1 1 ACCEPT OK",
                Field::Protocol,
                "300",
            ),
            (
                "2 111122223333 e 192.0.2.1 192.0.2.2 1 2 6 -1 1 1 1 ACCEPT OK",
                Field::Packets,
                "-1",
            ),
            (
                "2 111122223333 e 192.0.2.1 192.0.2.2 1 2 6 1 1 1 1 accept OK",
                Field::Action,
                "accept",
            ),
            (
                "2 111122223333 e 192.0.2.1 192.0.2.2 1 2 6 1 1 1 1 ACCEPT DONE",
                Field::LogStatus,
                "DONE",
            ),
            (
                "2 111122223333 e 192.0.2.1 192.0.2.2 1 2 6 1 1 9999999999999 1 ACCEPT OK",
                Field::Start,
                "9999999999999",
            ),
            // It would be the finding's AwsAccountId, which must be twelve digits.
            (
                "2 12345 e 192.0.2.1 192.0.2.2 1 2 6 1 1 1 1 ACCEPT OK",
                Field::AccountId,
                "12345",
            ),
        ];
        for (line, field, text) in cases {
            let expected = RecordError::InvalidValue {
                field,
                text: text.to_owned(),
            };
            assert_eq!(v2(line), Err(expected), "{line}");
        }
        let long = format!(
            "2 111122223333 e {} 192.0.2.2 1 2 6 1 1 1 1 ACCEPT OK",
            "9".repeat(500)
        );
        let err = v2(&long).expect_err("invalid").to_string();
        assert!(err.starts_with("invalid srcaddr: \"9999"), "{err}");
        assert!(err.len() < 100, "{err}");
    }

    #[test]
    fn over_long_line_is_an_error() {
        let line = format!("2 {}", "1".repeat(MAX_LINE_BYTES));
        let expected = RecordError::TooLong {
            len: MAX_LINE_BYTES + 2,
        };
        assert_eq!(v2(&line), Err(expected));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let line = b"2 123456789010 eni-\xff\xfe 192.0.2.1 198.51.100.2 1 2 6 1 40 1 2 ACCEPT OK";
        assert_eq!(
            parse_record(line, &Format::default_v2()),
            Err(RecordError::NotUtf8 { offset: 19 })
        );
    }

    #[test]
    fn custom_v5_fields() {
        let format = Format::from_header(
            "flow-direction traffic-path pkt-dst-aws-service pkt-src-aws-service sublocation-id \
             sublocation-type az-id region type tcp-flags reject-reason ecs-task-id srcaddr",
        )
        .expect("header");
        let line = "egress 8 S3 - - - apse2-az3 ap-southeast-2 IPv4 19 BPA abc 2001:db8::5";
        let r = parse_record(line.as_bytes(), &format).expect("valid");
        assert_eq!(r.flow_direction, Some(Direction::Egress));
        assert_eq!(r.traffic_path, Some(8));
        assert_eq!(r.pkt_dst_aws_service, Some("S3"));
        assert_eq!(r.pkt_src_aws_service, None);
        assert_eq!((r.sublocation_id, r.sublocation_type), (None, None));
        assert_eq!(
            (r.az_id, r.region),
            (Some("apse2-az3"), Some("ap-southeast-2"))
        );
        assert_eq!(r.traffic_type, Some("IPv4"));
        assert_eq!(r.tcp_flags, Some(19));
        assert_eq!(r.reject_reason, Some("BPA"));
        assert_eq!(r.srcaddr, "2001:db8::5".parse().ok());
        assert!(!r.is_data(), "no destination");
    }

    #[test]
    fn source_prefers_packet_addresses() {
        let format = Format::from_header("srcaddr dstaddr pkt-srcaddr pkt-dstaddr").expect("h");
        let r = parse_record(b"10.0.0.220 10.0.1.5 203.0.113.5 10.0.1.5", &format).expect("ok");
        assert_eq!(r.source(), "203.0.113.5".parse().ok());
        assert_eq!(r.destination(), "10.0.1.5".parse().ok());
        let r = parse_record(b"10.0.0.220 10.0.1.5 - -", &format).expect("ok");
        assert_eq!(r.source(), "10.0.0.220".parse().ok());
        assert!(r.is_data());
    }

    #[test]
    fn packet_addresses_equal_or_not_to_the_interface_addresses() {
        let ip = |t: &str| t.parse::<IpAddr>().ok();
        let format = Format::from_header("srcaddr dstaddr pkt-srcaddr pkt-dstaddr").expect("h");
        for (line, pkt_src, pkt_dst) in [
            (
                "10.0.0.22 10.0.1.5 10.0.0.22 10.0.1.5",
                "10.0.0.22",
                "10.0.1.5",
            ),
            (
                "10.0.0.22 10.0.1.5 10.0.0.23 10.0.1.50",
                "10.0.0.23",
                "10.0.1.50",
            ),
            (
                "2001:db8::1:5 10.0.1.5 2001:db8::1:6 10.0.1.5",
                "2001:db8::1:6",
                "10.0.1.5",
            ),
            (
                "2001:db8::1:5 - 2001:db8::1:5 10.0.1.5",
                "2001:db8::1:5",
                "10.0.1.5",
            ),
        ] {
            let r = parse_record(line.as_bytes(), &format).expect(line);
            assert_eq!(
                (r.pkt_srcaddr, r.pkt_dstaddr),
                (ip(pkt_src), ip(pkt_dst)),
                "{line}"
            );
        }
        // An invalid packet address is still an error when its twin column is valid.
        let bad = parse_record(b"10.0.0.22 10.0.1.5 10.0.0.22 10.0.1.5x", &format);
        assert!(matches!(
            bad,
            Err(RecordError::InvalidValue {
                field: Field::PktDstAddr,
                ..
            })
        ));
        // Packet addresses may come before the interface addresses.
        let format = Format::from_header("pkt-srcaddr srcaddr dstaddr pkt-dstaddr").expect("h");
        let r = parse_record(b"203.0.113.5 10.0.0.22 10.0.1.5 10.0.1.5", &format).expect("ok");
        assert_eq!(
            (r.pkt_srcaddr, r.srcaddr),
            (ip("203.0.113.5"), ip("10.0.0.22"))
        );
        assert_eq!(r.pkt_dstaddr, ip("10.0.1.5"));
    }

    #[test]
    fn the_first_invalid_column_in_the_line_is_named() {
        // The planned read meets srcaddr before version; the error still names the column
        // that comes first in the line.
        let line = "x 123456789010 eni-1 192.0.2.999 198.51.100.2 1 2 6 1 40 1 2 ACCEPT OK";
        match v2(line) {
            Err(RecordError::InvalidValue { field, text }) => {
                assert_eq!((field, text.as_str()), (Field::Version, "x"));
            }
            other => panic!("{other:?}"),
        }
        let line = "2 123456789010 eni-1 192.0.2.999 198.51.100.2 1 2 6 1 40 1 2 MAYBE OK";
        assert!(matches!(
            v2(line),
            Err(RecordError::InvalidValue {
                field: Field::SrcAddr,
                ..
            })
        ));
    }

    #[test]
    fn a_plan_places_every_kept_field_and_skips_the_rest() {
        let fields = [
            Field::Unknown,
            Field::DstPort,
            Field::Unknown,
            Field::SrcAddr,
        ];
        let plan = Plan::new(&fields);
        assert_eq!(plan.at(Field::DstPort), Some(1));
        assert_eq!(plan.at(Field::SrcAddr), Some(3));
        assert_eq!(plan.at(Field::Version), None);
        let mut record = FlowRecord::default();
        let mut bounds = Bounds::new();
        parse_into(b"zz 443 zz 192.0.2.1", &plan, &mut record, &mut bounds).expect("valid");
        assert_eq!(record.dstport, Some(443));
        assert_eq!(record.srcaddr, "192.0.2.1".parse().ok());
    }

    #[test]
    fn text_beyond_ascii_is_still_read() {
        let line = "2 123456789010 eni-0a1b\u{e9} 192.0.2.1 198.51.100.2 1 2 6 1 40 1 2 ACCEPT OK";
        let r = v2(line).expect("valid UTF-8");
        assert_eq!(r.interface_id, Some("eni-0a1b\u{e9}"));
        assert_eq!(r.srcaddr, "192.0.2.1".parse().ok());
    }
}
