//! One detector per finding family. Each turns observations into candidate findings; the
//! [`crate::engine`] applies candidates to the store, where aggregation happens.
//!
//! - [`ip_caller`] — Recon:IAMUser/TorIPCaller, MaliciousIPCaller and MaliciousIPCaller.Custom.
//! - [`permissions`] — Recon:IAMUser/NetworkPermissions, ResourcePermissions, UserPermissions.
//! - [`portscan`] — Recon:EC2/Portscan.
//! - [`port_probe`] — Recon:EC2/PortProbeUnprotectedPort.
//! - [`candidate`] — the shape every detector produces, and how it merges into a finding.

pub mod candidate;
pub mod ip_caller;
pub mod permissions;
pub mod port_probe;
pub mod portscan;

pub use candidate::Candidate;
