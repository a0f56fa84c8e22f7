//! Rendering of one [`Finding`] into one complete ASFF object. The subject-specific parts
//! (resource, Action, Network) come from [`super::principal`] and [`super::ec2`], the prose from
//! [`super::describe`].

use serde_json::{Map, Value};

use super::text::{has_text, non_blank, truncate};
use super::{describe, ec2, generator_id, limits, principal, product_arn};
use super::{PRODUCT_FIELDS_PREFIX, PRODUCT_NAME, SCHEMA_VERSION};
use crate::finding::{Finding, FindingType, ListKind, Severity, Subject};

/// A JSON object under construction that drops absent and blank values, so nothing rendered is
/// ever `null` or an empty string.
#[derive(Default)]
pub(super) struct Obj(Map<String, Value>);

impl Obj {
    /// An empty object.
    pub(super) fn new() -> Self {
        Obj::default()
    }

    /// Sets a string, truncated to `max`, unless it is absent or blank.
    pub(super) fn str(&mut self, key: &str, value: Option<&str>, max: usize) -> &mut Self {
        if let Some(v) = non_blank(value) {
            self.0
                .insert(key.to_owned(), Value::String(truncate(v, max)));
        }
        self
    }

    /// Sets any value (objects that are empty are dropped).
    pub(super) fn val(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        let empty = matches!(&value, Value::Object(m) if m.is_empty()) || value.is_null();
        if !empty {
            self.0.insert(key.to_owned(), value);
        }
        self
    }

    /// Sets a value when there is one.
    pub(super) fn opt(&mut self, key: &str, value: Option<Value>) -> &mut Self {
        if let Some(v) = value {
            self.val(key, v);
        }
        self
    }

    /// The object, or `None` when nothing was set.
    pub(super) fn into_opt(self) -> Option<Value> {
        (!self.0.is_empty()).then_some(Value::Object(self.0))
    }

    /// The object.
    pub(super) fn build(self) -> Value {
        Value::Object(self.0)
    }
}

/// ProductFields pairs as a subject contributes them: `recon/`-relative key and value.
pub(super) type Fields = Vec<(&'static str, String)>;

/// The subject-specific parts of a finding.
pub(super) struct Parts {
    /// `Resources[0]`.
    pub(super) resource: Value,
    /// `Action`, when the type has one.
    pub(super) action: Option<Value>,
    /// `Network`, when there is network information.
    pub(super) network: Option<Value>,
    /// Subject-specific ProductFields (keys relative to `recon/`), most important first.
    pub(super) fields: Fields,
}

/// Renders one complete ASFF finding (see the module guarantees).
pub fn render(finding: &Finding) -> Value {
    let parts = match &finding.subject {
        Subject::Principal(p) => principal::parts(finding, p),
        Subject::Ec2(e) => ec2::parts(finding, e),
    };
    let mut out = Obj::new();
    identity(finding, &mut out);
    classification(finding, &mut out);
    times(finding, &mut out);
    out.str("Title", Some(&describe::title(finding)), limits::TITLE)
        .str(
            "Description",
            Some(&describe::description(finding)),
            limits::DESCRIPTION,
        )
        .val("Resources", vec![parts.resource])
        .opt("Action", parts.action)
        .opt("Network", parts.network)
        .opt("ThreatIntelIndicators", threat_intel(finding))
        .val("ProductFields", product_fields(finding, parts.fields))
        .opt("Remediation", remediation(finding));
    out.build()
}

/// Identifiers are emitted verbatim (cutting one would make it a different, still wrong, id):
/// [`super::validate`] reports a malformed one. [`Finding::make_id`] already bounds the Id.
fn identity(f: &Finding, out: &mut Obj) {
    const VERBATIM: usize = usize::MAX;
    let arn = product_arn(&f.partition, &f.region, &f.account_id);
    out.str("SchemaVersion", Some(SCHEMA_VERSION), limits::NAME)
        .str("Id", Some(&f.id), VERBATIM)
        .str("ProductArn", Some(&arn), VERBATIM)
        .str(
            "GeneratorId",
            Some(&generator_id(f.finding_type)),
            limits::ID,
        )
        .str("AwsAccountId", Some(&f.account_id), VERBATIM)
        .str("Region", Some(&f.region), VERBATIM)
        .str("ProductName", Some(PRODUCT_NAME), limits::NAME)
        .str("CompanyName", Some(PRODUCT_NAME), limits::NAME)
        .str("RecordState", Some("ACTIVE"), limits::NAME);
}

fn classification(f: &Finding, out: &mut Obj) {
    let types = vec![Value::String(f.finding_type.asff_type())];
    let mut provider = Obj::new();
    provider
        .val("Severity", severity(f.severity))
        .val("Types", types.clone());
    out.val("Severity", severity(f.severity))
        .val("Types", types)
        .val("FindingProviderFields", provider.build());
}

fn severity(s: Severity) -> Value {
    let mut o = Obj::new();
    o.str("Label", Some(s.label()), limits::NAME).str(
        "Original",
        Some(&format!("{:.1}", s.guardduty_value())),
        limits::SEVERITY_ORIGINAL,
    );
    o.build()
}

/// CreatedAt/UpdatedAt are the finding's wall-clock times, First/LastObservedAt its event times;
/// each later value is clamped so it never precedes the earlier one.
fn times(f: &Finding, out: &mut Obj) {
    let updated = f.updated_at.max(f.created_at);
    let last = f.last_seen.max(f.first_seen);
    out.str("CreatedAt", Some(&f.created_at.to_rfc3339()), limits::NAME)
        .str("UpdatedAt", Some(&updated.to_rfc3339()), limits::NAME)
        .str(
            "FirstObservedAt",
            Some(&f.first_seen.to_rfc3339()),
            limits::NAME,
        )
        .str("LastObservedAt", Some(&last.to_rfc3339()), limits::NAME);
}

/// One indicator for the matched remote address. Trusted-list hits are not threat intel. No
/// `Category` is set: none of ASFF's categories (backdoor, C2, …) says "scanner" or "Tor exit".
fn threat_intel(f: &Finding) -> Option<Value> {
    let hit = f.intel.as_ref().filter(|h| h.kind != ListKind::Trusted)?;
    let ip = f.remote_ip?;
    let kind = if ip.is_ipv4() {
        "IPV4_ADDRESS"
    } else {
        "IPV6_ADDRESS"
    };
    let source = non_blank(Some(&hit.list)).unwrap_or(list_kind_name(hit.kind));
    let mut o = Obj::new();
    o.str("Type", Some(kind), limits::NAME)
        .str("Value", Some(&ip.to_string()), limits::THREAT_INTEL_VALUE)
        .str("Source", Some(source), limits::THREAT_INTEL_SOURCE)
        .str(
            "LastObservedAt",
            Some(&f.last_seen.max(f.first_seen).to_rfc3339()),
            limits::NAME,
        );
    Some(Value::Array(vec![o.build()]))
}

/// A short name for a list kind.
pub(super) fn list_kind_name(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Tor => "tor",
        ListKind::Managed => "managed",
        ListKind::Custom => "custom",
        ListKind::Trusted => "trusted",
    }
}

/// The common ProductFields, then the subject's, bounded to the pair limit with every key under
/// `recon/` and blank values dropped.
fn product_fields(f: &Finding, subject: Fields) -> Value {
    let mut pairs: Fields = vec![
        ("finding-type", f.finding_type.name().to_owned()),
        ("count", f.count.to_string()),
        ("severity", f.severity.label().to_owned()),
    ];
    if let Some(ip) = f.remote_ip {
        pairs.push(("remote-ip", ip.to_string()));
    }
    if let Some(hit) = &f.intel {
        pairs.push(("threat-list/name", hit.list.clone()));
        pairs.push(("threat-list/kind", list_kind_name(hit.kind).to_owned()));
        pairs.push(("threat-list/entry", hit.entry.clone()));
    }
    pairs.extend(subject);
    let mut map = Map::new();
    for (key, value) in pairs.into_iter().filter(|(_, v)| has_text(v)) {
        if map.len() == limits::PRODUCT_FIELDS {
            break;
        }
        let key = truncate(
            &format!("{PRODUCT_FIELDS_PREFIX}{key}"),
            limits::PRODUCT_FIELD_KEY,
        );
        map.insert(
            key,
            Value::String(truncate(&value, limits::PRODUCT_FIELD_VALUE)),
        );
    }
    Value::Object(map)
}

fn remediation(f: &Finding) -> Option<Value> {
    let (text, url) = match f.finding_type {
        FindingType::Portscan => (
            "If this instance is meant to scan (a vulnerability scanner, for example), suppress \
             these findings for it. Otherwise treat it as compromised: isolate it with a \
             restrictive security group, snapshot its volumes for forensics, find how it was \
             compromised, and rebuild it from a trusted image.",
            "https://docs.aws.amazon.com/guardduty/latest/ug/compromised-ec2.html",
        ),
        FindingType::PortProbeUnprotectedPort => (
            "Restrict the security group or network ACL so the probed ports are reachable only \
             from trusted addresses. If they are meant to be public (a web server, for example), \
             confirm the service is hardened and suppress these findings for this resource.",
            "https://docs.aws.amazon.com/guardduty/latest/ug/compromised-ec2.html",
        ),
        _ => (
            "Confirm with the owner of this principal that these calls were expected. If not, \
             treat the credentials as compromised: deactivate or rotate the access keys, revoke \
             active sessions, review CloudTrail for everything else the principal did, and \
             tighten its permissions. Add a legitimate source address to a trusted IP list.",
            "https://docs.aws.amazon.com/guardduty/latest/ug/compromised-creds.html",
        ),
    };
    let mut rec = Obj::new();
    rec.str("Text", Some(text), limits::REMEDIATION_TEXT)
        .str("Url", Some(url), 2048);
    let mut o = Obj::new();
    o.val("Recommendation", rec.build());
    o.into_opt()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::fixtures::{self, ip, ACCOUNT};
    use super::super::{render, serialized_len, validate, MAX_FINDING_BYTES};
    use super::*;
    use crate::finding::{Ec2Subject, Evidence, PortCount, Principal};

    /// Renders and asserts the result validates.
    fn rendered(f: &Finding) -> Value {
        let v = render(f);
        if let Err(violations) = validate(&v) {
            let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("{} does not validate:\n{}", f.finding_type, text.join("\n"));
        }
        v
    }

    fn at(v: &Value, pointer: &str) -> Value {
        v.pointer(pointer).cloned().unwrap_or(Value::Null)
    }

    fn field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
        v["ProductFields"]
            .get(format!("recon/{key}"))
            .and_then(Value::as_str)
    }

    #[test]
    fn every_type_renders_valid_asff_with_its_types_string() {
        for f in fixtures::all() {
            let v = rendered(&f);
            let t = f.finding_type.asff_type();
            assert_eq!(v["Types"], json!([t]));
            assert_eq!(v["FindingProviderFields"]["Types"], json!([t]));
            assert_eq!(v["SchemaVersion"], "2018-10-08");
            assert_eq!(v["Id"], f.id.as_str());
            assert_eq!(v["GeneratorId"], format!("recon/{}", f.finding_type.name()));
            assert_eq!(
                v["ProductArn"],
                format!("arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default")
            );
            assert_eq!(v["AwsAccountId"], ACCOUNT);
            assert_eq!(v["Region"], "us-east-1");
            assert_eq!(v["RecordState"], "ACTIVE");
            assert_eq!(v["ProductName"], "Recon");
            assert_eq!(v["CompanyName"], "Recon");
            assert_eq!(v["FirstObservedAt"], "2024-05-01T10:00:00.000Z");
            assert_eq!(v["LastObservedAt"], "2024-05-01T10:04:30.000Z");
            assert_eq!(v["CreatedAt"], v["UpdatedAt"]);
            assert_eq!(v["Severity"], v["FindingProviderFields"]["Severity"]);
            assert_eq!(v["Resources"].as_array().map(Vec::len), Some(1));
            assert_eq!(field(&v, "finding-type"), Some(f.finding_type.name()));
            assert_eq!(field(&v, "count"), Some("3"));
            let fields = v["ProductFields"]
                .as_object()
                .expect("ProductFields object");
            assert!(fields.keys().all(|k| k.starts_with("recon/")), "{fields:?}");
            assert!(v["Remediation"]["Recommendation"]["Text"].is_string());
        }
    }

    #[test]
    fn tor_caller_resource_and_action() {
        let v = rendered(&fixtures::tor_caller());
        assert_eq!(v["Severity"], json!({"Label": "MEDIUM", "Original": "5.0"}));
        assert_eq!(at(&v, "/Resources/0/Type"), "AwsIamAccessKey");
        assert_eq!(
            at(&v, "/Resources/0/Id"),
            "AWS::IAM::AccessKey:AKIAEXAMPLEALICE0001"
        );
        assert_eq!(at(&v, "/Resources/0/Partition"), "aws");
        let key = at(&v, "/Resources/0/Details/AwsIamAccessKey");
        assert_eq!(key["PrincipalName"], "alice");
        assert_eq!(key["PrincipalType"], "IAMUser");
        assert_eq!(key["PrincipalId"], "AIDAEXAMPLEALICE");
        assert_eq!(key["AccountId"], ACCOUNT);
        assert!(key.get("SessionContext").is_none());
        assert_eq!(at(&v, "/Action/ActionType"), "AWS_API_CALL");
        let call = at(&v, "/Action/AwsApiCallAction");
        assert_eq!(call["Api"], "ListBuckets");
        assert_eq!(call["ServiceName"], "s3.amazonaws.com");
        assert_eq!(call["CallerType"], "remoteip");
        assert_eq!(call["RemoteIpDetails"]["IpAddressV4"], "203.0.113.7");
        assert_eq!(call["FirstSeen"], "2024-05-01T10:00:00.000Z");
    }

    #[test]
    fn tor_caller_network_intel_and_prose() {
        let v = rendered(&fixtures::tor_caller());
        assert_eq!(
            v["Network"],
            json!({"Direction": "IN", "SourceIpV4": "203.0.113.7"})
        );
        assert_eq!(
            v["ThreatIntelIndicators"],
            json!([{"Type": "IPV4_ADDRESS", "Value": "203.0.113.7", "Source": "tor-exit-nodes",
                    "LastObservedAt": "2024-05-01T10:04:30.000Z"}])
        );
        assert_eq!(field(&v, "threat-list/name"), Some("tor-exit-nodes"));
        assert_eq!(field(&v, "threat-list/entry"), Some("203.0.113.7"));
        assert_eq!(
            field(&v, "evidence/apis"),
            Some("s3.amazonaws.com:ListBuckets x3")
        );
        let title = v["Title"].as_str().unwrap_or_default();
        assert!(title.contains("ListBuckets") && title.contains("Tor") && title.contains("alice"));
        let text = v["Description"].as_str().unwrap_or_default();
        for needle in [
            "alice",
            "ListBuckets",
            "203.0.113.7",
            "3 times",
            "tor-exit-nodes",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn malicious_caller_from_an_assumed_role_session() {
        let v = rendered(&fixtures::malicious_caller());
        assert_eq!(
            at(&v, "/Resources/0/Id"),
            "AWS::IAM::AccessKey:ASIAEXAMPLEDEPLOY001"
        );
        let ctx = at(&v, "/Resources/0/Details/AwsIamAccessKey/SessionContext");
        assert_eq!(ctx["Attributes"]["MfaAuthenticated"], false);
        assert_eq!(
            ctx["Attributes"]["CreationDate"],
            "2024-05-01T09:58:00.000Z"
        );
        assert_eq!(ctx["SessionIssuer"]["Type"], "Role");
        assert_eq!(
            ctx["SessionIssuer"]["Arn"],
            format!("arn:aws:iam::{ACCOUNT}:role/deploy")
        );
        assert_eq!(ctx["SessionIssuer"]["UserName"], "deploy");
        assert_eq!(ctx["SessionIssuer"]["AccountId"], ACCOUNT);
        assert_eq!(at(&v, "/Action/AwsApiCallAction/Api"), "DescribeInstances");
        assert_eq!(v["ThreatIntelIndicators"][0]["Source"], "proofpoint");
        assert!(v["Description"]
            .as_str()
            .unwrap_or_default()
            .contains("198.51.100.0/24"));
    }

    #[test]
    fn custom_list_caller_over_ipv6() {
        let v = rendered(&fixtures::custom_caller_v6());
        let call = at(&v, "/Action/AwsApiCallAction");
        assert_eq!(call["CallerType"], "remoteip");
        assert!(
            call.get("RemoteIpDetails").is_none(),
            "ASFF has no IPv6 field there"
        );
        assert_eq!(
            v["Network"],
            json!({"Direction": "IN", "SourceIpV6": "2001:db8::7"})
        );
        assert_eq!(v["ThreatIntelIndicators"][0]["Type"], "IPV6_ADDRESS");
        assert_eq!(v["ThreatIntelIndicators"][0]["Value"], "2001:db8::7");
        assert_eq!(
            v["Types"][0],
            "TTPs/Discovery/Recon:IAMUser-MaliciousIPCaller.Custom"
        );
        assert!(v["Title"]
            .as_str()
            .unwrap_or_default()
            .contains("my-blocklist"));
    }

    #[test]
    fn network_permissions_by_root_without_access_key() {
        let v = rendered(&fixtures::network_permissions_root());
        assert_eq!(at(&v, "/Resources/0/Type"), "AwsIamAccessKey");
        assert_eq!(
            at(&v, "/Resources/0/Id"),
            format!("arn:aws:iam::{ACCOUNT}:root")
        );
        let key = at(&v, "/Resources/0/Details/AwsIamAccessKey");
        assert!(key.get("AccessKeyId").is_none() && key.get("PrincipalName").is_none());
        assert_eq!(key["PrincipalType"], "Root");
        // The new API, not the most frequent one.
        assert_eq!(
            at(&v, "/Action/AwsApiCallAction/Api"),
            "DescribeSecurityGroups"
        );
        assert_eq!(
            at(&v, "/Action/AwsApiCallAction/ServiceName"),
            "ec2.amazonaws.com"
        );
        assert!(v.get("ThreatIntelIndicators").is_none());
        assert_eq!(
            field(&v, "new-apis"),
            Some("DescribeSecurityGroups, DescribeRouteTables")
        );
        assert_eq!(field(&v, "baseline/age"), Some("11d 2h 0m"));
        assert_eq!(
            field(&v, "baseline/principal-first-seen"),
            Some("2024-04-20T08:00:00.000Z")
        );
        let title = v["Title"].as_str().unwrap_or_default();
        assert!(
            title.starts_with("The root user called network-permission"),
            "{title}"
        );
        let text = v["Description"].as_str().unwrap_or_default();
        for needle in [
            "never called DescribeSecurityGroups",
            "11d 2h 0m",
            "2024-04-20",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn resource_permissions_with_instance_credentials_is_high() {
        let v = rendered(&fixtures::resource_permissions_instance());
        assert_eq!(v["Severity"], json!({"Label": "HIGH", "Original": "8.0"}));
        assert_eq!(
            v["Types"][0],
            "TTPs/Discovery/Recon:IAMUser-ResourcePermissions"
        );
        assert_eq!(field(&v, "principal/instance-credentials"), Some("true"));
        assert_eq!(
            field(&v, "last-error"),
            Some("DescribeInstances: AccessDenied")
        );
        let text = v["Description"].as_str().unwrap_or_default();
        assert!(
            text.contains("EC2 instance") && text.contains("AccessDenied"),
            "{text}"
        );
    }

    #[test]
    fn user_permissions_without_a_remote_address() {
        let v = rendered(&fixtures::user_permissions_no_ip());
        let call = at(&v, "/Action/AwsApiCallAction");
        assert_eq!(call["CallerType"], "domain");
        assert_eq!(call["Api"], "ListAccessKeys");
        assert!(call.get("RemoteIpDetails").is_none());
        assert!(v.get("Network").is_none());
        assert!(v.get("ThreatIntelIndicators").is_none());
        assert!(field(&v, "remote-ip").is_none());
    }

    #[test]
    fn portscan_from_an_instance() {
        let v = rendered(&fixtures::portscan());
        assert_eq!(at(&v, "/Resources/0/Type"), "AwsEc2Instance");
        assert_eq!(
            at(&v, "/Resources/0/Id"),
            format!("arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0")
        );
        let details = at(&v, "/Resources/0/Details/AwsEc2Instance");
        assert_eq!(details["VpcId"], "vpc-0example");
        assert_eq!(details["SubnetId"], "subnet-0example");
        assert_eq!(details["IpV4Addresses"], json!(["10.0.1.15"]));
        assert_eq!(
            details["NetworkInterfaces"],
            json!([{"NetworkInterfaceId": "eni-0a1b2c3d4e5f60718"}])
        );
        assert_eq!(at(&v, "/Action/ActionType"), "NETWORK_CONNECTION");
        let conn = at(&v, "/Action/NetworkConnectionAction");
        assert_eq!(conn["ConnectionDirection"], "OUT");
        assert_eq!(conn["RemoteIpDetails"]["IpAddressV4"], "10.0.9.9");
        assert_eq!(
            conn["RemotePortDetails"],
            json!({"Port": 22, "PortName": "SSH"})
        );
        assert_eq!(conn["Protocol"], "TCP");
        assert_eq!(conn["Blocked"], true);
        assert_eq!(
            v["Network"],
            json!({"Direction": "OUT", "Protocol": "TCP", "SourceIpV4": "10.0.1.15",
                   "DestinationIpV4": "10.0.9.9"})
        );
        assert_eq!(field(&v, "resource-role"), Some("ACTOR"));
        assert_eq!(field(&v, "distinct-ports"), Some("120"));
        let text = v["Description"].as_str().unwrap_or_default();
        for needle in [
            "i-0123456789abcdef0",
            "120 distinct TCP ports",
            "10.0.9.9",
            "rejected",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn port_probe_of_an_interface_without_instance() {
        let v = rendered(&fixtures::port_probe());
        assert_eq!(at(&v, "/Resources/0/Type"), "AwsEc2NetworkInterface");
        assert_eq!(
            at(&v, "/Resources/0/Id"),
            format!("arn:aws:ec2:us-east-1:{ACCOUNT}:network-interface/eni-0fedcba9876543210")
        );
        let nic = at(&v, "/Resources/0/Details/AwsEc2NetworkInterface");
        assert_eq!(nic["NetworkInterfaceId"], "eni-0fedcba9876543210");
        assert_eq!(
            nic["PrivateIpAddresses"],
            json!([{"PrivateIpAddress": "10.0.2.7"}])
        );
        assert_eq!(at(&v, "/Action/ActionType"), "PORT_PROBE");
        let probe = at(&v, "/Action/PortProbeAction");
        assert_eq!(probe["Blocked"], false);
        assert_eq!(probe["PortProbeDetails"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            probe["PortProbeDetails"][0],
            json!({"LocalPortDetails": {"Port": 9200, "PortName": "Elasticsearch"},
                   "LocalIpDetails": {"IpAddressV4": "10.0.2.7"},
                   "RemoteIpDetails": {"IpAddressV4": "198.51.100.99"}})
        );
        assert_eq!(
            at(
                &v,
                "/Action/PortProbeAction/PortProbeDetails/1/LocalPortDetails/Port"
            ),
            22
        );
        assert_eq!(
            v["Network"],
            json!({"Direction": "IN", "Protocol": "TCP", "SourceIpV4": "198.51.100.99",
                   "DestinationIpV4": "10.0.2.7", "DestinationPort": 9200})
        );
        assert_eq!(v["Severity"]["Label"], "HIGH");
        assert_eq!(field(&v, "resource-role"), Some("TARGET"));
        let title = v["Title"].as_str().unwrap_or_default();
        assert!(title.contains("9200 (Elasticsearch)") && title.contains("198.51.100.99"));
        assert!(v["Description"]
            .as_str()
            .unwrap_or_default()
            .contains("accepted"));
    }

    #[test]
    fn port_probe_details_are_bounded() {
        let mut f = fixtures::port_probe();
        if let Evidence::Network(ev) = &mut f.evidence {
            ev.ports = (1000..1100)
                .map(|port| PortCount {
                    port,
                    name: None,
                    count: 1,
                    local: None,
                    protocol: None,
                })
                .collect();
        }
        let v = rendered(&f);
        let details = at(&v, "/Action/PortProbeAction/PortProbeDetails");
        assert_eq!(
            details.as_array().map(Vec::len),
            Some(limits::PORT_PROBE_DETAILS)
        );
    }

    #[test]
    fn ipv6_flows_use_the_ipv6_fields() {
        let mut f = fixtures::portscan();
        f.remote_ip = Some(ip("2001:db8::99"));
        if let Subject::Ec2(e) = &mut f.subject {
            e.local_ip = Some(ip("2001:db8:1::15"));
        }
        let v = rendered(&f);
        assert_eq!(v["Network"]["SourceIpV6"], "2001:db8:1::15");
        assert_eq!(v["Network"]["DestinationIpV6"], "2001:db8::99");
        assert!(at(&v, "/Action/NetworkConnectionAction/RemoteIpDetails").is_null());
        let details = at(&v, "/Resources/0/Details/AwsEc2Instance");
        assert_eq!(details["IpV6Addresses"], json!(["2001:db8:1::15"]));
    }

    #[test]
    fn a_bare_flow_subject_becomes_an_other_resource() {
        let mut f = fixtures::portscan();
        f.subject = Subject::Ec2(Ec2Subject {
            local_ip: Some(ip("10.0.0.8")),
            ..Default::default()
        });
        let v = rendered(&f);
        assert_eq!(at(&v, "/Resources/0/Type"), "Other");
        assert_eq!(at(&v, "/Resources/0/Id"), "10.0.0.8");
    }

    #[test]
    fn absent_and_blank_values_are_omitted() {
        let mut f = fixtures::tor_caller();
        f.subject = Subject::Principal(Principal {
            key: "Unknown:anonymous".into(),
            identity_type: "Unknown".into(),
            name: Some(String::new()),
            arn: Some("   ".into()),
            access_key_id: Some(String::new()),
            session: Some(Default::default()),
            ..Default::default()
        });
        if let Evidence::Api(ev) = &mut f.evidence {
            ev.user_agent = Some(String::new());
            ev.event_ids.clear();
        }
        let v = rendered(&f);
        assert_eq!(at(&v, "/Resources/0/Id"), "Unknown:anonymous");
        let key = at(&v, "/Resources/0/Details/AwsIamAccessKey");
        assert_eq!(key, json!({"PrincipalType": "Unknown"}));
        assert!(field(&v, "evidence/user-agent").is_none());
        assert!(field(&v, "evidence/event-ids").is_none());
    }

    #[test]
    fn malformed_identifiers_are_kept_and_reported() {
        let mut f = fixtures::tor_caller();
        f.account_id = "1234".into();
        f.region = String::new();
        let v = render(&f);
        assert_eq!(v["AwsAccountId"], "1234");
        assert!(v.get("Region").is_none());
        let found = validate(&v).err().unwrap_or_default();
        assert!(found.iter().any(|x| x.path == "AwsAccountId"), "{found:?}");
        assert!(found.iter().any(|x| x.path == "ProductArn"), "{found:?}");
    }

    #[test]
    fn out_of_order_times_are_clamped() {
        let mut f = fixtures::tor_caller();
        f.updated_at = fixtures::ts("2024-05-01T09:00:00Z");
        f.last_seen = fixtures::ts("2024-05-01T09:00:00Z");
        let v = rendered(&f);
        assert_eq!(v["UpdatedAt"], v["CreatedAt"]);
        assert_eq!(v["LastObservedAt"], v["FirstObservedAt"]);
    }

    #[test]
    fn giant_inputs_are_truncated_and_still_validate() {
        let mut f = fixtures::malicious_caller();
        let huge_name = "n".repeat(5_000);
        if let Subject::Principal(p) = &mut f.subject {
            p.name = Some(huge_name.clone());
            p.arn = Some(format!("arn:aws:iam::{ACCOUNT}:user/{}", "é".repeat(5_000)));
            p.key = "k".repeat(5_000);
        }
        if let Evidence::Api(ev) = &mut f.evidence {
            ev.user_agent = Some("Mozilla/5.0 ".repeat(900)); // ~10 kB
            ev.event_ids = (0..20)
                .map(|i| format!("{i}-{}", "e".repeat(3_000)))
                .collect();
            ev.apis[0].api = "A".repeat(3_000);
            ev.apis[0].service = "😀".repeat(3_000);
        }
        f.intel = Some(fixtures::hit(
            ListKind::Custom,
            &"L".repeat(4_000),
            &"E".repeat(4_000),
        ));
        let v = rendered(&f);
        assert!(serialized_len(&v) < MAX_FINDING_BYTES / 4);
        let title = v["Title"].as_str().unwrap_or_default();
        assert!(title.chars().count() <= 256);
        let desc = v["Description"].as_str().unwrap_or_default();
        assert!(desc.chars().count() <= 1024);
        let name = at(&v, "/Resources/0/Details/AwsIamAccessKey/PrincipalName");
        assert!(name
            .as_str()
            .is_some_and(|n| n.ends_with('…') && n.len() < huge_name.len()));
        let api = at(&v, "/Action/AwsApiCallAction/Api");
        assert_eq!(api.as_str().map(|a| a.chars().count()), Some(128));
        let ua = field(&v, "evidence/user-agent").unwrap_or_default();
        assert!(ua.chars().count() == 2048 && ua.ends_with('…'));
        assert_eq!(
            v["ThreatIntelIndicators"][0]["Source"]
                .as_str()
                .map(str::len),
            Some(63 + 3)
        );
    }
}
