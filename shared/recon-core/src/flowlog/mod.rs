//! VPC Flow Logs text parsing: header-driven formats, borrowed zero-allocation records, and the
//! connection-direction and port-name helpers the Recon detectors build on.
//!
//! What it guarantees:
//! - Any field order of versions 2–8 is read by header ([`Format::from_header`]); a stream
//!   without a header is read in the default v2 format; a header in mid-stream (concatenated
//!   files) switches the format from that line on. Unknown field names are skipped, so newer
//!   formats still parse.
//! - `-` is `None` for every field, as is `unknown` for `account-id`; NODATA and SKIPDATA records
//!   parse (addresses `None`, [`FlowRecord::is_data`] false).
//! - Columns are separated by runs of spaces or tabs (any ASCII control byte separates, so a
//!   trailing `\r` is ignored). A token starting with `#` starts a comment to the end of the
//!   line (the AWS documentation's NAT gateway example annotates records that way): after the
//!   last column it is ignored, earlier the line has too few columns. Extra columns that are not
//!   a comment make the line malformed. Lines that start with `#` are skipped.
//! - A bad line (wrong column count, invalid number, address or keyword, non-UTF-8 bytes, longer
//!   than [`MAX_LINE_BYTES`]) is reported as a [`LineError`] with its 1-based line number and
//!   reading continues; an I/O error ends the stream with one [`LineError`]. Nothing panics.
//! - No allocation per record: records borrow their line from the reader's buffer (or from one
//!   reused line buffer when a line straddles its end), values are parsed from bytes (IPv4 by
//!   hand, IPv6 through `std`), only the columns of known fields are parsed, and memory per
//!   stream is bounded by [`MAX_LINE_BYTES`].
//!
//! Reading a decompressed object:
//!
//! ```
//! use recon_core::flowlog::{FlowLogReader, Initiator, initiator};
//!
//! let text = "version srcaddr dstaddr srcport dstport protocol tcp-flags action log-status\n\
//!             5 203.0.113.9 10.0.0.5 51234 22 6 2 ACCEPT OK\n";
//! let mut reader = FlowLogReader::new(text.as_bytes());
//! while let Some(next) = reader.next_record() {
//!     let rec = next.expect("valid line");
//!     assert_eq!(rec.dstport, Some(22));
//!     assert_eq!(initiator(&rec), Initiator::Source);
//! }
//! ```

mod field;
mod parse;
mod ports;
mod reader;
mod record;

#[cfg(test)]
mod tests;

pub use field::{Field, Format, MAX_COLUMNS};
pub use ports::{
    initiator, is_service_port, port_name, protocol_name, Initiator, EPHEMERAL_START, TCP_FIN,
    TCP_RST, TCP_SYN, TCP_SYN_ACK,
};
pub use reader::{FlowLogReader, LineError, LineErrorKind, MAX_LINE_BYTES};
pub(crate) use record::LineParser;
pub use record::{parse_record, Action, Direction, FlowRecord, LogStatus, RecordError};

/// Errors about flow-log formats and lines.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum FlowLogError {
    /// The header (or field list) names no fields.
    #[error("flow-log header has no field names")]
    EmptyHeader,
    /// A header token is not shaped like a field name.
    #[error("flow-log header: {name:?} is not a field name")]
    BadHeaderName {
        /// The token, cut to 64 characters.
        name: String,
    },
    /// A known field appears twice.
    #[error("flow-log header names {name} twice")]
    DuplicateField {
        /// The field's name.
        name: &'static str,
    },
    /// The header has more than [`MAX_COLUMNS`] columns.
    #[error("flow-log header has {count} columns, more than the {MAX_COLUMNS} supported")]
    TooManyColumns {
        /// Columns in the header.
        count: usize,
    },
    /// No header token is a field AWS defines.
    #[error("flow-log header names no known field")]
    NoKnownField,
    /// A line of a stream could not be read.
    #[error(transparent)]
    Line(#[from] LineError),
}
