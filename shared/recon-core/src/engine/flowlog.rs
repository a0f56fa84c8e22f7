//! The flow-log half of the engine: the per-line hot path.
//!
//! For each data record it works out which side is the instance (the `flow-direction` field,
//! else the side whose address the interface was already seen with, else the private side),
//! who opened the connection, and hands outbound attempts to the Portscan detector and inbound
//! accepted flows from listed addresses to the PortProbeUnprotectedPort detector.

use std::net::IpAddr;

use super::sides::{interface_key, Flow, Held};
use super::{Engine, ObjectRef, ObjectReport};
use crate::cloudtrail::{Layout, ReadIssue, RecordReader};
use crate::detect::port_probe::Probe;
use crate::detect::portscan::{Attempt, InterfaceSide, SubjectInfo, MAX_SUBJECTS};
use crate::finding::Ec2Subject;
use crate::flowlog::LineParser;
use crate::flowlog::{
    initiator, Action, Direction, Field, FlowLogReader, FlowRecord, Format, Initiator, LineError,
};
use crate::input::{account_from_key, Content, ObjectKind, Opened};
use crate::intel::is_reserved;

/// The flow-log fields the detectors read; the engine skips the other columns unparsed.
pub const FLOW_FIELDS: &[Field] = &[
    Field::AccountId,
    Field::InterfaceId,
    Field::InstanceId,
    Field::VpcId,
    Field::SubnetId,
    Field::Region,
    Field::SrcAddr,
    Field::DstAddr,
    Field::PktSrcAddr,
    Field::PktDstAddr,
    Field::SrcPort,
    Field::DstPort,
    Field::Protocol,
    Field::TcpFlags,
    Field::Start,
    Field::Action,
    Field::LogStatus,
    Field::FlowDirection,
];

/// What [`Engine::on_flow`] did with a record.
#[derive(PartialEq, Eq)]
enum Outcome {
    /// A detector looked at it.
    Evaluated,
    /// Nothing to evaluate (no data, no time, no side known to be the instance).
    Passed,
    /// No account id: neither the record, the object's path nor the configuration gave one.
    NoAccount,
}

impl Engine {
    pub(super) fn scan_flowlog(
        &mut self,
        object: &ObjectRef,
        opened: Opened,
        report: &mut ObjectReport,
    ) {
        let account_hint =
            account_from_key(&object.name).or_else(|| self.config.account_id.clone());
        let hint = account_hint.as_deref();
        let format = self
            .config
            .flow_format
            .clone()
            .unwrap_or_else(Format::default_v2);
        if opened.kind == ObjectKind::FlowLogEvents {
            let max = self.limits.max_record_bytes;
            let mut parser = LineParser::new(&format, FLOW_FIELDS);
            match opened.content {
                Content::Bytes(b) => {
                    let mut reader = RecordReader::from_bytes(b, Layout::Messages, max);
                    self.read_flow_messages(object, &mut reader, &mut parser, hint, report);
                    self.scratch = reader.into_buffer();
                }
                Content::Stream(r) => {
                    let mut reader = RecordReader::new(r, Layout::Messages, max);
                    self.read_flow_messages(object, &mut reader, &mut parser, hint, report);
                }
            }
            return;
        }
        match opened.content {
            Content::Bytes(b) => {
                let mut reader = FlowLogReader::with_format(std::io::Cursor::new(b), format)
                    .keeping(FLOW_FIELDS);
                self.read_flows(object, &mut reader, hint, report);
                self.scratch = reader.into_inner().into_inner();
            }
            Content::Stream(r) => {
                let mut reader = FlowLogReader::with_format(r, format).keeping(FLOW_FIELDS);
                self.read_flows(object, &mut reader, hint, report);
            }
        }
    }

    fn read_flows<R: std::io::BufRead>(
        &mut self,
        object: &ObjectRef,
        reader: &mut FlowLogReader<R>,
        account_hint: Option<&str>,
        report: &mut ObjectReport,
    ) {
        let mut on_item = |line, item: Result<&FlowRecord<'_>, LineError>| match item {
            Ok(rec) => {
                report.records += 1;
                report.count(self.on_flow(object, rec, account_hint, line));
            }
            Err(e) if e.is_fatal() => {
                tracing::warn!(object = %object.name, error = %e, "object read stopped early");
                report.fatal = Some(e.to_string());
            }
            Err(e) => report.issue(e.line, true, e.reason),
        };
        // Records are lent, not moved: they are a few hundred bytes each.
        while reader.next_with(&mut on_item).is_some() {}
    }

    /// Reads flow-log lines that are the messages of CloudWatch Logs events; an issue names the
    /// event by its index.
    fn read_flow_messages<R: std::io::Read>(
        &mut self,
        object: &ObjectRef,
        reader: &mut RecordReader<R>,
        parser: &mut LineParser,
        account_hint: Option<&str>,
        report: &mut ObjectReport,
    ) {
        while let Some(item) = reader.next_record() {
            match item {
                Ok(raw) => {
                    let mut rec = FlowRecord::default();
                    match parser.parse(raw.bytes, &mut rec) {
                        Ok(()) => {
                            report.records += 1;
                            report.count(self.on_flow(object, &rec, account_hint, raw.index + 1));
                        }
                        Err(e) => report.issue(raw.index, false, e.to_string()),
                    }
                }
                Err(ReadIssue::Record { index, reason }) => report.issue(index, false, reason),
                Err(ReadIssue::Fatal { records, reason }) => {
                    let msg = format!("{reason} (after {records} events)");
                    tracing::warn!(object = %object.name, reason = %msg, "object read stopped early");
                    report.fatal = Some(msg);
                }
            }
        }
    }

    /// Evaluates one record.
    fn on_flow(
        &mut self,
        object: &ObjectRef,
        rec: &FlowRecord<'_>,
        account_hint: Option<&str>,
        line: u64,
    ) -> Outcome {
        if !rec.is_data() {
            return Outcome::Passed;
        }
        let (Some(subject_key), Some(time)) = (rec.instance_id.or(rec.interface_id), rec.start)
        else {
            return Outcome::Passed;
        };
        let Some(account) = rec.account_id.or(account_hint) else {
            return Outcome::NoAccount;
        };
        let region = rec.region.or(object.region_hint.as_deref());
        let default_region = &self.config.default_region;
        if !self.portscan.has_room_for(subject_key) {
            return self.too_many_subjects();
        }
        let subject = self.portscan.subject(subject_key, || SubjectInfo {
            key: subject_key.to_owned(),
            account_id: account.to_owned(),
            region: region.unwrap_or(default_region).to_owned(),
            ec2: ec2_subject(rec),
            interfaces: vec![interface_side(rec)],
        });
        // A subject without an instance id is its interface: slot 0.
        let slot = match rec.instance_id {
            None => 0,
            Some(_) => self.portscan.subject_info(subject).map_or(0, |s| {
                s.interface_slot(rec.interface_id, || interface_side(rec))
            }),
        };
        let (Some(src), Some(dst)) = (rec.source(), rec.destination()) else {
            return Outcome::Passed;
        };
        let flow = Flow {
            src,
            dst,
            iface_src: rec.srcaddr.unwrap_or(src),
            iface_dst: rec.dstaddr.unwrap_or(dst),
            srcport: rec.srcport,
            dstport: rec.dstport,
            protocol: rec.protocol,
            action: rec.action,
            initiator: initiator(rec),
            time_ms: time.saturating_mul(1000),
        };
        let source = || format!("{}:{line}", object.name);
        let at = Context {
            account,
            region,
            subject_key,
            source: &source,
        };
        match self.place(subject, slot, rec.flow_direction, &flow) {
            Some(local_is_src) => {
                self.evaluate(subject, slot, &flow, local_is_src, &at);
                Outcome::Evaluated
            }
            None => self.learn_side(subject, slot, &flow, &at),
        }
    }

    /// A record of a subject past [`MAX_SUBJECTS`]: not evaluated; the first one is warned of.
    #[cold]
    fn too_many_subjects(&mut self) -> Outcome {
        if self.subjects_refused == 0 {
            tracing::warn!(
                limit = MAX_SUBJECTS,
                "more instances and interfaces in one run than the limit: records of the \
                 others are not evaluated (scan fewer accounts or days at a time)"
            );
        }
        self.subjects_refused += 1;
        Outcome::Passed
    }

    /// A record the address space does not place: it waits for its interface's address, or
    /// shows it, and then it and the records that waited are evaluated (see
    /// [`super::sides`]).
    #[cold]
    fn learn_side(&mut self, subject: u32, slot: u8, flow: &Flow, at: &Context<'_>) -> Outcome {
        let hold = || Held {
            flow: flow.clone(),
            account: at.account.to_owned(),
            region: at.region.map(str::to_owned),
            source: (at.source)(),
        };
        let key = interface_key(subject, slot);
        let Some((local, waited)) = self.sides.offer(key, flow, hold) else {
            return Outcome::Passed;
        };
        self.learnt_local(subject, slot, local);
        self.evaluate_held(subject, slot, local, waited, at.subject_key);
        self.evaluate(subject, slot, flow, flow.iface_src == local, at);
        Outcome::Evaluated
    }

    /// Evaluates records that waited for the address of the subject's interface `slot`, now
    /// known to be `local`; those that do not name it are dropped and counted.
    fn evaluate_held(
        &mut self,
        subject: u32,
        slot: u8,
        local: IpAddr,
        held: Vec<Held>,
        subject_key: &str,
    ) {
        let mut strays = 0;
        for h in held {
            let local_is_src = h.flow.iface_src == local;
            if !local_is_src && h.flow.iface_dst != local {
                strays += 1;
                continue;
            }
            let source = || h.source.clone();
            let held_at = Context {
                account: &h.account,
                region: h.region.as_deref(),
                subject_key,
                source: &source,
            };
            self.evaluate(subject, slot, &h.flow, local_is_src, &held_at);
        }
        self.sides.count_dropped(strays);
    }

    /// Another address of the interface became known: the records that waited naming it are
    /// evaluated now.
    #[cold]
    #[inline(never)]
    fn release_naming(&mut self, subject: u32, slot: u8, local: IpAddr) {
        let held = self
            .sides
            .release_naming(interface_key(subject, slot), local);
        self.evaluate_released(subject, slot, local, held);
    }

    /// The interface's address became known without the learner (a public peer, a
    /// `flow-direction`): the records that waited for it are evaluated now.
    #[cold]
    #[inline(never)]
    fn release_held(&mut self, subject: u32, slot: u8, local: IpAddr) {
        let held = self.sides.release(interface_key(subject, slot), local);
        self.evaluate_released(subject, slot, local, held);
    }

    /// Evaluates the records released for interface `slot` of `subject`, now at `local`.
    fn evaluate_released(&mut self, subject: u32, slot: u8, local: IpAddr, held: Vec<Held>) {
        if held.is_empty() {
            return;
        }
        let key = self
            .portscan
            .subject_info(subject)
            .map(|s| s.key.clone())
            .unwrap_or_default();
        self.evaluate_held(subject, slot, local, held, &key);
    }

    /// Hands what one record shows to the detectors: an outbound attempt to Portscan, an
    /// inbound accepted flow from a listed address to PortProbeUnprotectedPort.
    #[inline(always)]
    fn evaluate(
        &mut self,
        subject: u32,
        slot: u8,
        flow: &Flow,
        local_is_src: bool,
        at: &Context<'_>,
    ) {
        let (local, remote) = if local_is_src {
            (flow.src, flow.dst)
        } else {
            (flow.dst, flow.src)
        };
        let opened_by_local = match flow.initiator {
            Initiator::Source => local_is_src,
            Initiator::Destination => !local_is_src,
            Initiator::Unknown => false,
        };
        let (local_port, remote_port) = if local_is_src {
            (flow.srcport, flow.dstport)
        } else {
            (flow.dstport, flow.srcport)
        };
        if opened_by_local && local_is_src {
            if let (Some(port), Some(protocol @ (6 | 17))) = (remote_port, flow.protocol) {
                let a = Attempt {
                    subject,
                    interface: slot,
                    local,
                    remote,
                    port,
                    protocol,
                    time: flow.time_ms,
                    rejected: flow.action == Some(Action::Reject),
                    source: at.source,
                };
                self.portscan.observe(&a);
            }
        } else if !local_is_src
            && !opened_by_local
            && flow.action == Some(Action::Accept)
            && matches!(flow.protocol, Some(6 | 17))
            && local_port.is_some_and(|p| p != 0)
        {
            let matches = self.intel.lookup(remote);
            let hit = matches.custom.or(matches.managed);
            if let (Some(hit), Some(port)) = (hit, local_port) {
                // The interface's address is recorded by now (`place` or the learner).
                let info = self.portscan.subject_info(subject);
                let ec2 = info.map(|s| s.ec2_for(slot, local)).unwrap_or_default();
                let probe = Probe {
                    account_id: at.account,
                    region: at.region.unwrap_or(&self.config.default_region),
                    subject_key: at.subject_key,
                    subject: &ec2,
                    remote_ip: remote,
                    hit,
                    port,
                    protocol: flow.protocol,
                    time: crate::time::Timestamp(flow.time_ms),
                    source: (at.source)(),
                };
                self.probes.observe(&probe, &self.suppressions);
            }
        }
    }

    /// Whether the instance is the source of `flow` (`None`: the record does not tell yet).
    /// It is by the record's `flow-direction`, else the side whose address the interface was
    /// seen with, else the private side of a flow with a public host. Sides are told by the
    /// interface-level addresses, one of which is always the interface's own.
    #[inline(always)]
    fn place(
        &mut self,
        subject: u32,
        slot: u8,
        direction: Option<Direction>,
        flow: &Flow,
    ) -> Option<bool> {
        let (src, dst) = (flow.iface_src, flow.iface_dst);
        let known = self
            .portscan
            .subject_info(subject)
            .and_then(|s| s.local(slot, src))
            .or_else(|| self.sides.known(interface_key(subject, slot), src));
        let local_is_src = match direction {
            Some(Direction::Egress) => true,
            Some(Direction::Ingress) => false,
            None => match known {
                Some(ip) if ip == src => true,
                Some(ip) if ip == dst => false,
                _ => match (is_reserved(src), is_reserved(dst)) {
                    (true, false) => true,
                    (false, true) => false,
                    // Two private hosts: one is an address the interface was seen with.
                    (true, true) if known.is_some() => {
                        let info = self.portscan.subject_info(subject)?;
                        if info.is_other_local(slot, src) {
                            true
                        } else if info.is_other_local(slot, dst) {
                            false
                        } else {
                            return None;
                        }
                    }
                    _ => return None,
                },
            },
        };
        let local = if local_is_src { src } else { dst };
        match known {
            None => {
                self.learnt_local(subject, slot, local);
                if self.sides.has_waiting() {
                    self.release_held(subject, slot, local);
                }
            }
            // Another address of the interface, shown by a public peer (a secondary address,
            // a pod's): kept, to place its flows with private hosts.
            Some(first) if first != local && direction.is_none() => {
                if let Some(info) = self.portscan.subject_info(subject) {
                    info.learn_other_local(slot, local);
                }
                if self.sides.has_waiting() {
                    self.release_naming(subject, slot, local);
                }
            }
            Some(_) => {}
        }
        Some(local_is_src)
    }

    /// Records an address of the subject's interface `slot`, unless it has one in that family.
    fn learnt_local(&mut self, subject: u32, slot: u8, local: IpAddr) {
        if let Some(s) = self.portscan.subject_info(subject) {
            s.learn_local(slot, local);
        }
    }
}

/// Where a record came from and what its findings name.
struct Context<'a> {
    account: &'a str,
    region: Option<&'a str>,
    subject_key: &'a str,
    /// `object:line`, made when a finding needs it.
    source: &'a dyn Fn() -> String,
}

impl ObjectReport {
    fn count(&mut self, outcome: Outcome) {
        self.evaluated += u64::from(outcome == Outcome::Evaluated);
        self.without_account += u64::from(outcome == Outcome::NoAccount);
    }
}

fn interface_side(rec: &FlowRecord<'_>) -> InterfaceSide {
    InterfaceSide::new(rec.interface_id, rec.vpc_id, rec.subnet_id)
}

fn ec2_subject(rec: &FlowRecord<'_>) -> Ec2Subject {
    Ec2Subject {
        instance_id: rec.instance_id.map(str::to_owned),
        interface_id: rec.interface_id.map(str::to_owned),
        vpc_id: rec.vpc_id.map(str::to_owned),
        subnet_id: rec.subnet_id.map(str::to_owned),
        local_ip: None,
    }
}
