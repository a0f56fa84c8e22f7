//! Finding the team's real data sets: `RECON_CORPUS` names the folder; without it the
//! real-data tests say so and skip.

use std::path::{Path, PathBuf};

/// The corpus folder, or `None` (after saying so) when `RECON_CORPUS` is unset.
pub fn corpus(test: &str) -> Option<PathBuf> {
    match std::env::var_os("RECON_CORPUS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!("RECON_CORPUS not set: skipping {test}");
            None
        }
    }
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
