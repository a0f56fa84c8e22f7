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

/// How many threads read files ahead of the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadAhead {
    /// As many as the cores allow: see [`ReadAhead::threads`].
    Auto,
    /// This many (0 to [`MOST_READERS`](crate::ahead::MOST_READERS)).
    Threads(u8),
}

impl ReadAhead {
    /// Readers for `auto`: what the scan thread leaves of the cores, at most this many.
    const AUTO_MOST: usize = 2;

    /// The number of reading threads, for a machine with `cores` cores available.
    pub fn threads(self, cores: usize) -> u8 {
        match self {
            ReadAhead::Threads(n) => n,
            ReadAhead::Auto => {
                let spare = cores.saturating_sub(1).min(Self::AUTO_MOST);
                u8::try_from(spare).unwrap_or(0)
            }
        }
    }
}

fn parse_read_ahead(text: &str) -> Result<ReadAhead, String> {
    if text == "auto" {
        return Ok(ReadAhead::Auto);
    }
    let most = crate::ahead::MOST_READERS;
    match text.parse::<u8>() {
        Ok(n) if n <= most => Ok(ReadAhead::Threads(n)),
        _ => Err(format!(
            "expected auto or a number of threads from 0 to {most}"
        )),
    }
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
    /// more CPU time (each holds at most one file while it waits). 0: all on one thread;
    /// auto: one fewer than the cores, at most 2 (the scan itself runs on one thread, so more
    /// readers than that seldom help).
    #[arg(
        long = "read-ahead",
        value_name = "N|auto",
        default_value = "auto",
        value_parser = parse_read_ahead
    )]
    pub read_ahead: ReadAhead,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn read_ahead(args: &[&str]) -> Result<ReadAhead, clap::Error> {
        let argv = ["recon", "scan"].iter().chain(args).chain(&["x"]);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Scan(scan) => scan.read_ahead,
        })
    }

    #[test]
    fn read_ahead_defaults_to_the_spare_cores() {
        assert_eq!(read_ahead(&[]).expect("default"), ReadAhead::Auto);
        // The scan keeps one core; readers take the rest, up to two.
        let by_cores: Vec<u8> = (0..=8).map(|c| ReadAhead::Auto.threads(c)).collect();
        assert_eq!(by_cores, [0, 0, 1, 2, 2, 2, 2, 2, 2]);
    }

    #[test]
    fn read_ahead_takes_a_count_or_auto() {
        let given = read_ahead(&["--read-ahead", "3"]).expect("3");
        assert_eq!(given, ReadAhead::Threads(3));
        assert_eq!(given.threads(64), 3);
        assert_eq!(read_ahead(&["--read-ahead", "0"]).expect("0").threads(8), 0);
        assert_eq!(
            read_ahead(&["--read-ahead", "auto"]).expect("auto"),
            ReadAhead::Auto
        );
        for bad in ["9", "-1", "two", ""] {
            let arg = format!("--read-ahead={bad}");
            let err = read_ahead(&[&arg]).expect_err(bad).to_string();
            assert!(err.contains("auto or a number of threads"), "{bad}: {err}");
        }
    }
}
