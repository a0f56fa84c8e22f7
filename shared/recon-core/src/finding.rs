//! The finding model shared by every detector, the store and the ASFF renderer.
//!
//! A [`Finding`] is the aggregated state of one issue, as GuardDuty keeps it: one finding per
//! (type, account, subject[, remote IP]) with a deterministic id, a count and first/last observed
//! event times. New activity for the same key updates the same finding.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// The eight Recon finding types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FindingType {
    /// `Recon:EC2/PortProbeUnprotectedPort`
    PortProbeUnprotectedPort,
    /// `Recon:EC2/Portscan`
    Portscan,
    /// `Recon:IAMUser/TorIPCaller`
    TorIpCaller,
    /// `Recon:IAMUser/MaliciousIPCaller`
    MaliciousIpCaller,
    /// `Recon:IAMUser/MaliciousIPCaller.Custom`
    MaliciousIpCallerCustom,
    /// `Recon:IAMUser/NetworkPermissions`
    NetworkPermissions,
    /// `Recon:IAMUser/ResourcePermissions`
    ResourcePermissions,
    /// `Recon:IAMUser/UserPermissions`
    UserPermissions,
}

impl FindingType {
    /// Every type, in GuardDuty's documented order.
    pub const ALL: [FindingType; 8] = [
        FindingType::PortProbeUnprotectedPort,
        FindingType::TorIpCaller,
        FindingType::MaliciousIpCallerCustom,
        FindingType::MaliciousIpCaller,
        FindingType::Portscan,
        FindingType::NetworkPermissions,
        FindingType::ResourcePermissions,
        FindingType::UserPermissions,
    ];

    /// GuardDuty's name, e.g. `Recon:IAMUser/TorIPCaller`.
    pub fn name(self) -> &'static str {
        match self {
            FindingType::PortProbeUnprotectedPort => "Recon:EC2/PortProbeUnprotectedPort",
            FindingType::Portscan => "Recon:EC2/Portscan",
            FindingType::TorIpCaller => "Recon:IAMUser/TorIPCaller",
            FindingType::MaliciousIpCaller => "Recon:IAMUser/MaliciousIPCaller",
            FindingType::MaliciousIpCallerCustom => "Recon:IAMUser/MaliciousIPCaller.Custom",
            FindingType::NetworkPermissions => "Recon:IAMUser/NetworkPermissions",
            FindingType::ResourcePermissions => "Recon:IAMUser/ResourcePermissions",
            FindingType::UserPermissions => "Recon:IAMUser/UserPermissions",
        }
    }

    /// The ASFF `Types` entry: the name with its `/` turned into `-` under `TTPs/Discovery`,
    /// as GuardDuty writes it (a third `/` would break the Types pattern).
    pub fn asff_type(self) -> String {
        format!("TTPs/Discovery/{}", self.name().replace('/', "-"))
    }

    /// Parses a name as [`FindingType::name`] prints it, or the ASFF form.
    pub fn from_name(s: &str) -> Option<Self> {
        let s = s.strip_prefix("TTPs/Discovery/").unwrap_or(s);
        FindingType::ALL
            .into_iter()
            .find(|t| t.name() == s || t.name().replace('/', "-") == s)
    }

    /// True when findings of this type aggregate per remote address: the three IP-caller types
    /// and the two EC2 types. The permissions types aggregate per principal only.
    pub fn keyed_by_remote_ip(self) -> bool {
        !matches!(
            self,
            FindingType::NetworkPermissions
                | FindingType::ResourcePermissions
                | FindingType::UserPermissions
        )
    }

    /// A short slug used in finding ids, e.g. `tor-ip-caller`.
    pub fn slug(self) -> &'static str {
        match self {
            FindingType::PortProbeUnprotectedPort => "port-probe-unprotected-port",
            FindingType::Portscan => "portscan",
            FindingType::TorIpCaller => "tor-ip-caller",
            FindingType::MaliciousIpCaller => "malicious-ip-caller",
            FindingType::MaliciousIpCallerCustom => "malicious-ip-caller-custom",
            FindingType::NetworkPermissions => "network-permissions",
            FindingType::ResourcePermissions => "resource-permissions",
            FindingType::UserPermissions => "user-permissions",
        }
    }
}

impl std::fmt::Display for FindingType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Severity, as ASFF labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// `LOW`
    Low,
    /// `MEDIUM`
    Medium,
    /// `HIGH`
    High,
}

impl Severity {
    /// The ASFF `Severity.Label`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
        }
    }

    /// GuardDuty's numeric severity for this label (its `Severity.Original`).
    pub fn guardduty_value(self) -> f32 {
        match self {
            Severity::Low => 2.0,
            Severity::Medium => 5.0,
            Severity::High => 8.0,
        }
    }
}

/// Which kind of list an address matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ListKind {
    /// A Tor exit-node list.
    Tor,
    /// A managed (built-in or operator-supplied) threat list.
    Managed,
    /// A threat list the user uploaded (GuardDuty's custom threat intel).
    Custom,
    /// A trusted-IP list: it wins over every threat list.
    Trusted,
}

/// Which list, and which entry of it, an address matched.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IntelHit {
    /// The kind of list.
    pub kind: ListKind,
    /// The list's name (its file stem unless named otherwise).
    pub list: String,
    /// The entry that matched, as written in the list (`203.0.113.7` or `203.0.113.0/24`).
    pub entry: String,
}

/// The session behind temporary credentials (CloudTrail `userIdentity.sessionContext`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `sessionIssuer.type` (`Role`, `IAMUser`, …).
    pub issuer_type: Option<String>,
    /// `sessionIssuer.arn`.
    pub issuer_arn: Option<String>,
    /// `sessionIssuer.principalId`.
    pub issuer_principal_id: Option<String>,
    /// `sessionIssuer.accountId`.
    pub issuer_account_id: Option<String>,
    /// `sessionIssuer.userName`.
    pub issuer_user_name: Option<String>,
    /// `attributes.mfaAuthenticated`.
    pub mfa_authenticated: Option<bool>,
    /// `attributes.creationDate`.
    pub creation_date: Option<String>,
}

/// The IAM principal behind a CloudTrail record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The stable baseline key: the user ARN, the role ARN for an assumed-role session, the
    /// account root ARN for root, or a synthesised `type:…` key where no ARN exists.
    pub key: String,
    /// `userIdentity.type`, or `Unknown` when missing.
    pub identity_type: String,
    /// `userIdentity.arn` as logged (a session ARN for assumed roles).
    pub arn: Option<String>,
    /// `userIdentity.principalId`.
    pub principal_id: Option<String>,
    /// A readable name: the user name, role name, or session issuer's name.
    pub name: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    /// The account the principal belongs to (`userIdentity.accountId`).
    pub account_id: Option<String>,
    /// The session behind temporary credentials, when any.
    pub session: Option<SessionInfo>,
    /// True when the credentials were created on an EC2 instance (instance-profile role).
    pub instance_credentials: bool,
}

/// An API seen in a finding, with how often and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCall {
    /// `eventSource`, e.g. `ec2.amazonaws.com`.
    pub service: String,
    /// `eventName` without a version suffix, e.g. `DescribeInstances`.
    pub api: String,
    /// Calls aggregated into the finding.
    pub count: u64,
    /// The `errorCode` of the most recent call, if it failed (denied calls count).
    pub last_error: Option<String>,
}

/// What a CloudTrail-based finding saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiEvidence {
    /// The APIs involved, most frequent first (bounded, see [`MAX_EVIDENCE_ITEMS`]).
    pub apis: Vec<ApiCall>,
    /// `eventID`s of the most recent calls (bounded).
    pub event_ids: Vec<String>,
    /// The most recent `userAgent`.
    pub user_agent: Option<String>,
    /// For first-seen findings: the APIs that were new for this principal.
    pub new_apis: Vec<String>,
    /// When the principal was first seen (event time), for first-seen findings.
    pub principal_first_seen: Option<Timestamp>,
    /// How long the principal had been observed before the first new call, in milliseconds.
    pub baseline_age_ms: Option<i64>,
    /// When the account's observation (and learning period) began.
    pub account_first_seen: Option<Timestamp>,
}

/// The EC2 side of a flow-log finding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2Subject {
    /// `instance-id`, when the log has it.
    pub instance_id: Option<String>,
    /// `interface-id`.
    pub interface_id: Option<String>,
    /// `vpc-id`.
    pub vpc_id: Option<String>,
    /// `subnet-id`.
    pub subnet_id: Option<String>,
    /// The instance's local address seen in the flows.
    pub local_ip: Option<IpAddr>,
}

/// A port and its common service name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortCount {
    /// The port number.
    pub port: u16,
    /// Its common service name, e.g. `SSH`, when known.
    pub name: Option<String>,
    /// Flows seen on it.
    pub count: u64,
    /// The instance's address the port was probed on (PortProbe: an instance has one an
    /// interface); `None` for the remote ports of a Portscan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<IpAddr>,
    /// The protocol it was probed over (PortProbe: a scanner may probe TCP and UDP ports of one
    /// instance); `None` for the remote ports of a Portscan, whose finding names its protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

impl NetworkEvidence {
    /// The protocols of the ports, in order and each once, as `TCP/UDP`; else the evidence's
    /// own protocol.
    pub fn protocols(&self) -> Option<String> {
        let mut seen: Vec<&str> = Vec::new();
        for p in self.ports.iter().filter_map(|p| p.protocol.as_deref()) {
            if !seen.contains(&p) {
                seen.push(p);
            }
        }
        match seen.is_empty() {
            true => self.protocol.clone(),
            false => Some(seen.join("/")),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a flow-log-based finding saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkEvidence {
    /// Protocol name (`TCP`, `UDP`, `ICMP` or the number).
    pub protocol: Option<String>,
    /// Local ports probed (PortProbe) or remote ports contacted (Portscan), bounded.
    pub ports: Vec<PortCount>,
    /// Distinct ports in the window that raised a Portscan.
    pub distinct_ports: Option<u32>,
    /// True when `distinct_ports` is a lower bound: a window keeps at most four times the
    /// threshold of ports, and more were contacted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub distinct_ports_at_least: bool,
    /// True when the traffic was rejected.
    pub blocked: bool,
    /// Flows rejected, of [`Finding::count`](crate::finding::Finding::count) (Portscan; a
    /// PortProbe is about accepted flows only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rejected: u64,
    /// The flow-log objects and line numbers that carried it (bounded), e.g. `key:123`.
    pub sources: Vec<String>,
}

/// What the finding is about.
// A principal is larger than an EC2 subject, but findings are few and short-lived in memory:
// boxing would buy nothing measurable and cost every constructor a `Box::new`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    /// An IAM principal (the six CloudTrail types).
    Principal(Principal),
    /// An EC2 instance or network interface (the two flow-log types).
    Ec2(Ec2Subject),
}

/// Evidence, by log source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Evidence {
    /// CloudTrail API calls.
    Api(ApiEvidence),
    /// Flow-log traffic.
    Network(NetworkEvidence),
}

/// How many items an evidence list keeps (APIs, event ids, ports, sources).
pub const MAX_EVIDENCE_ITEMS: usize = 20;

/// One aggregated finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Deterministic id: the same key always gives the same id.
    pub id: String,
    /// The finding type.
    pub finding_type: FindingType,
    /// Its severity.
    pub severity: Severity,
    /// The 12-digit account the activity happened in.
    pub account_id: String,
    /// The Region of the activity.
    pub region: String,
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// What the finding is about.
    pub subject: Subject,
    /// The remote address involved, when any.
    pub remote_ip: Option<IpAddr>,
    /// The threat-intel entry the remote address matched, when any.
    pub intel: Option<IntelHit>,
    /// Occurrences aggregated into this finding.
    pub count: u64,
    /// Event time of the first occurrence.
    pub first_seen: Timestamp,
    /// Event time of the latest occurrence.
    pub last_seen: Timestamp,
    /// When the finding was created (wall clock).
    pub created_at: Timestamp,
    /// When it was last updated (wall clock); strictly increases with every update.
    pub updated_at: Timestamp,
    /// What was seen.
    pub evidence: Evidence,
}

impl Finding {
    /// The aggregation id for a key: `recon/<slug>/<account>/<subject>[/<ip>]`, escaped into
    /// ASFF's id length limit with a stable hash suffix when too long.
    pub fn make_id(
        finding_type: FindingType,
        account_id: &str,
        subject: &str,
        remote_ip: Option<IpAddr>,
    ) -> String {
        let mut id = format!("recon/{}/{account_id}/{subject}", finding_type.slug());
        if let Some(ip) = remote_ip {
            id.push('/');
            id.push_str(&ip.to_string());
        }
        if id.len() > 400 {
            let h = fnv1a(id.as_bytes());
            let mut cut = 380;
            while !id.is_char_boundary(cut) {
                cut -= 1;
            }
            id.truncate(cut);
            id.push_str(&format!("~{h:016x}"));
        }
        id
    }
}

/// 64-bit FNV-1a: a stable, dependency-free hash for ids.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asff_types_follow_guardduty() {
        assert_eq!(
            FindingType::UserPermissions.asff_type(),
            "TTPs/Discovery/Recon:IAMUser-UserPermissions"
        );
        assert_eq!(
            FindingType::MaliciousIpCallerCustom.asff_type(),
            "TTPs/Discovery/Recon:IAMUser-MaliciousIPCaller.Custom"
        );
        for t in FindingType::ALL {
            assert_eq!(FindingType::from_name(t.name()), Some(t));
            assert_eq!(FindingType::from_name(&t.asff_type()), Some(t));
        }
    }

    #[test]
    fn ids_are_deterministic_and_bounded() {
        let a = Finding::make_id(FindingType::Portscan, "111122223333", "i-0abc", None);
        assert_eq!(
            a,
            Finding::make_id(FindingType::Portscan, "111122223333", "i-0abc", None)
        );
        assert_eq!(a, "recon/portscan/111122223333/i-0abc");
        let long = "x".repeat(2000);
        let b = Finding::make_id(FindingType::Portscan, "111122223333", &long, None);
        assert!(b.len() <= 512);
        let c = Finding::make_id(
            FindingType::Portscan,
            "111122223333",
            &format!("{long}y"),
            None,
        );
        assert_ne!(b, c);
    }
}
