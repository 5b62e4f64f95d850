//! Where a training run stands, as its checkpoint and history.jsonl keep it:
//! the epochs so far, the curves inside them, the best validation.

use crate::rng::Rng;
use crate::runner::checkpoint::{Resumable, Tally};
use serde::{Deserialize, Serialize};

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
