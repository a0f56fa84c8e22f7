//! Who opened a connection, and names for well-known ports and protocols.

use serde::{Deserialize, Serialize};

use super::record::FlowRecord;

/// TCP SYN in the `tcp-flags` bitmask.
pub const TCP_SYN: u16 = 2;
/// TCP FIN in the `tcp-flags` bitmask.
pub const TCP_FIN: u16 = 1;
/// TCP RST in the `tcp-flags` bitmask.
pub const TCP_RST: u16 = 4;
/// TCP SYN-ACK in the `tcp-flags` bitmask (SYN 2 | ACK 16).
pub const TCP_SYN_ACK: u16 = 18;

/// Ports from here up are in the Linux and AWS ephemeral range.
pub const EPHEMERAL_START: u16 = 32768;

/// Which side of a record opened the connection it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Initiator {
    /// The record's source (srcaddr/srcport) opened the connection.
    Source,
    /// The record's destination opened it: the record is the reply direction.
    Destination,
    /// The record does not say.
    Unknown,
}

/// Who opened the connection a record belongs to. Rules, first match wins:
///
/// 1. ICMP and ICMPv6 (protocols 1 and 58) have no connections: [`Initiator::Unknown`].
/// 2. TCP (or protocol absent) with `tcp-flags`: `(flags & 18) == 2` (SYN without ACK) means the
///    source opened it; `(flags & 18) == 18` (SYN-ACK) means the source is the responder, so the
///    destination opened it. Other values (FIN 1, RST 4, 0) say nothing and fall through.
/// 3. Ports, both present and non-zero. A *service* port is below 1024 or has a [`port_name`].
///    A service port on one side and a non-service port (≥ 1024) on the other: the
///    non-service side opened it. Otherwise, a port ≥ 32768 on one side only: that side opened
///    it (the ephemeral range).
/// 4. Anything else (both or neither side a service port in the same range, ports absent):
///    [`Initiator::Unknown`].
pub fn initiator(rec: &FlowRecord) -> Initiator {
    if matches!(rec.protocol, Some(1 | 58)) {
        return Initiator::Unknown;
    }
    if let Some(by_flags) = initiator_by_flags(rec) {
        return by_flags;
    }
    match (rec.srcport, rec.dstport) {
        (Some(src), Some(dst)) if src != 0 && dst != 0 => initiator_by_ports(src, dst),
        _ => Initiator::Unknown,
    }
}

fn initiator_by_flags(rec: &FlowRecord) -> Option<Initiator> {
    if !matches!(rec.protocol, None | Some(6)) {
        return None;
    }
    match rec.tcp_flags? & TCP_SYN_ACK {
        TCP_SYN => Some(Initiator::Source),
        TCP_SYN_ACK => Some(Initiator::Destination),
        _ => None,
    }
}

fn initiator_by_ports(src: u16, dst: u16) -> Initiator {
    match (is_service_port(src), is_service_port(dst)) {
        (false, true) => return Initiator::Source,
        (true, false) => return Initiator::Destination,
        _ => {}
    }
    match (src >= EPHEMERAL_START, dst >= EPHEMERAL_START) {
        (true, false) => Initiator::Source,
        (false, true) => Initiator::Destination,
        _ => Initiator::Unknown,
    }
}

/// A port below 1024 or one with a [`port_name`].
pub fn is_service_port(port: u16) -> bool {
    port < 1024 || port_name(port).is_some()
}

/// The usual service on a TCP or UDP port, for the ports scanners probe most; `None` otherwise.
pub fn port_name(port: u16) -> Option<&'static str> {
    let name = match port {
        20 => "FTP-data",
        21 => "FTP",
        22 => "SSH",
        23 => "Telnet",
        25 => "SMTP",
        53 => "DNS",
        67 => "DHCP",
        69 => "TFTP",
        80 => "HTTP",
        88 => "Kerberos",
        110 => "POP3",
        111 => "RPCbind",
        123 => "NTP",
        135 => "MSRPC",
        137 => "NetBIOS-NS",
        139 => "NetBIOS-SSN",
        143 => "IMAP",
        161 => "SNMP",
        389 => "LDAP",
        443 => "HTTPS",
        445 => "SMB",
        465 => "SMTPS",
        514 => "Syslog",
        587 => "SMTP-submission",
        636 => "LDAPS",
        873 => "rsync",
        993 => "IMAPS",
        995 => "POP3S",
        1433 => "MSSQL",
        1521 => "Oracle",
        1883 => "MQTT",
        2049 => "NFS",
        2375 => "Docker",
        2376 => "Docker-TLS",
        2379 => "etcd",
        3306 => "MySQL",
        3389 => "RDP",
        5432 => "PostgreSQL",
        5601 => "Kibana",
        5672 => "AMQP",
        5900 => "VNC",
        5985 => "WinRM",
        5986 => "WinRM-HTTPS",
        6379 => "Redis",
        6443 => "Kubernetes-API",
        8080 => "HTTP-alt",
        8443 => "HTTPS-alt",
        9092 => "Kafka",
        9200 => "Elasticsearch",
        9300 => "Elasticsearch",
        10250 => "Kubelet",
        11211 => "Memcached",
        27017 => "MongoDB",
        _ => return None,
    };
    Some(name)
}

/// The name of an IANA protocol number seen in flow logs; `None` for the rest.
pub fn protocol_name(proto: u8) -> Option<&'static str> {
    let name = match proto {
        0 => "HOPOPT",
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPv4",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "ICMPv6",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(protocol: u8, ports: (u16, u16), flags: Option<u16>) -> FlowRecord<'static> {
        FlowRecord {
            protocol: Some(protocol),
            srcport: Some(ports.0),
            dstport: Some(ports.1),
            tcp_flags: flags,
            ..FlowRecord::default()
        }
    }

    #[test]
    fn flags_decide_first() {
        // Client SYN from an ephemeral port to 443, and the server's SYN-ACK back.
        assert_eq!(initiator(&rec(6, (50123, 443), Some(2))), Initiator::Source);
        assert_eq!(
            initiator(&rec(6, (443, 50123), Some(18))),
            Initiator::Destination
        );
        // SYN+FIN and SYN-ACK+FIN, as aggregated over an interval.
        assert_eq!(
            initiator(&rec(6, (43638, 5001), Some(3))),
            Initiator::Source
        );
        assert_eq!(
            initiator(&rec(6, (5001, 43638), Some(19))),
            Initiator::Destination
        );
        // Flags win over ports that suggest the opposite.
        assert_eq!(initiator(&rec(6, (443, 50123), Some(2))), Initiator::Source);
    }

    #[test]
    fn ports_when_flags_say_nothing() {
        // FIN only: fall back to ports.
        assert_eq!(
            initiator(&rec(6, (5001, 43418), Some(1))),
            Initiator::Destination
        );
        assert_eq!(
            initiator(&rec(6, (43418, 5001), Some(1))),
            Initiator::Source
        );
        // Flags absent (v2), service port on one side.
        assert_eq!(initiator(&rec(6, (20641, 22), None)), Initiator::Source);
        assert_eq!(
            initiator(&rec(6, (3389, 2000), None)),
            Initiator::Destination
        );
        assert_eq!(initiator(&rec(17, (40000, 53), Some(0))), Initiator::Source);
        // Both service ports, both ephemeral, or ICMP: unknown.
        assert_eq!(initiator(&rec(6, (443, 8080), None)), Initiator::Unknown);
        assert_eq!(initiator(&rec(6, (40000, 50000), None)), Initiator::Unknown);
        assert_eq!(initiator(&rec(1, (0, 0), None)), Initiator::Unknown);
        assert_eq!(initiator(&rec(6, (0, 443), None)), Initiator::Unknown);
        assert_eq!(initiator(&FlowRecord::default()), Initiator::Unknown);
    }

    #[test]
    fn udp_ignores_flags() {
        assert_eq!(
            initiator(&rec(17, (53, 40000), Some(2))),
            Initiator::Destination
        );
    }

    #[test]
    fn names() {
        assert_eq!(port_name(22), Some("SSH"));
        assert_eq!(port_name(9300), Some("Elasticsearch"));
        assert_eq!(port_name(5001), None);
        assert!(is_service_port(1023) && is_service_port(27017) && !is_service_port(1024));
        assert_eq!(protocol_name(6), Some("TCP"));
        assert_eq!(protocol_name(58), Some("ICMPv6"));
        assert_eq!(protocol_name(253), None);
        let named = (0..=u16::MAX).filter(|p| port_name(*p).is_some()).count();
        assert!(named >= 40, "{named}");
    }
}
