//! Recon:IAMUser/TorIPCaller, MaliciousIPCaller and MaliciousIPCaller.Custom: an API that lists
//! or describes resources (successful or denied) called from an address on a Tor exit list, a
//! managed threat list or a custom threat list. Write calls are not Recon findings, and a
//! trusted list wins over every threat list (the lookup already returns nothing then).
//!
//! One finding per (type, account, principal, remote IP), as GuardDuty aggregates them.

use std::collections::HashMap;

use super::candidate::Candidate;
use super::permissions::ApiObservation;
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
                Some(existing) => existing.absorb(c),
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
