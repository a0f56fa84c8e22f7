#!/usr/bin/env python3
"""Writes the bundled sample data: ten days of CloudTrail for account 111122223333, with an
attack on day 9, plus the threat lists and a suppression file to scan it with.

Standard library only and deterministic: running it again rewrites byte-identical files.

    python3 samples/generate.py

The story (all addresses are documentation addresses):
- Days 1-10: `admin` works from the office (192.0.2.10) and looks around daily (instances,
  security groups, buckets, users); the `ci-deploy` role deploys twice a day from the CI runner
  (192.0.2.40); the `build-bot` user pushes images and artifacts (192.0.2.41) and never lists
  anything; the web server's instance role (`web-app-role`, session `i-0abc1234def567890`) reads
  its config and tags. AWS services (CloudTrail, Config) add their own calls.
- Day 9, 02:14: build-bot's stolen access key is used from a Tor exit (198.51.100.23) to map the
  account: GetCallerIdentity, ListUsers, ListRoles, ListAttachedUserPolicies, ListBuckets,
  DescribeInstances (denied first), DescribeSecurityGroups, DescribeRouteTables.
- Day 9, 14:03: the instance role's credentials, taken off the web server, are used from
  203.0.113.50 (on the custom threat list) to call DescribeSecurityGroups for the first time.
- Day 10, 07:48: admin's session is used from 198.51.100.66, an anonymising proxy on the
  managed threat list, for DescribeInstances: a call admin makes every day, so it is not new,
  but the address is listed.

With the default 7-day learning period, `recon scan` reports TorIPCaller, UserPermissions,
ResourcePermissions and NetworkPermissions for build-bot, MaliciousIPCaller.Custom and a High
NetworkPermissions for the instance role, MaliciousIPCaller for admin (with the managed list
given), and nothing for the daily routine.
"""

import gzip
import hashlib
import json
import shutil
from pathlib import Path

ACCOUNT = "111122223333"
REGION = "us-east-1"
TRAIL_BUCKET = "example-org-cloudtrail"
HERE = Path(__file__).resolve().parent
TRAIL_ROOT = HERE / "cloudtrail"

OFFICE_IP = "192.0.2.10"
CI_IP = "192.0.2.40"
BUILD_IP = "192.0.2.41"
WEB_SERVER_IP = "192.0.2.120"
TOR_EXIT_IP = "198.51.100.23"
BAD_HOST_IP = "203.0.113.50"
PROXY_IP = "198.51.100.66"  # inside 198.51.100.64/28 on the managed list

CLI_AGENT = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1014-aws exe/x86_64.ubuntu.22 prompt/off"
CI_AGENT = "aws-sdk-js/3.540.0 ua/2.0 os/linux#6.5.0 lang/js md/nodejs#20.11.1 api/cloudformation"
BOT_AGENT = "aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64"
INSTANCE_AGENT = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213 lang/python#3.9.16"
ATTACKER_AGENT = "aws-cli/1.16.312 Python/2.7.18 Linux/5.4.0-1018-aws botocore/1.13.48"

_counter = 0


def digest(*parts):
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def uuid_like(*parts):
    h = digest(*parts)
    return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def stamp(day, h, m, s=0):
    return f"2026-11-{day:02d}T{h:02d}:{m:02d}:{s:02d}Z"


# userIdentity shapes ---------------------------------------------------------------------------


def iam_user(name, key_suffix):
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + digest("principal", name)[:16].upper(),
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIA" + key_suffix,
        "userName": name,
    }


def role_session(role, session, created, ec2=False):
    role_id = "AROA" + digest("role", role)[:16].upper()
    identity = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIA" + digest("session", role, session)[:16].upper(),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
        },
    }
    if ec2:
        identity["sessionContext"]["ec2RoleDelivery"] = "2.0"
    return identity


def service_linked(role, session, service, created):
    identity = role_session(role, session, created)
    issuer = identity["sessionContext"]["sessionIssuer"]
    issuer["arn"] = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{service}/{role}"
    identity["invokedBy"] = service
    return identity


ADMIN = iam_user("admin", "3KQZ7YJ5XPN2HD4E")
BUILD_BOT = iam_user("build-bot", "6TWM2RC8VLE5QB7N")
WEB_ROLE = "web-app-role"
WEB_INSTANCE = "i-0abc1234def567890"


def web_session(day):
    return role_session(WEB_ROLE, WEB_INSTANCE, stamp(day, 0, 0), ec2=True)


# Records ---------------------------------------------------------------------------------------


def record(identity, source, name, time, ip, agent, params=None, error=None, read_only=True,
           data_event=False):
    global _counter
    _counter += 1
    rec = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": agent,
    }
    if error:
        rec["errorCode"] = error
        rec["errorMessage"] = "You are not authorized to perform this operation."
    rec["requestParameters"] = params
    rec["responseElements"] = None
    rec["requestID"] = uuid_like("request", _counter)
    rec["eventID"] = uuid_like("event", _counter)
    rec["readOnly"] = read_only
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = not data_event
    rec["recipientAccountId"] = ACCOUNT
    rec["eventCategory"] = "Data" if data_event else "Management"
    if ip[0].isdigit():
        rec["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{REGION}.amazonaws.com",
        }
    return rec


def admin_day(day):
    """The admin's daily look around: the same calls every day, so never new after day 7."""
    calls = [
        ("sts.amazonaws.com", "GetCallerIdentity", None),
        ("ec2.amazonaws.com", "DescribeInstances", {"maxResults": 1000}),
        ("ec2.amazonaws.com", "DescribeSecurityGroups", None),
        ("ec2.amazonaws.com", "DescribeVpcs", None),
        ("ec2.amazonaws.com", "DescribeSubnets", None),
        ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.amazonaws.com"}),
        ("s3.amazonaws.com", "GetBucketPolicy", {"bucketName": "example-org-artifacts"}),
        ("iam.amazonaws.com", "ListUsers", None),
        ("iam.amazonaws.com", "ListRoles", None),
        ("iam.amazonaws.com", "ListAttachedUserPolicies", {"userName": "build-bot"}),
        ("cloudtrail.amazonaws.com", "DescribeTrails", {"includeShadowTrails": True}),
    ]
    out = []
    for i, (source, name, params) in enumerate(calls):
        out.append(record(ADMIN, source, name, stamp(day, 9, 2 + i * 3, 17), OFFICE_IP,
                          CLI_AGENT, params))
    writes = {
        2: ("ec2.amazonaws.com", "RunInstances", {"instanceType": "t3.small"}),
        3: ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", {"groupId": "sg-0a1b2c3d"}),
        5: ("s3.amazonaws.com", "PutBucketPolicy", {"bucketName": "example-org-artifacts"}),
        8: ("iam.amazonaws.com", "AttachUserPolicy", {"userName": "build-bot"}),
    }
    if day in writes:
        source, name, params = writes[day]
        out.append(record(ADMIN, source, name, stamp(day, 10, 15), OFFICE_IP, CLI_AGENT,
                          params, read_only=False))
    return out


def ci_run(day, hour, run):
    session = f"gha-{run}"
    who = role_session("ci-deploy", session, stamp(day, hour, 0))
    calls = [
        ("sts.amazonaws.com", "GetCallerIdentity", None, True),
        ("cloudformation.amazonaws.com", "DescribeStacks", {"stackName": "web-app"}, True),
        ("lambda.amazonaws.com", "ListFunctions20150331", None, True),
        ("lambda.amazonaws.com", "GetFunction20150331v2", {"functionName": "web-app-api"}, True),
        ("ec2.amazonaws.com", "DescribeImages", {"ownersSet": {"items": [{"owner": "self"}]}},
         True),
        ("ecr.amazonaws.com", "GetAuthorizationToken", None, True),
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", {"functionName": "web-app-api"},
         False),
        ("cloudformation.amazonaws.com", "UpdateStack", {"stackName": "web-app"}, False),
        ("cloudformation.amazonaws.com", "DescribeStackEvents", {"stackName": "web-app"}, True),
    ]
    return [
        record(who, source, name, stamp(day, hour, 1 + i, 5), CI_IP, CI_AGENT, params,
               read_only=ro)
        for i, (source, name, params, ro) in enumerate(calls)
    ]


def build_bot_day(day):
    calls = [
        ("ecr.amazonaws.com", "GetAuthorizationToken", None, True, False),
        ("ecr.amazonaws.com", "BatchCheckLayerAvailability", {"repositoryName": "web-app"}, True,
         False),
        ("ecr.amazonaws.com", "PutImage", {"repositoryName": "web-app", "imageTag": f"b{day}"},
         False, False),
        ("s3.amazonaws.com", "PutObject",
         {"bucketName": "example-org-artifacts", "key": f"builds/{day}/web-app.zip"}, False,
         True),
    ]
    return [
        record(BUILD_BOT, source, name, stamp(day, 11, 30 + i, 41), BUILD_IP, BOT_AGENT, params,
               read_only=ro, data_event=data)
        for i, (source, name, params, ro, data) in enumerate(calls)
    ]


def web_day(day):
    who = web_session(day)
    out = [
        record(who, "s3.amazonaws.com", "GetObject",
               stamp(day, 0, 5), WEB_SERVER_IP, INSTANCE_AGENT,
               {"bucketName": "example-org-config", "key": "web-app/settings.json"},
               data_event=True),
        record(who, "ssm.amazonaws.com", "GetParameter", stamp(day, 0, 5, 30), WEB_SERVER_IP,
               INSTANCE_AGENT, {"name": "/web-app/db-password", "withDecryption": True}),
        record(who, "kms.amazonaws.com", "Decrypt", stamp(day, 0, 5, 31), WEB_SERVER_IP,
               INSTANCE_AGENT, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        record(who, "ec2.amazonaws.com", "DescribeTags", stamp(day, 6, 0), WEB_SERVER_IP,
               INSTANCE_AGENT,
               {"filterSet": {"items": [{"name": "resource-id",
                                         "valueSet": {"items": [{"value": WEB_INSTANCE}]}}]}}),
    ]
    return out


def service_noise(day):
    cloudtrail = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}
    config_role = service_linked("AWSServiceRoleForConfig", "AWSConfig-Describe",
                                 "config.amazonaws.com", stamp(day, 3, 0))
    internal = {"accountId": ACCOUNT, "invokedBy": "AWS Internal"}
    out = []
    for h in (1, 7, 13, 19):
        out.append(record(cloudtrail, "s3.amazonaws.com", "GetBucketAcl", stamp(day, h, 44),
                          "cloudtrail.amazonaws.com", "cloudtrail.amazonaws.com",
                          {"bucketName": TRAIL_BUCKET, "acl": ""}))
    for i, (source, name) in enumerate([
        ("ec2.amazonaws.com", "DescribeInstances"),
        ("ec2.amazonaws.com", "DescribeSecurityGroups"),
        ("iam.amazonaws.com", "ListRoles"),
        ("s3.amazonaws.com", "GetBucketPolicy"),
    ]):
        out.append(record(config_role, source, name, stamp(day, 3, 10 + i),
                          "config.amazonaws.com", "config.amazonaws.com"))
    out.append(record(internal, "sts.amazonaws.com", "AssumeRole", stamp(day, 0, 0, 50),
                      "AWS Internal", "AWS Internal", {"roleSessionName": WEB_INSTANCE}))
    return out


def attack():
    """Day 9: the stolen build-bot key from a Tor exit, then the stolen instance credentials."""
    tor = [
        ("sts.amazonaws.com", "GetCallerIdentity", (2, 14, 5), None, None),
        ("iam.amazonaws.com", "ListUsers", (2, 14, 40), None, None),
        ("iam.amazonaws.com", "ListRoles", (2, 15, 2), None, None),
        ("iam.amazonaws.com", "ListAttachedUserPolicies", (2, 15, 30), {"userName": "build-bot"},
         None),
        ("s3.amazonaws.com", "ListBuckets", (2, 16, 11), {"Host": "s3.amazonaws.com"}, None),
        ("ec2.amazonaws.com", "DescribeInstances", (2, 16, 50), {"maxResults": 1000},
         "Client.UnauthorizedOperation"),
        ("ec2.amazonaws.com", "DescribeInstances", (2, 17, 12), None, None),
        ("ec2.amazonaws.com", "DescribeSecurityGroups", (2, 17, 30), None, None),
        ("ec2.amazonaws.com", "DescribeRouteTables", (2, 17, 58), None, None),
    ]
    out = [
        record(BUILD_BOT, source, name, stamp(9, *hms), TOR_EXIT_IP, ATTACKER_AGENT, params,
               error=error)
        for source, name, hms, params, error in tor
    ]
    stolen = web_session(9)
    out.append(record(stolen, "ec2.amazonaws.com", "DescribeTags", stamp(9, 14, 2, 40),
                      BAD_HOST_IP, ATTACKER_AGENT))
    out.append(record(stolen, "ec2.amazonaws.com", "DescribeSecurityGroups", stamp(9, 14, 3, 9),
                      BAD_HOST_IP, ATTACKER_AGENT))
    return out


def proxy_visit():
    """Day 10: admin's everyday DescribeInstances, but from an address on the managed list."""
    return [record(ADMIN, "ec2.amazonaws.com", "DescribeInstances", stamp(10, 7, 48, 31),
                   PROXY_IP, ATTACKER_AGENT, {"maxResults": 1000})]


# Files -----------------------------------------------------------------------------------------


def write_gz(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(obj, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def delivery_slot(time):
    """CloudTrail delivers a file every few minutes; the samples use four files a day."""
    hour = int(time[11:13])
    return [5, 11, 17, 23][min(hour // 6, 3)]


def write_trail():
    events = []
    for day in range(1, 11):
        events += web_day(day) + service_noise(day) + admin_day(day) + build_bot_day(day)
        events += ci_run(day, 10, 4000 + day * 2) + ci_run(day, 16, 4001 + day * 2)
    events += attack() + proxy_visit()
    files = {}
    for e in events:
        day = int(e["eventTime"][8:10])
        files.setdefault((day, delivery_slot(e["eventTime"])), []).append(e)
    written = []
    for (day, slot), recs in sorted(files.items()):
        recs.sort(key=lambda r: r["eventTime"])
        when = f"202611{day:02d}T{slot:02d}05Z"
        unique = digest("file", day, slot)[:16]
        name = f"{ACCOUNT}_CloudTrail_{REGION}_{when}_{unique}.json.gz"
        path = TRAIL_ROOT / f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/{day:02d}" / name
        write_gz(path, {"Records": recs})
        written.append((day, path, recs))
    for day in range(1, 11):
        write_digest(day, [(p, r) for d, p, r in written if d == day])


def write_digest(day, files):
    """The hourly digest CloudTrail writes when log file validation is on (one a day here)."""
    end = f"2026-11-{day:02d}T23:59:59Z"
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/11/{day:02d}"
    name = f"{ACCOUNT}_CloudTrail-Digest_{REGION}_management-events_{REGION}_" \
           f"202611{day:02d}T235959Z.json.gz"
    previous = None if day == 1 else (
        f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/11/{day - 1:02d}/{ACCOUNT}_"
        f"CloudTrail-Digest_{REGION}_management-events_{REGION}_202611{day - 1:02d}T235959Z.json.gz")
    digest_obj = {
        "awsAccountId": ACCOUNT,
        "digestStartTime": f"2026-11-{day:02d}T00:00:00Z",
        "digestEndTime": end,
        "digestS3Bucket": TRAIL_BUCKET,
        "digestS3Object": f"{prefix}/{name}",
        "digestPublicKeyFingerprint": digest("key")[:32],
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": max(r[-1]["eventTime"] for _, r in files),
        "oldestEventTime": min(r[0]["eventTime"] for _, r in files),
        "previousDigestS3Bucket": TRAIL_BUCKET if previous else None,
        "previousDigestS3Object": previous,
        "previousDigestHashValue": digest("digest", day - 1) if previous else None,
        "previousDigestHashAlgorithm": "SHA-256" if previous else None,
        "previousDigestSignature": digest("signature", day - 1) if previous else None,
        "logFiles": [
            {
                "s3Bucket": TRAIL_BUCKET,
                "s3Object": str(path.relative_to(TRAIL_ROOT)),
                "hashValue": hashlib.sha256(path.read_bytes()).hexdigest(),
                "hashAlgorithm": "SHA-256",
                "newestEventTime": recs[-1]["eventTime"],
                "oldestEventTime": recs[0]["eventTime"],
            }
            for path, recs in files
        ],
    }
    write_gz(TRAIL_ROOT / prefix / name, digest_obj)


LISTS = {
    # The Tor Project's bulk exit list format: one address per line, nothing else.
    "tor-exits.txt": "\n".join([
        "192.0.2.201",
        "198.51.100.7",
        TOR_EXIT_IP,
        "198.51.100.87",
        "203.0.113.199",
        "2001:db8:7f::1b",
    ]) + "\n",
    # GuardDuty's TXT format: one address or CIDR per line, comments allowed.
    "custom-threats.txt": "\n".join([
        "# Custom threat list (GuardDuty TXT format): hosts seen in incident IR-2026-117.",
        "# One IP address or CIDR range per line.",
        BAD_HOST_IP,
        "198.51.100.128/25",
        "2001:db8:bad::/48",
    ]) + "\n",
    # FireHOL's netset format, as a managed list (`--threat-list`) would come.
    "managed-threats.netset": "\n".join([
        "#",
        "# managed-threats: anonymising proxies and known scanners (sample, FireHOL netset format)",
        "#",
        "198.51.100.64/28",
        "203.0.113.240/29",
    ]) + "\n",
    "trusted.txt": "\n".join([
        "# Trusted addresses: the office and CI egress range. A trusted address never raises",
        "# a threat-list finding, whatever list it is also on.",
        "192.0.2.0/26",
    ]) + "\n",
}

SUPPRESSIONS = """\
# Suppression rules for `recon scan --suppressions samples/suppressions.toml`.
# A finding matching every condition of a rule is not reported (it is counted as suppressed).
# Conditions: finding_type, account, principal (`*` wildcard), cidr, instance, interface, port.

# The security team's scanner role lists every resource on purpose. There is no such role in
# the samples, so this rule suppresses nothing there.
[[rule]]
name = "security audit scanner"
finding_type = "Recon:IAMUser/ResourcePermissions"
principal = "arn:aws:iam::*:role/security-audit-*"
"""


# VPC Flow Logs ----------------------------------------------------------------------------------

FLOW_ROOT = HERE / "flowlogs"
FLOW_HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
               "bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type "
               "pkt-srcaddr pkt-dstaddr region flow-direction")
WEB_ENI = "eni-0a1b2c3d4e5f60718"
WEB_PRIVATE_IP = "10.0.1.15"
INTERNAL_DB_IP = "10.0.2.30"
SCANNER_IP = "198.51.100.140"  # inside 198.51.100.128/25 on the custom list
CLIENT_IPS = ["192.0.2.77", "192.0.2.78", "192.0.2.90"]


def epoch(day, h, m, s=0):
    """Unix seconds of 2026-11-<day> h:m:s UTC."""
    return 1793491200 + (day - 1) * 86400 + h * 3600 + m * 60 + s


def flow(src, dst, sport, dport, start, action="ACCEPT", flags=2, direction="ingress", packets=3):
    end = start + 20
    return (f"5 {ACCOUNT} {WEB_ENI} {src} {dst} {sport} {dport} 6 {packets} {packets * 60} {start} "
            f"{end} {action} OK vpc-0sample01 subnet-0sample01 {WEB_INSTANCE} {flags} IPv4 {src} "
            f"{dst} {REGION} {direction}")


def web_flows(day):
    """A web server at work: clients open HTTPS connections; the server answers one busy client
    from port 443 to many ephemeral ports (a reply, not a scan)."""
    lines = []
    for i in range(40):
        client = CLIENT_IPS[i % len(CLIENT_IPS)]
        start = epoch(day, 13, 0, i * 5)
        lines.append(flow(client, WEB_PRIVATE_IP, 40000 + i, 443, start))
        lines.append(flow(WEB_PRIVATE_IP, client, 443, 40000 + i, start, flags=19, direction="egress"))
    return lines


def probes(day):
    """A listed scanner reaches SSH and Elasticsearch (accepted) and RDP (rejected)."""
    return [
        flow(SCANNER_IP, WEB_PRIVATE_IP, 51515, 22, epoch(day, 13, 2), packets=1),
        flow(SCANNER_IP, WEB_PRIVATE_IP, 51516, 9200, epoch(day, 13, 2, 30), packets=1),
        flow(SCANNER_IP, WEB_PRIVATE_IP, 51517, 3389, epoch(day, 13, 3), action="REJECT", packets=1),
    ]


def internal_scan(day):
    """The compromised web instance sweeps 24 ports of an internal database host in a minute."""
    lines = []
    for i, port in enumerate(range(20, 44)):
        action = "REJECT" if port % 3 == 0 else "ACCEPT"
        lines.append(flow(WEB_PRIVATE_IP, INTERNAL_DB_IP, 45000 + i, port, epoch(day, 13, 10, i * 2),
                          action=action, flags=2, direction="egress", packets=1))
    return lines


def write_flows():
    day = 9
    lines = [FLOW_HEADER] + web_flows(day) + probes(day) + internal_scan(day)
    lines.append(f"5 {ACCOUNT} {WEB_ENI} - - - - - - - {epoch(day, 13, 14)} {epoch(day, 13, 15)} - "
                 f"NODATA vpc-0sample01 subnet-0sample01 {WEB_INSTANCE} - - - - {REGION} -")
    folder = FLOW_ROOT / "AWSLogs" / ACCOUNT / "vpcflowlogs" / REGION / "2026" / "11" / f"{day:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{ACCOUNT}_vpcflowlogs_{REGION}_fl-0sample0001_202611{day:02d}T1315Z_{digest('flow', day)[:8]}.log.gz"
    data = ("\n".join(lines) + "\n").encode()
    (folder / name).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def main():
    if TRAIL_ROOT.exists():
        shutil.rmtree(TRAIL_ROOT)
    if FLOW_ROOT.exists():
        shutil.rmtree(FLOW_ROOT)
    write_trail()
    write_flows()
    lists = HERE / "lists"
    lists.mkdir(exist_ok=True)
    for name, text in LISTS.items():
        (lists / name).write_text(text)
    (HERE / "suppressions.toml").write_text(SUPPRESSIONS)


if __name__ == "__main__":
    main()
