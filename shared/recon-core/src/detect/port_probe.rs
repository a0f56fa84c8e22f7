//! Recon:EC2/PortProbeUnprotectedPort: inbound traffic from an address on a threat list
//! (managed or custom; a trusted list wins) that was ACCEPTed to a port of an instance, i.e. a
//! known scanner reached an open port. REJECTed probes are not findings, nor are replies to
//! connections the instance opened itself. Severity Low, High when the port is Elasticsearch's
//! (9200 or 9300), as GuardDuty rates them.
//!
//! One finding per (instance or interface, remote address).

use std::collections::HashMap;
use std::net::IpAddr;

use super::candidate::{add_port, Candidate};
use crate::finding::{
    Ec2Subject, Evidence, FindingType, NetworkEvidence, PortCount, Severity, Subject,
};
use crate::flowlog::{port_name, protocol_name};
use crate::intel::IntelRef;
use crate::suppress::Suppressions;
use crate::time::Timestamp;

/// Ports whose exposure GuardDuty rates High.
pub const HIGH_SEVERITY_PORTS: [u16; 2] = [9200, 9300];

/// One accepted inbound flow from a listed address.
#[derive(Debug)]
pub struct Probe<'a> {
    /// The account.
    pub account_id: &'a str,
    /// The Region.
    pub region: &'a str,
    /// The instance or interface id the finding is about.
    pub subject_key: &'a str,
    /// The instance side.
    pub subject: &'a Ec2Subject,
    /// The scanner's address.
    pub remote_ip: IpAddr,
    /// The list entry it matched.
    pub hit: IntelRef<'a>,
    /// The local port probed.
    pub port: u16,
    /// IANA protocol number.
    pub protocol: Option<u8>,
    /// Flow start.
    pub time: Timestamp,
    /// `object:line` of the flow.
    pub source: String,
}

/// Aggregates probes of one batch.
#[derive(Debug, Default)]
pub struct PortProbeDetector {
    pending: HashMap<String, Candidate>,
    /// Findings with a suppressed probe, and the first rule that suppressed one.
    suppressed: HashMap<String, String>,
}

/// Severity of a probe of `port`.
pub fn severity(port: u16) -> Severity {
    if HIGH_SEVERITY_PORTS.contains(&port) {
        Severity::High
    } else {
        Severity::Low
    }
}

impl PortProbeDetector {
    /// Folds one probe, unless one of `rules` suppresses it.
    ///
    /// Rules are matched against each probe, not against the finding the probes add up to: a
    /// finding holds several ports, each its own exposure with its own severity, and a rule for
    /// port 22 must not hide a High probe of 9200 from the same host.
    pub fn observe(&mut self, p: &Probe<'_>, rules: &Suppressions) {
        let c = Candidate {
            finding_type: FindingType::PortProbeUnprotectedPort,
            severity: severity(p.port),
            account_id: p.account_id.to_owned(),
            region: p.region.to_owned(),
            subject: Subject::Ec2(p.subject.clone()),
            subject_key: p.subject_key.to_owned(),
            remote_ip: Some(p.remote_ip),
            intel: Some(p.hit.to_hit()),
            count: 1,
            first_seen: p.time,
            last_seen: p.time,
            evidence: Evidence::Network(NetworkEvidence {
                protocol: p.protocol.map(protocol_label),
                ports: vec![PortCount {
                    port: p.port,
                    name: port_name(p.port).map(str::to_owned),
                    count: 1,
                    local: p.subject.local_ip,
                    protocol: p.protocol.map(protocol_label),
                }],
                distinct_ports: None,
                distinct_ports_at_least: false,
                blocked: false,
                rejected: 0,
                sources: vec![p.source.clone()],
            }),
        };
        let id = c.finding_id();
        let mut ports = Vec::new();
        let suppressed = (!rules.is_empty())
            .then(|| rules.matching(&c.facts(&mut ports)))
            .flatten();
        if let Some(rule) = suppressed {
            self.suppressed
                .entry(id)
                .or_insert_with(|| rule.name.clone());
            return;
        }
        match self.pending.get_mut(&id) {
            Some(into) => into.absorb(c),
            None => {
                self.pending.insert(id, c);
            }
        }
    }

    /// Takes the pending candidates, and the names of the rules that suppressed every probe of
    /// a finding (one a finding; a finding with probes left is not counted as suppressed).
    pub fn drain(&mut self) -> (Vec<Candidate>, Vec<String>) {
        let mut suppressed: Vec<(String, String)> = self
            .suppressed
            .drain()
            .filter(|(id, _)| !self.pending.contains_key(id))
            .collect();
        suppressed.sort();
        let mut v: Vec<Candidate> = self.pending.drain().map(|(_, c)| c).collect();
        v.sort_by_key(|c| c.first_seen);
        (v, suppressed.into_iter().map(|(_, rule)| rule).collect())
    }
}

/// `TCP`, `UDP`, … or the protocol number.
pub fn protocol_label(p: u8) -> String {
    protocol_name(p).map_or_else(|| p.to_string(), str::to_owned)
}

/// Keeps `ports` bounded while adding `port`.
pub fn add_port_count(ports: &mut Vec<PortCount>, port: u16, count: u64) {
    add_port(
        ports,
        PortCount {
            port,
            name: port_name(port).map(str::to_owned),
            count,
            local: None,
            protocol: None,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::ListKind;

    fn probe(port: u16, t: i64, subject: &Ec2Subject) -> Probe<'_> {
        Probe {
            account_id: "111122223333",
            region: "us-east-1",
            subject_key: "i-0123456789abcdef0",
            subject,
            remote_ip: "198.51.100.7".parse().expect("ip"),
            hit: IntelRef {
                kind: ListKind::Managed,
                list: "scanners",
                entry: "198.51.100.0/24",
            },
            port,
            protocol: Some(6),
            time: Timestamp(t),
            source: format!("f.log:{t}"),
        }
    }

    #[test]
    fn probes_of_one_host_aggregate_and_elasticsearch_is_high() {
        let subject = Ec2Subject::default();
        let mut d = PortProbeDetector::default();
        let none = Suppressions::default();
        d.observe(&probe(22, 10, &subject), &none);
        d.observe(&probe(22, 20, &subject), &none);
        d.observe(&probe(9200, 30, &subject), &none);
        let (out, suppressed) = d.drain();
        assert!(suppressed.is_empty());
        assert_eq!(out.len(), 1);
        let c = &out[0];
        assert_eq!(c.count, 3);
        assert_eq!(c.severity, Severity::High);
        assert_eq!((c.first_seen, c.last_seen), (Timestamp(10), Timestamp(30)));
        let Evidence::Network(n) = &c.evidence else {
            panic!("network evidence")
        };
        // The port that makes it High comes first, then the most probed.
        let ports: Vec<(u16, u64)> = n.ports.iter().map(|p| (p.port, p.count)).collect();
        assert_eq!(ports, [(9200, 1), (22, 2)]);
        assert_eq!(n.ports[1].name.as_deref(), Some("SSH"));
        assert_eq!(
            c.intel.as_ref().map(|h| h.entry.as_str()),
            Some("198.51.100.0/24")
        );
    }

    #[test]
    fn other_ports_are_low() {
        assert_eq!(severity(443), Severity::Low);
        assert_eq!(severity(9300), Severity::High);
    }
}
