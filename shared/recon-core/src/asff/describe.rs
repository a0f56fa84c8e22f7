//! Titles and descriptions in plain words: who did what, through which API or port, from where,
//! which list and entry matched, how often, and for first-seen findings what was new and how long
//! the principal had been observed. Free-form inputs are cut to short excerpts so one huge value
//! cannot crowd everything else out; the results are bounded again by the renderer.

use std::net::IpAddr;

use super::ec2::{port_list, subject_label};
use super::principal::{is_first_seen_type, main_api};
use super::text::{count_of, human_duration, non_blank, truncate};
use crate::finding::{
    ApiEvidence, Ec2Subject, Evidence, Finding, FindingType, IntelHit, ListKind, NetworkEvidence,
    Principal, Subject,
};

/// How much of a name, ARN or list entry goes into prose.
const EXCERPT: usize = 96;
/// APIs or ports listed in prose.
const LISTED: usize = 5;

/// The finding's title (at most 256 characters once rendered).
pub(super) fn title(f: &Finding) -> String {
    // Names are kept as written (`build-bot`, not `Build-bot`), even at the start.
    match &f.subject {
        Subject::Principal(p) => principal_title(f, p),
        Subject::Ec2(e) => ec2_title(f, e),
    }
}

/// The finding's description (at most 1024 characters once rendered).
pub(super) fn description(f: &Finding) -> String {
    let sentences = match (&f.subject, &f.evidence) {
        (Subject::Principal(p), Evidence::Api(ev)) => principal_story(f, p, ev),
        (Subject::Principal(p), Evidence::Network(_)) => {
            principal_story(f, p, &ApiEvidence::default())
        }
        (Subject::Ec2(e), Evidence::Network(ev)) => ec2_story(f, e, ev),
        (Subject::Ec2(e), Evidence::Api(_)) => ec2_story(f, e, &NetworkEvidence::default()),
    };
    sentences.join(" ")
}

fn short(s: &str) -> String {
    truncate(s, EXCERPT)
}

fn api_evidence(f: &Finding) -> Option<&ApiEvidence> {
    match &f.evidence {
        Evidence::Api(ev) => Some(ev),
        Evidence::Network(_) => None,
    }
}

/// The principal as a title names it: its name, "the root user", else its ARN or key.
fn principal_name(p: &Principal) -> String {
    if let Some(name) = non_blank(p.name.as_deref()) {
        return short(name);
    }
    if p.identity_type == "Root" {
        return "the root user".to_owned();
    }
    let name = [p.arn.as_deref(), Some(p.key.as_str())]
        .into_iter()
        .find_map(non_blank);
    short(name.unwrap_or(&p.identity_type))
}

/// The principal as a description introduces it: type, name, ARN and access key.
fn principal_intro(p: &Principal) -> String {
    let kind = short(&p.identity_type);
    let arn = non_blank(p.arn.as_deref()).or(non_blank(Some(&p.key)));
    let mut who = match (non_blank(p.name.as_deref()), arn) {
        (Some(name), Some(arn)) if name != arn => {
            format!("{kind} \"{}\" ({})", short(name), short(arn))
        }
        (Some(name), _) => format!("{kind} \"{}\"", short(name)),
        (None, Some(arn)) => format!("{kind} {}", short(arn)),
        (None, None) => kind,
    };
    if let Some(key) = non_blank(p.access_key_id.as_deref()) {
        who.push_str(&format!(" using access key {}", short(key)));
    }
    who
}

fn remote(f: &Finding) -> String {
    f.remote_ip
        .map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string())
}

fn principal_title(f: &Finding, p: &Principal) -> String {
    let api = api_evidence(f)
        .and_then(|ev| main_api(f.finding_type, ev))
        .map_or_else(|| "A discovery API".to_owned(), |(api, _)| short(api));
    let (who, ip) = (principal_name(p), remote(f));
    let list = f
        .intel
        .as_ref()
        .map_or_else(String::new, |h| short(&h.list));
    match f.finding_type {
        FindingType::TorIpCaller => format!("{api} was called from Tor exit node {ip} by {who}"),
        FindingType::MaliciousIpCaller => {
            format!("{api} was called from known malicious IP {ip} by {who}")
        }
        FindingType::MaliciousIpCallerCustom => {
            format!("{api} was called from {ip}, on custom threat list {list}, by {who}")
        }
        FindingType::NetworkPermissions => first_call_title(&who, "network-permission", &api),
        FindingType::ResourcePermissions => first_call_title(&who, "resource-permission", &api),
        FindingType::UserPermissions => first_call_title(&who, "user-permission", &api),
        other => format!("{}: {api} called by {who}", other.name()),
    }
}

fn first_call_title(who: &str, category: &str, api: &str) -> String {
    // "the root user" opens a sentence; a principal's own name keeps its case.
    let who = match who.strip_prefix("the ") {
        Some(rest) => format!("The {rest}"),
        None => who.to_owned(),
    };
    format!("{who} called {category} discovery API {api} for the first time")
}

fn ec2_title(f: &Finding, e: &Ec2Subject) -> String {
    let subject = short(&subject_label(e));
    let ip = remote(f);
    match f.finding_type {
        FindingType::PortProbeUnprotectedPort => {
            let ports = match &f.evidence {
                Evidence::Network(ev) if !ev.ports.is_empty() => {
                    let listed = &ev.ports[..ev.ports.len().min(LISTED)];
                    let word = if ev.ports.len() == 1 { "port" } else { "ports" };
                    format!("{word} {}", port_list(listed, false))
                }
                _ => "ports".to_owned(),
            };
            format!("Unprotected {ports} on {subject} probed by known scanner {ip}")
        }
        FindingType::Portscan => format!("{subject} is performing outbound port scans of {ip}"),
        other => format!("{}: {subject} and {ip}", other.name()),
    }
}

/// "… is on the Tor exit-node list "tor" (entry 198.51.100.7)."
fn intel_sentence(ip: Option<IpAddr>, hit: &IntelHit) -> String {
    let list = match hit.kind {
        ListKind::Tor => "Tor exit-node list",
        ListKind::Managed => "threat list",
        ListKind::Custom => "custom threat list",
        ListKind::Trusted => "trusted IP list",
    };
    let who = ip.map_or_else(|| "The remote address".to_owned(), |ip| ip.to_string());
    let (name, entry) = (short(&hit.list), short(&hit.entry));
    format!("{who} is on the {list} \"{name}\" (matched entry {entry}).")
}

fn principal_story(f: &Finding, p: &Principal, ev: &ApiEvidence) -> Vec<String> {
    let mut out = vec![principal_activity(f, p, ev)];
    out.extend(f.intel.as_ref().map(|h| intel_sentence(f.remote_ip, h)));
    if is_first_seen_type(f.finding_type) {
        out.extend(first_seen_sentences(ev));
    }
    if ev.apis.len() > 1 {
        let listed: Vec<String> = ev
            .apis
            .iter()
            .take(LISTED)
            .map(|c| format!("{} x{}", short(&c.api), c.count))
            .collect();
        out.push(format!("APIs in this finding: {}.", listed.join(", ")));
    }
    if p.instance_credentials {
        out.push(
            "The credentials were issued to an EC2 instance (instance-profile role), which \
             raises the severity."
                .to_owned(),
        );
    }
    out.extend(principal_details(ev));
    out
}

/// "IAMUser "alice" (arn…) called ListBuckets (s3.amazonaws.com) 3 times between … from …."
fn principal_activity(f: &Finding, p: &Principal, ev: &ApiEvidence) -> String {
    let api = match main_api(f.finding_type, ev) {
        Some((api, Some(service))) => format!("{} ({})", short(api), short(service)),
        Some((api, None)) => short(api),
        None => "discovery APIs".to_owned(),
    };
    let what = if ev.apis.len() > 1 {
        format!("made {}, including {api},", count_of(f.count, "call"))
    } else {
        format!("called {api} {}", count_of(f.count, "time"))
    };
    let from = f.remote_ip.map_or_else(
        || " with no remote IP address recorded (an AWS service or internal source)".to_owned(),
        |ip| format!(" from {ip}"),
    );
    format!(
        "{} {what} between {} and {}{from}.",
        principal_intro(p),
        f.first_seen.to_rfc3339(),
        f.last_seen.max(f.first_seen).to_rfc3339()
    )
}

fn first_seen_sentences(ev: &ApiEvidence) -> Vec<String> {
    let mut out = Vec::new();
    if !ev.new_apis.is_empty() {
        let listed: Vec<String> = ev.new_apis.iter().take(LISTED).map(|a| short(a)).collect();
        let more = ev.new_apis.len().saturating_sub(LISTED);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        out.push(format!(
            "The principal had never called {}{more} before.",
            listed.join(", ")
        ));
    }
    if let Some(ms) = ev.baseline_age_ms {
        let since = ev
            .principal_first_seen
            .map(|t| format!(", since {}", t.to_rfc3339()))
            .unwrap_or_default();
        out.push(format!(
            "It had been observed for {} before the first new call{since}.",
            human_duration(ms)
        ));
    }
    if let Some(t) = ev.account_first_seen {
        out.push(format!(
            "Observation of this account began {}.",
            t.to_rfc3339()
        ));
    }
    out
}

fn principal_details(ev: &ApiEvidence) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(call) = ev.apis.iter().find(|c| c.last_error.is_some()) {
        let error = short(call.last_error.as_deref().unwrap_or_default());
        out.push(format!(
            "The latest {} call failed with {error}.",
            short(&call.api)
        ));
    }
    if let Some(ua) = non_blank(ev.user_agent.as_deref()) {
        out.push(format!("User agent: {}.", truncate(ua, 160)));
    }
    out
}

fn ec2_story(f: &Finding, e: &Ec2Subject, ev: &NetworkEvidence) -> Vec<String> {
    let mut subject = short(&subject_label(e));
    let place: Vec<String> = [
        e.local_ip.map(|i| i.to_string()),
        e.vpc_id.as_deref().map(short),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !place.is_empty() {
        subject.push_str(&format!(" ({})", place.join(", ")));
    }
    let window = format!(
        "between {} and {}",
        f.first_seen.to_rfc3339(),
        f.last_seen.max(f.first_seen).to_rfc3339()
    );
    // One protocol for every port, or each port says its own (see `port_list`).
    let proto = ev
        .protocols()
        .filter(|p| !p.contains('/'))
        .map(|p| format!("{} ", short(&p)))
        .unwrap_or_default();
    let mut out = if f.finding_type == FindingType::PortProbeUnprotectedPort {
        probe_sentences(f, &subject, &proto, &window, ev)
    } else {
        scan_sentences(f, &subject, &proto, &window, ev)
    };
    out.extend(f.intel.as_ref().map(|h| intel_sentence(f.remote_ip, h)));
    out
}

fn scan_sentences(
    f: &Finding,
    subject: &str,
    proto: &str,
    window: &str,
    ev: &NetworkEvidence,
) -> Vec<String> {
    let distinct = ev.distinct_ports.map_or(ev.ports.len() as u64, u64::from);
    let at_least = if ev.distinct_ports_at_least {
        "at least "
    } else {
        ""
    };
    let mut out = vec![format!(
        "{subject} contacted {at_least}{} on {} {window} ({}).",
        count_of(distinct, &format!("distinct {proto}port")),
        remote(f),
        count_of(f.count, "flow")
    )];
    if !ev.ports.is_empty() {
        let listed = port_list(&ev.ports[..ev.ports.len().min(LISTED * 2)], false);
        out.push(format!("Ports seen include {listed}."));
    }
    out.push(match (ev.blocked, ev.rejected) {
        (true, _) => "The traffic was rejected.".to_owned(),
        (false, 0) => "The traffic was accepted.".to_owned(),
        (false, rejected) => format!(
            "{rejected} of the {} were rejected, the others accepted.",
            count_of(f.count, "flow")
        ),
    });
    out
}

fn probe_sentences(
    f: &Finding,
    subject: &str,
    proto: &str,
    window: &str,
    ev: &NetworkEvidence,
) -> Vec<String> {
    let word = if ev.ports.len() == 1 { "port" } else { "ports" };
    let ports = if ev.ports.is_empty() {
        format!("{proto}ports")
    } else {
        let listed = port_list(&ev.ports[..ev.ports.len().min(LISTED * 2)], false);
        format!("{proto}{word} {listed}")
    };
    let mut out = vec![format!(
        "{} probed {ports} on {subject} {} {window}.",
        remote(f),
        count_of(f.count, "time")
    )];
    out.push(if ev.blocked {
        "The connections were rejected.".to_owned()
    } else {
        "The connections were accepted, so these ports are reachable by known scanners on the \
         internet."
            .to_owned()
    });
    if ev.ports.iter().any(|p| p.port == 9200 || p.port == 9300) {
        out.push("Ports 9200/9300 (Elasticsearch) raise the severity to High.".to_owned());
    }
    out
}
