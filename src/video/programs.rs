//! The outside programs the video needs, found on PATH before anything is written.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// Debian's packages, named in every "not found" message.
pub const INSTALL: &str = "apt-get install ffmpeg espeak-ng";

/// `name` as an executable file in one of PATH's folders.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `name`, or an error saying what it is for and how to install it.
pub fn require(name: &str, needed_for: &str) -> Result<PathBuf> {
    match on_path(name) {
        Some(path) => Ok(path),
        None => bail!(
            "{name} was not found on PATH; xray video needs it {needed_for}. \
             Install it with `{INSTALL}` (Debian/Ubuntu), or pass --frames-only DIR \
             to write the frames and the script without encoding"
        ),
    }
}

/// Run `cmd` to its end; not starting or a non-zero exit is an error naming the
/// program, `what` it was doing and its own stderr.
pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .with_context(|| format!("starting {program} {what}"))?;
    if !out.status.success() {
        bail!(
            "{program} failed {what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
