//! Recon:IAMUser/NetworkPermissions, ResourcePermissions and UserPermissions: a principal calls,
//! for the first time ever, an API of that category (see `api-categories.md`) after the
//! account's learning period.
//!
//! The decision only depends on minima (the account's first observed event, each principal's
//! first call of each API), so it gives the same answer whatever order objects arrive in: a call
//! is new when the principal had never called that API before and the call happened after the
//! learning period ended. A principal first seen after the learning period has no history, so
//! all its discovery calls are new. Denied calls count. A learning period of 0 turns the
//! learning period off: every first call is new.
//!
//! Severity is Medium, or High when the caller used temporary credentials created on an EC2
//! instance (stolen instance credentials are the classic way in).

use std::collections::HashMap;
use std::net::IpAddr;

use super::candidate::{add_new_apis, Candidate};
use super::ip_caller::candidate;
use crate::catalog::Category;
use crate::finding::{Evidence, FindingType, Principal, Severity};
use crate::time::Timestamp;

/// One discovery call, normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiObservation {
    /// `eventTime`.
    pub time: Timestamp,
    /// The account the call was made in.
    pub account_id: String,
    /// `awsRegion`.
    pub region: String,
    /// The caller.
    pub principal: Principal,
    /// `eventSource`.
    pub service: String,
    /// `eventName` without a version suffix.
    pub api: String,
    /// The API's category.
    pub category: Category,
    /// The caller's address, when `sourceIPAddress` held one.
    pub remote_ip: Option<IpAddr>,
    /// `errorCode`.
    pub error_code: Option<String>,
    /// `eventID`.
    pub event_id: Option<String>,
    /// `userAgent`.
    pub user_agent: Option<String>,
}

impl ApiObservation {
    /// The baseline key of the API: `service:api`.
    pub fn api_key(&self) -> String {
        format!(
            "{}:{}",
            self.service.trim_end_matches(".amazonaws.com"),
            self.api
        )
    }
}

/// The key under which a principal's own first appearance is kept in its baseline.
pub const PRINCIPAL_FIRST_SEEN: &str = "*";

/// First calls of one batch, per principal and API.
#[derive(Debug, Default)]
pub struct FirstCallTracker {
    calls: HashMap<(String, String), Candidate>,
}

/// A principal's first calls, ready to be checked against its stored baseline.
#[derive(Debug)]
pub struct PrincipalCalls {
    /// The principal's baseline key.
    pub principal: String,
    /// `(api key, candidate)` pairs, earliest first.
    pub calls: Vec<(String, Candidate)>,
}

impl FirstCallTracker {
    /// Folds one discovery call.
    pub fn observe(&mut self, obs: &ApiObservation) {
        let Some(finding_type) = obs.category.finding_type() else {
            return;
        };
        let mut c = candidate(finding_type, obs);
        c.severity = severity(&obs.principal);
        let key = (obs.principal.key.clone(), obs.api_key());
        match self.calls.get_mut(&key) {
            Some(existing) => existing.absorb(c),
            None => {
                self.calls.insert(key, c);
            }
        }
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Takes the pending calls, grouped by principal.
    pub fn drain(&mut self) -> Vec<PrincipalCalls> {
        let mut by: HashMap<String, Vec<(String, Candidate)>> = HashMap::new();
        for ((principal, api), c) in self.calls.drain() {
            by.entry(principal).or_default().push((api, c));
        }
        let mut out: Vec<PrincipalCalls> = by
            .into_iter()
            .map(|(principal, mut calls)| {
                calls.sort_by(|a, b| a.1.first_seen.cmp(&b.1.first_seen).then(a.0.cmp(&b.0)));
                PrincipalCalls { principal, calls }
            })
            .collect();
        out.sort_by(|a, b| a.principal.cmp(&b.principal));
        out
    }
}

/// Severity of a permissions finding for this caller.
pub fn severity(p: &Principal) -> Severity {
    if p.instance_credentials {
        Severity::High
    } else {
        Severity::Medium
    }
}

/// Whether a first call is new: never called before, and made after the learning period
/// (`learning_end`; `None` when the learning period is off).
pub fn is_new(
    first_call: Timestamp,
    before: Option<Timestamp>,
    learning_end: Option<Timestamp>,
) -> bool {
    before.is_none() && learning_end.is_none_or(|end| first_call >= end)
}

/// Groups the new calls of one principal into one candidate per finding type, recording what
/// was new and the principal's baseline age.
pub fn new_call_candidates(
    new_calls: Vec<Candidate>,
    principal_first_seen: Timestamp,
    account_first_seen: Timestamp,
) -> Vec<Candidate> {
    let mut by_type: Vec<(FindingType, Candidate)> = Vec::new();
    for mut c in new_calls {
        if let Evidence::Api(e) = &mut c.evidence {
            e.new_apis = e.apis.iter().map(|a| a.api.clone()).collect();
            e.principal_first_seen = Some(principal_first_seen);
            e.baseline_age_ms = Some(c.first_seen.0 - principal_first_seen.0);
            e.account_first_seen = Some(account_first_seen);
        }
        match by_type.iter_mut().find(|(t, _)| *t == c.finding_type) {
            Some((_, into)) => {
                let new_apis = match &c.evidence {
                    Evidence::Api(e) => e.new_apis.clone(),
                    Evidence::Network(_) => Vec::new(),
                };
                into.absorb(c);
                if let Evidence::Api(e) = &mut into.evidence {
                    add_new_apis(&mut e.new_apis, new_apis);
                }
            }
            None => by_type.push((c.finding_type, c)),
        }
    }
    by_type.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(principal: &str, api: &str, category: Category, t: i64) -> ApiObservation {
        ApiObservation {
            time: Timestamp(t),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            principal: Principal {
                key: principal.into(),
                ..Principal::default()
            },
            service: "ec2.amazonaws.com".into(),
            api: api.into(),
            category,
            remote_ip: None,
            error_code: None,
            event_id: Some(format!("e-{t}")),
            user_agent: None,
        }
    }

    #[test]
    fn novelty_needs_no_history_and_an_ended_learning_period() {
        let end = Some(Timestamp(100));
        assert!(is_new(Timestamp(150), None, end));
        assert!(
            !is_new(Timestamp(50), None, end),
            "inside the learning period"
        );
        assert!(
            !is_new(Timestamp(150), Some(Timestamp(10)), end),
            "seen before"
        );
        assert!(
            !is_new(Timestamp(150), Some(Timestamp(200)), end),
            "older data arriving late"
        );
        assert!(is_new(Timestamp(5), None, None), "learning period off");
    }

    #[test]
    fn first_calls_aggregate_per_principal_and_api() {
        let mut t = FirstCallTracker::default();
        t.observe(&obs("p1", "DescribeInstances", Category::Resource, 30));
        t.observe(&obs("p1", "DescribeInstances", Category::Resource, 10));
        t.observe(&obs("p1", "DescribeSecurityGroups", Category::Network, 20));
        t.observe(&obs("p2", "ListUsers", Category::User, 5));
        t.observe(&obs("p2", "ListThings", Category::Discovery, 5));
        let drained = t.drain();
        assert_eq!(drained.len(), 2);
        let p1 = &drained[0];
        assert_eq!(p1.principal, "p1");
        assert_eq!(p1.calls[0].0, "ec2:DescribeInstances");
        assert_eq!(p1.calls[0].1.first_seen, Timestamp(10));
        assert_eq!(p1.calls[0].1.count, 2);
        assert_eq!(p1.calls[1].1.finding_type, FindingType::NetworkPermissions);
        assert_eq!(
            drained[1].calls.len(),
            1,
            "uncategorised discovery is not baselined"
        );
        assert!(t.is_empty());
    }

    #[test]
    fn instance_credentials_raise_severity() {
        let mut p = Principal::default();
        assert_eq!(severity(&p), Severity::Medium);
        p.instance_credentials = true;
        assert_eq!(severity(&p), Severity::High);
    }

    #[test]
    fn new_calls_group_by_type_with_evidence() {
        let mut t = FirstCallTracker::default();
        t.observe(&obs("p", "DescribeInstances", Category::Resource, 200));
        t.observe(&obs("p", "DescribeSnapshots", Category::Resource, 210));
        t.observe(&obs("p", "DescribeVpcs", Category::Network, 220));
        let calls = t
            .drain()
            .remove(0)
            .calls
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        let out = new_call_candidates(calls, Timestamp(100), Timestamp(0));
        assert_eq!(out.len(), 2);
        let res = out
            .iter()
            .find(|c| c.finding_type == FindingType::ResourcePermissions);
        let Some(Evidence::Api(e)) = res.map(|c| &c.evidence) else {
            panic!("resource candidate");
        };
        assert_eq!(e.new_apis, ["DescribeInstances", "DescribeSnapshots"]);
        assert_eq!(e.baseline_age_ms, Some(100));
    }
}
