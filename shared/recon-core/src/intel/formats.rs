//! Threat-list file formats: recognising them from their content and reading them into an
//! [`IpSet`] with a [`LoadReport`] of what was skipped and why.
//!
//! Every reader is line-tolerant: a bad line is reported with its 1-based number and the rest of
//! the file still loads. Only an oversized file, a list over
//! [`MAX_ENTRIES`](super::MAX_ENTRIES) entries, or a CSV without the columns its format needs
//! fail the whole load.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ipset::{looks_like_name, IpSet, Range};
use super::{clip, csv, stix, IntelError, MAX_LIST_BYTES};

/// How many bytes [`detect_format`] looks at.
const DETECT_BYTES: usize = 64 * 1024;

/// How many invalid lines a [`LoadReport`] lists one by one.
pub const MAX_INVALID_REPORTED: usize = 1000;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A threat-list file format: GuardDuty's six (`TXT`, `STIX`, `OTX_CSV`, `FIRE_EYE`,
/// `PROOF_POINT`, `ALIEN_VAULT`) plus the open feeds the project ships readers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ListFormat {
    /// One IP or CIDR per line; `#` comments and blank lines allowed.
    #[serde(rename = "TXT")]
    Txt,
    /// STIX 1.x XML: `AddressObject:Address_Value` elements, `##comma##` lists and
    /// `condition="InclusiveBetween"` ranges.
    #[serde(rename = "STIX")]
    Stix,
    /// CSV with the header `Indicator type, Indicator, Description`.
    #[serde(rename = "OTX_CSV")]
    OtxCsv,
    /// FireEye iSIGHT 47-column CSV; the address is in the `cidr` or `ip` column.
    #[serde(rename = "FIRE_EYE")]
    FireEye,
    /// CSV with the header `ip, category, score, first_seen, last_seen, ports`.
    #[serde(rename = "PROOF_POINT")]
    ProofPoint,
    /// AlienVault reputation: `ip#reliability#risk#type#cc#city#lat,lon#code`.
    #[serde(rename = "ALIEN_VAULT")]
    AlienVault,
    /// FireHOL netset/ipset: a `#` header block, then IPs and CIDRs.
    #[serde(rename = "FIREHOL")]
    FireHol,
    /// stamparm ipsum: `IP<TAB>count` lines under a `#` header.
    #[serde(rename = "IPSUM")]
    Ipsum,
    /// The Tor Project's bulk exit list: one IP per line.
    #[serde(rename = "TOR_BULK")]
    TorBulk,
    /// TorDNSEL `exit-addresses`: `ExitNode`/`Published`/`LastStatus`/`ExitAddress` blocks.
    #[serde(rename = "TOR_EXIT_ADDRESSES")]
    TorExitAddresses,
}

impl ListFormat {
    /// Every format.
    pub const ALL: [ListFormat; 10] = [
        ListFormat::Txt,
        ListFormat::Stix,
        ListFormat::OtxCsv,
        ListFormat::FireEye,
        ListFormat::ProofPoint,
        ListFormat::AlienVault,
        ListFormat::FireHol,
        ListFormat::Ipsum,
        ListFormat::TorBulk,
        ListFormat::TorExitAddresses,
    ];

    /// The name GuardDuty's API uses (`OTX_CSV`, …); the project's own for the extra formats.
    pub fn name(self) -> &'static str {
        match self {
            ListFormat::Txt => "TXT",
            ListFormat::Stix => "STIX",
            ListFormat::OtxCsv => "OTX_CSV",
            ListFormat::FireEye => "FIRE_EYE",
            ListFormat::ProofPoint => "PROOF_POINT",
            ListFormat::AlienVault => "ALIEN_VAULT",
            ListFormat::FireHol => "FIREHOL",
            ListFormat::Ipsum => "IPSUM",
            ListFormat::TorBulk => "TOR_BULK",
            ListFormat::TorExitAddresses => "TOR_EXIT_ADDRESSES",
        }
    }

    /// Parses a name as [`ListFormat::name`] prints it, ignoring case.
    pub fn from_name(name: &str) -> Option<Self> {
        ListFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for ListFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What loading one list did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadReport {
    /// The format the list was read as.
    pub format: ListFormat,
    /// Distinct entries loaded.
    pub entries: usize,
    /// Entries dropped because they touch private, loopback or reserved space.
    pub skipped_private: usize,
    /// Domain names and other non-IP indicators (entity-list rows), skipped without complaint.
    pub skipped_non_ip: usize,
    /// Bad lines as `(1-based line number, reason)`; at most [`MAX_INVALID_REPORTED`] of them.
    pub invalid: Vec<(usize, String)>,
    /// Bad lines in all, including those beyond [`MAX_INVALID_REPORTED`].
    pub invalid_total: usize,
}

/// Recognises a list's format from its first 64 KiB (never from its file name).
///
/// XML is STIX; a `#` header naming ipsum, FireHOL or Tor exits picks that feed; otherwise the
/// first data line decides: `ExitNode`/`ExitAddress` lines, the OTX, ProofPoint or iSIGHT CSV
/// headers, `ip#…` AlienVault rows or `ip<TAB>count` ipsum rows. Anything else is TXT, which is
/// also what a bare Tor bulk exit list (no header) is detected as; both read the same way.
pub fn detect_format(content: &[u8]) -> ListFormat {
    let head = content.get(..DETECT_BYTES).unwrap_or(content);
    let head = head.strip_prefix(BOM).unwrap_or(head);
    if head.trim_ascii_start().first() == Some(&b'<') {
        return ListFormat::Stix;
    }
    for (_, raw) in lines(head) {
        let Ok(line) = std::str::from_utf8(raw) else {
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.strip_prefix('#') {
            Some(comment) => {
                if let Some(format) = comment_format(comment) {
                    return format;
                }
            }
            None => return data_format(line),
        }
    }
    ListFormat::Txt
}

/// The feed a header comment names, if any.
fn comment_format(comment: &str) -> Option<ListFormat> {
    let c = comment.to_ascii_lowercase();
    if c.contains("ipsum") {
        Some(ListFormat::Ipsum)
    } else if c.contains("firehol") || c.contains("hash:net") || c.contains("hash:ip") {
        Some(ListFormat::FireHol)
    } else if c.contains("tor exit") || c.contains("torbulkexitlist") {
        Some(ListFormat::TorBulk)
    } else {
        None
    }
}

/// The format the first data line implies.
fn data_format(line: &str) -> ListFormat {
    if line.starts_with("ExitNode ") || line.starts_with("ExitAddress ") {
        return ListFormat::TorExitAddresses;
    }
    let header = csv::normalize_line(line);
    if header.starts_with("indicatortype,indicator") {
        return ListFormat::OtxCsv;
    }
    if header.starts_with("ip,category,score") || header.starts_with("domain,category,score") {
        return ListFormat::ProofPoint;
    }
    if header.contains("reportid") && (header.contains("threatscape") || header.contains("cidr")) {
        return ListFormat::FireEye;
    }
    if let Some((ip, rest)) = line.split_once('#') {
        if Range::parse(ip.trim()).is_ok() && rest.matches('#').count() >= 5 {
            return ListFormat::AlienVault;
        }
    }
    if let Some((ip, count)) = line.split_once('\t') {
        let count = count.trim();
        let numeric = !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit());
        if numeric && Range::parse(ip.trim()).is_ok() {
            return ListFormat::Ipsum;
        }
    }
    ListFormat::Txt
}

/// Reads a list. `format: None` detects it with [`detect_format`].
///
/// Entries touching private, loopback or reserved space (see [`super::is_reserved`]) are
/// dropped and counted, a CIDR containing such space as a whole (`0.0.0.0/0`, `10.0.0.0/8`);
/// documentation ranges are kept. Domain and other non-IP indicators are counted and skipped.
/// Fails only for content over [`MAX_LIST_BYTES`], more than
/// [`MAX_ENTRIES`](super::MAX_ENTRIES) entries, or a CSV format whose header lacks the address
/// column.
pub fn parse_list(
    name: &str,
    content: &[u8],
    format: Option<ListFormat>,
) -> Result<(IpSet, LoadReport), IntelError> {
    if content.len() > MAX_LIST_BYTES {
        return Err(IntelError::ListTooLarge {
            list: name.to_string(),
            size: content.len(),
            limit: MAX_LIST_BYTES,
        });
    }
    let format = format.unwrap_or_else(|| detect_format(content));
    let content = content.strip_prefix(BOM).unwrap_or(content);
    let mut loader = Loader::new(name, format);
    match format {
        ListFormat::Txt | ListFormat::FireHol | ListFormat::TorBulk => {
            read_plain(&mut loader, content, false)?
        }
        ListFormat::Ipsum => read_plain(&mut loader, content, true)?,
        ListFormat::TorExitAddresses => read_exit_addresses(&mut loader, content)?,
        ListFormat::AlienVault => read_alienvault(&mut loader, content)?,
        ListFormat::Stix => stix::read(&mut loader, content)?,
        ListFormat::OtxCsv => csv::read_otx(&mut loader, content)?,
        ListFormat::FireEye => csv::read_fireeye(&mut loader, content)?,
        ListFormat::ProofPoint => csv::read_proofpoint(&mut loader, content)?,
    }
    Ok(loader.finish())
}

/// Splits content into `(1-based number, line)` without line endings.
pub(crate) fn lines(content: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    content
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
}

/// Calls `f` with every non-blank, non-`#` line, trimmed; reports lines that are not UTF-8.
pub(crate) fn for_each_line(
    loader: &mut Loader,
    content: &[u8],
    mut f: impl FnMut(&mut Loader, usize, &str) -> Result<(), IntelError>,
) -> Result<(), IntelError> {
    for (n, raw) in lines(content) {
        let Ok(line) = std::str::from_utf8(raw) else {
            loader.invalid(n, "line is not valid UTF-8");
            continue;
        };
        let line = line.trim();
        if !line.is_empty() && !line.starts_with('#') {
            f(loader, n, line)?;
        }
    }
    Ok(())
}

/// TXT, FireHOL, Tor bulk and ipsum: one entry per line, optionally followed by a `#` comment,
/// or a `;` one as Spamhaus writes its DROP lists (and, for ipsum, by a count column).
fn read_plain(loader: &mut Loader, content: &[u8], ipsum: bool) -> Result<(), IntelError> {
    for_each_line(loader, content, |l, n, line| {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut parts = line.split_whitespace();
        let Some(entry) = parts.next() else {
            return Ok(());
        };
        if !ipsum && parts.next().is_some() {
            l.invalid(
                n,
                format!("unexpected text after the entry: {:?}", clip(line)),
            );
            return Ok(());
        }
        l.entry(n, entry)
    })
}

/// TorDNSEL `exit-addresses`: the address of every `ExitAddress <ip> <date> <time>` line.
fn read_exit_addresses(loader: &mut Loader, content: &[u8]) -> Result<(), IntelError> {
    for_each_line(loader, content, |l, n, line| {
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("ExitAddress") => match parts.next() {
                Some(ip) => l.entry(n, ip),
                None => {
                    l.invalid(n, "ExitAddress line without an address");
                    Ok(())
                }
            },
            Some("ExitNode" | "Published" | "LastStatus") => Ok(()),
            _ => {
                l.invalid(
                    n,
                    format!("unexpected exit-addresses line: {:?}", clip(line)),
                );
                Ok(())
            }
        }
    })
}

/// AlienVault reputation: the address is the first `#`-separated field.
fn read_alienvault(loader: &mut Loader, content: &[u8]) -> Result<(), IntelError> {
    for_each_line(loader, content, |l, n, line| {
        let ip = line.split_once('#').map_or(line, |(ip, _)| ip);
        l.entry(n, ip)
    })
}

/// Collects entries into a set and tallies the report.
pub(crate) struct Loader {
    set: IpSet,
    report: LoadReport,
}

impl Loader {
    fn new(name: &str, format: ListFormat) -> Self {
        let report = LoadReport {
            format,
            entries: 0,
            skipped_private: 0,
            skipped_non_ip: 0,
            invalid: Vec::new(),
            invalid_total: 0,
        };
        Loader {
            set: IpSet::new(name),
            report,
        }
    }

    /// The list's name.
    pub fn name(&self) -> &str {
        self.set.name()
    }

    /// The format being read.
    pub fn format(&self) -> ListFormat {
        self.report.format
    }

    /// Adds an address or CIDR written as `text` on line `n`: loaded, skipped as private or
    /// non-IP, or reported invalid. Errors only when the list is full.
    pub fn entry(&mut self, n: usize, text: &str) -> Result<(), IntelError> {
        let text = text.trim();
        if text.is_empty() {
            self.invalid(n, "empty entry");
            return Ok(());
        }
        match Range::parse(text) {
            Ok(range) => self.add(n, range, text),
            Err(_) if looks_like_name(text) => {
                self.non_ip();
                Ok(())
            }
            Err(reason) => {
                self.invalid(n, format!("{reason}: {:?}", clip(text)));
                Ok(())
            }
        }
    }

    /// Adds a parsed range written as `text` on line `n`, unless it touches reserved space.
    pub fn add(&mut self, n: usize, range: Range, text: &str) -> Result<(), IntelError> {
        if range.is_reserved() {
            self.report.skipped_private += 1;
            return Ok(());
        }
        match self.set.push(range, text) {
            Ok(()) => Ok(()),
            Err(IntelError::TooManyEntries { list, limit, .. }) => {
                Err(IntelError::TooManyEntries {
                    list,
                    limit,
                    line: Some(n),
                })
            }
            Err(other) => {
                self.invalid(n, other.to_string());
                Ok(())
            }
        }
    }

    /// Records a bad line.
    pub fn invalid(&mut self, n: usize, reason: impl Into<String>) {
        self.report.invalid_total += 1;
        if self.report.invalid.len() < MAX_INVALID_REPORTED {
            self.report.invalid.push((n, reason.into()));
        }
    }

    /// Counts a domain or other non-IP indicator.
    pub fn non_ip(&mut self) {
        self.report.skipped_non_ip += 1;
    }

    fn finish(mut self) -> (IpSet, LoadReport) {
        self.report.entries = self.set.len();
        (self.set, self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXT: &str = "# my list\n\n198.51.100.1\n192.0.2.0/24\r\n  203.0.113.9  # note\n";
    const FIREHOL: &str = "#\n# firehol_level1\n#\n# ipv4 hash:net ipset\n#\n0.0.0.0/8\n\
                           10.0.0.0/8\n192.0.2.0/24\n198.51.100.0/22\n224.0.0.0/3\n";
    const IPSUM: &str = "# IPsum Threat Intelligence Feed\n#\n# IP\tnumber of (black)lists\n#\n\
                         198.51.100.20\t10\n203.0.113.5\t3\n";
    const TOR_BULK: &str = "# This is a list of all Tor exit nodes that can reach 1.1.1.1\n\
                            198.51.100.66\n203.0.113.77\n";
    const EXIT: &str = "ExitNode 0011223344556677889900112233445566778899\n\
                        Published 2024-03-11 13:07:19\nLastStatus 2024-03-12 08:00:00\n\
                        ExitAddress 198.51.100.66 2024-03-12 08:10:51\n\
                        ExitNode FFEEDDCCBBAA99887766554433221100FFEEDDCC\n\
                        Published 2024-03-12 02:29:55\nLastStatus 2024-03-12 13:00:00\n\
                        ExitAddress 203.0.113.77 2024-03-12 13:03:14\n\
                        ExitAddress 198.51.100.66 2024-03-12 14:03:14\n";
    const ALIEN: &str = "198.51.100.1#4#2#Malicious Host#US##0.0,0.0#3\n\
                         203.0.113.4#3#2#Scanning Host;Malicious Host#NL#Amsterdam#52.3,4.9#11;3\n\
                         10.1.1.1#3#2#Scanning Host#US##0.0,0.0#11\n";

    fn load(content: &str) -> (IpSet, LoadReport) {
        parse_list("t", content.as_bytes(), None).expect("loads")
    }

    fn hit(set: &IpSet, ip: &str) -> Option<String> {
        set.lookup(ip.parse().expect("test address"))
            .map(str::to_string)
    }

    #[test]
    fn txt_with_comments_and_crlf() {
        let (set, report) = load(TXT);
        assert_eq!(report.format, ListFormat::Txt);
        assert_eq!(report.entries, 3);
        assert!(report.invalid.is_empty(), "{:?}", report.invalid);
        assert_eq!(hit(&set, "192.0.2.200").as_deref(), Some("192.0.2.0/24"));
        assert_eq!(hit(&set, "203.0.113.9").as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn semicolon_comments_as_in_spamhaus_drop() {
        let drop = "; Spamhaus DROP List 2026/11/30 - (c) 2026 The Spamhaus Project\n\
                    ; Last-Modified: Mon, 30 Nov 2026 06:00:00 GMT\n\
                    198.51.100.0/24 ; SBL123456\n\
                    203.0.113.0/25;SBL654321\n";
        let (set, report) = load(drop);
        assert_eq!(report.entries, 2);
        assert!(report.invalid.is_empty(), "{:?}", report.invalid);
        assert_eq!(
            hit(&set, "198.51.100.9").as_deref(),
            Some("198.51.100.0/24")
        );
        assert_eq!(hit(&set, "203.0.113.9").as_deref(), Some("203.0.113.0/25"));
    }

    #[test]
    fn guardduty_entity_list_domains_are_counted() {
        let (set, report) = load("192.0.2.1\nexample.com\n*.example.org\n");
        assert_eq!((report.entries, report.skipped_non_ip), (1, 2));
        assert!(report.invalid.is_empty());
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn firehol_skips_private_and_reserved_blocks() {
        let (set, report) = load(FIREHOL);
        assert_eq!(report.format, ListFormat::FireHol);
        assert_eq!((report.entries, report.skipped_private), (2, 3));
        assert_eq!(
            hit(&set, "198.51.101.3").as_deref(),
            Some("198.51.100.0/22")
        );
        assert_eq!(hit(&set, "10.0.0.1"), None);
    }

    #[test]
    fn ipsum_takes_the_first_column() {
        let (set, report) = load(IPSUM);
        assert_eq!(report.format, ListFormat::Ipsum);
        assert_eq!(report.entries, 2);
        assert!(report.invalid.is_empty(), "{:?}", report.invalid);
        assert_eq!(hit(&set, "198.51.100.20").as_deref(), Some("198.51.100.20"));
    }

    #[test]
    fn both_tor_formats_give_the_same_addresses() {
        let (bulk, rb) = load(TOR_BULK);
        let (exit, re) = load(EXIT);
        assert_eq!(
            (rb.format, re.format),
            (ListFormat::TorBulk, ListFormat::TorExitAddresses)
        );
        assert_eq!((bulk.len(), exit.len()), (2, 2));
        assert!(re.invalid.is_empty(), "{:?}", re.invalid);
        for ip in ["198.51.100.66", "203.0.113.77"] {
            assert_eq!(hit(&bulk, ip), hit(&exit, ip));
            assert!(hit(&exit, ip).is_some());
        }
        let (_, bare) = load("198.51.100.66\n203.0.113.77\n");
        assert_eq!(bare.format, ListFormat::Txt);
        let forced = parse_list("t", b"198.51.100.66\n", Some(ListFormat::TorBulk)).expect("loads");
        assert_eq!(
            (forced.1.format, forced.1.entries),
            (ListFormat::TorBulk, 1)
        );
    }

    #[test]
    fn alienvault_reputation_rows() {
        let (set, report) = load(ALIEN);
        assert_eq!(report.format, ListFormat::AlienVault);
        assert_eq!((report.entries, report.skipped_private), (2, 1));
        assert_eq!(hit(&set, "203.0.113.4").as_deref(), Some("203.0.113.4"));
    }

    #[test]
    fn invalid_lines_are_reported_and_the_rest_loads() {
        let content = "198.51.100.1\n08.1.250.216\n192.0.2.0/33\n198.51.100.2 extra\n203.0.113.1\n";
        let (set, report) = load(content);
        assert_eq!(set.len(), 2, "{report:?}");
        let lines: Vec<usize> = report.invalid.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(
            report.invalid[0].1.contains("08.1.250.216"),
            "{:?}",
            report.invalid
        );
        let bytes = b"198.51.100.1\n\xff\xfe\n203.0.113.1\n";
        let (set, report) = parse_list("t", bytes, None).expect("loads");
        assert_eq!((set.len(), report.invalid_total), (2, 1));
        assert_eq!(report.invalid[0].0, 2);
    }

    #[test]
    fn reported_invalid_lines_are_bounded() {
        let content = "bad line\n".repeat(MAX_INVALID_REPORTED + 5);
        let (_, report) = load(&content);
        assert_eq!(report.invalid.len(), MAX_INVALID_REPORTED);
        assert_eq!(report.invalid_total, MAX_INVALID_REPORTED + 5);
    }

    #[test]
    fn oversized_content_is_refused() {
        let big = vec![b'\n'; MAX_LIST_BYTES + 1];
        let err = parse_list("big", &big, None).expect_err("too large");
        assert!(matches!(err, IntelError::ListTooLarge { .. }), "{err}");
    }

    #[test]
    fn detection_of_line_formats() {
        assert_eq!(detect_format(TXT.as_bytes()), ListFormat::Txt);
        assert_eq!(detect_format(b""), ListFormat::Txt);
        assert_eq!(detect_format(FIREHOL.as_bytes()), ListFormat::FireHol);
        assert_eq!(detect_format(IPSUM.as_bytes()), ListFormat::Ipsum);
        assert_eq!(detect_format(b"198.51.100.1\t4\n"), ListFormat::Ipsum);
        assert_eq!(detect_format(TOR_BULK.as_bytes()), ListFormat::TorBulk);
        assert_eq!(detect_format(EXIT.as_bytes()), ListFormat::TorExitAddresses);
        assert_eq!(detect_format(ALIEN.as_bytes()), ListFormat::AlienVault);
        assert_eq!(
            detect_format(b"\xEF\xBB\xBF  <?xml version=\"1.0\"?>"),
            ListFormat::Stix
        );
    }

    #[test]
    fn format_names_round_trip() {
        for f in ListFormat::ALL {
            assert_eq!(ListFormat::from_name(f.name()), Some(f));
            let json = serde_json::to_string(&f).expect("serialises");
            assert_eq!(json, format!("\"{}\"", f.name()));
        }
        assert_eq!(ListFormat::from_name("otx_csv"), Some(ListFormat::OtxCsv));
        assert_eq!(ListFormat::from_name("nope"), None);
    }
}
