//! Finding the files under the paths given on the command line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Every regular file under `paths` (folders walked recursively, symbolic links to folders not
/// followed), without duplicates, in delivery order (see [`delivery_order`]). A path that does
/// not exist or cannot be read is an error that names it.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            walk_dir(p, &mut out)?;
        } else if meta.is_file() {
            out.push(p.clone());
        } else {
            bail!("{} is neither a file nor a folder", p.display());
        }
    }
    // The order's key ends with the path, so copies of one path end up side by side.
    out.sort_by(|a, b| delivery_order(a).cmp(&delivery_order(b)));
    out.dedup();
    Ok(out)
}

/// The order files are scanned in: by the delivery time in their name where AWS put one
/// (`…_CloudTrail_<region>_20261101T0505Z_….json.gz`, `…_vpcflowlogs_<region>_<flow log>_
/// 20261101T0505Z_….log.gz`), then by path.
///
/// Path order alone would read one flow log's whole day before another's (their names differ
/// before the time), and Portscan windows can wait only so long for late flows
/// (`LATE_FLOWS_MS` in the engine). CloudTrail results do not depend on the order. Files whose
/// names carry no such time come first, in path order.
fn delivery_order(path: &Path) -> (Option<&str>, &Path) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let time = name.split('_').find(|part| is_delivery_time(part));
    (time, path)
}

/// `YYYYMMDDTHHmmZ`, as in AWS's log file names.
fn is_delivery_time(part: &str) -> bool {
    let b = part.as_bytes();
    b.len() == 14
        && b[8] == b'T'
        && b[13] == b'Z'
        && b[..8].iter().chain(&b[9..13]).all(u8::is_ascii_digit)
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        let path = entry.path();
        if kind.is_dir() {
            walk_dir(&path, out)?;
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            out.push(path);
        } else if kind.is_symlink() && !path.exists() {
            tracing::warn!(path = %path.display(), "broken symbolic link passed over");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_in_delivery_order_across_flow_logs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let day = dir
            .path()
            .join("AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/01");
        std::fs::create_dir_all(&day).expect("folders");
        let names = [
            "111122223333_vpcflowlogs_us-east-1_fl-0aaa_20261101T2355Z_1.log.gz",
            "111122223333_vpcflowlogs_us-east-1_fl-0aaa_20261101T0005Z_2.log.gz",
            "111122223333_vpcflowlogs_us-east-1_fl-0bbb_20261101T0000Z_3.log.gz",
            "notes.txt",
        ];
        for n in names {
            std::fs::write(day.join(n), b"x").expect("file");
        }
        let order: Vec<String> = files(&[dir.path().to_path_buf()])
            .expect("walk")
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
        assert_eq!(order, [names[3], names[2], names[1], names[0]]);
    }

    #[test]
    fn only_aws_times_order_files() {
        assert!(is_delivery_time("20261101T0505Z"));
        for not in [
            "20261101T0505",
            "2026110XT0505Z",
            "20261101-0505Z",
            "fl-0abc",
        ] {
            assert!(!is_delivery_time(not), "{not}");
        }
    }
}
