//! A candidate finding: what one batch of activity says about one aggregation key, and how it
//! merges into the finding already stored under that key.

use std::net::IpAddr;

use super::port_probe::HIGH_SEVERITY_PORTS;
use crate::finding::{
    ApiCall, ApiEvidence, Evidence, Finding, FindingType, IntelHit, NetworkEvidence, PortCount,
    Severity, Subject, MAX_EVIDENCE_ITEMS,
};
use crate::suppress::Facts;
use crate::time::Timestamp;

/// New activity for one finding key.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The finding type.
    pub finding_type: FindingType,
    /// Severity of this activity.
    pub severity: Severity,
    /// Account of the activity.
    pub account_id: String,
    /// Region of the activity.
    pub region: String,
    /// Who or what it is about.
    pub subject: Subject,
    /// The subject's part of the aggregation key (principal key, instance or interface id).
    pub subject_key: String,
    /// The remote address (part of the key for the types keyed by it, see
    /// [`FindingType::keyed_by_remote_ip`]; the latest caller's address otherwise).
    pub remote_ip: Option<IpAddr>,
    /// The list entry the remote address matched.
    pub intel: Option<IntelHit>,
    /// Occurrences.
    pub count: u64,
    /// First occurrence (event time).
    pub first_seen: Timestamp,
    /// Last occurrence (event time).
    pub last_seen: Timestamp,
    /// What was seen.
    pub evidence: Evidence,
}

impl Candidate {
    /// The deterministic id of the finding this candidate aggregates into.
    pub fn finding_id(&self) -> String {
        let keyed = self
            .remote_ip
            .filter(|_| self.finding_type.keyed_by_remote_ip());
        Finding::make_id(
            self.finding_type,
            &self.account_id,
            &self.subject_key,
            keyed,
        )
    }

    /// The facts suppression rules match on; `ports` is scratch space for the port list.
    pub fn facts<'a>(&'a self, ports: &'a mut Vec<u16>) -> Facts<'a> {
        let mut facts = Facts {
            finding_type: Some(self.finding_type),
            account: Some(&self.account_id),
            remote_ip: self.remote_ip,
            ..Facts::default()
        };
        match &self.subject {
            Subject::Principal(p) => facts.principal = [Some(&p.key), p.arn.as_deref()],
            Subject::Ec2(e) => {
                facts.instance = e.instance_id.as_deref();
                facts.interface = e.interface_id.as_deref();
            }
        }
        if let Evidence::Network(n) = &self.evidence {
            ports.extend(n.ports.iter().map(|p| p.port));
            facts.ports = ports;
        }
        facts
    }

    /// Folds `new` (same finding key, same batch) into this candidate: counts add up, the
    /// span widens, the earliest activity's Region and the latest activity's address and list
    /// entry win (and subject, for a principal; an instance keeps the interface its activity
    /// began on), and the evidence lists merge within their bounds.
    ///
    /// The Region stays with the earliest activity: it places the finding in Security Hub
    /// (`ProductArn`), and a finding that moved Region on update would be a second finding
    /// there, created with `CreatedAt` before its `UpdatedAt`.
    pub fn absorb(&mut self, new: Candidate) {
        self.count += new.count;
        let earlier = new.first_seen < self.first_seen;
        if earlier {
            self.region.clone_from(&new.region);
        }
        self.first_seen = self.first_seen.min(new.first_seen);
        self.severity = self.severity.max(new.severity);
        // A principal is described as last seen; an instance by the interface its activity
        // began on (where a scan was raised: what suppression rules are matched against, in
        // one batch as over several).
        let subject_from_new = match self.subject {
            Subject::Principal(_) => new.last_seen >= self.last_seen,
            Subject::Ec2(_) => earlier,
        };
        if new.last_seen >= self.last_seen {
            self.last_seen = new.last_seen;
            self.intel = new.intel.or(self.intel.take());
            self.remote_ip = new.remote_ip.or(self.remote_ip);
        }
        if subject_from_new {
            self.subject = new.subject;
        }
        match (&mut self.evidence, new.evidence) {
            (Evidence::Api(a), Evidence::Api(b)) => {
                for call in b.apis {
                    add_api(&mut a.apis, call);
                }
                a.event_ids.extend(b.event_ids);
                keep_last(&mut a.event_ids, MAX_EVIDENCE_ITEMS);
                if b.user_agent.is_some() {
                    a.user_agent = b.user_agent;
                }
            }
            (Evidence::Network(a), Evidence::Network(b)) => {
                for p in b.ports {
                    add_port(&mut a.ports, p);
                }
                a.sources.extend(b.sources);
                a.sources.truncate(MAX_EVIDENCE_ITEMS);
                a.distinct_ports = a.distinct_ports.max(b.distinct_ports);
                a.distinct_ports_at_least |= b.distinct_ports_at_least;
                a.blocked = a.blocked && b.blocked;
                a.rejected = a.rejected.saturating_add(b.rejected);
                if a.protocol.is_none() {
                    a.protocol = b.protocol;
                }
            }
            _ => {}
        }
    }

    /// The finding after this activity: a new one, or `existing` updated. `UpdatedAt` strictly
    /// increases over the stored value even when the clock does not; the Region, and with it
    /// the partition, are the stored finding's (see [`Candidate::absorb`]).
    pub fn apply(self, existing: Option<&Finding>, now: Timestamp) -> Finding {
        let id = self.finding_id();
        let Some(old) = existing else {
            return Finding {
                id,
                finding_type: self.finding_type,
                severity: self.severity,
                account_id: self.account_id,
                partition: crate::asff::partition_of(&self.region).into(),
                region: self.region,
                subject: self.subject,
                remote_ip: self.remote_ip,
                intel: self.intel,
                count: self.count,
                first_seen: self.first_seen,
                last_seen: self.last_seen,
                created_at: now,
                updated_at: now,
                evidence: self.evidence,
            };
        };
        let newer = self.last_seen >= old.last_seen;
        Finding {
            id,
            finding_type: self.finding_type,
            severity: self.severity.max(old.severity),
            account_id: self.account_id,
            region: old.region.clone(),
            partition: old.partition.clone(),
            subject: match (&old.subject, newer) {
                // An instance keeps the interface its activity began on.
                (Subject::Ec2(_), _) if self.first_seen >= old.first_seen => old.subject.clone(),
                (_, true) | (Subject::Ec2(_), false) => self.subject,
                (Subject::Principal(_), false) => old.subject.clone(),
            },
            remote_ip: if newer {
                self.remote_ip.or(old.remote_ip)
            } else {
                old.remote_ip
            },
            intel: if newer {
                self.intel.or_else(|| old.intel.clone())
            } else {
                old.intel.clone()
            },
            count: old.count.saturating_add(self.count),
            first_seen: old.first_seen.min(self.first_seen),
            last_seen: old.last_seen.max(self.last_seen),
            created_at: old.created_at,
            updated_at: now.max(Timestamp(old.updated_at.0 + 1)),
            evidence: merge_evidence(&old.evidence, self.evidence, newer),
        }
    }
}

fn merge_evidence(old: &Evidence, new: Evidence, newer: bool) -> Evidence {
    match (old, new) {
        (Evidence::Api(o), Evidence::Api(n)) => Evidence::Api(merge_api(o, n, newer)),
        (Evidence::Network(o), Evidence::Network(n)) => Evidence::Network(merge_net(o, n)),
        (_, n) => n,
    }
}

fn merge_api(old: &ApiEvidence, new: ApiEvidence, newer: bool) -> ApiEvidence {
    let mut apis = old.apis.clone();
    for call in new.apis {
        add_api(&mut apis, call);
    }
    let mut new_apis = old.new_apis.clone();
    add_new_apis(&mut new_apis, new.new_apis);
    let mut event_ids = old.event_ids.clone();
    event_ids.extend(new.event_ids);
    keep_last(&mut event_ids, MAX_EVIDENCE_ITEMS);
    ApiEvidence {
        apis,
        event_ids,
        user_agent: if newer {
            new.user_agent.or_else(|| old.user_agent.clone())
        } else {
            old.user_agent.clone()
        },
        new_apis,
        principal_first_seen: min_opt(old.principal_first_seen, new.principal_first_seen),
        baseline_age_ms: old.baseline_age_ms.or(new.baseline_age_ms),
        account_first_seen: min_opt(old.account_first_seen, new.account_first_seen),
    }
}

fn merge_net(old: &NetworkEvidence, new: NetworkEvidence) -> NetworkEvidence {
    let mut ports = old.ports.clone();
    for p in new.ports {
        add_port(&mut ports, p);
    }
    let mut sources = old.sources.clone();
    sources.extend(new.sources);
    keep_last(&mut sources, MAX_EVIDENCE_ITEMS);
    NetworkEvidence {
        protocol: new.protocol.or_else(|| old.protocol.clone()),
        ports,
        distinct_ports: new.distinct_ports.max(old.distinct_ports),
        distinct_ports_at_least: new.distinct_ports_at_least || old.distinct_ports_at_least,
        blocked: new.blocked && old.blocked,
        rejected: new.rejected.saturating_add(old.rejected),
        sources,
    }
}

/// Adds APIs to a bounded list of what was new, in order, each once: the same list whether the
/// calls came in one run or several.
pub fn add_new_apis(new_apis: &mut Vec<String>, more: Vec<String>) {
    for api in more {
        if !new_apis.contains(&api) && new_apis.len() < MAX_EVIDENCE_ITEMS {
            new_apis.push(api);
        }
    }
}

/// Adds a call to a bounded API list, most frequent first.
pub fn add_api(apis: &mut Vec<ApiCall>, call: ApiCall) {
    match apis
        .iter_mut()
        .find(|a| a.api == call.api && a.service == call.service)
    {
        Some(a) => {
            a.count += call.count;
            if call.last_error.is_some() {
                a.last_error = call.last_error;
            }
        }
        None => apis.push(call),
    }
    apis.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.api.cmp(&b.api)));
    apis.truncate(MAX_EVIDENCE_ITEMS);
}

/// Adds a port to a bounded port list.
///
/// Ports that rate a probe High (9200, 9300) come first, then the most frequent: the bounded
/// list, the title and the network details of a High finding always name what made it High.
pub fn add_port(ports: &mut Vec<PortCount>, p: PortCount) {
    // A port stored without its address or protocol (by an earlier version) is the same port.
    let same_local = |x: &PortCount| x.local == p.local || x.local.is_none() || p.local.is_none();
    let same_protocol =
        |x: &PortCount| x.protocol == p.protocol || x.protocol.is_none() || p.protocol.is_none();
    match ports
        .iter_mut()
        .find(|x| x.port == p.port && same_local(x) && same_protocol(x))
    {
        Some(x) => {
            x.count += p.count;
            x.local = x.local.or(p.local);
            if x.protocol.is_none() {
                x.protocol.clone_from(&p.protocol);
            }
        }
        None => ports.push(p),
    }
    let high = |p: &PortCount| HIGH_SEVERITY_PORTS.contains(&p.port);
    ports.sort_by(|a, b| {
        high(b)
            .cmp(&high(a))
            .then_with(|| b.count.cmp(&a.count))
            .then_with(|| a.port.cmp(&b.port))
    });
    ports.truncate(MAX_EVIDENCE_ITEMS);
}

/// Keeps the last `n` items.
pub fn keep_last<T>(v: &mut Vec<T>, n: usize) {
    if v.len() > n {
        v.drain(..v.len() - n);
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(port: u16, count: u64, local: Option<&str>) -> PortCount {
        PortCount {
            port,
            name: None,
            count,
            local: local.map(|l| l.parse().expect("ip")),
            protocol: None,
        }
    }

    #[test]
    fn a_port_stored_without_its_address_is_counted_once() {
        // A finding stored by the version before ports kept their address: its ports came
        // back twice, once without an address and once with one.
        let mut ports = vec![port(22, 3, None), port(3389, 1, Some("10.0.1.15"))];
        add_port(&mut ports, port(22, 2, Some("10.0.1.15")));
        add_port(&mut ports, port(3389, 1, Some("10.0.2.5")));
        assert_eq!(
            ports,
            [
                port(22, 5, Some("10.0.1.15")),
                port(3389, 1, Some("10.0.1.15")),
                port(3389, 1, Some("10.0.2.5")),
            ]
        );
    }
}
