//! The per-line scanner: finds where every column of a line starts and ends, then parses
//! values from those bytes, eight at a time with word-sized arithmetic (SWAR), without
//! allocating and without `unsafe`.
//!
//! Every byte up to 0x20 separates columns. Integers are plain decimal digits (at most 19, so
//! they fit a `u64` without overflow checks); IPv4 addresses are dotted quads with one to three
//! digits per octet and no leading zeros; anything else goes to `std`'s IPv6 parser. Invalid
//! input yields `None` or [`Invalid`]; nothing here panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::field::MAX_COLUMNS;
use crate::simd::{self, Classes, Scanner, BLOCK};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Most digits accepted in an integer column: every 19-digit number fits a `u64`.
const MAX_DIGITS: usize = 19;

/// Powers of ten up to 10^8, to append a run of up to eight digits.
const POW10: [u64; 9] = {
    let mut powers = [1u64; 9];
    let mut i = 1;
    while i < powers.len() {
        powers[i] = powers[i - 1] * 10;
        i += 1;
    }
    powers
};

/// Eight bytes from `at`, little-endian (first byte lowest), padded with spaces past the end.
#[inline(always)]
fn load(bytes: &[u8], at: usize) -> u64 {
    match bytes
        .get(at..at + 8)
        .and_then(|chunk| <[u8; 8]>::try_from(chunk).ok())
    {
        Some(word) => u64::from_le_bytes(word),
        None => load_tail(bytes, at),
    }
}

/// [`load`] near the end of the line.
#[cold]
#[inline(never)]
fn load_tail(bytes: &[u8], at: usize) -> u64 {
    let mut word = [b' '; 8];
    for (slot, byte) in word.iter_mut().zip(bytes.get(at..).unwrap_or_default()) {
        *slot = *byte;
    }
    u64::from_le_bytes(word)
}

/// One bit per byte of the 64 bytes from `base`: set for separators and for bytes past the end.
#[inline(always)]
fn separator_mask<C: Classes>(classes: C, bytes: &[u8], base: usize) -> u64 {
    let rest = bytes.get(base..).unwrap_or_default();
    match rest.first_chunk::<BLOCK>() {
        Some(block) => classes.separators(block),
        None => {
            let mut padded = [b' '; BLOCK];
            padded[..rest.len()].copy_from_slice(rest);
            classes.separators(&padded)
        }
    }
}

/// With `d = word - "00000000"`: a high bit on the first byte that is not an ASCII digit (bits
/// above it may be noise, so only the lowest set bit is meaningful).
#[inline(always)]
fn non_digit_bits(d: u64) -> u64 {
    (d | d.wrapping_add(0x76 * ONES)) & HIGH_BITS
}

/// The low `n` (0..=8) bytes of a word.
#[inline(always)]
fn low_bytes(n: usize) -> u64 {
    u64::MAX.checked_shr(64 - 8 * n as u32).unwrap_or(0)
}

/// The value of the `n` (0..=8) low bytes of `d` (digit values, first digit lowest).
#[inline(always)]
fn digits_value(d: u64, n: usize) -> u64 {
    // Shift the digits to the top so that the bytes below read as leading zeros, then combine
    // pairs, quads and the two halves with three multiplications.
    let v = d.checked_shl(8 * (8 - n as u32)).unwrap_or(0);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let pairs = 0x0000_00FF_0000_00FF;
    let hi = (v & pairs).wrapping_mul(100 + (1_000_000 << 32));
    let lo = ((v >> 16) & pairs).wrapping_mul(1 + (10_000 << 32));
    hi.wrapping_add(lo) >> 32
}

/// The `len` bytes from `at` as a decimal number of 1 to [`MAX_DIGITS`] digits.
#[inline(always)]
fn decimal(bytes: &[u8], at: usize, len: usize) -> Option<u64> {
    if len == 0 || len > MAX_DIGITS {
        return None;
    }
    // A short first run, then runs of eight.
    let mut n = len - 8 * ((len - 1) / 8);
    let (mut value, mut pos) = (0u64, at);
    while pos < at + len {
        let d = load(bytes, pos).wrapping_sub(0x30 * ONES);
        if non_digit_bits(d) & low_bytes(n) != 0 {
            return None;
        }
        value = value * POW10[n] + digits_value(d, n);
        pos += n;
        n = 8;
    }
    Some(value)
}

/// The `len` bytes from `at` as a dotted quad (one to three digits an octet, no leading zeros).
/// `None` for anything else (IPv6, `-`, junk), so the caller can look closer.
#[inline(always)]
fn ipv4(bytes: &[u8], at: usize, len: usize) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut pos = at;
    for (i, octet) in octets.iter_mut().enumerate() {
        let word = load(bytes, pos);
        let d = word.wrapping_sub(0x30 * ONES);
        let n = (non_digit_bits(d).trailing_zeros() / 8) as usize;
        let value = digits_value(d, n.min(3));
        let leading_zero = n > 1 && word & 0xFF == u64::from(b'0');
        if n == 0 || n > 3 || value > 255 || leading_zero {
            return None;
        }
        let next = (word >> (8 * n)) as u8;
        if i < 3 && next != b'.' {
            return None;
        }
        *octet = value as u8;
        pos += n + 1;
    }
    (pos - 1 == at + len).then(|| Ipv4Addr::from(octets))
}

/// A column that does not hold a valid value for its field.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Invalid;

/// Column boundaries recorded for one line: enough for [`MAX_COLUMNS`] columns and one more (to
/// tell that a line has too many), plus the most one 64-byte block can add (32).
const CAPACITY: usize = MAX_COLUMNS + 1 + 32;

/// Where the columns of a line start and end: scratch space, reused from line to line.
///
/// All boundaries are found first, from one separator bitmask per 64 bytes, so that parsing
/// the columns afterwards does not wait on finding each column's end before the next starts.
pub(crate) struct Bounds {
    starts: [u32; CAPACITY],
    ends: [u32; CAPACITY],
    count: usize,
}

impl Bounds {
    /// Empty scratch space.
    pub(crate) fn new() -> Self {
        Bounds {
            starts: [0; CAPACITY],
            ends: [0; CAPACITY],
            count: 0,
        }
    }

    /// Splits `text`, which must be at most [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES) long, far
    /// enough to see `wanted` columns and the one after them.
    #[inline(always)]
    pub(crate) fn split<'a>(&mut self, text: &'a str, wanted: usize) -> Columns<'a, '_> {
        simd::with_best(Split {
            bounds: self,
            bytes: text.as_bytes(),
            wanted,
        });
        Columns { text, bounds: self }
    }
}

/// [`Bounds::split`] as a [`Scanner`], to run with the best block classes.
struct Split<'b, 't> {
    bounds: &'b mut Bounds,
    bytes: &'t [u8],
    wanted: usize,
}

impl Scanner for Split<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run<C: Classes>(self, classes: C) {
        let Split {
            bounds,
            bytes,
            wanted,
        } = self;
        let (mut starts, mut ends) = (0usize, 0usize);
        // The byte before the line counts as a separator.
        let mut carry = 1u64;
        let mut base = 0usize;
        while base < bytes.len() && starts <= wanted {
            let seps = separator_mask(classes, bytes, base);
            let after_sep = (seps << 1) | carry;
            carry = seps >> 63;
            starts = record_bits(&mut bounds.starts, starts, !seps & after_sep, base);
            ends = record_bits(&mut bounds.ends, ends, seps & !after_sep, base);
            base += BLOCK;
        }
        if ends < starts {
            // The last column runs to a block edge (or past the columns wanted).
            if let Some(slot) = bounds.ends.get_mut(ends) {
                *slot = position(bytes.len());
            }
        }
        bounds.count = starts.min(CAPACITY);
    }
}

/// The columns of one line, as split by [`Bounds::split`].
pub(crate) struct Columns<'a, 's> {
    text: &'a str,
    bounds: &'s Bounds,
}

impl<'a> Columns<'a, '_> {
    /// The number of columns found (up to the one after those wanted).
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.bounds.count
    }

    #[inline(always)]
    fn bounds(&self, index: usize) -> (usize, usize) {
        let start = self.bounds.starts.get(index).copied().unwrap_or(0) as usize;
        let end = self.bounds.ends.get(index).copied().unwrap_or(0) as usize;
        (start, end.max(start))
    }

    /// Whether column `index` starts a `#` comment.
    #[inline(always)]
    pub(crate) fn is_comment(&self, index: usize) -> bool {
        let (start, _) = self.bounds(index);
        self.text.as_bytes().get(start) == Some(&b'#')
    }

    /// The text of column `index`.
    #[inline(always)]
    pub(crate) fn text(&self, index: usize) -> &'a str {
        let (start, end) = self.bounds(index);
        // Both ends are next to an ASCII byte or at the end of the text: char boundaries.
        self.text.get(start..end).unwrap_or_default()
    }

    /// Whether columns `a` and `b` hold the same bytes (false when either is out of range).
    #[inline(always)]
    pub(crate) fn same(&self, a: usize, b: usize) -> bool {
        let ((sa, ea), (sb, eb)) = (self.bounds(a), self.bounds(b));
        let len = ea - sa;
        if a >= self.len() || b >= self.len() || len != eb - sb {
            return false;
        }
        let bytes = self.text.as_bytes();
        match len {
            0..=8 => (load(bytes, sa) ^ load(bytes, sb)) & low_bytes(len) == 0,
            9..=16 => {
                load(bytes, sa) == load(bytes, sb) && {
                    let (ta, tb) = (sa + len - 8, sb + len - 8);
                    load(bytes, ta) == load(bytes, tb)
                }
            }
            _ => bytes.get(sa..ea) == bytes.get(sb..eb),
        }
    }

    /// Column `index` as an unsigned integer of at most `max`; `Ok(None)` for `-`.
    #[inline(always)]
    pub(crate) fn uint(&self, index: usize, max: u64) -> Result<Option<u64>, Invalid> {
        let (start, end) = self.bounds(index);
        match decimal(self.text.as_bytes(), start, end - start) {
            Some(value) if value <= max => Ok(Some(value)),
            _ => self.placeholder(index),
        }
    }

    /// Column `index` as an IP address; `Ok(None)` for `-`.
    #[inline(always)]
    pub(crate) fn ip(&self, index: usize) -> Result<Option<IpAddr>, Invalid> {
        let (start, end) = self.bounds(index);
        if let Some(v4) = ipv4(self.text.as_bytes(), start, end - start) {
            return Ok(Some(IpAddr::V4(v4)));
        }
        match self.text(index).parse::<Ipv6Addr>() {
            Ok(v6) => Ok(Some(IpAddr::V6(v6))),
            Err(_) => self.placeholder(index),
        }
    }

    /// Column `index`, which failed to parse as a value: `Ok(None)` if it is `-`.
    #[cold]
    fn placeholder<T>(&self, index: usize) -> Result<Option<T>, Invalid> {
        match self.text(index) {
            "-" => Ok(None),
            _ => Err(Invalid),
        }
    }
}

/// Appends `base +` the index of every set bit of `bits` to `slots` from `count` on; returns
/// the new count.
#[inline(always)]
fn record_bits(slots: &mut [u32; CAPACITY], mut count: usize, mut bits: u64, base: usize) -> usize {
    while bits != 0 {
        if let Some(slot) = slots.get_mut(count) {
            *slot = position(base + bits.trailing_zeros() as usize);
        }
        count += 1;
        bits &= bits - 1;
    }
    count
}

/// A byte offset within a line, which is at most [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES) long.
#[inline(always)]
fn position(offset: usize) -> u32 {
    u32::try_from(offset).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column of `line` up to a comment.
    fn columns(line: &str) -> Vec<&str> {
        let mut bounds = Bounds::new();
        let split = bounds.split(line, MAX_COLUMNS);
        (0..split.len())
            .take_while(|i| !split.is_comment(*i))
            .map(|i| split.text(i))
            .collect()
    }

    /// The first column of `text` as an integer; `Err` with the column's text when invalid.
    fn uint(text: &str, max: u64) -> Result<Option<u64>, &str> {
        let mut bounds = Bounds::new();
        let split = bounds.split(text, 1);
        split.uint(0, max).map_err(|Invalid| split.text(0))
    }

    /// The first column of `text` as an address; `Err` with the column's text when invalid.
    fn ip(text: &str) -> Result<Option<IpAddr>, &str> {
        let mut bounds = Bounds::new();
        let split = bounds.split(text, 1);
        split.ip(0).map_err(|Invalid| split.text(0))
    }

    #[test]
    fn splits_on_any_blank_run() {
        assert_eq!(columns("a b  c\t\td\r"), ["a", "b", "c", "d"]);
        assert_eq!(columns("   lead and trail   "), ["lead", "and", "trail"]);
        let long = "x".repeat(37);
        assert_eq!(
            columns(&format!("{long} {long}x y")),
            [&long, &format!("{long}x"), "y"]
        );
        assert_eq!(columns("a b #c d"), ["a", "b"]);
        assert_eq!(columns("é ü\u{a0}x"), ["é", "ü\u{a0}x"]);
        assert!(columns("").is_empty() && columns(" \t ").is_empty());
    }

    #[test]
    fn integers_match_std() {
        for n in (0..=70_000u64).chain([99_999_999, 100_000_000, 1_418_530_010, u64::MAX / 2]) {
            let text = n.to_string();
            let max = if n < 65_536 {
                u64::from(u16::MAX)
            } else {
                u64::MAX
            };
            let expected = (text.len() <= MAX_DIGITS && n <= max).then_some(n);
            assert_eq!(uint(&text, max).ok().flatten(), expected, "{text}");
            assert_eq!(
                uint(&format!("{text} 7"), max).ok().flatten(),
                expected,
                "{text}"
            );
        }
        assert_eq!(
            uint("9999999999999999999", u64::MAX),
            Ok(Some(9_999_999_999_999_999_999))
        );
        assert_eq!(
            uint("18446744073709551615", u64::MAX),
            Err("18446744073709551615")
        );
        assert_eq!(
            uint("0000000000000000000000001", u64::MAX),
            Err("0000000000000000000000001")
        );
        assert_eq!(uint("65536", 65_535), Err("65536"));
        assert_eq!(uint("007", 255), Ok(Some(7)));
        assert_eq!(uint("-", 255), Ok(None));
        for bad in ["-1", "+1", "1a", "1-", "--", "1.5", "１", "12345678x"] {
            assert_eq!(uint(bad, u64::MAX), Err(bad), "{bad}");
        }
    }

    #[test]
    fn ipv4_matches_std() {
        let mut rng = crate::testing::Rng(0x2545_F491_4F6C_DD1D);
        for _ in 0..50_000 {
            let octets = rng.next().to_le_bytes();
            let addr = Ipv4Addr::new(
                octets[0],
                octets[1],
                octets[2],
                octets[3] >> (octets[4] % 8),
            );
            let text = addr.to_string();
            assert_eq!(ip(&text), Ok(Some(IpAddr::V4(addr))), "{text}");
            assert_eq!(
                ip(&format!("{text} 1")),
                Ok(Some(IpAddr::V4(addr))),
                "{text}"
            );
        }
        for text in ["0.0.0.0", "255.255.255.255", "192.0.2.1", "10.0.0.220"] {
            assert_eq!(ip(text), Ok(text.parse().ok()), "{text}");
        }
    }

    #[test]
    fn ipv4_rejects() {
        let bad = [
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "01.2.3.4",
            "08.1.250.216",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "a.b.c.d",
            "1.2.3.4444",
            "1.2.3.4x",
            "1.2.3.4#",
            "1234.1.1.1",
            "1.2.3.4:80",
            "192.0.2.1/24",
        ];
        for text in bad {
            assert_eq!(ip(text), Err(text), "{text}");
        }
        assert_eq!(ip("-"), Ok(None));
    }

    #[test]
    fn ipv6_goes_to_std() {
        for text in [
            "2001:db8::1",
            "2001:db8:1234:a100:8d6e:3477:df66:f105",
            "::",
            "::ffff:1.2.3.4",
        ] {
            assert_eq!(ip(text), Ok(text.parse().ok()), "{text}");
        }
        assert_eq!(ip("2001:db8:::1"), Err("2001:db8:::1"));
    }

    #[test]
    fn columns_across_blocks() {
        // Columns ending exactly at, just before and just after 64-byte block edges.
        for width in [1, 7, 8, 31, 62, 63, 64, 65, 127, 128, 129] {
            let word = "y".repeat(width);
            let line = format!("{word} {word}  {word}\t{word}");
            assert_eq!(columns(&line), [&word; 4], "width {width}");
            let padded = format!("{}{word}", " ".repeat(64 - width % 64));
            assert_eq!(columns(&padded), [&word], "width {width}");
        }
        let many = vec!["1"; 300].join(" ");
        let mut bounds = Bounds::new();
        let some = bounds.split(&many, 20).len();
        assert!(some > 20 && some <= CAPACITY, "{some}");
        let all = bounds.split(&many, MAX_COLUMNS).len();
        assert!(all > MAX_COLUMNS && all <= CAPACITY, "{all}");
    }

    #[test]
    fn values_by_column() {
        let mut bounds = Bounds::new();
        let split = bounds.split("443 192.0.2.1 - x", 4);
        assert_eq!(split.len(), 4);
        assert_eq!(split.uint(0, 65_535), Ok(Some(443)));
        assert_eq!(split.ip(1), Ok(Some(IpAddr::from([192, 0, 2, 1]))));
        assert_eq!(split.uint(2, 9), Ok(None));
        assert_eq!(split.ip(2), Ok(None));
        assert_eq!(split.text(3), "x");
        assert_eq!(split.uint(3, 9), Err(Invalid));
        assert_eq!(split.text(9), "", "out of range");
    }

    #[test]
    fn same_compares_whole_columns() {
        // Lengths on both sides of the 8- and 16-byte word paths, differing at every position,
        // with the pair at the start, the middle and the end of the line.
        for len in 1..=40 {
            let a = "7".repeat(len);
            for at in 0..len {
                let mut b = a.clone().into_bytes();
                b[at] = b'8';
                let b = String::from_utf8(b).unwrap_or_default();
                let line = format!("{a} x {a} {b}");
                let mut bounds = Bounds::new();
                let split = bounds.split(&line, 4);
                assert!(split.same(0, 2), "{line}");
                assert!(split.same(2, 0), "{line}");
                assert!(!split.same(0, 3), "{line}");
                assert!(!split.same(3, 2), "{line}");
            }
        }
        let mut bounds = Bounds::new();
        let split = bounds.split("10.0.0.1 10.0.0.10 10.0.0.1", 3);
        assert!(!split.same(0, 1), "a prefix is not the same");
        assert!(split.same(0, 2));
        assert!(
            !split.same(0, 7) && !split.same(usize::MAX, 0),
            "out of range"
        );
    }
}
