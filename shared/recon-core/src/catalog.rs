//! Which CloudTrail API calls are reconnaissance, and for which finding.
//!
//! GuardDuty never published the API lists behind `Recon:IAMUser/NetworkPermissions`,
//! `ResourcePermissions` and `UserPermissions`, nor the exact set of "APIs that list or describe
//! resources" behind `TorIPCaller` and `MaliciousIPCaller`. Ours is one documented Markdown table,
//! `api-categories.md` at the crate root, embedded at build time and parsed once on first use
//! ([`Catalog::builtin`]). The file explains the categories and how to propose a change.
//!
//! Guarantees:
//! - [`Catalog::category`] is allocation-free and does at most two hash lookups plus a scan of
//!   one service's prefix patterns: it is meant to run for every CloudTrail record.
//! - Version suffixes some services log (`ListFunctions20150331`, `GetFunction20150331v2`,
//!   `ListDistributions2020_05_31`) are stripped before lookup ([`strip_version_suffix`]).
//! - Resolution is deterministic: a service's exact row, else its longest matching pattern, else
//!   the same two steps over the `*` (every service) rows; a `none` row ends the search.
//! - A table that does not parse is rejected as a whole, with the offending line named
//!   ([`CatalogError`]); a test proves the builtin table parses. Should it ever fail anyway,
//!   [`Catalog::builtin`] logs the error and returns an empty catalog (nothing is discovery)
//!   instead of panicking, and [`Catalog::try_builtin`] lets a caller refuse to start.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::fasthash::FastState;
use crate::finding::FindingType;

/// The builtin table, as embedded from `api-categories.md`.
pub const BUILTIN_MARKDOWN: &str = include_str!("../api-categories.md");

/// What a reconnaissance call discovers. Serialized in lowercase, as the table spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Network access: security groups, ACLs, routes, VPCs, subnets, gateways, load balancers.
    Network,
    /// Resources and their permissions: instances, snapshots, buckets and their policies, ….
    Resource,
    /// Users, groups, roles, policies and credentials.
    User,
    /// A list/describe call that is reconnaissance (it counts for the IPCaller findings) but
    /// belongs to none of the three permission categories.
    Discovery,
}

impl Category {
    /// Every category, in table order.
    pub const ALL: [Category; 4] = [
        Category::Network,
        Category::Resource,
        Category::User,
        Category::Discovery,
    ];

    /// The permission finding a principal's first call in this category raises; `None` for
    /// [`Category::Discovery`].
    pub fn finding_type(self) -> Option<FindingType> {
        match self {
            Category::Network => Some(FindingType::NetworkPermissions),
            Category::Resource => Some(FindingType::ResourcePermissions),
            Category::User => Some(FindingType::UserPermissions),
            Category::Discovery => None,
        }
    }

    /// The name used in the table: `network`, `resource`, `user` or `discovery`.
    pub fn name(self) -> &'static str {
        match self {
            Category::Network => "network",
            Category::Resource => "resource",
            Category::User => "user",
            Category::Discovery => "discovery",
        }
    }

    /// Parses a name as [`Category::name`] prints it (ASCII case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        Category::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
    }

    /// True for the three categories that have a permission finding.
    pub fn is_permission(self) -> bool {
        self.finding_type().is_some()
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The `eventSource` it applies to, or `*` for every service.
    pub service: String,
    /// The exact `eventName`, or a prefix pattern ending in `*`, as written.
    pub api: String,
    /// The category; `None` for a `none` row (an explicit "not discovery").
    pub category: Option<Category>,
    /// The 1-based line of the Markdown source the row is on.
    pub line: usize,
}

impl Rule {
    /// True when [`Rule::api`] is a prefix pattern.
    pub fn is_pattern(&self) -> bool {
        self.api.ends_with('*')
    }

    /// True for a `*` (every service) row.
    pub fn is_fallback(&self) -> bool {
        self.service == FALLBACK_SERVICE
    }
}

/// Why a table was rejected. Every variant tied to a row names its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// No `| service | api | category |` table in the source.
    #[error("no `| service | api | category |` table found")]
    NoTable,
    /// The header is not followed by a `|---|---|---|` separator row.
    #[error("line {line}: expected a separator row like `|---|---|---|` after the header")]
    MissingSeparator {
        /// The line where the separator should be.
        line: usize,
    },
    /// The table has a header but no rows.
    #[error("line {line}: the catalog table has no rows")]
    EmptyTable {
        /// The header's line.
        line: usize,
    },
    /// A row without exactly three cells.
    #[error("line {line}: expected 3 cells (service | api | category), found {found}")]
    CellCount {
        /// The row's line.
        line: usize,
        /// How many cells it has.
        found: usize,
    },
    /// The service cell is not an `eventSource` or `*`.
    #[error("line {line}: invalid service `{value}`: {reason}")]
    InvalidService {
        /// The row's line.
        line: usize,
        /// The cell as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The api cell is not an event name or a prefix pattern.
    #[error("line {line}: invalid api `{value}`: {reason}")]
    InvalidApi {
        /// The row's line.
        line: usize,
        /// The cell as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The category cell is not one of the five words.
    #[error(
        "line {line}: unknown category `{value}` (expected network, resource, user, discovery \
         or none)"
    )]
    UnknownCategory {
        /// The row's line.
        line: usize,
        /// The cell as written.
        value: String,
    },
    /// A second row for the same (service, api).
    #[error("line {line}: duplicate row for {service} {api} (first on line {first})")]
    Duplicate {
        /// The duplicate's line.
        line: usize,
        /// The line of the first row.
        first: usize,
        /// The service.
        service: String,
        /// The api.
        api: String,
    },
    /// A second catalog table.
    #[error(
        "line {line}: a second `| service | api | category |` table (the first is on line {first})"
    )]
    SecondTable {
        /// The second header's line.
        line: usize,
        /// The first header's line.
        first: usize,
    },
    /// A catalog row after the table ended, e.g. split off by a blank line.
    #[error(
        "line {line}: catalog row outside the table (the table ended on line {table_end}); \
         remove what splits the table"
    )]
    RowOutsideTable {
        /// The stray row's line.
        line: usize,
        /// The last line of the table.
        table_end: usize,
    },
}

impl CatalogError {
    /// The 1-based line the error is about, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            CatalogError::NoTable => None,
            CatalogError::MissingSeparator { line }
            | CatalogError::EmptyTable { line }
            | CatalogError::CellCount { line, .. }
            | CatalogError::InvalidService { line, .. }
            | CatalogError::InvalidApi { line, .. }
            | CatalogError::UnknownCategory { line, .. }
            | CatalogError::Duplicate { line, .. }
            | CatalogError::SecondTable { line, .. }
            | CatalogError::RowOutsideTable { line, .. } => Some(*line),
        }
    }
}

/// The service name of the rows that apply to every service.
const FALLBACK_SERVICE: &str = "*";

/// The rows of one service, indexed for lookup.
#[derive(Clone, Debug, Default)]
struct ServiceRules {
    /// Exact event name → index into [`Catalog::rules`].
    exact: HashMap<String, usize, FastState>,
    /// (prefix without `*`, rule index), longest prefix first.
    patterns: Vec<(String, usize)>,
}

impl ServiceRules {
    fn find(&self, name: &str) -> Option<usize> {
        if let Some(&i) = self.exact.get(name) {
            return Some(i);
        }
        self.patterns
            .iter()
            .find(|(prefix, _)| name.starts_with(prefix.as_str()))
            .map(|&(_, i)| i)
    }
}

/// A parsed API category table.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    rules: Vec<Rule>,
    services: HashMap<String, ServiceRules, FastState>,
    fallback: ServiceRules,
}

static BUILTIN: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();
static EMPTY: OnceLock<Catalog> = OnceLock::new();

impl Catalog {
    /// The builtin table ([`BUILTIN_MARKDOWN`]), parsed on first use.
    ///
    /// If it does not parse (a test prevents that from shipping), the error is logged once and
    /// an empty catalog is returned: no call is discovery, so no Recon finding comes from
    /// CloudTrail. Use [`Catalog::try_builtin`] to fail instead.
    pub fn builtin() -> &'static Catalog {
        match Catalog::try_builtin() {
            Ok(catalog) => catalog,
            Err(e) => EMPTY.get_or_init(|| {
                tracing::error!(
                    error = %e,
                    "builtin api-categories.md does not parse; using an empty catalog"
                );
                Catalog::default()
            }),
        }
    }

    /// The builtin table, or the error that keeps it from parsing.
    pub fn try_builtin() -> Result<&'static Catalog, &'static CatalogError> {
        BUILTIN
            .get_or_init(|| Catalog::parse(BUILTIN_MARKDOWN))
            .as_ref()
    }

    /// Parses a Markdown document holding one `| service | api | category |` table (see
    /// `api-categories.md` for the format). Other tables and all prose are ignored.
    pub fn parse(markdown: &str) -> Result<Catalog, CatalogError> {
        enum State {
            Before,
            Separator { header: usize },
            Rows { header: usize },
            After { header: usize, table_end: usize },
        }

        let mut state = State::Before;
        let mut rules: Vec<Rule> = Vec::new();
        let mut seen: HashMap<(String, String), usize> = HashMap::new();

        for (idx, raw) in markdown.lines().enumerate() {
            let line = idx + 1;
            let text = raw.trim();
            let is_row = text.starts_with('|');
            state = match state {
                State::Before => {
                    if is_row && is_header(&split_cells(text)) {
                        State::Separator { header: line }
                    } else {
                        State::Before
                    }
                }
                State::Separator { header } => {
                    if is_row && is_separator(&split_cells(text)) {
                        State::Rows { header }
                    } else {
                        return Err(CatalogError::MissingSeparator { line });
                    }
                }
                State::Rows { header } => {
                    if is_row {
                        let rule = parse_row(&split_cells(text), line)?;
                        let key = (rule.service.clone(), rule.api.clone());
                        if let Some(&first) = seen.get(&key) {
                            return Err(CatalogError::Duplicate {
                                line,
                                first,
                                service: rule.service,
                                api: rule.api,
                            });
                        }
                        seen.insert(key, line);
                        rules.push(rule);
                        State::Rows { header }
                    } else {
                        State::After {
                            header,
                            table_end: line - 1,
                        }
                    }
                }
                State::After { header, table_end } => {
                    if is_row {
                        let cells = split_cells(text);
                        if is_header(&cells) {
                            return Err(CatalogError::SecondTable {
                                line,
                                first: header,
                            });
                        }
                        if looks_like_row(&cells) {
                            return Err(CatalogError::RowOutsideTable { line, table_end });
                        }
                    }
                    State::After { header, table_end }
                }
            };
        }

        match state {
            State::Before => return Err(CatalogError::NoTable),
            State::Separator { header } => {
                return Err(CatalogError::MissingSeparator { line: header + 1 })
            }
            State::Rows { header } | State::After { header, .. } => {
                if rules.is_empty() {
                    return Err(CatalogError::EmptyTable { line: header });
                }
            }
        }
        Ok(Catalog::index(rules))
    }

    fn index(rules: Vec<Rule>) -> Catalog {
        let mut services: HashMap<String, ServiceRules, FastState> = HashMap::default();
        let mut fallback = ServiceRules::default();
        for (i, rule) in rules.iter().enumerate() {
            let target = if rule.is_fallback() {
                &mut fallback
            } else {
                services.entry(rule.service.clone()).or_default()
            };
            match rule.api.strip_suffix('*') {
                Some(prefix) => target.patterns.push((prefix.to_owned(), i)),
                None => {
                    target.exact.insert(rule.api.clone(), i);
                }
            }
        }
        // Longest first; equal lengths cannot both match one name unless equal, and duplicates
        // are rejected, so the order among them does not matter.
        for s in services.values_mut().chain(std::iter::once(&mut fallback)) {
            s.patterns
                .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
            s.exact.shrink_to_fit();
        }
        Catalog {
            rules,
            services,
            fallback,
        }
    }

    /// The category of a call, or `None` when it is not discovery (no row matched, or a `none`
    /// row did). `event_name` may carry a version suffix. Allocation-free.
    pub fn category(&self, event_source: &str, event_name: &str) -> Option<Category> {
        self.lookup(event_source, event_name)
            .and_then(|r| r.category)
    }

    /// The row that decides a call's category, if any: useful to explain a decision.
    pub fn lookup(&self, event_source: &str, event_name: &str) -> Option<&Rule> {
        let name = strip_version_suffix(event_name);
        let index = self
            .services
            .get(event_source)
            .and_then(|s| s.find(name))
            .or_else(|| self.fallback.find(name))?;
        self.rules.get(index)
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when the catalog has no rows (nothing is discovery).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every row, in source order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// Splits `| a | b | c |` into trimmed cells; the outer pipes are optional on the right.
fn split_cells(text: &str) -> Vec<&str> {
    let inner = text.strip_prefix('|').unwrap_or(text);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    inner.split('|').map(str::trim).collect()
}

/// A cell without the backticks it may be wrapped in.
fn unquote(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .map(str::trim)
        .unwrap_or(cell)
}

fn is_header(cells: &[&str]) -> bool {
    cells.len() == 3
        && ["service", "api", "category"]
            .iter()
            .zip(cells)
            .all(|(want, got)| unquote(got).eq_ignore_ascii_case(want))
}

fn is_separator(cells: &[&str]) -> bool {
    cells.len() == 3
        && cells.iter().all(|c| {
            let c = c.strip_prefix(':').unwrap_or(c);
            let c = c.strip_suffix(':').unwrap_or(c);
            !c.is_empty() && c.bytes().all(|b| b == b'-')
        })
}

/// A three-cell row whose last cell is a category word.
fn looks_like_row(cells: &[&str]) -> bool {
    cells.len() == 3 && parse_category(unquote(cells[2])).is_some()
}

/// `Some(Some(c))` for a category, `Some(None)` for `none`, `None` for anything else.
fn parse_category(s: &str) -> Option<Option<Category>> {
    if s.eq_ignore_ascii_case("none") {
        Some(None)
    } else {
        Category::from_name(s).map(Some)
    }
}

fn parse_row(cells: &[&str], line: usize) -> Result<Rule, CatalogError> {
    if cells.len() != 3 {
        return Err(CatalogError::CellCount {
            line,
            found: cells.len(),
        });
    }
    let service = unquote(cells[0]);
    let api = unquote(cells[1]);
    let category_cell = unquote(cells[2]);

    let bad_service = |reason| CatalogError::InvalidService {
        line,
        value: service.to_owned(),
        reason,
    };
    if service.is_empty() {
        return Err(bad_service("empty"));
    }
    if service != FALLBACK_SERVICE
        && !service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(bad_service(
            "expected a lowercase eventSource such as ec2.amazonaws.com, or *",
        ));
    }

    let bad_api = |reason| CatalogError::InvalidApi {
        line,
        value: api.to_owned(),
        reason,
    };
    if api.is_empty() {
        return Err(bad_api("empty"));
    }
    let name = api.strip_suffix('*').unwrap_or(api);
    if name.contains('*') {
        return Err(bad_api("`*` is only allowed at the end"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(bad_api(
            "expected letters, digits and `_`, optionally ending in `*`",
        ));
    }
    if strip_version_suffix(name).len() != name.len() {
        return Err(bad_api("write the name without its version suffix"));
    }

    let category = parse_category(category_cell).ok_or_else(|| CatalogError::UnknownCategory {
        line,
        value: category_cell.to_owned(),
    })?;

    Ok(Rule {
        service: service.to_owned(),
        api: api.to_owned(),
        category,
        line,
    })
}

/// Strips the API-version suffix some services append to `eventName`: a date as `YYYYMMDD`
/// (Lambda: `ListFunctions20150331`) or `YYYY_MM_DD` (CloudFront:
/// `ListDistributions2020_05_31`), optionally followed by `v<digits>`
/// (`GetFunctionConfiguration20150331v2`). Anything else is returned unchanged
/// (`ListObjectsV2`, `DescribeDBInstances`), as is a name that would become empty.
pub fn strip_version_suffix(event_name: &str) -> &str {
    let b = event_name.as_bytes();
    let mut end = b.len();
    // An optional `v<digits>` after the date.
    let digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits < end && b[end - digits - 1] == b'v' {
        end -= digits + 1;
    }
    let head = &b[..end];
    let date_len = if is_compact_date(head) {
        8
    } else if is_underscored_date(head) {
        10
    } else {
        return event_name;
    };
    match end.checked_sub(date_len) {
        // The date is ASCII, so its first byte is a char boundary.
        Some(cut) if cut > 0 => event_name.get(..cut).unwrap_or(event_name),
        _ => event_name,
    }
}

/// `head` ends in `YYYYMMDD`.
fn is_compact_date(head: &[u8]) -> bool {
    let Some(start) = head.len().checked_sub(8) else {
        return false;
    };
    let d = &head[start..];
    d.iter().all(u8::is_ascii_digit) && plausible_date(&d[0..4], &d[4..6], &d[6..8])
}

/// `head` ends in `YYYY_MM_DD`.
fn is_underscored_date(head: &[u8]) -> bool {
    let Some(start) = head.len().checked_sub(10) else {
        return false;
    };
    let d = &head[start..];
    d[4] == b'_'
        && d[7] == b'_'
        && [&d[0..4], &d[5..7], &d[8..10]]
            .iter()
            .all(|p| p.iter().all(u8::is_ascii_digit))
        && plausible_date(&d[0..4], &d[5..7], &d[8..10])
}

/// Year 19xx/20xx, month 01–12, day 01–31 (all ASCII digits already).
fn plausible_date(year: &[u8], month: &[u8], day: &[u8]) -> bool {
    let num = |p: &[u8]| p.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
    matches!(&year[..2], b"19" | b"20")
        && (1..=12).contains(&num(month))
        && (1..=31).contains(&num(day))
}

/// Remembers [`Catalog::category`] answers by the raw bytes of `eventName` and `eventSource`.
///
/// A trail holds few distinct calls, so after the first records a lookup is one hash over the
/// name's bytes and a compare of the source's, with no UTF-8 check, no version-suffix stripping
/// and no pattern scan. At most [`CategoryMemo::CAPACITY`] calls are remembered (crafted input
/// cannot grow it further); past that, answers come straight from the catalog.
#[derive(Debug, Default)]
pub struct CategoryMemo {
    /// By `eventName`: each `eventSource` seen with it (nearly always one) and its answer.
    known: HashMap<Box<[u8]>, Vec<SourceAnswer>, FastState>,
    /// Calls remembered.
    len: usize,
}

/// An `eventSource` and the category of one `eventName` under it.
type SourceAnswer = (Box<[u8]>, Option<Category>);

/// Why a call could not be looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoError {
    /// `eventSource` is not UTF-8.
    SourceNotUtf8,
    /// `eventName` is not UTF-8.
    NameNotUtf8,
}

impl fmt::Display for MemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemoError::SourceNotUtf8 => "eventSource is not UTF-8",
            MemoError::NameNotUtf8 => "eventName is not UTF-8",
        })
    }
}

impl CategoryMemo {
    /// The most calls remembered.
    pub const CAPACITY: usize = 4096;

    /// [`Catalog::category`] of the call, from memory when it was seen before.
    #[inline]
    pub fn category(
        &mut self,
        catalog: &Catalog,
        event_source: &[u8],
        event_name: &[u8],
    ) -> Result<Option<Category>, MemoError> {
        let sources = self.known.get(event_name);
        if let Some((_, known)) = sources.and_then(|s| s.iter().find(|(s, _)| **s == *event_source))
        {
            return Ok(*known);
        }
        let source = std::str::from_utf8(event_source).map_err(|_| MemoError::SourceNotUtf8)?;
        let name = std::str::from_utf8(event_name).map_err(|_| MemoError::NameNotUtf8)?;
        let category = catalog.category(source, name);
        if self.len < Self::CAPACITY {
            self.len += 1;
            let sources = self.known.entry(event_name.into()).or_default();
            sources.push((event_source.into(), category));
        }
        Ok(category)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> &'static Catalog {
        Catalog::try_builtin().expect("the builtin api-categories.md must parse")
    }

    fn cat(source: &str, name: &str) -> Option<Category> {
        builtin().category(source, name)
    }

    const EC2: &str = "ec2.amazonaws.com";
    const IAM: &str = "iam.amazonaws.com";
    const S3: &str = "s3.amazonaws.com";

    #[test]
    fn builtin_table_parses() {
        let c = builtin();
        assert!(c.len() > 400, "only {} rows", c.len());
        assert_eq!(c.len(), c.rules().len());
        assert!(!c.is_empty());
        assert!(!Catalog::builtin().is_empty());
        for r in c.rules() {
            assert!(
                r.is_fallback() || r.service.ends_with(".amazonaws.com"),
                "line {}: service {} is not an eventSource",
                r.line,
                r.service
            );
        }
    }

    #[test]
    fn required_placements() {
        use Category::*;
        let cases = [
            (EC2, "DescribeSecurityGroups", Network),
            (EC2, "DescribeInstances", Resource),
            (IAM, "ListInstanceProfilesForRole", User),
            (IAM, "ListAccessKeys", User),
            ("sts.amazonaws.com", "GetCallerIdentity", User),
            (S3, "ListBuckets", Resource),
            (S3, "GetBucketPolicy", Resource),
            (S3, "GetBucketAcl", Resource),
            (EC2, "DescribeRouteTables", Network),
            (EC2, "DescribeNetworkAcls", Network),
            (EC2, "DescribeVpcs", Network),
            (EC2, "DescribeSubnets", Network),
            ("lambda.amazonaws.com", "ListFunctions", Resource),
            ("lambda.amazonaws.com", "ListFunctions20150331", Resource),
            (IAM, "GetAccountAuthorizationDetails", User),
            (EC2, "DescribeSnapshots", Resource),
            ("cloudtrail.amazonaws.com", "DescribeTrails", Resource),
            ("guardduty.amazonaws.com", "ListDetectors", Resource),
        ];
        for (source, name, want) in cases {
            assert_eq!(cat(source, name), Some(want), "{source} {name}");
        }
    }

    #[test]
    fn service_defaults_come_from_patterns() {
        use Category::*;
        // Unlisted names fall to the service's patterns.
        assert_eq!(cat(EC2, "DescribeFastLaunchImages"), Some(Resource));
        assert_eq!(cat(EC2, "DescribeSecurityGroupRules"), Some(Network));
        assert_eq!(cat(EC2, "DescribeTransitGatewayAttachments"), Some(Network));
        assert_eq!(cat(EC2, "GetEbsEncryptionByDefault"), Some(Discovery));
        assert_eq!(cat(IAM, "ListSAMLProviders"), Some(User));
        assert_eq!(cat(IAM, "GetContextKeysForPrincipalPolicy"), Some(User));
        assert_eq!(cat(IAM, "GenerateCredentialReport"), Some(User));
        assert_eq!(
            cat("rds.amazonaws.com", "DescribeDBProxies"),
            Some(Resource)
        );
        assert_eq!(
            cat("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth"),
            Some(Network)
        );
        assert_eq!(
            cat("organizations.amazonaws.com", "ListPolicies"),
            Some(User)
        );
        assert_eq!(
            cat("organizations.amazonaws.com", "ListRoots"),
            Some(Resource)
        );
        // Stratus Red Team aws.discovery.ec2-enumerate-from-instance.
        assert_eq!(cat(IAM, "GetAccountSummary"), Some(User));
        assert_eq!(cat(IAM, "ListRoles"), Some(User));
        assert_eq!(cat(IAM, "ListUsers"), Some(User));
    }

    #[test]
    fn sans_intruder_calls_all_have_a_category() {
        let calls = [
            ("sts.amazonaws.com", "GetCallerIdentity"),
            (S3, "ListBuckets"),
            (EC2, "DescribeInstances"),
            ("lambda.amazonaws.com", "ListFunctions20150331"),
            ("logs.amazonaws.com", "DescribeLogGroups"),
            (IAM, "ListRoles"),
            (IAM, "ListUsers"),
            (IAM, "ListGroups"),
            (IAM, "ListPolicies"),
            (IAM, "ListAttachedUserPolicies"),
            (IAM, "ListAttachedGroupPolicies"),
            (IAM, "ListGroupsForUser"),
            (IAM, "ListUserPolicies"),
            (IAM, "GetPolicy"),
            (IAM, "GetPolicyVersion"),
        ];
        for (source, name) in calls {
            assert!(
                cat(source, name).is_some(),
                "{source} {name} has no category"
            );
        }
        // What it does next is not reconnaissance.
        assert_eq!(cat(IAM, "PutUserPolicy"), None);
        assert_eq!(cat(IAM, "CreateAccessKey"), None);
    }

    #[test]
    fn version_suffixes_are_stripped() {
        assert_eq!(
            strip_version_suffix("ListFunctions20150331"),
            "ListFunctions"
        );
        assert_eq!(
            strip_version_suffix("GetFunctionConfiguration20150331v2"),
            "GetFunctionConfiguration"
        );
        assert_eq!(
            strip_version_suffix("ListDistributions2020_05_31"),
            "ListDistributions"
        );
        assert_eq!(
            strip_version_suffix("GetDistribution2019_03_26v1"),
            "GetDistribution"
        );
        assert_eq!(strip_version_suffix("ListLayers20181031"), "ListLayers");
        for unchanged in [
            "ListBuckets",
            "DescribeDBInstances",
            "ListObjectsV2",
            "ListObjectsv2",
            "20150331",
            "20150331v2",
            "Foo20151331",
            "Foo30150331",
            "Foo2015_13_01",
            "Foo2015-03-31",
            "Getv2",
            "",
            "v",
        ] {
            assert_eq!(strip_version_suffix(unchanged), unchanged);
        }
        assert_eq!(
            cat("lambda.amazonaws.com", "GetFunctionConfiguration20150331v2"),
            Some(Category::Resource)
        );
        assert_eq!(
            cat("cloudfront.amazonaws.com", "ListDistributions2020_05_31"),
            Some(Category::Resource)
        );
    }

    #[test]
    fn exact_beats_pattern_and_longer_beats_shorter() {
        let md = "\
| service | api | category |
|---|---|---|
| svc.amazonaws.com | Describe* | resource |
| svc.amazonaws.com | DescribeFo* | user |
| svc.amazonaws.com | DescribeFoo | network |
| svc.amazonaws.com | DescribeF* | none |
| * | Describe* | discovery |
| * | List* | discovery |
";
        let c = Catalog::parse(md).expect("parses");
        assert_eq!(c.len(), 6);
        assert_eq!(
            c.category("svc.amazonaws.com", "DescribeFoo"),
            Some(Category::Network)
        );
        assert_eq!(
            c.category("svc.amazonaws.com", "DescribeFoobar"),
            Some(Category::User)
        );
        assert_eq!(c.category("svc.amazonaws.com", "DescribeFa"), None);
        assert_eq!(
            c.category("svc.amazonaws.com", "DescribeBar"),
            Some(Category::Resource)
        );
        // The service's own rows beat the fallback; the fallback covers what they miss.
        assert_eq!(
            c.category("svc.amazonaws.com", "ListBars"),
            Some(Category::Discovery)
        );
        assert_eq!(
            c.category("other.amazonaws.com", "DescribeFoo"),
            Some(Category::Discovery)
        );
        let rule = c
            .lookup("svc.amazonaws.com", "DescribeFoobar")
            .expect("a row");
        assert_eq!((rule.api.as_str(), rule.line), ("DescribeFo*", 4));
        assert!(rule.is_pattern() && !rule.is_fallback());

        // The same in the builtin table.
        assert_eq!(cat(EC2, "DescribeRegions"), Some(Category::Discovery));
        assert_eq!(cat(EC2, "DescribeInstanceTypes"), Some(Category::Discovery));
        assert_eq!(cat(EC2, "DescribeInstanceStatus"), Some(Category::Resource));
        assert_eq!(cat(S3, "GetObjectAcl"), Some(Category::Resource));
        assert_eq!(cat(S3, "GetObjectTagging"), None);
        assert_eq!(cat(S3, "ListObjects"), Some(Category::Discovery));
    }

    #[test]
    fn none_rows_are_exceptions() {
        for (source, name) in [
            (S3, "GetObject"),
            (S3, "HeadObject"),
            (S3, "ListParts"),
            ("secretsmanager.amazonaws.com", "GetSecretValue"),
            ("secretsmanager.amazonaws.com", "BatchGetSecretValue"),
            ("ssm.amazonaws.com", "GetParameter"),
            ("ssm.amazonaws.com", "GetParametersByPath"),
            ("kms.amazonaws.com", "Decrypt"),
            ("kms.amazonaws.com", "GenerateDataKeyWithoutPlaintext"),
            (EC2, "GetPasswordData"),
            ("sts.amazonaws.com", "AssumeRole"),
            ("sts.amazonaws.com", "GetSessionToken"),
            ("ebs.amazonaws.com", "ListSnapshotBlocks"),
            ("ssmmessages.amazonaws.com", "ListStuff"),
            ("dynamodb.amazonaws.com", "GetItem"),
            ("logs.amazonaws.com", "GetLogEvents"),
        ] {
            assert_eq!(cat(source, name), None, "{source} {name}");
        }
        // `GetObject` is decided by an explicit row, not by falling through.
        let rule = builtin().lookup(S3, "GetObject").expect("an explicit row");
        assert_eq!((rule.api.as_str(), rule.category), ("GetObject", None));
        assert!(builtin()
            .lookup("ebs.amazonaws.com", "ListSnapshotBlocks")
            .is_some());
    }

    #[test]
    fn unknown_services_fall_back_to_list_and_describe() {
        let svc = "newservice.amazonaws.com";
        assert_eq!(cat(svc, "ListThings"), Some(Category::Discovery));
        assert_eq!(cat(svc, "DescribeThing"), Some(Category::Discovery));
        assert_eq!(cat(svc, "GetThing"), None);
        assert_eq!(cat(svc, "CreateThing"), None);
        assert!(builtin().lookup(svc, "GetThing").is_none());
        // A listed service's unmatched List/Describe also falls back; its writes do not.
        assert_eq!(
            cat("lightsail.amazonaws.com", "ListThings"),
            Some(Category::Discovery)
        );
        assert_eq!(cat(EC2, "RunInstances"), None);
        assert_eq!(cat(IAM, "CreateUser"), None);
        // Matching is case-sensitive and by exact eventSource.
        assert_eq!(
            cat("EC2.amazonaws.com", "DescribeSecurityGroups"),
            Some(Category::Discovery)
        );
    }

    #[test]
    fn categories_map_to_findings() {
        assert_eq!(
            Category::Network.finding_type(),
            Some(FindingType::NetworkPermissions)
        );
        assert_eq!(
            Category::Resource.finding_type(),
            Some(FindingType::ResourcePermissions)
        );
        assert_eq!(
            Category::User.finding_type(),
            Some(FindingType::UserPermissions)
        );
        assert_eq!(Category::Discovery.finding_type(), None);
        for c in Category::ALL {
            assert_eq!(Category::from_name(c.name()), Some(c));
            assert_eq!(c.to_string(), c.name());
            let json = serde_json::to_string(&c).expect("serializes");
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert_eq!(
                serde_json::from_str::<Category>(&json).expect("deserializes"),
                c
            );
            assert_eq!(c.is_permission(), c != Category::Discovery);
        }
        assert_eq!(Category::from_name("none"), None);
    }

    #[test]
    fn parse_accepts_backticks_and_ignores_other_tables() {
        let md = "\
# Title

| word | meaning |
|------|---------|
| a    | b       |

| `service` | `api` | `category` |
| :-- | :-: | --: |
| `ec2.amazonaws.com` | `Describe*` | `resource` |
|  iam.amazonaws.com  | ListUsers   | USER       |

Prose after the table.
";
        let c = Catalog::parse(md).expect("parses");
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.category(EC2, "DescribeInstances"),
            Some(Category::Resource)
        );
        assert_eq!(c.category(IAM, "ListUsers"), Some(Category::User));
        assert_eq!(c.rules()[0].line, 9);
    }

    fn parse_err(body: &str) -> CatalogError {
        let md = format!("intro\n\n| service | api | category |\n|---|---|---|\n{body}");
        Catalog::parse(&md).expect_err("must not parse")
    }

    #[test]
    fn parse_errors_name_the_line() {
        // The table header is on line 3, the first row on line 5.
        let ok = "| ec2.amazonaws.com | Describe* | resource |\n";
        let cases: [(String, usize, &str); 10] = [
            (
                format!("{ok}| ec2.amazonaws.com | DescribeX |\n"),
                6,
                "expected 3 cells",
            ),
            (
                format!("{ok}| a.amazonaws.com | ListX | networks |\n"),
                6,
                "unknown category",
            ),
            (
                format!("{ok}| a.amazonaws.com | Li*st | user |\n"),
                6,
                "only allowed at the end",
            ),
            (
                format!("{ok}| a.amazonaws.com | List X | user |\n"),
                6,
                "invalid api",
            ),
            (
                format!("{ok}| EC2.amazonaws.com | ListX | user |\n"),
                6,
                "invalid service",
            ),
            (
                "| a.amazonaws.com | | user |\n".to_owned(),
                5,
                "invalid api ``: empty",
            ),
            (
                format!("{ok}| a.amazonaws.com | ListFunctions20150331 | user |\n"),
                6,
                "suffix",
            ),
            (
                format!("{ok}{ok}"),
                6,
                "duplicate row for ec2.amazonaws.com Describe* (first on line 5)",
            ),
            (
                format!("{ok}\n| a.amazonaws.com | ListX | user |\n"),
                7,
                "outside the table",
            ),
            (
                format!("{ok}\n| service | api | category |\n|-|-|-|\n"),
                7,
                "a second `| service | api | category |` table (the first is on line 3)",
            ),
        ];
        for (body, line, needle) in cases {
            let err = parse_err(&body);
            assert_eq!(err.line(), Some(line), "{err} for {body:?}");
            let msg = err.to_string();
            assert!(msg.starts_with(&format!("line {line}: ")), "{msg}");
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        }

        let missing = Catalog::parse("| service | api | category |\n| a | b | c |\n")
            .expect_err("no separator");
        assert_eq!(missing, CatalogError::MissingSeparator { line: 2 });
        let at_eof = Catalog::parse("x\n| service | api | category |").expect_err("no separator");
        assert_eq!(at_eof.line(), Some(3));
        let empty = Catalog::parse("| service | api | category |\n|---|---|---|\n\ntext\n")
            .expect_err("no rows");
        assert_eq!(empty, CatalogError::EmptyTable { line: 1 });
        let none = Catalog::parse("# nothing here\n| a | b |\n|---|---|\n").expect_err("no table");
        assert_eq!((none.line(), none), (None, CatalogError::NoTable));
    }

    /// Distinct (eventSource, eventName) pairs of the real CloudTrail sets under
    /// `RECON_CORPUS`, with how the catalog places them.
    #[test]
    fn corpus_coverage() {
        use std::collections::{BTreeMap, BTreeSet};
        use std::io::Read;
        use std::path::{Path, PathBuf};

        use serde_json::Value;

        let Some(root) = crate::corpus_support::corpus("corpus_coverage") else {
            return;
        };

        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    if name.ends_with(".json") || name.ends_with(".json.gz") {
                        out.push(p);
                    }
                }
            }
        }

        /// `{"Records": [..]}`, a JSON array, one record, or NDJSON.
        fn records(bytes: &[u8]) -> Option<Vec<Value>> {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(mut o)) => match o.remove("Records") {
                    Some(Value::Array(a)) => Some(a),
                    Some(_) => None,
                    None => Some(vec![Value::Object(o)]),
                },
                Ok(Value::Array(a)) => Some(a),
                Ok(_) => None,
                Err(_) => bytes
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                    .map(|l| serde_json::from_slice::<Value>(l).ok())
                    .collect(),
            }
        }

        let mut files = Vec::new();
        walk(Path::new(&root), &mut files);
        let catalog = builtin();
        let (mut n_records, mut skipped) = (0usize, Vec::new());
        let mut pairs: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut intruder: BTreeSet<(String, String)> = BTreeSet::new();
        for path in &files {
            let mut bytes = Vec::new();
            let read = match std::fs::File::open(path) {
                Ok(f) if path.extension().is_some_and(|e| e == "gz") => {
                    flate2::read::GzDecoder::new(f).read_to_end(&mut bytes)
                }
                Ok(mut f) => f.read_to_end(&mut bytes),
                Err(e) => Err(e),
            };
            let Some(recs) = read.ok().and_then(|_| records(&bytes)) else {
                skipped.push(path.display().to_string());
                continue;
            };
            for r in recs {
                let field = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
                let (Some(source), Some(name)) = (field("eventSource"), field("eventName")) else {
                    continue;
                };
                n_records += 1;
                let user = r.pointer("/userIdentity/userName").and_then(Value::as_str);
                if user == Some("jmerckle") {
                    intruder.insert((source.clone(), name.clone()));
                }
                if ["List", "Describe", "Get"]
                    .iter()
                    .any(|p| name.starts_with(p))
                {
                    *pairs.entry((source, name)).or_default() += 1;
                }
            }
        }

        let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
        let (mut uncategorized, mut excepted) = (Vec::new(), Vec::new());
        for ((source, name), count) in &pairs {
            let label = match catalog.lookup(source, name) {
                Some(Rule {
                    category: Some(c), ..
                }) => c.name(),
                Some(rule) => {
                    excepted.push(format!("{source} {name} ×{count} (line {})", rule.line));
                    "none (exception)"
                }
                None => {
                    uncategorized.push(format!("{source} {name} ×{count}"));
                    "uncategorized"
                }
            };
            *by_category.entry(label).or_default() += 1;
        }
        eprintln!(
            "corpus_coverage: {} files ({} unreadable), {n_records} records, {} distinct \
             List/Describe/Get (eventSource, eventName) pairs",
            files.len(),
            skipped.len(),
            pairs.len()
        );
        for s in &skipped {
            eprintln!("  unreadable: {s}");
        }
        for (label, n) in &by_category {
            eprintln!("  {label:<18} {n}");
        }
        eprintln!("explicit `none` exceptions:");
        for e in &excepted {
            eprintln!("  {e}");
        }
        eprintln!("uncategorized (no row matched):");
        for u in &uncategorized {
            eprintln!("  {u}");
        }

        // The SANS intruder's reconnaissance must all be categorised.
        assert!(
            !intruder.is_empty(),
            "user jmerckle not found under {}",
            root.display()
        );
        for want in [
            "GetCallerIdentity",
            "ListBuckets",
            "DescribeInstances",
            "ListFunctions20150331",
            "DescribeLogGroups",
            "ListRoles",
            "ListUsers",
            "ListGroups",
            "ListPolicies",
            "ListAttachedUserPolicies",
            "ListAttachedGroupPolicies",
            "ListGroupsForUser",
            "ListUserPolicies",
            "GetPolicy",
            "GetPolicyVersion",
        ] {
            let found = intruder.iter().find(|(_, n)| n == want);
            let Some((source, name)) = found else {
                panic!("jmerckle's {want} not found in the corpus");
            };
            assert!(
                catalog.category(source, name).is_some(),
                "{source} {name}: no category"
            );
        }
        for (source, name) in &intruder {
            if ["List", "Describe", "Get"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                assert!(
                    catalog.category(source, name).is_some(),
                    "{source} {name}: no category"
                );
            }
        }
    }

    #[test]
    fn the_memo_answers_as_the_catalog_does() {
        let catalog = Catalog::builtin();
        let mut memo = CategoryMemo::default();
        let calls: [(&str, &str); 5] = [
            ("ec2.amazonaws.com", "DescribeSecurityGroups"),
            ("ec2.amazonaws.com", "RunInstances"),
            ("lambda.amazonaws.com", "ListFunctions20150331"),
            ("iam.amazonaws.com", "ListInstanceProfilesForRole"),
            ("s3.amazonaws.com", "ListBuckets"),
        ];
        for _ in 0..2 {
            for (source, name) in calls {
                let got = memo.category(catalog, source.as_bytes(), name.as_bytes());
                assert_eq!(got, Ok(catalog.category(source, name)), "{source} {name}");
            }
        }
        // One name under two services: each service's own answer, however they alternate.
        for _ in 0..2 {
            for source in [
                "ec2.amazonaws.com",
                "example.amazonaws.com",
                "iam.amazonaws.com",
            ] {
                let got = memo.category(catalog, source.as_bytes(), b"DescribeSecurityGroups");
                let want = catalog.category(source, "DescribeSecurityGroups");
                assert_eq!(got, Ok(want), "{source}");
            }
        }
        assert_ne!(
            catalog.category("ec2.amazonaws.com", "DescribeSecurityGroups"),
            catalog.category("iam.amazonaws.com", "DescribeSecurityGroups"),
            "the case above must tell services apart"
        );
        assert_eq!(
            memo.category(catalog, b"ec2.amazonaws.com", b"\xff"),
            Err(MemoError::NameNotUtf8)
        );
        assert_eq!(
            memo.category(catalog, b"\xfe", b"X"),
            Err(MemoError::SourceNotUtf8)
        );
        for i in 0..2 * CategoryMemo::CAPACITY {
            let name = format!("Describe{i}");
            let got = memo.category(catalog, b"ec2.amazonaws.com", name.as_bytes());
            assert_eq!(got, Ok(catalog.category("ec2.amazonaws.com", &name)));
        }
        assert_eq!(memo.len, CategoryMemo::CAPACITY);
        let kept: usize = memo.known.values().map(Vec::len).sum();
        assert_eq!(kept, CategoryMemo::CAPACITY);
    }
}
