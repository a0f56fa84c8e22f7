//! `recon`: the Recon detection engine on a laptop. `recon scan` walks exported CloudTrail and
//! VPC Flow Log files, evaluates them with an embedded store, and prints findings as a table,
//! as ASFF ready for `aws securityhub batch-import-findings`, or as JSON lines.

mod ahead;
mod args;
mod output;
mod scan;
mod store;
mod walk;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_tracing(cli.verbose);
    match cli.command {
        args::Command::Scan(scan_args) => match scan::run(scan_args) {
            Ok(outcome) => outcome.exit_code(),
            Err(e) => {
                eprintln!("recon: error: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn init_tracing(verbose: u8) {
    // Info by default: lists loaded and objects passed over are one line each.
    let default = match verbose {
        0 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RECON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .init();
}
