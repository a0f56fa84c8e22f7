//! Recon:EC2/Portscan: an instance (or an interface, where the log has no `instance-id`) opens
//! connections to many distinct ports of one remote host within a window — by default 15
//! distinct ports within 5 minutes (Zeek's threshold; GuardDuty publishes none).
//!
//! Only connections the instance opened count (the flow-log `tcp-flags` and ports tell who
//! opened a connection, see [`crate::flowlog::initiator`]): a server answering one busy client
//! from port 443 to many ephemeral ports is not scanning. Rejected attempts count.
//!
//! Windows live per (subject, remote host). They are evicted once the stream's latest time has
//! passed them by more than [`LATE_FLOWS_MS`], so memory follows the number of conversations
//! active within that span, not the size of the input. Windows still open at the end of a batch
//! are kept in the store ([`PortscanDetector::export`] / [`PortscanDetector::import`]), so a
//! scan whose flows arrive in two delivered files is still one scan.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::candidate::Candidate;
use super::port_probe::{add_port_count, protocol_label};
use crate::fasthash::FastState;
use crate::finding::{
    Ec2Subject, Evidence, FindingType, NetworkEvidence, PortCount, Severity, Subject,
};
use crate::time::Timestamp;

/// The store key of the open windows.
pub const STATE_KEY: &str = "portscan/windows";
/// Most open windows kept in the store between batches (the most recent win).
pub const MAX_EXPORTED_WINDOWS: usize = 200_000;
/// How far behind the stream's latest flow a flow may arrive and still join its window.
///
/// Flow records are not in time order. A file holds records whose `start` lies up to an
/// aggregation interval (at most 10 minutes) apart, delivered every 5 minutes with delays, and
/// the files of several flow logs and interfaces interleave. A window is evicted only when the
/// stream's latest time has passed its last port by the window and this allowance (one
/// aggregation interval and one delivery period), so one late record, or another interface's
/// later file read first, does not end a scan in progress. Windows that have seen a single port
/// (most of them: one conversation each) get no allowance from the stream's time, which would
/// triple the open windows: they end a window after their own subject's latest flow, so that
/// another instance's later record read first does not end them.
pub const LATE_FLOWS_MS: i64 = 15 * 60_000;
/// Most windows held open in memory (17 MB for the map, plus the ports of the windows that
/// collect several). An instance sweeping the internet — one port on millions of hosts, a
/// horizontal scan rather than a Portscan — opens a window per host; past this many, the
/// windows least likely to become a scan are dropped (see
/// [`PortscanDetector::dropped_windows`]).
pub const MAX_OPEN_WINDOWS: usize = 200_000;

/// Most subjects (instances, or interfaces without one) told apart in one run, about 25 MB of
/// them. A run over more (a hostile file can name a new interface on every line) evaluates no
/// record of the subjects past the limit, and says so.
pub const MAX_SUBJECTS: usize = 50_000;

/// A subject (instance or interface) and where it lives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectInfo {
    /// Instance or interface id: the aggregation key.
    pub key: String,
    /// The account.
    pub account_id: String,
    /// The Region.
    pub region: String,
    /// What the finding says about it.
    pub ec2: Ec2Subject,
    /// The subject's network interfaces and the addresses each was seen with (stored with the
    /// subject's open windows): an instance may have several, and a finding names the one its
    /// flows went through.
    #[serde(rename = "n", default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<InterfaceSide>,
}

/// Most interfaces told apart for one subject; an instance with more shares the last one.
pub const MAX_INTERFACES: usize = 64;

/// One network interface of a subject: where it is, and its own addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceSide {
    /// `interface-id` (`None` when the log has none).
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `vpc-id` of its first record.
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// `subnet-id` of its first record.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// Its address in each family (IPv4, IPv6), once known.
    #[serde(rename = "l", default)]
    pub local: [Option<IpAddr>; 2],
    /// Its other addresses (secondary ones, a pod's), seen on the private side of flows with
    /// public hosts; at most [`MAX_OTHER_ADDRESSES`].
    #[serde(rename = "o", default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<IpAddr>,
}

/// Most addresses of an interface kept besides its first one in each family.
pub const MAX_OTHER_ADDRESSES: usize = 32;

impl InterfaceSide {
    /// The interface `id` in `vpc_id` and `subnet_id`, its addresses not known yet.
    pub fn new(id: Option<&str>, vpc_id: Option<&str>, subnet_id: Option<&str>) -> Self {
        InterfaceSide {
            id: id.map(str::to_owned),
            vpc_id: vpc_id.map(str::to_owned),
            subnet_id: subnet_id.map(str::to_owned),
            local: [None; 2],
            others: Vec::new(),
        }
    }
}

impl SubjectInfo {
    /// The slot of interface `id` among the subject's, registering it (made by `make`) the
    /// first time.
    #[inline]
    pub fn interface_slot(&mut self, id: Option<&str>, make: impl FnOnce() -> InterfaceSide) -> u8 {
        let found = self.interfaces.iter().position(|i| i.id.as_deref() == id);
        let slot = found.unwrap_or_else(|| {
            if self.interfaces.len() < MAX_INTERFACES {
                self.interfaces.push(make());
            }
            self.interfaces.len().saturating_sub(1)
        });
        u8::try_from(slot).unwrap_or(u8::MAX)
    }

    /// The address of interface `slot` in the family of `like`, if known.
    pub fn local(&self, slot: u8, like: IpAddr) -> Option<IpAddr> {
        let side = self.interfaces.get(usize::from(slot))?;
        side.local[usize::from(like.is_ipv6())]
    }

    /// Whether `ip` is one of the other addresses interface `slot` was seen with.
    pub fn is_other_local(&self, slot: u8, ip: IpAddr) -> bool {
        self.interfaces
            .get(usize::from(slot))
            .is_some_and(|side| side.others.contains(&ip))
    }

    /// Records `ip`, seen as interface `slot`'s side of a flow with a public host, among its
    /// addresses (bounded).
    pub fn learn_other_local(&mut self, slot: u8, ip: IpAddr) {
        if let Some(side) = self.interfaces.get_mut(usize::from(slot)) {
            let first = side.local[usize::from(ip.is_ipv6())];
            if first != Some(ip)
                && !side.others.contains(&ip)
                && side.others.len() < MAX_OTHER_ADDRESSES
            {
                side.others.push(ip);
            }
        }
    }

    /// Records `ip` as an address of interface `slot`, unless it has one in that family.
    pub fn learn_local(&mut self, slot: u8, ip: IpAddr) {
        if let Some(side) = self.interfaces.get_mut(usize::from(slot)) {
            side.local[usize::from(ip.is_ipv6())].get_or_insert(ip);
        }
        if slot == 0 {
            self.ec2.local_ip.get_or_insert(ip);
        }
    }

    /// What a finding about a flow through interface `slot` says of the subject: that
    /// interface, and `local`, the flow's own endpoint on this side (the packet-level address:
    /// a pod behind the node's interface, say).
    pub fn ec2_for(&self, slot: u8, local: IpAddr) -> Ec2Subject {
        let mut ec2 = self.ec2.clone();
        if let Some(side) = self.interfaces.get(usize::from(slot)) {
            if side.id.is_some() {
                ec2.interface_id.clone_from(&side.id);
                ec2.vpc_id.clone_from(&side.vpc_id);
                ec2.subnet_id.clone_from(&side.subnet_id);
            }
        }
        ec2.local_ip = Some(local);
        ec2
    }
}

/// One port's tries in a window: the earliest and the latest (ms) with whether each was
/// rejected, how many tries, and how many of them were rejected. Both ends are kept: a port
/// tried again minutes later, read first, must not hide the try that belongs to a scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PortTries {
    earliest: i64,
    latest: i64,
    port: u16,
    /// 0 for an empty slot (the inline first port of a window that holds none).
    tries: u16,
    rejected: u16,
    /// IANA protocol number: TCP 53 and UDP 53 are two ports.
    protocol: u8,
    /// [`EARLIEST_REJECTED`] and [`LATEST_REJECTED`].
    ends: u8,
}

const EARLIEST_REJECTED: u8 = 1;
const LATEST_REJECTED: u8 = 2;

impl PortTries {
    fn new(port: u16, protocol: u8, time: i64, rejected: bool) -> Self {
        PortTries {
            earliest: time,
            latest: time,
            port,
            tries: 1,
            rejected: u16::from(rejected),
            protocol,
            ends: if rejected {
                EARLIEST_REJECTED | LATEST_REJECTED
            } else {
                0
            },
        }
    }

    fn is(&self, port: u16, protocol: u8) -> bool {
        self.port == port && self.protocol == protocol
    }

    fn add(&mut self, time: i64, rejected: bool) {
        let flag = |bit: u8| if rejected { bit } else { 0 };
        if time < self.earliest {
            self.earliest = time;
            self.ends = self.ends & !EARLIEST_REJECTED | flag(EARLIEST_REJECTED);
        }
        if time >= self.latest {
            self.latest = time;
            self.ends = self.ends & !LATEST_REJECTED | flag(LATEST_REJECTED);
        }
        // The two counts stop together, so that a saturated port never reads as all rejected
        // unless it was.
        if self.tries < u16::MAX {
            self.tries += 1;
            self.rejected += u16::from(rejected);
        }
    }

    /// Whether a try of the port (its earliest or its latest) falls within `range`.
    fn tried_in(&self, range: &RangeInclusive<i64>) -> bool {
        range.contains(&self.earliest) || range.contains(&self.latest)
    }

    /// Flows and rejected flows of this port within `range`: all of them when both ends lie
    /// in it, else the one end that does.
    fn within(&self, range: &RangeInclusive<i64>) -> (u64, u64) {
        let (early, late) = (range.contains(&self.earliest), range.contains(&self.latest));
        match (early, late) {
            (true, true) => (u64::from(self.tries), u64::from(self.rejected)),
            (true, false) => (1, u64::from(self.ends & EARLIEST_REJECTED != 0)),
            (false, true) => (1, u64::from(self.ends & LATEST_REJECTED != 0)),
            (false, false) => (0, 0),
        }
    }
}

/// Distinct ports and their tries. The first port lives inline and the others behind one
/// pointer: most conversations touch one port, and a window per conversation must neither cost
/// an allocation nor take more than a cache line with its key (the table of open windows is
/// the detector's memory traffic).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Ports {
    /// Empty when its `tries` is 0.
    first: PortTries,
    #[expect(
        clippy::box_collection,
        reason = "one word, not a Vec's three: a window and its key stay within 64 bytes"
    )]
    more: Option<Box<Vec<PortTries>>>,
}

impl Ports {
    fn has_first(&self) -> bool {
        self.first.tries > 0
    }

    fn len(&self) -> usize {
        usize::from(self.has_first()) + self.more.as_ref().map_or(0, |m| m.len())
    }

    /// Every port with its tries, the first one first.
    fn iter(&self) -> impl Iterator<Item = &PortTries> + '_ {
        let first = self.has_first().then_some(&self.first);
        first
            .into_iter()
            .chain(self.more.iter().flat_map(|m| m.iter()))
    }

    /// Forgets tries before `oldest`: ports last tried before it, and the earliest try of the
    /// others where it is that old.
    fn retain_since(&mut self, oldest: i64) {
        // The forgotten tries are no longer counted: only the latest is known.
        let trim = |t: &mut PortTries| {
            if t.earliest < oldest {
                let rejected = t.ends & LATEST_REJECTED != 0;
                *t = PortTries::new(t.port, t.protocol, t.latest, rejected);
            }
        };
        if let Some(more) = &mut self.more {
            more.retain(|t| t.latest >= oldest);
            more.iter_mut().for_each(trim);
        }
        if self.has_first() && self.first.latest < oldest {
            self.first = self.more.as_mut().and_then(|m| m.pop()).unwrap_or_default();
        }
        if self.has_first() {
            trim(&mut self.first);
        }
        if self.more.as_ref().is_some_and(|m| m.is_empty()) {
            self.more = None;
        }
    }

    /// Records a try of `port` at `time`, holding at most `cap` distinct ports; false when
    /// the port was new and the window full (a newer try then takes the place of the port
    /// last tried longest ago).
    fn touch(&mut self, port: u16, protocol: u8, time: i64, rejected: bool, cap: usize) -> bool {
        if !self.has_first() {
            self.first = PortTries::new(port, protocol, time, rejected);
            return true;
        }
        if self.first.is(port, protocol) {
            self.first.add(time, rejected);
            return true;
        }
        let len = self.len();
        let more = self.more.get_or_insert_with(Box::default);
        let mut kept = true;
        if let Some(entry) = more.iter_mut().find(|t| t.is(port, protocol)) {
            entry.add(time, rejected);
        } else if len < cap {
            more.push(PortTries::new(port, protocol, time, rejected));
        } else {
            kept = false;
            let first = (None, self.first.latest);
            let oldest = more
                .iter()
                .enumerate()
                .map(|(i, t)| (Some(i), t.latest))
                .fold(first, |a, b| if b.1 < a.1 { b } else { a });
            let new = PortTries::new(port, protocol, time, rejected);
            match oldest {
                (Some(i), t) if t < time => more[i] = new,
                (None, t) if t < time => self.first = new,
                _ => {}
            }
        }
        if more.is_empty() {
            self.more = None;
        }
        kept
    }
}

/// [`Ports`] as stored: the first port or null, then the others.
#[derive(Serialize, Deserialize)]
struct StoredPorts {
    #[serde(rename = "p")]
    first: Option<StoredTries>,
    #[serde(rename = "m", default, skip_serializing_if = "Vec::is_empty")]
    more: Vec<StoredTries>,
    /// Where state written before the window held it kept the cap flag.
    #[serde(rename = "c", default, skip_serializing)]
    capped: bool,
}

/// A port's tries as stored: `[port, time]` for one accepted try in the window's protocol (as
/// state written before tries were counted also reads), else `[port, latest, earliest, tries,
/// rejected, protocol, ends]` (or its first five, as written before ports kept the last two).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredTries {
    One(u16, i64),
    /// As state written before ports kept their protocol and which ends were rejected.
    Five(u16, i64, i64, u16, u16),
    Many(u16, i64, i64, u16, u16, u8, u8),
}

impl StoredTries {
    fn read(self, protocol: u8) -> PortTries {
        match self {
            StoredTries::One(port, time) => PortTries::new(port, protocol, time, false),
            StoredTries::Five(port, latest, earliest, tries, rejected) => {
                let ends = match rejected >= tries.max(1) {
                    true => EARLIEST_REJECTED | LATEST_REJECTED,
                    false => 0,
                };
                StoredTries::Many(port, latest, earliest, tries, rejected, protocol, ends)
                    .read(protocol)
            }
            StoredTries::Many(port, latest, earliest, tries, rejected, protocol, ends) => {
                let tries = tries.max(1);
                PortTries {
                    earliest: earliest.min(latest),
                    latest,
                    port,
                    tries,
                    rejected: rejected.min(tries),
                    protocol,
                    ends: ends & (EARLIEST_REJECTED | LATEST_REJECTED),
                }
            }
        }
    }

    fn of(t: &PortTries, protocol: u8) -> Self {
        if t.tries == 1 && t.rejected == 0 && t.earliest == t.latest && t.protocol == protocol {
            StoredTries::One(t.port, t.latest)
        } else {
            StoredTries::Many(
                t.port, t.latest, t.earliest, t.tries, t.rejected, t.protocol, t.ends,
            )
        }
    }
}

impl StoredPorts {
    fn read(self, protocol: u8) -> Ports {
        let mut ports = Ports::default();
        // Stored windows hold at least their first port; one without is read as empty.
        if let Some(first) = self.first {
            ports.first = first.read(protocol);
            let more: Vec<PortTries> = self.more.into_iter().map(|t| t.read(protocol)).collect();
            ports.more = (!more.is_empty()).then(|| Box::new(more));
        }
        ports
    }

    fn of(p: &Ports, protocol: u8) -> Self {
        StoredPorts {
            first: p.has_first().then(|| StoredTries::of(&p.first, protocol)),
            more: p
                .more
                .iter()
                .flat_map(|m| m.iter())
                .map(|t| StoredTries::of(t, protocol))
                .collect(),
            capped: false,
        }
    }
}

fn tcp() -> u8 {
    6
}

fn is_tcp(v: &u8) -> bool {
    *v == 6
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// The earliest and latest try of a run of `threshold` distinct ports within one window that
/// holds the try `(port, time)` just made, if any (a port counts where its earliest or its
/// latest try falls, and the port just tried at `time` too). A window that held no run before
/// a try can only hold one through it, so only the tries within a window of it are looked at,
/// and only when enough ports have one there. `tries` is scratch space.
fn densest(
    ports: &Ports,
    (port, protocol, time): (u16, u8, i64),
    window_ms: i64,
    threshold: usize,
    outside: (i64, i64),
    tries: &mut Vec<(i64, usize)>,
) -> Option<(i64, i64)> {
    if ports.len() < threshold {
        return None;
    }
    let near = time
        .saturating_sub(window_ms)
        .max(outside.0.saturating_add(1))
        ..=time
            .saturating_add(window_ms)
            .min(outside.1.saturating_sub(1));
    let in_reach = |t: &&PortTries| t.tried_in(&near) || t.is(port, protocol);
    if ports.iter().filter(in_reach).count() < threshold {
        return None;
    }
    tries.clear();
    for (i, t) in ports.iter().enumerate() {
        for at in [t.earliest, t.latest] {
            if near.contains(&at) {
                tries.push((at, i));
            }
        }
        if t.is(port, protocol) {
            tries.push((time, i));
        }
    }
    tries.sort_unstable();
    // A sliding run over the tries, counting the distinct ports within it.
    let mut small = [0u8; 256];
    let mut large: Vec<u8>;
    let within: &mut [u8] = if ports.len() <= small.len() {
        &mut small[..ports.len()]
    } else {
        large = vec![0; ports.len()];
        &mut large
    };
    let (mut distinct, mut start) = (0, 0);
    for &(at, i) in tries.iter() {
        distinct += usize::from(within[i] == 0);
        within[i] += 1;
        while at - tries[start].0 > window_ms {
            let gone = tries[start].1;
            within[gone] -= 1;
            distinct -= usize::from(within[gone] == 0);
            start += 1;
        }
        if distinct >= threshold {
            return Some((tries[start].0, at));
        }
    }
    None
}

/// Whether a window of `subject` may still grow at the stream's latest time `now`: its last
/// port (or its scan's end) lies within the late allowance of `now` (see [`LATE_FLOWS_MS`]),
/// and, for a window of one port, within the window of its own subject's latest flow (`clocks`,
/// by subject), so that another instance's later record read first does not end it.
fn may_grow(now: i64, window_ms: i64, clocks: &[i64]) -> impl Fn(u32, &Window) -> bool + '_ {
    let late = now.saturating_sub(window_ms).saturating_sub(LATE_FLOWS_MS);
    move |subject, w| {
        let last = w.last.max(w.scan_end());
        if last < late {
            return false;
        }
        if w.ports.len() > 1 || w.scanned {
            return true;
        }
        let own = clocks.get(subject as usize).copied().unwrap_or(now);
        last >= own.saturating_sub(window_ms)
    }
}

/// `c` naming the line of `a` among its sources, if it names none: the first candidate of a
/// finding in a run names a line however it began (a scan going on from an earlier run).
fn with_source(mut c: Candidate, a: &Attempt<'_>) -> Candidate {
    if let Evidence::Network(n) = &mut c.evidence {
        if n.sources.is_empty() {
            n.sources.push((a.source)());
        }
    }
    c
}

/// One remote host's ports, as seen by one subject: where a scan is looked for, and the span
/// of the last scan found (its late flows still join it once the window looks for the next).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredWindow", into = "StoredWindow")]
struct Window {
    /// The ports tried within a window and the late allowance of the flows read.
    ports: Ports,
    /// The latest try of any port in `ports`.
    last: i64,
    /// The first try of the last scan raised, when `scanned`.
    scan_start: i64,
    /// How long after `scan_start` its last try came (ms, saturating).
    scan_len: u32,
    /// A port was not kept for the cap: the window saw more distinct ports than it holds.
    capped: bool,
    /// The last scan was raised and a suppression rule dropped it: its later ports raise
    /// nothing (they would make a finding of their own, which the rule might not match alone).
    suppressed: bool,
    /// A scan was raised: `scan_start` and `scan_len` hold its span.
    scanned: bool,
}

impl Window {
    fn scan_end(&self) -> i64 {
        self.scan_start.saturating_add(i64::from(self.scan_len))
    }

    fn set_scan(&mut self, start: i64, end: i64) {
        self.scan_start = start;
        self.scan_len = u32::try_from(end.saturating_sub(start).max(0)).unwrap_or(u32::MAX);
        self.scanned = true;
    }
}

/// [`Window`] as stored, with short names: the state is one item per account in the Lambda
/// deployment. State written before ports counted their tries also holds the window's first
/// time and counts (`f`, `a`, `r`), read past, its cap flag among the ports, and no scan span
/// (a window that fired then is taken to have scanned from its earliest port to its last).
#[derive(Serialize, Deserialize)]
struct StoredWindow {
    #[serde(rename = "P")]
    ports: StoredPorts,
    #[serde(rename = "l")]
    last: i64,
    /// The protocol of the ports stored as `[port, time]`.
    #[serde(rename = "t", default = "tcp", skip_serializing_if = "is_tcp")]
    protocol: u8,
    #[serde(rename = "c", default, skip_serializing_if = "is_false")]
    capped: bool,
    /// Whether a scan was raised, as state written before the scan's span was kept says it.
    #[serde(rename = "x", default, skip_serializing)]
    fired: bool,
    #[serde(rename = "s", default, skip_serializing_if = "is_false")]
    suppressed: bool,
    /// The last scan's first try and length.
    #[serde(rename = "S", default, skip_serializing_if = "Option::is_none")]
    scan: Option<(i64, u32)>,
}

impl From<StoredWindow> for Window {
    fn from(s: StoredWindow) -> Self {
        let capped = s.capped || s.ports.capped;
        let ports = s.ports.read(s.protocol);
        let mut w = Window {
            last: s.last,
            capped,
            suppressed: s.suppressed,
            ..Window::default()
        };
        match s.scan {
            Some((start, len)) => (w.scan_start, w.scan_len, w.scanned) = (start, len, true),
            None if s.fired => {
                let start = ports.iter().map(|t| t.earliest).min().unwrap_or(s.last);
                w.set_scan(start, s.last);
            }
            None => {}
        }
        w.ports = ports;
        w
    }
}

impl From<Window> for StoredWindow {
    fn from(w: Window) -> Self {
        let protocol = match w.ports.has_first() {
            true => w.ports.first.protocol,
            false => tcp(),
        };
        StoredWindow {
            ports: StoredPorts::of(&w.ports, protocol),
            last: w.last,
            protocol,
            capped: w.capped,
            fired: false,
            suppressed: w.suppressed,
            scan: w.scanned.then_some((w.scan_start, w.scan_len)),
        }
    }
}

/// What a scan's candidate takes from its window.
struct Seen {
    /// The scan's ports (when it is raised) or the attempt's port (as it goes on).
    ports: Vec<PortCount>,
    /// Distinct ports tried within a window of the scan or the attempt.
    distinct: usize,
    capped: bool,
    /// Flows, and how many of them were rejected.
    count: u64,
    rejected: u64,
    protocol: u8,
}

impl Seen {
    /// What `w` shows of the scan that attempt `a` completed: its ports, those tried within
    /// `scan` (a window around the run that found it: the window also keeps ports from up to
    /// the late allowance before, which may belong to no scan), and their flows within it;
    /// with the first and the last try counted.
    fn raised(w: &Window, a: &Attempt<'_>, scan: &RangeInclusive<i64>) -> (Seen, (i64, i64)) {
        let mut seen = Seen {
            ports: Vec::new(),
            distinct: 0,
            capped: w.capped,
            count: 0,
            rejected: 0,
            protocol: tcp(),
        };
        let (mut first, mut last) = (a.time, a.time);
        // The protocol most of its ports were tried in.
        let mut protocols: Vec<(u8, usize)> = Vec::new();
        for t in w.ports.iter() {
            let (count, rejected) = match t.within(scan) {
                // The try just made, between its port's ends.
                (0, _) if t.is(a.port, a.protocol) && scan.contains(&a.time) => {
                    (1, u64::from(a.rejected))
                }
                (0, _) => continue,
                counts => counts,
            };
            for end in [t.earliest, t.latest] {
                if scan.contains(&end) {
                    (first, last) = (first.min(end), last.max(end));
                }
            }
            add_port_count(&mut seen.ports, t.port, count);
            seen.distinct += 1;
            seen.count += count;
            seen.rejected += rejected;
            match protocols.iter_mut().find(|(p, _)| *p == t.protocol) {
                Some((_, n)) => *n += 1,
                None => protocols.push((t.protocol, 1)),
            }
        }
        if let Some(&(p, _)) = protocols.iter().max_by_key(|&&(p, n)| (n, p == tcp())) {
            seen.protocol = p;
        }
        (seen, (first, last))
    }

    /// What `w` shows of attempt `a`, which continues its last scan.
    fn going_on(w: &Window, a: &Attempt<'_>, window_ms: i64) -> Seen {
        let near = a.time.saturating_sub(window_ms)..=a.time.saturating_add(window_ms);
        let mut ports = Vec::new();
        add_port_count(&mut ports, a.port, 1);
        Seen {
            ports,
            distinct: w.ports.iter().filter(|t| t.tried_in(&near)).count(),
            capped: w.capped,
            count: 1,
            rejected: u64::from(a.rejected),
            protocol: a.protocol,
        }
    }
}

/// The open windows as stored between batches: each subject once, windows by subject index.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    subjects: Vec<SubjectInfo>,
    windows: Vec<(u32, IpAddr, Window)>,
    /// The rule that dropped each suppressed window's scan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    suppressed_by: Vec<(u32, IpAddr, String)>,
}

/// The open windows by (subject, remote host). IPv4 hosts, nearly all of them, are keyed by
/// one `u64` (subject index and address), which keeps an entry with its window within 64
/// bytes.
#[derive(Debug, Default)]
struct Windows {
    v4: HashMap<u64, Window, FastState>,
    v6: HashMap<(u32, u128), Window, FastState>,
}

impl Windows {
    fn get_or_default(&mut self, subject: u32, remote: IpAddr) -> &mut Window {
        match remote {
            IpAddr::V4(v4) => {
                let key = u64::from(subject) << 32 | u64::from(u32::from(v4));
                self.v4.entry(key).or_default()
            }
            IpAddr::V6(v6) => self.v6.entry((subject, u128::from(v6))).or_default(),
        }
    }

    fn contains(&self, subject: u32, remote: IpAddr) -> bool {
        match remote {
            IpAddr::V4(v4) => {
                let key = u64::from(subject) << 32 | u64::from(u32::from(v4));
                self.v4.contains_key(&key)
            }
            IpAddr::V6(v6) => self.v6.contains_key(&(subject, u128::from(v6))),
        }
    }

    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Keeps the windows for which `keep(subject, window)` holds.
    fn retain(&mut self, mut keep: impl FnMut(u32, &Window) -> bool) {
        self.v4.retain(|&key, w| keep((key >> 32) as u32, w));
        self.v6.retain(|&(subject, _), w| keep(subject, w));
    }

    fn iter(&self) -> impl Iterator<Item = (u32, IpAddr, &Window)> {
        let v4 = self.v4.iter().map(|(&key, w)| {
            let remote = IpAddr::from(std::net::Ipv4Addr::from(key as u32));
            ((key >> 32) as u32, remote, w)
        });
        let v6 = self.v6.iter().map(|(&(subject, v6), w)| {
            let remote = IpAddr::from(std::net::Ipv6Addr::from(v6));
            (subject, remote, w)
        });
        v4.chain(v6)
    }
}

/// Subject indexes by id, looked up once per flow. Ids of up to 24 bytes (`i-…` and `eni-…`
/// ids are 19 and 21) are keyed by their bytes packed into three words and their length, so a
/// lookup hashes four words and compares them, with no byte loop or `memcmp`; longer ids are
/// keyed by their text.
#[derive(Debug, Default)]
struct SubjectIndex {
    packed: HashMap<PackedId, u32, FastState>,
    long: HashMap<String, u32, FastState>,
}

/// An id of at most 24 bytes: words that together hold every byte (overlapping when the length
/// is not a multiple of eight), and the length, which makes the packing one-to-one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PackedId {
    words: [u64; 3],
    len: u8,
}

impl std::hash::Hash for PackedId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for w in self.words {
            state.write_u64(w);
        }
        state.write_u8(self.len);
    }
}

impl PackedId {
    fn new(id: &[u8]) -> Option<PackedId> {
        let len = id.len();
        let word = |at: usize| -> Option<u64> {
            let bytes: [u8; 8] = id.get(at..at + 8)?.try_into().ok()?;
            Some(u64::from_le_bytes(bytes))
        };
        let words = match len {
            0..=7 => {
                let mut bytes = [0u8; 8];
                bytes[..len].copy_from_slice(id);
                [u64::from_le_bytes(bytes), 0, 0]
            }
            8..=15 => [word(0)?, word(len - 8)?, 0],
            16..=24 => [word(0)?, word(8)?, word(len - 8)?],
            _ => return None,
        };
        Some(PackedId {
            words,
            len: len as u8,
        })
    }
}

impl SubjectIndex {
    #[inline]
    fn get(&self, id: &str) -> Option<u32> {
        match PackedId::new(id.as_bytes()) {
            Some(key) => self.packed.get(&key).copied(),
            None => self.long.get(id).copied(),
        }
    }

    fn insert(&mut self, id: &str, index: u32) {
        match PackedId::new(id.as_bytes()) {
            Some(key) => self.packed.insert(key, index),
            None => self.long.insert(id.to_owned(), index),
        };
    }
}

/// One connection attempt the instance opened.
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    /// The subject's index from [`PortscanDetector::subject`].
    pub subject: u32,
    /// The interface the flow went through ([`SubjectInfo::interface_slot`]).
    pub interface: u8,
    /// The flow's endpoint on the subject's side.
    pub local: IpAddr,
    /// The remote host.
    pub remote: IpAddr,
    /// The remote port.
    pub port: u16,
    /// IANA protocol number.
    pub protocol: u8,
    /// Flow start, in milliseconds.
    pub time: i64,
    /// True when the attempt was rejected.
    pub rejected: bool,
    /// `object:line` of the flow, recorded when the attempt completes a scan.
    pub source: &'a dyn Fn() -> String,
}

/// Distinct-port windows and the scans they revealed.
#[derive(Debug)]
pub struct PortscanDetector {
    threshold: usize,
    window_ms: i64,
    subjects: Vec<SubjectInfo>,
    subject_index: SubjectIndex,
    windows: Windows,
    now: i64,
    last_sweep: i64,
    pending: HashMap<String, Candidate>,
    /// Most windows held open; see [`MAX_OPEN_WINDOWS`].
    max_open: usize,
    /// Windows dropped to stay within `max_open`.
    dropped: u64,
    /// The rule that dropped each suppressed scan's finding, by window.
    suppressed_by: HashMap<(u32, IpAddr), String>,
    /// What suppressed scans went on to do, by finding id, with the rule that dropped them:
    /// dropped again while the rule is in force.
    held_back: HashMap<String, (String, Candidate)>,
    /// Scratch space for [`densest`].
    scratch: Vec<(i64, usize)>,
    /// Each subject's latest flow (by subject index): a window of one port is evicted by its
    /// own subject's time, not by other subjects' later records read first.
    clocks: Vec<i64>,
}

impl PortscanDetector {
    /// A detector raising a scan at `threshold` distinct ports within `window_ms`.
    pub fn new(threshold: u32, window_ms: i64) -> Self {
        PortscanDetector {
            threshold: threshold.max(1) as usize,
            window_ms: window_ms.max(1),
            subjects: Vec::new(),
            subject_index: SubjectIndex::default(),
            windows: Windows::default(),
            now: i64::MIN,
            last_sweep: i64::MIN,
            pending: HashMap::new(),
            max_open: MAX_OPEN_WINDOWS,
            dropped: 0,
            suppressed_by: HashMap::new(),
            held_back: HashMap::new(),
            scratch: Vec::new(),
            clocks: Vec::new(),
        }
    }

    /// The same detector holding at most `max` windows open (at least 4).
    pub fn with_max_open_windows(mut self, max: usize) -> Self {
        self.max_open = max.max(4);
        self
    }

    /// Windows dropped so far to stay within the open-window limit: a scan whose window was
    /// among them may have been missed.
    pub fn dropped_windows(&self) -> u64 {
        self.dropped
    }

    /// The index of a subject, registering it (with `make`) the first time.
    pub fn subject(&mut self, key: &str, make: impl FnOnce() -> SubjectInfo) -> u32 {
        if let Some(i) = self.subject_index.get(key) {
            return i;
        }
        let i = u32::try_from(self.subjects.len()).unwrap_or(u32::MAX);
        self.subjects.push(make());
        self.clocks.push(i64::MIN);
        self.subject_index.insert(key, i);
        i
    }

    /// Whether a record of the subject keyed `key` can be evaluated: it is known, or there is
    /// room for it (see [`MAX_SUBJECTS`]).
    #[inline]
    pub fn has_room_for(&self, key: &str) -> bool {
        self.subjects.len() < MAX_SUBJECTS || self.subject_index.get(key).is_some()
    }

    /// The subject registered under an index.
    pub fn subject_info(&mut self, index: u32) -> Option<&mut SubjectInfo> {
        self.subjects.get_mut(index as usize)
    }

    /// Open windows (for memory accounting and tests).
    pub fn open_windows(&self) -> usize {
        self.windows.len()
    }

    /// Folds one attempt. Attempts may come in any time order (S3 delivers files out of
    /// order, and records in a file are not sorted): a scan needs `threshold` distinct ports
    /// tried within one window.
    pub fn observe(&mut self, a: &Attempt<'_>) {
        if let Some(clock) = self.clocks.get_mut(a.subject as usize) {
            *clock = (*clock).max(a.time);
        }
        self.advance(a.time);
        let window_ms = self.window_ms;
        let threshold = self.threshold;
        if self.windows.len() >= self.max_open && !self.windows.contains(a.subject, a.remote) {
            self.shed();
        }
        let w = self.windows.get_or_default(a.subject, a.remote);
        // Where a scan found now may count flows: not where the last one already counted them.
        let (mut below, mut above) = (i64::MAX, i64::MIN);
        if w.scanned {
            let reach =
                w.scan_start.saturating_sub(window_ms)..=w.scan_end().saturating_add(window_ms);
            if reach.contains(&a.time) {
                // The last scan goes on, or a flow of it was read late. Only a port it had not
                // tried (one the window adds, or has no room for) takes the scan further: the
                // host's ordinary traffic does not.
                w.last = w.last.max(a.time);
                let before = w.ports.len();
                let kept = w
                    .ports
                    .touch(a.port, a.protocol, a.time, a.rejected, 4 * threshold);
                w.capped |= !kept;
                if (!kept || w.ports.len() > before) && a.time > w.scan_end() {
                    let start = w.scan_start;
                    w.set_scan(start, a.time);
                }
                let seen = Seen::going_on(w, a, window_ms);
                match w.suppressed {
                    true => self.hold_back(a, seen, None),
                    false => self.raise(a, seen, None),
                }
                return;
            }
            // From well before the scan, read late (perhaps an earlier scan), or past it (the
            // next one): the search below.
            (below, above) = match a.time < *reach.start() {
                true => (*reach.start(), i64::MIN),
                false => (i64::MAX, *reach.end()),
            };
        }
        // The search takes every flow, early or late, and keeps the ports tried within the late
        // allowance of the flow being read, so neither a scan in progress nor an earlier one
        // read after a stray later flow is lost.
        if !w.ports.has_first() {
            w.last = a.time;
        }
        w.last = w.last.max(a.time);
        w.ports
            .retain_since(a.time.saturating_sub(window_ms + LATE_FLOWS_MS));
        w.capped |= !w
            .ports
            .touch(a.port, a.protocol, a.time, a.rejected, 4 * threshold);
        let tried = (a.port, a.protocol, a.time);
        let Some(span) = densest(
            &w.ports,
            tried,
            window_ms,
            threshold,
            (above, below),
            &mut self.scratch,
        ) else {
            return;
        };
        // The scan's flows: those within a window of the run that found it.
        let lo = span
            .0
            .saturating_sub(window_ms)
            .max(above.saturating_add(1));
        let hi = span
            .1
            .saturating_add(window_ms)
            .min(below.saturating_sub(1));
        let (seen, (first, last)) = Seen::raised(w, a, &(lo..=hi));
        let earlier = below != i64::MAX;
        // Ports from before the scan are no part of it, nor of what it goes on to do; after
        // another scan, neither are that one's.
        let cut = first.saturating_sub(window_ms).max(above.saturating_add(1));
        w.ports.retain_since(cut);
        let suppressed = earlier && w.suppressed;
        if earlier {
            // An earlier scan, read after the last: the span takes in both, so that the
            // earlier one's other flows join it too.
            let end = w.scan_end();
            w.set_scan(first, end);
        } else {
            w.set_scan(first, last);
            if std::mem::take(&mut w.suppressed) {
                // A new scan after a suppressed one is judged afresh.
                self.suppressed_by.remove(&(a.subject, a.remote));
            }
        }
        match suppressed {
            true => self.hold_back(a, seen, Some((first, last))),
            false => self.raise(a, seen, Some((first, last))),
        }
    }

    /// Records a scan: `span` is the window that completed it (first time), `None` for an
    /// attempt that continues a scan already raised.
    fn raise(&mut self, a: &Attempt<'_>, seen: Seen, span: Option<(i64, i64)>) {
        let Some(c) = self.candidate(a, seen, span) else {
            return;
        };
        let id = c.finding_id();
        match self.pending.get_mut(&id) {
            Some(into) => into.absorb(c),
            None => {
                self.pending.insert(id, with_source(c, a));
            }
        }
    }

    /// Records an attempt that continues a scan whose finding a rule dropped, apart: see
    /// [`drain_held_back`](Self::drain_held_back).
    #[cold]
    fn hold_back(&mut self, a: &Attempt<'_>, seen: Seen, span: Option<(i64, i64)>) {
        let Some(c) = self.candidate(a, seen, span) else {
            return;
        };
        let rule = self
            .suppressed_by
            .get(&(a.subject, a.remote))
            .cloned()
            .unwrap_or_default();
        match self.held_back.get_mut(&c.finding_id()) {
            Some((_, into)) => into.absorb(c),
            None => {
                self.held_back
                    .insert(c.finding_id(), (rule, with_source(c, a)));
            }
        }
    }

    /// The candidate for a scan (see [`raise`](Self::raise)).
    fn candidate(
        &self,
        a: &Attempt<'_>,
        seen: Seen,
        span: Option<(i64, i64)>,
    ) -> Option<Candidate> {
        let (first, last) = span.unwrap_or((a.time, a.time));
        let s = self.subjects.get(a.subject as usize)?;
        let c = Candidate {
            finding_type: FindingType::Portscan,
            severity: Severity::Medium,
            account_id: s.account_id.clone(),
            region: s.region.clone(),
            subject: Subject::Ec2(s.ec2_for(a.interface, a.local)),
            subject_key: s.key.clone(),
            remote_ip: Some(a.remote),
            intel: None,
            count: seen.count,
            first_seen: Timestamp(first),
            last_seen: Timestamp(last),
            evidence: Evidence::Network(NetworkEvidence {
                protocol: Some(protocol_label(seen.protocol)),
                ports: seen.ports,
                distinct_ports: Some(u32::try_from(seen.distinct).unwrap_or(u32::MAX)),
                distinct_ports_at_least: seen.capped,
                blocked: seen.rejected == seen.count,
                rejected: seen.rejected,
                sources: match span {
                    Some(_) => vec![(a.source)()],
                    None => Vec::new(),
                },
            }),
        };
        Some(c)
    }

    /// Moves the stream's clock; every half window, drops windows that can no longer grow.
    fn advance(&mut self, time: i64) {
        self.now = self.now.max(time);
        if self.now.saturating_sub(self.last_sweep) < self.window_ms / 2 {
            return;
        }
        self.last_sweep = self.now;
        let may_grow = may_grow(self.now, self.window_ms, &self.clocks);
        self.windows.retain(may_grow);
    }

    /// Drops windows until a quarter of the limit is free: first those that have seen a single
    /// port (in a sweep of many hosts, nearly all of them), then the least recently touched.
    #[cold]
    fn shed(&mut self) {
        let before = self.windows.len();
        let target = self.max_open - self.max_open / 4;
        self.windows.retain(|_, w| w.ports.len() > 1);
        if self.windows.len() > target {
            let mut lasts: Vec<i64> = self.windows.iter().map(|(_, _, w)| w.last).collect();
            let excess = lasts.len() - target;
            let (below, &mut cut, _) = lasts.select_nth_unstable(excess - 1);
            // Flows of one aggregation interval share their times: of the windows last
            // touched at `cut` itself, drop only as many as needed.
            let mut at_cut = excess - below.iter().filter(|&&t| t < cut).count();
            self.windows.retain(|_, w| match w.last.cmp(&cut) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal if at_cut > 0 => {
                    at_cut -= 1;
                    false
                }
                _ => true,
            });
        }
        if self.dropped == 0 {
            tracing::warn!(
                limit = self.max_open,
                "more Portscan windows open than the limit (an instance reaching very many \
                 hosts at once): the least likely to become a scan are dropped"
            );
        }
        self.dropped += (before - self.windows.len()) as u64;
    }

    /// Marks the scan of `remote` by the subject keyed `subject_key` as suppressed by `rule`:
    /// the rule dropped its finding, and what the scan goes on to do is held back (see
    /// [`drain_held_back`](Self::drain_held_back)).
    pub fn suppress(&mut self, subject_key: &str, remote: IpAddr, rule: &str) {
        let Some(subject) = self.subject_index.get(subject_key) else {
            return;
        };
        // The window's last scan: one it raises later is judged afresh.
        if self.windows.contains(subject, remote) {
            let w = self.windows.get_or_default(subject, remote);
            if w.scanned {
                w.suppressed = true;
                self.suppressed_by
                    .insert((subject, remote), rule.to_owned());
            }
        }
    }

    /// Ends the suppression of a scan (its rule is no longer in force): what it does from now
    /// on is raised again.
    pub fn unsuppress(&mut self, subject_key: &str, remote: IpAddr) {
        let Some(subject) = self.subject_index.get(subject_key) else {
            return;
        };
        if self.windows.contains(subject, remote) {
            self.windows.get_or_default(subject, remote).suppressed = false;
        }
        self.suppressed_by.remove(&(subject, remote));
    }

    /// Takes what suppressed scans went on to do since the last call, each with the name of
    /// the rule that dropped the scan: dropped again if that rule is still in force, else a
    /// finding like any other.
    pub fn drain_held_back(&mut self) -> Vec<(String, Candidate)> {
        let mut v: Vec<(String, Candidate)> = self.held_back.drain().map(|(_, rc)| rc).collect();
        v.sort_by_key(|(_, c)| c.first_seen);
        v
    }

    /// Takes the scans found so far.
    pub fn drain(&mut self) -> Vec<Candidate> {
        let mut v: Vec<Candidate> = self.pending.drain().map(|(_, c)| c).collect();
        v.sort_by_key(|c| c.first_seen);
        v
    }

    /// The windows that may still grow (see [`LATE_FLOWS_MS`]), serialised for the store
    /// (`None` when there are none).
    pub fn export(&self) -> Option<Vec<u8>> {
        let may_grow = may_grow(self.now, self.window_ms, &self.clocks);
        let mut open: Vec<(u32, IpAddr, &Window)> = self
            .windows
            .iter()
            .filter(|&(s, _, w)| may_grow(s, w))
            .collect();
        if open.is_empty() {
            return None;
        }
        open.sort_by_key(|(_, _, w)| std::cmp::Reverse(w.last));
        open.truncate(MAX_EXPORTED_WINDOWS);
        let mut saved = Saved::default();
        let mut renumber: HashMap<u32, u32> = HashMap::new();
        for (s, remote, w) in open {
            let Some(info) = self.subjects.get(s as usize) else {
                continue;
            };
            let next = u32::try_from(saved.subjects.len()).unwrap_or(u32::MAX);
            let index = *renumber.entry(s).or_insert_with(|| {
                saved.subjects.push(info.clone());
                next
            });
            if let Some(rule) = self.suppressed_by.get(&(s, remote)) {
                saved.suppressed_by.push((index, remote, rule.clone()));
            }
            saved.windows.push((index, remote, w.clone()));
        }
        serde_json::to_vec(&saved).ok()
    }

    /// Restores windows saved by [`export`](Self::export); bad state is dropped with a warning.
    pub fn import(&mut self, bytes: &[u8]) {
        let saved: Saved = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "stored Portscan windows are unreadable; starting afresh");
                return;
            }
        };
        let indexes: Vec<u32> = saved
            .subjects
            .into_iter()
            .map(|mut info| {
                let key = info.key.clone();
                if !info.interfaces.is_empty() {
                    info.interfaces.truncate(MAX_INTERFACES);
                    for side in &mut info.interfaces {
                        side.others.truncate(MAX_OTHER_ADDRESSES);
                    }
                    return self.subject(&key, || info);
                }
                // State stored before interfaces were: the interface the subject was first seen
                // through is slot 0, as for a new subject, with the address it was seen with;
                // others are learnt again.
                let e = &info.ec2;
                let mut first = InterfaceSide::new(
                    e.interface_id.as_deref(),
                    e.vpc_id.as_deref(),
                    e.subnet_id.as_deref(),
                );
                if let Some(ip) = e.local_ip {
                    first.local[usize::from(ip.is_ipv6())] = Some(ip);
                }
                info.interfaces = vec![first];
                self.subject(&key, || info)
            })
            .collect();
        for (s, remote, window) in saved.windows {
            let Some(&subject) = indexes.get(s as usize) else {
                continue;
            };
            self.now = self.now.max(window.last);
            if let Some(clock) = self.clocks.get_mut(subject as usize) {
                *clock = (*clock).max(window.last);
            }
            *self.windows.get_or_default(subject, remote) = window;
        }
        for (s, remote, rule) in saved.suppressed_by {
            if let Some(&subject) = indexes.get(s as usize) {
                self.suppressed_by.insert((subject, remote), rule);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    /// The network evidence of a scan.
    fn network(c: &Candidate) -> &NetworkEvidence {
        match &c.evidence {
            Evidence::Network(n) => n,
            other => panic!("network evidence, not {other:?}"),
        }
    }

    fn detector() -> (PortscanDetector, u32) {
        let mut d = PortscanDetector::new(15, 5 * MIN);
        let s = d.subject("i-0123456789abcdef0", || SubjectInfo {
            key: "i-0123456789abcdef0".into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            ec2: Ec2Subject::default(),
            interfaces: Vec::new(),
        });
        (d, s)
    }

    fn attempt(d: &mut PortscanDetector, s: u32, port: u16, time: i64) {
        attempt_to(d, s, "10.0.9.9".parse().expect("ip"), port, time);
    }

    #[test]
    fn fifteen_ports_in_five_minutes_is_a_scan() {
        let (mut d, s) = detector();
        for p in 0..14 {
            attempt(&mut d, s, 1000 + p, p as i64 * 1000);
        }
        assert!(d.drain().is_empty(), "14 ports is not yet a scan");
        attempt(&mut d, s, 2000, 20_000);
        attempt(&mut d, s, 2001, 21_000);
        let out = d.drain();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].count, 16);
        let n = network(&out[0]);
        assert_eq!(n.distinct_ports, Some(16));
    }

    fn attempt_to(d: &mut PortscanDetector, s: u32, remote: IpAddr, port: u16, time: i64) {
        let source = || format!("f.log:{port}");
        d.observe(&Attempt {
            subject: s,
            interface: 0,
            local: "10.0.0.5".parse().expect("ip"),
            remote,
            port,
            protocol: 6,
            time,
            rejected: false,
            source: &source,
        });
    }

    #[test]
    fn an_internet_sweep_stays_within_the_window_limit_and_a_scan_inside_it_is_found() {
        let (d, s) = detector();
        let mut d = d.with_max_open_windows(1_000);
        let target: IpAddr = "203.0.113.7".parse().expect("ip");
        // Port 445 on 20,000 hosts in two minutes, and halfway through 16 ports of one host
        // tried among them, one every ten hosts.
        for i in 0..20_000u32 {
            let host = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let time = i64::from(i) * 6;
            attempt_to(&mut d, s, host, 445, time);
            if (10_000..10_160).contains(&i) && i % 10 == 0 {
                attempt_to(&mut d, s, target, 1 + (i / 10 % 16) as u16, time);
            }
        }
        assert!(d.open_windows() <= 1_000, "{}", d.open_windows());
        assert!(d.dropped_windows() >= 19_000, "{}", d.dropped_windows());
        let scans = d.drain();
        assert_eq!(scans.len(), 1, "the vertical scan survives the sweep");
        assert_eq!(scans[0].remote_ip, Some(target));
    }

    #[test]
    fn at_the_limit_only_the_excess_is_dropped_even_when_times_tie() {
        let (d, s) = detector();
        let mut d = d.with_max_open_windows(100);
        // Every window has two ports and the same times, as flows of one interval do.
        for i in 0..100u32 {
            let host = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            attempt_to(&mut d, s, host, 80, 0);
            attempt_to(&mut d, s, host, 443, 0);
        }
        assert_eq!(d.open_windows(), 100);
        let next = IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000));
        attempt_to(&mut d, s, next, 80, 0);
        assert_eq!(d.open_windows(), 76, "a quarter freed, then the new window");
        assert_eq!(d.dropped_windows(), 25);
    }

    #[test]
    fn a_slow_drip_is_not_a_scan() {
        let (mut d, s) = detector();
        for p in 0..60 {
            attempt(&mut d, s, 1000 + p, p as i64 * MIN);
        }
        assert!(d.drain().is_empty());
        assert!(d.open_windows() <= 1);
    }

    #[test]
    fn windows_are_evicted_as_time_moves() {
        let (mut d, s) = detector();
        for i in 0..10_000u32 {
            let remote = IpAddr::from([198, 51, (i >> 8) as u8, i as u8]);
            let source = || String::new();
            let a = Attempt {
                subject: s,
                interface: 0,
                local: "10.0.0.5".parse().expect("ip"),
                remote,
                port: 443,
                protocol: 6,
                time: i as i64 * 1000,
                rejected: false,
                source: &source,
            };
            d.observe(&a);
        }
        // One new window a second, one port each: those within the window stay open, plus at
        // most half a window's worth between sweeps.
        assert!(d.open_windows() <= 450, "{} windows open", d.open_windows());
    }

    #[test]
    fn a_later_flow_read_first_does_not_end_a_scan_in_progress() {
        // Flow records are not sorted: another interface's flow ten minutes later sits among
        // the ports of a scan (a late record, or another flow log's file read first).
        let (mut d, s) = detector();
        let other = d.subject("i-0fedcba9876543210", SubjectInfo::default);
        for p in 0..8 {
            attempt(&mut d, s, 1000 + p, p as i64 * 1000);
        }
        attempt_to(
            &mut d,
            other,
            "203.0.113.9".parse().expect("ip"),
            443,
            10 * MIN,
        );
        for p in 8..16 {
            attempt(&mut d, s, 1000 + p, p as i64 * 1000);
        }
        let scans = d.drain();
        assert_eq!(scans.len(), 1, "the scan's window was evicted");
        assert_eq!(scans[0].count, 16);
    }

    #[test]
    fn an_earlier_flow_to_the_same_host_read_late_does_not_end_a_scan_in_progress() {
        // A connection to the host's port 443 seven minutes before the scan, in a record read
        // among the scan's (records are not sorted): it started the window over.
        let (mut d, s) = detector();
        for p in 0..8 {
            attempt(&mut d, s, 1000 + p, 10 * MIN + p as i64 * 1000);
        }
        attempt(&mut d, s, 443, 3 * MIN);
        for p in 8..16 {
            attempt(&mut d, s, 1000 + p, 10 * MIN + p as i64 * 1000);
        }
        let scans = d.drain();
        assert_eq!(scans.len(), 1, "the scan's window was started over");
        let n = network(&scans[0]);
        assert_eq!(n.distinct_ports, Some(16));
        assert!(!n.ports.iter().any(|p| p.port == 443), "{:?}", n.ports);
    }

    #[test]
    fn a_later_port_read_first_does_not_hide_the_scan_it_begins() {
        // The scan's first port, read before an older connection to the host: the older one
        // started the window over, and the scan's other 14 ports were not enough.
        let (mut d, s) = detector();
        attempt(&mut d, s, 1001, 10 * MIN);
        attempt(&mut d, s, 443, 0);
        for p in 2..16 {
            attempt(&mut d, s, 1000 + p, 10 * MIN + i64::from(p) * 1000);
        }
        let scans = d.drain();
        assert_eq!(scans.len(), 1, "the scan's first port was dropped");
        let n = network(&scans[0]);
        assert_eq!(n.distinct_ports, Some(15));
        assert!(!n.ports.iter().any(|p| p.port == 443), "{:?}", n.ports);
    }

    #[test]
    fn an_earlier_flow_read_after_the_scan_was_raised_is_not_part_of_it() {
        let (mut d, s) = detector();
        for p in 0..16 {
            attempt(&mut d, s, 1000 + p, 10 * MIN + i64::from(p) * 1000);
        }
        attempt(&mut d, s, 443, 3 * MIN);
        let scans = d.drain();
        assert_eq!(scans.len(), 1);
        assert_eq!(scans[0].first_seen, Timestamp(10 * MIN), "{:?}", scans[0]);
        assert_eq!(scans[0].count, 16);
    }

    #[test]
    fn a_window_full_of_older_ports_still_catches_a_scan() {
        // A one-minute window. A scan's first ports, then a file of older flows read late
        // (groups of 14 ports 61 s apart, never 15 within the window) that fill the cap, then
        // the scan's other ports: past the cap, they were not kept.
        let mut d = PortscanDetector::new(15, MIN);
        let s = d.subject("i-0123456789abcdef0", SubjectInfo::default);
        let scan_at = 1_000_000;
        for i in 0..5 {
            attempt(&mut d, s, 2000 + i, scan_at + i64::from(i) * 1000);
        }
        let mut port = 1000;
        for group in 0..4 {
            for i in 0..14 {
                attempt(&mut d, s, port, 100_000 + group * 61_000 + i * 1000);
                port += 1;
            }
        }
        assert!(d.drain().is_empty(), "no fifteen within a minute yet");
        for i in 5..15 {
            attempt(&mut d, s, 2000 + i, scan_at + i64::from(i) * 1000);
        }
        assert_eq!(d.drain().len(), 1, "the scan's ports were over the cap");
    }

    #[test]
    fn a_window_left_behind_by_more_than_the_allowance_is_evicted() {
        let (mut d, s) = detector();
        let other = d.subject("i-0fedcba9876543210", SubjectInfo::default);
        for p in 0..8 {
            attempt(&mut d, s, 1000 + p, p as i64 * 1000);
        }
        let later = 5 * MIN + LATE_FLOWS_MS + 10 * MIN;
        attempt_to(
            &mut d,
            other,
            "203.0.113.9".parse().expect("ip"),
            443,
            later,
        );
        assert_eq!(d.open_windows(), 1, "only the later flow's window is open");
        for p in 8..16 {
            attempt(&mut d, s, 1000 + p, p as i64 * 1000);
        }
        assert!(
            d.drain().is_empty(),
            "eight ports after eviction are no scan"
        );
    }

    #[test]
    fn open_windows_survive_a_store_round_trip() {
        let (mut d, s) = detector();
        for p in 0..10 {
            attempt(&mut d, s, 1000 + p, p as i64 * 1000);
        }
        let saved = d.export().expect("open windows");
        let (mut next, _) = detector();
        next.import(&saved);
        let s2 = next.subject("i-0123456789abcdef0", SubjectInfo::default);
        for p in 10..15 {
            attempt(&mut next, s2, 1000 + p, 60_000 + p as i64 * 1000);
        }
        assert_eq!(next.drain().len(), 1, "the scan spans two batches");
    }

    /// Each port as (port, earliest, latest, tries, rejected).
    fn tries(p: &Ports) -> Vec<(u16, i64, i64, u16, u16)> {
        p.iter()
            .map(|t| (t.port, t.earliest, t.latest, t.tries, t.rejected))
            .collect()
    }

    #[test]
    fn stored_windows_keep_their_shape() {
        // As written before ports counted their tries: the window's own first time and counts
        // are read past, each port is one accepted try in the window's protocol, the cap flag
        // moves to the window, and a window that fired scanned from its earliest port on.
        let before = r#"{"P":{"p":[22,1000],"m":[[23,2000],[25,3000]],"c":true},"f":1000,"l":3000,"a":3,"r":1,"t":17,"x":true}"#;
        let w: Window = serde_json::from_str(before).expect("stored window");
        assert_eq!(
            tries(&w.ports),
            [
                (22, 1000, 1000, 1, 0),
                (23, 2000, 2000, 1, 0),
                (25, 3000, 3000, 1, 0)
            ]
        );
        assert!(w.ports.iter().all(|t| t.protocol == 17));
        assert_eq!((w.last, w.capped), (3000, true));
        assert_eq!((w.scanned, w.scan_start, w.scan_end()), (true, 1000, 3000));
        let now = r#"{"P":{"p":[22,1000],"m":[[23,2000],[25,3000]]},"l":3000,"t":17,"c":true,"S":[1000,2000]}"#;
        assert_eq!(serde_json::to_string(&w).expect("serialises"), now);
        let counted = r#"{"P":{"p":[22,1400,1000,3,2,6,2],"m":[[25,3000],[53,3000,3000,1,0,17,0]]},"l":3000}"#;
        let w: Window = serde_json::from_str(counted).expect("counted tries");
        assert_eq!(
            tries(&w.ports),
            [
                (22, 1000, 1400, 3, 2),
                (25, 3000, 3000, 1, 0),
                (53, 3000, 3000, 1, 0)
            ]
        );
        assert_eq!(w.ports.first.ends, LATEST_REJECTED);
        assert!(!w.scanned);

        assert_eq!(serde_json::to_string(&w).expect("serialises"), counted);
        // As written in between: five values a port, the window's protocol, ends from counts.
        let five = r#"{"P":{"p":[22,1400,1000,3,3],"m":[[25,3000,2000,2,1]]},"l":3000,"t":17}"#;
        let w: Window = serde_json::from_str(five).expect("five values a port");
        assert_eq!(
            tries(&w.ports),
            [(22, 1000, 1400, 3, 3), (25, 2000, 3000, 2, 1)]
        );
        assert!(w.ports.iter().all(|t| t.protocol == 17));
        assert_eq!(w.ports.first.ends, EARLIEST_REJECTED | LATEST_REJECTED);
        let single = r#"{"P":{"p":[443,5]},"l":5}"#;
        let w: Window = serde_json::from_str(single).expect("one port");
        assert_eq!((w.ports.len(), w.ports.more.is_none()), (1, true));
        assert_eq!(serde_json::to_string(&w).expect("serialises"), single);
    }

    #[test]
    fn ports_count_tries_keep_both_ends_forget_old_ones_and_respect_the_cap() {
        let mut p = Ports::default();
        for (port, t, rejected) in [
            (1, 10, false),
            (2, 20, true),
            (3, 30, false),
            (2, 40, false),
        ] {
            assert!(p.touch(port, 6, t, rejected, 3));
        }
        assert_eq!(
            tries(&p),
            [(1, 10, 10, 1, 0), (2, 20, 40, 2, 1), (3, 30, 30, 1, 0)]
        );
        assert_eq!(p.more.as_ref().map(|m| m[0].ends), Some(EARLIEST_REJECTED));
        assert!(p.touch(1, 17, 45, false, 4), "UDP 1 is another port");
        assert_eq!(p.len(), 4);
        assert!(!p.touch(4, 6, 50, false, 4));
        assert_eq!(
            tries(&p),
            [
                (4, 50, 50, 1, 0),
                (2, 20, 40, 2, 1),
                (3, 30, 30, 1, 0),
                (1, 45, 45, 1, 0)
            ],
            "over the cap, a newer port takes the place of the one last tried longest ago"
        );
        assert!(!p.touch(5, 6, 5, false, 4));
        assert!(!p.iter().any(|t| t.port == 5), "an older one does not");
        p.retain_since(35);
        let mut left = tries(&p);
        left.sort_unstable();
        assert_eq!(
            left,
            [(1, 45, 45, 1, 0), (2, 40, 40, 1, 0), (4, 50, 50, 1, 0)],
            "a try before the cut is forgotten, and so is its count"
        );
        let two = p.iter().find(|t| t.port == 2).expect("port 2");
        assert_eq!(two.ends, 0, "its earliest try is now its latest, accepted");
        p.retain_since(100);
        assert_eq!(
            (p.len(), p.more.is_none()),
            (0, true),
            "nothing is kept allocated"
        );
        p.touch(7, 6, 200, false, 3);
        assert_eq!(tries(&p), [(7, 200, 200, 1, 0)]);
    }

    #[test]
    fn a_scan_counts_a_port_by_either_end_of_its_tries_or_the_try_just_made() {
        let mut scratch = Vec::new();
        let mut p = Ports::default();
        let mut dense = |p: &Ports, port: u16, time: i64, threshold: usize| {
            densest(
                p,
                (port, 6, time),
                5 * MIN,
                threshold,
                (i64::MIN, i64::MAX),
                &mut scratch,
            )
        };
        p.touch(443, 6, 400_000, false, 60);
        for i in 0..14 {
            p.touch(1000 + i, 6, i64::from(i) * 1000, false, 60);
        }
        assert_eq!(dense(&p, 1013, 13_000, 15), None);
        p.touch(443, 6, 14_000, false, 60);
        assert_eq!(dense(&p, 443, 14_000, 15), Some((0, 14_000)));
        assert_eq!(dense(&p, 443, 14_000, 16), None, "a port counts once");
        // A try between the ends of its port: the one just made counts.
        let mut p = Ports::default();
        p.touch(443, 6, -400_000, false, 60);
        p.touch(443, 6, 1_000_000, false, 60);
        for i in 0..14 {
            p.touch(1000 + i, 6, i64::from(i) * 1000, false, 60);
        }
        p.touch(443, 6, 7_000, false, 60);
        assert_eq!((p.first.earliest, p.first.latest), (-400_000, 1_000_000));
        assert_eq!(dense(&p, 443, 7_000, 15), Some((0, 13_000)));
        assert_eq!(
            dense(&p, 1013, 13_000, 15),
            None,
            "its middle try is not kept"
        );
    }

    #[test]
    fn a_count_within_a_scan_takes_the_tries_of_its_ends() {
        let mut t = PortTries::new(443, 6, 0, false);
        for time in [10, 20, 600] {
            t.add(time, time == 600);
        }
        assert_eq!(t.within(&(0..=100)), (1, 0), "its earliest try, accepted");
        assert_eq!(t.within(&(500..=700)), (1, 1), "its latest, rejected");
        assert_eq!(t.within(&(0..=700)), (4, 1));
        assert_eq!(t.within(&(100..=500)), (0, 0));
    }

    #[test]
    fn subject_ids_of_every_length_are_told_apart() {
        let mut index = SubjectIndex::default();
        // Lengths around each packing boundary, ids differing in one byte at every position.
        let mut ids = Vec::new();
        for len in 0..=40 {
            let base = "e".repeat(len);
            ids.push(base.clone());
            for at in 0..len {
                let mut id = base.clone().into_bytes();
                id[at] = b'f';
                ids.push(String::from_utf8(id).unwrap_or_default());
            }
        }
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id), None, "{id:?} is new");
            index.insert(id, i as u32);
        }
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id), Some(i as u32), "{id:?}");
        }
        assert!(PackedId::new(&[b'x'; 24]).is_some() && PackedId::new(&[b'x'; 25]).is_none());
    }

    #[test]
    fn an_ipv4_window_and_its_key_fit_a_cache_line() {
        assert!(std::mem::size_of::<(u64, Window)>() <= 64);
    }

    #[test]
    fn windows_of_both_families_are_kept_apart_and_listed() {
        let mut w = Windows::default();
        let v4: IpAddr = "198.51.100.7".parse().expect("v4");
        let v6: IpAddr = "2001:db8::7".parse().expect("v6");
        w.get_or_default(1, v4).last = 1;
        w.get_or_default(2, v4).last = 2;
        w.get_or_default(1, v6).last = 3;
        assert_eq!(w.get_or_default(1, v4).last, 1);
        let mut all: Vec<(u32, IpAddr, i64)> = w.iter().map(|(s, ip, w)| (s, ip, w.last)).collect();
        all.sort_unstable();
        assert_eq!(all, [(1, v4, 1), (1, v6, 3), (2, v4, 2)]);
        w.retain(|_, w| w.last != 3);
        assert_eq!(w.len(), 2);
    }

    fn attempt_r(d: &mut PortscanDetector, s: u32, port: u16, time: i64, rejected: bool) {
        let source = || format!("f.log:{port}");
        d.observe(&Attempt {
            subject: s,
            interface: 0,
            local: "10.0.0.5".parse().expect("ip"),
            remote: "10.0.9.9".parse().expect("ip"),
            port,
            protocol: 6,
            time,
            rejected,
            source: &source,
        });
    }

    #[test]
    fn regression_saturated_tries_do_not_make_a_mixed_port_look_blocked() {
        // Port 443 tried 140,000 times in two minutes, one in two rejected, then 14 other
        // ports, all rejected: a scan. `tries` stopped at u16::MAX while `rejected` went on
        // counting until it equalled it, and the finding said every flow was blocked.
        let (mut d, s) = detector();
        for i in 0..140_000i64 {
            attempt_r(&mut d, s, 443, i, i % 2 == 1);
        }
        for p in 0..14 {
            attempt_r(&mut d, s, 1000 + p, 200_000 + i64::from(p) * 1000, true);
        }
        let out = d.drain();
        assert_eq!(out.len(), 1);
        let n = network(&out[0]);
        assert!(
            !n.blocked,
            "70,000 accepted flows, yet blocked: count {} rejected {}",
            out[0].count, n.rejected
        );
    }

    #[test]
    fn regression_a_busy_window_that_never_fires_is_not_sorted_on_every_try() {
        // 100 flows a second to one host for ten minutes, its port changing every 25 s over
        // 56 ports (never 15 within 5 minutes): the window holds dozens of ports, and every
        // flow sorted their tries to look for a run. Fewer than the threshold have a try
        // within a window of any flow here, so none is sorted (the scratch space is unused).
        let (mut d, s) = detector();
        for i in 0..60_000i64 {
            let t = i * 10;
            let port = 1000 + ((t / 25_000) % 56) as u16;
            attempt(&mut d, s, port, t);
        }
        assert!(d.drain().is_empty());
        assert!(d.windows.iter().any(|(_, _, w)| w.ports.len() >= 20));
        assert_eq!(d.scratch.capacity(), 0, "the tries were sorted");
    }
}
