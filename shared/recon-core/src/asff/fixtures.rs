//! Hand-built findings for the asff tests: all eight types and every subject shape (IAM user,
//! assumed-role session, instance-profile session, root without an access key, IPv6 caller, no
//! caller address, EC2 instance, interface-only).

use std::net::IpAddr;

use crate::finding::{
    ApiCall, ApiEvidence, Ec2Subject, Evidence, Finding, FindingType, IntelHit, ListKind,
    NetworkEvidence, PortCount, Principal, SessionInfo, Severity, Subject,
};
use crate::time::Timestamp;

pub(super) const ACCOUNT: &str = "111122223333";
pub(super) const REGION: &str = "us-east-1";

pub(super) fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("valid timestamp")
}

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().expect("valid address")
}

pub(super) fn iam_user() -> Principal {
    Principal {
        key: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        identity_type: "IAMUser".into(),
        arn: Some(format!("arn:aws:iam::{ACCOUNT}:user/alice")),
        principal_id: Some("AIDAEXAMPLEALICE".into()),
        name: Some("alice".into()),
        access_key_id: Some("AKIAEXAMPLEALICE0001".into()),
        account_id: Some(ACCOUNT.into()),
        session: None,
        instance_credentials: false,
    }
}

pub(super) fn assumed_role() -> Principal {
    Principal {
        key: format!("arn:aws:iam::{ACCOUNT}:role/deploy"),
        identity_type: "AssumedRole".into(),
        arn: Some(format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci-session"
        )),
        principal_id: Some("AROAEXAMPLEDEPLOY:ci-session".into()),
        name: Some("deploy".into()),
        access_key_id: Some("ASIAEXAMPLEDEPLOY001".into()),
        account_id: Some(ACCOUNT.into()),
        session: Some(SessionInfo {
            issuer_type: Some("Role".into()),
            issuer_arn: Some(format!("arn:aws:iam::{ACCOUNT}:role/deploy")),
            issuer_principal_id: Some("AROAEXAMPLEDEPLOY".into()),
            issuer_account_id: Some(ACCOUNT.into()),
            issuer_user_name: Some("deploy".into()),
            mfa_authenticated: Some(false),
            creation_date: Some("2024-05-01T09:58:00Z".into()),
        }),
        instance_credentials: false,
    }
}

pub(super) fn instance_role() -> Principal {
    let mut p = assumed_role();
    p.key = format!("arn:aws:iam::{ACCOUNT}:role/web-instance");
    p.arn = Some(format!(
        "arn:aws:sts::{ACCOUNT}:assumed-role/web-instance/i-0adc17a5acb70d9ae"
    ));
    p.name = Some("web-instance".into());
    p.instance_credentials = true;
    p
}

pub(super) fn root_without_key() -> Principal {
    Principal {
        key: format!("arn:aws:iam::{ACCOUNT}:root"),
        identity_type: "Root".into(),
        arn: Some(format!("arn:aws:iam::{ACCOUNT}:root")),
        principal_id: Some(ACCOUNT.into()),
        name: None,
        access_key_id: None,
        account_id: Some(ACCOUNT.into()),
        session: None,
        instance_credentials: false,
    }
}

pub(super) fn instance() -> Ec2Subject {
    Ec2Subject {
        instance_id: Some("i-0123456789abcdef0".into()),
        interface_id: Some("eni-0a1b2c3d4e5f60718".into()),
        vpc_id: Some("vpc-0example".into()),
        subnet_id: Some("subnet-0example".into()),
        local_ip: Some(ip("10.0.1.15")),
    }
}

pub(super) fn interface_only() -> Ec2Subject {
    Ec2Subject {
        instance_id: None,
        interface_id: Some("eni-0fedcba9876543210".into()),
        vpc_id: Some("vpc-0example".into()),
        subnet_id: None,
        local_ip: Some(ip("10.0.2.7")),
    }
}

pub(super) fn api_evidence(apis: &[(&str, &str, u64)]) -> ApiEvidence {
    ApiEvidence {
        apis: apis
            .iter()
            .map(|&(service, api, count)| ApiCall {
                service: service.into(),
                api: api.into(),
                count,
                last_error: None,
            })
            .collect(),
        event_ids: vec!["0f6b7a4e-1111-4c2e-9d3e-000000000001".into()],
        user_agent: Some("aws-cli/2.15.0 Python/3.11.6 Linux/6.1".into()),
        ..ApiEvidence::default()
    }
}

pub(super) fn network_evidence(ports: &[(u16, Option<&str>, u64)]) -> NetworkEvidence {
    NetworkEvidence {
        protocol: Some("TCP".into()),
        ports: ports
            .iter()
            .map(|&(port, name, count)| PortCount {
                port,
                name: name.map(Into::into),
                count,
                local: None,
                protocol: None,
            })
            .collect(),
        distinct_ports: None,
        distinct_ports_at_least: false,
        blocked: false,
        rejected: 0,
        sources: vec!["AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/05/01/f.log.gz:17".into()],
    }
}

pub(super) fn hit(kind: ListKind, list: &str, entry: &str) -> IntelHit {
    IntelHit {
        kind,
        list: list.into(),
        entry: entry.into(),
    }
}

/// A finding with the given parts and fixed, ordered times.
pub(super) fn finding(
    finding_type: FindingType,
    severity: Severity,
    subject: Subject,
    remote_ip: Option<IpAddr>,
    intel: Option<IntelHit>,
    evidence: Evidence,
) -> Finding {
    let key = match &subject {
        Subject::Principal(p) => p.key.clone(),
        Subject::Ec2(e) => e
            .instance_id
            .clone()
            .or(e.interface_id.clone())
            .unwrap_or_default(),
    };
    Finding {
        id: Finding::make_id(finding_type, ACCOUNT, &key, remote_ip),
        finding_type,
        severity,
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        partition: "aws".into(),
        subject,
        remote_ip,
        intel,
        count: 3,
        first_seen: ts("2024-05-01T10:00:00Z"),
        last_seen: ts("2024-05-01T10:04:30Z"),
        created_at: ts("2024-05-01T10:10:00Z"),
        updated_at: ts("2024-05-01T10:10:00Z"),
        evidence,
    }
}

pub(super) fn tor_caller() -> Finding {
    finding(
        FindingType::TorIpCaller,
        Severity::Medium,
        Subject::Principal(iam_user()),
        Some(ip("203.0.113.7")),
        Some(hit(ListKind::Tor, "tor-exit-nodes", "203.0.113.7")),
        Evidence::Api(api_evidence(&[("s3.amazonaws.com", "ListBuckets", 3)])),
    )
}

pub(super) fn malicious_caller() -> Finding {
    finding(
        FindingType::MaliciousIpCaller,
        Severity::Medium,
        Subject::Principal(assumed_role()),
        Some(ip("198.51.100.23")),
        Some(hit(ListKind::Managed, "proofpoint", "198.51.100.0/24")),
        Evidence::Api(api_evidence(&[
            ("ec2.amazonaws.com", "DescribeInstances", 2),
            ("iam.amazonaws.com", "ListUsers", 1),
        ])),
    )
}

pub(super) fn custom_caller_v6() -> Finding {
    finding(
        FindingType::MaliciousIpCallerCustom,
        Severity::Medium,
        Subject::Principal(iam_user()),
        Some(ip("2001:db8::7")),
        Some(hit(ListKind::Custom, "my-blocklist", "2001:db8::/32")),
        Evidence::Api(api_evidence(&[(
            "sts.amazonaws.com",
            "GetCallerIdentity",
            3,
        )])),
    )
}

fn first_seen_evidence(apis: &[(&str, &str, u64)], new: &[&str]) -> ApiEvidence {
    ApiEvidence {
        new_apis: new.iter().map(|a| (*a).into()).collect(),
        principal_first_seen: Some(ts("2024-04-20T08:00:00Z")),
        baseline_age_ms: Some(11 * 86_400_000 + 2 * 3_600_000),
        account_first_seen: Some(ts("2024-04-15T00:00:00Z")),
        ..api_evidence(apis)
    }
}

pub(super) fn network_permissions_root() -> Finding {
    finding(
        FindingType::NetworkPermissions,
        Severity::Medium,
        Subject::Principal(root_without_key()),
        Some(ip("192.0.2.10")),
        None,
        Evidence::Api(first_seen_evidence(
            &[
                ("ec2.amazonaws.com", "DescribeRouteTables", 4),
                ("ec2.amazonaws.com", "DescribeSecurityGroups", 2),
            ],
            &["DescribeSecurityGroups", "DescribeRouteTables"],
        )),
    )
}

pub(super) fn resource_permissions_instance() -> Finding {
    let mut ev = first_seen_evidence(
        &[("ec2.amazonaws.com", "DescribeInstances", 5)],
        &["DescribeInstances"],
    );
    ev.apis[0].last_error = Some("AccessDenied".into());
    finding(
        FindingType::ResourcePermissions,
        Severity::High,
        Subject::Principal(instance_role()),
        Some(ip("192.0.2.44")),
        None,
        Evidence::Api(ev),
    )
}

pub(super) fn user_permissions_no_ip() -> Finding {
    finding(
        FindingType::UserPermissions,
        Severity::Medium,
        Subject::Principal(assumed_role()),
        None,
        None,
        Evidence::Api(first_seen_evidence(
            &[("iam.amazonaws.com", "ListAccessKeys", 1)],
            &["ListAccessKeys"],
        )),
    )
}

pub(super) fn portscan() -> Finding {
    let mut ev = network_evidence(&[
        (22, Some("SSH"), 4),
        (80, Some("HTTP"), 3),
        (443, Some("HTTPS"), 3),
        (3389, Some("RDP"), 2),
    ]);
    ev.distinct_ports = Some(120);
    ev.blocked = true;
    finding(
        FindingType::Portscan,
        Severity::Medium,
        Subject::Ec2(instance()),
        Some(ip("10.0.9.9")),
        None,
        Evidence::Network(ev),
    )
}

pub(super) fn port_probe() -> Finding {
    finding(
        FindingType::PortProbeUnprotectedPort,
        Severity::High,
        Subject::Ec2(interface_only()),
        Some(ip("198.51.100.99")),
        Some(hit(ListKind::Managed, "scanners", "198.51.100.99")),
        Evidence::Network(network_evidence(&[
            (9200, Some("Elasticsearch"), 40),
            (22, Some("SSH"), 12),
        ])),
    )
}

/// One finding of each of the eight types.
pub(super) fn all() -> Vec<Finding> {
    vec![
        port_probe(),
        tor_caller(),
        custom_caller_v6(),
        malicious_caller(),
        portscan(),
        network_permissions_root(),
        resource_permissions_instance(),
        user_permissions_no_ip(),
    ]
}
