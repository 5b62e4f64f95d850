//! `xray train`: a new run or `--resume`, Ctrl-C saving a checkpoint, and the
//! exit code the shell expects (130 after an interruption).

use super::run::{self, Outcome};
use crate::cli::{Common, TrainCmd};
use crate::device::select_device;
use crate::runner::checkpoint::{has_checkpoint, written};
use crate::runner::control::EXIT_INTERRUPTED;
use crate::runner::folder::{default_run_name, RunFiles, RUNS_DIR};
use crate::saved_run::resolve_run;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub fn run(cmd: TrainCmd, common: &Common) -> Result<i32> {
    let device = select_device(common.device)?;
    let control = cmd.checkpoint.control()?;
    let root = &cmd.root.dir;
    let outcome = match (&cmd.resume, &cmd.dataset) {
        (Some(dir), _) => {
            let dir = match dir {
                Some(dir) => resolve_run(Some(dir.as_path()), root)?,
                None => newest_checkpoint(root)?,
            };
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            run::resume(&RunFiles::new(root, &name), &device, &control)?
        }
        (None, Some(dataset)) => {
            let opts = cmd.options(dataset.clone());
            let name = cmd
                .name
                .clone()
                .unwrap_or_else(|| default_run_name(&dataset.name(), opts.model.arch));
            run::train(opts, &RunFiles::new(root, &name), &device, &control)?
        }
        (None, None) => unreachable!("clap requires --dataset unless --resume"),
    };
    match outcome {
        Outcome::Finished(_) => Ok(0),
        Outcome::Interrupted(dir) => {
            eprintln!(
                "stopped; resume with: xray train --resume {}",
                dir.display()
            );
            Ok(EXIT_INTERRUPTED)
        }
    }
}

/// `--resume` without a folder: the run under `root/runs/` whose checkpoint was
/// written last (`runs/latest` only moves once a run has finished an epoch).
fn newest_checkpoint(root: &Path) -> Result<PathBuf> {
    let runs = root.join(RUNS_DIR);
    let entries =
        std::fs::read_dir(&runs).with_context(|| format!("reading {}", runs.display()))?;
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|dir| dir.is_dir() && !dir.is_symlink() && has_checkpoint(dir))
        .filter_map(|dir| Some((written(&dir)?, dir)))
        .max()
        .map(|(_, dir)| dir)
        .with_context(|| {
            format!(
                "no run under {} has a checkpoint to resume; pass the run folder: \
                 xray train --resume runs/NAME",
                runs.display()
            )
        })
}
