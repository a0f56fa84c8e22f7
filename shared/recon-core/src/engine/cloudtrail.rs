//! The CloudTrail half of the engine: the per-record hot path.
//!
//! Every record's end and its key fields come from one structural scan; only records whose API
//! is in the discovery catalog (a small share of real trails) are read further, and then only
//! the values the detectors use ([`Record::read_fast`]), with serde over the whole record when
//! that reading does not apply.

use std::ops::Range;

use super::{Engine, ObjectRef, ObjectReport};
use crate::catalog::{strip_version_suffix, Category};
use crate::catalog::{Catalog, CategoryMemo};
use crate::cloudtrail::record::{
    is_aws_service_activity, is_service_source, nonempty, principal, remote_ip,
};
use crate::cloudtrail::scan::KeyFields;
use crate::cloudtrail::{Layout, RawRecord, ReadIssue, Record, RecordReader};
use crate::detect::permissions::ApiObservation;
use crate::input::{is_account_id, is_region, Content, Limits, ObjectKind, Opened};
use crate::time::Timestamp;

impl Engine {
    pub(super) fn scan_cloudtrail(
        &mut self,
        object: &ObjectRef,
        opened: Opened,
        report: &mut ObjectReport,
    ) {
        let layout = Layout::of(opened.kind).unwrap_or(Layout::Envelope);
        let max = self.limits.max_record_bytes;
        match opened.content {
            Content::Bytes(b) => {
                let mut reader = RecordReader::from_bytes(b, layout, max);
                self.read_records(object, &mut reader, report);
                self.scratch = reader.into_buffer();
            }
            Content::Stream(r) => {
                self.read_records(object, &mut RecordReader::new(r, layout, max), report)
            }
        }
    }

    fn read_records<R: std::io::Read>(
        &mut self,
        object: &ObjectRef,
        reader: &mut RecordReader<R>,
        report: &mut ObjectReport,
    ) {
        while let Some(item) = reader.next_record() {
            match item {
                Ok(raw) => {
                    report.records += 1;
                    if let Err(reason) = self.on_record(object, &raw, report) {
                        report.issue(raw.index, false, reason);
                    }
                }
                Err(ReadIssue::Record { index, reason }) => report.issue(index, false, reason),
                Err(ReadIssue::Fatal { records, reason }) => {
                    let msg = fatal_message(records, &reason);
                    tracing::warn!(object = %object.name, reason = %msg, "object read stopped early");
                    report.fatal = Some(msg);
                }
            }
        }
    }

    fn on_record(
        &mut self,
        object: &ObjectRef,
        raw: &RawRecord<'_>,
        report: &mut ObjectReport,
    ) -> Result<(), String> {
        let verdict = triage(&mut self.api_memo, self.catalog, &raw.fields);
        if let Some((account, time)) = verdict.account {
            self.observe_account(account, time);
        }
        match verdict.next {
            Next::Done => Ok(()),
            Next::Service => {
                report.service_activity += 1;
                Ok(())
            }
            Next::Read => self.on_full_record(object, raw.bytes, report),
            Next::Fail(reason) => Err(reason),
        }
    }

    /// Scans a CloudTrail object that a [`TrailReader`] read (on another thread): the same report, findings and state as [`Engine::scan`] of the object.
    pub fn scan_read(
        &mut self,
        object: &ObjectRef,
        kind: ObjectKind,
        batches: impl IntoIterator<Item = Batch>,
    ) -> ObjectReport {
        let span = tracing::info_span!("object", name = %object.name);
        let _enter = span.enter();
        let mut report = ObjectReport {
            name: object.name.clone(),
            kind: Some(kind),
            ..ObjectReport::default()
        };
        for batch in batches {
            report.records += batch.records;
            report.service_activity += batch.service_activity;
            for (account, time) in &batch.accounts {
                self.observe_account(account.as_bytes(), *time);
            }
            for piece in batch.pieces {
                match piece {
                    Piece::Issue { index, reason } => report.issue(index, false, reason),
                    Piece::Record { index, bytes } => {
                        let record = batch.arena.get(bytes).unwrap_or_default();
                        if let Err(reason) = self.on_full_record(object, record, &mut report) {
                            report.issue(index, false, reason);
                        }
                    }
                }
            }
            if let Some(msg) = batch.fatal {
                tracing::warn!(object = %object.name, reason = %msg, "object read stopped early");
                report.fatal = Some(msg);
            }
        }
        self.objects.push(object.id.clone());
        report
    }

    fn on_full_record(
        &mut self,
        object: &ObjectRef,
        bytes: &[u8],
        report: &mut ObjectReport,
    ) -> Result<(), String> {
        let rec = match Record::read_fast(bytes, &mut self.colons) {
            Some(rec) => rec,
            None => serde_json::from_slice(bytes).map_err(|e| e.to_string())?,
        };
        if rec.event_type.as_deref() == Some("AwsCloudTrailInsight") {
            return Ok(());
        }
        let time = nonempty(&rec.event_time)
            .or(nonempty(&rec.export_timestamp))
            .and_then(Timestamp::parse)
            .ok_or("missing or invalid eventTime")?;
        let id = rec.user_identity.as_ref().ok_or("missing userIdentity")?;
        // Only real account ids: anonymous S3 requests carry `ANONYMOUS_PRINCIPAL` in
        // `userIdentity.accountId`.
        let real = |a: &&str| is_account_id(a.as_bytes());
        let account = nonempty(&rec.recipient_account_id)
            .filter(real)
            .or(nonempty(&id.account_id).filter(real))
            .or(self.config.account_id.as_deref())
            .map(str::to_owned);
        if let Some(a) = &account {
            self.observe_account(a.as_bytes(), time);
        }
        let (Some(source), Some(name)) = (nonempty(&rec.event_source), nonempty(&rec.event_name))
        else {
            return Err("missing eventSource or eventName".into());
        };
        // Usually answered already by `on_record`'s lookup, from the memo.
        let category = self
            .api_memo
            .category(self.catalog, source.as_bytes(), name.as_bytes());
        let Some(category) = category.ok().flatten() else {
            return Ok(());
        };
        let source_ip = nonempty(&rec.source_ip_address);
        if is_aws_service_activity(id, source_ip) {
            report.service_activity += 1;
            return Ok(());
        }
        let account = account.ok_or("no account id in the record; pass --account-id")?;
        report.evaluated += 1;
        let obs = ApiObservation {
            time,
            principal: principal(id, Some(&account)),
            account_id: account,
            region: nonempty(&rec.aws_region)
                .filter(|r| is_region(r))
                .or(object.region_hint.as_deref())
                .unwrap_or(&self.config.default_region)
                .to_owned(),
            service: source.to_owned(),
            api: strip_version_suffix(name).to_owned(),
            category,
            remote_ip: remote_ip(source_ip),
            error_code: nonempty(&rec.error_code).map(str::to_owned),
            event_id: nonempty(&rec.event_id).map(str::to_owned),
            user_agent: nonempty(&rec.user_agent).map(str::to_owned),
        };
        self.observe_call(&obs);
        Ok(())
    }

    fn observe_call(&mut self, obs: &ApiObservation) {
        if let Some(ip) = obs.remote_ip {
            let matches = self.intel.lookup(ip);
            self.ip_callers.observe(obs, &matches);
        }
        if obs.category != Category::Discovery {
            self.first_calls.observe(obs);
        }
    }

    fn observe_account(&mut self, account: &[u8], time: Timestamp) {
        first_time(&mut self.accounts, account, time);
    }
}

/// Keeps `time` as `account`'s first in `accounts` when it is earlier than the one kept.
fn first_time(accounts: &mut Vec<(String, Timestamp)>, account: &[u8], time: Timestamp) {
    match accounts.iter_mut().find(|(a, _)| a.as_bytes() == account) {
        Some((_, t)) => *t = (*t).min(time),
        None => {
            let account = String::from_utf8_lossy(account).into_owned();
            accounts.push((account, time));
        }
    }
}

/// What the fast path decides about a record from its key fields alone.
struct Verdict<'a> {
    /// The record's account and time, for the account's first event.
    account: Option<(&'a [u8], Timestamp)>,
    next: Next,
}

/// What is left to do with a record after [`triage`].
enum Next {
    /// Nothing: an Insights event, or an API outside the catalog.
    Done,
    /// Counted as AWS service activity.
    Service,
    /// Read in full ([`Engine::on_full_record`]).
    Read,
    /// Malformed, for this reason.
    Fail(String),
}

/// The fast path's decision, which needs no engine state beyond the category memo: records
/// outside the catalog and AWS services' calls stop here, most of a trail.
fn triage<'a>(memo: &mut CategoryMemo, catalog: &Catalog, f: &KeyFields<'a>) -> Verdict<'a> {
    let verdict = |account, next| Verdict { account, next };
    if f.needs_full_parse {
        return verdict(None, Next::Read);
    }
    if f.event_type == Some(b"AwsCloudTrailInsight") {
        return verdict(None, Next::Done);
    }
    // Without these two the full parse finds the fallbacks (`@timestamp` in exports,
    // `userIdentity.accountId`, `--account-id`).
    let time = f.event_time.and_then(Timestamp::parse_bytes);
    let account = f.recipient_account_id.filter(|a| is_account_id(a));
    let (Some(time), Some(account)) = (time, account) else {
        return verdict(None, Next::Read);
    };
    let seen = Some((account, time));
    let (Some(source), Some(name)) = (f.event_source, f.event_name) else {
        return verdict(seen, Next::Fail("missing eventSource or eventName".into()));
    };
    match memo.category(catalog, source, name) {
        Err(e) => verdict(seen, Next::Fail(e.to_string())),
        Ok(None) => verdict(seen, Next::Done),
        // Most categorised calls in a busy trail are AWS services' own (CloudTrail checking
        // its bucket ACL, Config, Trusted Advisor): their source is a service name, so no parse.
        Ok(Some(_)) if f.source_ip_address.is_some_and(is_service_source) => {
            verdict(seen, Next::Service)
        }
        Ok(Some(_)) => verdict(seen, Next::Read),
    }
}

fn fatal_message(records: u64, reason: &str) -> String {
    format!("{reason} (after {records} records)")
}

/// Records kept in one [`Batch`] before it is handed over, by default: a bound on what waits
/// between the reading thread and the scan, however many records of an object need reading in
/// full.
pub const BATCH_BYTES: usize = 1 << 20;

/// Records to read in full and issues in one [`Batch`] at most, whatever their size (a file of
/// malformed records makes many issues and no records).
const MAX_PIECES: usize = 8192;

/// Part of a CloudTrail object as a [`TrailReader`] hands it to [`Engine::scan_read`]: the
/// records to read in full (copied out, a small share of most trails), the issues in record
/// order, and what the rest came to.
#[derive(Debug, Default)]
pub struct Batch {
    /// The bytes of the records kept.
    arena: Vec<u8>,
    /// Records to read in full and record issues, in record order.
    pieces: Vec<Piece>,
    /// Records read.
    records: u64,
    /// Records passed over as AWS service activity.
    service_activity: u64,
    /// Each account seen and its earliest event time.
    accounts: Vec<(String, Timestamp)>,
    /// Why reading stopped early, in the last batch.
    fatal: Option<String>,
}

/// One step of a [`Batch`], in record order.
#[derive(Debug)]
enum Piece {
    /// Record `index` is malformed.
    Issue { index: u64, reason: String },
    /// Record `index`, at `bytes` of the batch's arena, is to be read in full.
    Record { index: u64, bytes: Range<usize> },
}

impl Batch {
    /// About how many bytes it holds: the records to read in full, and the issues.
    pub fn size(&self) -> usize {
        let issues: usize = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Issue { reason, .. } => reason.len(),
                Piece::Record { .. } => 0,
            })
            .sum();
        self.arena.len() + issues + self.pieces.len() * std::mem::size_of::<Piece>()
    }

    fn observe_account(&mut self, account: &[u8], time: Timestamp) {
        first_time(&mut self.accounts, account, time);
    }
}

/// Reads CloudTrail objects for an [`Engine`] ([`Engine::trail_reader`]), on a thread of its
/// own: as [`Engine::scan`] would, as far as that needs no engine state.
pub struct TrailReader {
    catalog: &'static Catalog,
    limits: Limits,
    memo: CategoryMemo,
    batch_bytes: usize,
}

impl Engine {
    /// A reader of CloudTrail objects with this engine's catalog and limits, for
    /// [`Engine::scan_read`].
    pub fn trail_reader(&self) -> TrailReader {
        TrailReader {
            catalog: self.catalog,
            limits: self.limits,
            memo: CategoryMemo::default(),
            batch_bytes: BATCH_BYTES,
        }
    }
}

impl TrailReader {
    /// Hands over a batch whenever the records kept reach `bytes` (default [`BATCH_BYTES`]).
    pub fn with_batch_bytes(mut self, bytes: usize) -> Self {
        self.batch_bytes = bytes;
        self
    }

    /// Reads one CloudTrail object, handing the result to `send` in [`Batch`]es (at the end,
    /// and whenever the records kept reach the batch size, or the records and issues 8,192);
    /// stops early when `send` returns
    /// false. Returns the object's buffer, when it was held in memory, for reuse.
    pub fn read(&mut self, opened: Opened, mut send: impl FnMut(Batch) -> bool) -> Option<Vec<u8>> {
        let layout = Layout::of(opened.kind).unwrap_or(Layout::Envelope);
        let max = self.limits.max_record_bytes;
        match opened.content {
            Content::Bytes(b) => {
                let mut reader = RecordReader::from_bytes(b, layout, max);
                self.batches(&mut reader, &mut send);
                Some(reader.into_buffer())
            }
            Content::Stream(r) => {
                self.batches(&mut RecordReader::new(r, layout, max), &mut send);
                None
            }
        }
    }

    fn batches<R: std::io::Read>(
        &mut self,
        reader: &mut RecordReader<R>,
        send: &mut impl FnMut(Batch) -> bool,
    ) {
        let mut batch = Batch::default();
        while let Some(item) = reader.next_record() {
            match item {
                Ok(raw) => {
                    batch.records += 1;
                    let verdict = triage(&mut self.memo, self.catalog, &raw.fields);
                    if let Some((account, time)) = verdict.account {
                        batch.observe_account(account, time);
                    }
                    let index = raw.index;
                    match verdict.next {
                        Next::Done => {}
                        Next::Service => batch.service_activity += 1,
                        Next::Fail(reason) => batch.pieces.push(Piece::Issue { index, reason }),
                        Next::Read => {
                            let start = batch.arena.len();
                            batch.arena.extend_from_slice(raw.bytes);
                            let bytes = start..batch.arena.len();
                            batch.pieces.push(Piece::Record { index, bytes });
                        }
                    }
                }
                Err(ReadIssue::Record { index, reason }) => {
                    batch.pieces.push(Piece::Issue { index, reason });
                }
                Err(ReadIssue::Fatal { records, reason }) => {
                    batch.fatal = Some(fatal_message(records, &reason));
                }
            }
            let full = batch.arena.len() >= self.batch_bytes || batch.pieces.len() >= MAX_PIECES;
            if full && !send(std::mem::take(&mut batch)) {
                return;
            }
        }
        send(batch);
    }
}
