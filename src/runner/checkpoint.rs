//! The resumable checkpoint of either loop: weights, optimizer moments and loop state,
//! written together into `last/` so a crash never leaves a mixed set.

use super::optim::AdamW;
use crate::model::store::{load_weights, save_weights, WEIGHTS_FILE};
use crate::util::faults::{self, Fault};
use crate::util::fsutil::{atomic_write, sync_dir};
use anyhow::{bail, Context, Result};
use candle_nn::VarMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const LAST_DIR: &str = "last";
const OPTIMIZER: &str = "optimizer.safetensors";
const STATE: &str = "state.json";

/// Loss and correct predictions summed over some examples.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Tally {
    pub loss: f64,
    pub correct: usize,
    pub examples: usize,
}

impl Tally {
    pub fn add(&mut self, mean_loss: f64, correct: usize, examples: usize) {
        self.loss += mean_loss * examples as f64;
        self.correct += correct;
        self.examples += examples;
    }

    pub fn mean_loss(&self) -> f64 {
        self.loss / self.examples.max(1) as f64
    }

    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.examples.max(1) as f64
    }
}

/// A loop's state that a checkpoint can hold: the training loop's and the
/// pretraining loop's. The optimizer's bias correction resumes at its step.
pub trait Resumable: Serialize + DeserializeOwned {
    fn step(&self) -> usize;
}

fn last_dir(run: &Path) -> PathBuf {
    run.join(LAST_DIR)
}

/// Write everything into `last.tmp/`, then swap it in for `last/`. A crash at any
/// point leaves a whole checkpoint in `last/` or, mid-swap, in `last.old/`.
pub fn save_checkpoint(
    run: &Path,
    varmap: &VarMap,
    optimizer: &AdamW,
    state: &impl Resumable,
) -> Result<()> {
    let tmp = run.join(format!("{LAST_DIR}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    save_weights(varmap, &tmp.join(WEIGHTS_FILE))?;
    faults::point(Fault::Write);
    optimizer.save(&tmp.join(OPTIMIZER))?;
    faults::point(Fault::Write);
    atomic_write(&tmp.join(STATE), &serde_json::to_vec_pretty(state)?)?;
    let (last, old) = (last_dir(run), old_dir(run));
    // `last/` is always whole (it only ever comes from renaming a finished tmp);
    // without it, a swap was cut short and `last.old/` is the checkpoint: keep it.
    if last.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&last, &old).with_context(|| format!("moving {} aside", last.display()))?;
    }
    faults::point(Fault::Write);
    std::fs::rename(&tmp, &last)
        .with_context(|| format!("renaming {} to {}", tmp.display(), last.display()))?;
    sync_dir(run)?;
    faults::point(Fault::Write);
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

fn old_dir(run: &Path) -> PathBuf {
    run.join(format!("{LAST_DIR}.old"))
}

/// The folder holding the run's resumable checkpoint, if it has one.
fn checkpoint_dir(run: &Path) -> Option<PathBuf> {
    [last_dir(run), old_dir(run)]
        .into_iter()
        .find(|d| d.join(STATE).is_file())
}

pub fn has_checkpoint(run: &Path) -> bool {
    checkpoint_dir(run).is_some()
}

/// When the run's checkpoint was last written, if it has one.
pub fn written(run: &Path) -> Option<std::time::SystemTime> {
    [last_dir(run), old_dir(run)]
        .iter()
        .filter_map(|d| d.metadata().and_then(|m| m.modified()).ok())
        .max()
}

/// The loop state of the run's checkpoint, if it has one.
pub fn read_state<S: Resumable>(run: &Path) -> Result<Option<S>> {
    let Some(dir) = checkpoint_dir(run) else {
        return Ok(None);
    };
    let path = dir.join(STATE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let state =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(Some(state))
}

/// Restore weights and optimizer in place; returns the loop state.
pub fn load_checkpoint<S: Resumable>(
    run: &Path,
    varmap: &VarMap,
    optimizer: &mut AdamW,
) -> Result<S> {
    let (Some(dir), Some(state)) = (checkpoint_dir(run), read_state::<S>(run)?) else {
        bail!(
            "{} has no checkpoint to resume from (no {LAST_DIR}/ folder): the run was stopped \
             before its first checkpoint was written; start it again",
            run.display()
        );
    };
    load_weights(varmap, &dir.join(WEIGHTS_FILE))?;
    optimizer.load(&dir.join(OPTIMIZER), state.step())?;
    Ok(state)
}
