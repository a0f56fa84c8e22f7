//! Streaming reader: lines in, records out, one reused buffer, bounded memory.

use std::io::{self, BufRead};

use memchr::memchr;

use super::field::{Field, Format};
use super::parse::Bounds;
use super::record::{parse_into, FlowRecord, Plan, RecordError};

/// Longest line accepted, in bytes without the `\n`. Longer lines are reported and skipped
/// without being buffered whole.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// What went wrong with a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineErrorKind {
    /// The line is not a valid record or header; reading continues with the next line.
    Malformed,
    /// The line exceeds [`MAX_LINE_BYTES`]; it was skipped and reading continues.
    TooLong,
    /// Reading failed (I/O or decompression error); the stream ends here.
    Io,
}

/// A line that could not be read as a record, with its 1-based line number.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("line {line}: {reason}")]
pub struct LineError {
    /// 1-based line number, counting every line including headers, blanks and comments.
    pub line: u64,
    /// What is wrong, naming the field and (up to 64 characters of) its text where relevant.
    pub reason: String,
    /// Whether reading continues after this error.
    pub kind: LineErrorKind,
}

impl LineError {
    fn new(line: u64, kind: LineErrorKind, reason: String) -> Self {
        LineError { line, reason, kind }
    }

    /// Whether the stream ended with this error (an I/O failure).
    pub fn is_fatal(&self) -> bool {
        self.kind == LineErrorKind::Io
    }
}

/// Reads flow-log records from a text stream (already decompressed) without buffering it.
///
/// The first non-blank line is checked for a header (field names such as `version srcaddr …`);
/// without one, records are read in the default v2 format (or the format given to
/// [`FlowLogReader::with_format`]). A header later in the stream, as in concatenated files,
/// switches the format from that line on. Blank lines are skipped; a line starting with `#` is
/// reported as malformed (flow logs have no comment lines) and reading goes on.
///
/// [`next_record`](FlowLogReader::next_record) lends each record straight from the reader's
/// buffer when the line lies within it, and otherwise from one line buffer reused for the
/// whole stream; either way a record must be dropped before the next call.
pub struct FlowLogReader<R: BufRead> {
    inner: R,
    format: Format,
    /// How each line is parsed: the format's columns, with those outside
    /// [`keep`](Self::keep) skipped.
    plan: Plan,
    /// The fields to parse; all when `None`.
    keep: Option<&'static [Field]>,
    /// Lines that straddle the end of the reader's buffer are assembled here.
    buf: Vec<u8>,
    lines: u64,
    /// Bytes of the reader's buffer holding the current line, consumed before the next read.
    unconsumed: usize,
    /// Scratch space for column boundaries.
    bounds: Bounds,
    /// The outcome of the look-ahead done by the constructor, not yet handed out.
    pending: Option<Step>,
    finished: bool,
}

/// The result of advancing to the next line that is neither a header nor blank.
enum Step {
    /// A line to parse as a record.
    Data(Line),
    /// A line that could not be used.
    Error(LineError),
    /// End of stream (or after an I/O error).
    Eof,
}

/// Where the current line is.
#[derive(Clone, Copy)]
enum Line {
    /// The first `len` bytes of the reader's buffer.
    InReader(usize),
    /// All of `buf`.
    Copied,
}

/// The outcome of reading one physical line.
enum Read {
    Line(Line),
    TooLong(usize),
    Eof,
}

impl<R: BufRead> FlowLogReader<R> {
    /// Starts reading, in the default v2 format unless the first non-blank line is a header.
    /// Reads up to that line now, so [`format`](Self::format) is already right; a read error
    /// here is returned by the first [`next_record`](Self::next_record).
    pub fn new(reader: R) -> Self {
        Self::with_format(reader, Format::default_v2())
    }

    /// Like [`new`](Self::new), for a stream without a header whose format is known in advance
    /// (e.g. the `LogFormat` of a flow log delivered to CloudWatch Logs). A header line in the
    /// stream still takes precedence.
    pub fn with_format(reader: R, format: Format) -> Self {
        let mut this = FlowLogReader {
            inner: reader,
            plan: Plan::new(format.columns()),
            keep: None,
            format,
            buf: Vec::new(),
            lines: 0,
            unconsumed: 0,
            bounds: Bounds::new(),
            pending: None,
            finished: false,
        };
        this.pending = Some(this.advance());
        this
    }

    /// Parses only `fields` from each line: the other fields of returned records stay `None`
    /// and their columns are neither parsed nor checked (every line must still have the
    /// format's number of columns). For a reader that needs a few fields of a wide format.
    pub fn keeping(mut self, fields: &'static [Field]) -> Self {
        self.keep = Some(fields);
        self.project();
        self
    }

    /// Recomputes [`plan`](Self::plan) from the format and the fields kept.
    fn project(&mut self) {
        let keep = self.keep;
        let kept = |f: &Field| keep.is_none_or(|k| k.contains(f));
        let fields: Vec<Field> = self
            .format
            .columns()
            .iter()
            .map(|f| if kept(f) { *f } else { Field::Unknown })
            .collect();
        self.plan = Plan::new(&fields);
    }

    /// The format records are currently parsed in.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// The number of lines consumed so far, counting headers, blanks and skipped lines.
    pub fn lines_read(&self) -> u64 {
        self.lines
    }

    /// The underlying reader, positioned after the last line handed out (a line read ahead by
    /// [`new`](Self::new) but not yet handed out is dropped).
    pub fn into_inner(mut self) -> R {
        self.inner.consume(self.unconsumed);
        self.inner
    }

    /// The next record; `None` at the end of the stream.
    ///
    /// A malformed or over-long line yields `Err` with its line number, and the next call
    /// continues with the following line. An I/O error yields one `Err` of kind
    /// [`LineErrorKind::Io`] saying how many lines were read, and then `None`.
    pub fn next_record(&mut self) -> Option<Result<FlowRecord<'_>, LineError>> {
        self.next_numbered().map(|(_, r)| r)
    }

    /// Like [`next_record`](Self::next_record), with the 1-based line number of the record.
    pub fn next_numbered(&mut self) -> Option<(u64, Result<FlowRecord<'_>, LineError>)> {
        let (line_no, at) = self.next_line()?;
        let at = match at {
            Ok(at) => at,
            Err(e) => return Some((line_no, Err(e))),
        };
        // A record returned keeps the reader borrowed, so a line that fails is told apart first
        // (and parsed twice): a hot loop uses `next_with`, which parses once.
        let mut probe = FlowRecord::default();
        let failed = line_bytes(&mut self.inner, &self.buf, line_no, at)
            .and_then(|line| parse_line(line, line_no, &self.plan, &mut probe, &mut self.bounds))
            .err();
        if let Some(e) = failed {
            return Some((line_no, Err(self.damaged_header(line_no, at, e))));
        }
        let mut record = FlowRecord::default();
        let parsed = line_bytes(&mut self.inner, &self.buf, line_no, at)
            .and_then(|line| parse_line(line, line_no, &self.plan, &mut record, &mut self.bounds));
        Some((line_no, parsed.map(|()| record)))
    }

    /// Like [`next_numbered`](Self::next_numbered), lending the record to `f` instead of
    /// returning it: for a hot loop, as a record is a few hundred bytes to move. `None` at the
    /// end of the stream, else what `f` returned.
    #[inline]
    pub fn next_with<T>(
        &mut self,
        f: impl FnOnce(u64, Result<&FlowRecord<'_>, LineError>) -> T,
    ) -> Option<T> {
        let (line_no, at) = self.next_line()?;
        let at = match at {
            Ok(at) => at,
            Err(e) => return Some(f(line_no, Err(e))),
        };
        let mut record = FlowRecord::default();
        let parsed = line_bytes(&mut self.inner, &self.buf, line_no, at)
            .and_then(|line| parse_line(line, line_no, &self.plan, &mut record, &mut self.bounds));
        match parsed {
            Ok(()) => Some(f(line_no, Ok(&record))),
            Err(e) => {
                let e = self.damaged_header(line_no, at, e);
                Some(f(line_no, Err(e)))
            }
        }
    }

    /// `error` for line `line_no`, unless the line is a damaged header
    /// ([`Format::from_damaged_header`]): then the format switches to it, as to any header,
    /// and the error says so and which names were not read.
    #[cold]
    #[inline(never)]
    fn damaged_header(&mut self, line_no: u64, at: Line, error: LineError) -> LineError {
        if error.kind != LineErrorKind::Malformed {
            return error;
        }
        let Ok(line) = line_bytes(&mut self.inner, &self.buf, line_no, at) else {
            return error;
        };
        let Some((format, damaged)) = Format::from_damaged_header(line_content(line, line_no))
        else {
            return error;
        };
        self.format = format;
        self.project();
        let reason = format!(
            "a damaged header, read as one: the columns of {} are not read",
            damaged.join(", ")
        );
        LineError::new(line_no, LineErrorKind::Malformed, reason)
    }

    /// Where the next line that holds a record lies (or the error instead of it), with its
    /// number.
    #[inline]
    fn next_line(&mut self) -> Option<(u64, Result<Line, LineError>)> {
        let step = match self.pending.take() {
            Some(step) => step,
            None => self.advance(),
        };
        match step {
            Step::Eof => None,
            Step::Error(e) => Some((e.line, Err(e))),
            Step::Data(at) => Some((self.lines, Ok(at))),
        }
    }

    /// Reads lines until one holds a record, an error, or the end.
    fn advance(&mut self) -> Step {
        if self.finished {
            return Step::Eof;
        }
        loop {
            let at = match self.read_line() {
                Ok(Read::Line(at)) => at,
                Ok(Read::TooLong(len)) => return Step::Error(too_long(self.lines, len)),
                Ok(Read::Eof) => return self.finish(None),
                Err(e) => return self.finish(Some(io_failure(self.lines, &e))),
            };
            let kind = match line_bytes(&mut self.inner, &self.buf, self.lines, at) {
                Ok(line) => classify(line_content(line, self.lines)),
                Err(e) => return self.finish(Some(e)),
            };
            match kind {
                LineKind::Skip => {}
                LineKind::Comment => return Step::Error(comment(self.lines)),
                LineKind::Data => return Step::Data(at),
                LineKind::Header => {
                    if let Err(e) = self.switch_format(at) {
                        return Step::Error(e);
                    }
                }
            }
        }
    }

    /// Ends the stream, with a last error if there is one.
    fn finish(&mut self, error: Option<LineError>) -> Step {
        self.finished = true;
        error.map_or(Step::Eof, Step::Error)
    }

    /// Replaces the format with the header line `at`.
    fn switch_format(&mut self, at: Line) -> Result<(), LineError> {
        let line_no = self.lines;
        let line = line_content(
            line_bytes(&mut self.inner, &self.buf, line_no, at)?,
            line_no,
        );
        let parsed = std::str::from_utf8(line)
            .map_err(|e| e.to_string())
            .and_then(|text| Format::from_header(text).map_err(|e| e.to_string()));
        match parsed {
            Ok(format) => {
                if format != self.format {
                    tracing::debug!(line = line_no, columns = format.len(), "flow-log format");
                    let unknown = super::field::unknown_names(line);
                    if !unknown.is_empty() {
                        // A newer field, or a damaged name: either way its column is not read.
                        tracing::warn!(
                            line = line_no,
                            names = %unknown.join(" "),
                            "flow-log header names fields this version does not know; their \
                             columns are not read"
                        );
                    }
                }
                self.format = format;
                self.project();
                Ok(())
            }
            Err(reason) => Err(LineError::new(
                line_no,
                LineErrorKind::Malformed,
                format!("bad header: {reason}"),
            )),
        }
    }

    /// Reads one line. A line that lies within the reader's buffer stays there (consumed on the
    /// next call); one that straddles its end is copied into `buf`, keeping at most
    /// [`MAX_LINE_BYTES`] of it.
    fn read_line(&mut self) -> io::Result<Read> {
        self.inner.consume(std::mem::take(&mut self.unconsumed));
        let available = fill(&mut self.inner)?;
        if available.is_empty() {
            return Ok(Read::Eof);
        }
        if let Some(len) = memchr(b'\n', available) {
            self.lines += 1;
            if len > MAX_LINE_BYTES {
                self.inner.consume(len + 1);
                return Ok(Read::TooLong(len));
            }
            self.unconsumed = len + 1;
            return Ok(Read::Line(Line::InReader(len)));
        }
        self.read_straddling_line()
    }

    /// Assembles a line that continues past the reader's buffer into `buf`.
    fn read_straddling_line(&mut self) -> io::Result<Read> {
        self.buf.clear();
        let mut seen = 0usize;
        loop {
            let available = fill(&mut self.inner)?;
            if available.is_empty() {
                break;
            }
            let (len, used, complete) = match memchr(b'\n', available) {
                Some(i) => (i, i + 1, true),
                None => (available.len(), available.len(), false),
            };
            if seen + len <= MAX_LINE_BYTES {
                self.buf.extend_from_slice(&available[..len]);
            }
            seen += len;
            self.inner.consume(used);
            if complete {
                break;
            }
        }
        self.lines += 1;
        if seen > MAX_LINE_BYTES {
            self.buf.clear();
            return Ok(Read::TooLong(seen));
        }
        Ok(Read::Line(Line::Copied))
    }
}

/// The bytes of line `at`: in `inner`'s buffer, which still holds the unconsumed line (so no
/// I/O happens), or in `buf`.
#[inline]
fn line_bytes<'b, R: BufRead>(
    inner: &'b mut R,
    buf: &'b [u8],
    lines: u64,
    at: Line,
) -> Result<&'b [u8], LineError> {
    let Line::InReader(len) = at else {
        return Ok(buf);
    };
    match inner.fill_buf() {
        Ok(bytes) => bytes.get(..len).ok_or_else(|| {
            io_failure(lines, &io::Error::other("the reader dropped buffered data"))
        }),
        Err(e) => Err(io_failure(lines, &e)),
    }
}

/// `fill_buf`, retried when interrupted.
fn fill<R: BufRead>(reader: &mut R) -> io::Result<&[u8]> {
    // Retry until the call does not fail with `Interrupted`, then call once more to return
    // the borrow: returning it from inside the loop does not pass the borrow checker. The
    // second call finds the buffer filled and does no I/O.
    while let Err(e) = reader.fill_buf() {
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    reader.fill_buf()
}

/// What a line is, judged from its first non-blank byte (and, for letters, its tokens).
/// What is read of `line` (number `line_no`), as a header or a record: without a byte-order
/// mark on the first line, and without the time a CloudWatch Logs export puts before every
/// line.
fn line_content(line: &[u8], line_no: u64) -> &[u8] {
    let line = match line_no {
        1 => line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line),
        _ => line,
    };
    &line[crate::input::export_time(line).unwrap_or(0)..]
}

enum LineKind {
    /// Blank.
    Skip,
    /// Starting with `#`: no flow log has one, so it is reported (a damaged record would
    /// otherwise vanish without a word) and reading goes on.
    Comment,
    /// Field names: the format of the lines that follow.
    Header,
    /// A record (or something malformed).
    Data,
}

fn classify(line: &[u8]) -> LineKind {
    let Some(&first) = line.iter().find(|b| **b > b' ') else {
        return LineKind::Skip;
    };
    match first {
        b'#' => LineKind::Comment,
        b'a'..=b'z' | b'$' if Format::is_header_line(line) => LineKind::Header,
        _ => LineKind::Data,
    }
}

/// Parses line `line_no` into `record`, which must start out empty.
#[inline(always)]
fn parse_line<'a>(
    line: &'a [u8],
    line_no: u64,
    plan: &Plan,
    record: &mut FlowRecord<'a>,
    bounds: &mut Bounds,
) -> Result<(), LineError> {
    let line = line_content(line, line_no);
    parse_into(line, plan, record, bounds).map_err(|e| malformed(line_no, &e))
}

fn malformed(line: u64, e: &RecordError) -> LineError {
    LineError::new(line, LineErrorKind::Malformed, e.to_string())
}

fn comment(line: u64) -> LineError {
    let reason = "starts with #: a comment or a damaged record, not a record; skipped".to_owned();
    LineError::new(line, LineErrorKind::Malformed, reason)
}

fn too_long(line: u64, len: usize) -> LineError {
    let reason = format!("line of {len} bytes exceeds {MAX_LINE_BYTES} bytes; skipped");
    LineError::new(line, LineErrorKind::TooLong, reason)
}

fn io_failure(lines: u64, e: &io::Error) -> LineError {
    let reason = format!("read failed after {lines} complete lines: {e}");
    LineError::new(lines + 1, LineErrorKind::Io, reason)
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;

    #[test]
    fn memory_stays_bounded_on_huge_lines() {
        let huge = format!(
            "{}\n2 111122223333 e - - - - - - - 1 2 - NODATA\n",
            "x".repeat(10 * MAX_LINE_BYTES)
        );
        let mut reader = FlowLogReader::new(BufReader::with_capacity(4096, huge.as_bytes()));
        let err = reader.next_record().expect("line").expect_err("too long");
        assert_eq!(err.kind, LineErrorKind::TooLong);
        assert!(
            reader.buf.capacity() <= 2 * MAX_LINE_BYTES,
            "{}",
            reader.buf.capacity()
        );
        assert!(reader.next_record().expect("record").is_ok());
        assert!(reader.next_record().is_none());
    }

    #[test]
    fn into_inner_is_positioned_after_the_last_line() {
        let text = b"2 111122223333 e - - - - - - - 1 2 - NODATA\nrest";
        let mut reader = FlowLogReader::new(&text[..]);
        assert!(reader.next_record().expect("record").is_ok());
        assert_eq!(reader.into_inner(), b"rest");
    }
}
