//! Suppression rules, as GuardDuty's filters: a finding that matches every condition of a rule
//! is not reported. Rules come from a TOML file:
//!
//! ```toml
//! [[rule]]
//! name = "CSPM scanner"                       # shown in logs
//! finding_type = "Recon:IAMUser/ResourcePermissions"
//! principal = "arn:aws:iam::*:role/prowler-*" # `*` matches any run of characters
//!
//! [[rule]]
//! name = "vulnerability scanner"
//! finding_type = "Recon:EC2/Portscan"
//! instance = "i-0123456789abcdef0"
//! ```
//!
//! Conditions: `finding_type`, `account`, `principal`, `cidr` (the remote address), `instance`,
//! `interface`, `port` (any local port probed or remote port scanned). Unknown keys are an
//! error, so a typo never silently disables a rule.

use std::net::IpAddr;

use serde::Deserialize;

use crate::finding::FindingType;

/// The suppression rules in force.
#[derive(Debug, Default, Clone)]
pub struct Suppressions {
    rules: Vec<Rule>,
}

/// One rule: every condition given must match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for logs.
    pub name: String,
    /// Finding type, as GuardDuty names it.
    pub finding_type: Option<String>,
    /// Account id.
    pub account: Option<String>,
    /// Principal key or ARN; `*` is a wildcard.
    pub principal: Option<String>,
    /// Remote address range, e.g. `203.0.113.0/24` or one address.
    pub cidr: Option<String>,
    /// Instance id.
    pub instance: Option<String>,
    /// Network interface id.
    pub interface: Option<String>,
    /// Port.
    pub port: Option<u16>,
    #[serde(skip)]
    parsed_type: Option<FindingType>,
    #[serde(skip)]
    parsed_cidr: Option<(IpAddr, u8)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<Rule>,
}

/// A suppression file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SuppressionError {
    /// Not valid TOML of the expected shape.
    #[error("{source_name}: {message}")]
    Parse {
        /// The file.
        source_name: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A rule has a bad value.
    #[error("{source_name}: rule {rule:?}: {message}")]
    Rule {
        /// The file.
        source_name: String,
        /// The rule's name.
        rule: String,
        /// What is wrong.
        message: String,
    },
}

/// What a finding is about, for matching.
#[derive(Debug, Default, Clone, Copy)]
pub struct Facts<'a> {
    /// The finding type.
    pub finding_type: Option<FindingType>,
    /// The account.
    pub account: Option<&'a str>,
    /// Principal key and, if different, ARN.
    pub principal: [Option<&'a str>; 2],
    /// Remote address.
    pub remote_ip: Option<IpAddr>,
    /// Instance id.
    pub instance: Option<&'a str>,
    /// Interface id.
    pub interface: Option<&'a str>,
    /// Ports (local ports probed, or remote ports scanned).
    pub ports: &'a [u16],
}

impl Suppressions {
    /// Parses a rule file; `source_name` names it in errors.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, SuppressionError> {
        let file: File = toml::from_str(text).map_err(|e| SuppressionError::Parse {
            source_name: source_name.into(),
            message: e.to_string(),
        })?;
        let mut rules = file.rule;
        for rule in &mut rules {
            rule.prepare().map_err(|message| SuppressionError::Rule {
                source_name: source_name.into(),
                rule: rule.name.clone(),
                message,
            })?;
        }
        for (i, rule) in rules.iter().enumerate() {
            if rules[..i].iter().any(|r| r.name == rule.name) {
                return Err(SuppressionError::Rule {
                    source_name: source_name.into(),
                    rule: rule.name.clone(),
                    message: "another rule has this name (a name tells rules apart in logs \
                              and in the stored state)"
                        .into(),
                });
            }
        }
        Ok(Suppressions { rules })
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule in force whose [`Rule::identity`] is `identity`, if any: none once the rule
    /// is removed or any of its conditions changed. A bare name (state written before rules
    /// were stored with a hash of their conditions) names the rule of that name.
    pub fn by_identity(&self, identity: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.identity() == identity)
            .or_else(|| self.rules.iter().find(|r| r.name == identity))
    }

    /// The first rule that suppresses a finding with these facts.
    pub fn matching(&self, facts: &Facts<'_>) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(facts))
    }
}

impl Rule {
    /// The rule's name and a hash of its conditions: what the stored state remembers of a
    /// rule that dropped a finding, so that the rule is known to be in force only while
    /// neither changes.
    pub fn identity(&self) -> String {
        let conditions = [
            &self.finding_type,
            &self.account,
            &self.principal,
            &self.cidr,
            &self.instance,
            &self.interface,
            &self.port.map(|p| p.to_string()),
        ];
        // FNV-1a: the same on every machine and in every build, unlike `std`'s hashers.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for c in conditions {
            let bytes = c.as_deref().map_or(&[0xff][..], str::as_bytes);
            for &b in bytes.iter().chain(&[0]) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        format!("{} #{hash:016x}", self.name)
    }

    fn prepare(&mut self) -> Result<(), String> {
        if let Some(t) = &self.finding_type {
            let parsed =
                FindingType::from_name(t).ok_or_else(|| format!("unknown finding type {t:?}"))?;
            self.parsed_type = Some(parsed);
        }
        if let Some(c) = &self.cidr {
            self.parsed_cidr = Some(parse_cidr(c).ok_or_else(|| format!("bad cidr {c:?}"))?);
        }
        let empty = self.finding_type.is_none()
            && self.account.is_none()
            && self.principal.is_none()
            && self.cidr.is_none()
            && self.instance.is_none()
            && self.interface.is_none()
            && self.port.is_none();
        if empty {
            return Err("a rule needs at least one condition".into());
        }
        Ok(())
    }

    fn matches(&self, f: &Facts<'_>) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        self.parsed_type.is_none_or(|t| f.finding_type == Some(t))
            && same(&self.account, f.account)
            && same(&self.instance, f.instance)
            && same(&self.interface, f.interface)
            && self.port.is_none_or(|p| f.ports.contains(&p))
            && self.principal.as_deref().is_none_or(|pat| {
                f.principal
                    .iter()
                    .flatten()
                    .any(|p| glob(pat.as_bytes(), p.as_bytes()))
            })
            && self
                .parsed_cidr
                .is_none_or(|c| f.remote_ip.is_some_and(|ip| in_cidr(c, ip)))
    }
}

/// `*` matches any run of bytes; everything else matches itself.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a.parse::<IpAddr>().ok()?, l.parse::<u8>().ok()?),
        None => {
            let a = s.parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

fn in_cidr((net, len): (IpAddr, u8), ip: IpAddr) -> bool {
    let prefix = |bits: u128, width: u32| {
        let shift = width - u32::from(len);
        bits.checked_shr(shift).unwrap_or(0)
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            prefix(u32::from(n).into(), 32) == prefix(u32::from(i).into(), 32)
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => prefix(n.into(), 128) == prefix(i.into(), 128),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_s_identity_follows_its_name_and_every_condition() {
        let rules = |text: &str| Suppressions::parse("r.toml", text).expect("valid rules");
        let base = "[[rule]]\nname = \"a\"\nport = 22\n";
        let id = rules(base).rules[0].identity();
        // Stored between runs: a change of the hash would take every stored suppression for
        // one by a rule no longer in force.
        assert_eq!(id, "a #10b4012b5b0d20d7");
        for changed in [
            base.replace("\"a\"", "\"b\""),
            base.replace("22", "23"),
            format!("{base}cidr = \"203.0.113.0/24\"\n"),
            format!("{base}instance = \"i-0123456789abcdef0\"\n"),
        ] {
            assert_ne!(rules(&changed).rules[0].identity(), id, "{changed}");
        }
        // One condition's value is not taken for another's.
        let acct = rules("[[rule]]\nname = \"a\"\naccount = \"x\"\n").rules[0].identity();
        let inst = rules("[[rule]]\nname = \"a\"\ninstance = \"x\"\n").rules[0].identity();
        assert_ne!(acct, inst);
        assert!(rules(base).by_identity(&id).is_some());
        assert!(rules(&base.replace("22", "23")).by_identity(&id).is_none());
        assert!(
            rules(base).by_identity("a").is_some(),
            "a bare name, as stored before"
        );
        assert!(rules(base).by_identity("b").is_none());
    }

    const RULES: &str = r#"
[[rule]]
name = "prowler"
finding_type = "Recon:IAMUser/ResourcePermissions"
principal = "arn:aws:iam::*:role/prowler-*"

[[rule]]
name = "office"
cidr = "203.0.113.0/24"

[[rule]]
name = "scanner box"
finding_type = "Recon:EC2/Portscan"
instance = "i-0123456789abcdef0"
"#;

    #[test]
    fn rules_match_on_every_condition() {
        let s = Suppressions::parse("rules.toml", RULES).expect("valid");
        assert_eq!(s.len(), 3);
        let prowler = Facts {
            finding_type: Some(FindingType::ResourcePermissions),
            principal: [Some("arn:aws:iam::111122223333:role/prowler-scan"), None],
            ..Facts::default()
        };
        assert_eq!(
            s.matching(&prowler).map(|r| r.name.as_str()),
            Some("prowler")
        );
        let other_type = Facts {
            finding_type: Some(FindingType::UserPermissions),
            ..prowler
        };
        assert!(s.matching(&other_type).is_none());
        let office = Facts {
            remote_ip: "203.0.113.77".parse().ok(),
            ..Facts::default()
        };
        assert_eq!(s.matching(&office).map(|r| r.name.as_str()), Some("office"));
        let outside = Facts {
            remote_ip: "203.0.114.1".parse().ok(),
            ..Facts::default()
        };
        assert!(s.matching(&outside).is_none());
        let scan = Facts {
            finding_type: Some(FindingType::Portscan),
            instance: Some("i-0123456789abcdef0"),
            ..Facts::default()
        };
        assert!(s.matching(&scan).is_some());
    }

    #[test]
    fn bad_files_are_errors_that_name_the_problem() {
        let typo = "[[rule]]\nname = \"x\"\nprincipel = \"a\"\n";
        let e = Suppressions::parse("s.toml", typo).expect_err("typo");
        assert!(e.to_string().contains("principel"), "{e}");
        let bad_type = "[[rule]]\nname = \"x\"\nfinding_type = \"Recon:Nope\"\n";
        assert!(Suppressions::parse("s.toml", bad_type).is_err());
        let empty = "[[rule]]\nname = \"x\"\n";
        assert!(Suppressions::parse("s.toml", empty).is_err());
        let bad_cidr = "[[rule]]\nname = \"x\"\ncidr = \"10.0.0.0/33\"\n";
        assert!(Suppressions::parse("s.toml", bad_cidr).is_err());
    }

    #[test]
    fn cidr_and_glob_edges() {
        assert!(glob(b"a*c", b"abbbc") && glob(b"*", b"") && !glob(b"a*c", b"abd"));
        let v6 = parse_cidr("2001:db8::/32").expect("v6");
        assert!(in_cidr(v6, "2001:db8:1::1".parse().expect("ip")));
        assert!(!in_cidr(v6, "203.0.113.1".parse().expect("ip")));
        assert!(in_cidr(
            parse_cidr("0.0.0.0/0").expect("any"),
            "198.51.100.1".parse().expect("ip")
        ));
    }

    #[test]
    fn regression_a_bare_name_that_looks_hashed_still_names_its_rule() {
        // A rule named after a change ticket, "ports #00000000000c0ffe", stored bare (as
        // before rule identities): read as "name #hash", it matched no identity and the rule
        // was taken for removed.
        let name = "ports #00000000000c0ffe";
        let text = format!("[[rule]]\nname = \"{name}\"\nport = 22\n");
        let rules = Suppressions::parse("r.toml", &text).expect("valid rules");
        assert!(rules.by_identity(&rules.rules[0].identity()).is_some());
        assert!(
            rules.by_identity(name).is_some(),
            "a bare name, as stored before"
        );
    }
}
