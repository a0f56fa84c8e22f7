//! Applying a batch to the store: account learning periods, per-principal baselines, and the
//! aggregation of candidates into findings (with suppression rules applied first).
//!
//! Order of writes: baselines, then findings, then the processed-object markers, then a flush.
//! A crash before the markers means the objects are scanned again: baselines are unchanged by
//! that (they keep minima), so no first-seen finding repeats.

use std::collections::HashMap;

use super::Engine;
use crate::detect::permissions::{is_new, new_call_candidates, PRINCIPAL_FIRST_SEEN};
use crate::detect::portscan::STATE_KEY;
use crate::detect::Candidate;
use crate::finding::{Finding, FindingType};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

/// What a commit changed.
#[derive(Clone, Debug, Default)]
pub struct CommitReport {
    /// Findings created or updated, each once, in their final state.
    pub findings: Vec<Finding>,
    /// How many of them are new.
    pub created: usize,
    /// Candidates dropped by suppression rules: (finding type, rule name).
    pub suppressed: Vec<(FindingType, String)>,
    /// Objects marked processed.
    pub objects: usize,
    /// Accounts whose events in this batch start before what the store had seen of them.
    pub backfills: Vec<Backfill>,
}

/// A batch that brings an account's events from before the first one the store had seen (older
/// logs scanned after newer ones). The learning period moves back with them, but the calls an
/// earlier batch took into the baselines while it was learning are not looked at again, so
/// first-seen findings among them are missed: scan the older logs first, or all in one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backfill {
    /// The account.
    pub account_id: String,
    /// Its first event in this batch.
    pub first_in_batch: Timestamp,
    /// Its first event as stored before.
    pub first_stored: Timestamp,
}

/// Per account: first observed event, and the end of its learning period.
type Accounts = HashMap<String, (Timestamp, Option<Timestamp>)>;

/// How often a conflicting finding write is retried before giving up.
const MAX_CONFLICT_RETRIES: usize = 5;

/// The name reported for a rule that suppressed a scan in a version that did not store it.
const UNNAMED_RULE: &str = "(a rule in force when an earlier version dropped the scan)";

impl Engine {
    /// Decides the pending batch against `store`, updates findings, marks the scanned objects
    /// processed and flushes. `now` stamps CreatedAt/UpdatedAt.
    pub async fn commit<S: Store>(
        &mut self,
        store: &mut S,
        now: Timestamp,
    ) -> Result<CommitReport, StoreError> {
        let mut report = CommitReport::default();
        let learning_ends = self.learning_ends(store, &mut report).await?;
        let mut candidates = self.first_call_candidates(store, &learning_ends).await?;
        candidates.extend(self.ip_callers.drain());
        candidates.extend(self.portscan.drain());
        let unplaced = self.sides.finish();
        if unplaced > 0 {
            tracing::info!(
                records = unplaced,
                "flow records whose interface's own address never showed (no flow-direction, \
                 one peer only) were not evaluated"
            );
        }
        let (probes, suppressed_probes) = self.probes.drain();
        candidates.extend(probes);
        report.suppressed.extend(
            suppressed_probes
                .into_iter()
                .map(|rule| (FindingType::PortProbeUnprotectedPort, rule)),
        );
        for (rule, c) in self.portscan.drain_held_back() {
            // A scan a rule dropped went on: dropped again while the rule is in force,
            // unchanged. A window suppressed by an earlier version, which did not store the
            // rule, stays suppressed as it was then.
            let in_force = match rule.as_str() {
                "" => Some(UNNAMED_RULE),
                _ => self
                    .suppressions
                    .by_identity(&rule)
                    .map(|r| r.name.as_str()),
            };
            if let Some(name) = in_force {
                report
                    .suppressed
                    .push((FindingType::Portscan, name.to_owned()));
                continue;
            }
            if let Some(remote) = c.remote_ip {
                self.portscan.unsuppress(&c.subject_key, remote);
            }
            candidates.push(c);
        }
        let mut finals: HashMap<String, Finding> = HashMap::new();
        for c in candidates {
            let mut ports = Vec::new();
            // Probes met the rules one by one (`PortProbeDetector`): the finding they add up
            // to, which names one interface and every port, is not matched again.
            let rule = match c.finding_type {
                FindingType::PortProbeUnprotectedPort => None,
                _ => self.suppressions.matching(&c.facts(&mut ports)),
            };
            if let Some(rule) = rule {
                tracing::debug!(finding_type = %c.finding_type, rule = %rule.name, "finding suppressed");
                report.suppressed.push((c.finding_type, rule.name.clone()));
                if let (FindingType::Portscan, Some(remote)) = (c.finding_type, c.remote_ip) {
                    self.portscan
                        .suppress(&c.subject_key, remote, &rule.identity());
                }
                continue;
            }
            let (finding, created) = self.save_candidate(store, c, now).await?;
            report.created += usize::from(created && !finals.contains_key(&finding.id));
            finals.insert(finding.id.clone(), finding);
        }
        if self.flow_state_touched {
            store.save_state(STATE_KEY, self.portscan.export()).await?;
        }
        let objects = std::mem::take(&mut self.objects);
        store.mark_processed(&objects).await?;
        store.flush().await?;
        report.objects = objects.len();
        report.findings = finals.into_values().collect();
        report
            .findings
            .sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.id.cmp(&b.id)));
        Ok(report)
    }

    /// Per account: when its observation began, and when its learning period ends (`None`
    /// when the learning period is off).
    async fn learning_ends<S: Store>(
        &mut self,
        store: &mut S,
        report: &mut CommitReport,
    ) -> Result<Accounts, StoreError> {
        let mut accounts = HashMap::new();
        let period = self.config.learning_period_ms;
        for (account, first) in std::mem::take(&mut self.accounts) {
            let stored = store.load_account(&account).await?;
            if let Some(stored) = stored.filter(|s| first < *s && period > 0) {
                tracing::warn!(
                    account = %account,
                    first_in_batch = %first.to_rfc3339(),
                    first_stored = %stored.to_rfc3339(),
                    "older logs after newer ones: calls earlier runs took into the baselines \
                     while learning are not looked at again; scan the older logs first, or all \
                     in one run"
                );
                report.backfills.push(Backfill {
                    account_id: account.clone(),
                    first_in_batch: first,
                    first_stored: stored,
                });
            }
            let start = store.observe_account(&account, first).await?;
            let end = (period > 0).then(|| Timestamp(start.0.saturating_add(period)));
            accounts.insert(account, (start, end));
        }
        Ok(accounts)
    }

    async fn first_call_candidates<S: Store>(
        &mut self,
        store: &mut S,
        accounts: &Accounts,
    ) -> Result<Vec<Candidate>, StoreError> {
        let mut out = Vec::new();
        for group in self.first_calls.drain() {
            let Some(first) = group.calls.iter().map(|(_, c)| c.first_seen).min() else {
                continue;
            };
            let mut keys: Vec<(String, Timestamp)> = group
                .calls
                .iter()
                .map(|(api, c)| (api.clone(), c.first_seen))
                .collect();
            keys.push((PRINCIPAL_FIRST_SEEN.to_owned(), first));
            let before = store.record_first_calls(&group.principal, &keys).await?;
            let principal_first = before
                .last()
                .copied()
                .flatten()
                .map_or(first, |b| b.min(first));
            let mut new_calls = Vec::new();
            let mut account_first = principal_first;
            for ((_, c), before) in group.calls.into_iter().zip(before) {
                let (start, end) = accounts
                    .get(&c.account_id)
                    .copied()
                    .unwrap_or((first, None));
                account_first = account_first.min(start);
                if is_new(c.first_seen, before, end) {
                    new_calls.push(c);
                }
            }
            out.extend(new_call_candidates(
                new_calls,
                principal_first,
                account_first,
            ));
        }
        Ok(out)
    }

    /// Merges a candidate into its stored finding, retrying on a concurrent writer.
    async fn save_candidate<S: Store>(
        &self,
        store: &mut S,
        c: Candidate,
        now: Timestamp,
    ) -> Result<(Finding, bool), StoreError> {
        let id = c.finding_id();
        let mut attempt = 0;
        loop {
            let existing = store.load_finding(&id).await?;
            let finding = c.clone().apply(existing.as_ref(), now);
            match store
                .save_finding(&finding, existing.as_ref().map(|f| f.updated_at))
                .await
            {
                Ok(()) => return Ok((finding, existing.is_none())),
                Err(StoreError::Conflict { .. }) if attempt < MAX_CONFLICT_RETRIES => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }
}
