//! `xray train`: a new run or `--resume`, Ctrl-C saving a checkpoint, and the
//! exit code the shell expects (130 after an interruption).

use super::options::TrainOptions;
use super::probe::ProbeMaker;
use super::run::{self, Outcome};
use crate::runner::checkpoint::{has_checkpoint, written};
use crate::runner::control::{Control, EXIT_INTERRUPTED};
use crate::runner::folder::resolve_run;
use crate::runner::folder::{default_run_name, RunFiles, RUNS_DIR};
use crate::util::device::{select_device, DeviceArg};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// What `xray train` is asked: a new run or a resume, under which root, how it
/// may be stopped, and what measures its heads at each validation point.
pub struct TrainRequest {
    pub start: TrainStart,
    pub root: PathBuf,
    pub control: Control,
    pub device: DeviceArg,
    pub probe: Option<ProbeMaker>,
}

pub enum TrainStart {
    /// A new run named `name` (default: `<dataset>-<arch>-<UTC time>`).
    New {
        opts: Box<TrainOptions>,
        name: Option<String>,
    },
    /// Continue this run folder, or the newest one with a checkpoint.
    Resume(Option<PathBuf>),
}

pub fn run(cmd: TrainRequest) -> Result<i32> {
    let device = select_device(cmd.device)?;
    let (root, control) = (&cmd.root, &cmd.control);
    let outcome = match cmd.start {
        TrainStart::Resume(dir) => {
            let dir = match dir {
                Some(dir) => resolve_run(Some(dir.as_path()), root)?,
                None => newest_checkpoint(root)?,
            };
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            run::resume(&RunFiles::new(root, &name), &device, control, cmd.probe)?
        }
        TrainStart::New { opts, name } => {
            let name =
                name.unwrap_or_else(|| default_run_name(&opts.dataset.name(), opts.model.arch));
            run::train(
                *opts,
                &RunFiles::new(root, &name),
                &device,
                control,
                cmd.probe,
            )?
        }
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
