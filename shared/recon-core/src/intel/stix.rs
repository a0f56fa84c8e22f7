//! STIX 1.x threat lists, read with a small scan of the XML rather than an XML parser: only the
//! start tags and text of `Address_Value` elements matter (plus domain/URI values, which are
//! counted as non-IP). Comments, CDATA sections, processing instructions and closing tags are
//! skipped; namespaces are matched by their conventional prefixes.
//!
//! An `Address_Value` holds one address or CIDR, or several joined by `##comma##`; with
//! `condition="InclusiveBetween"` it holds exactly two, `first##comma##last`, an inclusive range
//! reported as `first-last`.

use std::borrow::Cow;
use std::net::IpAddr;

use memchr::{memchr, memchr_iter, memmem};

use super::formats::Loader;
use super::ipset::Range;
use super::{clip, IntelError};

/// What an element means to a threat list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `AddressObject:Address_Value`.
    Address,
    /// A domain, hostname or URI value: an entity-list indicator.
    Name,
    /// Anything else.
    Other,
}

/// A start tag: its qualified name, the bytes holding its attributes, and where it began.
struct Tag<'a> {
    name: &'a [u8],
    attrs: &'a [u8],
    self_closing: bool,
    at: usize,
}

/// A forward-only cursor over the document that also tracks line numbers.
struct Scanner<'a> {
    doc: &'a [u8],
    pos: usize,
    line: usize,
    counted: usize,
}

impl<'a> Scanner<'a> {
    fn new(doc: &'a [u8]) -> Self {
        Scanner {
            doc,
            pos: 0,
            line: 1,
            counted: 0,
        }
    }

    /// The 1-based line of byte `at` (which must not be before the last one asked about).
    fn line_of(&mut self, at: usize) -> usize {
        if let Some(chunk) = self.doc.get(self.counted..at) {
            self.line += memchr_iter(b'\n', chunk).count();
            self.counted = at;
        }
        self.line
    }

    /// Moves past the next occurrence of `end` at or after `from`; `None` at end of document.
    fn skip_past(&mut self, from: usize, end: &[u8]) -> Option<()> {
        let found = memmem::find(self.doc.get(from..)?, end)?;
        self.pos = from + found + end.len();
        Some(())
    }

    /// The next start tag, skipping comments, CDATA, declarations and closing tags.
    fn next_start_tag(&mut self) -> Option<Tag<'a>> {
        loop {
            let lt = self.pos + memchr(b'<', self.doc.get(self.pos..)?)?;
            let rest = self.doc.get(lt..)?;
            if rest.starts_with(b"<!--") {
                self.skip_past(lt, b"-->")?;
            } else if rest.starts_with(b"<![CDATA[") {
                self.skip_past(lt, b"]]>")?;
            } else if rest.starts_with(b"<?") || rest.starts_with(b"<!") || rest.starts_with(b"</")
            {
                self.skip_past(lt, b">")?;
            } else {
                return self.start_tag(lt);
            }
        }
    }

    /// Reads the start tag opening at `lt`.
    fn start_tag(&mut self, lt: usize) -> Option<Tag<'a>> {
        let gt = tag_end(self.doc, lt + 1)?;
        let inner = self.doc.get(lt + 1..gt)?;
        let (inner, self_closing) = match inner.strip_suffix(b"/") {
            Some(i) => (i, true),
            None => (inner, false),
        };
        let name_len = inner
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(inner.len());
        let (name, attrs) = inner.split_at(name_len);
        self.pos = gt + 1;
        Some(Tag {
            name,
            attrs,
            self_closing,
            at: lt,
        })
    }

    /// The text from the cursor to the next closing tag, CDATA markers removed.
    fn text(&mut self) -> &'a [u8] {
        let rest = self.doc.get(self.pos..).unwrap_or_default();
        let text = match memmem::find(rest, b"</") {
            Some(end) => rest.get(..end).unwrap_or_default(),
            None => rest,
        };
        self.pos += text.len();
        let trimmed = text.trim_ascii();
        trimmed
            .strip_prefix(b"<![CDATA[")
            .and_then(|t| t.strip_suffix(b"]]>"))
            .unwrap_or(trimmed)
    }
}

/// The index of the `>` closing a tag whose name starts at `from`, ignoring quoted `>`.
fn tag_end(doc: &[u8], from: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, &b) in doc.get(from..)?.iter().enumerate() {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(from + i),
            (None, _) => {}
        }
    }
    None
}

/// The value of attribute `name` (compared without namespace prefix).
fn attr<'a>(attrs: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_ascii_start();
        let eq = memchr(b'=', rest)?;
        let key = rest.get(..eq)?.trim_ascii();
        let after = rest.get(eq + 1..)?.trim_ascii_start();
        let quote = *after.first()?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let len = memchr(quote, after.get(1..)?)?;
        let value = after.get(1..1 + len)?;
        if local_name(key) == name {
            return Some(value);
        }
        rest = after.get(len + 2..)?;
    }
}

fn local_name(qname: &[u8]) -> &[u8] {
    qname.rsplit(|&b| b == b':').next().unwrap_or(qname)
}

fn kind(qname: &[u8]) -> Kind {
    let local = local_name(qname);
    let prefix = qname.get(..qname.len() - local.len()).unwrap_or_default();
    if local == b"Address_Value" {
        Kind::Address
    } else if local == b"Hostname_Value"
        || (local == b"Value" && (prefix.starts_with(b"DomainName") || prefix.starts_with(b"URI")))
    {
        Kind::Name
    } else {
        Kind::Other
    }
}

/// Replaces the five predefined XML entities.
fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let out = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Cow::Owned(out)
}

/// Reads every address in a STIX document.
pub(crate) fn read(loader: &mut Loader, content: &[u8]) -> Result<(), IntelError> {
    let mut scan = Scanner::new(content);
    while let Some(tag) = scan.next_start_tag() {
        let kind = kind(tag.name);
        if kind == Kind::Other {
            continue;
        }
        let line = scan.line_of(tag.at);
        let text = if tag.self_closing {
            &[][..]
        } else {
            scan.text()
        };
        let Ok(text) = std::str::from_utf8(text) else {
            loader.invalid(line, "element text is not valid UTF-8");
            continue;
        };
        let text = unescape(text);
        let values: Vec<&str> = text.split("##comma##").map(str::trim).collect();
        if kind == Kind::Name {
            values
                .iter()
                .filter(|v| !v.is_empty())
                .for_each(|_| loader.non_ip());
            continue;
        }
        let condition = attr(tag.attrs, b"condition").unwrap_or(b"Equals");
        address(loader, line, condition, &values)?;
    }
    Ok(())
}

/// Loads one `Address_Value`'s values under its condition.
fn address(
    loader: &mut Loader,
    line: usize,
    condition: &[u8],
    values: &[&str],
) -> Result<(), IntelError> {
    match condition {
        b"Equals" => values.iter().try_for_each(|v| loader.entry(line, v)),
        b"InclusiveBetween" => between(loader, line, values),
        other => {
            let other = String::from_utf8_lossy(other);
            loader.invalid(
                line,
                format!("unsupported Address_Value condition {:?}", clip(&other)),
            );
            Ok(())
        }
    }
}

/// Loads an `InclusiveBetween` range, `first##comma##last`.
fn between(loader: &mut Loader, line: usize, values: &[&str]) -> Result<(), IntelError> {
    let &[first, last] = values else {
        loader.invalid(
            line,
            format!("InclusiveBetween needs 2 addresses, got {}", values.len()),
        );
        return Ok(());
    };
    let range = match (first.parse::<IpAddr>(), last.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => Range::from_addrs(a, b),
        _ => Err(format!(
            "not an address range: {:?}",
            clip(&format!("{first} - {last}"))
        )),
    };
    match range {
        Ok(range) => loader.add(line, range, &format!("{first}-{last}")),
        Err(reason) => {
            loader.invalid(line, reason);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{detect_format, parse_list, ListFormat};

    const STIX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- <AddressObject:Address_Value>192.0.2.250</AddressObject:Address_Value> is commented out -->
<stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1" version="1.2">
 <stix:Indicators>
  <stix:Indicator>
   <indicator:Observable>
    <cybox:Object>
     <cybox:Properties xsi:type="AddressObject:AddressObjectType" category="ipv4-addr">
      <AddressObject:Address_Value condition="Equals">198.51.100.1</AddressObject:Address_Value>
     </cybox:Properties>
    </cybox:Object>
    <cybox:Object>
     <cybox:Properties xsi:type="AddressObject:AddressObjectType" category="ipv4-addr">
      <AddressObject:Address_Value condition="Equals" apply_condition="ANY"
        >203.0.113.1##comma##203.0.113.2 ##comma## 10.0.0.1</AddressObject:Address_Value>
     </cybox:Properties>
    </cybox:Object>
    <cybox:Object>
     <cybox:Properties category="ipv4-addr" xsi:type="AddressObject:AddressObjectType">
      <AddressObject:Address_Value apply_condition='ANY' condition='InclusiveBetween'
        >192.0.2.0##comma##192.0.2.255</AddressObject:Address_Value>
     </cybox:Properties>
    </cybox:Object>
    <cybox:Object>
      <AddressObject:Address_Value><![CDATA[2001:db8::/48]]></AddressObject:Address_Value>
      <AddressObject:Address_Value condition="InclusiveBetween"
        >198.51.100.9</AddressObject:Address_Value>
      <AddressObject:Address_Value condition="StartsWith">203.0.</AddressObject:Address_Value>
      <AddressObject:Address_Value>08.1.250.216</AddressObject:Address_Value>
    </cybox:Object>
    <cybox:Object>
     <cybox:Properties xsi:type="DomainNameObj:DomainNameObjectType" type="FQDN">
      <DomainNameObj:Value condition="Equals">example.com</DomainNameObj:Value>
     </cybox:Properties>
    </cybox:Object>
   </indicator:Observable>
  </stix:Indicator>
 </stix:Indicators>
</stix:STIX_Package>
"#;

    #[test]
    fn stix_addresses_lists_and_ranges() {
        assert_eq!(detect_format(STIX.as_bytes()), ListFormat::Stix);
        let (set, report) = parse_list("stix", STIX.as_bytes(), None).expect("loads");
        assert_eq!(report.entries, 5, "{report:?}");
        assert_eq!((report.skipped_private, report.skipped_non_ip), (1, 1));
        let lines: Vec<usize> = report.invalid.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![26, 28, 29], "{:?}", report.invalid);
        let hit = |ip: &str| {
            set.lookup(ip.parse().expect("test address"))
                .map(str::to_string)
        };
        assert_eq!(hit("198.51.100.1").as_deref(), Some("198.51.100.1"));
        assert_eq!(hit("203.0.113.2").as_deref(), Some("203.0.113.2"));
        assert_eq!(hit("192.0.2.128").as_deref(), Some("192.0.2.0-192.0.2.255"));
        assert_eq!(hit("2001:db8:0:ffff::1").as_deref(), Some("2001:db8::/48"));
        assert_eq!(hit("192.0.2.250").as_deref(), Some("192.0.2.0-192.0.2.255"));
        assert_eq!(hit("10.0.0.1"), None);
    }

    #[test]
    fn attributes_and_names() {
        assert_eq!(
            super::attr(b" a='1' condition=\"X\"", b"condition"),
            Some(&b"X"[..])
        );
        assert_eq!(super::attr(b" apply_condition=\"ANY\"", b"condition"), None);
        assert_eq!(
            super::kind(b"AddressObject:Address_Value"),
            super::Kind::Address
        );
        assert_eq!(super::kind(b"DomainNameObj:Value"), super::Kind::Name);
        assert_eq!(super::kind(b"cybox:Object"), super::Kind::Other);
        assert_eq!(super::unescape("a&amp;lt;"), "a&lt;");
    }
}
