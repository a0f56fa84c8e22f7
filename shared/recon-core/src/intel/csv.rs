//! The three CSV threat-list formats GuardDuty accepts: OTX_CSV, FIRE_EYE (iSIGHT) and
//! PROOF_POINT. Columns are found by header name, so column order and extra columns don't
//! matter. Quoted fields (with `""` escapes) are understood; a record may not span lines.

use super::formats::{for_each_line, Loader};
use super::{clip, IntelError};

/// Splits one CSV record into trimmed fields.
pub(crate) fn split(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, ',') => fields.push(std::mem::take(&mut field).trim().to_string()),
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field");
    }
    fields.push(field.trim().to_string());
    Ok(fields)
}

/// A header name reduced to lowercase letters and digits (`Indicator type` → `indicatortype`).
pub(crate) fn normalize(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A whole header line normalised field by field, commas kept (`ip,category,score,…`).
pub(crate) fn normalize_line(line: &str) -> String {
    line.split(',').map(normalize).collect::<Vec<_>>().join(",")
}

fn column(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| normalize(h) == name)
}

fn missing(loader: &Loader, n: usize, column: &str) -> IntelError {
    IntelError::MissingColumn {
        list: loader.name().to_string(),
        format: loader.format(),
        column: column.to_string(),
        line: n,
    }
}

/// Splits a data row, reporting it when it is malformed.
fn row(loader: &mut Loader, n: usize, line: &str) -> Option<Vec<String>> {
    match split(line) {
        Ok(fields) => Some(fields),
        Err(reason) => {
            loader.invalid(n, format!("{reason}: {:?}", clip(line)));
            None
        }
    }
}

fn field(fields: &[String], i: usize) -> &str {
    fields.get(i).map_or("", String::as_str)
}

/// OTX_CSV: `Indicator type, Indicator, Description`. IPv4, IPv6 and CIDR rows are loaded;
/// other indicator types (domains, URLs, hashes) are counted as non-IP.
pub(crate) fn read_otx(loader: &mut Loader, content: &[u8]) -> Result<(), IntelError> {
    let mut cols: Option<(usize, usize)> = None;
    for_each_line(loader, content, |l, n, line| {
        let Some((kind_col, value_col)) = cols else {
            let header = split(line).unwrap_or_default();
            let kind =
                column(&header, "indicatortype").ok_or_else(|| missing(l, n, "Indicator type"))?;
            let value = column(&header, "indicator").ok_or_else(|| missing(l, n, "Indicator"))?;
            cols = Some((kind, value));
            return Ok(());
        };
        let Some(fields) = row(l, n, line) else {
            return Ok(());
        };
        match normalize(field(&fields, kind_col)).as_str() {
            "ipv4" | "ipv6" | "cidr" | "ip" | "ipaddress" | "ipv4cidr" | "ipv6cidr" => {
                l.entry(n, field(&fields, value_col))
            }
            "" => {
                l.invalid(n, "missing indicator type");
                Ok(())
            }
            _ => {
                l.non_ip();
                Ok(())
            }
        }
    })
}

/// FIRE_EYE (iSIGHT): the address is in the `cidr` or `ip` column, found by name; rows with
/// neither (domain, URL or hash indicators) are counted as non-IP.
pub(crate) fn read_fireeye(loader: &mut Loader, content: &[u8]) -> Result<(), IntelError> {
    let mut cols: Option<[Option<usize>; 2]> = None;
    for_each_line(loader, content, |l, n, line| {
        let Some(addr_cols) = cols else {
            let header = split(line).unwrap_or_default();
            let found = [column(&header, "cidr"), column(&header, "ip")];
            if found.iter().all(Option::is_none) {
                return Err(missing(l, n, "cidr or ip"));
            }
            cols = Some(found);
            return Ok(());
        };
        let Some(fields) = row(l, n, line) else {
            return Ok(());
        };
        let values: Vec<&str> = addr_cols
            .iter()
            .flatten()
            .map(|&i| field(&fields, i))
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            l.non_ip();
        }
        values.into_iter().try_for_each(|v| l.entry(n, v))
    })
}

/// PROOF_POINT: `ip, category, score, first_seen, last_seen, ports`. A `domain` first column
/// makes it an entity list (every row non-IP); a file without a header is read from column 0.
pub(crate) fn read_proofpoint(loader: &mut Loader, content: &[u8]) -> Result<(), IntelError> {
    // None: header not seen yet; Some(None): domain list; Some(Some(i)): address column.
    let mut col: Option<Option<usize>> = None;
    for_each_line(loader, content, |l, n, line| {
        let Some(fields) = row(l, n, line) else {
            return Ok(());
        };
        let Some(ip_col) = col else {
            let first = normalize(field(&fields, 0));
            if first == "domain" {
                col = Some(None);
                return Ok(());
            }
            if let Some(i) = column(&fields, "ip") {
                col = Some(Some(i));
                return Ok(());
            }
            col = Some(Some(0));
            return l.entry(n, field(&fields, 0));
        };
        match ip_col {
            Some(i) => l.entry(n, field(&fields, i)),
            None => {
                l.non_ip();
                Ok(())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::{detect_format, parse_list, ListFormat};
    use super::*;

    const OTX: &str = "Indicator type, Indicator, Description\n\
                       CIDR, 192.0.2.0/24, example\n\
                       IPv4, 198.51.100.1, \"scanner, seen twice\"\n\
                       Domain name, example.net, example\n\
                       IPv6, 2001:db8::7, v6\n\
                       IPv4, 192.168.1.1, private\n\
                       IPv4, 1.2.3, broken\n";

    const PROOFPOINT: &str = "ip, category, score, first_seen, last_seen, ports (|)\n\
                              198.51.100.1, 1, 100, 2000-01-01, 2000-01-01,\n\
                              203.0.113.7, 4, 80, 2000-01-01, 2000-01-02, 22|80\n";

    fn fireeye() -> String {
        let mut names: Vec<String> = (0..47).map(|i| format!("col{i}")).collect();
        names[0] = "reportId".into();
        names[1] = "title".into();
        names[2] = "threatScape".into();
        names[20] = "cidr".into();
        names[21] = "domain".into();
        names[24] = "ip".into();
        let row = |cidr: &str, domain: &str, ip: &str| {
            let mut r: Vec<String> = vec![String::new(); 47];
            r[0] = "18-00000001".into();
            r[1] = "\"Title, with comma\"".into();
            r[20] = cidr.into();
            r[21] = domain.into();
            r[24] = ip.into();
            r.join(",")
        };
        [
            names.join(", "),
            row("192.0.2.0/24", "", ""),
            row("", "", "198.51.100.9"),
            row("", "example.com", ""),
            row("", "", "10.0.0.1"),
        ]
        .join("\n")
    }

    fn hit(set: &super::super::IpSet, ip: &str) -> Option<String> {
        set.lookup(ip.parse().expect("test address"))
            .map(str::to_string)
    }

    #[test]
    fn split_handles_quotes() {
        assert_eq!(
            split(" a , \"b, c\" ,\"d\"\"e\",").expect("ok"),
            ["a", "b, c", "d\"e", ""]
        );
        assert!(split("a,\"b").is_err());
        assert_eq!(
            normalize_line("Indicator type, Indicator"),
            "indicatortype,indicator"
        );
    }

    #[test]
    fn otx_csv() {
        assert_eq!(detect_format(OTX.as_bytes()), ListFormat::OtxCsv);
        let (set, report) = parse_list("otx", OTX.as_bytes(), None).expect("loads");
        assert_eq!(report.entries, 3);
        assert_eq!((report.skipped_non_ip, report.skipped_private), (1, 1));
        assert_eq!(report.invalid.len(), 1);
        assert_eq!(report.invalid[0].0, 7);
        assert_eq!(hit(&set, "192.0.2.5").as_deref(), Some("192.0.2.0/24"));
        assert_eq!(hit(&set, "2001:db8::7").as_deref(), Some("2001:db8::7"));
    }

    #[test]
    fn otx_without_header_columns_fails() {
        let err = parse_list("otx", b"a,b\n192.0.2.1,x\n", Some(ListFormat::OtxCsv))
            .expect_err("no header");
        assert!(
            matches!(err, IntelError::MissingColumn { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn fireeye_isight() {
        let content = fireeye();
        assert_eq!(detect_format(content.as_bytes()), ListFormat::FireEye);
        let (set, report) = parse_list("fe", content.as_bytes(), None).expect("loads");
        assert_eq!(
            (
                report.entries,
                report.skipped_non_ip,
                report.skipped_private
            ),
            (2, 1, 1)
        );
        assert!(report.invalid.is_empty(), "{:?}", report.invalid);
        assert_eq!(hit(&set, "192.0.2.99").as_deref(), Some("192.0.2.0/24"));
        assert_eq!(hit(&set, "198.51.100.9").as_deref(), Some("198.51.100.9"));
    }

    #[test]
    fn proofpoint() {
        assert_eq!(detect_format(PROOFPOINT.as_bytes()), ListFormat::ProofPoint);
        let (set, report) = parse_list("pp", PROOFPOINT.as_bytes(), None).expect("loads");
        assert_eq!(report.entries, 2);
        assert!(report.invalid.is_empty(), "{:?}", report.invalid);
        assert_eq!(hit(&set, "203.0.113.7").as_deref(), Some("203.0.113.7"));
        let domains = "domain, category, score, first_seen, last_seen, ports\n\
                       example.com, 1, 100, 2000-01-01, 2000-01-01,\n";
        assert_eq!(detect_format(domains.as_bytes()), ListFormat::ProofPoint);
        let (set, report) = parse_list("pp", domains.as_bytes(), None).expect("loads");
        assert_eq!((set.len(), report.skipped_non_ip), (0, 1));
        let bare = "198.51.100.1, 1, 100, 2000-01-01, 2000-01-01,\n";
        let (set, _) = parse_list("pp", bare.as_bytes(), Some(ListFormat::ProofPoint)).expect("ok");
        assert_eq!(set.len(), 1);
    }
}
