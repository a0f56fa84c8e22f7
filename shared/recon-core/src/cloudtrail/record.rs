//! The CloudTrail record fields the detectors read, deserialised with borrowing where the JSON
//! allows it, and the normalisation of `userIdentity` into a stable [`Principal`].

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Deserialize;

use crate::finding::{Principal, SessionInfo};

/// A CloudTrail record, as far as Recon detection needs it. Unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    /// `eventTime`.
    #[serde(borrow)]
    pub event_time: Option<Cow<'a, str>>,
    /// `@timestamp`: the event time in Logstash and Elastic exports that drop `eventTime`.
    #[serde(borrow, rename = "@timestamp")]
    pub export_timestamp: Option<Cow<'a, str>>,
    /// `eventSource`, e.g. `iam.amazonaws.com`.
    #[serde(borrow)]
    pub event_source: Option<Cow<'a, str>>,
    /// `eventName`.
    #[serde(borrow)]
    pub event_name: Option<Cow<'a, str>>,
    /// `eventType`.
    #[serde(borrow)]
    pub event_type: Option<Cow<'a, str>>,
    /// `eventID`.
    #[serde(borrow, rename = "eventID")]
    pub event_id: Option<Cow<'a, str>>,
    /// `awsRegion`.
    #[serde(borrow)]
    pub aws_region: Option<Cow<'a, str>>,
    /// `sourceIPAddress`: an address, a service name, or `AWS Internal`.
    #[serde(borrow, rename = "sourceIPAddress")]
    pub source_ip_address: Option<Cow<'a, str>>,
    /// `userAgent`.
    #[serde(borrow)]
    pub user_agent: Option<Cow<'a, str>>,
    /// `errorCode`: set when the call failed (denied calls still count).
    #[serde(borrow)]
    pub error_code: Option<Cow<'a, str>>,
    /// `recipientAccountId`.
    #[serde(borrow)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    /// `userIdentity`.
    #[serde(borrow)]
    pub user_identity: Option<UserIdentity<'a>>,
}

/// A string value or null, borrowed from the input when it has no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Option<Cow<'a, str>>);

impl<'a> Record<'a> {
    /// Reads the record object `bytes` (exactly one, as the record reader hands them out)
    /// parsing only the values of the fields kept: the record-level keys come from one vector
    /// scan ([`scan::record_colons`](super::scan::record_colons)), and serde reads the twelve
    /// values wanted where they lie, leaving request parameters, response elements and the like
    /// (most of a record's bytes) unparsed. `colons` is scratch space.
    ///
    /// `None` when this reading does not apply — a key with escapes, a wanted key given twice,
    /// a wanted value of the wrong type, brackets that do not match — and the caller parses the
    /// whole record with serde, which says what is wrong. Otherwise the result is the one serde
    /// gives for the whole record, except that values nobody reads are not validated.
    pub fn read_fast(bytes: &'a [u8], colons: &mut Vec<usize>) -> Option<Record<'a>> {
        if !super::scan::record_colons(bytes, colons) {
            return None;
        }
        let mut rec = Record::default();
        let mut seen = 0u16;
        for &colon in colons.iter() {
            let slot = match key_before(bytes, colon)? {
                b"eventTime" => 0,
                b"@timestamp" => 1,
                b"eventSource" => 2,
                b"eventName" => 3,
                b"eventType" => 4,
                b"eventID" => 5,
                b"awsRegion" => 6,
                b"sourceIPAddress" => 7,
                b"userAgent" => 8,
                b"errorCode" => 9,
                b"recipientAccountId" => 10,
                b"userIdentity" => 11,
                _ => continue,
            };
            if seen & (1 << slot) != 0 {
                return None;
            }
            seen |= 1 << slot;
            let mut value = serde_json::Deserializer::from_slice(bytes.get(colon + 1..)?);
            let text = |value: &mut serde_json::Deserializer<_>| Text::deserialize(value).ok();
            let field = match slot {
                0 => &mut rec.event_time,
                1 => &mut rec.export_timestamp,
                2 => &mut rec.event_source,
                3 => &mut rec.event_name,
                4 => &mut rec.event_type,
                5 => &mut rec.event_id,
                6 => &mut rec.aws_region,
                7 => &mut rec.source_ip_address,
                8 => &mut rec.user_agent,
                9 => &mut rec.error_code,
                10 => &mut rec.recipient_account_id,
                _ => {
                    rec.user_identity = Option::<UserIdentity>::deserialize(&mut value).ok()?;
                    continue;
                }
            };
            *field = text(&mut value)?.0;
        }
        Some(rec)
    }
}

/// The key that ends before the record-level colon at `colon`, without its quotes; `None` when
/// it holds an escape (or is not a string).
fn key_before(bytes: &[u8], colon: usize) -> Option<&[u8]> {
    let quoted = bytes.get(..colon)?.trim_ascii_end().strip_suffix(b"\"")?;
    let open = memchr::memrchr(b'"', quoted)?;
    let key = quoted.get(open + 1..)?;
    let escaped = open
        .checked_sub(1)
        .is_some_and(|before| quoted[before] == b'\\');
    (!escaped && !key.contains(&b'\\')).then_some(key)
}

/// `userIdentity`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    /// `type`; missing on some AWS service events.
    #[serde(borrow, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// `principalId`.
    #[serde(borrow)]
    pub principal_id: Option<Cow<'a, str>>,
    /// `arn`.
    #[serde(borrow)]
    pub arn: Option<Cow<'a, str>>,
    /// `accountId`.
    #[serde(borrow)]
    pub account_id: Option<Cow<'a, str>>,
    /// `accessKeyId`.
    #[serde(borrow)]
    pub access_key_id: Option<Cow<'a, str>>,
    /// `userName`.
    #[serde(borrow)]
    pub user_name: Option<Cow<'a, str>>,
    /// `invokedBy`: the AWS service that made the call on the principal's behalf.
    #[serde(borrow)]
    pub invoked_by: Option<Cow<'a, str>>,
    /// `identityProvider` (SAML and web-identity users).
    #[serde(borrow)]
    pub identity_provider: Option<Cow<'a, str>>,
    /// `sessionContext`.
    #[serde(borrow)]
    pub session_context: Option<SessionContext<'a>>,
    /// `onBehalfOf` (IAM Identity Center).
    #[serde(borrow)]
    pub on_behalf_of: Option<OnBehalfOf<'a>>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    /// `attributes`.
    #[serde(borrow)]
    pub attributes: Option<SessionAttributes<'a>>,
    /// `sessionIssuer`.
    #[serde(borrow)]
    pub session_issuer: Option<SessionIssuer<'a>>,
    /// `ec2RoleDelivery`: present when the session's credentials were delivered to an instance.
    #[serde(borrow)]
    pub ec2_role_delivery: Option<Cow<'a, str>>,
}

/// `sessionContext.attributes`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes<'a> {
    /// `mfaAuthenticated`, logged as the string `"true"` or `"false"`.
    #[serde(borrow)]
    pub mfa_authenticated: Option<Cow<'a, str>>,
    /// `creationDate`.
    #[serde(borrow)]
    pub creation_date: Option<Cow<'a, str>>,
}

/// `sessionContext.sessionIssuer`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    /// `type`.
    #[serde(borrow, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    /// `principalId`.
    #[serde(borrow)]
    pub principal_id: Option<Cow<'a, str>>,
    /// `arn`.
    #[serde(borrow)]
    pub arn: Option<Cow<'a, str>>,
    /// `accountId`.
    #[serde(borrow)]
    pub account_id: Option<Cow<'a, str>>,
    /// `userName`.
    #[serde(borrow)]
    pub user_name: Option<Cow<'a, str>>,
}

/// `userIdentity.onBehalfOf`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnBehalfOf<'a> {
    /// `userId`.
    #[serde(borrow)]
    pub user_id: Option<Cow<'a, str>>,
    /// `identityStoreArn`.
    #[serde(borrow)]
    pub identity_store_arn: Option<Cow<'a, str>>,
}

/// A present, non-empty string field.
pub(crate) fn nonempty<'s>(v: &'s Option<Cow<'_, str>>) -> Option<&'s str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// The caller's address, when `sourceIPAddress` holds a real one (not a service name,
/// `AWS Internal`, or a malformed value such as `08.1.250.216`).
pub fn remote_ip(source: Option<&str>) -> Option<IpAddr> {
    let s = source?.trim();
    s.parse::<IpAddr>().ok()
}

/// True when the activity is an AWS service's own and must never raise a Recon finding:
/// `AWSService` identities, service-linked roles, and calls a service made on a principal's
/// behalf (`invokedBy`, or a service name as `sourceIPAddress`).
pub fn is_aws_service_activity(id: &UserIdentity<'_>, source_ip: Option<&str>) -> bool {
    if nonempty(&id.kind) == Some("AWSService") || nonempty(&id.invoked_by).is_some() {
        return true;
    }
    let issuer_arn = id
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref());
    let issuer_arn = issuer_arn.and_then(|i| nonempty(&i.arn));
    let service_role = |arn: &str| {
        arn.contains(":role/aws-service-role/") || arn.contains(":assumed-role/AWSServiceRoleFor")
    };
    if issuer_arn.is_some_and(service_role) || nonempty(&id.arn).is_some_and(service_role) {
        return true;
    }
    source_ip.is_some_and(|s| is_service_source(s.as_bytes()))
}

/// True when `sourceIPAddress` names an AWS service (`config.amazonaws.com`, `AWS Internal`)
/// rather than an address.
pub fn is_service_source(s: &[u8]) -> bool {
    s.ends_with(b".amazonaws.com") || s.starts_with(b"AWS Internal")
}

/// True when a session's credentials were created on an EC2 instance: `ec2RoleDelivery` is set,
/// or the assumed-role session is named after an instance id (`…/role-name/i-0123abcd…`).
pub fn is_instance_credentials(id: &UserIdentity<'_>) -> bool {
    let ctx = id.session_context.as_ref();
    if ctx.and_then(|c| nonempty(&c.ec2_role_delivery)).is_some() {
        return true;
    }
    if nonempty(&id.kind) != Some("AssumedRole") {
        return false;
    }
    let session = nonempty(&id.arn).and_then(|a| a.rsplit('/').next());
    session.is_some_and(is_instance_id)
}

/// `i-` followed by 8 or 17 hexadecimal digits.
#[inline]
pub fn is_instance_id(s: &str) -> bool {
    // Without a branch per byte: flow-log readers check one on every line.
    let hex_digit = |b: u8| (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 6);
    s.as_bytes().strip_prefix(b"i-").is_some_and(|hex| {
        matches!(hex.len(), 8 | 17) && hex.iter().fold(true, |ok, &b| ok & hex_digit(b))
    })
}

/// The stable principal behind a record: an assumed-role session counts as its role
/// (`sessionIssuer.arn`, else the role its session ARN names), a user as its user ARN, root as
/// the account root, a role session of another account (`AWSAccount`) as the role's unique id.
pub fn principal(id: &UserIdentity<'_>, account_fallback: Option<&str>) -> Principal {
    let kind = nonempty(&id.kind).unwrap_or("Unknown");
    let account = nonempty(&id.account_id).or(account_fallback);
    let session = session_info(id);
    let issuer_arn = session.as_ref().and_then(|s| s.issuer_arn.clone());
    let arn = nonempty(&id.arn);
    let key = principal_key(kind, id, arn, issuer_arn.as_deref(), account);
    let name = nonempty(&id.user_name)
        .map(str::to_owned)
        .or_else(|| session.as_ref().and_then(|s| s.issuer_user_name.clone()))
        .or_else(|| arn.and_then(|a| a.rsplit('/').next()).map(str::to_owned))
        .or_else(|| (kind == "Root").then(|| "root".to_owned()));
    Principal {
        key,
        identity_type: kind.to_owned(),
        arn: arn.map(str::to_owned),
        principal_id: nonempty(&id.principal_id).map(str::to_owned),
        name,
        access_key_id: nonempty(&id.access_key_id).map(str::to_owned),
        account_id: account.map(str::to_owned),
        session,
        instance_credentials: is_instance_credentials(id),
    }
}

fn principal_key(
    kind: &str,
    id: &UserIdentity<'_>,
    arn: Option<&str>,
    issuer_arn: Option<&str>,
    account: Option<&str>,
) -> String {
    let acct = account.unwrap_or("unknown-account");
    let pid = nonempty(&id.principal_id);
    match kind {
        "Root" => format!("arn:aws:iam::{acct}:root"),
        "AssumedRole" | "FederatedUser" | "Role" => issuer_arn
            .map(str::to_owned)
            .or_else(|| arn.filter(|_| kind == "AssumedRole").and_then(session_role))
            .or_else(|| arn.map(str::to_owned))
            .or_else(|| pid.map(|p| format!("{kind}:{acct}:{}", unique_id(p))))
            .unwrap_or_else(|| format!("{kind}:{acct}:unknown")),
        "IdentityCenterUser" => {
            let who = id.on_behalf_of.as_ref();
            let user = who
                .and_then(|o| nonempty(&o.user_id))
                .or(pid)
                .unwrap_or("unknown");
            let store = who
                .and_then(|o| nonempty(&o.identity_store_arn))
                .unwrap_or(acct);
            format!("identity-center:{store}:{user}")
        }
        "SAMLUser" | "WebIdentityUser" => {
            let provider = nonempty(&id.identity_provider).unwrap_or("unknown-provider");
            let user = nonempty(&id.user_name).or(pid).unwrap_or("unknown");
            format!("{kind}:{provider}:{user}")
        }
        "AWSService" => format!(
            "AWSService:{}",
            nonempty(&id.invoked_by).unwrap_or("unknown")
        ),
        // A principal of another account: a user's id, or a role session's `AROA…:session`,
        // which counts as its role.
        "AWSAccount" => arn
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{kind}:{acct}:{}", pid.map_or("unknown", unique_id))),
        _ => arn
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{kind}:{acct}:{}", pid.unwrap_or("unknown"))),
    }
}

/// The role of an assumed-role session ARN,
/// `arn:<partition>:sts::<account>:assumed-role/<role>/<session>`, as
/// `arn:<partition>:iam::<account>:role/<role>`; `None` for any other ARN.
///
/// The key of a session whose record has no `sessionIssuer`. The session ARN does not hold the
/// role's path, so for a role with one (`role/team/Dev`) this key differs from the issuer ARN
/// that keys the role's other sessions: its sessions without an issuer get a baseline of their
/// own. No key is the same either way for such a role but its unique id (`AROA…`), and keying
/// every role by that would make keys, which findings show and stored baselines hold, ids
/// instead of ARNs. A name is unique in its account whatever the path, so the key never mixes
/// two roles; most roles have no path, and service-linked ones (which do) are service activity.
fn session_role(arn: &str) -> Option<String> {
    let (partition, rest) = arn.strip_prefix("arn:")?.split_once(':')?;
    let (account, resource) = rest.strip_prefix("sts::")?.split_once(':')?;
    let (role, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    (!partition.is_empty() && !account.is_empty() && !role.is_empty() && !session.is_empty())
        .then(|| format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// The unique id of the principal behind a principal id: for a role session (`AROA…:session`),
/// the role's.
fn unique_id(principal_id: &str) -> &str {
    principal_id
        .split_once(':')
        .map_or(principal_id, |(id, _)| id)
}

fn session_info(id: &UserIdentity<'_>) -> Option<SessionInfo> {
    let ctx = id.session_context.as_ref()?;
    let issuer = ctx.session_issuer.as_ref();
    let attrs = ctx.attributes.as_ref();
    let info = SessionInfo {
        issuer_type: issuer.and_then(|i| nonempty(&i.kind)).map(str::to_owned),
        issuer_arn: issuer.and_then(|i| nonempty(&i.arn)).map(str::to_owned),
        issuer_principal_id: issuer
            .and_then(|i| nonempty(&i.principal_id))
            .map(str::to_owned),
        issuer_account_id: issuer
            .and_then(|i| nonempty(&i.account_id))
            .map(str::to_owned),
        issuer_user_name: issuer
            .and_then(|i| nonempty(&i.user_name))
            .map(str::to_owned),
        mfa_authenticated: attrs
            .and_then(|a| nonempty(&a.mfa_authenticated))
            .map(|v| v.eq_ignore_ascii_case("true")),
        creation_date: attrs
            .and_then(|a| nonempty(&a.creation_date))
            .map(str::to_owned),
    };
    (info != SessionInfo::default()).then_some(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    /// `read_fast` of `json`, checked against serde over the whole record.
    fn fast_matches_serde(json: &str) -> bool {
        let full: Record<'_> = serde_json::from_str(json).expect("valid record");
        match Record::read_fast(json.as_bytes(), &mut Vec::new()) {
            Some(fast) => {
                assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{json}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn fast_reading_gives_what_serde_gives() {
        let records = [
            r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Dev/s1","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Dev"},"attributes":{"mfaAuthenticated":"false","creationDate":"2026-11-03T08:00:00Z"},"ec2RoleDelivery":"2.0"}},"eventTime":"2026-11-03T08:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15","requestParameters":{"filterSet":{"items":[{"name":"a:b","valueSet":{"items":[{"value":"}{]["}]}}]}},"responseElements":null,"eventID":"e1","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#,
            // Keys in another order, blanks around colons, escapes and nulls in wanted values.
            "{ \"recipientAccountId\" : \"111122223333\" ,\n \"eventName\":\"List\\u0055sers\", \"errorCode\" :null,\"userAgent\":\"a \\\"quoted\\\" agent: {x}\",\"userIdentity\":null,\"eventSource\":\"iam.amazonaws.com\"}",
            r#"{"@timestamp":"2026-11-03T08:00:00.123Z","errorCode":"AccessDenied","eventName":"GetCallerIdentity","x":[1,2,{"eventName":"not this one"}]}"#,
            r#"{}"#,
        ];
        for json in records {
            assert!(fast_matches_serde(json), "fast reading refused {json}");
        }
    }

    #[test]
    fn fast_reading_declines_what_it_cannot_vouch_for() {
        let mut colons = Vec::new();
        for json in [
            // Duplicate wanted key: serde refuses the record, and says so.
            r#"{"eventName":"A","eventName":"B"}"#,
            // A wanted value of the wrong type.
            r#"{"eventName":7}"#,
            r#"{"userIdentity":"alice"}"#,
            // An escape in a key.
            r#"{"event\u004eame":"DescribeVpcs"}"#,
            // Not one whole object with matching brackets.
            r#"{"eventName":"A","x":[}"#,
            r#"{"eventName":"A"} "#,
            r#"["eventName"]"#,
        ] {
            assert!(
                Record::read_fast(json.as_bytes(), &mut colons).is_none(),
                "{json}"
            );
        }
        // Values nobody reads are not validated (as in the record scan).
        let unread = r#"{"eventName":"DescribeVpcs","requestParameters":{"n":tru}}"#;
        let rec = Record::read_fast(unread.as_bytes(), &mut colons).expect("read");
        assert_eq!(rec.event_name.as_deref(), Some("DescribeVpcs"));
    }

    #[test]
    fn fast_reading_of_damaged_records_never_panics_and_agrees_when_serde_accepts() {
        let good = r#"{"userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/R"}}},"eventName":"DescribeVpcs","eventSource":"ec2.amazonaws.com","x":[1,{"y":"z\"]"}]}"#;
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut colons = Vec::new();
        let alphabet = b"{}[]\":,\\ ae0";
        for _ in 0..5000 {
            let mut bytes = good.as_bytes().to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(bytes.len());
                match rng.below(3) {
                    0 => bytes[at] = alphabet[rng.below(alphabet.len())],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                }
            }
            let fast = Record::read_fast(&bytes, &mut colons);
            if let (Some(fast), Ok(full)) = (&fast, serde_json::from_slice::<Record<'_>>(&bytes)) {
                assert_eq!(format!("{fast:?}"), format!("{full:?}"));
            }
        }
    }

    #[test]
    fn fast_reading_matches_serde_on_random_records() {
        const WANTED: [&str; 12] = [
            "eventTime",
            "@timestamp",
            "eventSource",
            "eventName",
            "eventType",
            "eventID",
            "awsRegion",
            "sourceIPAddress",
            "userAgent",
            "errorCode",
            "recipientAccountId",
            "userIdentity",
        ];
        const OTHER: [&str; 4] = ["requestParameters", "eventVersion", "resources", "e"];
        let strings = [
            r#""plain""#,
            r#""with \"quotes\" and \\ backslash""#,
            r#""colon: and {brackets}[]""#,
            r#""\u00e9t\u00e9""#,
            "null",
        ];
        let nested = [
            r#"{"a":{"b":[1,2,{"c":"d:}"}]},"e":null}"#,
            r#"[{"eventName":"inner"},"x",true,-1.5e3]"#,
            r#""eventName""#,
            "false",
        ];
        let identities = [
            r#"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","userName":"a"}"#,
            r#"{"type":"AWSService","invokedBy":"config.amazonaws.com"}"#,
            "null",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let blank = |rng: &mut Rng| {
            [
                " ", "", "
  ", "	",
            ][rng.below(4)]
        };
        for _ in 0..2000 {
            let mut keys: Vec<&str> = WANTED
                .iter()
                .chain(OTHER.iter())
                .copied()
                .filter(|_| rng.below(2) == 0)
                .collect();
            // Shuffle.
            for i in (1..keys.len()).rev() {
                keys.swap(i, rng.below(i + 1));
            }
            let members: Vec<String> = keys
                .iter()
                .map(|k| {
                    let value = match *k {
                        "userIdentity" => identities[rng.below(identities.len())],
                        k if WANTED.contains(&k) => strings[rng.below(strings.len())],
                        _ => nested[rng.below(nested.len())],
                    };
                    let (a, b, c) = (blank(&mut rng), blank(&mut rng), blank(&mut rng));
                    format!("{a}\"{k}\"{b}:{c}{value}")
                })
                .collect();
            let json = format!("{{{}{}}}", members.join(","), blank(&mut rng));
            assert!(fast_matches_serde(&json), "fast reading refused {json}");
        }
    }

    fn identity(json: &str) -> UserIdentity<'_> {
        serde_json::from_str(json).expect("valid identity")
    }

    #[test]
    fn every_identity_shape_has_a_stable_key() {
        let cases = [
            (
                r#"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"}"#,
                "arn:aws:iam::111122223333:user/alice",
            ),
            (
                r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Dev/s1","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/team/Dev"}}}"#,
                "arn:aws:iam::111122223333:role/team/Dev",
            ),
            (
                r#"{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}"#,
                "arn:aws:iam::111122223333:root",
            ),
            (
                r#"{"type":"Root","accountId":"111122223333","userName":"my-alias"}"#,
                "arn:aws:iam::111122223333:root",
            ),
            (
                r#"{"type":"FederatedUser","arn":"arn:aws:sts::111122223333:federated-user/bob","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/broker"}}}"#,
                "arn:aws:iam::111122223333:user/broker",
            ),
            (
                r#"{"type":"AWSService","invokedBy":"config.amazonaws.com"}"#,
                "AWSService:config.amazonaws.com",
            ),
            (
                r#"{"type":"AWSAccount","principalId":"AIDAEXAMPLE","accountId":"444455556666"}"#,
                "AWSAccount:444455556666:AIDAEXAMPLE",
            ),
            (
                r#"{"type":"AWSAccount","principalId":"AROAEXAMPLE:build-42","accountId":"444455556666"}"#,
                "AWSAccount:444455556666:AROAEXAMPLE",
            ),
            (
                r#"{"type":"AssumedRole","principalId":"AROAEXAMPLE:s1","arn":"arn:aws:sts::111122223333:assumed-role/Dev/s1","accountId":"111122223333"}"#,
                "arn:aws:iam::111122223333:role/Dev",
            ),
            (
                r#"{"type":"AssumedRole","arn":"arn:aws-us-gov:sts::111122223333:assumed-role/Dev/s1","accountId":"111122223333","sessionContext":{"attributes":{"mfaAuthenticated":"false"}}}"#,
                "arn:aws-us-gov:iam::111122223333:role/Dev",
            ),
            (
                r#"{"type":"AssumedRole","principalId":"AROAEXAMPLE:s1","accountId":"111122223333"}"#,
                "AssumedRole:111122223333:AROAEXAMPLE",
            ),
            (
                r#"{"type":"IdentityCenterUser","accountId":"111122223333","onBehalfOf":{"userId":"u-1","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-1"}}"#,
                "identity-center:arn:aws:identitystore::111122223333:identitystore/d-1:u-1",
            ),
            (
                r#"{"type":"SAMLUser","principalId":"x:y","userName":"carol","identityProvider":"idp"}"#,
                "SAMLUser:idp:carol",
            ),
            (
                r#"{"type":"WebIdentityUser","userName":"dave","identityProvider":"accounts.google.com"}"#,
                "WebIdentityUser:accounts.google.com:dave",
            ),
            (
                r#"{"accountId":"111122223333","invokedBy":"AWS Internal"}"#,
                "Unknown:111122223333:unknown",
            ),
        ];
        for (json, key) in cases {
            assert_eq!(principal(&identity(json), None).key, key, "{json}");
        }
    }

    #[test]
    fn assumed_role_sessions_share_the_role() {
        let a = identity(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/one","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/R"}}}"#,
        );
        let b = identity(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/two","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/R"}}}"#,
        );
        assert_eq!(principal(&a, None).key, principal(&b, None).key);
    }

    #[test]
    fn sessions_without_their_issuer_share_the_role_and_only_it() {
        let key = |json: &str| principal(&identity(json), None).key;
        let session = |arn: &str| format!(r#"{{"type":"AssumedRole","arn":"{arn}"}}"#);
        let one = key(&session("arn:aws:sts::1:assumed-role/R/one"));
        let two = key(&session("arn:aws:sts::1:assumed-role/R/two"));
        assert_eq!(one, two, "two sessions of one role");
        let with_issuer = key(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/three","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/R"}}}"#,
        );
        assert_eq!(one, with_issuer, "with or without the issuer");
        assert_ne!(one, key(&session("arn:aws:sts::1:assumed-role/S/one")));
        assert_ne!(one, key(&session("arn:aws:sts::2:assumed-role/R/one")));
        assert_ne!(one, key(&session("arn:aws-cn:sts::1:assumed-role/R/one")));
        // A role with a path: its session ARN does not say the path, so the key without the
        // issuer lacks it (see `session_role`).
        let pathed = key(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/one","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/team/R"}}}"#,
        );
        assert_eq!(pathed, "arn:aws:iam::1:role/team/R");
        // ARNs that are not assumed-role sessions keep their keys.
        for arn in [
            "arn:aws:sts::1:assumed-role/R",
            "arn:aws:sts::1:federated-user/bob",
            "arn:aws:iam::1:role/R",
            "not an arn",
        ] {
            assert_eq!(key(&session(arn)), arn);
        }
        for (kind, arn) in [
            ("IAMUser", "arn:aws:iam::1:user/alice"),
            ("IAMUser", "arn:aws:iam::1:user/ops/alice"),
            ("FederatedUser", "arn:aws:sts::1:federated-user/bob"),
            ("Role", "arn:aws:sts::1:assumed-role/R/one"),
        ] {
            let json = format!(r#"{{"type":"{kind}","arn":"{arn}"}}"#);
            assert_eq!(key(&json), arn, "{kind}");
        }
    }

    #[test]
    fn another_accounts_role_sessions_share_the_role_and_only_it() {
        let key = |pid: &str| {
            let json = format!(r#"{{"type":"AWSAccount","principalId":"{pid}","accountId":"4"}}"#);
            principal(&identity(&json), None).key
        };
        assert_eq!(key("AROAONE:alice"), key("AROAONE:bob"));
        assert_eq!(key("AROAONE:alice"), "AWSAccount:4:AROAONE");
        assert_ne!(key("AROAONE:alice"), key("AROATWO:alice"));
        assert_eq!(key("AIDAUSER"), "AWSAccount:4:AIDAUSER");
        assert_ne!(key("AIDAUSER"), key("AIDAOTHER"));
        // Other kinds keep the whole principal id.
        let untyped = identity(r#"{"principalId":"x:y","accountId":"4"}"#);
        assert_eq!(principal(&untyped, None).key, "Unknown:4:x:y");
    }

    #[test]
    fn instance_credentials_are_recognised() {
        let by_name = identity(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/web/i-0adc17a5acb70d9ae"}"#,
        );
        assert!(is_instance_credentials(&by_name));
        let by_delivery = identity(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/web/x","sessionContext":{"ec2RoleDelivery":"2.0"}}"#,
        );
        assert!(is_instance_credentials(&by_delivery));
        let user =
            identity(r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/web/alice"}"#);
        assert!(!is_instance_credentials(&user));
        assert!(!is_instance_id("i-123"));
    }

    #[test]
    fn service_activity_is_recognised() {
        let svc = identity(r#"{"type":"AWSService","invokedBy":"trustedadvisor.amazonaws.com"}"#);
        assert!(is_aws_service_activity(&svc, None));
        let slr = identity(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/AWSServiceRoleForConfig/x","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"}}}"#,
        );
        assert!(is_aws_service_activity(&slr, None));
        let via = identity(
            r#"{"type":"IAMUser","arn":"arn:aws:iam::1:user/a","invokedBy":"cloudformation.amazonaws.com"}"#,
        );
        assert!(is_aws_service_activity(&via, None));
        let user = identity(r#"{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"}"#);
        assert!(!is_aws_service_activity(&user, Some("203.0.113.9")));
        assert!(is_aws_service_activity(&user, Some("config.amazonaws.com")));
    }

    #[test]
    fn only_real_addresses_are_remote_ips() {
        assert_eq!(remote_ip(Some("203.0.113.9")), "203.0.113.9".parse().ok());
        assert_eq!(remote_ip(Some("2001:db8::1")), "2001:db8::1".parse().ok());
        for s in [
            "AWS Internal",
            "config.amazonaws.com",
            "08.1.250.216",
            "",
            "1.2.3",
        ] {
            assert_eq!(remote_ip(Some(s)), None, "{s}");
        }
    }
}
