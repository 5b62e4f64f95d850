//! What a finished run leaves behind: metrics/final_metrics.json (the brief's five
//! keys), metrics/run_summary.json, figures/curves.png, in the run folder and under
//! the output root, and `runs/latest` pointing at the run.

use super::calibrate::Calibration;
use super::evaluate::{watched_rows, Evaluation};
use super::metrics::ClassScores;
use super::options::TrainOptions;
use super::state::{curves, head_lines, EpochRecord, LoopState};
use crate::data::dataset::Splits;
use crate::runner::folder::{RunFiles, FINAL_METRICS_FILE, HISTORY_FILE, RUN_SUMMARY_FILE};
use crate::util::device::peak_rss_gb;
use crate::util::fsutil::atomic_write;
use crate::viz::curves::draw_curves;
use crate::viz::forming::draw_heads_over_training;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Exactly the brief's keys.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FinalMetrics {
    pub test_accuracy: f64,
    pub test_f1: f64,
    pub val_loss: f64,
    pub train_loss: f64,
    pub best_epoch: usize,
}

/// metrics/run_summary.json: the run, its options, its test scores and history.
/// The video reads it back through this type.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    pub dataset: String,
    pub labels: Vec<String>,
    pub run: String,
    pub options: TrainOptions,
    /// Train, validation and test rows.
    pub rows: [usize; 3],
    pub test_loss: f64,
    pub test_accuracy: f64,
    pub test_f1: f64,
    pub confusion: Vec<Vec<usize>>,
    pub per_class: Vec<ClassScores>,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub best_step: Option<usize>,
    pub wall_time_s: f64,
    pub train_seconds: f64,
    pub train_tokens_per_s: f64,
    pub train_padding_fraction: f64,
    pub peak_rss_gb: f64,
    pub history: Vec<EpochRecord>,
    /// The temperature fitted on the validation split, and what it does there
    /// and on the test split (absent in runs trained before it).
    #[serde(default)]
    pub calibration: Vec<Calibration>,
}

/// The kept weights evaluated on the whole validation split and on the test split.
pub struct BestWeights {
    pub val: Evaluation,
    pub test: Evaluation,
    /// Fitted on `val`, then applied to `test`.
    pub calibration: [Calibration; 2],
}

/// The figure of the heads forming, beside curves.png.
pub const HEADS_OVER_TRAINING: &str = "heads_over_training.png";

pub fn write_outputs(
    files: &RunFiles,
    opts: &TrainOptions,
    splits: &Splits,
    state: &LoopState,
    best: &BestWeights,
    padding: f64,
    wall_time_s: f64,
) -> Result<FinalMetrics> {
    let metrics = final_metrics(state, best)?;
    let mut summary = RunSummary::new(files, opts, splits, state, &best.test, padding, wall_time_s);
    summary.calibration = best.calibration.to_vec();
    let epochs = match state.history.len() {
        1 => "one epoch".to_string(),
        n => format!("{n} epochs"),
    };
    let title = format!(
        "{} ({:?}): loss and accuracy over {epochs}",
        splits.name, opts.model.arch
    )
    .to_lowercase();
    for (metrics_dir, figures_dir) in [
        (files.run.clone(), files.run.clone()),
        (files.metrics_dir(), files.figures_dir()),
    ] {
        atomic_write(
            &metrics_dir.join(FINAL_METRICS_FILE),
            &serde_json::to_vec_pretty(&metrics)?,
        )?;
        atomic_write(
            &metrics_dir.join(RUN_SUMMARY_FILE),
            &serde_json::to_vec_pretty(&summary)?,
        )?;
        std::fs::create_dir_all(&figures_dir)
            .with_context(|| format!("creating {}", figures_dir.display()))?;
        let mut lines = curves(&state.history);
        let watched = watched_rows(splits.val.len(), opts.val_points).len();
        lines.val_rows = Some((watched, splits.val.len()));
        lines.kept_val_loss = Some(best.val.loss);
        draw_curves(lines, &title, &figures_dir.join("curves.png"))?;
        let contrast = head_lines(&state.history, |h| h.top5_x_uniform);
        if !contrast.is_empty() {
            draw_heads_over_training(
                &contrast,
                &head_lines(&state.history, |h| h.precision_at_5),
                opts.head_sample.min(splits.val.len()),
                &figures_dir.join(HEADS_OVER_TRAINING),
            )?;
        }
    }
    // The run folder's own history.jsonl is written as each epoch ends; metrics/
    // gets the same lines with the summary that quotes them, never a stale copy.
    crate::util::fsutil::write_jsonl(&files.metrics_dir().join(HISTORY_FILE), &state.history)?;
    println!(
        "test accuracy {:.4}, macro F1 {:.4} (best epoch {}); wrote {}/final_metrics.json, \
         {}/curves.png",
        metrics.test_accuracy,
        metrics.test_f1,
        metrics.best_epoch,
        files.metrics_dir().display(),
        files.figures_dir().display()
    );
    Ok(metrics)
}

/// The brief's five numbers for the kept weights.
fn final_metrics(state: &LoopState, best: &BestWeights) -> Result<FinalMetrics> {
    let epoch = state
        .history
        .iter()
        .find(|h| h.epoch == state.best_epoch)
        .context("no finished epoch to report")?;
    // The training loss up to the best weights' step (the epoch's mean when they
    // are its end, or for histories without validation points).
    let train_loss = epoch
        .val_curve
        .iter()
        .find(|p| Some(p.step) == state.best_step)
        .map_or(epoch.train_loss, |p| p.train_loss);
    Ok(FinalMetrics {
        test_accuracy: best.test.scores.accuracy,
        test_f1: best.test.scores.macro_f1,
        val_loss: best.val.loss,
        train_loss,
        best_epoch: state.best_epoch,
    })
}

impl RunSummary {
    fn new(
        files: &RunFiles,
        opts: &TrainOptions,
        splits: &Splits,
        state: &LoopState,
        test: &Evaluation,
        padding: f64,
        wall_time_s: f64,
    ) -> Self {
        let train_seconds: f64 = state.history.iter().map(|h| h.seconds).sum();
        let train_tokens: f64 = state
            .history
            .iter()
            .map(|h| h.tokens_per_s * h.seconds)
            .sum();
        Self {
            dataset: splits.name.clone(),
            labels: splits.label_names.clone(),
            run: files.run.display().to_string(),
            options: opts.clone(),
            rows: [splits.train.len(), splits.val.len(), splits.test.len()],
            test_loss: test.loss,
            test_accuracy: test.scores.accuracy,
            test_f1: test.scores.macro_f1,
            confusion: test.scores.confusion.clone(),
            per_class: test.scores.per_class.clone(),
            epochs_run: state.history.len(),
            best_epoch: state.best_epoch,
            best_step: state.best_step,
            wall_time_s,
            train_seconds,
            train_tokens_per_s: train_tokens / train_seconds.max(1e-9),
            train_padding_fraction: padding,
            peak_rss_gb: peak_rss_gb(),
            history: state.history.clone(),
            calibration: Vec::new(),
        }
    }
}
