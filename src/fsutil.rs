//! File helpers shared by every writer of outputs.

use anyhow::{Context, Result};
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
    crate::faults::point();
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
}
