//! The AWS Security Finding Format (ASFF): rendering [`Finding`](crate::finding::Finding)s for
//! Security Hub's `BatchImportFindings`, checking rendered findings against the service's rules,
//! and packing them into batches the API accepts.
//!
//! Guarantees:
//! - [`render`] emits one complete finding for a custom (own-account) integration: every required
//!   attribute, Severity and Types both top-level and under `FindingProviderFields`, one resource,
//!   and the Action/Network/ThreatIntelIndicators the finding type calls for. Every length and
//!   count limit is enforced by truncation (never splitting a character; cut text ends in `…`);
//!   absent values are omitted, so no `null` and no blank string is ever emitted; ProductFields
//!   keys all live under `recon/` (the `aws/` namespace is reserved for AWS). A rendered finding
//!   stays well under [`MAX_FINDING_BYTES`] whatever the input sizes. Identifiers taken verbatim
//!   from the finding (account id, Region, partition, finding id) are not rewritten: [`validate`]
//!   reports them if they are malformed.
//! - [`validate`] checks one rendered finding against Security Hub's documented rules and
//!   [`validate_batch`] a whole `BatchImportFindings` request; both return every violation found,
//!   each naming the offending attribute path.
//! - [`batches`] (and [`plan_batches`]) split findings into requests of at most
//!   [`MAX_FINDINGS_PER_BATCH`] findings and [`MAX_BATCH_BYTES`] bytes, shrinking a finding over
//!   [`MAX_FINDING_BYTES`] the way Security Hub would (dropping `Resources[].Details`) and then
//!   trimming its evidence ProductFields.
//!
//! Lengths are counted in UTF-16 code units, which is never less than the character count, so a
//! string accepted here is accepted however the service counts characters.

mod batch;
mod describe;
mod ec2;
mod principal;
mod render;
mod text;
mod validate;

#[cfg(test)]
mod fixtures;

use serde_json::Value;

use crate::finding::FindingType;

pub use batch::{batches, plan_batches, request_len, shrink_to_fit, BatchPlan};
pub use render::render;
pub use validate::{validate, validate_batch, Violation, TYPES_PATTERN};

/// The only published ASFF schema version.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Findings per `BatchImportFindings` call.
pub const MAX_FINDINGS_PER_BATCH: usize = 100;
/// Serialized size limit of one finding.
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
/// Serialized size limit of one `BatchImportFindings` request body.
pub const MAX_BATCH_BYTES: usize = 6 * 1024 * 1024;
/// `ProductName` and `CompanyName` of every finding (custom integrations may set them).
pub const PRODUCT_NAME: &str = "Recon";
/// The namespace of every ProductFields key.
pub const PRODUCT_FIELDS_PREFIX: &str = "recon/";
/// The ProductFields keys holding raw evidence (API lists, event ids, user agent, ports, flow-log
/// sources): the first thing trimmed when a finding is too big.
pub const EVIDENCE_FIELDS_PREFIX: &str = "recon/evidence/";
/// The namespaces an ASFF `Types` entry may start with.
pub const TYPE_NAMESPACES: [&str; 5] = [
    "Software and Configuration Checks",
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
];

/// Security Hub's length and count limits that [`render`] enforces and [`validate`] checks.
pub mod limits {
    /// `Id` and `GeneratorId`, in characters.
    pub const ID: usize = 512;
    /// `Title`.
    pub const TITLE: usize = 256;
    /// `Description`.
    pub const DESCRIPTION: usize = 1024;
    /// Entries in `Types`.
    pub const TYPES: usize = 50;
    /// Entries in `Resources`.
    pub const RESOURCES: usize = 32;
    /// `Resources[].Type`.
    pub const RESOURCE_TYPE: usize = 256;
    /// `Resources[].Region` (and the top-level `Region`).
    pub const REGION: usize = 16;
    /// Pairs in `ProductFields`.
    pub const PRODUCT_FIELDS: usize = 50;
    /// A `ProductFields` key.
    pub const PRODUCT_FIELD_KEY: usize = 128;
    /// A `ProductFields` value.
    pub const PRODUCT_FIELD_VALUE: usize = 2048;
    /// Entries in `ThreatIntelIndicators`.
    pub const THREAT_INTEL_INDICATORS: usize = 5;
    /// `ThreatIntelIndicators[].Value`.
    pub const THREAT_INTEL_VALUE: usize = 512;
    /// `ThreatIntelIndicators[].Source`.
    pub const THREAT_INTEL_SOURCE: usize = 64;
    /// `Remediation.Recommendation.Text`.
    pub const REMEDIATION_TEXT: usize = 512;
    /// `Severity.Original`.
    pub const SEVERITY_ORIGINAL: usize = 64;
    /// `AwsApiCallAction.Api`, `.ServiceName`, `PortName`, `ProductName`, `CompanyName`.
    pub const NAME: usize = 128;
    /// `Network.Protocol`.
    pub const NETWORK_PROTOCOL: usize = 16;
    /// `NetworkConnectionAction.Protocol`.
    pub const ACTION_PROTOCOL: usize = 64;
    /// Our own cap for free-form values without a documented limit (resource ids, ARNs, names),
    /// keeping a rendered finding small whatever the input.
    pub const FREE_TEXT: usize = 1024;
    /// `PortProbeDetails` entries rendered (one per probed port).
    pub const PORT_PROBE_DETAILS: usize = 20;
}

/// The default product ARN of an own-account integration:
/// `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`.
pub fn product_arn(partition: &str, region: &str, account_id: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default")
}

/// The partition a Region belongs to: `aws-cn` for `cn-…`, `aws-us-gov` for `us-gov-…`, else
/// `aws`. A `ProductArn` in another partition than its Region's is refused at import.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The `GeneratorId` of a finding type, e.g. `recon/Recon:IAMUser/TorIPCaller`.
pub fn generator_id(finding_type: FindingType) -> String {
    format!("recon/{}", finding_type.name())
}

/// The size of `value` serialized as compact JSON, in bytes (what counts against
/// [`MAX_FINDING_BYTES`] and [`MAX_BATCH_BYTES`]).
pub fn serialized_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        // Serializing a `Value` into a counter cannot fail; never under-report if it somehow does.
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_arn_has_the_default_product_shape() {
        assert_eq!(
            product_arn("aws", "us-west-2", "123456789012"),
            "arn:aws:securityhub:us-west-2:123456789012:product/123456789012/default"
        );
        assert_eq!(
            product_arn("aws-us-gov", "us-gov-west-1", "123456789012"),
            "arn:aws-us-gov:securityhub:us-gov-west-1:123456789012:product/123456789012/default"
        );
    }

    #[test]
    fn generator_ids_name_the_type() {
        assert_eq!(
            generator_id(FindingType::TorIpCaller),
            "recon/Recon:IAMUser/TorIPCaller"
        );
    }

    #[test]
    fn serialized_len_matches_serde() {
        let v = serde_json::json!({"a": [1, "é", null], "b": {"c": true}});
        assert_eq!(
            serialized_len(&v),
            serde_json::to_string(&v).map_or(0, |s| s.len())
        );
    }
}
