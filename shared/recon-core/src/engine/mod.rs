//! The engine: feeds objects through the parsers and detectors, then applies what they found to
//! a [`Store`] in one commit.
//!
//! Observations from any number of objects are folded into one batch; [`Engine::commit`]
//! decides against the stored baselines and updates the aggregated findings. Because the
//! baseline decisions only depend on minima (see [`crate::detect::permissions`]), records are in
//! effect evaluated in event-time order across all inputs, whatever order the objects came in.

mod cloudtrail;
mod commit;
mod flowlog;
mod sides;

use std::fmt;

pub use cloudtrail::{Batch, TrailReader, BATCH_BYTES};
pub use commit::{Backfill, CommitReport};
pub use flowlog::FLOW_FIELDS;

use crate::catalog::{Catalog, CategoryMemo};
use crate::config::EngineConfig;
use crate::detect::ip_caller::IpCallerDetector;
use crate::detect::permissions::FirstCallTracker;
use crate::detect::port_probe::PortProbeDetector;
use crate::detect::portscan::{PortscanDetector, STATE_KEY};
use crate::input::{Limits, ObjectKind, Opened};
use crate::intel::ThreatIntel;
use crate::store::{Store, StoreError};
use crate::suppress::Suppressions;
use crate::time::Timestamp;

/// Most record issues kept (and logged) per object; the rest are counted.
pub const MAX_ISSUES_KEPT: usize = 50;

/// An object to scan.
#[derive(Clone, Debug)]
pub struct ObjectRef {
    /// Identity for "already processed" (S3 key and ETag, or a content digest).
    pub id: String,
    /// How to name it in messages (`s3://bucket/key` or a path).
    pub name: String,
    /// The Region named by the object's path, when any.
    pub region_hint: Option<String>,
}

/// What scanning one object did.
#[derive(Clone, Debug, Default)]
pub struct ObjectReport {
    /// The object's name.
    pub name: String,
    /// What it held.
    pub kind: Option<ObjectKind>,
    /// Records (or lines) read.
    pub records: u64,
    /// Records a detector evaluated.
    pub evaluated: u64,
    /// Records passed over as AWS service activity.
    pub service_activity: u64,
    /// Flow-log records not evaluated because no account was known: `account-id` `unknown`
    /// or absent, none in the object's path, and none configured.
    pub without_account: u64,
    /// Record issues (malformed records), the first [`MAX_ISSUES_KEPT`] of them.
    pub issues: Vec<RecordIssue>,
    /// All record issues, including those not kept.
    pub issue_count: u64,
    /// Why reading stopped early, if it did; records before it still count.
    pub fatal: Option<String>,
}

/// A malformed record: which object, which record, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordIssue {
    /// The object.
    pub object: String,
    /// The record's index (CloudTrail, zero-based) or line number (flow logs, one-based).
    pub position: u64,
    /// True for a line number, false for a record index.
    pub is_line: bool,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for RecordIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.is_line { "line" } else { "record" };
        write!(
            f,
            "{}: {what} {}: {}",
            self.object, self.position, self.reason
        )
    }
}

impl ObjectReport {
    fn issue(&mut self, position: u64, is_line: bool, reason: String) {
        self.issue_count += 1;
        if self.issues.len() < MAX_ISSUES_KEPT {
            let issue = RecordIssue {
                object: self.name.clone(),
                position,
                is_line,
                reason,
            };
            tracing::warn!(%issue, "malformed record skipped");
            self.issues.push(issue);
        }
    }
}

/// The detection engine.
pub struct Engine {
    config: EngineConfig,
    intel: ThreatIntel,
    catalog: &'static Catalog,
    api_memo: CategoryMemo,
    suppressions: Suppressions,
    limits: Limits,
    ip_callers: IpCallerDetector,
    first_calls: FirstCallTracker,
    portscan: PortscanDetector,
    probes: PortProbeDetector,
    /// Interfaces' own addresses learnt from records that do not say which side is theirs.
    sides: sides::SideLearner,
    /// Flow records not evaluated because their subject was past the limit
    /// ([`MAX_SUBJECTS`](crate::detect::portscan::MAX_SUBJECTS)).
    subjects_refused: u64,
    /// True once flow state was loaded or flow logs scanned: only then is it saved back.
    flow_state_touched: bool,
    accounts: Vec<(String, Timestamp)>,
    objects: Vec<String>,
    /// The last in-memory object's buffer, for the next (see [`Engine::take_scratch`]).
    scratch: Vec<u8>,
    /// Scratch space for [`Record::read_fast`](crate::cloudtrail::Record::read_fast).
    colons: Vec<usize>,
}

impl Engine {
    /// An engine with these settings, lists and rules.
    pub fn new(config: EngineConfig, intel: ThreatIntel, suppressions: Suppressions) -> Self {
        let portscan = PortscanDetector::new(config.portscan_ports, config.portscan_window_ms);
        Engine {
            portscan,
            config,
            intel,
            catalog: Catalog::builtin(),
            api_memo: CategoryMemo::default(),
            suppressions,
            limits: Limits::default(),
            ip_callers: IpCallerDetector::default(),
            first_calls: FirstCallTracker::default(),
            probes: PortProbeDetector::default(),
            sides: sides::SideLearner::default(),
            subjects_refused: 0,
            flow_state_touched: false,
            accounts: Vec::new(),
            scratch: Vec::new(),
            colons: Vec::new(),
            objects: Vec::new(),
        }
    }

    /// Replaces the input bounds.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The input bounds in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The buffer the last in-memory object left behind, for opening the next one elsewhere
    /// (see [`open_bytes_into`](crate::input::open_bytes_into)); empty when there is none.
    pub fn take_scratch(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.scratch)
    }

    /// Scans one opened object into the pending batch. Never fails: problems are in the report.
    pub fn scan(&mut self, object: &ObjectRef, opened: Opened) -> ObjectReport {
        let span = tracing::info_span!("object", name = %object.name);
        let _enter = span.enter();
        let mut report = ObjectReport {
            name: object.name.clone(),
            kind: Some(opened.kind),
            ..ObjectReport::default()
        };
        match opened.kind {
            kind if kind.is_cloudtrail() => {
                self.scan_cloudtrail(object, opened, &mut report);
            }
            ObjectKind::FlowLog | ObjectKind::FlowLogEvents => {
                self.flow_state_touched = true;
                self.scan_flowlog(object, opened, &mut report);
                if report.without_account > 0 {
                    tracing::warn!(
                        object = %object.name,
                        records = report.without_account,
                        "flow-log records with no account id (account-id unknown, none in the \
                         object's path) were not evaluated: give the account (recon scan \
                         --account-id)"
                    );
                }
            }
            kind => tracing::info!(kind = kind.describe(), "not a log; object passed over"),
        }
        self.objects.push(object.id.clone());
        report
    }

    /// Loads the Portscan windows a previous batch left open, so a scan spanning delivered
    /// files is still one scan. Call once before scanning flow logs.
    pub async fn load_flow_state<S: Store>(&mut self, store: &S) -> Result<(), StoreError> {
        if let Some(bytes) = store.load_state(STATE_KEY).await? {
            self.portscan.import(&bytes);
            self.flow_state_touched = true;
        }
        Ok(())
    }

    /// Object ids scanned into the pending batch.
    pub fn pending_objects(&self) -> &[String] {
        &self.objects
    }
}
