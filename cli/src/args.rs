//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Amazon GuardDuty's Recon findings, rebuilt: scan CloudTrail and VPC Flow Logs.
#[derive(Debug, Parser)]
#[command(name = "recon", version, about)]
pub struct Cli {
    /// More log output on stderr (-v debug); RECON_LOG takes a tracing filter and overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan log files and folders for Recon findings.
    Scan(ScanArgs),
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable summary for a terminal.
    Table,
    /// A JSON array of ASFF findings, as `aws securityhub batch-import-findings` takes it.
    Asff,
    /// One ASFF finding per line.
    Jsonl,
    /// One `batch-import-findings` request per line: a JSON array of at most 100 findings and
    /// 6 MB, each finding at most 240 KB (shrunk or, failing that, left out with a warning).
    AsffBatches,
}

/// `recon scan` arguments.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders (walked recursively); the log type is recognised from the content.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Folder of the embedded store (baselines, findings, processed objects).
    /// Default: $RECON_STATE_DIR, else $XDG_STATE_HOME/recon, else ~/.local/state/recon.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Tor exit list (bulk list or exit-addresses format). Repeatable.
    #[arg(long = "tor-exits", value_name = "FILE")]
    pub tor_exits: Vec<PathBuf>,
    /// Managed threat list (any supported format). Repeatable.
    #[arg(long = "threat-list", value_name = "FILE")]
    pub threat_lists: Vec<PathBuf>,
    /// Custom threat list, raising MaliciousIPCaller.Custom. Repeatable.
    #[arg(long = "custom-threat-list", value_name = "FILE")]
    pub custom_threat_lists: Vec<PathBuf>,
    /// Trusted addresses: they win over every threat list. Repeatable.
    #[arg(long = "trusted-ips", value_name = "FILE")]
    pub trusted_ips: Vec<PathBuf>,
    /// Suppression rules (TOML).
    #[arg(long, value_name = "FILE")]
    pub suppressions: Option<PathBuf>,
    /// Learning period before first-seen findings, e.g. 7d, 12h, or 0 to turn it off.
    #[arg(
        long = "learning-period",
        value_name = "DURATION",
        default_value = "7d"
    )]
    pub learning_period: String,
    /// Account id for records that carry none.
    #[arg(long = "account-id", value_name = "ID")]
    pub account_id: Option<String>,
    /// Region for records and paths that name none.
    #[arg(long, value_name = "REGION", default_value = "us-east-1")]
    pub region: String,
    /// Distinct ports of one remote host that make a Portscan.
    #[arg(long = "portscan-ports", value_name = "N", default_value = "15")]
    pub portscan_ports: String,
    /// The window those ports must fall in, e.g. 5m.
    #[arg(
        long = "portscan-window",
        value_name = "DURATION",
        default_value = "5m"
    )]
    pub portscan_window: String,
    /// Fields of flow logs that have no header line (CloudWatch Logs exports), as a header
    /// names them, e.g. "version account-id interface-id srcaddr …". Default: version 2.
    #[arg(long = "flow-format", value_name = "FIELDS")]
    pub flow_format: Option<String>,
    /// Threads that read and decompress files ahead of the scan, for less wall time at some
    /// more CPU time (each holds at most one file while it waits). 0: all on one thread.
    #[arg(
        long = "read-ahead",
        value_name = "N",
        default_value_t = 0,
        value_parser = clap::value_parser!(u8).range(0..=i64::from(crate::ahead::MOST_READERS))
    )]
    pub read_ahead: u8,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}
