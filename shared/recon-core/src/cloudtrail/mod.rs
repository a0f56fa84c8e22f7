//! CloudTrail input: streaming record reader ([`reader`]), the fast structural scan that decides
//! which records need a full parse ([`scan`]), and the record model with principal
//! normalisation ([`record`]).

pub mod reader;
pub mod record;
pub mod scan;

pub use reader::{Layout, RawRecord, ReadIssue, RecordReader};
pub use record::{principal, Record, UserIdentity};
