//! File helpers shared by every writer of outputs.

use anyhow::{Context, Result};
use std::fs::File;
use std::path::Path;

/// Write through a temp file in the same folder, then rename: a crash leaves the
/// old file or the new one, never half of one.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)
        .with_context(|| format!("writing {}", Path::new(&tmp).display()))?;
    commit(Path::new(&tmp), path)
}

/// Rename the finished file `tmp` over `path`, durably: its data reaches the disk
/// before the name points at it, and the new name after, so that even a power
/// cut (not only a killed process) leaves the old file or the new one.
pub fn commit(tmp: &Path, path: &Path) -> Result<()> {
    File::open(tmp)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("flushing {} to disk", tmp.display()))?;
    crate::util::faults::point(crate::util::faults::Fault::Write);
    std::fs::rename(tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Flush a folder's entries (a rename into it) to disk.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("flushing {} to disk", dir.display()))
}

/// One JSON object per line, written atomically (a run's history.jsonl).
pub fn write_jsonl<T: serde::Serialize>(path: &Path, records: &[T]) -> Result<()> {
    let lines: Vec<String> = records
        .iter()
        .map(serde_json::to_string)
        .collect::<std::result::Result<_, _>>()?;
    atomic_write(path, format!("{}\n", lines.join("\n")).as_bytes())
}
