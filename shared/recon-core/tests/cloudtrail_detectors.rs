//! Every CloudTrail detector through the engine, positive and negative: the three listed-address
//! types, the three first-seen permission types, order independence, aggregation across commits
//! and suppression rules. Every finding produced is checked as ASFF by the harness.

mod common;

use std::net::IpAddr;

use common::*;
use recon_core::finding::{Evidence, FindingType, IntelHit, ListKind, Severity};
use recon_core::intel::ThreatIntel;
use recon_core::suppress::Suppressions;
use recon_core::time::Timestamp;
use serde_json::json;

use FindingType::{
    MaliciousIpCaller, MaliciousIpCallerCustom, NetworkPermissions, ResourcePermissions,
    TorIpCaller, UserPermissions,
};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// Discovery calls (one denied) by `alice` from `from`, inside the learning period so that only
/// the listed-address detectors can speak.
fn discovery_from(from: &str) -> Vec<Rec> {
    let alice = iam_user("alice");
    vec![
        rec(alice.clone(), EC2, "DescribeInstances", &at(2, 10, 0)).ip(from),
        rec(alice.clone(), S3, "ListBuckets", &at(2, 10, 1)).ip(from),
        rec(alice, EC2, "DescribeSecurityGroups", &at(2, 10, 2))
            .ip(from)
            .error("AccessDenied"),
    ]
}

/// Scans [`discovery_from`] `from` against `intel` and returns the single finding it raises,
/// checked to be of `expected` type and about alice from `from`.
fn single_listed_finding(
    intel: ThreatIntel,
    from: &str,
    expected: FindingType,
) -> recon_core::finding::Finding {
    let mut h = Harness::new(WEEK_MS, intel);
    let report = h.scan("calls.json", envelope(&discovery_from(from)));
    assert_eq!(report.evaluated, 3, "{report:?}");
    let c = h.commit();
    assert_eq!(types(&c.findings), [expected], "{:?}", brief(&c.findings));
    assert_eq!(c.findings.len(), 1);
    let f = c.findings[0].clone();
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.remote_ip, Some(ip(from)));
    assert_eq!(f.count, 3);
    assert_eq!(principal(&f).key, user_arn("alice"));
    assert_eq!(f.first_seen, ts(&at(2, 10, 0)));
    assert_eq!(f.last_seen, ts(&at(2, 10, 2)));
    let ev = api_evidence(&f);
    let denied = ev.apis.iter().find(|a| a.api == "DescribeSecurityGroups");
    assert_eq!(
        denied.and_then(|a| a.last_error.as_deref()),
        Some("AccessDenied"),
        "denied calls count and keep their error: {ev:?}"
    );
    assert!(ev.apis.iter().any(|a| a.api == "ListBuckets"));
    assert!(ev.apis.iter().any(|a| a.api == "DescribeInstances"));
    f
}

#[test]
fn tor_exit_caller_of_discovery_apis_raises_tor_ip_caller_naming_list_and_entry() {
    let f = single_listed_finding(tor_intel(), TOR_IP, TorIpCaller);
    let hit = IntelHit {
        kind: ListKind::Tor,
        list: "tor-exits".into(),
        entry: TOR_IP.into(),
    };
    assert_eq!(f.intel, Some(hit));
    let asff = recon_core::asff::render(&f);
    assert_eq!(asff["ThreatIntelIndicators"][0]["Value"], json!(TOR_IP));
    assert_eq!(
        asff["ThreatIntelIndicators"][0]["Type"],
        json!("IPV4_ADDRESS")
    );
    assert_eq!(asff["Severity"]["Label"], json!("MEDIUM"));
}

#[test]
fn managed_list_caller_raises_malicious_ip_caller_naming_list_and_entry() {
    let managed = intel(&[(ListKind::Managed, "ipsum-level5", &["192.0.2.66"])]);
    let f = single_listed_finding(managed, "192.0.2.66", MaliciousIpCaller);
    let hit = IntelHit {
        kind: ListKind::Managed,
        list: "ipsum-level5".into(),
        entry: "192.0.2.66".into(),
    };
    assert_eq!(f.intel, Some(hit));
}

#[test]
fn custom_list_cidr_caller_raises_malicious_ip_caller_custom_naming_the_cidr() {
    let custom = intel(&[(ListKind::Custom, "incident-42", &["203.0.113.0/24"])]);
    let f = single_listed_finding(custom, "203.0.113.77", MaliciousIpCallerCustom);
    let hit = IntelHit {
        kind: ListKind::Custom,
        list: "incident-42".into(),
        entry: "203.0.113.0/24".into(),
    };
    assert_eq!(f.intel, Some(hit));
}

#[test]
fn write_calls_from_a_listed_address_raise_nothing() {
    let lists = intel(&[
        (ListKind::Tor, "tor", &[TOR_IP]),
        (ListKind::Managed, "managed", &[TOR_IP]),
        (ListKind::Custom, "custom", &[TOR_IP]),
    ]);
    // Learning period off: not even a first-seen finding may come out of writes.
    let mut h = Harness::new(0, lists);
    let bob = iam_user("bob");
    let recs = [
        rec(bob.clone(), EC2, "RunInstances", &at(2, 9, 0)).ip(TOR_IP),
        rec(bob.clone(), S3, "PutObject", &at(2, 9, 1)).ip(TOR_IP),
        rec(bob.clone(), IAM, "CreateUser", &at(2, 9, 2)).ip(TOR_IP),
        rec(bob, EC2, "AuthorizeSecurityGroupIngress", &at(2, 9, 3)).ip(TOR_IP),
    ];
    let report = h.scan("writes.json", envelope(&recs));
    assert_eq!(report.records, 4);
    assert_eq!(report.evaluated, 0);
    let c = h.commit();
    assert!(c.findings.is_empty(), "{:?}", brief(&c.findings));
}

#[test]
fn trusted_list_wins_over_every_threat_list() {
    let both = "198.51.100.99";
    let lists = intel(&[
        (ListKind::Tor, "tor", &[both, TOR_IP]),
        (ListKind::Managed, "managed", &[both]),
        (ListKind::Custom, "custom", &["198.51.100.0/24"]),
        (ListKind::Trusted, "office", &[both]),
    ]);
    let mut h = Harness::new(WEEK_MS, lists);
    let mut recs = discovery_from(both);
    // A control call from an untrusted Tor exit proves the lists are live.
    recs.push(rec(iam_user("carol"), EC2, "DescribeVpcs", &at(2, 11, 0)).ip(TOR_IP));
    h.scan("calls.json", envelope(&recs));
    let c = h.commit();
    let trusted_hits: Vec<_> = c
        .findings
        .iter()
        .filter(|f| f.remote_ip == Some(ip(both)))
        .collect();
    assert!(trusted_hits.is_empty(), "{trusted_hits:?}");
    assert_eq!(types(&c.findings), [TorIpCaller, MaliciousIpCallerCustom]);
    for f in &c.findings {
        assert_eq!(principal(f).key, user_arn("carol"));
        assert_eq!(f.remote_ip, Some(ip(TOR_IP)));
    }
}

#[test]
fn ipv6_listed_caller_raises_a_finding_with_an_ipv6_indicator() {
    let v6 = "2001:db8:85a3::8a2e:370:7334";
    let custom = intel(&[(ListKind::Custom, "v6-list", &["2001:db8::/32"])]);
    let f = single_listed_finding(custom, v6, MaliciousIpCallerCustom);
    assert_eq!(
        f.intel.as_ref().map(|h| h.entry.as_str()),
        Some("2001:db8::/32")
    );
    let asff = recon_core::asff::render(&f);
    assert_eq!(
        asff["ThreatIntelIndicators"][0]["Type"],
        json!("IPV6_ADDRESS")
    );
    assert_eq!(asff["Network"]["SourceIpV6"], json!(v6));
}

#[test]
fn service_names_internal_sources_and_malformed_addresses_are_never_looked_up() {
    // Every list holds addresses a lenient parser would read out of the bad sources below.
    let lists = intel(&[
        (ListKind::Tor, "tor", &["203.0.113.9"]),
        (
            ListKind::Managed,
            "managed",
            &["198.51.100.7", "203.0.113.9"],
        ),
        (ListKind::Custom, "custom", &["198.51.100.7"]),
    ]);
    let mut h = Harness::new(WEEK_MS, lists);
    let dave = iam_user("dave");
    let sources = [
        "AWS Internal",
        "config.amazonaws.com",
        "08.1.250.216",
        "203.0.113.09",
        "198.051.100.7",
    ];
    let mut recs: Vec<Rec> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| rec(dave.clone(), EC2, "DescribeInstances", &at(2, 8, i as u32)).ip(s))
        .collect();
    // The one real address.
    recs.push(rec(dave, EC2, "DescribeInstances", &at(2, 9, 0)).ip("203.0.113.9"));
    let report = h.scan("sources.json", envelope(&recs));
    assert_eq!(
        report.service_activity, 2,
        "AWS Internal and the service name: {report:?}"
    );
    assert_eq!(report.evaluated, 4);
    let c = h.commit();
    assert_eq!(types(&c.findings), [TorIpCaller, MaliciousIpCaller]);
    for f in &c.findings {
        assert_eq!(f.count, 1, "only the real address matched: {f:?}");
        assert_eq!(f.remote_ip, Some(ip("203.0.113.9")));
    }
}

#[test]
fn an_address_on_tor_and_custom_lists_raises_both_types() {
    let lists = intel(&[
        (ListKind::Tor, "tor-exits", &[TOR_IP]),
        (ListKind::Custom, "watch", &[TOR_IP]),
    ]);
    let mut h = Harness::new(WEEK_MS, lists);
    h.scan("calls.json", envelope(&discovery_from(TOR_IP)));
    let c = h.commit();
    assert_eq!(types(&c.findings), [TorIpCaller, MaliciousIpCallerCustom]);
    assert_eq!(c.findings.len(), 2);
    assert_ne!(c.findings[0].id, c.findings[1].id);
    let tor = expect_finding(&c.findings, TorIpCaller, &user_arn("alice"));
    let custom = expect_finding(&c.findings, MaliciousIpCallerCustom, &user_arn("alice"));
    assert_eq!(tor.intel.as_ref().map(|h| h.kind), Some(ListKind::Tor));
    assert_eq!(
        custom.intel.as_ref().map(|h| h.list.as_str()),
        Some("watch")
    );
    assert_eq!((tor.count, custom.count), (3, 3));
}

#[test]
fn a_malformed_aws_region_does_not_make_the_finding_invalid_asff() {
    let mut h = Harness::new(WEEK_MS, tor_intel());
    let recs = [
        rec(iam_user("alice"), EC2, "DescribeInstances", &at(2, 0, 0))
            .ip(TOR_IP)
            .region("apiso-westcentral-3r"),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    assert_eq!(c.findings.len(), 1);
    assert_eq!(
        c.findings[0].region, "us-east-1",
        "the default Region stands in"
    );
}

// ---------------------------------------------------------------------------------------------
// Network/Resource/UserPermissions

/// Day 1, 00:00: the account's first event, which starts its 7-day learning period.
fn account_opens() -> Rec {
    rec(iam_user("admin"), EC2, "DescribeInstances", &at(1, 0, 0))
}

#[test]
fn calls_inside_the_learning_period_raise_nothing_and_become_baseline() {
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let admin = iam_user("admin");
    let inside = [
        account_opens(),
        rec(admin.clone(), EC2, "DescribeSecurityGroups", &at(3, 12, 0)),
        rec(admin.clone(), IAM, "ListUsers", &at(5, 12, 0)),
        rec(admin.clone(), EC2, "DescribeSnapshots", &at(7, 23, 59)),
    ];
    h.scan("week1.json", envelope(&inside));
    let c = h.commit();
    assert!(c.findings.is_empty(), "{:?}", brief(&c.findings));
    let after = [
        rec(admin.clone(), EC2, "DescribeSecurityGroups", &at(9, 12, 0)),
        rec(admin.clone(), IAM, "ListUsers", &at(9, 12, 1)),
        rec(admin, EC2, "DescribeSnapshots", &at(9, 12, 2)),
    ];
    h.scan("day9.json", envelope(&after));
    let c = h.commit();
    assert!(c.findings.is_empty(), "{:?}", brief(&c.findings));
}

#[test]
fn a_first_seen_finding_names_a_new_api_with_its_service_however_many_calls() {
    // One call of a first new API, then 25 others called three times each: the bounded call
    // list keeps the 20 most frequent, and the finding must still name an API with its
    // service (it once said "including DescribeLogGroups," with no service and no ServiceName).
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let admin = iam_user("admin");
    let mut recs = vec![
        account_opens(),
        rec(
            admin.clone(),
            "logs.amazonaws.com",
            "DescribeLogGroups",
            &at(9, 10, 0),
        ),
    ];
    for i in 0..25u32 {
        for n in 0..3 {
            let api = format!("GetBucketThing{i:02}");
            recs.push(rec(admin.clone(), S3, &api, &at(9, 11 + n, i)));
        }
    }
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    let f = expect_finding(&c.findings, ResourcePermissions, &user_arn("admin"));
    let Evidence::Api(ev) = &f.evidence else {
        panic!("api evidence")
    };
    assert_eq!(
        ev.new_apis.len(),
        20,
        "bounded as across runs: {:?}",
        ev.new_apis
    );
    let v = recon_core::asff::render(f);
    let action = &v["Action"]["AwsApiCallAction"];
    assert_eq!(action["ServiceName"], "s3.amazonaws.com", "{action}");
    let api = action["Api"].as_str().unwrap_or_default();
    assert!(api.starts_with("GetBucketThing"), "{action}");
    let description = v["Description"].as_str().unwrap_or_default();
    assert!(
        description.contains(&format!("{api} (s3.amazonaws.com)")),
        "{description}"
    );
    assert_valid_asff(&c.findings);
}

#[test]
fn new_apis_after_the_learning_period_raise_one_finding_per_category() {
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let admin = iam_user("admin");
    let recs = [
        account_opens(),
        rec(admin.clone(), EC2, "DescribeSecurityGroups", &at(9, 10, 0)),
        rec(admin.clone(), IAM, "ListUsers", &at(9, 10, 1)),
        rec(admin.clone(), STS, "GetCallerIdentity", &at(9, 10, 2)),
        rec(admin.clone(), EC2, "DescribeSnapshots", &at(9, 10, 3)),
        // Called before: not new.
        rec(admin, EC2, "DescribeInstances", &at(9, 10, 4)),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    assert_eq!(
        types(&c.findings),
        [NetworkPermissions, ResourcePermissions, UserPermissions]
    );
    assert_eq!(c.created, 3);
    let key = user_arn("admin");
    let net = expect_finding(&c.findings, NetworkPermissions, &key);
    let res = expect_finding(&c.findings, ResourcePermissions, &key);
    let user = expect_finding(&c.findings, UserPermissions, &key);
    assert_eq!(new_apis(net), ["DescribeSecurityGroups"]);
    assert_eq!(new_apis(res), ["DescribeSnapshots"]);
    assert_eq!(new_apis(user), ["GetCallerIdentity", "ListUsers"]);
    assert_eq!((net.count, res.count, user.count), (1, 1, 2));
    for f in [net, res, user] {
        assert_eq!(f.severity, Severity::Medium);
        let ip = f
            .remote_ip
            .expect("the caller's address is kept as evidence");
        assert!(
            !f.id.contains(&ip.to_string()),
            "first-seen findings are not keyed by address: {}",
            f.id
        );
        let ev = api_evidence(f);
        assert_eq!(ev.principal_first_seen, Some(ts(&at(1, 0, 0))));
        assert_eq!(ev.account_first_seen, Some(ts(&at(1, 0, 0))));
        let age = f.first_seen.0 - ts(&at(1, 0, 0)).0;
        assert_eq!(ev.baseline_age_ms, Some(age));
        assert!(age > WEEK_MS);
    }
}

#[test]
fn the_learning_period_ends_exactly_seven_days_after_the_accounts_first_event() {
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let recs = [
        account_opens(),
        rec(
            iam_user("late"),
            EC2,
            "DescribeVpcs",
            "2026-11-07T23:59:59.999Z",
        ),
        rec(iam_user("late"), EC2, "DescribeSubnets", &at(8, 0, 0)),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    let f = expect_finding(&c.findings, NetworkPermissions, &user_arn("late"));
    assert_eq!(new_apis(f), ["DescribeSubnets"]);
    assert_eq!(c.findings.len(), 1);
}

#[test]
fn the_learning_period_starts_at_the_first_event_of_any_kind_without_recipient_account_id() {
    // Exports often drop recipientAccountId; the account is then the caller's own.
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let admin = iam_user("admin");
    let recs = [
        rec(admin.clone(), EC2, "RunInstances", &at(1, 0, 0)),
        rec(admin, EC2, "DescribeInstances", &at(9, 0, 0)),
    ];
    let recs: Vec<Rec> = recs
        .into_iter()
        .map(|r| r.without("recipientAccountId"))
        .collect();
    h.scan("export.json", envelope(&recs));
    let c = h.commit();
    assert_eq!(
        h.store.accounts.get(ACCOUNT),
        Some(&ts(&at(1, 0, 0))),
        "the account was first seen on day 1"
    );
    expect_finding(&c.findings, ResourcePermissions, &user_arn("admin"));
}

#[test]
fn an_api_the_principal_called_before_raises_nothing_after_the_learning_period() {
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let admin = iam_user("admin");
    let recs = [
        account_opens(),
        rec(admin.clone(), EC2, "DescribeInstances", &at(9, 1, 0)),
        rec(admin.clone(), EC2, "DescribeInstances", &at(9, 2, 0)).error("AccessDenied"),
        rec(admin, EC2, "DescribeInstances", &at(10, 1, 0)),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    assert!(c.findings.is_empty(), "{:?}", brief(&c.findings));
}

#[test]
fn a_principal_first_seen_after_the_learning_period_has_every_discovery_call_new() {
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let eve = iam_user("eve");
    let recs = [
        account_opens(),
        rec(eve.clone(), EC2, "DescribeInstances", &at(10, 3, 0)),
        rec(eve.clone(), IAM, "ListRoles", &at(10, 3, 5)),
        // Not a permission category: never a first-seen finding.
        rec(eve, EC2, "DescribeRegions", &at(10, 3, 6)),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    assert_eq!(types(&c.findings), [ResourcePermissions, UserPermissions]);
    let res = expect_finding(&c.findings, ResourcePermissions, &user_arn("eve"));
    assert_eq!(new_apis(res), ["DescribeInstances"]);
    let ev = api_evidence(res);
    assert_eq!(ev.principal_first_seen, Some(ts(&at(10, 3, 0))));
    assert_eq!(ev.baseline_age_ms, Some(0));
    assert_eq!(ev.account_first_seen, Some(ts(&at(1, 0, 0))));
    let user = expect_finding(&c.findings, UserPermissions, &user_arn("eve"));
    assert_eq!(api_evidence(user).baseline_age_ms, Some(5 * 60_000));
}

#[test]
fn learning_period_zero_makes_every_first_call_new_and_only_once() {
    let mut h = Harness::new(0, ThreatIntel::default());
    let admin = iam_user("admin");
    h.scan(
        "day1.json",
        envelope(&[
            rec(admin.clone(), EC2, "DescribeInstances", &at(1, 0, 0)),
            rec(admin.clone(), EC2, "DescribeRouteTables", &at(1, 0, 1)),
        ]),
    );
    let c = h.commit();
    assert_eq!(
        types(&c.findings),
        [NetworkPermissions, ResourcePermissions]
    );
    let res_id = expect_finding(&c.findings, ResourcePermissions, &user_arn("admin"))
        .id
        .clone();
    // The same APIs again: nothing. A new resource API: the same finding, updated.
    h.scan(
        "day2.json",
        envelope(&[
            rec(admin.clone(), EC2, "DescribeInstances", &at(2, 0, 0)),
            rec(admin.clone(), EC2, "DescribeRouteTables", &at(2, 0, 1)),
            rec(admin, S3, "ListBuckets", &at(2, 0, 2)),
        ]),
    );
    let c = h.commit();
    assert_eq!(types(&c.findings), [ResourcePermissions]);
    assert_eq!(c.created, 0);
    let res = &c.findings[0];
    assert_eq!(res.id, res_id);
    assert_eq!(new_apis(res), ["DescribeInstances", "ListBuckets"]);
    assert_eq!(res.count, 2);
}

#[test]
fn denied_calls_count_as_first_calls() {
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let mallory = iam_user("mallory");
    let recs = [
        account_opens(),
        rec(mallory.clone(), EC2, "DescribeInstances", &at(9, 0, 0))
            .error("Client.UnauthorizedOperation"),
        rec(mallory, IAM, "ListAccessKeys", &at(9, 0, 1)).error("AccessDenied"),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    assert_eq!(types(&c.findings), [ResourcePermissions, UserPermissions]);
    let res = expect_finding(&c.findings, ResourcePermissions, &user_arn("mallory"));
    let call = &api_evidence(res).apis[0];
    assert_eq!(call.api, "DescribeInstances");
    assert_eq!(
        call.last_error.as_deref(),
        Some("Client.UnauthorizedOperation")
    );
    let user = expect_finding(&c.findings, UserPermissions, &user_arn("mallory"));
    assert_eq!(new_apis(user), ["ListAccessKeys"]);
}

#[test]
fn versioned_lambda_api_names_count_as_the_base_api() {
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let dev = iam_user("dev");
    let ops = iam_user("ops");
    let newcomer = iam_user("newcomer");
    let recs = [
        account_opens(),
        // History under both spellings.
        rec(dev.clone(), LAMBDA, "ListFunctions20150331", &at(2, 0, 0)),
        rec(ops.clone(), LAMBDA, "ListFunctions", &at(2, 0, 0)),
        // After the learning period, the other spelling is not new.
        rec(dev, LAMBDA, "ListFunctions", &at(9, 0, 0)),
        rec(ops, LAMBDA, "ListFunctions20150331", &at(9, 0, 0)),
        // A first call by someone else is, under the base name.
        rec(
            newcomer.clone(),
            LAMBDA,
            "ListFunctions20150331",
            &at(9, 0, 0),
        ),
        rec(
            newcomer,
            LAMBDA,
            "GetFunctionConfiguration20150331v2",
            &at(9, 0, 1),
        ),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    assert_eq!(c.findings.len(), 1, "{:?}", brief(&c.findings));
    let f = expect_finding(&c.findings, ResourcePermissions, &user_arn("newcomer"));
    assert_eq!(new_apis(f), ["GetFunctionConfiguration", "ListFunctions"]);
    assert!(api_evidence(f).apis.iter().all(|a| !a.api.contains("2015")));
}

#[test]
fn instance_credentials_raise_high_severity_and_other_sessions_medium() {
    let mut h = Harness::new(0, ThreatIntel::default());
    let recs = [
        rec(
            instance_role("web", "i-0123456789abcdef0"),
            EC2,
            "DescribeSecurityGroups",
            &at(1, 0, 0),
        ),
        rec(
            instance_role_delivered("batch", "worker-session"),
            EC2,
            "DescribeSecurityGroups",
            &at(1, 0, 0),
        ),
        rec(
            instance_role("legacy", "i-0123abcd"),
            EC2,
            "DescribeSecurityGroups",
            &at(1, 0, 0),
        ),
        rec(
            assumed_role("dev", "alice"),
            EC2,
            "DescribeSecurityGroups",
            &at(1, 0, 0),
        ),
        rec(
            assumed_role("misnamed", "i-123"),
            EC2,
            "DescribeSecurityGroups",
            &at(1, 0, 0),
        ),
        rec(
            iam_user("admin"),
            EC2,
            "DescribeSecurityGroups",
            &at(1, 0, 0),
        ),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    let expected = [
        (role_arn("web"), Severity::High),
        (role_arn("batch"), Severity::High),
        (role_arn("legacy"), Severity::High),
        (role_arn("dev"), Severity::Medium),
        (role_arn("misnamed"), Severity::Medium),
        (user_arn("admin"), Severity::Medium),
    ];
    assert_eq!(c.findings.len(), expected.len(), "{:?}", brief(&c.findings));
    for (key, severity) in expected {
        let f = expect_finding(&c.findings, NetworkPermissions, &key);
        assert_eq!(f.severity, severity, "{key}");
        assert_eq!(
            principal(f).instance_credentials,
            severity == Severity::High
        );
        let label = recon_core::asff::render(f)["Severity"]["Label"].clone();
        assert_eq!(label, json!(severity.label()));
    }
}

#[test]
fn aws_service_activity_never_raises_a_finding_even_from_a_listed_address() {
    let mut h = Harness::new(0, tor_intel());
    let user = iam_user("deployer");
    let mut slr_by_arn = assumed_role("AWSServiceRoleForTrustedAdvisor", "TrustedAdvisor");
    slr_by_arn["sessionContext"] = json!({});
    let recs = [
        rec(
            aws_service("cloudtrail.amazonaws.com"),
            S3,
            "GetBucketAcl",
            &at(1, 0, 0),
        ),
        rec(
            service_linked_role("config.amazonaws.com", "AWSServiceRoleForConfig"),
            EC2,
            "DescribeInstances",
            &at(1, 0, 1),
        ),
        rec(slr_by_arn, IAM, "ListUsers", &at(1, 0, 2)),
        rec(
            invoked_by(user, "cloudformation.amazonaws.com"),
            EC2,
            "DescribeSecurityGroups",
            &at(1, 0, 3),
        ),
        rec(untyped_internal(), IAM, "ListRoles", &at(1, 0, 4)),
    ];
    let recs: Vec<Rec> = recs.into_iter().map(|r| r.ip(TOR_IP)).collect();
    let report = h.scan("services.json", envelope(&recs));
    assert_eq!(report.service_activity, 5, "{report:?}");
    assert_eq!(report.evaluated, 0);
    let c = h.commit();
    assert!(c.findings.is_empty(), "{:?}", brief(&c.findings));
    assert!(
        h.store.baselines.is_empty(),
        "service activity does not build baselines either: {:?}",
        h.store.baselines
    );
}

#[test]
fn assumed_role_sessions_with_different_names_share_the_role_baseline() {
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    let recs = [
        account_opens(),
        rec(
            assumed_role("deploy", "alice-session"),
            EC2,
            "DescribeInstances",
            &at(2, 0, 0),
        ),
        rec(
            assumed_role("deploy", "bob-session"),
            EC2,
            "DescribeInstances",
            &at(9, 0, 0),
        ),
        rec(
            assumed_role("deploy", "carol-session"),
            EC2,
            "DescribeVpcs",
            &at(9, 0, 1),
        ),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    assert_eq!(
        types(&c.findings),
        [NetworkPermissions],
        "{:?}",
        brief(&c.findings)
    );
    let f = expect_finding(&c.findings, NetworkPermissions, &role_arn("deploy"));
    assert_eq!(new_apis(f), ["DescribeVpcs"]);
    assert_eq!(
        principal(f).arn.as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/deploy/carol-session"),
        "the session that made the new call is reported"
    );
    assert_eq!(api_evidence(f).principal_first_seen, Some(ts(&at(2, 0, 0))));
}

#[test]
fn role_sessions_without_their_issuer_share_the_role_baseline() {
    // Records whose identity lacks `sessionContext` (an assumed role's session ARN only), and
    // sessions of another account's role (`AWSAccount`, `AROA…:session`): each session is its
    // role, so only the call the role never made is new.
    let bare = |role: &str, session: &str| {
        let mut id = assumed_role(role, session);
        if let Some(o) = id.as_object_mut() {
            o.remove("sessionContext");
        }
        id
    };
    let other =
        |role: &str, session: &str| aws_account(&format!("{role}:{session}"), "444455556666");
    let sessions = [
        (
            bare("deploy", "alice-session"),
            bare("deploy", "bob-session"),
            role_arn("deploy"),
        ),
        (
            other("AROAOTHERROLE0001", "alice"),
            other("AROAOTHERROLE0001", "bob"),
            "AWSAccount:444455556666:AROAOTHERROLE0001".to_owned(),
        ),
    ];
    for (first, second, key) in sessions {
        let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
        let recs = [
            account_opens(),
            rec(first, EC2, "DescribeInstances", &at(2, 0, 0)),
            rec(second.clone(), EC2, "DescribeInstances", &at(9, 0, 0)),
            rec(second, EC2, "DescribeVpcs", &at(9, 0, 1)),
        ];
        h.scan("trail.json", envelope(&recs));
        let c = h.commit();
        assert_eq!(
            types(&c.findings),
            [NetworkPermissions],
            "{:?}",
            brief(&c.findings)
        );
        let f = expect_finding(&c.findings, NetworkPermissions, &key);
        assert_eq!(new_apis(f), ["DescribeVpcs"], "{key}");
        assert_eq!(api_evidence(f).principal_first_seen, Some(ts(&at(2, 0, 0))));
    }
}

#[test]
fn every_identity_shape_raises_distinct_valid_findings() {
    let mut h = Harness::new(0, tor_intel());
    let shapes = [
        (iam_user("alice"), user_arn("alice")),
        (assumed_role("dev", "s1"), role_arn("dev")),
        (instance_role("web", "i-0123456789abcdef0"), role_arn("web")),
        (root(), format!("arn:aws:iam::{ACCOUNT}:root")),
        (federated_user("fed"), user_arn("federation-broker")),
        (
            aws_account("AIDAEXAMPLEOTHER0001", "444455556666"),
            "AWSAccount:444455556666:AIDAEXAMPLEOTHER0001".to_owned(),
        ),
        (
            identity_center_user("u-1234"),
            format!(
                "identity-center:arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067000000:u-1234"
            ),
        ),
        (
            saml_user("carol"),
            "SAMLUser:bdGOnTesti4+7eXAmPleTestE=:carol".to_owned(),
        ),
        (
            web_identity_user("dave"),
            "WebIdentityUser:accounts.google.com:dave".to_owned(),
        ),
        (
            untyped("AIDAUNTYPED000000001"),
            format!("Unknown:{ACCOUNT}:AIDAUNTYPED000000001"),
        ),
    ];
    let recs: Vec<Rec> = shapes
        .iter()
        .map(|(id, _)| rec(id.clone(), EC2, "DescribeInstances", &at(1, 0, 0)).ip(TOR_IP))
        .collect();
    let report = h.scan("identities.json", envelope(&recs));
    assert_eq!(report.evaluated, shapes.len() as u64, "{report:?}");
    let c = h.commit();
    assert_eq!(
        c.findings.len(),
        2 * shapes.len(),
        "{:?}",
        brief(&c.findings)
    );
    for (_, key) in &shapes {
        expect_finding(&c.findings, ResourcePermissions, key);
        let tor = expect_finding(&c.findings, TorIpCaller, key);
        assert_eq!(tor.account_id, ACCOUNT);
    }
}

// ---------------------------------------------------------------------------------------------
// Order independence and commits

/// A mixed trail over ten days: baselines, Tor calls, new APIs after the learning period, an
/// instance role, a newcomer.
fn mixed_trail() -> Vec<Rec> {
    let admin = iam_user("admin");
    let ci = |s: &str| assumed_role("ci", s);
    let web = instance_role("web", "i-0123456789abcdef0");
    let eve = iam_user("eve");
    vec![
        account_opens(),
        rec(admin.clone(), IAM, "ListUsers", &at(2, 9, 0)),
        rec(ci("run-1"), S3, "ListBuckets", &at(2, 9, 30)),
        rec(web.clone(), EC2, "DescribeTags", &at(3, 9, 0)),
        rec(admin.clone(), EC2, "DescribeInstances", &at(4, 9, 0)).ip(TOR_IP),
        rec(ci("run-2"), S3, "ListBuckets", &at(5, 9, 30)),
        rec(admin.clone(), S3, "ListBuckets", &at(6, 9, 0)).ip(TOR_IP),
        rec(admin.clone(), EC2, "DescribeVpcs", &at(8, 9, 0)),
        rec(admin.clone(), IAM, "ListUsers", &at(9, 9, 0)).ip(TOR_IP),
        rec(admin.clone(), IAM, "ListRoles", &at(9, 9, 1)),
        rec(ci("run-3"), EC2, "DescribeImages", &at(9, 9, 30)),
        rec(web.clone(), EC2, "DescribeSecurityGroups", &at(9, 10, 0)),
        rec(web, EC2, "DescribeTags", &at(9, 10, 1)),
        rec(eve.clone(), STS, "GetCallerIdentity", &at(10, 1, 0)).ip(TOR_IP),
        rec(eve.clone(), EC2, "DescribeInstances", &at(10, 1, 1)).error("AccessDenied"),
        rec(eve, EC2, "DescribeRouteTables", &at(10, 1, 2)).ip(TOR_IP),
        rec(admin, EC2, "DescribeVpcs", &at(10, 9, 0)),
    ]
}

fn scan_all(objects: &[(&str, Vec<Rec>)]) -> Harness {
    let mut h = Harness::new(WEEK_MS, tor_intel());
    for (name, recs) in objects {
        let report = h.scan(name, envelope(recs));
        assert!(report.issues.is_empty(), "{report:?}");
    }
    h.commit();
    h
}

#[test]
fn findings_do_not_depend_on_object_or_record_order() {
    let all = mixed_trail();
    let a: Vec<Rec> = all.iter().step_by(2).cloned().collect();
    let b: Vec<Rec> = all.iter().skip(1).step_by(2).cloned().collect();
    let mut reversed = all.clone();
    reversed.reverse();
    let ab = scan_all(&[("a.json", a.clone()), ("b.json", b.clone())]);
    let ba = scan_all(&[("b.json", b), ("a.json", a)]);
    let one = scan_all(&[("all-reversed.json", reversed)]);
    let expected = fingerprint(&ab.stored());
    assert_eq!(fingerprint(&ba.stored()), expected);
    assert_eq!(fingerprint(&one.stored()), expected);
    // The scenario must actually exercise the detectors.
    let found = ab.stored();
    assert_eq!(
        types(&found),
        [
            TorIpCaller,
            NetworkPermissions,
            ResourcePermissions,
            UserPermissions
        ]
    );
    let tor = expect_finding(&found, TorIpCaller, &user_arn("admin"));
    assert_eq!(tor.count, 3);
    let web = expect_finding(&found, NetworkPermissions, &role_arn("web"));
    assert_eq!(web.severity, Severity::High);
    let admin_user = expect_finding(&found, UserPermissions, &user_arn("admin"));
    assert_eq!(new_apis(admin_user), ["ListRoles"]);
    assert!(find(&found, ResourcePermissions, &role_arn("ci")).is_some());
}

#[test]
fn a_second_commit_continues_the_baselines_of_the_first() {
    let all = mixed_trail();
    let learning_end = ts(&at(8, 0, 0));
    let (before, after): (Vec<Rec>, Vec<Rec>) = all
        .iter()
        .cloned()
        .partition(|r| ts(r.0["eventTime"].as_str().unwrap_or_default()) < learning_end);
    assert!(!before.is_empty() && !after.is_empty());
    let mut h = Harness::new(WEEK_MS, tor_intel());
    h.scan("week1.json", envelope(&before));
    let first = h.commit();
    assert_eq!(types(&first.findings), [TorIpCaller]);
    assert_eq!(first.findings[0].count, 2);
    assert!(h.is_processed("week1.json"));
    assert!(!h.is_processed("week2.json"));

    h.scan("week2.json", envelope(&after));
    let second = h.commit();
    assert!(
        h.is_processed("week1.json"),
        "still processed after a later commit"
    );
    assert!(h.is_processed("week2.json"));
    // Only what the second object changed comes back: the updated Tor finding and the new ones.
    let tor = expect_finding(&second.findings, TorIpCaller, &user_arn("admin"));
    assert_eq!(tor.id, first.findings[0].id);
    assert_eq!(tor.count, 3);
    assert_eq!(tor.first_seen, ts(&at(4, 9, 0)));
    assert!(find(&second.findings, ResourcePermissions, &user_arn("admin")).is_none());
    // One commit of everything ends in the same state.
    let together = scan_all(&[("week1.json", before), ("week2.json", after)]);
    assert_eq!(fingerprint(&h.stored()), fingerprint(&together.stored()));
}

// ---------------------------------------------------------------------------------------------
// Aggregation

#[test]
fn older_logs_after_newer_ones_are_reported_as_a_backfill() {
    // A second run that brings the account's earlier days moves its learning period back; the
    // calls the first run took as learning are not looked at again, so the run says so.
    let newer = || envelope(&[rec(iam_user("bob"), EC2, "DescribeInstances", &at(9, 0, 0))]);
    let older = || envelope(&[rec(iam_user("ann"), S3, "ListBuckets", &at(2, 0, 0))]);
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    h.scan("newer.json", newer());
    assert!(h.commit().backfills.is_empty());
    h.scan("older.json", older());
    let c = h.commit();
    let [b] = c.backfills.as_slice() else {
        panic!("{:?}", c.backfills)
    };
    assert_eq!(b.account_id, ACCOUNT);
    assert_eq!(
        (b.first_in_batch, b.first_stored),
        (ts(&at(2, 0, 0)), ts(&at(9, 0, 0)))
    );
    // In time order, nothing to report.
    let mut h = Harness::new(WEEK_MS, ThreatIntel::default());
    h.scan("older.json", older());
    h.commit();
    h.scan("newer.json", newer());
    assert!(h.commit().backfills.is_empty());
}

#[test]
fn a_finding_keeps_its_region_when_activity_comes_from_another() {
    // Security Hub keeps a finding in the Region of its ProductArn: moving it on update would
    // create a second finding there (CreatedAt before UpdatedAt) and leave the first stale.
    let mut h = Harness::new(WEEK_MS, tor_intel());
    let alice = iam_user("alice");
    let describe = |day, region| {
        rec(alice.clone(), EC2, "DescribeInstances", &at(day, 0, 0))
            .ip(TOR_IP)
            .region(region)
    };
    // Within one run the earliest activity places it, whatever order the records come in.
    h.scan(
        "1.json",
        envelope(&[describe(3, "eu-west-1"), describe(2, "us-west-2")]),
    );
    let f1 = h.commit_at(ts(NOW)).findings[0].clone();
    assert_eq!(f1.region, "us-west-2");
    h.scan("2.json", envelope(&[describe(4, "us-east-1")]));
    let f2 = h.commit_at(ts(NOW)).findings[0].clone();
    assert_eq!((f2.id.as_str(), f2.count), (f1.id.as_str(), 3));
    assert_eq!(f2.region, "us-west-2");
    let v = recon_core::asff::render(&f2);
    assert_eq!(
        v["ProductArn"],
        "arn:aws:securityhub:us-west-2:111122223333:product/111122223333/default"
    );
    assert_valid_asff(&[f2]);
}

#[test]
fn findings_in_china_and_govcloud_regions_carry_their_partition() {
    for (region, partition) in [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")] {
        let mut h = Harness::new(WEEK_MS, tor_intel());
        let call = rec(iam_user("alice"), EC2, "DescribeInstances", &at(2, 0, 0)).ip(TOR_IP);
        h.scan("1.json", envelope(&[call.region(region)]));
        let f = h.commit_at(ts(NOW)).findings[0].clone();
        assert_eq!(f.partition, partition);
        let v = recon_core::asff::render(&f);
        let arn = v["ProductArn"].as_str().unwrap_or_default();
        assert!(
            arn.starts_with(&format!("arn:{partition}:securityhub:{region}:")),
            "{arn}"
        );
        assert_eq!(v["Resources"][0]["Partition"], partition);
        assert_valid_asff(&[f]);
    }
}

#[test]
fn repeated_activity_updates_one_finding_and_updated_at_strictly_increases() {
    let mut h = Harness::new(WEEK_MS, tor_intel());
    let alice = iam_user("alice");
    let now = ts(NOW);
    h.scan(
        "1.json",
        envelope(&[rec(alice.clone(), EC2, "DescribeInstances", &at(2, 0, 0)).ip(TOR_IP)]),
    );
    let c1 = h.commit_at(now);
    assert_eq!(c1.created, 1);
    let f1 = c1.findings[0].clone();
    assert_eq!(f1.created_at, now);
    assert_eq!(
        f1.updated_at, f1.created_at,
        "CreatedAt == UpdatedAt on creation"
    );
    assert_eq!(f1.count, 1);

    h.scan(
        "2.json",
        envelope(&[
            rec(alice.clone(), EC2, "DescribeInstances", &at(3, 0, 0)).ip(TOR_IP),
            rec(alice.clone(), S3, "ListBuckets", &at(3, 0, 1)).ip(TOR_IP),
        ]),
    );
    let c2 = h.commit_at(now);
    assert_eq!(c2.created, 0);
    let f2 = c2.findings[0].clone();
    assert_eq!(f2.id, f1.id);
    assert_eq!(f2.count, 3);
    assert_eq!(f2.first_seen, f1.first_seen);
    assert_eq!(f2.last_seen, ts(&at(3, 0, 1)));
    assert_eq!(f2.created_at, now);
    assert!(
        f2.updated_at > f1.updated_at,
        "the clock did not move, UpdatedAt still must"
    );

    // Older activity arriving late: the count grows, first_seen moves back, last_seen stays.
    h.scan(
        "3.json",
        envelope(&[rec(alice, EC2, "DescribeInstances", &at(1, 0, 0)).ip(TOR_IP)]),
    );
    let c3 = h.commit_at(Timestamp(now.0 - DAY_MS));
    let f3 = c3.findings[0].clone();
    assert_eq!(f3.id, f1.id);
    assert_eq!(f3.count, 4);
    assert_eq!(f3.first_seen, ts(&at(1, 0, 0)));
    assert_eq!(f3.last_seen, f2.last_seen);
    assert!(
        f3.updated_at > f2.updated_at,
        "even when the clock goes back"
    );
    assert_eq!(h.store.findings.len(), 1);
    let asff = recon_core::asff::render(&f3);
    assert_eq!(asff["CreatedAt"], json!(now.to_rfc3339()));
    assert_ne!(asff["UpdatedAt"], asff["CreatedAt"]);
}

// ---------------------------------------------------------------------------------------------
// Suppression

const RULES: &str = r#"
[[rule]]
name = "scanner"
finding_type = "Recon:IAMUser/ResourcePermissions"
principal = "arn:aws:iam::*:role/scanner-*"

[[rule]]
name = "office egress"
finding_type = "Recon:IAMUser/TorIPCaller"
cidr = "198.51.100.0/28"
"#;

#[test]
fn suppression_rules_drop_matching_candidates_and_report_them() {
    let rules = Suppressions::parse("rules.toml", RULES).expect("valid rules");
    let lists = intel(&[(ListKind::Tor, "tor", &["198.51.100.5", TOR_IP])]);
    let mut h = Harness::with(config(0), lists, rules);
    let scanner = assumed_role("scanner-prowler", "run");
    let recs = [
        rec(scanner.clone(), EC2, "DescribeInstances", &at(1, 0, 0)),
        rec(scanner, EC2, "DescribeVpcs", &at(1, 0, 1)),
        rec(iam_user("alice"), EC2, "DescribeRegions", &at(1, 0, 2)).ip("198.51.100.5"),
        rec(iam_user("bob"), EC2, "DescribeRegions", &at(1, 0, 3)).ip(TOR_IP),
    ];
    h.scan("trail.json", envelope(&recs));
    let c = h.commit();
    let mut suppressed = c.suppressed.clone();
    suppressed.sort();
    assert_eq!(
        suppressed,
        [
            (TorIpCaller, "office egress".to_owned()),
            (ResourcePermissions, "scanner".to_owned()),
        ]
    );
    assert_eq!(
        brief(&c.findings).into_iter().collect::<Vec<_>>(),
        [
            (TorIpCaller, user_arn("bob")),
            (NetworkPermissions, role_arn("scanner-prowler")),
        ]
    );
    assert_eq!(
        h.store.findings.len(),
        2,
        "suppressed findings are not stored"
    );
}
