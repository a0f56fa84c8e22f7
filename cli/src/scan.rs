//! `recon scan`: load lists and rules, walk the inputs, scan each object once, commit to the
//! embedded store, print what changed. Files may be read ahead on other threads (`crate::ahead`).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use recon_core::config::EngineConfig;
use recon_core::engine::{Batch, Engine, ObjectRef, ObjectReport, TrailReader};
use recon_core::finding::ListKind;
use recon_core::input::{self, region_from_key, Content, Limits, ObjectKind, Opened};
use recon_core::intel::ThreatIntel;
use recon_core::store::Store;
use recon_core::suppress::Suppressions;
use recon_core::time::Timestamp;

use crate::ahead::{self, Budget, Ticket};
use crate::args::ScanArgs;
use crate::output;
use crate::store::RedbStore;

/// How a scan ended.
pub struct Outcome {
    /// Objects that could not be read at all.
    unreadable: usize,
    /// Objects scanned (not skipped).
    scanned: usize,
}

impl Outcome {
    /// Non-zero only when the scan could not do its job: every input was unreadable.
    pub fn exit_code(&self) -> ExitCode {
        if self.unreadable > 0 && self.scanned == 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// The default state folder: `$RECON_STATE_DIR`, else `$XDG_STATE_HOME/recon`, else
/// `~/.local/state/recon`, else `./.recon-state`.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("RECON_STATE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(d).join("recon");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/state/recon"),
        None => PathBuf::from(".recon-state"),
    }
}

/// The cores this process may use (1 when that cannot be told).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Runs a scan.
pub fn run(args: ScanArgs) -> Result<Outcome> {
    let config = config(&args)?;
    let intel = load_intel(&args)?;
    let suppressions = match &args.suppressions {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Suppressions::parse(&p.display().to_string(), &text)?
        }
        None => Suppressions::default(),
    };
    let files = crate::walk::files(&args.paths)?;
    let state_dir = args.state.clone().unwrap_or_else(default_state_dir);
    let mut store = RedbStore::open(&state_dir)
        .with_context(|| format!("state folder {}", state_dir.display()))?;
    let mut engine = Engine::new(config, intel, suppressions);
    pollster::block_on(engine.load_flow_state(&store)).context("could not read the state")?;
    let progress = progress_bar(&files, args.no_progress);
    let mut reports = Vec::new();
    let mut outcome = Outcome {
        unreadable: 0,
        scanned: 0,
    };
    let mut skipped = 0usize;
    scan_files(
        &mut engine,
        &store,
        &files,
        args.read_ahead.threads(cores()),
        &progress,
        |path, scanned| match scanned {
            Ok(Some(report)) => {
                outcome.scanned += 1;
                reports.push(report);
            }
            Ok(None) => skipped += 1,
            Err(e) => {
                outcome.unreadable += 1;
                tracing::error!(path = %path.display(), error = %format!("{e:#}"), "object unreadable");
            }
        },
    );
    progress.finish_and_clear();
    // The run is stored only once its findings are out: findings stored as reported but never
    // written (a full disk, a closed pipe) could not be had again.
    store.hold();
    let commit = pollster::block_on(engine.commit(&mut store, Timestamp::now()))
        .context("could not store the results")?;
    output::print(args.format, &commit).context("could not write the findings; nothing stored")?;
    store.persist().context("could not store the results")?;
    output::summary(&commit, &reports, skipped, outcome.unreadable, &state_dir);
    Ok(outcome)
}

/// Scans `files` in order, each once, with `readers` threads reading ahead (none: all on this
/// thread); `done` takes each file's result, `None` for a file skipped.
fn scan_files(
    engine: &mut Engine,
    store: &RedbStore,
    files: &[PathBuf],
    readers: u8,
    progress: &ProgressBar,
    mut done: impl FnMut(&Path, Result<Option<ObjectReport>>),
) {
    let readers = usize::from(readers).min(files.len());
    let limits = engine.limits();
    let spares = Spares::new(readers + 1);
    let budgets: Vec<Budget> = (0..readers).map(|_| Budget::default()).collect();
    std::thread::scope(|s| {
        let inboxes: Vec<_> = budgets
            .iter()
            .enumerate()
            .map(|(r, budget)| {
                let (ready, inbox) = mpsc::sync_channel(PREPARED_QUEUED);
                let reader = Reader {
                    ready,
                    trails: engine.trail_reader(),
                    budget,
                    store,
                    spares: &spares,
                    limits,
                };
                s.spawn(move || reader.run(files.iter().skip(r).step_by(readers)));
                inbox
            })
            .collect();
        for (i, path) in files.iter().enumerate() {
            progress.set_message(path.display().to_string());
            let (prepared, ticket) = match inboxes.get(i % readers.max(1)) {
                Some(inbox) => match inbox.recv() {
                    Ok(handed) => handed,
                    // The reader panicked; leaving the scope raises it again.
                    Err(mpsc::RecvError) => break,
                },
                None => (prepare(path, limits, store, engine.take_scratch()), None),
            };
            done(path, prepared.map(|p| scan_prepared(engine, p)));
            drop(ticket);
            if readers > 0 {
                spares.put(engine.take_scratch());
            }
            progress.inc(file_len(path));
        }
    });
}

fn config(args: &ScanArgs) -> Result<EngineConfig> {
    let mut c = EngineConfig::default();
    c.set_learning_period("--learning-period", &args.learning_period)?;
    if let Some(a) = &args.account_id {
        c.set_account_id("--account-id", a)?;
    }
    c.set_default_region("--region", &args.region)?;
    c.set_portscan_ports("--portscan-ports", &args.portscan_ports)?;
    c.set_portscan_window("--portscan-window", &args.portscan_window)?;
    if let Some(f) = &args.flow_format {
        c.set_flow_format("--flow-format", f)?;
    }
    Ok(c)
}

fn load_intel(args: &ScanArgs) -> Result<ThreatIntel> {
    let mut intel = ThreatIntel::default();
    let sets = [
        (ListKind::Tor, &args.tor_exits),
        (ListKind::Managed, &args.threat_lists),
        (ListKind::Custom, &args.custom_threat_lists),
        (ListKind::Trusted, &args.trusted_ips),
    ];
    for (kind, paths) in sets {
        for p in paths {
            // The error names the file.
            let r = intel.load_file(kind, p)?;
            tracing::info!(list = %p.display(), ?kind, entries = r.entries, "list loaded");
        }
    }
    Ok(intel)
}

/// A file made ready for the scan.
enum Prepared<'b> {
    /// Processed by an earlier run.
    Processed(String),
    /// Opened: its identity and content.
    Ready(ObjectRef, Opened),
    /// A CloudTrail object that a reader thread is reading: its identity, kind, and the
    /// batches of what it read as they come.
    Read(ObjectRef, ObjectKind, Receiver<(Batch, Ticket<'b>)>),
}

/// A prepared file as a reader hands it over: with a ticket while its content waits in memory.
type Handoff<'b> = (Result<Prepared<'b>>, Option<Ticket<'b>>);

/// Prepared files one reader may have handed over ahead of the scan; what they hold in memory
/// is bounded by its [`Budget`].
const PREPARED_QUEUED: usize = 64;

/// A reader thread's share of the work (see [`Reader::run`]).
struct Reader<'b> {
    ready: SyncSender<Handoff<'b>>,
    trails: TrailReader,
    budget: &'b Budget,
    store: &'b RedbStore,
    spares: &'b Spares,
    limits: Limits,
}

impl<'b> Reader<'b> {
    /// Prepares `paths` in turn and hands each over, in order; reads CloudTrail objects itself
    /// (cutting records, picking the few to read in full) and inflates other streamed ones as
    /// the scan takes them up. Stops when the scan stops listening.
    fn run<'p>(mut self, paths: impl Iterator<Item = &'p PathBuf>) {
        // The buffer of the last CloudTrail object read here: it never leaves this thread.
        let mut own = Vec::new();
        for path in paths {
            let scratch = match own.capacity() {
                0 => self.spares.take(),
                _ => std::mem::take(&mut own),
            };
            match prepare(path, self.limits, self.store, scratch) {
                Ok(Prepared::Ready(object, opened)) if opened.kind.is_cloudtrail() => {
                    let (batches, inbox) = mpsc::channel();
                    let read = Prepared::Read(object, opened.kind, inbox);
                    if self.ready.send((Ok(read), None)).is_err() {
                        return;
                    }
                    // The batches end, and the scan moves on, when their sender is dropped.
                    let budget = self.budget;
                    own = self
                        .trails
                        .read(opened, |batch| {
                            let ticket = budget.take(batch.size());
                            batches.send((batch, ticket)).is_ok()
                        })
                        .unwrap_or_default();
                }
                prepared => {
                    let (prepared, pump) = hand_over(prepared);
                    let held = match &prepared {
                        Ok(Prepared::Ready(_, opened)) => match &opened.content {
                            Content::Bytes(bytes) => Some(self.budget.take(bytes.len())),
                            Content::Stream(_) => None,
                        },
                        _ => None,
                    };
                    if self.ready.send((prepared, held)).is_err() {
                        return;
                    }
                    if let Some(pump) = pump {
                        pump.run();
                    }
                }
            }
        }
    }
}

/// Reads, identifies and opens one file, unless an earlier run processed it. Runs on a reader
/// thread when reading ahead: it only reads the store.
fn prepare<'b>(
    path: &Path,
    limits: Limits,
    store: &RedbStore,
    scratch: Vec<u8>,
) -> Result<Prepared<'b>> {
    let name = path.display().to_string();
    // Small files are read once and hashed in memory; larger ones are hashed, then streamed.
    let inline = file_len(path) as usize <= limits.max_inline_bytes / 4;
    let bytes = if inline {
        Some(std::fs::read(path).with_context(|| format!("cannot read {name}"))?)
    } else {
        None
    };
    let digest = match &bytes {
        Some(b) => xxhash_rust::xxh3::xxh3_128(b),
        None => digest(path)?,
    };
    let id = format!("file:xxh3-128:{digest:032x}");
    if pollster::block_on(store.is_processed(&id))? {
        return Ok(Prepared::Processed(name));
    }
    let opened = match bytes {
        Some(b) => input::open_bytes_into(&name, b, limits, scratch),
        None => {
            let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
            input::open(&name, Box::new(file), limits)
        }
    };
    let opened = opened.with_context(|| format!("cannot read {name}"))?;
    let object = ObjectRef {
        id,
        region_hint: region_from_key(&name),
        name,
    };
    Ok(Prepared::Ready(object, opened))
}

/// A prepared file as a reader thread hands it over, and the inflating of a streamed one that
/// is left for the reader to do once it has.
fn hand_over(prepared: Result<Prepared<'_>>) -> (Result<Prepared<'_>>, Option<ahead::Pump>) {
    match prepared {
        Ok(Prepared::Ready(object, opened)) => {
            let (content, pump) = ahead::hand_over(opened.content);
            let opened = Opened { content, ..opened };
            (Ok(Prepared::Ready(object, opened)), pump)
        }
        other => (other, None),
    }
}

/// Scans a prepared file unless it was processed before, by an earlier run or earlier in this
/// one (the same content under another name); `None` when skipped.
fn scan_prepared(engine: &mut Engine, prepared: Prepared<'_>) -> Option<ObjectReport> {
    let skipped = |name: &str| {
        eprintln!("recon: {name}: already processed, skipped");
        None
    };
    match prepared {
        Prepared::Processed(name) => skipped(&name),
        Prepared::Ready(object, _) | Prepared::Read(object, ..)
            if engine.pending_objects().contains(&object.id) =>
        {
            skipped(&object.name)
        }
        Prepared::Ready(object, opened) => Some(engine.scan(&object, opened)),
        Prepared::Read(object, kind, batches) => {
            // A batch's ticket goes as the scan takes it up.
            let batches = batches.into_iter().map(|(batch, _)| batch);
            Some(engine.scan_read(&object, kind, batches))
        }
    }
}

/// Buffers of scanned in-memory objects, for the readers to decompress the next ones into
/// (as the scan reuses the engine's one buffer when nothing reads ahead).
struct Spares {
    buffers: Mutex<Vec<Vec<u8>>>,
    most: usize,
}

impl Spares {
    fn new(most: usize) -> Spares {
        Spares {
            buffers: Mutex::new(Vec::new()),
            most,
        }
    }

    /// A spare buffer, or a new empty one.
    fn take(&self) -> Vec<u8> {
        self.buffers
            .lock()
            .ok()
            .and_then(|mut b| b.pop())
            .unwrap_or_default()
    }

    /// Keeps `buffer` for later, unless enough are kept already.
    fn put(&self, buffer: Vec<u8>) {
        if buffer.capacity() == 0 {
            return;
        }
        if let Ok(mut buffers) = self.buffers.lock() {
            if buffers.len() < self.most {
                buffers.push(buffer);
            }
        }
    }
}

/// The xxh3-128 digest of a file's bytes: the object's identity, whatever its name.
fn digest(path: &Path) -> Result<u128> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            return Ok(hasher.digest128());
        }
        hasher.update(&buf[..n]);
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn progress_bar(files: &[PathBuf], hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let total: u64 = files.iter().map(|p| file_len(p)).sum();
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {eta} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
