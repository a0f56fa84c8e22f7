//! The CloudTrail half of the engine: the per-record hot path.
//!
//! Every record's end and its key fields come from one structural scan; only records whose API
//! is in the discovery catalog (a small share of real trails) are read further, and then only
//! the values the detectors use ([`Record::read_fast`]), with serde over the whole record when
//! that reading does not apply.

use super::{Engine, ObjectRef, ObjectReport};
use crate::catalog::{strip_version_suffix, Category};
use crate::cloudtrail::record::{
    is_aws_service_activity, is_service_source, nonempty, principal, remote_ip,
};
use crate::cloudtrail::{Layout, RawRecord, ReadIssue, Record, RecordReader};
use crate::detect::permissions::ApiObservation;
use crate::input::{is_account_id, is_region, Content, Opened};
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
                    let msg = format!("{reason} (after {records} records)");
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
        let f = &raw.fields;
        if f.needs_full_parse {
            return self.on_full_record(object, raw.bytes, report);
        }
        if f.event_type == Some(b"AwsCloudTrailInsight") {
            return Ok(());
        }
        // Without these two the full parse finds the fallbacks (`@timestamp` in exports,
        // `userIdentity.accountId`, `--account-id`).
        let time = f.event_time.and_then(Timestamp::parse_bytes);
        let account = f.recipient_account_id.filter(|a| is_account_id(a));
        let (Some(time), Some(account)) = (time, account) else {
            return self.on_full_record(object, raw.bytes, report);
        };
        self.observe_account(account, time);
        let (Some(source), Some(name)) = (f.event_source, f.event_name) else {
            return Err("missing eventSource or eventName".into());
        };
        let category = self.api_memo.category(self.catalog, source, name);
        if category.map_err(|e| e.to_string())?.is_none() {
            return Ok(());
        }
        // Most categorised calls in a busy trail are AWS services' own (CloudTrail checking its
        // bucket ACL, Config, Trusted Advisor): their source is a service name, so no parse.
        if f.source_ip_address.is_some_and(is_service_source) {
            report.service_activity += 1;
            return Ok(());
        }
        self.on_full_record(object, raw.bytes, report)
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
        match self
            .accounts
            .iter_mut()
            .find(|(a, _)| a.as_bytes() == account)
        {
            Some((_, t)) => *t = (*t).min(time),
            None => {
                let account = String::from_utf8_lossy(account).into_owned();
                self.accounts.push((account, time));
            }
        }
    }
}
