//! [`IpSet`]: one named list of IPv4/IPv6 addresses, CIDR blocks and ranges, each kept with the
//! text it was written as, and the parsing of single entries.

use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;

use super::index::{RangeIndex, Raw};
use super::{clip, reserved, IntelError, MAX_ENTRIES, MAX_ENTRY_LEN};

/// A parsed entry: an inclusive range in one address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Range {
    /// IPv4 `first..=last`.
    V4(u32, u32),
    /// IPv6 `first..=last`.
    V6(u128, u128),
}

impl Range {
    /// Parses `1.2.3.4`, `1.2.3.0/24`, `2001:db8::1` or `2001:db8::/32`. Host bits under the
    /// prefix are ignored (`192.0.2.7/24` is `192.0.2.0/24`); leading zeros in IPv4 octets are
    /// refused. The error is a reason for the load report.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| "not an IP address or CIDR".to_string())?;
        let range = match (ip, prefix) {
            (IpAddr::V4(a), None) => Range::V4(u32::from(a), u32::from(a)),
            (IpAddr::V6(a), None) => Range::V6(u128::from(a), u128::from(a)),
            (IpAddr::V4(a), Some(p)) => {
                let mask = u32::MAX.checked_shl(32 - parse_prefix(p, 32)?).unwrap_or(0);
                let first = u32::from(a) & mask;
                Range::V4(first, first | !mask)
            }
            (IpAddr::V6(a), Some(p)) => {
                let mask = u128::MAX
                    .checked_shl(128 - parse_prefix(p, 128)?)
                    .unwrap_or(0);
                let first = u128::from(a) & mask;
                Range::V6(first, first | !mask)
            }
        };
        Ok(range.canonical())
    }

    /// The range `first..=last`; both ends must be of one family, in order.
    pub fn from_addrs(first: IpAddr, last: IpAddr) -> Result<Self, String> {
        let range = match (first.to_canonical(), last.to_canonical()) {
            (IpAddr::V4(a), IpAddr::V4(b)) => Range::V4(u32::from(a), u32::from(b)),
            (IpAddr::V6(a), IpAddr::V6(b)) => Range::V6(u128::from(a), u128::from(b)),
            _ => return Err("range mixes IPv4 and IPv6".to_string()),
        };
        let ordered = match range {
            Range::V4(a, b) => a <= b,
            Range::V6(a, b) => a <= b,
        };
        if ordered {
            Ok(range.canonical())
        } else {
            Err(format!("range start {first} is after its end {last}"))
        }
    }

    /// True when any address of the range is private, loopback or otherwise reserved.
    pub fn is_reserved(self) -> bool {
        match self {
            Range::V4(a, b) => reserved::v4_overlaps(a, b),
            Range::V6(a, b) => reserved::v6_overlaps(a, b),
        }
    }

    /// Turns a range inside `::ffff:0:0/96` (IPv4-mapped) into the IPv4 range.
    fn canonical(self) -> Self {
        const MAPPED: u128 = 0xffff;
        match self {
            Range::V6(a, b) if a >> 32 == MAPPED && b >> 32 == MAPPED => {
                Range::V4(a as u32, b as u32)
            }
            other => other,
        }
    }
}

fn parse_prefix(p: &str, max: u32) -> Result<u32, String> {
    let bad = || format!("bad prefix length /{}", clip(p));
    if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match p.parse::<u32>() {
        Ok(len) if len <= max => Ok(len),
        _ => Err(bad()),
    }
}

/// True for text that is a domain name, a `*.` wildcard or an e-mail address rather than a
/// garbled IP: what entity lists hold. Such entries are counted, not reported as invalid.
pub(crate) fn looks_like_name(text: &str) -> bool {
    let host = text.rsplit_once('@').map_or(text, |(_, h)| h);
    let host = host.strip_prefix("*.").unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    let Some((_, tld)) = host.rsplit_once('.') else {
        return false;
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let tld_ok =
        tld.len() >= 2 && (tld.bytes().all(|b| b.is_ascii_alphabetic()) || tld.starts_with("xn--"));
    host.len() <= 253 && tld_ok && host.split('.').all(label_ok)
}

/// One named list: IPv4 and IPv6 addresses, CIDR blocks and inclusive ranges, each remembered
/// with the text it was written as.
///
/// Inserting is cheap; the lookup index is built on the first lookup (or [`IpSet::len`]) after
/// a change and then reused, so lookups never allocate. When entries overlap, a lookup reports
/// the most specific one (the narrowest range); among identical ranges, the first inserted.
/// Entries are stored exactly as given: filtering private space is the loaders' job (see
/// [`super::parse_list`]).
#[derive(Clone)]
pub struct IpSet {
    name: String,
    /// Every entry's text, concatenated; `spans` cuts it up.
    text: String,
    spans: Vec<(u32, u32)>,
    v4: Vec<Raw<u32>>,
    v6: Vec<Raw<u128>>,
    index: OnceLock<SetIndex>,
}

#[derive(Clone, Debug, Default)]
struct SetIndex {
    v4: RangeIndex<u32>,
    v6: RangeIndex<u128>,
    distinct: usize,
}

impl fmt::Debug for IpSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpSet")
            .field("name", &self.name)
            .field("ipv4_entries", &self.v4.len())
            .field("ipv6_entries", &self.v6.len())
            .finish()
    }
}

impl IpSet {
    /// An empty list called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        IpSet {
            name: name.into(),
            text: String::new(),
            spans: Vec::new(),
            v4: Vec::new(),
            v6: Vec::new(),
            index: OnceLock::new(),
        }
    }

    /// The list's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds `1.2.3.4`, `1.2.3.0/24`, `2001:db8::1` or `2001:db8::/32` (surrounding whitespace
    /// ignored), keeping the text for reports. Host bits below a prefix are ignored.
    pub fn insert(&mut self, entry: &str) -> Result<(), IntelError> {
        let text = entry.trim();
        let range = Range::parse(text).map_err(|reason| IntelError::InvalidEntry {
            text: clip(text),
            reason,
        })?;
        self.push(range, text)
    }

    /// Adds the inclusive range `first..=last` (STIX `InclusiveBetween`), reported as `entry`.
    pub fn insert_range(
        &mut self,
        first: IpAddr,
        last: IpAddr,
        entry: &str,
    ) -> Result<(), IntelError> {
        let range = Range::from_addrs(first, last).map_err(|reason| IntelError::InvalidEntry {
            text: clip(entry),
            reason,
        })?;
        self.push(range, entry.trim())
    }

    /// Number of distinct entries (an address listed twice counts once).
    pub fn len(&self) -> usize {
        self.index().distinct
    }

    /// True when the list holds no entry.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The entry holding `ip`, as written in the list; the most specific one when entries
    /// overlap. IPv4-mapped IPv6 addresses are looked up as IPv4.
    pub fn lookup(&self, ip: IpAddr) -> Option<&str> {
        let index = self.index();
        let id = match ip.to_canonical() {
            IpAddr::V4(a) => index.v4.find(u32::from(a)),
            IpAddr::V6(a) => index.v6.find(u128::from(a)),
        }?;
        self.entry(id)
    }

    /// True when some entry holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.lookup(ip).is_some()
    }

    /// Builds the lookup index now rather than on the first lookup.
    pub fn prepare(&self) {
        self.index();
    }

    /// Adds a parsed range with its text.
    pub(crate) fn push(&mut self, range: Range, text: &str) -> Result<(), IntelError> {
        let too_many = || IntelError::TooManyEntries {
            list: self.name.clone(),
            limit: MAX_ENTRIES,
            line: None,
        };
        if self.spans.len() >= MAX_ENTRIES {
            return Err(too_many());
        }
        if text.len() > MAX_ENTRY_LEN {
            let reason = format!("entry longer than {MAX_ENTRY_LEN} bytes");
            return Err(IntelError::InvalidEntry {
                text: clip(text),
                reason,
            });
        }
        let id = u32::try_from(self.spans.len()).map_err(|_| too_many())?;
        let start = u32::try_from(self.text.len()).map_err(|_| too_many())?;
        let end = u32::try_from(self.text.len() + text.len()).map_err(|_| too_many())?;
        self.text.push_str(text);
        self.spans.push((start, end));
        match range {
            Range::V4(first, last) => self.v4.push(Raw { first, last, id }),
            Range::V6(first, last) => self.v6.push(Raw { first, last, id }),
        }
        self.index.take();
        Ok(())
    }

    /// The text of entry `id` (ids count insertions, duplicates included).
    pub(crate) fn entry(&self, id: u32) -> Option<&str> {
        let &(start, end) = self.spans.get(id as usize)?;
        self.text.get(start as usize..end as usize)
    }

    /// How many entry ids exist (insertions, duplicates included).
    pub(crate) fn entry_slots(&self) -> usize {
        self.spans.len()
    }

    /// IPv4 entries as inserted.
    pub(crate) fn raw_v4(&self) -> &[Raw<u32>] {
        &self.v4
    }

    /// IPv6 entries as inserted.
    pub(crate) fn raw_v6(&self) -> &[Raw<u128>] {
        &self.v6
    }

    fn index(&self) -> &SetIndex {
        self.index.get_or_init(|| {
            let (v4, d4) = RangeIndex::build(self.v4.clone());
            let (v6, d6) = RangeIndex::build(self.v6.clone());
            SetIndex {
                v4,
                v6,
                distinct: d4 + d6,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn set(entries: &[&str]) -> IpSet {
        let mut s = IpSet::new("test");
        for e in entries {
            s.insert(e).expect("valid test entry");
        }
        s
    }

    #[test]
    fn exact_and_cidr_lookups() {
        let s = set(&["198.51.100.7", "203.0.113.0/24", " 192.0.2.128/25 "]);
        assert_eq!(s.name(), "test");
        assert_eq!(s.len(), 3);
        assert_eq!(s.lookup(ip("198.51.100.7")), Some("198.51.100.7"));
        assert_eq!(s.lookup(ip("198.51.100.6")), None);
        assert_eq!(s.lookup(ip("198.51.100.8")), None);
        assert_eq!(s.lookup(ip("203.0.113.0")), Some("203.0.113.0/24"));
        assert_eq!(s.lookup(ip("203.0.113.255")), Some("203.0.113.0/24"));
        assert_eq!(s.lookup(ip("203.0.114.0")), None);
        assert_eq!(s.lookup(ip("203.0.112.255")), None);
        assert_eq!(s.lookup(ip("192.0.2.127")), None);
        assert_eq!(s.lookup(ip("192.0.2.128")), Some("192.0.2.128/25"));
        assert_eq!(s.lookup(ip("::ffff:198.51.100.7")), Some("198.51.100.7"));
    }

    #[test]
    fn overlap_reports_the_most_specific_entry() {
        let s = set(&[
            "198.51.0.0/16",
            "198.51.100.0/24",
            "198.51.100.7",
            "198.51.100.0/24",
        ]);
        assert_eq!(s.len(), 3);
        assert_eq!(s.lookup(ip("198.51.100.7")), Some("198.51.100.7"));
        assert_eq!(s.lookup(ip("198.51.100.8")), Some("198.51.100.0/24"));
        assert_eq!(s.lookup(ip("198.51.101.1")), Some("198.51.0.0/16"));
        let wide_last = set(&["198.51.100.7", "198.51.0.0/16"]);
        assert_eq!(wide_last.lookup(ip("198.51.100.7")), Some("198.51.100.7"));
    }

    #[test]
    fn ipv6_entries_and_ranges() {
        let mut s = set(&["2001:db8::/32", "2001:db8:1::1", "0.0.0.0/0"]);
        s.insert_range(ip("192.0.2.10"), ip("192.0.2.20"), "192.0.2.10-192.0.2.20")
            .expect("valid range");
        assert_eq!(s.lookup(ip("2001:db8:1::1")), Some("2001:db8:1::1"));
        assert_eq!(s.lookup(ip("2001:db8:ffff::1")), Some("2001:db8::/32"));
        assert_eq!(s.lookup(ip("2001:db9::")), None);
        assert_eq!(s.lookup(ip("192.0.2.10")), Some("192.0.2.10-192.0.2.20"));
        assert_eq!(s.lookup(ip("192.0.2.21")), Some("0.0.0.0/0"));
        assert_eq!(s.lookup(ip("255.255.255.255")), Some("0.0.0.0/0"));
    }

    #[test]
    fn bad_entries_are_errors() {
        let mut s = IpSet::new("bad");
        for bad in [
            "08.1.250.216",
            "1.2.3.4/33",
            "1.2.3.4/",
            "1.2.3",
            "2001:db8::/129",
            "",
            "x",
        ] {
            assert!(
                matches!(s.insert(bad), Err(IntelError::InvalidEntry { .. })),
                "{bad:?} should be refused"
            );
        }
        let err = s
            .insert_range(ip("192.0.2.9"), ip("192.0.2.1"), "r")
            .expect_err("reversed");
        assert!(err.to_string().contains("after its end"), "{err}");
        assert!(s
            .insert_range(ip("192.0.2.1"), ip("2001:db8::"), "r")
            .is_err());
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
        assert_eq!(s.lookup(ip("192.0.2.1")), None);
    }

    #[test]
    fn host_bits_are_masked_and_text_kept() {
        let s = set(&["192.0.2.77/24"]);
        assert_eq!(s.lookup(ip("192.0.2.1")), Some("192.0.2.77/24"));
    }

    #[test]
    fn index_is_rebuilt_after_insert() {
        let mut s = set(&["192.0.2.1"]);
        assert_eq!(s.lookup(ip("192.0.2.2")), None);
        s.insert("192.0.2.2").expect("valid");
        assert_eq!(s.lookup(ip("192.0.2.2")), Some("192.0.2.2"));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn names_are_recognised() {
        for name in [
            "example.com",
            "*.example.org",
            "evil.xn--p1ai",
            "a@example.net",
            "x.y.co.",
        ] {
            assert!(looks_like_name(name), "{name}");
        }
        for not in [
            "08.1.250.216",
            "1.2.3.4a",
            "localhost",
            "a b.com",
            "1.2.3",
            "",
        ] {
            assert!(!looks_like_name(not), "{not}");
        }
    }
}
