//! Byte-level JSON structure scanning: finds where a value ends and picks the few top-level
//! fields of a CloudTrail record that decide whether it needs a full parse.
//!
//! This is the hot path of a CloudTrail scan. It does not validate JSON: it tracks strings,
//! escapes and bracket nesting (mismatched brackets are reported), which is enough to cut a stream
//! into records. Records that matter are then parsed fully by serde, which validates them.

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
    pub fn shifted(mut self, offset: usize) -> Self {
        for (a, b) in self.spans.iter_mut().flatten() {
            *a -= offset;
            *b -= offset;
        }
        self
    }

    /// The fields as slices of `buf`, the buffer that was scanned.
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
pub fn record_fields(buf: &[u8], start: usize) -> Scan<(usize, KeySpans)> {
    let mut spans = KeySpans::default();
    let mut i = skip_ws(buf, start + 1);
    if buf.get(i) == Some(&b'}') {
        return Scan::Complete((i + 1, spans));
    }
    loop {
        let Some(&b) = buf.get(i) else {
            return Scan::Incomplete;
        };
        if b != b'"' {
            return Scan::Invalid {
                offset: i,
                reason: "expected an object key",
            };
        }
        let Some(key_end) = string_end(buf, i + 1) else {
            return Scan::Incomplete;
        };
        let slot = slot_for(&buf[i + 1..key_end - 1]);
        i = skip_ws(buf, key_end);
        match buf.get(i) {
            Some(b':') => {}
            Some(_) => {
                return Scan::Invalid {
                    offset: i,
                    reason: "expected ':'",
                }
            }
            None => return Scan::Incomplete,
        }
        i = skip_ws(buf, i + 1);
        let end = match value_end(buf, i) {
            Scan::Complete(end) => end,
            Scan::Incomplete => return Scan::Incomplete,
            Scan::Invalid { offset, reason } => return Scan::Invalid { offset, reason },
        };
        if let Some(slot) = slot {
            let value = &buf[i..end];
            if plain_string(value) {
                spans.spans[slot] = Some((i + 1, end - 1));
            } else if value != b"null" {
                spans.needs_full_parse = true;
            }
        }
        i = skip_ws(buf, end);
        match buf.get(i) {
            Some(b',') => i = skip_ws(buf, i + 1),
            Some(b'}') => return Scan::Complete((i + 1, spans)),
            Some(_) => {
                return Scan::Invalid {
                    offset: i,
                    reason: "expected ',' or '}'",
                }
            }
            None => return Scan::Incomplete,
        }
    }
}

fn slot_for(key: &[u8]) -> Option<usize> {
    match key {
        b"eventName" => Some(0),
        b"eventSource" => Some(1),
        b"eventTime" => Some(2),
        b"eventType" => Some(3),
        b"recipientAccountId" => Some(4),
        b"sourceIPAddress" => Some(5),
        _ => None,
    }
}

/// True for a JSON string value without escapes.
fn plain_string(value: &[u8]) -> bool {
    value.len() >= 2
        && value[0] == b'"'
        && value[value.len() - 1] == b'"'
        && !value.contains(&b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
