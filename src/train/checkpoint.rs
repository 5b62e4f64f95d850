//! The resumable training checkpoint: weights, optimizer moments and loop state,
//! written together into `last/` so a crash never leaves a mixed set.

use super::optim::AdamW;
use crate::faults::{self, Fault};
use crate::fsutil::{atomic_write, sync_dir};
use crate::model::store::{load_weights, save_weights};
use crate::rng::Rng;
use anyhow::{bail, Context, Result};
use candle_nn::VarMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const LAST_DIR: &str = "last";
/// One line per finished epoch; its presence makes a run folder serve a model.
pub const HISTORY_FILE: &str = "history.jsonl";
const WEIGHTS: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const STATE: &str = "state.json";

/// One finished epoch, as history.jsonl records it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    pub val_f1: f64,
    pub lr: f64,
    pub seconds: f64,
    pub tokens_per_s: f64,
    /// Training loss and accuracy over each stretch of CURVE_EVERY steps, so the
    /// curves show the epoch's inside too (one epoch is one point otherwise).
    #[serde(default)]
    pub train_curve: Vec<CurvePoint>,
    /// The validation points of the epoch, its end included (empty in histories
    /// written before validation ran inside epochs).
    #[serde(default)]
    pub val_curve: Vec<ValPoint>,
    /// The step whose weights are the best so far (`model.safetensors`).
    #[serde(default)]
    pub best_step: Option<usize>,
}

/// Mean training loss and accuracy over the steps that end at `epoch`
/// (fractional: 1.5 is half-way through the second epoch).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CurvePoint {
    pub epoch: f64,
    pub loss: f64,
    pub acc: f64,
}

/// One validation: loss and accuracy on the watched validation rows after
/// `step`, with the training loss of the epoch so far.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ValPoint {
    pub epoch: f64,
    pub step: usize,
    pub loss: f64,
    pub acc: f64,
    pub train_loss: f64,
}

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

/// Running sums of the epoch in progress.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EpochSums {
    pub epoch: Tally,
    pub real_tokens: usize,
    pub seconds: f64,
    /// The stretch since the last curve point, and the points so far.
    pub window: Tally,
    pub curve: Vec<CurvePoint>,
    #[serde(default)]
    pub val_curve: Vec<ValPoint>,
    /// Whether a validation of this epoch beat the best so far.
    #[serde(default)]
    pub improved: bool,
}

/// Where the loop stands: enough to continue exactly where it stopped.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LoopState {
    /// 0-based epoch in progress, and the next batch within it.
    pub epoch: usize,
    pub batch: usize,
    pub step: usize,
    pub dropout_rng: Rng,
    pub sums: EpochSums,
    pub history: Vec<EpochRecord>,
    /// The best watched validation loss; None before the first validation (JSON
    /// has no infinity).
    pub best_val_loss: Option<f64>,
    /// The 1-based epoch and the step of the best weights.
    pub best_epoch: usize,
    #[serde(default)]
    pub best_step: Option<usize>,
    pub epochs_since_best: usize,
}

/// A loop's state that a checkpoint can hold: the training loop's and the
/// pretraining loop's. The optimizer's bias correction resumes at its step.
pub trait Resumable: Serialize + DeserializeOwned {
    fn step(&self) -> usize;
}

impl Resumable for LoopState {
    fn step(&self) -> usize {
        self.step
    }
}

impl LoopState {
    pub fn new(seed: u64) -> Self {
        Self {
            epoch: 0,
            batch: 0,
            step: 0,
            dropout_rng: Rng::new(seed.wrapping_add(0xD80F)),
            sums: EpochSums::default(),
            history: Vec::new(),
            best_val_loss: None,
            best_epoch: 0,
            best_step: None,
            epochs_since_best: 0,
        }
    }
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
    save_weights(varmap, &tmp.join(WEIGHTS))?;
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
    load_weights(varmap, &dir.join(WEIGHTS))?;
    optimizer.load(&dir.join(OPTIMIZER), state.step())?;
    Ok(state)
}
