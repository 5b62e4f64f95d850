//! Where a pretraining run stands, as its checkpoint and history.jsonl keep it:
//! the held-out points, the training curve between them, and the lines its
//! figure draws.

use crate::runner::checkpoint::{Resumable, Tally};
use crate::runner::folder::HISTORY_FILE;
use crate::util::rng::Rng;
use crate::viz::pretrain_curves::RunCurves;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Mean loss and token accuracy after `step`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LmPoint {
    pub step: usize,
    pub tokens: usize,
    pub loss: f64,
    pub acc: f64,
}

/// One held-out measurement, as history.jsonl records it, with the training
/// curve since the one before.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EvalRecord {
    pub step: usize,
    /// Real tokens trained on so far.
    pub tokens: usize,
    pub seconds: f64,
    pub lr: f64,
    pub held_out_loss: f64,
    pub held_out_acc: f64,
    pub train_curve: Vec<LmPoint>,
}

/// A run's history as the lines its figure draws, in millions of tokens.
pub fn curves(label: String, history: &[EvalRecord]) -> RunCurves {
    let m = |t: usize| t as f64 / 1e6;
    let train = || history.iter().flat_map(|r| &r.train_curve);
    RunCurves {
        label,
        train_loss: train().map(|p| (m(p.tokens), p.loss)).collect(),
        train_acc: train().map(|p| (m(p.tokens), p.acc)).collect(),
        held_loss: history
            .iter()
            .map(|r| (m(r.tokens), r.held_out_loss))
            .collect(),
        held_acc: history
            .iter()
            .map(|r| (m(r.tokens), r.held_out_acc))
            .collect(),
    }
}

/// Where the loop stands: enough to continue exactly where it stopped.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PretrainState {
    pub step: usize,
    /// Fixed before the first step (from `--tokens`, or `--minutes` and the
    /// measured speed), so a resumed run keeps its schedule.
    pub total_steps: usize,
    /// Held-out evaluations over the run: `--eval-points`, fewer when they
    /// would eat more than a tenth of a `--minutes` budget (0 in runs saved
    /// before this field: read as `--eval-points`).
    #[serde(default)]
    pub eval_points: usize,
    pub dropout_rng: Rng,
    pub tokens: usize,
    pub seconds: f64,
    pub window: Tally,
    pub curve: Vec<LmPoint>,
    pub history: Vec<EvalRecord>,
}

impl Resumable for PretrainState {
    fn step(&self) -> usize {
        self.step
    }
}

pub fn write_history(run: &Path, history: &[EvalRecord]) -> Result<()> {
    crate::util::fsutil::write_jsonl(&run.join(HISTORY_FILE), history)
}

/// A finished pretraining run's history.
pub fn read_history(run: &Path) -> Result<Vec<EvalRecord>> {
    let path = run.join(HISTORY_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}: line {}", path.display(), i + 1))
        })
        .collect()
}
