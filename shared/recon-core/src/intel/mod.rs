//! Threat intelligence: Tor exit lists, managed and custom threat lists, and trusted lists, with
//! the readers for every list format GuardDuty accepts and the open feeds the project uses.
//!
//! What it guarantees:
//! - **Lookups are allocation-free and sub-microsecond** at GuardDuty's 250,000-entry limit and
//!   beyond. Each list and each list kind is compiled into sorted, disjoint ranges (IPv4 as
//!   `u32`, IPv6 as `u128`) with a top-16-bit bucket table, and [`ThreatIntel`] keeps one
//!   combined index per kind plus a one-bit-per-/24 filter, so the common miss costs one memory
//!   read whatever the number of lists.
//! - **The most specific entry wins** when entries overlap (a /32 over its /24), within a list
//!   and across the lists of a kind; lookups still say which list and which entry matched, as
//!   written in the file.
//! - **Trusted lists win** over every threat list, as in GuardDuty.
//! - **Private, loopback and reserved space is never matched**: such entries (and any CIDR that
//!   contains some, like `0.0.0.0/0` or `10.0.0.0/8`) are dropped at load time and counted.
//!   Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are
//!   deliberately allowed, because tests and samples use them. See [`is_reserved`].
//! - **Untrusted input is bounded**: files over [`MAX_LIST_BYTES`] and lists over
//!   [`MAX_ENTRIES`] entries are refused with a clear error; a bad line is reported with its
//!   line number and the rest of the file still loads. IPv4 octets with leading zeros
//!   (`08.1.250.216`) are refused, as the standard library does.

mod csv;
mod formats;
mod index;
mod ipset;
mod reserved;
mod stix;

use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use formats::{detect_format, parse_list, ListFormat, LoadReport, MAX_INVALID_REPORTED};
pub use ipset::IpSet;
pub use reserved::is_reserved;

use crate::finding::{IntelHit, ListKind};
use index::{RangeIndex, Raw, V4Filter};

/// The largest list file (or content) accepted, in bytes: 64 MiB.
pub const MAX_LIST_BYTES: usize = 64 * 1024 * 1024;

/// The most entries one list may hold: 1,000,000 (GuardDuty allows 250,000).
pub const MAX_ENTRIES: usize = 1_000_000;

/// The longest entry text kept, in bytes.
pub const MAX_ENTRY_LEN: usize = 256;

/// Why a list could not be read or an entry not added.
#[derive(thiserror::Error, Debug)]
pub enum IntelError {
    /// The file could not be opened or read.
    #[error("cannot read threat list {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error (in the message, not a `source()`, so that a printed chain says it
        /// once).
        error: std::io::Error,
    },
    /// The file is over [`MAX_LIST_BYTES`].
    #[error("threat list {} is {size} bytes, over the {limit}-byte limit", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (or the bytes read before giving up).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Content handed to [`parse_list`] is over [`MAX_LIST_BYTES`].
    #[error("threat list {list:?} is {size} bytes, over the {limit}-byte limit")]
    ListTooLarge {
        /// The list's name.
        list: String,
        /// The content's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The list would hold more than [`MAX_ENTRIES`] entries.
    #[error("threat list {list:?} has more than {limit} entries{}", at_line(*line))]
    TooManyEntries {
        /// The list's name.
        list: String,
        /// The limit.
        limit: usize,
        /// The line of the first entry over the limit, when read from a file.
        line: Option<usize>,
    },
    /// An entry is not an address, CIDR or range.
    #[error("invalid threat-list entry {text:?}: {reason}")]
    InvalidEntry {
        /// The entry as given (clipped to 80 characters).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A CSV list's header lacks the column holding the addresses.
    #[error("threat list {list:?} ({format}): the header on line {line} has no {column} column")]
    MissingColumn {
        /// The list's name.
        list: String,
        /// The format it was read as.
        format: ListFormat,
        /// The missing column.
        column: String,
        /// The header's line.
        line: usize,
    },
    /// Reading a list file failed.
    #[error("{}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What failed (in the message, as for [`IntelError::Io`]).
        error: Box<IntelError>,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|n| format!(" (line {n})")).unwrap_or_default()
}

/// Shortens text quoted in reasons and errors to 80 characters.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", text.get(..cut).unwrap_or_default())
}

/// A match: which kind of list, which list and which entry, borrowed from the lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntelRef<'a> {
    /// The kind of list.
    pub kind: ListKind,
    /// The list's name.
    pub list: &'a str,
    /// The entry that matched, as written in the list.
    pub entry: &'a str,
}

impl IntelRef<'_> {
    /// The owned form stored in findings.
    pub fn to_hit(&self) -> IntelHit {
        IntelHit {
            kind: self.kind,
            list: self.list.to_string(),
            entry: self.entry.to_string(),
        }
    }
}

/// What one address matched, per kind of threat list. All `None` for a trusted address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Matches<'a> {
    /// The Tor exit list entry, when the address is a Tor exit.
    pub tor: Option<IntelRef<'a>>,
    /// The most specific custom (user-uploaded) threat-list entry.
    pub custom: Option<IntelRef<'a>>,
    /// The most specific managed threat-list entry.
    pub managed: Option<IntelRef<'a>>,
}

impl Matches<'_> {
    /// True when nothing matched.
    pub fn is_empty(&self) -> bool {
        self.tor.is_none() && self.custom.is_none() && self.managed.is_none()
    }
}

/// An address in integer form, IPv4-mapped IPv6 folded into IPv4.
#[derive(Clone, Copy, Debug)]
enum Canon {
    V4(u32),
    V6(u128),
}

impl From<IpAddr> for Canon {
    #[inline]
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(a) => Canon::V4(u32::from(a)),
            IpAddr::V6(a) => Canon::V6(u128::from(a)),
        }
    }
}

/// The lists of one kind and their combined index. Entry ids are global: list `i` owns
/// `bases[i]..bases[i] + entry_slots`.
#[derive(Clone, Debug, Default)]
struct KindIndex {
    lists: Vec<IpSet>,
    bases: Vec<u32>,
    v4: RangeIndex<u32>,
    v6: RangeIndex<u128>,
}

impl KindIndex {
    /// Rebuilds the combined index; the most specific entry wins, then the earliest list.
    fn rebuild(&mut self, kind: ListKind) {
        self.drop_overflowing_lists(kind);
        let mut bases = Vec::with_capacity(self.lists.len());
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let mut base = 0u32;
        for list in &self.lists {
            bases.push(base);
            v4.extend(list.raw_v4().iter().map(|r| Raw {
                id: r.id + base,
                ..*r
            }));
            v6.extend(list.raw_v6().iter().map(|r| Raw {
                id: r.id + base,
                ..*r
            }));
            base += list.entry_slots() as u32;
        }
        self.bases = bases;
        self.v4 = RangeIndex::build(v4).0;
        self.v6 = RangeIndex::build(v6).0;
    }

    /// Keeps global ids within `u32`: only reachable with thousands of maximal lists.
    fn drop_overflowing_lists(&mut self, kind: ListKind) {
        let mut total = 0u64;
        let keep = self
            .lists
            .iter()
            .take_while(|l| {
                total += l.entry_slots() as u64;
                total <= u64::from(u32::MAX)
            })
            .count();
        if keep < self.lists.len() {
            let dropped: Vec<&str> = self.lists.iter().skip(keep).map(IpSet::name).collect();
            tracing::error!(
                ?kind,
                ?dropped,
                "too many threat-list entries in all; lists dropped"
            );
            self.lists.truncate(keep);
        }
    }

    #[inline]
    fn find(&self, kind: ListKind, ip: Canon) -> Option<IntelRef<'_>> {
        let id = match ip {
            Canon::V4(x) => self.v4.find(x),
            Canon::V6(x) => self.v6.find(x),
        }?;
        let i = self.bases.partition_point(|&b| b <= id).checked_sub(1)?;
        let list = self.lists.get(i)?;
        let entry = list.entry(id - self.bases.get(i)?)?;
        Some(IntelRef {
            kind,
            list: list.name(),
            entry,
        })
    }
}

/// Every list in force: Tor exits, managed and custom threat lists, and trusted lists.
/// `Default` holds none, so nothing matches.
#[derive(Clone, Debug, Default)]
pub struct ThreatIntel {
    tor: KindIndex,
    managed: KindIndex,
    custom: KindIndex,
    trusted: KindIndex,
    /// /24s touched by any Tor, managed or custom IPv4 entry.
    threat_v4: V4Filter,
}

impl ThreatIntel {
    /// Puts `set` in force as a list of `kind`, replacing a list of that kind with the same
    /// name. Rebuilds the kind's combined index (linear-logarithmic in its entries).
    pub fn add(&mut self, kind: ListKind, set: IpSet) {
        let lists = &mut self.kind_mut(kind).lists;
        match lists.iter_mut().find(|l| l.name() == set.name()) {
            Some(old) => *old = set,
            None => lists.push(set),
        }
        self.rebuild(kind);
    }

    /// Withdraws the list of `kind` called `name`; false when there was none.
    pub fn remove(&mut self, kind: ListKind, name: &str) -> bool {
        let lists = &mut self.kind_mut(kind).lists;
        let before = lists.len();
        lists.retain(|l| l.name() != name);
        let removed = lists.len() != before;
        if removed {
            self.rebuild(kind);
        }
        removed
    }

    /// Reads a list file (format detected from its content) and puts it in force as `kind`,
    /// named after the file stem. Logs one warning summarising skipped private and invalid
    /// entries, when there are any.
    pub fn load_file(&mut self, kind: ListKind, path: &Path) -> Result<LoadReport, IntelError> {
        let content = read_bounded(path)?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let (set, report) = parse_list(&name, &content, None).map_err(|e| IntelError::File {
            path: path.to_path_buf(),
            error: Box::new(e),
        })?;
        log_report(kind, path, &report);
        self.add(kind, set);
        Ok(report)
    }

    /// What `ip` matched in each kind of threat list: all `None` when it matched nothing or a
    /// trusted list holds it. Allocation-free; a miss usually costs one memory read.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> Matches<'_> {
        let ip = Canon::from(ip);
        if let Canon::V4(x) = ip {
            if !self.threat_v4.may_contain(x) {
                return Matches::default();
            }
        }
        let found = Matches {
            tor: self.tor.find(ListKind::Tor, ip),
            custom: self.custom.find(ListKind::Custom, ip),
            managed: self.managed.find(ListKind::Managed, ip),
        };
        if found.is_empty() || self.trusted.find(ListKind::Trusted, ip).is_some() {
            return Matches::default();
        }
        found
    }

    /// True when a trusted list holds `ip`.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted
            .find(ListKind::Trusted, Canon::from(ip))
            .is_some()
    }

    /// The trusted-list entry holding `ip`, if any.
    pub fn trusted_entry(&self, ip: IpAddr) -> Option<IntelRef<'_>> {
        self.trusted.find(ListKind::Trusted, Canon::from(ip))
    }

    /// How many lists of `kind` are in force.
    pub fn list_count(&self, kind: ListKind) -> usize {
        self.kind(kind).lists.len()
    }

    /// The lists of `kind`, in the order they were added.
    pub fn lists(&self, kind: ListKind) -> &[IpSet] {
        &self.kind(kind).lists
    }

    fn kind(&self, kind: ListKind) -> &KindIndex {
        match kind {
            ListKind::Tor => &self.tor,
            ListKind::Managed => &self.managed,
            ListKind::Custom => &self.custom,
            ListKind::Trusted => &self.trusted,
        }
    }

    fn kind_mut(&mut self, kind: ListKind) -> &mut KindIndex {
        match kind {
            ListKind::Tor => &mut self.tor,
            ListKind::Managed => &mut self.managed,
            ListKind::Custom => &mut self.custom,
            ListKind::Trusted => &mut self.trusted,
        }
    }

    fn rebuild(&mut self, kind: ListKind) {
        self.kind_mut(kind).rebuild(kind);
        if kind != ListKind::Trusted {
            self.threat_v4 = V4Filter::build([&self.tor.v4, &self.managed.v4, &self.custom.v4]);
        }
    }
}

/// Reads a file of at most [`MAX_LIST_BYTES`], checking the size before and while reading.
fn read_bounded(path: &Path) -> Result<Vec<u8>, IntelError> {
    let io = |error| IntelError::Io {
        path: path.to_path_buf(),
        error,
    };
    let too_large = |size| IntelError::FileTooLarge {
        path: path.to_path_buf(),
        size,
        limit: MAX_LIST_BYTES as u64,
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_LIST_BYTES as u64 {
        return Err(too_large(size));
    }
    let mut content = Vec::with_capacity(size as usize);
    file.take(MAX_LIST_BYTES as u64 + 1)
        .read_to_end(&mut content)
        .map_err(io)?;
    if content.len() > MAX_LIST_BYTES {
        return Err(too_large(content.len() as u64));
    }
    Ok(content)
}

fn log_report(kind: ListKind, path: &Path, report: &LoadReport) {
    if report.skipped_private == 0 && report.invalid_total == 0 {
        tracing::debug!(?kind, path = %path.display(), format = %report.format,
            entries = report.entries, "threat list loaded");
        return;
    }
    let first_invalid = report
        .invalid
        .first()
        .map(|(n, reason)| format!("line {n}: {reason}"));
    tracing::warn!(
        ?kind,
        path = %path.display(),
        format = %report.format,
        entries = report.entries,
        skipped_private = report.skipped_private,
        skipped_non_ip = report.skipped_non_ip,
        invalid = report.invalid_total,
        first_invalid = first_invalid.as_deref().unwrap_or("none"),
        "threat list loaded with entries skipped"
    );
}

#[cfg(test)]
mod tests {
    use std::hint::black_box;
    use std::time::Instant;

    use super::*;
    use crate::corpus_support::corpus;
    use crate::testing::Rng;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn set(name: &str, entries: &[&str]) -> IpSet {
        let mut s = IpSet::new(name);
        for e in entries {
            s.insert(e).expect("valid test entry");
        }
        s
    }

    fn intel() -> ThreatIntel {
        let mut t = ThreatIntel::default();
        t.add(
            ListKind::Tor,
            set("tor", &["198.51.100.66", "2001:db8:7::1"]),
        );
        t.add(
            ListKind::Managed,
            set("feed-a", &["198.51.100.0/24", "203.0.113.0/24"]),
        );
        t.add(
            ListKind::Managed,
            set("feed-b", &["198.51.100.66", "203.0.113.0/24"]),
        );
        t.add(
            ListKind::Custom,
            set("mine", &["198.51.100.0/25", "2001:db8::/32"]),
        );
        t.add(ListKind::Trusted, set("office", &["203.0.113.128/25"]));
        t
    }

    fn entry<'a>(r: Option<IntelRef<'a>>) -> Option<(&'a str, &'a str)> {
        r.map(|r| (r.list, r.entry))
    }

    #[test]
    fn matches_per_kind_with_list_and_entry() {
        let t = intel();
        let m = t.lookup(ip("198.51.100.66"));
        assert_eq!(entry(m.tor), Some(("tor", "198.51.100.66")));
        assert_eq!(entry(m.custom), Some(("mine", "198.51.100.0/25")));
        assert_eq!(entry(m.managed), Some(("feed-b", "198.51.100.66")));
        assert_eq!(m.tor.map(|r| r.kind), Some(ListKind::Tor));
        let m = t.lookup(ip("198.51.100.200"));
        assert_eq!((m.tor, m.custom), (None, None));
        assert_eq!(entry(m.managed), Some(("feed-a", "198.51.100.0/24")));
        // Same entry in two lists: the first list added wins.
        assert_eq!(
            entry(t.lookup(ip("203.0.113.5")).managed),
            Some(("feed-a", "203.0.113.0/24"))
        );
        let m = t.lookup(ip("2001:db8:7::1"));
        assert_eq!(entry(m.tor), Some(("tor", "2001:db8:7::1")));
        assert_eq!(entry(m.custom), Some(("mine", "2001:db8::/32")));
        assert!(t.lookup(ip("192.0.2.1")).is_empty());
        assert!(t.lookup(ip("2001:db9::1")).is_empty());
        assert!(t.lookup(ip("10.0.0.1")).is_empty());
    }

    #[test]
    fn trusted_wins_over_every_threat_list() {
        let mut t = intel();
        assert!(t.is_trusted(ip("203.0.113.200")));
        assert!(t.lookup(ip("203.0.113.200")).is_empty());
        assert!(!t.lookup(ip("203.0.113.127")).is_empty());
        t.add(
            ListKind::Trusted,
            set("vpn", &["198.51.100.66", "2001:db8:7::/48"]),
        );
        assert!(t.lookup(ip("198.51.100.66")).is_empty());
        assert!(t.lookup(ip("2001:db8:7::1")).is_empty());
        assert_eq!(
            entry(t.trusted_entry(ip("198.51.100.66"))),
            Some(("vpn", "198.51.100.66"))
        );
        assert!(!t.is_trusted(ip("198.51.100.67")));
    }

    #[test]
    fn counts_replacement_and_removal() {
        let mut t = intel();
        assert_eq!(t.list_count(ListKind::Managed), 2);
        assert_eq!(t.list_count(ListKind::Trusted), 1);
        t.add(ListKind::Managed, set("feed-a", &["192.0.2.1"]));
        assert_eq!(t.list_count(ListKind::Managed), 2);
        assert_eq!(
            entry(t.lookup(ip("192.0.2.1")).managed),
            Some(("feed-a", "192.0.2.1"))
        );
        assert!(t.remove(ListKind::Managed, "feed-a"));
        assert!(!t.remove(ListKind::Managed, "feed-a"));
        assert!(t.lookup(ip("192.0.2.1")).is_empty());
        assert_eq!(t.lists(ListKind::Managed).len(), 1);
        assert!(ThreatIntel::default()
            .lookup(ip("198.51.100.66"))
            .is_empty());
        let empty_first = {
            let mut t = ThreatIntel::default();
            t.add(ListKind::Custom, IpSet::new("empty"));
            t.add(ListKind::Custom, set("full", &["192.0.2.9"]));
            t
        };
        assert_eq!(
            entry(empty_first.lookup(ip("192.0.2.9")).custom),
            Some(("full", "192.0.2.9"))
        );
    }

    #[test]
    fn to_hit_owns_the_match() {
        let t = intel();
        let hit = t
            .lookup(ip("198.51.100.66"))
            .tor
            .expect("tor match")
            .to_hit();
        assert_eq!(
            hit,
            IntelHit {
                kind: ListKind::Tor,
                list: "tor".into(),
                entry: "198.51.100.66".into()
            }
        );
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ThreatIntel>();
        assert!(format!("{t:?}").len() < 2000, "Debug stays a summary");
    }

    fn temp_file(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("recon-intel-{}-{name}", std::process::id()))
    }

    #[test]
    fn load_file_names_the_list_after_its_stem() {
        let path = temp_file("bad-actors.txt");
        std::fs::write(&path, "# test\n198.51.100.1\n10.0.0.0/8\nnot-an-ip\n").expect("write");
        let mut t = ThreatIntel::default();
        let report = t.load_file(ListKind::Custom, &path).expect("loads");
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(
            (report.entries, report.skipped_private, report.invalid_total),
            (1, 1, 1)
        );
        let name = path.file_stem().and_then(|s| s.to_str()).expect("stem");
        assert_eq!(
            entry(t.lookup(ip("198.51.100.1")).custom),
            Some((name, "198.51.100.1"))
        );
        let missing = t.load_file(ListKind::Custom, &temp_file("missing.txt"));
        assert!(matches!(missing, Err(IntelError::Io { .. })), "{missing:?}");
    }

    #[test]
    fn oversized_files_are_refused_before_reading() {
        let path = temp_file("huge.txt");
        let file = File::create(&path).expect("create");
        file.set_len(MAX_LIST_BYTES as u64 + 1)
            .expect("sparse file");
        let err = ThreatIntel::default()
            .load_file(ListKind::Managed, &path)
            .expect_err("refused");
        std::fs::remove_file(&path).expect("remove");
        assert!(matches!(err, IntelError::FileTooLarge { .. }), "{err}");
        assert!(err.to_string().contains("limit"), "{err}");
    }

    #[test]
    fn lists_over_the_entry_limit_are_refused() {
        let content = "198.51.100.1\n".repeat(MAX_ENTRIES + 1);
        let err = parse_list("big", content.as_bytes(), None).expect_err("refused");
        match err {
            IntelError::TooManyEntries { line, limit, .. } => {
                assert_eq!((line, limit), (Some(MAX_ENTRIES + 1), MAX_ENTRIES));
            }
            other => panic!("unexpected {other}"),
        }
    }

    fn load(path: &Path) -> (IpSet, LoadReport) {
        let content = std::fs::read(path).expect("corpus file");
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("list");
        parse_list(name, &content, None).expect("corpus list loads")
    }

    #[test]
    fn real_firehol_lists_load() {
        let Some(root) = corpus("real_firehol_lists_load") else {
            return;
        };
        let firehol = root.join("threat-lists/firehol_via_o4isec");
        let (set, r) = load(&firehol.join("firehol_level1.netset"));
        assert_eq!(r.format, ListFormat::FireHol);
        assert!(r.invalid.is_empty(), "{:?}", r.invalid);
        assert!(r.skipped_private >= 8, "{r:?}");
        assert_eq!(r.entries + r.skipped_private, 2744, "{r:?}");
        for private in [
            "10.1.2.3",
            "192.168.0.1",
            "0.0.0.1",
            "172.16.5.5",
            "224.0.0.5",
        ] {
            assert_eq!(set.lookup(ip(private)), None, "{private}");
        }
        let (set, r) = load(&firehol.join("feodo.ipset"));
        assert_eq!((r.format, r.entries), (ListFormat::FireHol, 0));
        assert!(set.is_empty() && r.invalid.is_empty(), "{r:?}");
    }

    #[test]
    fn real_threat_lists_load() {
        let Some(root) = corpus("real_threat_lists_load") else {
            return;
        };
        let lists = root.join("threat-lists");
        let (_, r) = load(&lists.join("stamparm_ipsum/ipsum.txt"));
        assert_eq!(r.format, ListFormat::Ipsum);
        assert!(r.invalid.is_empty(), "{:?}", r.invalid.first());
        assert!((119_000..=120_430).contains(&r.entries), "{r:?}");
        let (_, r) = load(&lists.join("alienvault-reputation-format_prathamesh1/reputation.data"));
        assert_eq!(r.format, ListFormat::AlienVault);
        assert!(r.entries > 50_000 && r.invalid.is_empty(), "{r:?}");
        let examples = lists.join("guardduty-format-examples");
        let (set, r) = load(&examples.join("STIX_python-stix/sample.xml"));
        assert_eq!(
            (r.format, r.entries, r.skipped_private),
            (ListFormat::Stix, 0, 3)
        );
        assert!(set.is_empty() && r.invalid.is_empty(), "{r:?}");
        let (set, r) = load(&examples.join("TXT_awsdocs/guardduty_upload-lists_sample.txt"));
        assert_eq!((r.format, r.entries), (ListFormat::Txt, 2));
        assert_eq!(set.lookup(ip("205.1.2.3")), Some("205.0.0.0/8"));
    }

    #[test]
    fn real_tor_lists_agree() {
        let Some(root) = corpus("real_tor_lists_agree") else {
            return;
        };
        let dir = root.join("tor/javascripterzzeerrr_ipinfo-parser");
        let (bulk, rb) = load(&dir.join("torbulkexitlist"));
        let (exits, re) = load(&dir.join("exit-addresses"));
        assert_eq!(re.format, ListFormat::TorExitAddresses);
        assert!(
            rb.invalid.is_empty() && re.invalid.is_empty(),
            "{rb:?} {re:?}"
        );
        assert_eq!((bulk.len(), exits.len()), (1174, 1174));
        let content = std::fs::read_to_string(dir.join("torbulkexitlist")).expect("bulk list");
        for line in content.lines().filter(|l| !l.trim().is_empty()) {
            assert_eq!(exits.lookup(ip(line.trim())), Some(line.trim()), "{line}");
        }
        let mut t = ThreatIntel::default();
        let report = t
            .load_file(ListKind::Tor, &dir.join("exit-addresses"))
            .expect("loads");
        assert_eq!(report.entries, 1174);
        let m = t.lookup(ip("185.241.208.232"));
        assert_eq!(entry(m.tor), Some(("exit-addresses", "185.241.208.232")));
    }

    /// A random public IPv4 address.
    fn public_v4(rng: &mut Rng) -> u32 {
        loop {
            let x = rng.next() as u32;
            if !reserved::v4_overlaps(x, x) {
                return x;
            }
        }
    }

    fn ns_per_lookup(ips: &[IpAddr], mut f: impl FnMut(IpAddr) -> bool) -> (f64, usize) {
        let start = Instant::now();
        let hits = ips.iter().filter(|&&ip| f(black_box(ip))).count();
        (start.elapsed().as_nanos() as f64 / ips.len() as f64, hits)
    }

    fn v4(x: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(x))
    }

    /// 250,000 random public entries, 90% single addresses and 10% /20–/28 blocks, with the
    /// address each entry was made from.
    fn bench_set(rng: &mut Rng) -> (IpSet, Vec<IpAddr>) {
        let mut managed = IpSet::new("bench");
        let mut listed = Vec::new();
        for i in 0..250_000u32 {
            let x = public_v4(rng);
            let entry = match i % 10 {
                0 => format!("{}/{}", v4(x), 20 + rng.next() % 9),
                _ => v4(x).to_string(),
            };
            managed.insert(&entry).expect("valid");
            listed.push(v4(x));
        }
        (managed, listed)
    }

    /// Managed = `managed`, plus a 1,200-address Tor list, a custom and a trusted list.
    fn bench_intel(rng: &mut Rng, managed: &IpSet) -> ThreatIntel {
        let tor: Vec<String> = (0..1200).map(|_| v4(public_v4(rng)).to_string()).collect();
        let tor: Vec<&str> = tor.iter().map(String::as_str).collect();
        let mut t = ThreatIntel::default();
        t.add(ListKind::Tor, set("tor", &tor));
        t.add(
            ListKind::Custom,
            set("custom", &["198.51.100.0/24", "203.0.113.7"]),
        );
        t.add(ListKind::Trusted, set("trusted", &["192.0.2.0/24"]));
        let build = Instant::now();
        t.add(ListKind::Managed, managed.clone());
        eprintln!(
            "250k entries: combined index built in {:?}",
            build.elapsed()
        );
        t
    }

    /// Lookup cost over 250,000 random entries, for random addresses (nearly all misses, as in
    /// a flow-log scan) and for listed ones (all hits). Run with
    /// `cargo test --release -- --ignored --nocapture lookup_benchmark`.
    #[test]
    #[ignore = "benchmark: run in release mode with --ignored --nocapture"]
    fn lookup_benchmark() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (managed, listed) = bench_set(&mut rng);
        let t = bench_intel(&mut rng, &managed);
        managed.prepare();
        let random: Vec<IpAddr> = (0..2_000_000).map(|_| v4(public_v4(&mut rng))).collect();
        let hits: Vec<IpAddr> = (0..2_000_000).map(|i| listed[i % listed.len()]).collect();
        let (set_miss, n1) = ns_per_lookup(&random, |ip| managed.lookup(ip).is_some());
        let (set_hit, n2) = ns_per_lookup(&hits, |ip| managed.lookup(ip).is_some());
        let (ti_miss, n3) = ns_per_lookup(&random, |ip| !t.lookup(ip).is_empty());
        let (ti_hit, n4) = ns_per_lookup(&hits, |ip| !t.lookup(ip).is_empty());
        eprintln!("IpSet::lookup:       random {set_miss:.1} ns/lookup ({n1} hits)");
        eprintln!("IpSet::lookup:       listed {set_hit:.1} ns/lookup ({n2} hits)");
        eprintln!("ThreatIntel::lookup: random {ti_miss:.1} ns/lookup ({n3} hits)");
        eprintln!("ThreatIntel::lookup: listed {ti_hit:.1} ns/lookup ({n4} hits)");
        assert_eq!((n2, n4), (hits.len(), hits.len()));
    }
}
