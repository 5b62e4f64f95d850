//! Where a training run stands, as its checkpoint and history.jsonl keep it:
//! the epochs so far, the curves inside them, the best validation.

use crate::model::store;
use crate::runner::checkpoint::{read_state, Resumable, Tally};
use crate::runner::folder::{serves_a_model, TRAIN_ARGS_FILE};
use crate::util::rng::Rng;
use crate::viz::curves::{EpochCurves, Points};
use crate::viz::forming::Lines;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

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

/// What every head reads of the forming examples at one validation point:
/// [example][layer][head][position], the weight each of the example's first
/// positions receives, × uniform.
pub type Forming = Vec<Vec<Vec<Vec<f32>>>>;

/// One head at one validation point, over the head sample's validation reviews
/// (`attn::watch`): what `figures/heads_over_training.png` draws.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HeadPoint {
    /// 1-based, as the figures number them.
    pub layer: usize,
    pub head: usize,
    /// Entropy / ln(keys seen), mean over queries and reviews: 1 is uniform.
    pub entropy: f64,
    /// The weight its 5 most-received non-special keys receive, × uniform.
    pub top5_x_uniform: f64,
    /// The share of those keys among the review's top 10% by |gradient × input|.
    pub precision_at_5: f64,
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
    /// Every head over the head sample (`--head-sample`); empty in runs that
    /// measured none, and then left out of the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<HeadPoint>,
    /// What every head reads of the head sample's shortest review of each class
    /// ([example][layer][head][position], × uniform): attn.html's slider.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forming: Forming,
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

/// A history as the lines its figure draws.
pub fn curves(history: &[EpochRecord]) -> EpochCurves {
    let (train_loss, train_acc) = train_points(history);
    let (val_loss, val_acc, best) = val_points(history);
    EpochCurves {
        epochs: history.len(),
        train_loss,
        train_acc,
        val_loss,
        val_acc,
        best,
        val_rows: None,
        kept_val_loss: None,
    }
}

/// Each head's points of one statistic over the validation points, in step
/// order; empty when the history measured no head.
pub fn head_lines(history: &[EpochRecord], value: fn(&HeadPoint) -> f64) -> Lines {
    let mut out: Lines = Vec::new();
    for point in history.iter().flat_map(|r| &r.val_curve) {
        for h in &point.heads {
            let key = (h.layer, h.head);
            let xy = (point.step as f64, value(h));
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, points)) => points.push(xy),
                None => out.push((key, vec![xy])),
            }
        }
    }
    out
}

/// Validation loss and accuracy points, and the point of the kept weights:
/// every validation, or the epoch ends for histories written before validation
/// ran inside epochs.
fn val_points(history: &[EpochRecord]) -> (Points, Points, Option<(f64, f64)>) {
    let best_step = history.last().and_then(|h| h.best_step);
    let mut best = None;
    let (loss, acc) = history
        .iter()
        .flat_map(|h| {
            if h.val_curve.is_empty() {
                vec![(h.epoch as f64, h.val_loss, h.val_acc)]
            } else {
                if let Some(p) = h.val_curve.iter().find(|p| Some(p.step) == best_step) {
                    best = Some((p.epoch, p.loss));
                }
                h.val_curve
                    .iter()
                    .map(|p| (p.epoch, p.loss, p.acc))
                    .collect()
            }
        })
        .map(|(x, loss, acc)| ((x, loss), (x, acc)))
        .unzip();
    (loss, acc, best)
}

/// Training loss and accuracy points, each the mean over the epoch's steps so
/// far: the quantity final_metrics.json (at the kept weights' step) and
/// history.jsonl (at the epoch's end) report, so the three agree. Built from
/// the windows inside each epoch, each weighted by its share of the epoch; the
/// epoch means alone for histories written before windows were recorded.
fn train_points(history: &[EpochRecord]) -> (Points, Points) {
    history
        .iter()
        .flat_map(|h| {
            if h.train_curve.is_empty() {
                return vec![(h.epoch as f64, h.train_loss, h.train_acc)];
            }
            let start = (h.epoch - 1) as f64;
            let (mut last, mut weight, mut loss, mut acc) = (start, 0.0, 0.0, 0.0);
            h.train_curve
                .iter()
                .map(|p| {
                    let w = p.epoch - last;
                    last = p.epoch;
                    weight += w;
                    loss += w * p.loss;
                    acc += w * p.acc;
                    (p.epoch, loss / weight, acc / weight)
                })
                .collect()
        })
        .map(|(x, loss, acc)| ((x, loss), (x, acc)))
        .unzip()
}

/// `serves_a_model`, or an error that says what the folder holds and what to do.
pub fn check_finished(dir: &Path) -> Result<()> {
    if serves_a_model(dir) {
        return Ok(());
    }
    if !dir.join(TRAIN_ARGS_FILE).is_file() {
        anyhow::bail!(
            "{} holds no trained model ({} is missing): pass a finished run, or finish a \
             pretraining run with xray pretrain --resume {}",
            dir.display(),
            store::WEIGHTS_FILE,
            dir.display()
        );
    }
    let there = match read_state::<LoopState>(dir)? {
        Some(s) => format!(
            "it holds a checkpoint at epoch {}, batch {} (last/); finish the epoch with: \
             xray train --resume {}",
            s.epoch + 1,
            s.batch,
            dir.display()
        ),
        None => "it holds no checkpoint either: it was stopped before its first one; \
                 train it again"
            .into(),
    };
    anyhow::bail!(
        "{} has not finished an epoch yet, so it has no trained model to serve: {there}",
        dir.display(),
    )
}
