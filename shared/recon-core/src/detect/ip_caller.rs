//! Recon:IAMUser/TorIPCaller, MaliciousIPCaller and MaliciousIPCaller.Custom: an API that lists
//! or describes resources (successful or denied) called from an address on a Tor exit list, a
//! managed threat list or a custom threat list. Write calls are not Recon findings, and a
//! trusted list wins over every threat list (the lookup already returns nothing then).
//!
//! One finding per (type, account, principal, remote IP), as GuardDuty aggregates them.

use std::collections::HashMap;

use super::candidate::{add_api, keep_last, Candidate};
use super::permissions::ApiObservation;
use crate::finding::MAX_EVIDENCE_ITEMS;
use crate::finding::{ApiCall, ApiEvidence, Evidence, FindingType, Severity, Subject};
use crate::intel::{IntelRef, Matches};

/// Aggregates listed-address discovery calls of one batch.
#[derive(Debug, Default)]
pub struct IpCallerDetector {
    pending: HashMap<String, Candidate>,
}

/// The finding types a lookup result raises, with the entry that raised each.
pub fn raised<'a>(m: &Matches<'a>) -> impl Iterator<Item = (FindingType, IntelRef<'a>)> {
    [
        (FindingType::TorIpCaller, m.tor),
        (FindingType::MaliciousIpCallerCustom, m.custom),
        (FindingType::MaliciousIpCaller, m.managed),
    ]
    .into_iter()
    .filter_map(|(t, hit)| hit.map(|h| (t, h)))
}

impl IpCallerDetector {
    /// Folds one discovery call whose remote address matched `matches`.
    pub fn observe(&mut self, obs: &ApiObservation, matches: &Matches<'_>) {
        for (finding_type, hit) in raised(matches) {
            let mut c = candidate(finding_type, obs);
            c.intel = Some(hit.to_hit());
            let id = c.finding_id();
            match self.pending.get_mut(&id) {
                Some(existing) => merge(existing, c),
                None => {
                    self.pending.insert(id, c);
                }
            }
        }
    }

    /// Candidates pending commit.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes the pending candidates.
    pub fn drain(&mut self) -> Vec<Candidate> {
        let mut v: Vec<Candidate> = self.pending.drain().map(|(_, c)| c).collect();
        v.sort_by_key(|c| c.first_seen);
        v
    }
}

/// A one-call candidate of `finding_type` for `obs`.
pub fn candidate(finding_type: FindingType, obs: &ApiObservation) -> Candidate {
    Candidate {
        finding_type,
        severity: Severity::Medium,
        account_id: obs.account_id.clone(),
        region: obs.region.clone(),
        subject: Subject::Principal(obs.principal.clone()),
        subject_key: obs.principal.key.clone(),
        remote_ip: obs.remote_ip,
        intel: None,
        count: 1,
        first_seen: obs.time,
        last_seen: obs.time,
        evidence: Evidence::Api(ApiEvidence {
            apis: vec![ApiCall {
                service: obs.service.clone(),
                api: obs.api.clone(),
                count: 1,
                last_error: obs.error_code.clone(),
            }],
            event_ids: obs.event_id.iter().cloned().collect(),
            user_agent: obs.user_agent.clone(),
            ..ApiEvidence::default()
        }),
    }
}

/// Folds `new` (same key) into `into`, keeping the latest subject details.
pub fn merge(into: &mut Candidate, new: Candidate) {
    into.count += new.count;
    if new.last_seen >= into.last_seen {
        into.subject = new.subject;
        into.region = new.region;
        into.last_seen = new.last_seen;
        into.intel = new.intel.or(into.intel.take());
        into.remote_ip = new.remote_ip.or(into.remote_ip);
    }
    into.first_seen = into.first_seen.min(new.first_seen);
    into.severity = into.severity.max(new.severity);
    if let (Evidence::Api(a), Evidence::Api(b)) = (&mut into.evidence, new.evidence) {
        for call in b.apis {
            add_api(&mut a.apis, call);
        }
        a.event_ids.extend(b.event_ids);
        keep_last(&mut a.event_ids, MAX_EVIDENCE_ITEMS);
        if b.user_agent.is_some() {
            a.user_agent = b.user_agent;
        }
    }
}

/// Folds a network candidate `new` (same key) into `into`.
pub fn merge_network(into: &mut Candidate, new: Candidate) {
    into.count += new.count;
    into.first_seen = into.first_seen.min(new.first_seen);
    if new.last_seen >= into.last_seen {
        into.last_seen = new.last_seen;
        into.subject = new.subject;
        into.intel = new.intel.or(into.intel.take());
    }
    into.severity = into.severity.max(new.severity);
    if let (Evidence::Network(a), Evidence::Network(b)) = (&mut into.evidence, new.evidence) {
        for p in b.ports {
            crate::detect::candidate::add_port(&mut a.ports, p);
        }
        a.sources.extend(b.sources);
        a.sources.truncate(MAX_EVIDENCE_ITEMS);
        a.distinct_ports = a.distinct_ports.max(b.distinct_ports);
        a.blocked = a.blocked && b.blocked;
        if a.protocol.is_none() {
            a.protocol = b.protocol;
        }
    }
}
