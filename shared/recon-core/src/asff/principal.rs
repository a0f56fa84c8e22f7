//! The CloudTrail side: an `AwsIamAccessKey` resource for the principal, an `AWS_API_CALL`
//! action, and a `Network` block carrying the caller's address.
//!
//! `Network` is meant for network findings, but it is the only place ASFF has for an IPv6 caller
//! (`AwsApiCallAction.RemoteIpDetails` is IPv4-only), and Security Hub's `NetworkSourceIpV4/V6`
//! filters then work alike for API-call and flow-log findings. It is emitted only when CloudTrail
//! recorded a real remote address, with `Direction` `IN` (the call came into the account).

use std::net::IpAddr;

use serde_json::Value;

use super::limits;
use super::render::{Fields, Obj, Parts};
use super::text::{human_duration, non_blank};
use crate::finding::{ApiEvidence, Evidence, Finding, FindingType, Principal, SessionInfo};
use crate::time::Timestamp;

/// The resource, action, network block and ProductFields of a CloudTrail finding.
pub(super) fn parts(f: &Finding, p: &Principal) -> Parts {
    let empty = ApiEvidence::default();
    let ev = match &f.evidence {
        Evidence::Api(ev) => ev,
        Evidence::Network(_) => &empty,
    };
    Parts {
        resource: resource(f, p),
        action: Some(action(f, ev)),
        network: f.remote_ip.map(network),
        fields: fields(p, ev),
    }
}

/// True for the three "first time this principal called it" types.
pub(super) fn is_first_seen_type(t: FindingType) -> bool {
    matches!(
        t,
        FindingType::NetworkPermissions
            | FindingType::ResourcePermissions
            | FindingType::UserPermissions
    )
}

/// The API a finding is about and its service: for first-seen types the first new API that the
/// bounded list of calls still holds (so its service is known), else the first new API;
/// otherwise the most frequent call.
pub(super) fn main_api(t: FindingType, ev: &ApiEvidence) -> Option<(&str, Option<&str>)> {
    let service_of = |api: &str| {
        ev.apis
            .iter()
            .find(|c| c.api == api)
            .and_then(|c| non_blank(Some(&c.service)))
    };
    if is_first_seen_type(t) {
        let mut new = ev.new_apis.iter().filter_map(|a| non_blank(Some(a)));
        if let Some(api) = new
            .clone()
            .find(|a| service_of(a).is_some())
            .or_else(|| new.next())
        {
            return Some((api, service_of(api)));
        }
    }
    let call = ev.apis.iter().find(|c| non_blank(Some(&c.api)).is_some())?;
    Some((&call.api, non_blank(Some(&call.service))))
}

/// `AWS::IAM::AccessKey:<id>` when CloudTrail logged an access key, else the principal's stable
/// key (its ARN, or the role ARN for a session), else whatever identifies it.
fn resource_id(p: &Principal) -> String {
    if let Some(key) = non_blank(p.access_key_id.as_deref()) {
        return format!("AWS::IAM::AccessKey:{key}");
    }
    [
        Some(p.key.as_str()),
        p.arn.as_deref(),
        p.principal_id.as_deref(),
    ]
    .into_iter()
    .find_map(non_blank)
    .unwrap_or("unknown-principal")
    .to_owned()
}

fn resource(f: &Finding, p: &Principal) -> Value {
    let mut key = Obj::new();
    key.str("PrincipalId", p.principal_id.as_deref(), limits::FREE_TEXT)
        .str("PrincipalType", Some(&p.identity_type), limits::FREE_TEXT)
        .str("PrincipalName", p.name.as_deref(), limits::FREE_TEXT)
        .str("AccountId", p.account_id.as_deref(), limits::FREE_TEXT)
        .str("AccessKeyId", p.access_key_id.as_deref(), limits::FREE_TEXT)
        .opt(
            "SessionContext",
            p.session.as_ref().and_then(session_context),
        );
    let mut details = Obj::new();
    details.opt("AwsIamAccessKey", key.into_opt());
    let mut r = Obj::new();
    r.str("Type", Some("AwsIamAccessKey"), limits::RESOURCE_TYPE)
        .str("Id", Some(&resource_id(p)), limits::FREE_TEXT)
        .str("Partition", Some(&f.partition), limits::NAME)
        .str("Region", Some(&f.region), usize::MAX)
        .opt("Details", details.into_opt());
    r.build()
}

fn session_context(s: &SessionInfo) -> Option<Value> {
    // ASFF wants a timestamp here: normalise it, and drop what does not parse.
    let created = s
        .creation_date
        .as_deref()
        .and_then(Timestamp::parse)
        .map(|t| t.to_rfc3339());
    let mut attributes = Obj::new();
    attributes
        .opt("MfaAuthenticated", s.mfa_authenticated.map(Value::Bool))
        .str("CreationDate", created.as_deref(), limits::NAME);
    let mut issuer = Obj::new();
    issuer
        .str("Type", s.issuer_type.as_deref(), limits::FREE_TEXT)
        .str(
            "PrincipalId",
            s.issuer_principal_id.as_deref(),
            limits::FREE_TEXT,
        )
        .str("Arn", s.issuer_arn.as_deref(), limits::FREE_TEXT)
        .str(
            "AccountId",
            s.issuer_account_id.as_deref(),
            limits::FREE_TEXT,
        )
        .str("UserName", s.issuer_user_name.as_deref(), limits::FREE_TEXT);
    let mut ctx = Obj::new();
    ctx.opt("Attributes", attributes.into_opt())
        .opt("SessionIssuer", issuer.into_opt());
    ctx.into_opt()
}

fn action(f: &Finding, ev: &ApiEvidence) -> Value {
    let (api, service) = main_api(f.finding_type, ev).unzip();
    let caller_type = if f.remote_ip.is_some() {
        "remoteip"
    } else {
        "domain"
    };
    let remote = match f.remote_ip {
        Some(IpAddr::V4(ip)) => {
            let mut o = Obj::new();
            o.str("IpAddressV4", Some(&ip.to_string()), limits::NAME);
            o.into_opt()
        }
        _ => None,
    };
    let mut call = Obj::new();
    call.str("Api", api, limits::NAME)
        .str("ServiceName", service.flatten(), limits::NAME)
        .str("CallerType", Some(caller_type), limits::NAME)
        .opt("RemoteIpDetails", remote)
        .str("FirstSeen", Some(&f.first_seen.to_rfc3339()), limits::NAME)
        .str(
            "LastSeen",
            Some(&f.last_seen.max(f.first_seen).to_rfc3339()),
            limits::NAME,
        );
    let mut o = Obj::new();
    o.str("ActionType", Some("AWS_API_CALL"), limits::NAME)
        .val("AwsApiCallAction", call.build());
    o.build()
}

fn network(ip: IpAddr) -> Value {
    let key = if ip.is_ipv4() {
        "SourceIpV4"
    } else {
        "SourceIpV6"
    };
    let mut o = Obj::new();
    o.str("Direction", Some("IN"), limits::NAME)
        .str(key, Some(&ip.to_string()), limits::NAME);
    o.build()
}

fn fields(p: &Principal, ev: &ApiEvidence) -> Fields {
    let mut out: Fields = vec![
        ("principal/key", p.key.clone()),
        ("principal/type", p.identity_type.clone()),
    ];
    let optional = [
        ("principal/arn", p.arn.as_deref()),
        ("principal/name", p.name.as_deref()),
        ("principal/access-key-id", p.access_key_id.as_deref()),
    ];
    out.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?.to_owned()))),
    );
    if p.instance_credentials {
        out.push(("principal/instance-credentials", "true".to_owned()));
    }
    out.extend(baseline_fields(ev));
    out.extend(evidence_fields(ev));
    out
}

fn baseline_fields(ev: &ApiEvidence) -> Fields {
    let mut out = Fields::new();
    if !ev.new_apis.is_empty() {
        out.push(("new-apis", ev.new_apis.join(", ")));
    }
    if let Some(ms) = ev.baseline_age_ms {
        out.push(("baseline/age", human_duration(ms)));
        out.push(("baseline/age-ms", ms.to_string()));
    }
    if let Some(t) = ev.principal_first_seen {
        out.push(("baseline/principal-first-seen", t.to_rfc3339()));
    }
    if let Some(t) = ev.account_first_seen {
        out.push(("baseline/account-first-seen", t.to_rfc3339()));
    }
    if let Some(call) = ev.apis.iter().find(|c| c.last_error.is_some()) {
        let error = call.last_error.as_deref().unwrap_or_default();
        out.push(("last-error", format!("{}: {error}", call.api)));
    }
    out
}

fn evidence_fields(ev: &ApiEvidence) -> Fields {
    let apis: Vec<String> = ev
        .apis
        .iter()
        .map(|c| {
            let error = c
                .last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            format!("{}:{} x{}{error}", c.service, c.api, c.count)
        })
        .collect();
    let mut out: Fields = vec![
        ("evidence/apis", apis.join(", ")),
        ("evidence/event-ids", ev.event_ids.join(", ")),
    ];
    if let Some(ua) = &ev.user_agent {
        out.push(("evidence/user-agent", ua.clone()));
    }
    out
}
