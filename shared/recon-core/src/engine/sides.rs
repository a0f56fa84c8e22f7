//! Which side of a flow record is the instance, when neither the record (`flow-direction`) nor
//! the address space (one side private, one public) tells, as in a version-2 log of IPv6 flows,
//! whose addresses are all global, or of flows between two private hosts.
//!
//! An interface's own address is on every record it logs, so two records of one interface with
//! different peers name it: the address they share. Until then its records wait here, a bounded
//! number per interface and in all, and are handed back once the address is known. Records of
//! an interface that only ever talks to one host cannot be placed: they are dropped at the end
//! of the batch and counted.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::flowlog::{Action, Initiator};

/// Records held for one interface and address family, at most.
pub const MAX_HELD_PER_SUBJECT: usize = 64;
/// Records held in all, at most (about 100 bytes each).
pub const MAX_HELD: usize = 65_536;

/// What the detectors read of a data record, once its sides are known.
#[derive(Clone, Debug)]
pub(super) struct Flow {
    /// The packet-level endpoints (`pkt-srcaddr`/`pkt-dstaddr`, else `srcaddr`/`dstaddr`):
    /// the remote host is one of them.
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The interface-level addresses (`srcaddr`/`dstaddr`, else the packet-level ones): one of
    /// them is always the interface's own, even for traffic it forwards (a NAT gateway) or
    /// carries for others (a pod's address behind a node's).
    pub iface_src: IpAddr,
    pub iface_dst: IpAddr,
    pub srcport: Option<u16>,
    pub dstport: Option<u16>,
    pub protocol: Option<u8>,
    pub action: Option<Action>,
    pub initiator: Initiator,
    pub time_ms: i64,
}

/// The key of a subject's interface `slot` (see
/// [`SubjectInfo::interface_slot`](crate::detect::portscan::SubjectInfo::interface_slot)).
pub(super) fn interface_key(subject: u32, slot: u8) -> u64 {
    (u64::from(subject) << 8) | u64::from(slot)
}

/// A record waiting for its interface's address, with what its findings would name.
#[derive(Debug)]
pub(super) struct Held {
    pub flow: Flow,
    pub account: String,
    pub region: Option<String>,
    /// `object:line`.
    pub source: String,
}

/// The first two addresses of an interface's unplaced records, and the records themselves.
#[derive(Debug)]
struct Waiting {
    pair: (IpAddr, IpAddr),
    held: Vec<Held>,
}

/// Learns interfaces' own addresses from the records that cannot be placed otherwise.
#[derive(Debug, Default)]
pub(super) struct SideLearner {
    /// Learnt addresses, by (interface, IPv6).
    known: HashMap<(u64, bool), IpAddr>,
    waiting: HashMap<(u64, bool), Waiting>,
    held: usize,
    /// Records that could not be held (over the bounds) or placed (at the end of a batch).
    dropped: u64,
}

impl SideLearner {
    /// The address learnt for `interface` (see [`interface_key`]) in the family of `ip`.
    pub fn known(&self, interface: u64, ip: IpAddr) -> Option<IpAddr> {
        if self.known.is_empty() {
            return None;
        }
        self.known.get(&(interface, ip.is_ipv6())).copied()
    }

    /// Offers a record of `interface` that could not be placed. When it and an earlier one name
    /// the interface's address, returns that address with the records held until now (the
    /// offered one is not among them: place it with the address); else holds it, if there is
    /// room (`held` makes it), and returns `None`.
    pub fn offer(
        &mut self,
        interface: u64,
        flow: &Flow,
        held: impl FnOnce() -> Held,
    ) -> Option<(IpAddr, Vec<Held>)> {
        let (src, dst) = (flow.iface_src, flow.iface_dst);
        let key = (interface, src.is_ipv6());
        let Some(waiting) = self.waiting.get_mut(&key) else {
            if self.held < MAX_HELD {
                self.held += 1;
                let pair = (src, dst);
                self.waiting.insert(
                    key,
                    Waiting {
                        pair,
                        held: vec![held()],
                    },
                );
            } else {
                self.dropped += 1;
            }
            return None;
        };
        let (a, b) = waiting.pair;
        let shared = |x: IpAddr| x == a || x == b;
        let local = match (shared(src), shared(dst)) {
            (true, false) => src,
            (false, true) => dst,
            // The same two hosts again, or none of them (an interface with several addresses):
            // nothing learnt.
            _ => {
                if waiting.held.len() < MAX_HELD_PER_SUBJECT && self.held < MAX_HELD {
                    waiting.held.push(held());
                    self.held += 1;
                } else {
                    self.dropped += 1;
                }
                return None;
            }
        };
        let waiting = self.waiting.remove(&key)?;
        self.held -= waiting.held.len();
        self.known.insert(key, local);
        Some((local, waiting.held))
    }

    /// Whether any record waits.
    #[inline]
    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Takes the records of `interface` in the family of `ip` that wait, now that its address
    /// is known another way (a public peer, a `flow-direction`).
    pub fn release(&mut self, interface: u64, ip: IpAddr) -> Vec<Held> {
        match self.waiting.remove(&(interface, ip.is_ipv6())) {
            Some(w) => {
                self.held -= w.held.len();
                w.held
            }
            None => Vec::new(),
        }
    }

    /// Takes the records of `interface` that wait and name `ip` (another of its addresses,
    /// now known); the others go on waiting.
    pub fn release_naming(&mut self, interface: u64, ip: IpAddr) -> Vec<Held> {
        let key = (interface, ip.is_ipv6());
        let Some(w) = self.waiting.get_mut(&key) else {
            return Vec::new();
        };
        let names = |h: &Held| h.flow.iface_src == ip || h.flow.iface_dst == ip;
        let (released, kept): (Vec<Held>, Vec<Held>) = w.held.drain(..).partition(names);
        w.held = kept;
        if w.held.is_empty() {
            self.waiting.remove(&key);
        }
        self.held -= released.len();
        released
    }

    /// Counts records that waited and turned out not to be the interface's.
    pub fn count_dropped(&mut self, n: usize) {
        self.dropped += n as u64;
    }

    /// Drops the records still waiting (their interface's address never showed) and returns
    /// how many records were dropped since the last call.
    pub fn finish(&mut self) -> u64 {
        let waiting: usize = self.waiting.drain().map(|(_, w)| w.held.len()).sum();
        self.held = 0;
        std::mem::take(&mut self.dropped) + waiting as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(src: &str, dst: &str) -> Flow {
        Flow {
            src: src.parse().expect("ip"),
            dst: dst.parse().expect("ip"),
            iface_src: src.parse().expect("ip"),
            iface_dst: dst.parse().expect("ip"),
            srcport: Some(50_000),
            dstport: Some(22),
            protocol: Some(6),
            action: Some(Action::Accept),
            initiator: Initiator::Source,
            time_ms: 0,
        }
    }

    fn held(f: &Flow) -> impl FnOnce() -> Held + '_ {
        move || Held {
            flow: f.clone(),
            account: "111122223333".into(),
            region: None,
            source: "f.log:1".into(),
        }
    }

    #[test]
    fn two_peers_name_the_interface_address_and_release_what_waited() {
        let mut l = SideLearner::default();
        let (me, a, b) = ("2600:1f18::10", "2001:db8::1", "2001:db8::2");
        for f in [flow(me, a), flow(a, me), flow(me, a)] {
            assert!(l.offer(7, &f, held(&f)).is_none(), "one peer tells nothing");
        }
        let f = flow(b, me);
        let (local, waited) = l.offer(7, &f, held(&f)).expect("a second peer names it");
        assert_eq!(local, me.parse::<IpAddr>().expect("ip"));
        assert_eq!(waited.len(), 3);
        assert_eq!(l.known(7, local), Some(local));
        assert_eq!(
            l.known(7, "10.0.0.1".parse().expect("ip")),
            None,
            "per family"
        );
        assert_eq!(l.known(8, local), None, "per interface");
        assert_eq!(l.finish(), 0);
    }

    #[test]
    fn what_never_shows_its_side_is_dropped_and_counted_within_bounds() {
        let mut l = SideLearner::default();
        for _ in 0..MAX_HELD_PER_SUBJECT + 10 {
            let f = flow("10.0.0.5", "10.0.9.9");
            assert!(l.offer(1, &f, held(&f)).is_none());
        }
        assert_eq!(l.held, MAX_HELD_PER_SUBJECT);
        assert_eq!(l.finish(), (MAX_HELD_PER_SUBJECT + 10) as u64);
        assert_eq!(l.held, 0);
    }
}
