//! Field names and record formats: which column of a line holds which field.
//!
//! A [`Format`] is built once per header line and then consulted for every record, so all the
//! name matching happens here and the per-line parser only walks a slice of [`Field`]s.

use std::fmt;

use super::FlowLogError;

/// The most columns a format may have. AWS defines fewer than 50 fields; anything wider is not a
/// flow-log header.
pub const MAX_COLUMNS: usize = 128;

/// One flow-log field, as named in a header line or a `LogFormat` string.
///
/// Fields of versions 2 to 8 are recognised. Every name AWS does not define maps to
/// [`Field::Unknown`]: such a column still counts towards the column total, but is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `version` (v2): the flow-log version, the highest version among the selected fields.
    Version,
    /// `account-id` (v2): owner of the network interface; `unknown` for some AWS-created ENIs.
    AccountId,
    /// `interface-id` (v2): the network interface the traffic was recorded on.
    InterfaceId,
    /// `srcaddr` (v2): source address; the interface's own primary private address on egress.
    SrcAddr,
    /// `dstaddr` (v2): destination address; the interface's own primary private address on
    /// ingress.
    DstAddr,
    /// `srcport` (v2).
    SrcPort,
    /// `dstport` (v2).
    DstPort,
    /// `protocol` (v2): IANA protocol number.
    Protocol,
    /// `packets` (v2).
    Packets,
    /// `bytes` (v2).
    Bytes,
    /// `start` (v2): Unix seconds of the first packet in the aggregation interval.
    Start,
    /// `end` (v2): Unix seconds of the last packet in the aggregation interval.
    End,
    /// `action` (v2): `ACCEPT` or `REJECT`.
    Action,
    /// `log-status` (v2): `OK`, `NODATA` or `SKIPDATA`.
    LogStatus,
    /// `vpc-id` (v3).
    VpcId,
    /// `subnet-id` (v3).
    SubnetId,
    /// `instance-id` (v3): `-` for requester-managed interfaces such as NAT gateways.
    InstanceId,
    /// `tcp-flags` (v3): OR of the flags seen in the interval (FIN 1, SYN 2, RST 4, SYN-ACK 18).
    TcpFlags,
    /// `type` (v3): `IPv4`, `IPv6` or `EFA`.
    Type,
    /// `pkt-srcaddr` (v3): the packet-level source address (the real peer behind a NAT).
    PktSrcAddr,
    /// `pkt-dstaddr` (v3): the packet-level destination address.
    PktDstAddr,
    /// `region` (v4).
    Region,
    /// `az-id` (v4).
    AzId,
    /// `sublocation-type` (v4): `wavelength`, `outpost` or `localzone`.
    SublocationType,
    /// `sublocation-id` (v4).
    SublocationId,
    /// `pkt-src-aws-service` (v5): AWS service owning the packet source address, e.g. `S3`.
    PktSrcAwsService,
    /// `pkt-dst-aws-service` (v5).
    PktDstAwsService,
    /// `flow-direction` (v5): `ingress` or `egress`, relative to the interface.
    FlowDirection,
    /// `traffic-path` (v5): 1–8, the path egress traffic took (internet gateway, NAT, …).
    TrafficPath,
    /// `ecs-cluster-arn` (v7).
    EcsClusterArn,
    /// `ecs-cluster-name` (v7).
    EcsClusterName,
    /// `ecs-container-instance-arn` (v7).
    EcsContainerInstanceArn,
    /// `ecs-container-instance-id` (v7).
    EcsContainerInstanceId,
    /// `ecs-container-id` (v7).
    EcsContainerId,
    /// `ecs-second-container-id` (v7).
    EcsSecondContainerId,
    /// `ecs-service-name` (v7).
    EcsServiceName,
    /// `ecs-task-definition-arn` (v7).
    EcsTaskDefinitionArn,
    /// `ecs-task-arn` (v7).
    EcsTaskArn,
    /// `ecs-task-id` (v7).
    EcsTaskId,
    /// `reject-reason` (v8): why traffic was rejected, e.g. `BPA` (Block Public Access).
    RejectReason,
    /// A field name this parser does not know; its column is skipped.
    Unknown,
}

/// Every known field with its header name and the version that introduced it.
const FIELDS: [(Field, &str, u8); 40] = [
    (Field::Version, "version", 2),
    (Field::AccountId, "account-id", 2),
    (Field::InterfaceId, "interface-id", 2),
    (Field::SrcAddr, "srcaddr", 2),
    (Field::DstAddr, "dstaddr", 2),
    (Field::SrcPort, "srcport", 2),
    (Field::DstPort, "dstport", 2),
    (Field::Protocol, "protocol", 2),
    (Field::Packets, "packets", 2),
    (Field::Bytes, "bytes", 2),
    (Field::Start, "start", 2),
    (Field::End, "end", 2),
    (Field::Action, "action", 2),
    (Field::LogStatus, "log-status", 2),
    (Field::VpcId, "vpc-id", 3),
    (Field::SubnetId, "subnet-id", 3),
    (Field::InstanceId, "instance-id", 3),
    (Field::TcpFlags, "tcp-flags", 3),
    (Field::Type, "type", 3),
    (Field::PktSrcAddr, "pkt-srcaddr", 3),
    (Field::PktDstAddr, "pkt-dstaddr", 3),
    (Field::Region, "region", 4),
    (Field::AzId, "az-id", 4),
    (Field::SublocationType, "sublocation-type", 4),
    (Field::SublocationId, "sublocation-id", 4),
    (Field::PktSrcAwsService, "pkt-src-aws-service", 5),
    (Field::PktDstAwsService, "pkt-dst-aws-service", 5),
    (Field::FlowDirection, "flow-direction", 5),
    (Field::TrafficPath, "traffic-path", 5),
    (Field::EcsClusterArn, "ecs-cluster-arn", 7),
    (Field::EcsClusterName, "ecs-cluster-name", 7),
    (
        Field::EcsContainerInstanceArn,
        "ecs-container-instance-arn",
        7,
    ),
    (
        Field::EcsContainerInstanceId,
        "ecs-container-instance-id",
        7,
    ),
    (Field::EcsContainerId, "ecs-container-id", 7),
    (Field::EcsSecondContainerId, "ecs-second-container-id", 7),
    (Field::EcsServiceName, "ecs-service-name", 7),
    (Field::EcsTaskDefinitionArn, "ecs-task-definition-arn", 7),
    (Field::EcsTaskArn, "ecs-task-arn", 7),
    (Field::EcsTaskId, "ecs-task-id", 7),
    (Field::RejectReason, "reject-reason", 8),
];

/// The fields of the default (version 2) format, in order.
const DEFAULT_V2: [Field; 14] = [
    Field::Version,
    Field::AccountId,
    Field::InterfaceId,
    Field::SrcAddr,
    Field::DstAddr,
    Field::SrcPort,
    Field::DstPort,
    Field::Protocol,
    Field::Packets,
    Field::Bytes,
    Field::Start,
    Field::End,
    Field::Action,
    Field::LogStatus,
];

impl Field {
    /// The field for a header name (`srcaddr`, `log-status`, …); [`Field::Unknown`] otherwise.
    /// Names are matched exactly, as AWS writes them (lower case).
    pub fn from_name(name: &str) -> Field {
        FIELDS
            .iter()
            .find(|(_, n, _)| *n == name)
            .map_or(Field::Unknown, |(f, _, _)| *f)
    }

    /// The header name of the field; `"unknown"` for [`Field::Unknown`].
    pub fn name(self) -> &'static str {
        self.entry().map_or("unknown", |(_, n, _)| n)
    }

    /// The flow-log version that introduced the field; `None` for [`Field::Unknown`].
    pub fn since_version(self) -> Option<u8> {
        self.entry().map(|(_, _, v)| *v)
    }

    /// Whether the field is one AWS defines (not [`Field::Unknown`]).
    pub fn is_known(self) -> bool {
        self != Field::Unknown
    }

    fn entry(self) -> Option<&'static (Field, &'static str, u8)> {
        FIELDS.iter().find(|(f, _, _)| *f == self)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The column layout of flow-log records: for each column, which [`Field`] it holds.
///
/// Built once per header (or once for the default format) so that parsing a record is a walk
/// over this slice with no name lookups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    columns: Vec<Field>,
}

impl Default for Format {
    fn default() -> Self {
        Format::default_v2()
    }
}

impl Format {
    /// The default format: the fourteen version-2 fields, used when a file has no header.
    pub fn default_v2() -> Format {
        Format {
            columns: DEFAULT_V2.to_vec(),
        }
    }

    /// A format from fields in column order. Fails on an empty list, on more than
    /// [`MAX_COLUMNS`] columns and on a known field named twice.
    pub fn from_fields(fields: &[Field]) -> Result<Format, FlowLogError> {
        if fields.is_empty() {
            return Err(FlowLogError::EmptyHeader);
        }
        if fields.len() > MAX_COLUMNS {
            return Err(FlowLogError::TooManyColumns {
                count: fields.len(),
            });
        }
        for (i, f) in fields.iter().enumerate() {
            if *f != Field::Unknown && fields[..i].contains(f) {
                return Err(FlowLogError::DuplicateField { name: f.name() });
            }
        }
        if fields.iter().all(|f| *f == Field::Unknown) {
            return Err(FlowLogError::NoKnownField);
        }
        Ok(Format {
            columns: fields.to_vec(),
        })
    }

    /// Parses a header line (`version account-id interface-id …`) or a `LogFormat` string as
    /// given to CreateFlowLogs (`${version} ${srcaddr} …`). Names are separated by runs of
    /// spaces, tabs or other ASCII control bytes (so a trailing `\r` is ignored). Names AWS
    /// does not define become [`Field::Unknown`] columns, so a format with newer fields still
    /// lines up; but at least one name must be known, and every name must look like one
    /// (lower-case letters, digits, `-`).
    pub fn from_header(line: &str) -> Result<Format, FlowLogError> {
        let mut fields = Vec::new();
        for token in line.split(|c: char| c <= ' ').filter(|t| !t.is_empty()) {
            let name = strip_placeholder(token);
            if !is_name_shaped(name.as_bytes()) {
                return Err(FlowLogError::BadHeaderName {
                    name: bounded(token),
                });
            }
            fields.push(Field::from_name(name));
        }
        Format::from_fields(&fields)
    }

    /// The format of a header line damaged in a few names (a byte changed on disk or in
    /// transit), when most of its tokens, and at least two, are known field names, each once.
    /// The damaged names become [`Field::Unknown`] columns, not read; they are returned too.
    /// `None` for anything else: no record has field names among its columns.
    pub fn from_damaged_header(line: &[u8]) -> Option<(Format, Vec<String>)> {
        let tokens = header_tokens(line);
        let known = tokens.iter().filter(|(_, f)| f.is_known()).count();
        if known < 2 || 2 * known <= tokens.len() {
            return None;
        }
        let fields: Vec<Field> = tokens.iter().map(|(_, f)| *f).collect();
        Format::from_fields(&fields)
            .ok()
            .map(|format| (format, unknown_names(line)))
    }

    /// Whether `line` is a header line rather than a record: every token is shaped like a field
    /// name and at least one is a known field. Cheap on records, which fail on the first token
    /// that starts with a digit, `-` or an upper-case letter, before any name is looked up.
    pub fn is_header_line(line: &[u8]) -> bool {
        let mut names = line
            .split(|b| *b <= b' ')
            .filter(|t| !t.is_empty())
            .map(strip_placeholder_bytes);
        let known =
            |name: &[u8]| std::str::from_utf8(name).is_ok_and(|n| Field::from_name(n).is_known());
        names.clone().all(is_name_shaped) && names.any(known)
    }

    /// The fields in column order.
    pub fn columns(&self) -> &[Field] {
        &self.columns
    }

    /// The number of columns a record must have.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Always false: a format has at least one column.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The column index of `field`, if the format has it.
    pub fn position(&self, field: Field) -> Option<usize> {
        self.columns
            .iter()
            .position(|f| *f == field && field != Field::Unknown)
    }

    /// Whether the format has `field`.
    pub fn contains(&self, field: Field) -> bool {
        self.position(field).is_some()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.columns.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(field.name())?;
        }
        Ok(())
    }
}

/// `${name}` → `name`; anything else unchanged.
/// The tokens of a header line, each with the field it names ([`Field::Unknown`] for none).
fn header_tokens(line: &[u8]) -> Vec<(&[u8], Field)> {
    line.split(|b| *b <= b' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let name = std::str::from_utf8(strip_placeholder_bytes(t));
            (t, name.map_or(Field::Unknown, Field::from_name))
        })
        .collect()
}

/// The tokens of a header line that name no known field, for messages.
pub(crate) fn unknown_names(line: &[u8]) -> Vec<String> {
    header_tokens(line)
        .into_iter()
        .filter(|(_, f)| !f.is_known())
        .map(|(t, _)| bounded(&String::from_utf8_lossy(t)))
        .collect()
}

fn strip_placeholder(token: &str) -> &str {
    token
        .strip_prefix("${")
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(token)
}

fn strip_placeholder_bytes(token: &[u8]) -> &[u8] {
    token
        .strip_prefix(b"${")
        .and_then(|t| t.strip_suffix(b"}"))
        .unwrap_or(token)
}

/// A lower-case letter followed by lower-case letters, digits and `-`.
fn is_name_shaped(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            first.is_ascii_lowercase()
                && rest
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        }
        None => false,
    }
}

/// At most 64 characters of `text`, for error messages.
pub(crate) fn bounded(text: &str) -> String {
    const LIMIT: usize = 64;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (field, name, _) in FIELDS {
            assert_eq!(Field::from_name(name), field);
            assert_eq!(field.name(), name);
        }
        assert_eq!(Field::from_name("srcAddr"), Field::Unknown);
        assert_eq!(Field::Unknown.name(), "unknown");
        assert_eq!(Field::TrafficPath.since_version(), Some(5));
        assert_eq!(Field::Unknown.since_version(), None);
    }

    #[test]
    fn default_format_is_v2() {
        let f = Format::default_v2();
        assert_eq!(f.len(), 14);
        assert_eq!(
            f.to_string(),
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets \
             bytes start end action log-status"
        );
        assert_eq!(Format::from_header(&f.to_string()), Ok(f));
    }

    #[test]
    fn header_with_unknown_and_placeholders() {
        let f = Format::from_header("${srcaddr}  future-field\t${dstport}\r").expect("header");
        assert_eq!(
            f.columns(),
            &[Field::SrcAddr, Field::Unknown, Field::DstPort]
        );
        assert_eq!(f.position(Field::DstPort), Some(2));
        assert_eq!(f.position(Field::Unknown), None);
        assert!(!f.contains(Field::Version));
    }

    #[test]
    fn bad_headers() {
        assert_eq!(Format::from_header("  "), Err(FlowLogError::EmptyHeader));
        assert_eq!(
            Format::from_header("foo bar"),
            Err(FlowLogError::NoKnownField)
        );
        assert_eq!(
            Format::from_header("srcaddr srcaddr"),
            Err(FlowLogError::DuplicateField { name: "srcaddr" })
        );
        assert!(matches!(
            Format::from_header("srcaddr 10.0.0.1"),
            Err(FlowLogError::BadHeaderName { .. })
        ));
        let wide = vec!["x"; MAX_COLUMNS + 1].join(" ");
        assert!(matches!(
            Format::from_header(&wide),
            Err(FlowLogError::TooManyColumns { .. })
        ));
    }

    #[test]
    fn header_detection() {
        assert!(Format::is_header_line(b"version account-id srcaddr\r"));
        assert!(Format::is_header_line(b"instance-id interface-id srcaddr"));
        assert!(!Format::is_header_line(
            b"2 123456789010 eni-1235b8ca123456789 - -"
        ));
        assert!(!Format::is_header_line(
            b"- eni-1235b8ca123456789 192.0.2.1 198.51.100.7"
        ));
        assert!(!Format::is_header_line(b"eni-1235b8ca123456789 ingress"));
        assert!(!Format::is_header_line(b""));
        assert!(!Format::is_header_line(b"\xff\xfe"));
    }

    #[test]
    fn bounded_text() {
        assert_eq!(bounded("abc"), "abc");
        let long = "é".repeat(100);
        assert_eq!(bounded(&long).chars().count(), 65);
    }
}
