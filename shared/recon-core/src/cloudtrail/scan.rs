//! Byte-level JSON structure scanning: finds where a value ends and picks the few top-level
//! fields of a CloudTrail record that decide whether it needs a full parse.
//!
//! This is the hot path of a CloudTrail scan. It does not validate JSON: it tracks strings,
//! escapes and bracket nesting (mismatched brackets are reported), which is enough to cut a stream
//! into records. Records that matter are then read further ([`record_colons`] and
//! `Record::read_fast`): serde parses, and validates, the values the detectors use.

use crate::simd::{self, Classes, Scanner, BLOCK};

/// The result of scanning for the end of a value.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan<T> {
    /// The value ends; `T` holds the end offset (exclusive) and anything collected.
    Complete(T),
    /// The buffer ends before the value does.
    Incomplete,
    /// The bytes are not JSON structure at `offset`.
    Invalid {
        /// Offset of the offending byte, relative to the scanned slice.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
}

/// Deepest nesting accepted inside one value.
pub const MAX_DEPTH: usize = 128;

/// Skips a string whose opening quote is at `buf[start - 1]`; returns the offset after the
/// closing quote.
#[inline]
pub fn string_end(buf: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let rel = memchr::memchr2(b'"', b'\\', &buf[i..])?;
        i += rel;
        if buf[i] == b'"' {
            return Some(i + 1);
        }
        // A backslash escapes the next byte (for \u the hex digits are plain bytes).
        i += 2;
        if i > buf.len() {
            return None;
        }
    }
}

/// Finds the end of the JSON value starting at `buf[start]` (which must not be whitespace).
pub fn value_end(buf: &[u8], start: usize) -> Scan<usize> {
    let Some(&first) = buf.get(start) else {
        return Scan::Incomplete;
    };
    match first {
        b'"' => match string_end(buf, start + 1) {
            Some(end) => Scan::Complete(end),
            None => Scan::Incomplete,
        },
        b'{' | b'[' => nested_end(buf, start),
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => scalar_end(buf, start),
        _ => Scan::Invalid {
            offset: start,
            reason: "expected a JSON value",
        },
    }
}

fn scalar_end(buf: &[u8], start: usize) -> Scan<usize> {
    let rel = buf[start..]
        .iter()
        .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'));
    match rel {
        Some(n) => Scan::Complete(start + n),
        None => Scan::Incomplete,
    }
}

fn nested_end(buf: &[u8], start: usize) -> Scan<usize> {
    let mut stack = [0u8; MAX_DEPTH];
    let mut depth = 0usize;
    let mut i = start;
    while i < buf.len() {
        match buf[i] {
            b'"' => match string_end(buf, i + 1) {
                Some(end) => {
                    i = end;
                    continue;
                }
                None => return Scan::Incomplete,
            },
            open @ (b'{' | b'[') => {
                if depth == MAX_DEPTH {
                    return Scan::Invalid {
                        offset: i,
                        reason: "nesting too deep",
                    };
                }
                stack[depth] = if open == b'{' { b'}' } else { b']' };
                depth += 1;
            }
            close @ (b'}' | b']') => {
                if depth == 0 || stack[depth - 1] != close {
                    return Scan::Invalid {
                        offset: i,
                        reason: "mismatched bracket",
                    };
                }
                depth -= 1;
                if depth == 0 {
                    return Scan::Complete(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Scan::Incomplete
}

/// Offset of the first non-whitespace byte at or after `i`.
#[inline]
pub fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && matches!(buf[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// Where the key fields of a record lie, as byte ranges of the scanned buffer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeySpans {
    spans: [Option<(usize, usize)>; 6],
    needs_full_parse: bool,
}

impl KeySpans {
    /// The same spans, relative to a slice that starts at `offset` of the scanned buffer.
    #[inline]
    pub fn shifted(mut self, offset: usize) -> Self {
        for (a, b) in self.spans.iter_mut().flatten() {
            *a -= offset;
            *b -= offset;
        }
        self
    }

    /// The fields as slices of `buf`, the buffer that was scanned.
    #[inline]
    pub fn resolve<'a>(&self, buf: &'a [u8]) -> KeyFields<'a> {
        let get = |i: usize| self.spans[i].and_then(|(a, b)| buf.get(a..b));
        KeyFields {
            event_name: get(0),
            event_source: get(1),
            event_time: get(2),
            event_type: get(3),
            recipient_account_id: get(4),
            source_ip_address: get(5),
            needs_full_parse: self.needs_full_parse,
        }
    }
}

/// The top-level fields that decide how a record is handled, as raw JSON string contents
/// (without quotes; `None` when absent, not a string, or containing escapes).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyFields<'a> {
    /// `eventName`.
    pub event_name: Option<&'a [u8]>,
    /// `eventSource`.
    pub event_source: Option<&'a [u8]>,
    /// `eventTime`.
    pub event_time: Option<&'a [u8]>,
    /// `eventType`.
    pub event_type: Option<&'a [u8]>,
    /// `recipientAccountId`.
    pub recipient_account_id: Option<&'a [u8]>,
    /// `sourceIPAddress`.
    pub source_ip_address: Option<&'a [u8]>,
    /// True when a wanted field was present but escaped or not a string: parse fully.
    pub needs_full_parse: bool,
}

/// Scans one record object starting at `buf[start] == b'{'`: returns its end and where its key
/// fields lie.
///
/// The record is read 64 bytes at a time as bitmasks of quotes, backslashes, brackets and
/// colons (the crate's `simd` module). Inside nested values (identities, request parameters,
/// response elements: most of a record's bytes) only brackets are visited; at the record's own
/// level also colons, one a key, and a wanted key is recognised by the bytes before its colon.
/// Brackets must match; other punctuation is not checked here (the values of the records that
/// matter are parsed by serde).
pub fn record_fields(buf: &[u8], start: usize) -> Scan<(usize, KeySpans)> {
    simd::with_best(RecordFields::<false> { buf, start })
}

/// [`record_fields`] for a record that should end on its line: a line break inside a string
/// (which JSON does not allow) makes it invalid there. A lost quote then costs its own line,
/// not the rest of the object read as one string. Kept apart from [`record_fields`], whose
/// delivery files have no line breaks: the check costs the scan 7 %.
pub fn line_record_fields(buf: &[u8], start: usize) -> Scan<(usize, KeySpans)> {
    simd::with_best(RecordFields::<true> { buf, start })
}

/// [`record_fields`] as a [`Scanner`], to run with the best block classes; `LINES` for
/// [`line_record_fields`].
struct RecordFields<'a, const LINES: bool> {
    buf: &'a [u8],
    start: usize,
}

impl<const LINES: bool> Scanner for RecordFields<'_, LINES> {
    type Output = Scan<(usize, KeySpans)>;

    #[inline(always)]
    fn run<C: Classes>(self, classes: C) -> Self::Output {
        scan_record::<C, LINES>(classes, self.buf, self.start)
    }
}

#[inline(always)]
fn scan_record<C: Classes, const LINES: bool>(
    classes: C,
    buf: &[u8],
    start: usize,
) -> Scan<(usize, KeySpans)> {
    let mut spans = KeySpans::default();
    let mut nesting = Nesting::default();
    let mut blocks = Blocks::new(classes, buf, start);
    while let Some(block) = blocks.next(LINES) {
        let brackets = block.open | block.close;
        let mut pending = block.key_colons | brackets;
        let broken = block.broken;
        if broken != 0 {
            // Only what comes before the line break counts; unless the record ends there, it
            // is broken at that line.
            pending &= !(u64::MAX << broken.trailing_zeros());
        }
        loop {
            let events = nesting.events(pending, brackets);
            if events == 0 {
                if broken != 0 {
                    let offset = block.base + broken.trailing_zeros() as usize;
                    return Scan::Invalid {
                        offset,
                        reason: "a line break inside a string",
                    };
                }
                break;
            }
            let bit = events.trailing_zeros();
            pending &= u64::MAX.checked_shl(bit + 1).unwrap_or(0);
            let at = block.base + bit as usize;
            if block.key_colons >> bit & 1 == 1 {
                if let Some(slot) = wanted_key(buf, start, at) {
                    if !value_span(buf, at + 1, &block, slot, &mut spans) {
                        return Scan::Incomplete;
                    }
                }
            } else {
                match nesting.bracket(buf, at, block.open >> bit & 1 == 1) {
                    Ok(false) => {}
                    Ok(true) => return Scan::Complete((at + 1, spans)),
                    Err(reason) => return Scan::Invalid { offset: at, reason },
                }
            }
        }
    }
    Scan::Incomplete
}

/// The bracket nesting of a record walk.
#[derive(Default)]
struct Nesting {
    depth: usize,
    /// One bit a level, innermost lowest: set for `{`, clear for `[`.
    braces: u128,
}

impl Nesting {
    /// The events of `pending` to visit: all of them at the record's own level, only the
    /// brackets inside nested values.
    #[inline(always)]
    fn events(&self, pending: u64, brackets: u64) -> u64 {
        if self.depth == 1 {
            pending
        } else {
            pending & brackets
        }
    }

    /// Takes the bracket at `buf[at]`, opening or not: true when it closes the record, `Err`
    /// when it does not match or nests too deep.
    #[inline(always)]
    fn bracket(&mut self, buf: &[u8], at: usize, open: bool) -> Result<bool, &'static str> {
        // Opening and closing brackets alternate unpredictably inside nested values: both are
        // handled without a branch on which it is (the checks are almost never taken).
        // `{` and `}` have bit 5 set, `[` and `]` do not.
        let brace = buf[at] & 0x20 != 0;
        if open && self.depth == MAX_DEPTH {
            return Err("nesting too deep");
        }
        if !open && (self.depth == 0 || (self.braces & 1 == 1) != brace) {
            return Err("mismatched bracket");
        }
        let pushed = (self.braces << 1) | u128::from(brace);
        self.braces = if open { pushed } else { self.braces >> 1 };
        self.depth = self.depth + 2 * usize::from(open) - 1;
        Ok(self.depth == 0)
    }
}

/// Every colon at the record's own level (one after each key) of the complete record object
/// `record`, in order, into `colons` (cleared first); false when `record` is not one complete
/// object with matching brackets. For the records read in full: their keys and values are
/// found from these.
pub fn record_colons(record: &[u8], colons: &mut Vec<usize>) -> bool {
    colons.clear();
    record.first() == Some(&b'{') && simd::with_best(RecordColons { record, colons })
}

/// [`record_colons`] as a [`Scanner`]. Its loop has the shape of [`scan_record`]'s, apart from
/// what it does at a colon: one loop taking that as a closure measured 3 % slower on the hot
/// record scan, so the two share only [`Nesting`] and [`Blocks`].
struct RecordColons<'a, 'c> {
    record: &'a [u8],
    colons: &'c mut Vec<usize>,
}

impl Scanner for RecordColons<'_, '_> {
    type Output = bool;

    #[inline(always)]
    fn run<C: Classes>(self, classes: C) -> bool {
        let RecordColons { record, colons } = self;
        let mut nesting = Nesting::default();
        let mut blocks = Blocks::new(classes, record, 0);
        while let Some(block) = blocks.next(false) {
            let brackets = block.open | block.close;
            let mut pending = block.colons | brackets;
            loop {
                let events = nesting.events(pending, brackets);
                if events == 0 {
                    break;
                }
                let bit = events.trailing_zeros();
                pending &= u64::MAX.checked_shl(bit + 1).unwrap_or(0);
                let at = block.base + bit as usize;
                if block.colons >> bit & 1 == 1 {
                    colons.push(at);
                } else {
                    match nesting.bracket(record, at, block.open >> bit & 1 == 1) {
                        Ok(false) => {}
                        Ok(true) => return at + 1 == record.len(),
                        Err(_) => return false,
                    }
                }
            }
        }
        false
    }
}

/// The wanted keys, by slot (see [`KeySpans::resolve`]), each with its opening quote.
const WANTED: [&[u8]; 6] = [
    b"\"eventName",
    b"\"eventSource",
    b"\"eventTime",
    b"\"eventType",
    b"\"recipientAccountId",
    b"\"sourceIPAddress",
];

/// The slot of the key that ends before the record-level colon at `colon`, if it is wanted.
///
/// The key is wanted when the bytes before the colon are `"` and a wanted name with its opening
/// quote, and that quote follows `{` or `,`: an escaped quote would follow a backslash.
#[inline(always)]
fn wanted_key(buf: &[u8], record_start: usize, colon: usize) -> Option<usize> {
    let mut close = colon.checked_sub(1)?;
    while close > record_start && matches!(buf[close], b' ' | b'\n' | b'\r' | b'\t') {
        close -= 1;
    }
    if buf[close] != b'"' {
        return None;
    }
    // The key's last byte picks the candidates; most keys are passed over on it.
    let tail = |len: usize| close.checked_sub(len).and_then(|from| buf.get(from..close));
    let slot = match buf.get(close.wrapping_sub(1))? {
        b'e' => match tail(10)? {
            b"\"eventName" => 0,
            b"\"eventTime" => 2,
            b"\"eventType" => 3,
            _ if tail(12)? == WANTED[1] => 1,
            _ => return None,
        },
        b'd' if tail(19)? == WANTED[4] => 4,
        b's' if tail(16)? == WANTED[5] => 5,
        _ => return None,
    };
    let before = skip_ws_back(buf, record_start, close - WANTED[slot].len());
    matches!(buf[before], b'{' | b',').then_some(slot)
}

/// The offset of the last non-blank byte before `end`, at least `floor`.
#[inline(always)]
fn skip_ws_back(buf: &[u8], floor: usize, end: usize) -> usize {
    let mut i = end.saturating_sub(1).max(floor);
    while i > floor && matches!(buf[i], b' ' | b'\n' | b'\r' | b'\t') {
        i -= 1;
    }
    i
}

/// Records the value after the colon ending at `from` for `slot`: its span when it is a string
/// without escapes, else a request for a full parse (unless it is `null`). False when the
/// buffer ends first.
#[inline(always)]
fn value_span(buf: &[u8], from: usize, block: &Block, slot: usize, spans: &mut KeySpans) -> bool {
    let open = skip_ws(buf, from);
    let Some(&first) = buf.get(open) else {
        return false;
    };
    if first != b'"' {
        let rest = &buf[open..buf.len().min(open + 4)];
        if rest.len() < 4 && b"null".starts_with(rest) {
            return false;
        }
        spans.needs_full_parse |= rest != b"null";
        return true;
    }
    // The closing quote from the block's masks when it lies in this block, else by search.
    let offset = u32::try_from(open + 1 - block.base).unwrap_or(u32::MAX);
    let later = u64::MAX.checked_shl(offset).unwrap_or(0);
    let quote = block.quote & later;
    let (end, escaped) = if quote != 0 {
        let end = block.base + quote.trailing_zeros() as usize;
        let before_end = (1u64 << quote.trailing_zeros()) - 1;
        (Some(end), block.backslash & later & before_end != 0)
    } else {
        match memchr::memchr2(b'"', b'\\', &buf[open + 1..]) {
            Some(n) if buf[open + 1 + n] == b'"' => (Some(open + 1 + n), false),
            Some(_) => (None, true),
            None => return false,
        }
    };
    match end {
        Some(end) if !escaped => spans.spans[slot] = Some((open + 1, end)),
        _ => spans.needs_full_parse = true,
    }
    true
}

/// One block of a buffer, with escaped quotes and brackets inside strings taken out.
struct Block {
    /// Offset of the block's first byte in the buffer.
    base: usize,
    /// Unescaped quotes: each opens or closes a string.
    quote: u64,
    /// `{` and `[` outside strings.
    open: u64,
    /// `}` and `]` outside strings.
    close: u64,
    /// `:` outside strings, less those that cannot end a wanted key: a colon right after a
    /// quote whose preceding byte is not `e`, `d` or `s`. Colons in a block's first two bytes
    /// are kept, since what precedes them lies in the previous block.
    key_colons: u64,
    /// Every `:` outside strings.
    colons: u64,
    /// `\n` inside strings, which JSON does not allow: a record broken at its line's end (a
    /// lost quote makes the rest of its line, and every line after it, read as a string).
    /// Found only for [`line_record_fields`] (`Blocks::next(true)`), else zero.
    broken: u64,
    /// `\\`, anywhere.
    backslash: u64,
}

/// The last, partial block of a buffer, padded with spaces (which are in no class).
#[cold]
fn padded(rest: &[u8]) -> [u8; BLOCK] {
    let mut block = [b' '; BLOCK];
    block[..rest.len()].copy_from_slice(rest);
    block
}

/// The blocks of a buffer from an offset that is outside any string.
struct Blocks<'a, C> {
    classes: C,
    buf: &'a [u8],
    base: usize,
    /// All ones when the previous block ended inside a string.
    in_string: u64,
    /// Whether the previous block ended with a backslash that escapes this block's first byte.
    escape: bool,
}

impl<'a, C: Classes> Blocks<'a, C> {
    #[inline(always)]
    fn new(classes: C, buf: &'a [u8], from: usize) -> Self {
        Blocks {
            classes,
            buf,
            base: from,
            in_string: 0,
            escape: false,
        }
    }

    #[inline(always)]
    fn next(&mut self, lines: bool) -> Option<Block> {
        let rest = self.buf.get(self.base..).filter(|r| !r.is_empty())?;
        let (classes, newlines) = match rest.first_chunk() {
            Some(full) => (
                self.classes.json(full),
                if lines {
                    self.classes.newlines(full)
                } else {
                    0
                },
            ),
            None => {
                let tail = padded(rest);
                let newlines = if lines {
                    self.classes.newlines(&tail)
                } else {
                    0
                };
                (self.classes.json(&tail), newlines)
            }
        };
        let quote = classes.quote & !simd::escaped(classes.backslash, &mut self.escape);
        let in_string = self.classes.prefix_xor(quote) ^ self.in_string;
        self.in_string = ((in_string as i64) >> 63) as u64;
        let after_quote = (quote << 1) | 1;
        let after_tail = (classes.key_tail << 2) | 3;
        let block = Block {
            base: self.base,
            quote,
            open: classes.open & !in_string,
            close: classes.close & !in_string,
            key_colons: classes.colon & !in_string & (!after_quote | after_tail),
            colons: classes.colon & !in_string,
            backslash: classes.backslash,
            broken: newlines & in_string,
        };
        self.base += BLOCK;
        Some(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    #[test]
    fn value_ends() {
        assert_eq!(value_end(br#""a\"b" x"#, 0), Scan::Complete(6));
        assert_eq!(value_end(br#"{"a":[1,{"b":"}"}]} "#, 0), Scan::Complete(19));
        assert_eq!(value_end(b"123,", 0), Scan::Complete(3));
        assert_eq!(value_end(b"true}", 0), Scan::Complete(4));
        assert_eq!(
            value_end(br#"{"a":[1,2}"#, 0),
            Scan::Invalid {
                offset: 9,
                reason: "mismatched bracket"
            }
        );
        assert_eq!(value_end(br#"{"a":"#, 0), Scan::Incomplete);
        assert_eq!(value_end(br#""abc\"#, 0), Scan::Incomplete);
        assert!(matches!(value_end(b"x", 0), Scan::Invalid { .. }));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            value_end(deep.as_bytes(), 0),
            Scan::Invalid { .. }
        ));
    }

    #[test]
    fn a_line_break_inside_a_string_breaks_the_record_there() {
        // At every alignment within a block, and after a record that ends cleanly before it.
        for pad in 0..70 {
            let record = format!("{{\"eventName\":\"{}\nX\"}}", "a".repeat(pad));
            let Scan::Invalid { offset, reason } = line_record_fields(record.as_bytes(), 0) else {
                panic!("pad {pad}: accepted");
            };
            assert_eq!((offset, reason), (pad + 14, "a line break inside a string"));
            let two = format!("{{\"a\":\"{}\"}}\n{{\"b\":\"\n", "a".repeat(pad));
            assert!(
                matches!(line_record_fields(two.as_bytes(), 0), Scan::Complete((end, _)) if end == pad + 8),
                "pad {pad}"
            );
        }
        let between = b"{\"a\":\n\"b\"\n}";
        assert!(matches!(line_record_fields(between, 0), Scan::Complete(_)));
        // Delivery files have no line breaks: their scan does not look.
        let record = b"{\"eventName\":\"a\nb\"}";
        assert!(matches!(record_fields(record, 0), Scan::Complete(_)));
    }

    #[test]
    fn picks_key_fields() {
        let rec = br#"{"eventVersion":"1.08","userIdentity":{"eventName":"Nested"},"eventTime":"2021-07-29T13:02:53Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","requestParameters":null,"recipientAccountId":"111122223333"} "#;
        let Scan::Complete((end, spans)) = record_fields(rec, 0) else {
            panic!("incomplete");
        };
        let f = spans.resolve(rec);
        assert_eq!(end, rec.len() - 1);
        assert_eq!(f.event_name, Some(&b"DescribeInstances"[..]));
        assert_eq!(f.event_source, Some(&b"ec2.amazonaws.com"[..]));
        assert_eq!(f.event_time, Some(&b"2021-07-29T13:02:53Z"[..]));
        assert_eq!(f.recipient_account_id, Some(&b"111122223333"[..]));
        assert!(!f.needs_full_parse);
    }

    #[test]
    fn escaped_key_fields_ask_for_a_full_parse() {
        let rec = br#"{"eventName":"Describe\u0049nstances"}"#;
        let Scan::Complete((_, spans)) = record_fields(rec, 0) else {
            panic!("incomplete");
        };
        let f = spans.resolve(rec);
        assert!(f.needs_full_parse);
        assert_eq!(f.event_name, None);
    }

    #[test]
    fn truncated_records_are_incomplete() {
        let rec = br#"{"eventName":"ListUsers","x":{"y":[1,2"#;
        for cut in 1..rec.len() {
            assert_eq!(
                record_fields(&rec[..cut], 0),
                Scan::Incomplete,
                "cut at {cut}"
            );
        }
    }

    /// What `record_fields` must find in `record`, worked out by serde_json: the fields as
    /// slices of the record, and whether a wanted field asks for a full parse.
    fn expected(record: &[u8]) -> (Vec<Option<&[u8]>>, bool) {
        let value: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(record).unwrap_or_default();
        let mut full = false;
        let fields = WANTED
            .iter()
            .map(|name| {
                let key = std::str::from_utf8(&name[1..]).unwrap_or_default();
                match value.get(key) {
                    Some(serde_json::Value::String(s)) => {
                        let raw = format!("\"{key}\":\"{s}\"");
                        let spaced = format!("\"{key}\" : \"{s}\"");
                        let found = [raw, spaced].into_iter().find_map(|needle| {
                            memchr::memmem::find(record, needle.as_bytes())
                                .map(|at| at + needle.len() - 1 - s.len())
                        });
                        match found {
                            Some(at) => Some(&record[at..at + s.len()]),
                            None => {
                                // The raw text differs from the value: escapes.
                                full = true;
                                None
                            }
                        }
                    }
                    Some(serde_json::Value::Null) | None => None,
                    Some(_) => {
                        full = true;
                        None
                    }
                }
            })
            .collect();
        (fields, full)
    }

    fn fields_of<'a>(f: &KeyFields<'a>) -> Vec<Option<&'a [u8]>> {
        vec![
            f.event_name,
            f.event_source,
            f.event_time,
            f.event_type,
            f.recipient_account_id,
            f.source_ip_address,
        ]
    }

    #[test]
    fn agrees_with_serde_at_every_alignment() {
        let records = [
            r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","eventName":"Nested","arn":"arn:aws:iam::1:user/a"},"eventTime":"2021-07-29T13:02:53Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","sourceIPAddress":"192.0.2.1","requestParameters":{"filterSet":{"items":[{"name":"x","valueSet":{"items":[{"value":"}]{["}]}}]}},"readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#,
            "{\n  \"eventTime\" : \"2021-07-29T13:02:53Z\",\n  \"eventName\" : \"ListUsers\",\n  \"x\" : [ 1, 2, { \"eventSource\": \"no\" } ],\n  \"eventSource\" : \"iam.amazonaws.com\"\n}",
            r#"{"eventSource":"sts.amazonaws.com","note":"a \"eventName\":\"Fake\" inside","eventName":"GetCallerIdentity","k\"eventSource":"x"}"#,
            r#"{"eventName":"Describe\u0049nstances","eventSource":"ec2.amazonaws.com"}"#,
            r#"{"eventName":null,"eventSource":7,"errorCode":"A:B","colon:key":{"eventTime":1}}"#,
            r#"{"sourceIPAddress":"\\","recipientAccountId":"1\\\"2","eventType":"AwsApiCall"}"#,
            r#"{"a":"\\\\","eventName":"ListBuckets","b":[[[[{}]]]],"eventSource":"s3.amazonaws.com"}"#,
            r#"{}"#,
        ];
        for record in records {
            let (want, full) = expected(record.as_bytes());
            for pad in 0..2 * BLOCK {
                let mut buf = vec![b' '; pad];
                buf.extend_from_slice(record.as_bytes());
                buf.extend_from_slice(b" ,{\"after\":1}");
                let Scan::Complete((end, spans)) = record_fields(&buf, pad) else {
                    panic!("not complete at pad {pad}: {record}");
                };
                assert_eq!(end, pad + record.len(), "end at pad {pad}: {record}");
                let f = spans.shifted(pad).resolve(record.as_bytes());
                assert_eq!(fields_of(&f), want, "fields at pad {pad}: {record}");
                assert_eq!(
                    f.needs_full_parse, full,
                    "full parse at pad {pad}: {record}"
                );
            }
        }
    }

    #[test]
    fn brackets_must_match_at_any_depth() {
        for broken in [r#"{"a":[1,2}"#, r#"{"a":{"b":[}]}"#, r#"{"eventName":"X"]"#] {
            assert!(
                matches!(
                    record_fields(broken.as_bytes(), 0),
                    Scan::Invalid {
                        reason: "mismatched bracket",
                        ..
                    }
                ),
                "{broken}"
            );
        }
    }

    /// White space as JSON writers put it: none, a space, or a new line and an indent.
    fn ws(rng: &mut Rng) -> &'static str {
        ["", "", "", " ", "\n  ", "\t"][rng.below(6)]
    }

    /// A JSON string whose text may hold escapes, quotes, colons and brackets.
    fn string(rng: &mut Rng) -> String {
        let parts = [
            "a",
            "Describe",
            ":",
            "{",
            "}",
            "[",
            "]",
            ",",
            "\\\"",
            "\\\\",
            "\\u0041",
            "é",
            "\\n",
            "\"eventName\":",
            " ",
            "x",
        ];
        let len = rng.below(6);
        let mut out = String::from("\"");
        for _ in 0..len {
            // Raw quotes are not allowed inside a string: keep only the escaped forms.
            let part = rng.pick(&parts);
            out.push_str(if part.contains('"') && !part.starts_with('\\') {
                "q"
            } else {
                part
            });
        }
        out.push('"');
        out
    }

    /// A random JSON value nested at most `depth` levels.
    fn value(rng: &mut Rng, depth: usize) -> String {
        match rng.below(if depth == 0 { 4 } else { 6 }) {
            0 => string(rng),
            1 => rng
                .pick(&["0", "-12.5e3", "true", "false", "null", "1234567890"])
                .to_owned(),
            2 | 3 => string(rng),
            4 => {
                let items: Vec<String> = (0..rng.below(4)).map(|_| value(rng, depth - 1)).collect();
                let sep = format!("{},{}", ws(rng), ws(rng));
                format!("[{}{}{}]", ws(rng), items.join(&sep), ws(rng))
            }
            _ => object(rng, depth - 1, false),
        }
    }

    /// A random object; at the top level its keys are unique and include wanted ones.
    fn object(rng: &mut Rng, depth: usize, top: bool) -> String {
        let keys = [
            "eventName",
            "eventSource",
            "eventTime",
            "eventType",
            "recipientAccountId",
            "sourceIPAddress",
            "eventVersion",
            "userIdentity",
            "requestParameters",
            "readOnly",
            "errorCode",
            "eventIDs",
            "k\\\"eventName",
            "sourceIPAddresses",
            "xeventName",
        ];
        let mut used = Vec::new();
        let mut members = Vec::new();
        for _ in 0..rng.below(9) {
            let key = rng.pick(&keys);
            if top && used.contains(&key) {
                continue;
            }
            used.push(key);
            members.push(format!(
                "\"{key}\"{}:{}{}",
                ws(rng),
                ws(rng),
                value(rng, depth)
            ));
        }
        let sep = format!("{},{}", ws(rng), ws(rng));
        format!("{{{}{}{}}}", ws(rng), members.join(&sep), ws(rng))
    }

    /// The fields and full-parse flag serde_json sees in `record`, with exact positions.
    fn serde_view(record: &str) -> (Vec<Option<(usize, usize)>>, bool) {
        use serde_json::value::RawValue;
        let map: std::collections::HashMap<String, &RawValue> =
            serde_json::from_str(record).unwrap_or_default();
        let mut full = false;
        let spans = WANTED
            .iter()
            .map(|name| {
                let key = std::str::from_utf8(&name[1..]).unwrap_or_default();
                let raw = map.get(key)?.get();
                let at = raw.as_ptr() as usize - record.as_ptr() as usize;
                if raw == "null" {
                    None
                } else if raw.starts_with('"') && !raw.contains('\\') {
                    Some((at + 1, at + raw.len() - 1))
                } else {
                    full = true;
                    None
                }
            })
            .collect();
        (spans, full)
    }

    #[test]
    fn agrees_with_serde_on_random_records() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut checked = 0;
        for _ in 0..4_000 {
            let record = object(&mut rng, 3, true);
            if serde_json::from_str::<serde_json::Value>(&record).is_err() {
                continue;
            }
            checked += 1;
            let (want, full) = serde_view(&record);
            let pad = rng.below(2 * BLOCK);
            let mut buf = " ".repeat(pad).into_bytes();
            buf.extend_from_slice(record.as_bytes());
            buf.extend_from_slice(b",{}");
            let Scan::Complete((end, spans)) = record_fields(&buf, pad) else {
                panic!("not complete: {record}");
            };
            assert_eq!(end, pad + record.len(), "{record}");
            let spans = spans.shifted(pad);
            let got: Vec<Option<(usize, usize)>> = spans.spans.to_vec();
            assert_eq!(got, want, "{record}");
            assert_eq!(spans.needs_full_parse, full, "{record}");
            // Every cut before the end is incomplete, never a wrong answer.
            let cut = pad + rng.below(record.len());
            assert_eq!(
                record_fields(&buf[..cut], pad),
                Scan::Incomplete,
                "{record}"
            );
        }
        assert!(
            checked > 3_000,
            "only {checked} generated records were valid JSON"
        );
    }
}
