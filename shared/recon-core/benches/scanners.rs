//! Throughput of the two hot scanners on their own, without decompression, detection or I/O:
//! cutting CloudTrail records and reading their key fields, and splitting flow-log lines and
//! parsing the fields the engine reads ([`FLOW_FIELDS`]).
//!
//! ```sh
//! cargo bench -p recon-core --bench scanners -- FILE...
//! ```
//!
//! Each FILE (gzip or plain) is a CloudTrail delivery file or a flow log, recognised from its
//! content as `recon scan` does; `bench/compare.py` builds such a corpus. Every file is read
//! into memory and decompressed first; then each scanner runs over all of its files five times
//! and the fastest run is reported, in MB/s of unpacked input and records/s.

use std::time::Instant;

use recon_core::cloudtrail::{Layout, RecordReader};
use recon_core::engine::FLOW_FIELDS;
use recon_core::flowlog::FlowLogReader;
use recon_core::input::{open_bytes, Content, Limits, ObjectKind};

fn main() {
    let paths: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if paths.is_empty() {
        eprintln!("usage: cargo bench -p recon-core --bench scanners -- FILE...");
        std::process::exit(2);
    }
    // Held whole, however large: this measures scanning, not streaming.
    let limits = Limits {
        max_inline_bytes: usize::MAX,
        ..Limits::default()
    };
    let (mut trails, mut flows) = (Vec::new(), Vec::new());
    for path in &paths {
        let raw = std::fs::read(path).unwrap_or_else(|e| fail(path, &e));
        let opened = open_bytes(path, raw, limits).unwrap_or_else(|e| fail(path, &e));
        let Content::Bytes(bytes) = opened.content else {
            fail(path, &"too large to hold in memory");
        };
        match (opened.kind, Layout::of(opened.kind)) {
            (_, Some(layout)) => trails.push((bytes, layout)),
            (ObjectKind::FlowLog, None) => flows.push(bytes),
            (other, None) => eprintln!("{path}: {other:?}, passed over"),
        }
    }
    if !trails.is_empty() {
        let bytes: usize = trails.iter().map(|(b, _)| b.len()).sum();
        report("CloudTrail records", bytes, || {
            let mut records = 0;
            for (content, layout) in &mut trails {
                let bytes = std::mem::take(content);
                let mut reader = RecordReader::from_bytes(bytes, *layout, 8 << 20);
                while let Some(item) = reader.next_record() {
                    records += u64::from(item.is_ok_and(|r| r.fields.event_name.is_some()));
                }
                *content = reader.into_buffer();
            }
            records
        });
    }
    if !flows.is_empty() {
        let bytes = flows.iter().map(Vec::len).sum();
        report("flow-log lines", bytes, || {
            let mut records = 0;
            for content in &flows {
                let cursor = std::io::Cursor::new(content.as_slice());
                let mut reader = FlowLogReader::new(cursor).keeping(FLOW_FIELDS);
                // As the engine reads them: lent, parsed once.
                while let Some(n) =
                    reader.next_with(|_, item| u64::from(item.is_ok_and(|r| r.start.is_some())))
                {
                    records += n;
                }
            }
            records
        });
    }
}

/// Runs `scan` five times and prints the fastest run.
fn report(what: &str, bytes: usize, mut scan: impl FnMut() -> u64) {
    let mut best = f64::MAX;
    let mut records = 0;
    for _ in 0..5 {
        let started = Instant::now();
        records = std::hint::black_box(scan());
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "{what}: {records} in {:.1} ms: {:.0} MB/s, {:.0} records/s ({:.1} MB)",
        best * 1e3,
        bytes as f64 / best / 1e6,
        records as f64 / best,
        bytes as f64 / 1e6,
    );
}

fn fail(path: &str, error: &dyn std::fmt::Display) -> ! {
    eprintln!("{path}: {error}");
    std::process::exit(1);
}
