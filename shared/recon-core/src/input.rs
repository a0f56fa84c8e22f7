//! Opening log objects: gzip or plain, with a bound on decompressed size, and recognising what
//! an object holds before any parser sees it.
//!
//! Two ways in, one bound on memory:
//! - [`open_bytes`]: an object already in memory (a small file, an S3 body). A single-member gzip
//!   object whose compressed and decompressed sizes together stay under
//!   [`Limits::max_inline_bytes`] is decompressed in one piece with libdeflate, about twice as fast
//!   as streaming inflate; its CRC-32 and size are checked against the trailer.
//! - [`open`]: anything else is read as a stream (memory does not grow with its size).
//!
//! Guarantees: memory per object is bounded by `max_inline_bytes` or the stream buffers,
//! whatever the object's size; reading more than [`Limits::max_decompressed_bytes`] ends the
//! stream with an error instead of exhausting memory (decompression bombs); a truncated or
//! corrupt gzip stream surfaces as an I/O error from the reader, after every byte that could be
//! decoded has been delivered (such objects always take the streaming path).

use std::io::{self, BufRead, BufReader, Read};

use crate::gzstream::GzStream;

/// Bounds applied to untrusted objects.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most bytes an object may decompress to (CloudTrail files are rarely over 100 MiB).
    pub max_decompressed_bytes: u64,
    /// Largest single record (a CloudTrail record or a flow-log line) the parsers buffer.
    pub max_record_bytes: usize,
    /// Largest object handled in one piece: its stored size plus its decompressed size.
    pub max_inline_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 4 << 30,
            max_record_bytes: 8 << 20,
            max_inline_bytes: 24 << 20,
        }
    }
}

/// What an object holds, recognised from its name and first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A CloudTrail delivery file: `{"Records":[…]}`.
    CloudTrail,
    /// CloudTrail records as a bare JSON array.
    CloudTrailArray,
    /// One CloudTrail record per line (or concatenated objects), as exports write them.
    CloudTrailLines,
    /// CloudTrail event history, as `aws cloudtrail lookup-events` prints it.
    CloudTrailEventHistory,
    /// CloudTrail sent to CloudWatch Logs, as `aws logs filter-log-events` or `get-log-events`
    /// prints it: each record a JSON string, the `message` of an event.
    CloudTrailLogEvents,
    /// VPC Flow Logs in text form, with or without a header line.
    FlowLog,
    /// VPC Flow Logs sent to CloudWatch Logs, as `aws logs filter-log-events` or
    /// `get-log-events` prints them: each line the `message` of an event.
    FlowLogEvents,
    /// A CloudTrail digest file (log-file validation), not a log.
    CloudTrailDigest,
    /// CloudTrail Insights events: no API calls to evaluate.
    CloudTrailInsight,
    /// An empty object.
    Empty,
    /// An archive, or a compression other than gzip (zip, tar, 7z, bzip2, xz, zstd): to be
    /// extracted first.
    Archive,
    /// Apache Parquet, VPC Flow Logs' other delivery format: not read.
    Parquet,
    /// Something else (another service's file, an unknown format).
    Other,
}

impl ObjectKind {
    /// True for the kinds a detector evaluates.
    pub fn is_log(self) -> bool {
        matches!(
            self,
            ObjectKind::CloudTrail
                | ObjectKind::CloudTrailArray
                | ObjectKind::CloudTrailLines
                | ObjectKind::CloudTrailEventHistory
                | ObjectKind::CloudTrailLogEvents
                | ObjectKind::FlowLog
                | ObjectKind::FlowLogEvents
        )
    }

    /// True for the CloudTrail record kinds.
    pub fn is_cloudtrail(self) -> bool {
        matches!(
            self,
            ObjectKind::CloudTrail
                | ObjectKind::CloudTrailArray
                | ObjectKind::CloudTrailLines
                | ObjectKind::CloudTrailEventHistory
                | ObjectKind::CloudTrailLogEvents
        )
    }

    /// A short description for log lines.
    pub fn describe(self) -> &'static str {
        match self {
            ObjectKind::CloudTrail => "CloudTrail log file",
            ObjectKind::CloudTrailArray => "CloudTrail records (JSON array)",
            ObjectKind::CloudTrailLines => "CloudTrail records (one per line)",
            ObjectKind::CloudTrailEventHistory => "CloudTrail event history (lookup-events)",
            ObjectKind::CloudTrailLogEvents => {
                "CloudTrail from CloudWatch Logs (filter-log-events or get-log-events)"
            }
            ObjectKind::FlowLog => "VPC flow log",
            ObjectKind::FlowLogEvents => {
                "VPC flow log from CloudWatch Logs (filter-log-events or get-log-events)"
            }
            ObjectKind::CloudTrailDigest => "CloudTrail digest file (not a log)",
            ObjectKind::CloudTrailInsight => "CloudTrail Insights file (no API calls)",
            ObjectKind::Empty => "empty object",
            ObjectKind::Archive => {
                "an archive or a compression other than gzip (zip, tar, 7z, bzip2, xz, zstd): \
                 extract it and scan what it holds"
            }
            ObjectKind::Parquet => "a Parquet file (Parquet flow logs are not read yet)",
            ObjectKind::Other => "not a CloudTrail or flow log",
        }
    }
}

/// A reader that fails once more than `limit` bytes have passed through it.
struct Bounded<R> {
    inner: R,
    remaining: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.remaining {
            // The bytes within the limit first (whole records among them count); the error
            // with the next read.
            if let Ok(keep @ 1..) = usize::try_from(self.remaining) {
                self.remaining = 0;
                return Ok(keep);
            }
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "decompressed size exceeds the limit of {} bytes",
                    self.limit
                ),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// An object's decompressed content.
pub enum Content {
    /// All of it, in memory.
    Bytes(Vec<u8>),
    /// A stream of it.
    Stream(Box<dyn BufRead + Send>),
}

impl Content {
    /// The memory of in-memory content, for reuse by the next object.
    pub fn into_buffer(self) -> Option<Vec<u8>> {
        match self {
            Content::Bytes(b) => Some(b),
            Content::Stream(_) => None,
        }
    }

    /// The content as a buffered reader.
    pub fn into_reader(self) -> Box<dyn BufRead + Send> {
        match self {
            Content::Bytes(b) => Box::new(io::Cursor::new(b)),
            Content::Stream(r) => r,
        }
    }
}

/// An opened object: its decompressed content, and its kind.
pub struct Opened {
    /// The decompressed content.
    pub content: Content,
    /// What the object holds.
    pub kind: ObjectKind,
    /// True when the object was gzip-compressed.
    pub gzip: bool,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BUF: usize = 256 * 1024;

/// Opens `raw` (the object's bytes as stored), decompressing gzip when the magic bytes say so,
/// and recognises its kind from `name` (an S3 key or a path) and the first bytes.
pub fn open(name: &str, raw: Box<dyn Read + Send>, limits: Limits) -> io::Result<Opened> {
    let mut raw = BufReader::with_capacity(BUF, raw);
    let gzip = raw.fill_buf()?.starts_with(&GZIP_MAGIC);
    let plain: Box<dyn Read + Send> = if gzip {
        Box::new(GzStream::new(raw))
    } else {
        Box::new(raw)
    };
    let bounded = Bounded {
        inner: plain,
        remaining: limits.max_decompressed_bytes,
        limit: limits.max_decompressed_bytes,
    };
    let mut reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(BUF, bounded));
    let kind = match name_hint(name) {
        Some(kind) => kind,
        None => sniff_named(name, reader.fill_buf()?),
    };
    Ok(Opened {
        content: Content::Stream(reader),
        kind,
        gzip,
    })
}

/// Opens an object held in memory: decompressed in one piece when it is a single-member gzip
/// object within [`Limits::max_inline_bytes`], streamed otherwise.
pub fn open_bytes(name: &str, raw: Vec<u8>, limits: Limits) -> io::Result<Opened> {
    open_bytes_into(name, raw, limits, Vec::new())
}

/// Like [`open_bytes`], decompressing into `scratch` (a buffer from an earlier object, see
/// [`Content::into_buffer`]): reusing one buffer spares the page faults of a fresh allocation
/// per object and keeps the allocator from fragmenting.
pub fn open_bytes_into(
    name: &str,
    raw: Vec<u8>,
    limits: Limits,
    scratch: Vec<u8>,
) -> io::Result<Opened> {
    let gzip = raw.starts_with(&GZIP_MAGIC);
    let content = if gzip {
        match inflate_whole(&raw, limits, scratch) {
            Some(out) => out,
            None => return open(name, Box::new(io::Cursor::new(raw)), limits),
        }
    } else {
        raw
    };
    let kind = match name_hint(name) {
        Some(kind) => kind,
        None => sniff_named(name, &content[..content.len().min(BUF)]),
    };
    Ok(Opened {
        content: Content::Bytes(content),
        kind,
        gzip,
    })
}

/// Decompresses a single-member gzip object with libdeflate into `out`, or `None` when it must
/// be streamed instead: too large, several members, or damaged (the stream reports how far it
/// got).
fn inflate_whole(raw: &[u8], limits: Limits, mut out: Vec<u8>) -> Option<Vec<u8>> {
    let trailer = raw.len().checked_sub(4).map(|at| &raw[at..])?;
    let size = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
    if raw.len().saturating_add(size) > limits.max_inline_bytes
        || size as u64 > limits.max_decompressed_bytes
    {
        return None;
    }
    // Every byte is overwritten on success, so a reused buffer is not zeroed again.
    out.truncate(size);
    out.resize(size, 0);
    crate::gzip::decompress_single_member(raw, &mut out).then_some(out)
}

/// [`sniff`] of the first [`BUF`] bytes of the object `name`, falling back on the name that
/// AWS gives its delivery files when those bytes do not tell: a first line longer than they
/// are, or more blank lines (the reader skips blank lines and reports over-long ones).
fn sniff_named(name: &str, head: &[u8]) -> ObjectKind {
    let kind = sniff(head);
    let undecided = kind == ObjectKind::Other || (kind == ObjectKind::Empty && head.len() >= BUF);
    if !undecided {
        return kind;
    }
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    if file.contains("_vpcflowlogs_") {
        ObjectKind::FlowLog
    } else if file.contains("_CloudTrail_") && file.contains(".json") {
        ObjectKind::CloudTrail
    } else {
        kind
    }
}

/// Kinds that the key alone tells (CloudTrail's own layout names them).
fn name_hint(name: &str) -> Option<ObjectKind> {
    if name.contains("/CloudTrail-Digest/") || name.contains("_CloudTrail-Digest_") {
        return Some(ObjectKind::CloudTrailDigest);
    }
    if name.contains("/CloudTrail-Insight/") || name.contains("_CloudTrail-Insight_") {
        return Some(ObjectKind::CloudTrailInsight);
    }
    if name.ends_with(".parquet") {
        return Some(ObjectKind::Parquet);
    }
    None
}

/// The Region an S3 key or path names, in CloudTrail's and VPC Flow Logs' layouts:
/// `…/CloudTrail/<region>/…`, `…/vpcflowlogs/<region>/…`, `aws-region=<region>`, or the
/// `_<region>_` part of their file names.
pub fn region_from_key(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split(['/', '\\']).collect();
    for w in parts.windows(2) {
        if matches!(w[0], "CloudTrail" | "vpcflowlogs" | "CloudTrail-Insight") && is_region(w[1]) {
            return Some(w[1].to_owned());
        }
    }
    if let Some(r) = parts.iter().find_map(|p| p.strip_prefix("aws-region=")) {
        return is_region(r).then(|| r.to_owned());
    }
    let file = parts.last()?;
    let mut fields = file.split('_');
    while let Some(f) = fields.next() {
        if f == "CloudTrail" || f == "vpcflowlogs" {
            return fields.next().filter(|r| is_region(r)).map(str::to_owned);
        }
    }
    None
}

/// The account an S3 key or path names: `AWSLogs/<account>/…`, `aws-account-id=<account>`, or
/// the `<account>_vpcflowlogs_` / `<account>_CloudTrail_` prefix of the file name.
pub fn account_from_key(key: &str) -> Option<String> {
    let is_account = |s: &str| is_account_id(s.as_bytes());
    let parts: Vec<&str> = key.split(['/', '\\']).collect();
    for w in parts.windows(2) {
        if w[0] == "AWSLogs" && is_account(w[1]) {
            return Some(w[1].to_owned());
        }
    }
    if let Some(a) = parts.iter().find_map(|p| p.strip_prefix("aws-account-id=")) {
        return is_account(a).then(|| a.to_owned());
    }
    let file = parts.last()?;
    let (first, rest) = file.split_once('_')?;
    (is_account(first) && (rest.starts_with("vpcflowlogs_") || rest.starts_with("CloudTrail_")))
        .then(|| first.to_owned())
}

/// Twelve ASCII digits: the only shape of an AWS account id. CloudTrail writes other text in
/// account fields too (`ANONYMOUS_PRINCIPAL` for unauthenticated S3 requests).
#[inline]
pub fn is_account_id(s: &[u8]) -> bool {
    // Without a branch per byte: flow-log readers check one on every line.
    s.len() == 12
        && s.iter()
            .fold(true, |ok, &b| ok & (b.wrapping_sub(b'0') < 10))
}

/// `xx-name-N` shapes such as `us-east-1`, `ap-southeast-2`, `us-gov-west-1` (at most 16
/// characters, as ASFF allows).
pub fn is_region(s: &str) -> bool {
    if s.len() > 16 {
        return false;
    }
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// Recognises an object's kind from its first decompressed bytes.
pub fn sniff(head: &[u8]) -> ObjectKind {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return ObjectKind::Empty;
    };
    if let Some(kind) = sniff_magic(head) {
        return kind;
    }
    let body = &head[start..];
    match body[0] {
        b'[' => ObjectKind::CloudTrailArray,
        b'{' => sniff_object(body),
        b'0'..=b'9' if export_prefix(body).is_some() => {
            // CloudTrail sent to CloudWatch Logs and exported: a time before each record.
            let rest = &body[export_prefix(body).unwrap_or_default()..];
            match sniff_object(rest) {
                ObjectKind::CloudTrailLines => ObjectKind::CloudTrailLines,
                _ => ObjectKind::Other,
            }
        }
        _ if looks_like_flow_log(body) => ObjectKind::FlowLog,
        _ => sniff_later_lines(body),
    }
}

/// Lines looked at after a first line that is not recognised.
const SNIFF_LINES: usize = 4;

/// The kind of a log read line by line whose first line is damaged, from the next
/// [`SNIFF_LINES`] lines: one damaged line must not hide the rest of a file. The reader then
/// reports the first line as malformed.
fn sniff_later_lines(body: &[u8]) -> ObjectKind {
    let mut lines = body.split(|b| *b == b'\n').skip(1).take(SNIFF_LINES);
    let kind = lines.find_map(|line| {
        let line = line.trim_ascii_start();
        let object = &line[export_prefix(line).unwrap_or(0)..];
        if object.first() == Some(&b'{') && sniff_object(object) == ObjectKind::CloudTrailLines {
            Some(ObjectKind::CloudTrailLines)
        } else {
            looks_like_flow_log(line).then_some(ObjectKind::FlowLog)
        }
    });
    kind.unwrap_or(ObjectKind::Other)
}

/// Containers recognised by their magic bytes, so that the log line says what to do with them.
fn sniff_magic(head: &[u8]) -> Option<ObjectKind> {
    const ARCHIVES: [&[u8]; 6] = [
        b"PK\x03\x04",         // zip
        b"7z\xBC\xAF\x27\x1C", // 7z
        b"BZh",                // bzip2
        b"\xFD7zXZ\x00",       // xz
        b"\x28\xB5\x2F\xFD",   // zstd
        b"PK\x05\x06",         // an empty zip
    ];
    if ARCHIVES.iter().any(|m| head.starts_with(m)) {
        return Some(ObjectKind::Archive);
    }
    // tar: `ustar` at offset 257 of the first header block.
    if head.get(257..262) == Some(b"ustar") {
        return Some(ObjectKind::Archive);
    }
    head.starts_with(b"PAR1").then_some(ObjectKind::Parquet)
}

fn sniff_object(body: &[u8]) -> ObjectKind {
    let first_key = first_key(body);
    match first_key {
        Some(b"Records") => return ObjectKind::CloudTrail,
        Some(b"awsAccountId" | b"digestStartTime" | b"digestEndTime") => {
            return ObjectKind::CloudTrailDigest
        }
        _ => {}
    }
    let has = |needle: &[u8]| memchr::memmem::find(body, needle).is_some();
    // lookup-events output (its `Events` first from the CLI, anywhere when a script saved the
    // whole response): the records are strings, so their keys appear only escaped — an
    // unescaped `"eventVersion"` is a record's own key.
    if has(b"\"Events\"") && has(b"\"CloudTrailEvent\"") && !has(b"\"eventVersion\"") {
        return ObjectKind::CloudTrailEventHistory;
    }
    // The CloudWatch Logs API's events of a CloudTrail log group: the same, with the records
    // under `message`, where their own keys are escaped.
    if has(b"\"events\"")
        && has(b"\"message\"")
        && !has(b"\"eventVersion\"")
        && has(b"\\\"eventName\\\"")
    {
        return ObjectKind::CloudTrailLogEvents;
    }
    if has(b"\"events\"") && first_message(body).is_some_and(looks_like_flow_message) {
        return ObjectKind::FlowLogEvents;
    }
    if has(b"\"Records\"") && !has(b"\"eventName\"") {
        ObjectKind::CloudTrail
    } else if has(b"\"digestStartTime\"") {
        ObjectKind::CloudTrailDigest
    } else if has(b"\"eventName\"") && has(b"\"eventSource\"") {
        if has(b"\"Records\"") {
            ObjectKind::CloudTrail
        } else {
            ObjectKind::CloudTrailLines
        }
    } else {
        ObjectKind::Other
    }
}

/// The first `"message"` string in `body`, up to its first escape, if any.
fn first_message(body: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\"message\"";
    let key = memchr::memmem::find(body, KEY)?;
    let rest = &body[key + KEY.len()..];
    let colon = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = rest[colon..].strip_prefix(b":")?;
    let open = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = rest[open..].strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// A flow-log line: the default format's shape, or (for a custom format) an interface id and
/// an action or log status among its columns.
fn looks_like_flow_message(line: &[u8]) -> bool {
    let words = || {
        line.split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty())
    };
    looks_like_flow_log(line)
        || (words().any(|w| w.starts_with(b"eni-"))
            && words().any(|w| matches!(w, b"ACCEPT" | b"REJECT" | b"NODATA" | b"SKIPDATA")))
}

/// The first key of a JSON object starting at `body[0] == b'{'`, when it has no escapes.
fn first_key(body: &[u8]) -> Option<&[u8]> {
    let rest = &body[1..];
    let q = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = rest[q..].strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    (rest[end] == b'"').then_some(&rest[..end])
}

/// The length of the time and space that a CloudWatch Logs export puts before each event
/// (`2021-07-29T13:02:53.000Z {"eventVersion":…`), when `line` starts with one and an object
/// follows.
pub fn export_prefix(line: &[u8]) -> Option<usize> {
    export_time(line).filter(|&n| line.get(n) == Some(&b'{'))
}

/// The length of the time and space before the event when `line` starts with them, as in a
/// CloudWatch Logs export. Two byte compares turn down nearly every other line.
#[inline]
pub fn export_time(line: &[u8]) -> Option<usize> {
    if line.len() < 21 || line[4] != b'-' || line[10] != b'T' {
        return None;
    }
    let space = memchr::memchr(b' ', &line[..line.len().min(40)])?;
    crate::time::Timestamp::parse_bytes(&line[..space]).map(|_| space + 1)
}

fn looks_like_flow_log(body: &[u8]) -> bool {
    let line_end = memchr::memchr(b'\n', body).unwrap_or(body.len());
    let line = &body[..line_end];
    let line = &line[export_time(line).unwrap_or(0)..];
    if crate::flowlog::Format::is_header_line(line)
        || crate::flowlog::Format::from_damaged_header(line).is_some()
    {
        // A header damaged in a name still says what the file is; the reader reports it.
        return true;
    }
    // Default v2 format: `2 <account|unknown> eni-… …`, separated by spaces or tabs.
    let mut words = line
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or_default();
    let second = words.next().unwrap_or_default();
    let third = words.next().unwrap_or_default();
    !first.is_empty()
        && first.iter().all(u8::is_ascii_digit)
        && (second.iter().all(u8::is_ascii_digit) || second == b"unknown")
        && third.starts_with(b"eni-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    fn kind_of(name: &str, data: &[u8]) -> ObjectKind {
        let opened = open(
            name,
            Box::new(io::Cursor::new(data.to_vec())),
            Limits::default(),
        );
        let kind = opened.expect("open").kind;
        let inline = open_bytes(name, data.to_vec(), Limits::default())
            .expect("open")
            .kind;
        assert_eq!(kind, inline, "{name}");
        kind
    }

    fn read_all(opened: Opened) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        opened.content.into_reader().read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn recognises_kinds() {
        assert_eq!(
            kind_of("a.json", br#"{"Records":[]}"#),
            ObjectKind::CloudTrail
        );
        assert_eq!(kind_of("a.json", b"  [ ]"), ObjectKind::CloudTrailArray);
        for magic in [
            &b"PK\x03\x04rest"[..],
            b"7z\xBC\xAF\x27\x1C..",
            b"BZh91AY&SY",
            b"\xFD7zXZ\x00\x00",
            b"\x28\xB5\x2F\xFD....",
        ] {
            assert_eq!(kind_of("evidence", magic), ObjectKind::Archive, "{magic:?}");
        }
        let mut tar = vec![0u8; 512];
        tar[..11].copy_from_slice(b"trail.json\0");
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(kind_of("logs.tar", &tar), ObjectKind::Archive);
        assert_eq!(kind_of("flows", b"PAR1\x15\x04"), ObjectKind::Parquet);
        assert_eq!(kind_of("x.parquet", b"anything"), ObjectKind::Parquet);
        let history = br#"{
    "Events": [
        {
            "EventId": "1",
            "EventName": "ListBuckets",
            "CloudTrailEvent": "{\"eventVersion\":\"1.08\"}"
        }
    ]
}"#;
        assert_eq!(
            kind_of("events.json", history),
            ObjectKind::CloudTrailEventHistory
        );
        let saved_response =
            br#"{"ResponseMetadata":{"HTTPStatusCode":200},"Events":[{"CloudTrailEvent":"{}"}]}"#;
        assert_eq!(
            kind_of("response.json", saved_response),
            ObjectKind::CloudTrailEventHistory
        );
        let exported = b"2021-07-29T13:02:53.000Z {\"eventVersion\":\"1.08\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"X\"}\n";
        assert_eq!(kind_of("000000", exported), ObjectKind::CloudTrailLines);
        assert_eq!(
            kind_of("000000", b"2021-07-29T13:02:53.000Z {\"a\":1}\n"),
            ObjectKind::Other
        );
        let flows = b"2021-07-29T13:02:53.000Z 2 111122223333 eni-0a1b2c3d 198.51.100.7 \
                      10.0.0.5 40000 22 6 1 40 1627563773 1627563833 ACCEPT OK\n";
        assert_eq!(kind_of("000000", flows), ObjectKind::FlowLog);
        // A record that mentions both names in its parameters is still a record.
        let record = br#"{"eventVersion":"1.08","eventSource":"events.amazonaws.com","eventName":"X","requestParameters":{"Events":1,"CloudTrailEvent":2}}"#;
        assert_eq!(kind_of("a.json", record), ObjectKind::CloudTrailLines);
        // Another service's `Events` is not event history.
        let other = br#"{"Events":[{"Name":"deploy","Time":1}]}"#;
        assert_eq!(kind_of("events.json", other), ObjectKind::Other);
        // The CloudWatch Logs API's events: CloudTrail's log group, not another one's.
        let log_events = br#"{"events":[{"logStreamName":"s","timestamp":1,"message":"{\"eventVersion\":\"1.08\",\"eventName\":\"X\"}"}],"searchedLogStreams":[]}"#;
        assert_eq!(
            kind_of("out.json", log_events),
            ObjectKind::CloudTrailLogEvents
        );
        let app_logs = br#"{"events":[{"timestamp":1,"message":"GET /health 200"}]}"#;
        assert_eq!(kind_of("out.json", app_logs), ObjectKind::Other);
        let flow_events = br#"{"events":[{"timestamp":1,"message":"2 111122223333 eni-1 - - - - - - - 1 2 - NODATA"}]}"#;
        assert_eq!(kind_of("out.json", flow_events), ObjectKind::FlowLogEvents);
        let custom = br#"{"events": [{"message" : "10.0.0.5 198.51.100.7 eni-1 ACCEPT 22"}]}"#;
        assert_eq!(kind_of("out.json", custom), ObjectKind::FlowLogEvents);
        let words = br#"{"events":[{"message":"deploy eni-1 finished"}]}"#;
        assert_eq!(kind_of("out.json", words), ObjectKind::Other);
        let line = br#"{"eventVersion":"1.08","eventSource":"s3.amazonaws.com","eventName":"X"}"#;
        assert_eq!(kind_of("a.json", line), ObjectKind::CloudTrailLines);
        let digest = br#"{"awsAccountId":"111122223333","digestStartTime":"2021"}"#;
        assert_eq!(kind_of("d.json", digest), ObjectKind::CloudTrailDigest);
        assert_eq!(
            kind_of("x/CloudTrail-Digest/y.json.gz", b"{}"),
            ObjectKind::CloudTrailDigest
        );
        assert_eq!(kind_of("a", b""), ObjectKind::Empty);
        assert_eq!(kind_of("a", b"\n  \n"), ObjectKind::Empty);
        assert_eq!(kind_of("a", b"Config writability check"), ObjectKind::Other);
        assert_eq!(
            kind_of("a", br#"{"configurationItems":[]}"#),
            ObjectKind::Other
        );
        let v2 =
            b"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA";
        assert_eq!(kind_of("f.log", v2), ObjectKind::FlowLog);
        assert_eq!(
            kind_of("f.log", b"version account-id interface-id\n"),
            ObjectKind::FlowLog
        );
    }

    #[test]
    fn what_the_first_bytes_cannot_tell_an_aws_file_name_does() {
        // More blank lines than one sniff reads, or a first line longer than it: the file was
        // passed over as empty or as not a log.
        let flow = "2 111122223333 eni-0a1b2c3d 198.51.100.7 10.0.0.5 40000 22 6 1 40 \
                    1627563773 1627563833 ACCEPT OK\n";
        let named = "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/10/01/\
                     111122223333_vpcflowlogs_us-east-1_fl-0abc_20261001T0000Z_a1b2.log";
        let blank = format!("{}{flow}", "\n".repeat(BUF));
        let long = format!("{}\n{flow}", "x".repeat(BUF));
        for data in [&blank, &long] {
            assert_eq!(kind_of(named, data.as_bytes()), ObjectKind::FlowLog);
            assert_ne!(kind_of("notes.txt", data.as_bytes()), ObjectKind::FlowLog);
        }
        let trail = "111122223333_CloudTrail_us-east-1_20261001T0000Z_a1b2.json";
        let records = format!("{}{{\"Records\":[]}}", " ".repeat(BUF));
        assert_eq!(kind_of(trail, records.as_bytes()), ObjectKind::CloudTrail);
        // What the bytes do tell stands, and a small empty file stays empty.
        assert_eq!(kind_of(named, b"\n\n"), ObjectKind::Empty);
        assert_eq!(kind_of(trail, b"{\"Records\":[]}"), ObjectKind::CloudTrail);
    }

    #[test]
    fn a_damaged_first_line_does_not_hide_the_lines_after_it() {
        let flow = "2 111122223333 eni-0a1b2c3d 198.51.100.7 10.0.0.5 40000 22 6 1 40 \
                    1627563773 1627563833 ACCEPT OK\n";
        let record = r#"{"eventVersion":"1.08","eventSource":"s3.amazonaws.com","eventName":"X"}"#;
        for (data, kind) in [
            (
                format!("2 1111#2223333 eni-0a1b2c3d\n{flow}{flow}"),
                ObjectKind::FlowLog,
            ),
            (format!("\x00\x00\n\n{flow}"), ObjectKind::FlowLog),
            // A custom format whose header lost a name: its records are not of the default
            // shape, so only the header tells (it was passed over as not a log).
            (
                "version srcaddr dstaddr srcport dstport protocol start enD action log-status \
                 interface-id account-id flow-direction\n\
                 5 3.90.198.217 10.0.0.5 51515 22 6 1764547300 1764547330 ACCEPT OK \
                 eni-0a1b2c3d4e5f60718 111122223333 ingress\n"
                    .to_owned(),
                ObjectKind::FlowLog,
            ),
            (
                format!("~\"eventVersion\n{record}\n"),
                ObjectKind::CloudTrailLines,
            ),
            (
                format!("2021-07-29T13:02:5~.000Z {{\n2021-07-29T13:02:53.000Z {record}\n"),
                ObjectKind::CloudTrailLines,
            ),
        ] {
            assert_eq!(kind_of("000000", data.as_bytes()), kind, "{data:?}");
        }
        // Only lines close to the start count, and only logs read line by line.
        let far = format!("junk\n{}{flow}", "more junk\n".repeat(SNIFF_LINES));
        assert_eq!(kind_of("000000", far.as_bytes()), ObjectKind::Other);
        let envelope = "junk\n{\"Records\":[]}";
        assert_eq!(kind_of("000000", envelope.as_bytes()), ObjectKind::Other);
        assert_eq!(
            kind_of("notes.txt", b"Dear team,\nthe logs are attached.\n"),
            ObjectKind::Other
        );
    }

    #[test]
    fn regions_come_from_keys() {
        let ct = "AWSLogs/111122223333/CloudTrail/eu-west-1/2021/07/29/111122223333_CloudTrail_eu-west-1_20210729T2355Z_x.json.gz";
        assert_eq!(region_from_key(ct).as_deref(), Some("eu-west-1"));
        let file = "x/111122223333_CloudTrail_ap-southeast-2_20210729T2355Z_x.json.gz";
        assert_eq!(region_from_key(file).as_deref(), Some("ap-southeast-2"));
        let flow = "AWSLogs/111122223333/vpcflowlogs/us-gov-west-1/2021/01/01/f.log.gz";
        assert_eq!(region_from_key(flow).as_deref(), Some("us-gov-west-1"));
        let hive = "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-west-2/x.log.gz";
        assert_eq!(region_from_key(hive).as_deref(), Some("us-west-2"));
        assert_eq!(region_from_key("logs/sample.json"), None);
        assert_eq!(account_from_key(flow).as_deref(), Some("111122223333"));
        assert_eq!(
            account_from_key(hive),
            None,
            "aws-account-id=1 is not an account"
        );
        let named = "x/111122223333_vpcflowlogs_us-east-1_fl-1_20261001T0000Z_ab.log.gz";
        assert_eq!(account_from_key(named).as_deref(), Some("111122223333"));
        assert_eq!(account_from_key("x/notes.txt"), None);
        assert_eq!(region_from_key("x/CloudTrail/notaregion/y"), None);
    }

    #[test]
    fn gzip_is_detected_and_decoded() {
        let data = gz(br#"{"Records":[]}"#);
        let opened = open(
            "a.json.gz",
            Box::new(io::Cursor::new(data)),
            Limits::default(),
        )
        .expect("open");
        assert!(opened.gzip);
        assert_eq!(opened.kind, ObjectKind::CloudTrail);
        let mut s = String::new();
        opened
            .content
            .into_reader()
            .read_to_string(&mut s)
            .expect("read");
        assert_eq!(s, r#"{"Records":[]}"#);
    }

    #[test]
    fn whole_objects_inflate_in_one_piece() {
        let body = b"0123456789".repeat(10_000);
        let opened = open_bytes("a.gz", gz(&body), Limits::default()).expect("open");
        assert!(matches!(opened.content, Content::Bytes(_)));
        assert_eq!(read_all(opened).expect("read"), body);
    }

    #[test]
    fn a_reused_buffer_holds_only_the_new_object() {
        let body = b"fresh content\n".repeat(100);
        let stale = vec![b'#'; 1 << 16];
        let opened = open_bytes_into("a.gz", gz(&body), Limits::default(), stale).expect("open");
        assert_eq!(read_all(opened).expect("read"), body);
    }

    #[test]
    fn several_members_are_all_read() {
        let mut two = gz(b"first member\n");
        two.extend(gz(b"second member\n"));
        for opened in [
            open_bytes("m.gz", two.clone(), Limits::default()).expect("open"),
            open(
                "m.gz",
                Box::new(io::Cursor::new(two.clone())),
                Limits::default(),
            )
            .expect("open"),
        ] {
            assert_eq!(
                read_all(opened).expect("read"),
                b"first member\nsecond member\n"
            );
        }
        // Two identical members: sizes and CRCs match the trailer; only the input count tells.
        let mut same = gz(b"same\n");
        same.extend(gz(b"same\n"));
        let opened = open_bytes("s.gz", same, Limits::default()).expect("open");
        assert_eq!(read_all(opened).expect("read"), b"same\nsame\n");
    }

    #[test]
    fn large_or_damaged_objects_are_streamed() {
        let body = vec![b'x'; 1 << 20];
        let small = Limits {
            max_inline_bytes: 1 << 16,
            ..Limits::default()
        };
        let opened = open_bytes("big.gz", gz(&body), small).expect("open");
        assert!(matches!(opened.content, Content::Stream(_)));
        assert_eq!(read_all(opened).expect("read"), body);
        let mut cut = gz(&b"0123456789".repeat(100_000));
        cut.truncate(cut.len() / 2);
        let opened = open_bytes("t.gz", cut, Limits::default()).expect("open");
        assert!(matches!(opened.content, Content::Stream(_)));
        assert!(read_all(opened).is_err());
    }

    #[test]
    fn decompression_is_bounded() {
        let bomb = gz(&vec![b' '; 4 << 20]);
        // Not a multiple of the reads: one read crosses the limit.
        let limit = (1 << 20) + 1000;
        let limits = Limits {
            max_decompressed_bytes: limit,
            ..Limits::default()
        };
        let opened = open_bytes("bomb.gz", bomb, limits).expect("open");
        let mut sink = Vec::new();
        let err = opened
            .content
            .into_reader()
            .read_to_end(&mut sink)
            .expect_err("must stop");
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
        // Every byte within the limit is handed out before the error (the read that crossed
        // it was dropped whole: up to 256 KiB of records).
        assert_eq!(sink.len() as u64, limit);
    }

    #[test]
    fn truncated_gzip_is_an_error_after_the_good_bytes() {
        let data = gz(&b"0123456789".repeat(100_000));
        let cut = data[..data.len() / 2].to_vec();
        let opened = open("t.gz", Box::new(io::Cursor::new(cut)), Limits::default()).expect("open");
        let mut sink = Vec::new();
        assert!(opened.content.into_reader().read_to_end(&mut sink).is_err());
        assert!(!sink.is_empty());
    }
}
