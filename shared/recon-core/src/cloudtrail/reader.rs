//! Streams CloudTrail records out of an object without holding the whole object in memory.
//!
//! Four layouts are read: CloudTrail's delivery envelope `{"Records":[…]}` (other top-level keys
//! are skipped); a bare JSON array of records; one record per line, as exports write them (or
//! records simply concatenated, or each after its time as a CloudWatch Logs export writes
//! them); and the event history that `aws cloudtrail lookup-events` prints (each record a JSON
//! string under `CloudTrailEvent`), which is what an account without a trail has, or the events
//! `aws logs filter-log-events` prints for a CloudTrail log group (under `message`). Envelopes or
//! arrays joined end to end (`cat` of several delivery files) are read to the last one;
//! anything else after the top-level value is reported. Memory is bounded by the read chunk
//! plus the largest record, which is itself bounded
//! ([`crate::input::Limits::max_record_bytes`]): a larger record is read past and reported.
//!
//! A structurally broken record is reported with its index; the reader then resynchronises at
//! the next record start it can recognise, so the rest of the object still counts. With one
//! record per line, damage costs its own line: a line break inside a string breaks the record
//! there, a record left open at its line's end is reported once the object ends without
//! closing it, and what a record closed early leaves on its line is reported with it. A stream
//! that ends early (a truncated or corrupt gzip file) ends with an error saying how many
//! records were read: the bytes read before the failure are read to their last whole record
//! first, and the record the failure cut short is that error, not a broken record.

use std::io::{self, Read};

use crate::input::ObjectKind;

use super::scan::{
    line_record_fields, record_fields, skip_ws, string_end, value_end, KeyFields, KeySpans, Scan,
};

/// The layout of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `{"Records":[…]}`.
    Envelope,
    /// `[…]`.
    Array,
    /// Records one after another, usually one per line.
    Lines,
    /// CloudTrail event history as `aws cloudtrail lookup-events` prints it:
    /// `{"Events":[{…, "CloudTrailEvent":"<the record as a JSON string>"}, …]}`; also the
    /// CloudWatch Logs events of a CloudTrail log group as `aws logs filter-log-events` prints
    /// them, `{"events":[{…, "message":"<the record>"}, …]}`.
    EventHistory,
    /// The same entries, each string handed out as it is rather than as a record: the
    /// CloudWatch Logs events of a flow-log group, whose messages are flow-log lines.
    Messages,
}

impl Layout {
    /// The layout of a CloudTrail object kind; `None` for the kinds that hold no records.
    pub fn of(kind: ObjectKind) -> Option<Layout> {
        match kind {
            ObjectKind::CloudTrail => Some(Layout::Envelope),
            ObjectKind::CloudTrailArray => Some(Layout::Array),
            ObjectKind::CloudTrailLines => Some(Layout::Lines),
            ObjectKind::CloudTrailEventHistory | ObjectKind::CloudTrailLogEvents => {
                Some(Layout::EventHistory)
            }
            _ => None,
        }
    }
}

/// One record, borrowed from the reader's buffer until the next call.
#[derive(Debug)]
pub struct RawRecord<'a> {
    /// The record's JSON bytes.
    pub bytes: &'a [u8],
    /// Zero-based position of the record in its object.
    pub index: u64,
    /// The top-level fields read while finding the record's end.
    pub fields: KeyFields<'a>,
}

/// Why a record or the stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadIssue {
    /// One record is malformed; reading continues after it.
    Record {
        /// Index the record would have had.
        index: u64,
        /// What was wrong.
        reason: String,
    },
    /// The stream cannot be read further; records before it were delivered.
    Fatal {
        /// Records delivered before the failure.
        records: u64,
        /// What went wrong.
        reason: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    TopKeys,
    InArray {
        envelope: bool,
    },
    /// After a complete top-level value: the end, or another document (as `cat` of several
    /// delivery files writes).
    After,
    Stream,
    Done,
}

const CHUNK: usize = 256 * 1024;
const RESYNC: &[u8] = b"{\"eventVersion\"";
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A streaming record reader over any byte source.
pub struct RecordReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    state: State,
    layout: Layout,
    index: u64,
    max_record: usize,
    /// The record of the current event-history entry, unescaped from its string.
    unescaped: Vec<u8>,
    /// One record per line: a record ended on the line being read.
    line_has_record: bool,
    /// A pretty-printed array of records: the line break and indentation before its first
    /// item, and the item's `{`. Every item starts so, and nothing nested does (it is
    /// indented deeper), so it is where reading resumes after a broken record.
    item_start: Option<Vec<u8>>,
    /// Why the source failed after the bytes in `buf` (which then end the input, `eof`): the
    /// fatal issue once those bytes are read, in place of however the input ended there.
    failed: Option<String>,
}

impl RecordReader<io::Empty> {
    /// The content's memory, for reuse by the next object.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// A reader over content already in memory: no copying, no refills.
    pub fn from_bytes(bytes: Vec<u8>, layout: Layout, max_record: usize) -> Self {
        RecordReader {
            inner: io::empty(),
            buf: bytes,
            pos: 0,
            eof: true,
            state: State::Start,
            layout,
            index: 0,
            max_record,
            unescaped: Vec::new(),
            line_has_record: false,
            item_start: None,
            failed: None,
        }
    }
}

impl<R: Read> RecordReader<R> {
    /// A reader of `layout` records from `inner`; a record over `max_record` bytes is refused.
    pub fn new(inner: R, layout: Layout, max_record: usize) -> Self {
        RecordReader {
            inner,
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            eof: false,
            state: State::Start,
            layout,
            index: 0,
            max_record,
            unescaped: Vec::new(),
            line_has_record: false,
            item_start: None,
            failed: None,
        }
    }

    /// Records delivered or reported so far.
    pub fn records_seen(&self) -> u64 {
        self.index
    }

    /// The next record, a malformed-record report, or `None` at the end of the stream.
    pub fn next_record(&mut self) -> Option<Result<RawRecord<'_>, ReadIssue>> {
        loop {
            match self.step() {
                Ok(Step::Record { start, end, spans }) => {
                    self.index += 1;
                    let bytes = &self.buf[start..end];
                    let fields = spans.resolve(bytes);
                    return Some(Ok(RawRecord {
                        bytes,
                        index: self.index - 1,
                        fields,
                    }));
                }
                Ok(Step::Unescaped { end, spans }) => {
                    self.index += 1;
                    let bytes = &self.unescaped[..end];
                    let fields = spans.resolve(bytes);
                    return Some(Ok(RawRecord {
                        bytes,
                        index: self.index - 1,
                        fields,
                    }));
                }
                Ok(Step::Continue) => {}
                Ok(Step::End) => return None,
                Err(issue) => return Some(Err(issue)),
            }
        }
    }

    fn step(&mut self) -> Result<Step, ReadIssue> {
        match self.state {
            State::Done => match self.failed.take() {
                Some(reason) => Err(ReadIssue::Fatal {
                    records: self.index,
                    reason,
                }),
                None => Ok(Step::End),
            },
            State::Start => self.start(),
            State::TopKeys => self.top_key(),
            State::InArray { envelope } => self.array_item(envelope),
            State::After => self.after(),
            State::Stream => self.stream_item(),
        }
    }

    fn start(&mut self) -> Result<Step, ReadIssue> {
        self.peek_byte()?;
        if self.buf[self.pos..].starts_with(BOM) {
            self.pos += BOM.len();
        }
        let Some(b) = self.peek_byte()? else {
            self.state = State::Done;
            return Ok(Step::Continue);
        };
        let (want, next) = match self.layout {
            Layout::Envelope | Layout::EventHistory | Layout::Messages => (b'{', State::TopKeys),
            Layout::Array => (b'[', State::InArray { envelope: false }),
            Layout::Lines => {
                self.state = State::Stream;
                return Ok(Step::Continue);
            }
        };
        if b != want {
            return Err(self.fatal(format!("expected '{}' at the start", want as char)));
        }
        self.pos += 1;
        self.state = next;
        Ok(Step::Continue)
    }

    fn top_key(&mut self) -> Result<Step, ReadIssue> {
        let Some(b) = self.peek_byte()? else {
            return Err(self.ended("object ends before its closing '}'"));
        };
        match b {
            b',' => self.pos += 1,
            b'}' => {
                self.pos += 1;
                self.state = State::After;
            }
            b'"' => self.envelope_member()?,
            _ => return Err(self.fatal("expected a key in the top-level object".into())),
        }
        Ok(Step::Continue)
    }

    /// Reads `"key": value` at the top level; enters the array when the key is `Records` (or
    /// `Events`, for event history).
    fn envelope_member(&mut self) -> Result<(), ReadIssue> {
        let key_end = self.complete(|buf, pos| match string_end(buf, pos + 1) {
            Some(end) => Scan::Complete(end),
            None => Scan::Incomplete,
        })?;
        let key = &self.buf[self.pos..key_end];
        let is_records = match self.layout {
            Layout::EventHistory | Layout::Messages => key == b"\"Events\"" || key == b"\"events\"",
            _ => key == b"\"Records\"",
        };
        self.pos = key_end;
        match self.peek_byte()? {
            Some(b':') => {}
            Some(_) => return Err(self.fatal("expected ':' after a top-level key".into())),
            None => return Err(self.ended("object ends after a key")),
        }
        self.pos += 1;
        if is_records {
            match self.peek_byte()? {
                Some(b'[') => {
                    self.pos += 1;
                    self.state = State::InArray { envelope: true };
                    return Ok(());
                }
                Some(_) => {
                    let key = match self.layout {
                        Layout::EventHistory | Layout::Messages => "Events",
                        _ => "Records",
                    };
                    return Err(self.fatal(format!("{key} is not an array of records")));
                }
                None => {}
            }
        }
        if self.peek_byte()?.is_none() {
            return Err(self.ended("object ends after a key"));
        }
        match self.complete(value_end) {
            Ok(end) => self.pos = end,
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn array_item(&mut self, envelope: bool) -> Result<Step, ReadIssue> {
        let Some(b) = self.peek_byte()? else {
            return Err(self.ended("the records array is not closed"));
        };
        match b {
            b',' => {
                self.pos += 1;
                Ok(Step::Continue)
            }
            b']' => {
                self.pos += 1;
                self.state = if envelope {
                    State::TopKeys
                } else {
                    State::After
                };
                Ok(Step::Continue)
            }
            b'{' if matches!(self.layout, Layout::EventHistory | Layout::Messages) => {
                self.history_item()
            }
            b'{' => {
                // Taken from the first item, and kept if the second starts alike.
                match self.index {
                    0 if self.item_start.is_none() => {
                        self.item_start = pretty_item_start(&self.buf, self.pos);
                    }
                    1 if self.item_start != pretty_item_start(&self.buf, self.pos) => {
                        self.item_start = None;
                    }
                    _ => {}
                }
                self.item()
            }
            _ => {
                let index = self.index;
                self.index += 1;
                let found = self.resync(false)?;
                Err(broken(index, "a record is not a JSON object", found))
            }
        }
    }

    /// What follows a complete top-level value: nothing, or the start of another document of
    /// the same layout. Anything else is reported, never passed over in silence.
    fn after(&mut self) -> Result<Step, ReadIssue> {
        let opening = if self.layout == Layout::Array {
            b'['
        } else {
            b'{'
        };
        match self.peek_byte()? {
            None => {
                self.state = State::Done;
                Ok(Step::Continue)
            }
            Some(b) if b == opening => {
                self.state = State::Start;
                Ok(Step::Continue)
            }
            Some(_) => Err(self.fatal(
                "unexpected data after the end of the top-level JSON value; the rest of the \
                 object was not read"
                    .into(),
            )),
        }
    }

    fn stream_item(&mut self) -> Result<Step, ReadIssue> {
        let (byte, new_line) = self.peek_line_byte()?;
        self.line_has_record &= !new_line;
        match byte {
            None => {
                self.state = State::Done;
                Ok(Step::Continue)
            }
            Some(b'{') => {
                let step = self.item();
                self.line_has_record = step.is_ok();
                step
            }
            Some(b'0'..=b'9') if self.export_prefix()? => Ok(Step::Continue),
            // The last line of a source that failed is cut short by the failure, not damaged.
            Some(_)
                if self.failed.is_some()
                    && memchr::memchr(b'\n', &self.buf[self.pos..]).is_none() =>
            {
                Err(self.ended("the stream ends inside a line"))
            }
            Some(_) if self.line_has_record => {
                // What a damaged record left on its line is reported with that record, so that
                // the records after it keep their numbers.
                self.line_has_record = false;
                let found = self.resync(true)?;
                let reason = "more than one record on its line, and the rest is not a record";
                Err(broken(self.index - 1, reason, found))
            }
            Some(_) => {
                let index = self.index;
                self.index += 1;
                let found = self.resync(true)?;
                Err(broken(index, "a line is not a JSON object", found))
            }
        }
    }

    /// Like [`Self::peek_byte`], and whether a line break came before the byte.
    fn peek_line_byte(&mut self) -> Result<(Option<u8>, bool), ReadIssue> {
        let mut new_line = false;
        loop {
            let start = self.pos;
            self.pos = skip_ws(&self.buf, self.pos);
            new_line |= memchr::memchr(b'\n', &self.buf[start..self.pos]).is_some();
            if let Some(&b) = self.buf.get(self.pos) {
                return Ok((Some(b), new_line));
            }
            if self.eof {
                return Ok((None, new_line));
            }
            self.refill(self.pos)?;
        }
    }

    /// Steps over the time a CloudWatch Logs export puts before each record, when the line at
    /// `pos` starts with one; false when it does not.
    fn export_prefix(&mut self) -> Result<bool, ReadIssue> {
        const LONGEST: usize = 40;
        if !self.eof && self.buf.len() - self.pos < LONGEST {
            self.refill(self.pos)?;
        }
        match crate::input::export_prefix(&self.buf[self.pos..]) {
            Some(n) => {
                self.pos += n;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Finds the end of the record object at `pos`.
    fn item(&mut self) -> Result<Step, ReadIssue> {
        // Pretty-printed records have line breaks between values only, like records one per
        // line: a line break in a string shows the damage at its line.
        let (end, spans) = if self.layout == Layout::Lines || self.item_start.is_some() {
            self.scan_item(line_record_fields, "a record")?
        } else {
            self.scan_item(record_fields, "a record")?
        };
        let start = self.pos;
        self.pos = end;
        if end - start > self.max_record {
            let index = self.index;
            self.index += 1;
            let reason = format!(
                "a record is larger than the limit of {} bytes",
                self.max_record
            );
            return Err(ReadIssue::Record { index, reason });
        }
        // Spans are relative to the buffer; make them relative to the record.
        Ok(Step::Record {
            start,
            end,
            spans: spans.shifted(start),
        })
    }

    /// Runs `scan` over the item at `pos`, reading more input until it completes. An item that
    /// is not JSON structure is reported by index, and the reader moves on to the next item
    /// start it can recognise.
    #[inline(always)]
    fn scan_item<T>(
        &mut self,
        scan: impl Fn(&[u8], usize) -> Scan<T>,
        what: &str,
    ) -> Result<T, ReadIssue> {
        loop {
            // No scan looks further than the size limit, in memory as in a stream.
            let limit =
                (self.pos.saturating_add(self.max_record).saturating_add(1)).min(self.buf.len());
            match scan(&self.buf[..limit], self.pos) {
                Scan::Complete(found) => return Ok(found),
                Scan::Incomplete if self.eof || limit - self.pos > self.max_record => {
                    return Err(self.unended(limit, what));
                }
                Scan::Incomplete => self.grow(self.pos)?,
                Scan::Invalid { offset, reason } => return Err(self.invalid(offset, reason)),
            }
        }
    }

    /// The issue for an item at `pos` that does not end before the object or the size limit
    /// (`limit`) does, after moving on to where reading resumes. Most often it is a record
    /// whose lost quote or brace swallowed the records after it: reading resumes at the next
    /// record start after its own.
    #[cold]
    #[inline(never)]
    fn unended(&mut self, limit: usize, what: &str) -> ReadIssue {
        let index = self.index;
        if let Some(n) = self.later_start(limit) {
            self.index += 1;
            self.pos += 1 + n;
            return broken(index, &format!("{what} that does not end"), true);
        }
        if self.eof && limit - self.pos <= self.max_record {
            return self.ended(&format!("the stream ends inside {what}"));
        }
        // Read past it without keeping it; the items after it still count.
        self.index += 1;
        let reason = format!(
            "{what} larger than the limit of {} bytes, skipped",
            self.max_record
        );
        let more = if self.layout == Layout::Lines {
            self.pos += 1;
            self.resync(true)
        } else {
            self.skip_value()
        };
        match more {
            Ok(more) => broken(index, &reason, more),
            Err(issue) => issue,
        }
    }

    /// The issue for an item at `pos` that is not JSON structure at `offset`, after moving on
    /// to the next item start.
    #[cold]
    #[inline(never)]
    fn invalid(&mut self, offset: usize, reason: &str) -> ReadIssue {
        let index = self.index;
        self.index += 1;
        // A record start the scan went past before it failed (a lost brace ran the record
        // into the next) is where reading resumes.
        let passed = self.buf.get(self.pos + 1..offset).unwrap_or_default();
        let named = match self.layout {
            Layout::Envelope | Layout::Array => self.next_item(passed),
            Layout::EventHistory | Layout::Messages => next_entry_start(passed),
            Layout::Lines => None,
        };
        if let Some(n) = named {
            self.pos += 1 + n;
            return broken(index, reason, true);
        }
        self.pos += 1;
        match self.resync(self.layout == Layout::Lines) {
            Ok(found) => broken(index, reason, found),
            Err(issue) => issue,
        }
    }

    /// Where the next record start after the one at `pos` lies in `buf[pos + 1..limit]`,
    /// relative to `pos + 1`: the next line that starts one for one record per line, the next
    /// entry for event history, else `{"eventVersion"` (not the shape between records, which a
    /// record cut short holds too).
    fn later_start(&self, limit: usize) -> Option<usize> {
        let hay = self.buf.get(self.pos + 1..limit)?;
        match self.layout {
            Layout::Lines => next_line_start(hay),
            Layout::Envelope | Layout::Array => self.next_item(hay),
            Layout::EventHistory | Layout::Messages => next_entry_start(hay),
        }
    }

    /// Offset of the `{` of the next record in `hay` of an envelope or array: where a
    /// pretty-printed array's items start, else the next `{"eventVersion"`.
    fn next_item(&self, hay: &[u8]) -> Option<usize> {
        match &self.item_start {
            Some(start) => memchr::memmem::find(hay, start).map(|n| n + start.len() - 1),
            None => memchr::memmem::find(hay, RESYNC),
        }
    }

    /// Reads past the rest of the object or array starting at `pos`, tracking only strings and
    /// nesting, so memory stays bounded however large it is. False when the stream ends first.
    #[cold]
    fn skip_value(&mut self) -> Result<bool, ReadIssue> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        loop {
            let start = self.pos;
            for (i, &b) in self.buf[start..].iter().enumerate() {
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            self.pos = start + i + 1;
                            return Ok(true);
                        }
                    }
                    _ => {}
                }
            }
            self.pos = self.buf.len();
            if self.eof {
                self.state = State::Done;
                return Ok(false);
            }
            self.refill(self.pos)?;
        }
    }

    /// Reads the event-history entry at `pos`: its `CloudTrailEvent` string, unescaped, is the
    /// record.
    fn history_item(&mut self) -> Result<Step, ReadIssue> {
        let end = self.scan_item(value_end, "an event-history entry")?;
        let start = self.pos;
        self.pos = end;
        match self.unescape_entry(start, end) {
            Ok((end, spans)) => Ok(Step::Unescaped { end, spans }),
            Err(reason) => {
                let index = self.index;
                self.index += 1;
                let reason = format!("event-history entry: {reason}");
                Err(ReadIssue::Record { index, reason })
            }
        }
    }

    /// Puts the record of the entry `buf[start..end]` into `unescaped`: its end and key fields.
    fn unescape_entry(&mut self, start: usize, end: usize) -> Result<(usize, KeySpans), String> {
        #[derive(serde::Deserialize)]
        struct Entry {
            /// `CloudTrailEvent` in event history, `message` in CloudWatch Logs events.
            #[serde(rename = "CloudTrailEvent", alias = "message")]
            event: Option<String>,
        }
        if end - start > self.max_record {
            return Err(format!(
                "larger than the limit of {} bytes",
                self.max_record
            ));
        }
        let entry: Entry =
            serde_json::from_slice(&self.buf[start..end]).map_err(|e| e.to_string())?;
        let event = entry.event.ok_or("no CloudTrailEvent or message")?;
        self.unescaped.clear();
        self.unescaped.extend_from_slice(event.trim().as_bytes());
        if self.layout == Layout::Messages {
            return Ok((self.unescaped.len(), KeySpans::default()));
        }
        match record_fields(&self.unescaped, 0) {
            Scan::Complete((end, spans))
                if self.unescaped.first() == Some(&b'{') && end == self.unescaped.len() =>
            {
                Ok((end, spans))
            }
            _ => Err("its record (CloudTrailEvent or message) is not one JSON object".into()),
        }
    }

    /// Skips ahead to the next recognisable record start: for one record per line, the next
    /// line that starts with `{` or a digit (a record, or the time a CloudWatch Logs export
    /// puts before one; the indented lines of a pretty-printed record are passed over);
    /// otherwise `{"eventVersion"` (how CloudTrail starts every record) or a `}`, `,`, `{`
    /// sequence between records, whichever comes first. False when none is left.
    fn resync(&mut self, by_line: bool) -> Result<bool, ReadIssue> {
        loop {
            let hay = &self.buf[self.pos..];
            let found = match (&self.item_start, by_line) {
                (_, true) => next_line_start(hay),
                (Some(_), false) => self.next_item(hay),
                (None, false) => next_start(hay),
            };
            if let Some(n) = found {
                self.pos += n;
                return Ok(true);
            }
            if self.eof {
                self.pos = self.buf.len();
                self.state = State::Done;
                return Ok(false);
            }
            // Kept for the next search: a record start that may go on past the buffer (for
            // lines, the whole last line, which may be an indented one; without a line break,
            // nothing, as a line starts only after one).
            let tail = if by_line {
                memchr::memrchr(b'\n', hay).map_or(self.buf.len(), |n| self.pos + n)
            } else {
                let longest = self
                    .item_start
                    .as_ref()
                    .map_or(0, Vec::len)
                    .max(RESYNC.len());
                self.buf.len().saturating_sub(longest)
            };
            let keep = tail.max(self.pos);
            self.pos = keep;
            self.refill(keep)?;
        }
    }

    /// Runs a scan at `pos`, reading more input until it completes.
    fn complete(&mut self, scan: fn(&[u8], usize) -> Scan<usize>) -> Result<usize, ReadIssue> {
        loop {
            match scan(&self.buf, self.pos) {
                Scan::Complete(end) => return Ok(end),
                Scan::Incomplete if self.eof => {
                    return Err(self.ended("the stream ends inside a value"));
                }
                Scan::Incomplete => self.grow(self.pos)?,
                Scan::Invalid { reason, .. } => return Err(self.fatal(reason.to_string())),
            }
        }
    }

    /// Reads more input while keeping `buf[keep..]`, refusing records over the size limit.
    fn grow(&mut self, keep: usize) -> Result<(), ReadIssue> {
        if self.buf.len() - keep > self.max_record {
            return Err(self.fatal(format!(
                "a record is larger than the limit of {} bytes",
                self.max_record
            )));
        }
        self.refill(keep)
    }

    fn refill(&mut self, keep: usize) -> Result<(), ReadIssue> {
        self.buf.drain(..keep);
        self.pos -= keep;
        let len = self.buf.len();
        let want = CHUNK.max(len);
        self.buf.resize(len + want, 0);
        let mut filled = len;
        while filled < self.buf.len() {
            match self.inner.read(&mut self.buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // What was read before the failure still holds records: it is read like
                    // the end of the input, and the failure reported where that input ends.
                    self.failed = Some(format!("read failed: {e}"));
                    self.eof = true;
                    break;
                }
            }
            if filled - len >= CHUNK {
                break;
            }
        }
        self.buf.truncate(filled);
        Ok(())
    }

    /// The next non-whitespace byte, reading more input as needed; `None` at the end.
    /// [`Self::peek_line_byte`] without its search for a line break, which the steps between
    /// records of an array need not pay for (calling it from here cost the scanners bench 2.4 %
    /// more instructions).
    fn peek_byte(&mut self) -> Result<Option<u8>, ReadIssue> {
        loop {
            self.pos = skip_ws(&self.buf, self.pos);
            if let Some(&b) = self.buf.get(self.pos) {
                return Ok(Some(b));
            }
            if self.eof {
                return Ok(None);
            }
            self.refill(self.pos)?;
        }
    }

    /// The fatal issue `reason`, after which nothing more is read. A read failure after the
    /// bytes read so far is said too: it is not reported on its own after this.
    fn fatal(&mut self, reason: String) -> ReadIssue {
        self.state = State::Done;
        let reason = match self.failed.take() {
            Some(failed) => format!("{reason}; then {failed}"),
            None => reason,
        };
        ReadIssue::Fatal {
            records: self.index,
            reason,
        }
    }

    /// The fatal issue for input that ends where it must not (`reason`): the read failure that
    /// ended it, when one did, for that is why it ends there.
    fn ended(&mut self, reason: &str) -> ReadIssue {
        let reason = self.failed.take().unwrap_or_else(|| reason.to_owned());
        self.fatal(reason)
    }
}

/// A broken-record issue; when no record start follows it, says that the rest was lost.
fn broken(index: u64, reason: &str, more: bool) -> ReadIssue {
    let reason = if more {
        reason.to_owned()
    } else {
        format!("{reason}; no record start follows it, so the rest of the object was not read")
    };
    ReadIssue::Record { index, reason }
}

/// Offset of the first line after the first in `hay` that starts a record: with `{` or a digit
/// (the time of a CloudWatch Logs export), or indented and then `{"` (a record on one line; a
/// pretty-printer puts a nested object's `{` at the end of a line). A line break near the very
/// end does not count: what follows it is not known yet.
fn next_line_start(hay: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'\n', hay)
        .map(|n| n + 1)
        .find(|&start| {
            let line = &hay[start..];
            let indent = line
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            match line.first() {
                Some(b'{' | b'0'..=b'9') => true,
                Some(b' ' | b'\t') => line[indent..].starts_with(b"{\""),
                _ => false,
            }
        })
}

/// The keys the AWS CLI prints first in an event-history entry (`lookup-events`) and in a
/// CloudWatch Logs event (`filter-log-events`, `get-log-events`).
const ENTRY_KEYS: [&[u8]; 3] = [b"\"EventId\"", b"\"logStreamName\"", b"\"timestamp\""];

/// Offset of the next `{` in `hay` that opens an entry with one of [`ENTRY_KEYS`] first. No
/// string holds one: a quote in a string is escaped, so `{"EventId"` cannot be its bytes.
fn next_entry_start(hay: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'{', hay).find(|&at| {
        let key = skip_ws(hay, at + 1);
        ENTRY_KEYS.iter().any(|k| hay[key..].starts_with(k))
    })
}

/// For the first item of an array at `buf[at] == b'{'`: when it starts a line, after blanks
/// only, the line break, those blanks and the `{`.
fn pretty_item_start(buf: &[u8], at: usize) -> Option<Vec<u8>> {
    let line = buf[..at].iter().rposition(|b| *b == b'\n')?;
    let indent = &buf[line + 1..at];
    indent
        .iter()
        .all(|b| matches!(b, b' ' | b'\t'))
        .then(|| buf[line..=at].to_vec())
}

/// Offset of the next plausible record start in `hay`.
fn next_start(hay: &[u8]) -> Option<usize> {
    let by_name = memchr::memmem::find(hay, RESYNC);
    let mut from = 0;
    let by_shape = loop {
        let Some(n) = memchr::memmem::find(&hay[from..], b"},") else {
            break None;
        };
        let after = skip_ws(hay, from + n + 2);
        if hay.get(after) == Some(&b'{') {
            break Some(after);
        }
        from += n + 2;
    };
    match (by_name, by_shape) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

enum Step {
    Record {
        start: usize,
        end: usize,
        spans: KeySpans,
    },
    /// A record in [`RecordReader::unescaped`], from its start.
    Unescaped {
        end: usize,
        spans: KeySpans,
    },
    Continue,
    End,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `.1` bytes a call.
    struct Chunked<'a>(&'a [u8], usize);

    impl Read for Chunked<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn read_all(data: &[u8], layout: Layout) -> (Vec<String>, Vec<ReadIssue>) {
        let mut r = RecordReader::new(data, layout, 1 << 20);
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        while let Some(item) = r.next_record() {
            match item {
                Ok(rec) => ok.push(String::from_utf8_lossy(rec.bytes).into_owned()),
                Err(e) => bad.push(e),
            }
        }
        (ok, bad)
    }

    #[test]
    fn reads_the_envelope_and_skips_other_keys() {
        let data =
            br#"{"x":{"Records":[1]}, "Records":[{"eventName":"A"} ,{"eventName":"B"}],"y":2}"#;
        let (ok, bad) = read_all(data, Layout::Envelope);
        assert_eq!(ok, [r#"{"eventName":"A"}"#, r#"{"eventName":"B"}"#]);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn records_that_are_not_an_array_are_reported() {
        // One record where an array belongs read as nothing, without a word.
        for (data, key) in [
            (&br#"{"Records":{"eventName":"A"}}"#[..], "Records"),
            (&br#"{"Records":null}"#[..], "Records"),
        ] {
            let (ok, bad) = read_all(data, Layout::Envelope);
            assert!(ok.is_empty());
            let [ReadIssue::Fatal { records: 0, reason }] = bad.as_slice() else {
                panic!("{bad:?}")
            };
            assert_eq!(reason, &format!("{key} is not an array of records"));
        }
    }

    #[test]
    fn concatenated_documents_are_all_read() {
        // What `cat a.json b.json` (or of two gzip files) hands the reader.
        let data = b"{\"Records\":[{\"a\":1}]}\n{\"Records\":[{\"a\":2},{\"a\":3}]} ";
        let (ok, bad) = read_all(data, Layout::Envelope);
        assert_eq!(ok, [r#"{"a":1}"#, r#"{"a":2}"#, r#"{"a":3}"#]);
        assert!(bad.is_empty(), "{bad:?}");
        let (ok, bad) = read_all(b"[{\"a\":1}][{\"a\":2}]\n", Layout::Array);
        assert_eq!(ok, [r#"{"a":1}"#, r#"{"a":2}"#]);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn data_after_the_top_level_value_is_reported() {
        for (data, layout) in [
            (&b"{\"Records\":[{\"a\":1}]} trailing"[..], Layout::Envelope),
            (&b"[{\"a\":1}],[{\"a\":2}]"[..], Layout::Array),
            (
                &b"{\"Records\":[{\"a\":1}]}[{\"a\":2}]"[..],
                Layout::Envelope,
            ),
        ] {
            let (ok, bad) = read_all(data, layout);
            assert_eq!(ok, [r#"{"a":1}"#], "{layout:?}");
            let [ReadIssue::Fatal { records, reason }] = &bad[..] else {
                panic!("{layout:?}: {bad:?}");
            };
            assert_eq!(*records, 1);
            assert!(
                reason.contains("after the end of the top-level"),
                "{reason}"
            );
        }
    }

    #[test]
    fn reads_event_history_records_from_their_strings() {
        let record =
            |name: &str| format!(r#"{{"eventName":"{name}","eventSource":"s3.amazonaws.com"}}"#);
        let entry = |inner: &str| {
            let text = serde_json::to_string(inner).expect("a string");
            format!(
                r#"{{"EventId":"e","EventName":"x","Resources":[{{"a":1}}],"CloudTrailEvent":{text}}}"#
            )
        };
        let data = format!(
            r#"{{"Events":[{},{{"EventId":"none"}},{},{},{},{{"EventId":[}},{}],"NextToken":"t"}}"#,
            entry(&record("ListBuckets")),
            entry("[1]"),
            entry("{\"eventName\":"),
            entry(&format!(" {} ", record("GetBucketAcl"))),
            entry(&record("ListUsers")),
        );
        let mut r = RecordReader::new(data.as_bytes(), Layout::EventHistory, 1 << 20);
        let (mut names, mut bad) = (Vec::new(), Vec::new());
        while let Some(item) = r.next_record() {
            match item {
                Ok(rec) => {
                    let name = rec.fields.event_name.expect("eventName found by the scan");
                    names.push((rec.index, String::from_utf8_lossy(name).into_owned()));
                    assert_eq!(rec.fields.event_source, Some(&b"s3.amazonaws.com"[..]));
                }
                Err(ReadIssue::Record { index, reason }) => bad.push((index, reason)),
                Err(fatal) => panic!("{fatal:?}"),
            }
        }
        let want = [(0, "ListBuckets"), (4, "GetBucketAcl"), (6, "ListUsers")];
        assert_eq!(names, want.map(|(i, n)| (i, n.to_owned())));
        let indexes: Vec<u64> = bad.iter().map(|(i, _)| *i).collect();
        // Entry 5 is broken JSON: reported, and the reader finds the entry after it.
        assert_eq!(indexes, [1, 2, 3, 5], "{bad:?}");
        assert!(bad[3].1.contains("mismatched bracket"), "{bad:?}");
        assert!(bad[0].1.contains("no CloudTrailEvent"), "{bad:?}");
        assert!(bad[1].1.contains("not one JSON object"), "{bad:?}");
    }

    #[test]
    fn a_damaged_event_history_entry_costs_that_entry() {
        let record = |n: u32| {
            let text = format!(r#"{{"eventVersion":"1.08","eventName":"E{n}","p":[{{}},{{}}]}}"#);
            serde_json::to_string(&text).expect("a string")
        };
        // As the AWS CLI prints them: pretty, each entry's first key first.
        let history = |n: u32| {
            format!(
                "{{\n      \"EventId\": \"{n}\",\n      \"Resources\": [],\n      \
                 \"CloudTrailEvent\": {}\n    }}",
                record(n)
            )
        };
        let events = |n: u32| {
            format!(
                "{{\n  \"logStreamName\": \"s\",\n  \"timestamp\": {n},\n  \"message\": {}\n}}",
                record(n)
            )
        };
        for (top, entry) in [
            ("Events", &history as &dyn Fn(u32) -> String),
            ("events", &events),
        ] {
            for (damage, what) in [
                ("\"CloudTrailEvent\": \"", "a lost quote"),
                ("\"message\": \"", "a lost quote"),
                ("\n    }", "a lost brace"),
                ("\n}", "a lost brace"),
            ] {
                let second = entry(1);
                let Some(at) = second.find(damage) else {
                    continue;
                };
                let cut = at + damage.len() - 1;
                let broken = format!("{}{}", &second[..cut], &second[cut + 1..]);
                let items = [entry(0), broken, entry(2), entry(3)];
                let data = format!(
                    "{{\n  \"{top}\": [\n    {}\n  ]\n}}\n",
                    items.join(",\n    ")
                );
                let (ok, bad) = read_all(data.as_bytes(), Layout::EventHistory);
                assert_eq!(ok.len(), 3, "{what}: {data}\n{bad:?}");
                let [ReadIssue::Record { index: 1, .. }] = bad.as_slice() else {
                    panic!("{what}: {data}\n{bad:?}")
                };
            }
        }
    }

    #[test]
    fn lines_exported_from_cloudwatch_logs_carry_a_time_before_each_record() {
        let data = b"2021-07-29T13:02:53.000Z {\"a\":1}\n\
                     2021-07-29T13:02:54.000Z not a record\n\
                     {\"a\":3}\n\
                     2021-07-29T13:02:55Z {\"a\":4}";
        let (ok, bad) = read_all(data, Layout::Lines);
        assert_eq!(ok, [r#"{"a":1}"#, r#"{"a":3}"#, r#"{"a":4}"#]);
        assert!(
            matches!(&bad[..], [ReadIssue::Record { index: 1, .. }]),
            "{bad:?}"
        );
    }

    #[test]
    fn reads_arrays_and_lines() {
        let (ok, bad) = read_all(b"[ {\"a\":1},\n{\"a\":2} ]", Layout::Array);
        assert_eq!(ok.len(), 2);
        assert!(bad.is_empty());
        let (ok, bad) = read_all(b"{\"a\":1}\n{\"a\":2}\r\n\n{\"a\":3}", Layout::Lines);
        assert_eq!(ok.len(), 3);
        assert!(bad.is_empty());
        let (ok, bad) = read_all(b"[]", Layout::Array);
        assert!(ok.is_empty() && bad.is_empty());
    }

    #[test]
    fn a_broken_line_is_reported_and_the_rest_still_counts() {
        let (ok, bad) = read_all(b"{\"a\":1}\nnot json\n{\"a\":3}\n", Layout::Lines);
        assert_eq!(ok.len(), 2);
        assert_eq!(
            bad,
            [ReadIssue::Record {
                index: 1,
                reason: "a line is not a JSON object".into()
            }]
        );
    }

    #[test]
    fn damage_on_one_line_costs_that_line_only() {
        // Each damage once made the rest of the object unreadable: a lost quote (the rest read
        // as a string), a lost brace (the record swallowed the lines after it).
        let good = |n: u32| format!("{{\"eventVersion\":\"1.08\",\"n\":{n}}}\n");
        for (damaged, reason) in [
            (
                "{\"eventVersion\":\"1.08\",\"n:2}\n",
                "a line break inside a string",
            ),
            (
                "{\"eventVersion\":\"1.08\",\"n\":{\"m\":2}\n",
                "a record that does not end",
            ),
            (
                "2021-07-29T13:02:53.000Z {\"eventVersion\":\"1.08\",\"n\":[2}\n",
                "mismatched bracket",
            ),
        ] {
            let data = format!("{}{damaged}{}{}", good(1), good(3), good(4));
            for chunk in [data.len(), 7] {
                let mut r =
                    RecordReader::new(Chunked(data.as_bytes(), chunk), Layout::Lines, 1 << 20);
                let mut seen = Vec::new();
                while let Some(item) = r.next_record() {
                    seen.push(match item {
                        Ok(raw) => format!("{} ok", raw.index),
                        Err(ReadIssue::Record { index, reason }) => format!("{index} {reason}"),
                        Err(other) => format!("{other:?}"),
                    });
                }
                assert_eq!(
                    seen,
                    ["0 ok", &format!("1 {reason}"), "2 ok", "3 ok"],
                    "{damaged}"
                );
            }
        }
    }

    #[test]
    fn a_lost_quote_in_a_delivery_file_costs_one_record() {
        let record =
            |n: u32| format!(r#"{{"eventVersion":"1.08","n":{n},"p":{{"a":[{{}},{{}}]}}}}"#);
        let lost_quote = r#"{"eventVersion":"1.08","n:1,"p":{"a":[{},{}]}}"#;
        let lost_brace = r#"{"eventVersion":"1.08","n":1,"p":{"a":[{},{}]}"#;
        for broken in [lost_quote, lost_brace] {
            let items = [record(0), broken.to_owned(), record(2), record(3)];
            for (data, layout) in [
                (
                    format!(r#"{{"Records":[{}]}}"#, items.join(",")),
                    Layout::Envelope,
                ),
                (format!("[{}]", items.join(",")), Layout::Array),
            ] {
                let (ok, bad) = read_all(data.as_bytes(), layout);
                assert_eq!(ok.len(), 3, "{data}: {bad:?}");
                let [ReadIssue::Record { index: 1, .. }] = bad.as_slice() else {
                    panic!("{data}: {bad:?}")
                };
            }
        }
        // A file cut short inside its last record still ends in a fatal error, however many
        // nested objects the cut record holds.
        let cut = format!(r#"{{"Records":[{},{}"#, record(0), &record(1)[..40]);
        let (ok, bad) = read_all(cut.as_bytes(), Layout::Envelope);
        assert_eq!(ok.len(), 1);
        assert!(
            matches!(bad.as_slice(), [ReadIssue::Fatal { .. }]),
            "{bad:?}"
        );
    }

    #[test]
    fn indented_records_after_a_broken_line_are_still_read() {
        let data = b"{\"a\":1}\nnot json\n  {\"a\":3}\n\t{\"a\":4}\n";
        for chunk in [data.len(), 5] {
            let mut r = RecordReader::new(Chunked(data, chunk), Layout::Lines, 1 << 20);
            let mut ok = 0;
            let mut bad = Vec::new();
            while let Some(item) = r.next_record() {
                match item {
                    Ok(_) => ok += 1,
                    Err(e) => bad.push(e),
                }
            }
            assert_eq!((ok, bad.len()), (3, 1), "{bad:?}");
        }
    }

    #[test]
    fn a_damaged_record_of_a_pretty_printed_array_costs_that_record() {
        // As exports print them: keys in any order (no `{"eventVersion"` to resume at), nested
        // arrays of objects (the `},` `{` shape inside a record).
        let record = |n: u32| {
            let v = serde_json::json!({"awsRegion": "us-east-1", "eventName": format!("E{n}"),
                "resources": [{"ARN": "a"}, {"ARN": "b"}], "userIdentity": {"type": "Root"}});
            serde_json::to_string_pretty(&v)
                .expect("json")
                .replace('\n', "\n   ")
        };
        for (from, to) in [
            ("\"E1\"", "\"E1"),
            ("\"E1\"", "\"E\"1\""),
            ("}\n     ]", "\n     ]"),
        ] {
            let items = [
                record(0),
                record(1).replacen(from, to, 1),
                record(2),
                record(3),
            ];
            assert_ne!(items[1], record(1), "{from:?} is in the record");
            for data in [
                format!("[\n   {}\n]\n", items.join(",\n   ")),
                format!("{{\"Records\": [\n   {}\n]}}\n", items.join(",\n   ")),
            ] {
                let layout = if data.starts_with('[') {
                    Layout::Array
                } else {
                    Layout::Envelope
                };
                let (ok, bad) = read_all(data.as_bytes(), layout);
                assert_eq!(ok.len(), 3, "{from} -> {to}: {data}\n{bad:?}");
                let [ReadIssue::Record { index: 1, .. }] = bad.as_slice() else {
                    panic!("{from} -> {to}: {data}\n{bad:?}")
                };
            }
        }
        // Only the first item starting a line is no pretty array: the others are still found.
        let data = b"[\n{\"a\":1},{\"a\":\"2},{\"eventVersion\":\"1.08\",\"a\":3}]";
        let (ok, bad) = read_all(data, Layout::Array);
        assert_eq!((ok.len(), bad.len()), (2, 1), "{ok:?} {bad:?}");
    }

    #[test]
    fn what_a_damaged_record_leaves_on_its_line_keeps_the_numbering() {
        let data = b"{\"a\":1}\n{\"a\":2},\"b\":3}\n{\"a\":3}\n";
        let (ok, bad) = read_all(data, Layout::Lines);
        assert_eq!(ok.len(), 3);
        let ReadIssue::Record { index, .. } = &bad[0] else {
            panic!("{bad:?}")
        };
        assert_eq!((bad.len(), *index), (1, 1));
        // Records simply concatenated on one line are still records.
        let (ok, bad) = read_all(b"{\"a\":1}{\"a\":2}\n", Layout::Lines);
        assert_eq!((ok.len(), bad.len()), (2, 0));
    }

    #[test]
    fn after_a_broken_record_the_next_one_starts_a_line() {
        // Pretty-printed records (`jq .` output): the indented lines of the broken one are
        // passed over, not reported one by one.
        let data = b"{\n  \"a\": [1,\n  \"b\": 2}\n}\n{\n  \"a\": 3\n}\n";
        let (ok, bad) = read_all(data, Layout::Lines);
        assert_eq!((ok.len(), bad.len()), (1, 1), "{bad:?}");
        assert!(ok[0].contains("3"), "{ok:?}");
    }

    #[test]
    fn a_broken_array_item_resynchronises() {
        let data = br#"{"Records":[{"eventVersion":"1","a":[}, {"eventVersion":"1.08","b":2}]}"#;
        let (ok, bad) = read_all(data, Layout::Envelope);
        assert_eq!(ok, [r#"{"eventVersion":"1.08","b":2}"#]);
        assert!(
            matches!(bad[0], ReadIssue::Record { index: 0, .. }),
            "{bad:?}"
        );
    }

    #[test]
    fn truncation_is_fatal_after_the_good_records() {
        let data = br#"{"Records":[{"a":1},{"a":2},{"a":"#;
        let (ok, bad) = read_all(data, Layout::Envelope);
        assert_eq!(ok.len(), 2);
        assert!(
            matches!(&bad[..], [ReadIssue::Fatal { records: 2, .. }]),
            "{bad:?}"
        );
    }

    /// A source that hands out `.0` at most `.1` bytes a call, then fails as a gzip stream
    /// cut short does.
    struct Failing<'a>(&'a [u8], usize);

    impl Read for Failing<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "incomplete deflate stream",
                ));
            }
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// `items` joined by `between` inside `open` and `close`, and where each item ends.
    fn joined(open: &str, items: &[String], between: &str, close: &str) -> (String, Vec<usize>) {
        let mut data = open.to_owned();
        let mut ends = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                data.push_str(between);
            }
            data.push_str(item);
            ends.push(data.len());
        }
        data.push_str(close);
        (data, ends)
    }

    #[test]
    fn a_failed_read_keeps_every_whole_record_read_before_it_in_every_layout() {
        let record = |n: usize| format!(r#"{{"eventVersion":"1.08","n":{n},"p":[{{"q":"}}"}}]}}"#);
        let records: Vec<String> = (0..4).map(record).collect();
        let pretty: Vec<String> = (0..4)
            .map(|n| format!("{{\n    \"eventVersion\": \"1.08\",\n    \"n\": {n}\n  }}"))
            .collect();
        let entries = |key: &str| -> Vec<String> {
            let text = |r: &String| serde_json::to_string(r).expect("a string");
            let entry = |r| format!(r#"{{"EventId":"e","{key}":{}}}"#, text(r));
            records.iter().map(entry).collect()
        };
        let exported: Vec<String> = records
            .iter()
            .map(|r| format!("2021-07-29T13:02:53.000Z {r}"))
            .collect();
        let objects = [
            (
                joined(r#"{"Records":["#, &records, ",", r#"],"x":{"y":1}}"#),
                Layout::Envelope,
            ),
            (joined("[", &records, ", ", "]"), Layout::Array),
            (joined("[\n  ", &pretty, ",\n  ", "\n]\n"), Layout::Array),
            (joined("", &records, "\n", "\n"), Layout::Lines),
            (joined("", &exported, "\n", "\n"), Layout::Lines),
            (
                joined(
                    r#"{"Events":["#,
                    &entries("CloudTrailEvent"),
                    ",",
                    r#"],"N":"t"}"#,
                ),
                Layout::EventHistory,
            ),
            (
                joined(r#"{"events":["#, &entries("message"), ",", "]}"),
                Layout::Messages,
            ),
        ];
        for ((data, ends), layout) in objects {
            for cut in 0..=data.len() {
                let whole = ends.iter().filter(|&&end| end <= cut).count() as u64;
                for chunk in [data.len().max(1), 7] {
                    let source = Failing(&data.as_bytes()[..cut], chunk);
                    let mut r = RecordReader::new(source, layout, 1 << 20);
                    let mut seen = Vec::new();
                    while let Some(item) = r.next_record() {
                        seen.push(item.map(|raw| raw.index));
                    }
                    let want: Vec<Result<u64, ReadIssue>> = (0..whole)
                        .map(Ok)
                        .chain([Err(ReadIssue::Fatal {
                            records: whole,
                            reason: "read failed: incomplete deflate stream".into(),
                        })])
                        .collect();
                    assert_eq!(seen, want, "{layout:?} cut at {cut}: {}", &data[..cut]);
                }
            }
        }
    }

    #[test]
    fn a_damaged_record_before_a_failed_read_is_reported_and_so_is_the_failure() {
        let data = br#"{"Records":[{"eventVersion":"1","a":[},{"eventVersion":"1","b":2},{"eve"#;
        let mut r = RecordReader::new(Failing(data, data.len()), Layout::Envelope, 1 << 20);
        let mut seen = Vec::new();
        while let Some(item) = r.next_record() {
            seen.push(item.map(|raw| raw.index));
        }
        let [Err(ReadIssue::Record { index: 0, .. }), Ok(1), Err(ReadIssue::Fatal { records: 2, reason })] =
            &seen[..]
        else {
            panic!("{seen:?}")
        };
        assert_eq!(reason, "read failed: incomplete deflate stream");
        // Data after the top-level value is reported as before, with the failure after it.
        let data = br#"{"Records":[{"a":1}]} junk"#;
        let mut r = RecordReader::new(Failing(data, data.len()), Layout::Envelope, 1 << 20);
        assert!(matches!(r.next_record(), Some(Ok(_))));
        let Some(Err(ReadIssue::Fatal { records: 1, reason })) = r.next_record() else {
            panic!("a fatal issue")
        };
        assert!(
            reason.contains("after the end of the top-level")
                && reason.ends_with("read failed: incomplete deflate stream"),
            "{reason}"
        );
        assert!(r.next_record().is_none());
    }

    #[test]
    fn records_span_chunk_boundaries() {
        let one = format!(r#"{{"eventVersion":"1.08","pad":"{}"}}"#, "x".repeat(1000));
        let body = vec![one.as_str(); 2000].join(",");
        let data = format!(r#"{{"Records":[{body}]}}"#);
        let (ok, bad) = read_all(data.as_bytes(), Layout::Envelope);
        assert_eq!(ok.len(), 2000);
        assert!(ok.iter().all(|r| r == &one));
        assert!(bad.is_empty());
    }

    #[test]
    fn oversized_records_are_skipped_in_bounded_memory() {
        // Strings with brackets and escaped quotes inside: the skip must not be fooled.
        let blob = r#"x\"}]{[x"#.repeat(60_000);
        let data = format!(r#"[{{"a":"{blob}","b":[{{}}]}},{{"a":2}}]"#);
        let mut r = RecordReader::new(data.as_bytes(), Layout::Array, 100_000);
        let first = r.next_record().expect("an item");
        let Err(ReadIssue::Record { index: 0, reason }) = first else {
            panic!("{first:?}");
        };
        assert!(reason.contains("skipped"), "{reason}");
        let next = r.next_record().expect("the record after it");
        assert_eq!(next.expect("read").bytes, br#"{"a":2}"#);
        assert!(r.next_record().is_none());
        assert!(r.buf.capacity() < 4 * 100_000, "{}", r.buf.capacity());
    }

    #[test]
    fn a_huge_broken_line_is_passed_over_in_bounded_memory() {
        // Found by searching for the next line that starts a record: none of it is kept.
        for junk in [
            "x".repeat(3 << 20),
            format!("{{\"a\":\"{}", "x".repeat(3 << 20)),
        ] {
            let data = format!("{junk}\n{{\"a\":2}}\n");
            let mut r = RecordReader::new(data.as_bytes(), Layout::Lines, 100_000);
            assert!(matches!(
                r.next_record(),
                Some(Err(ReadIssue::Record { index: 0, .. }))
            ));
            assert_eq!(
                r.next_record().expect("a record").expect("read").bytes,
                br#"{"a":2}"#
            );
            assert!(r.next_record().is_none());
            assert!(r.buf.capacity() < 4 * CHUNK, "{}", r.buf.capacity());
        }
    }
}
