//! The flow-log side: an `AwsEc2Instance` (or, without an instance id, `AwsEc2NetworkInterface`)
//! resource, a `NETWORK_CONNECTION` (Portscan, outbound) or `PORT_PROBE` (inbound probes of
//! unprotected ports) action, and the matching `Network` block.

use std::net::IpAddr;

use serde_json::Value;

use super::limits;
use super::render::{Fields, Obj, Parts};
use super::text::{non_blank, truncate};
use crate::finding::{Ec2Subject, Evidence, Finding, FindingType, NetworkEvidence, PortCount};

/// The resource, action, network block and ProductFields of a flow-log finding.
pub(super) fn parts(f: &Finding, e: &Ec2Subject) -> Parts {
    let empty = NetworkEvidence::default();
    let ev = match &f.evidence {
        Evidence::Network(ev) => ev,
        Evidence::Api(_) => &empty,
    };
    let probe = f.finding_type == FindingType::PortProbeUnprotectedPort;
    let (action, network) = if probe {
        (port_probe(f, e, ev), inbound(f, e, ev))
    } else {
        (connection(f, ev), outbound(f, e, ev))
    };
    Parts {
        resource: resource(f, e),
        action: Some(action),
        network,
        fields: fields(probe, e, ev),
    }
}

/// How a flow-log subject is named in prose: instance id, else interface id, else address.
pub(super) fn subject_label(e: &Ec2Subject) -> String {
    if let Some(id) = non_blank(e.instance_id.as_deref()) {
        format!("EC2 instance {id}")
    } else if let Some(eni) = non_blank(e.interface_id.as_deref()) {
        format!("network interface {eni}")
    } else if let Some(ip) = e.local_ip {
        format!("the EC2 host at {ip}")
    } else {
        "an EC2 network interface".to_owned()
    }
}

fn arn(f: &Finding, what: &str) -> String {
    format!(
        "arn:{}:ec2:{}:{}:{what}",
        f.partition, f.region, f.account_id
    )
}

fn resource(f: &Finding, e: &Ec2Subject) -> Value {
    let instance = non_blank(e.instance_id.as_deref());
    let eni = non_blank(e.interface_id.as_deref());
    let (kind, id, details) = match (instance, eni) {
        (Some(i), _) => (
            "AwsEc2Instance",
            arn(f, &format!("instance/{i}")),
            instance_details(e),
        ),
        (None, Some(n)) => {
            let id = arn(f, &format!("network-interface/{n}"));
            ("AwsEc2NetworkInterface", id, interface_details(e))
        }
        (None, None) => ("Other", other_id(e), other_details(e)),
    };
    let mut d = Obj::new();
    d.opt(kind, details);
    let mut r = Obj::new();
    r.str("Type", Some(kind), limits::RESOURCE_TYPE)
        .str("Id", Some(&id), limits::FREE_TEXT)
        .str("Partition", Some(&f.partition), limits::NAME)
        .str("Region", Some(&f.region), usize::MAX)
        .opt("Details", d.into_opt());
    r.build()
}

fn instance_details(e: &Ec2Subject) -> Option<Value> {
    let mut o = Obj::new();
    o.str("VpcId", e.vpc_id.as_deref(), limits::FREE_TEXT).str(
        "SubnetId",
        e.subnet_id.as_deref(),
        limits::FREE_TEXT,
    );
    if let Some(ip) = e.local_ip {
        let key = if ip.is_ipv4() {
            "IpV4Addresses"
        } else {
            "IpV6Addresses"
        };
        o.val(key, vec![ip.to_string()]);
    }
    if let Some(eni) = non_blank(e.interface_id.as_deref()) {
        let mut nic = Obj::new();
        nic.str("NetworkInterfaceId", Some(eni), limits::FREE_TEXT);
        o.val("NetworkInterfaces", vec![nic.build()]);
    }
    o.into_opt()
}

fn interface_details(e: &Ec2Subject) -> Option<Value> {
    let mut o = Obj::new();
    o.str(
        "NetworkInterfaceId",
        e.interface_id.as_deref(),
        limits::FREE_TEXT,
    );
    let mut addr = Obj::new();
    match e.local_ip {
        Some(ip @ IpAddr::V4(_)) => {
            addr.str("PrivateIpAddress", Some(&ip.to_string()), limits::NAME);
            o.val("PrivateIpAddresses", vec![addr.build()]);
        }
        Some(ip @ IpAddr::V6(_)) => {
            addr.str("IpV6Address", Some(&ip.to_string()), limits::NAME);
            o.val("IpV6Addresses", vec![addr.build()]);
        }
        None => {}
    }
    o.into_opt()
}

/// Without instance or interface id the resource is `Other`, named by VPC and address.
fn other_id(e: &Ec2Subject) -> String {
    let parts: Vec<String> = [
        non_blank(e.vpc_id.as_deref()).map(str::to_owned),
        e.local_ip.map(|i| i.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "unknown-ec2-subject".to_owned()
    } else {
        parts.join("/")
    }
}

fn other_details(e: &Ec2Subject) -> Option<Value> {
    let mut o = Obj::new();
    // Details.Other values are limited to 1024 characters.
    o.str("VpcId", e.vpc_id.as_deref(), 1023)
        .str("SubnetId", e.subnet_id.as_deref(), 1023)
        .str(
            "LocalIp",
            e.local_ip.map(|i| i.to_string()).as_deref(),
            1023,
        );
    o.into_opt()
}

fn protocol(ev: &NetworkEvidence, max: usize) -> Option<String> {
    non_blank(ev.protocol.as_deref()).map(|p| truncate(p, max))
}

fn port_details(p: &PortCount) -> Value {
    let mut o = Obj::new();
    o.val("Port", p.port)
        .str("PortName", p.name.as_deref(), limits::NAME);
    o.build()
}

fn ipv4_details(ip: Option<IpAddr>) -> Option<Value> {
    let IpAddr::V4(v4) = ip? else {
        return None;
    };
    let mut o = Obj::new();
    o.str("IpAddressV4", Some(&v4.to_string()), limits::NAME);
    o.into_opt()
}

/// Portscan: the instance connecting out to many ports of one remote host.
fn connection(f: &Finding, ev: &NetworkEvidence) -> Value {
    let mut c = Obj::new();
    c.str("ConnectionDirection", Some("OUT"), limits::NAME)
        .opt("RemoteIpDetails", ipv4_details(f.remote_ip))
        .opt("RemotePortDetails", ev.ports.first().map(port_details))
        .str(
            "Protocol",
            protocol(ev, limits::ACTION_PROTOCOL).as_deref(),
            limits::ACTION_PROTOCOL,
        )
        .val("Blocked", ev.blocked);
    let mut o = Obj::new();
    o.str("ActionType", Some("NETWORK_CONNECTION"), limits::NAME)
        .val("NetworkConnectionAction", c.build());
    o.build()
}

/// PortProbeUnprotectedPort: one detail per probed local port (bounded).
fn port_probe(f: &Finding, e: &Ec2Subject, ev: &NetworkEvidence) -> Value {
    let probe = |port: Option<&PortCount>| {
        let local = port.and_then(|p| p.local).or(e.local_ip);
        let mut d = Obj::new();
        d.opt("LocalPortDetails", port.map(port_details))
            .opt("LocalIpDetails", ipv4_details(local))
            .opt("RemoteIpDetails", ipv4_details(f.remote_ip));
        d.into_opt()
    };
    let details: Vec<Value> = if ev.ports.is_empty() {
        probe(None).into_iter().collect()
    } else {
        ev.ports
            .iter()
            .take(limits::PORT_PROBE_DETAILS)
            .filter_map(|p| probe(Some(p)))
            .collect()
    };
    let mut a = Obj::new();
    if !details.is_empty() {
        a.val("PortProbeDetails", details);
    }
    a.val("Blocked", ev.blocked);
    let mut o = Obj::new();
    o.str("ActionType", Some("PORT_PROBE"), limits::NAME)
        .val("PortProbeAction", a.build());
    o.build()
}

fn ip_key(side: &str, ip: IpAddr) -> String {
    format!("{side}{}", if ip.is_ipv4() { "IpV4" } else { "IpV6" })
}

fn network(direction: &str, source: Option<IpAddr>, dest: Option<IpAddr>) -> Obj {
    let mut o = Obj::new();
    o.str("Direction", Some(direction), limits::NAME);
    for (side, ip) in [("Source", source), ("Destination", dest)] {
        if let Some(ip) = ip {
            o.str(&ip_key(side, ip), Some(&ip.to_string()), limits::NAME);
        }
    }
    o
}

/// Portscan: from the instance (source) to the scanned host (destination).
fn outbound(f: &Finding, e: &Ec2Subject, ev: &NetworkEvidence) -> Option<Value> {
    let mut o = network("OUT", e.local_ip, f.remote_ip);
    o.str(
        "Protocol",
        protocol(ev, limits::NETWORK_PROTOCOL).as_deref(),
        limits::NETWORK_PROTOCOL,
    );
    Some(o.build())
}

/// PortProbe: from the scanner (source) to the instance's most-probed port (destination), on
/// the address it was probed on.
fn inbound(f: &Finding, e: &Ec2Subject, ev: &NetworkEvidence) -> Option<Value> {
    let first = ev.ports.first();
    let mut o = network(
        "IN",
        f.remote_ip,
        first.and_then(|p| p.local).or(e.local_ip),
    );
    // The protocol the port named beside it was probed over.
    let over = first.and_then(|p| non_blank(p.protocol.as_deref()));
    o.str(
        "Protocol",
        over.map(|p| truncate(p, limits::NETWORK_PROTOCOL))
            .or_else(|| protocol(ev, limits::NETWORK_PROTOCOL))
            .as_deref(),
        limits::NETWORK_PROTOCOL,
    )
    .opt("DestinationPort", first.map(|p| Value::from(p.port)));
    Some(o.build())
}

/// Ports as `port/NAME xCOUNT`, comma-separated.
pub(super) fn port_list(ports: &[PortCount], with_counts: bool) -> String {
    // Ports probed on several of an instance's addresses, or over several protocols, say which.
    let several = ports.iter().any(|p| p.local != ports[0].local);
    let protocols = ports.iter().any(|p| p.protocol != ports[0].protocol);
    let one = |p: &PortCount| {
        let on = match p.local {
            Some(ip) if several => format!(" on {ip}"),
            _ => String::new(),
        };
        let name = non_blank(p.name.as_deref())
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let count = if with_counts {
            format!(" x{}", p.count)
        } else {
            String::new()
        };
        let over = match non_blank(p.protocol.as_deref()) {
            Some(proto) if protocols => format!("/{proto}"),
            _ => String::new(),
        };
        format!("{}{over}{name}{on}{count}", p.port)
    };
    ports.iter().map(one).collect::<Vec<_>>().join(", ")
}

fn fields(probe: bool, e: &Ec2Subject, ev: &NetworkEvidence) -> Fields {
    let mut out: Fields = vec![(
        "resource-role",
        if probe { "TARGET" } else { "ACTOR" }.into(),
    )];
    let optional = [
        ("instance-id", e.instance_id.clone()),
        ("interface-id", e.interface_id.clone()),
        ("vpc-id", e.vpc_id.clone()),
        ("subnet-id", e.subnet_id.clone()),
        ("local-ip", e.local_ip.map(|i| i.to_string())),
        ("protocol", ev.protocols()),
        ("distinct-ports", ev.distinct_ports.map(|n| n.to_string())),
        (
            "distinct-ports-at-least",
            ev.distinct_ports_at_least.then(|| "true".to_owned()),
        ),
        (
            "rejected-flows",
            (ev.rejected > 0).then(|| ev.rejected.to_string()),
        ),
    ];
    out.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
    out.push(("blocked", ev.blocked.to_string()));
    out.push(("evidence/ports", port_list(&ev.ports, true)));
    out.push(("evidence/sources", ev.sources.join(", ")));
    out
}
