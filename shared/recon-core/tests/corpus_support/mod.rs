//! Finding the team's real data sets: `RECON_CORPUS` names the folder; without it the
//! real-data tests say so and skip. Shared by the integration tests and (through a `#[path]`
//! module in `lib.rs`) the unit tests.

use std::path::{Path, PathBuf};

/// The corpus folder, or `None` (after saying so) when `RECON_CORPUS` is unset.
///
/// A relative `RECON_CORPUS` is taken from the workspace root, where the README's test command
/// (`RECON_CORPUS=../shared/data cargo test --workspace`) is run: cargo runs each test binary
/// in its own package's folder, where the same relative path would name nothing.
pub fn corpus(test: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("RECON_CORPUS") else {
        eprintln!("RECON_CORPUS not set: skipping {test}");
        return None;
    };
    let dir = PathBuf::from(dir);
    if dir.is_absolute() {
        return Some(dir);
    }
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = package
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(package);
    Some(root.join(dir))
}

/// Every regular file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no files under {}", dir.display());
    out
}
