//! A run folder and every file name in it, in one place: what `xray train` and
//! `xray pretrain` write under `<root>/runs/NAME`, what the modes that serve a
//! run read back, and the guard that keeps a new run from deleting an old one.

use crate::data::tokenize::save_tokenizer;
pub use crate::model::store::{CONFIG_FILE, WEIGHTS_FILE};
use crate::util::fsutil::atomic_write;
use crate::util::usage::require;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

pub const RUNS_DIR: &str = "runs";
/// Beside runs/ under the output root: the latest run's metrics and figures.
pub const METRICS_DIR: &str = "metrics";
pub const FIGURES_DIR: &str = "figures";
/// `runs/latest`: the link to the run that finished last.
pub const LATEST: &str = "latest";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The class names, in label order.
pub const LABELS_FILE: &str = "labels.json";
/// The options of `xray train` and of `xray pretrain`, as given and completed.
pub const TRAIN_ARGS_FILE: &str = "train_args.json";
pub const PRETRAIN_ARGS_FILE: &str = "pretrain_args.json";
/// One line per finished epoch (or held-out point); for a training run its
/// presence makes the folder serve a model.
pub const HISTORY_FILE: &str = "history.jsonl";
pub const FINAL_METRICS_FILE: &str = "final_metrics.json";
pub const RUN_SUMMARY_FILE: &str = "run_summary.json";
/// The temperature fitted on the validation split after training.
pub const CALIBRATION_FILE: &str = "calibration.json";
/// A pretraining run's bodies along the way (`snapshots/step-N/`).
pub const SNAPSHOTS_DIR: &str = "snapshots";

/// Where a run writes: its own folder, and the shared metrics/ and figures/.
pub struct RunFiles {
    pub root: PathBuf,
    pub run: PathBuf,
}

impl RunFiles {
    pub fn new(root: &Path, name: &str) -> Self {
        Self {
            root: root.to_path_buf(),
            run: run_dir(root, name),
        }
    }

    pub fn latest_link(root: &Path) -> PathBuf {
        root.join(RUNS_DIR).join(LATEST)
    }

    /// `runs/latest` -> this run, replaced atomically (a new link, then a rename).
    pub fn point_latest_here(&self) -> Result<()> {
        let link = Self::latest_link(&self.root);
        let tmp = link.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let target = self.run.file_name().context("run folder has no name")?;
        std::os::unix::fs::symlink(target, &tmp)
            .with_context(|| format!("linking {}", tmp.display()))?;
        std::fs::rename(&tmp, &link).with_context(|| format!("updating {}", link.display()))
    }

    pub fn metrics_dir(&self) -> PathBuf {
        self.root.join(METRICS_DIR)
    }

    pub fn figures_dir(&self) -> PathBuf {
        self.root.join(FIGURES_DIR)
    }
}

/// `<root>/runs/<name>`.
pub fn run_dir(root: &Path, name: &str) -> PathBuf {
    root.join(RUNS_DIR).join(name)
}

/// Whether a run folder serves a model: the one test behind `runs/latest`,
/// eval, predict, attn, inspect, `profile --run` and `train --init`. A training
/// run serves once it has finished an epoch (history.jsonl records it): the best
/// weights of a validation inside the first epoch are kept for `--resume`, not
/// served. A pretraining run or snapshot serves once it has weights, which it
/// writes only at its end.
pub fn serves_a_model(dir: &Path) -> bool {
    let training = dir.join(TRAIN_ARGS_FILE).is_file();
    dir.join(WEIGHTS_FILE).is_file() && (!training || dir.join(HISTORY_FILE).is_file())
}

/// A checkpoint or a model it serves: something a user would not want deleted.
pub fn holds_a_run(dir: &Path) -> bool {
    super::checkpoint::has_checkpoint(dir) || serves_a_model(dir)
}

/// Start a new run in `run` with `start`. A folder that holds a run is refused;
/// one left by a start that died before its first checkpoint is cleared; a
/// start that fails before its first checkpoint removes its folder again, so a
/// failed start leaves nothing behind.
pub fn start_in<T>(run: &Path, start: impl FnOnce() -> Result<T>) -> Result<T> {
    require(!holds_a_run(run), || {
        format!(
            "{} already holds a run: pick another --name, or continue it with --resume",
            run.display()
        )
    })?;
    let _ = std::fs::remove_dir_all(run);
    let started = start();
    if started.is_err() && !holds_a_run(run) {
        let _ = std::fs::remove_dir_all(run);
    }
    started
}

/// The files a run writes before its first step: its tokenizer and its options.
pub fn write_start_files(
    run: &Path,
    tokenizer: &Tokenizer,
    args_file: &str,
    args: &impl Serialize,
) -> Result<()> {
    std::fs::create_dir_all(run).with_context(|| format!("creating {}", run.display()))?;
    save_tokenizer(tokenizer, &run.join(TOKENIZER_FILE))?;
    atomic_write(&run.join(args_file), &serde_json::to_vec_pretty(args)?)
}

/// `<dataset>-<arch>-<YYYYmmdd-HHMMSS>` in UTC.
pub fn default_run_name(dataset: &str, arch: crate::model::Arch) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let stem: String = dataset
        .rsplit('/')
        .next()
        .unwrap_or(dataset)
        .split('.')
        .next()
        .unwrap_or(dataset)
        .into();
    format!(
        "{stem}-{}-{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        format!("{arch:?}").to_lowercase(),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `--run DIR`, or `<root>/runs/latest`, with its links followed; relative to
/// the working folder when inside it, so that what the modes print and record
/// names no one machine's folders.
pub fn resolve_run(run: Option<&Path>, root: &Path) -> Result<PathBuf> {
    let dir = run.map_or_else(|| RunFiles::latest_link(root), Path::to_path_buf);
    let dir = dir.canonicalize().with_context(|| {
        format!(
            "no run folder at {}: train one first (xray train --dataset imdb) or pass --run DIR",
            dir.display()
        )
    })?;
    let inside = std::env::current_dir()
        .and_then(|cwd| cwd.canonicalize())
        .ok()
        .and_then(|cwd| dir.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|rel| !rel.as_os_str().is_empty());
    Ok(inside.unwrap_or(dir))
}
