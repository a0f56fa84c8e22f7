//! The Recon detection engine: everything between a log object's bytes and an ASFF finding,
//! with no AWS SDK in its dependency tree.
//!
//! - [`input`] opens objects (gzip or plain, bounded decompression) and recognises what they hold.
//! - [`cloudtrail`] and [`flowlog`] stream records out of them without buffering whole files.
//! - [`intel`] holds threat lists, Tor exit lists and trusted lists with sub-microsecond lookups.
//! - [`catalog`] says which APIs discover network access, resources or users.
//! - [`detect`] holds one detector per finding family; [`engine`] drives them against a
//!   [`store::Store`] (per-principal baselines, finding aggregation, processed objects).
//! - [`asff`] renders findings in the AWS Security Finding Format and validates them against
//!   Security Hub's rules.
#![warn(missing_docs)]

pub mod asff;
pub mod catalog;
pub mod cloudtrail;
pub mod config;
#[cfg(test)]
#[path = "../tests/corpus_support/mod.rs"]
mod corpus_support;
pub mod detect;
pub mod engine;
mod fasthash;
pub mod finding;
pub mod flowlog;
mod gzip;
mod gzstream;
pub mod input;
pub mod intel;
mod simd;
pub mod store;
pub mod suppress;
#[cfg(test)]
mod testing;
pub mod time;
