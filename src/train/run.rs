//! A training run, top to bottom: `train` or `resume` sets up the run folder and
//! the [`Trainer`], whose `run` loops `epoch` (the steps, the training curve,
//! Ctrl-C, validations inside the epoch) and `end_epoch` (validation, best and
//! last checkpoints), then `finish` evaluates the best checkpoint on the
//! validation and test splits and writes the reports.

use super::calibrate::Calibration;
use super::data::{EncodedSplit, EncodedSplits};
use super::evaluate::{evaluate, watched_rows, Evaluation};
use super::lengths::cut_span;
use super::options::{TrainOptions, SPAN_TOKENS};
use super::probe::{HeadProbe, ProbeMaker};
use super::report::{write_outputs, BestWeights};
use super::state::{CurvePoint, EpochRecord, LoopState, ValPoint};
use crate::data::collate::{collate, epoch_batches, padding_fraction};
use crate::data::dataset::Splits;
use crate::data::tokenize::{build_tokenizer, load_tokenizer, TokenizerSpec};
use crate::model::store::{
    detached_model, init_model, load_body, load_config, load_weights, save_model,
};
use crate::model::{Classifier, Config};
use crate::pretrain::options::PretrainOptions;
use crate::runner::control::{Control, CURVE_EVERY_STEPS};
use crate::runner::folder::{
    start_in, write_start_files, RunFiles, HISTORY_FILE, LABELS_FILE, TOKENIZER_FILE,
    TRAIN_ARGS_FILE, WEIGHTS_FILE,
};
use crate::runner::optim::Schedule;
use crate::runner::step::{check_finite, train_step, StepConfig};
use crate::runner::weights::Weights;
use crate::train::state::check_finished;
use crate::util::faults::{self, Fault};
use crate::util::fsutil::atomic_write;
use crate::util::rng::Rng;
use crate::util::usage::require;
use anyhow::{Context, Result};
use candle_core::{DType, Device};
use candle_nn::VarMap;
use indicatif::ProgressBar;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokenizers::Tokenizer;

/// Whether batch `batch` (1-based) of `n` ends a curve window: every
/// CURVE_EVERY_STEPS batches, but an epoch's last few batches join the window
/// before them (a point from a handful of rows is a spike of noise at the end).
fn closes_window(batch: usize, n: usize) -> bool {
    batch == n || (batch.is_multiple_of(CURVE_EVERY_STEPS) && n - batch >= CURVE_EVERY_STEPS / 2)
}

pub enum Outcome {
    Finished(super::report::FinalMetrics),
    /// Stopped on request with a resumable checkpoint in the run folder.
    Interrupted(PathBuf),
}

/// Start a new run in `files.run`. Options, data and tokenizer are checked
/// before the folder exists (`start_in` clears it again if the start fails).
/// `probe` measures the heads at each validation point (`--head-sample`); without
/// one, nothing is measured.
pub fn train(
    opts: TrainOptions,
    files: &RunFiles,
    device: &Device,
    control: &Control,
    probe: Option<ProbeMaker>,
) -> Result<Outcome> {
    opts.check()?;
    start_in(&files.run, || start(opts, files, device, control, probe))
}

fn start(
    mut opts: TrainOptions,
    files: &RunFiles,
    device: &Device,
    control: &Control,
    probe: Option<ProbeMaker>,
) -> Result<Outcome> {
    let splits = super::data::load_data(&opts)?;
    super::data::check_classes(&splits)?;
    let tokenizer = match opts.init.clone() {
        Some(dir) => pretrained(&dir, &mut opts)?,
        None => build_tokenizer(
            &opts.tokenizer.parse::<TokenizerSpec>()?,
            &super::data::prepared(&splits.train.texts, &opts),
        )?,
    };
    opts.model.vocab_size = tokenizer.get_vocab_size(true);
    opts.model.n_classes = splits.label_names.len();
    opts.model.validate()?;
    write_start_files(&files.run, &tokenizer, TRAIN_ARGS_FILE, &opts)?;
    atomic_write(
        &files.run.join(LABELS_FILE),
        &serde_json::to_vec_pretty(&splits.label_names)?,
    )?;
    Trainer::new(&opts, &splits, &tokenizer, files, device, Start::New)?
        .with_probe(probe, &tokenizer)
        .run(control)
}

/// `--init DIR`: the pretrained run's tokenizer and architecture; this run
/// keeps its own length, pooling, dropout and classes. Returns the tokenizer.
fn pretrained(dir: &Path, opts: &mut TrainOptions) -> Result<Tokenizer> {
    check_finished(dir).context("--init")?;
    let body = load_config(dir).with_context(|| {
        format!(
            "--init {}: is it a finished `xray pretrain` run?",
            dir.display()
        )
    })?;
    require(body.arch == opts.model.arch, || {
        format!(
            "--init {}: pretrained as {:?}; add --arch {:?} (and a pooling it supports)",
            dir.display(),
            body.arch,
            body.arch
        )
        .to_lowercase()
    })?;
    if let Ok(pre) = PretrainOptions::read(dir) {
        if (pre.seed, pre.val_frac) != (opts.seed, opts.val_frac) {
            eprintln!(
                "warning: {} was pretrained with --seed {} --val-frac {}: with other values \
                 some of this run's validation texts were in its corpus",
                dir.display(),
                pre.seed,
                pre.val_frac
            );
        }
    }
    opts.model = Config {
        max_len: opts.model.max_len,
        pool: opts.model.pool,
        dropout: opts.model.dropout,
        attn_dropout: opts.model.attn_dropout,
        ..body
    };
    opts.tokenizer = dir.join(TOKENIZER_FILE).display().to_string();
    load_tokenizer(&dir.join(TOKENIZER_FILE))
}

/// Continue the run in `files.run` from its last checkpoint, with its saved options.
pub fn resume(
    files: &RunFiles,
    device: &Device,
    control: &Control,
    probe: Option<ProbeMaker>,
) -> Result<Outcome> {
    let opts = TrainOptions::read(&files.run)?;
    let splits = super::data::load_data(&opts)?;
    let tokenizer = load_tokenizer(&files.run.join(TOKENIZER_FILE))?;
    Trainer::new(&opts, &splits, &tokenizer, files, device, Start::Resume)?
        .with_probe(probe, &tokenizer)
        .run(control)
}

enum Start {
    New,
    /// From the run folder's `last/` checkpoint.
    Resume,
}

/// The shuffle of epoch `epoch`: a function of the seed alone, so a resumed run
/// draws the same batches.
fn epoch_rng(seed: u64, epoch: usize) -> Rng {
    Rng::new(seed * 1000 + epoch as u64)
}

/// Everything a run holds while it trains.
struct Trainer<'a> {
    opts: &'a TrainOptions,
    splits: &'a Splits,
    files: &'a RunFiles,
    device: &'a Device,
    data: EncodedSplits,
    /// The validation rows that choose the best weights, and those rows alone
    /// for the validations inside an epoch.
    watched: Vec<usize>,
    watch: EncodedSplit,
    /// The validation reviews every head is measured on at each validation
    /// point, and the seconds that has taken in this process.
    heads: Option<Box<dyn HeadProbe>>,
    head_seconds: f64,
    steps_per_epoch: usize,
    /// Trains through autograd; `eval_model` shares its weights, detached.
    model: Classifier,
    eval_model: Classifier,
    weights: Weights,
    schedule: Schedule,
    state: LoopState,
    wall: Instant,
}

impl<'a> Trainer<'a> {
    fn new(
        opts: &'a TrainOptions,
        splits: &'a Splits,
        tokenizer: &Tokenizer,
        files: &'a RunFiles,
        device: &'a Device,
        start: Start,
    ) -> Result<Self> {
        let wall = Instant::now();
        let data = EncodedSplits::new(tokenizer, splits, opts)?;
        let (model, varmap) = init_model(&opts.model, opts.seed, DType::F32, device)?;
        let eval_model = detached_model(&varmap, &opts.model, device)?;
        let mut weights = Weights::new(varmap, opts.adamw())?;
        let state = match start {
            Start::Resume => {
                let state: LoopState = weights.resume(&files.run)?;
                println!(
                    "resuming {} at epoch {}, batch {}",
                    files.run.display(),
                    state.epoch + 1,
                    state.batch
                );
                finish_validation_writes(&state, &weights.varmap, &opts.model, files)?;
                state
            }
            Start::New => {
                if let Some(dir) = &opts.init {
                    let n = load_body(&weights.varmap, &dir.join(WEIGHTS_FILE))?;
                    println!(
                        "body ({n} tensors) from {}; new pooling and head",
                        dir.display()
                    );
                }
                LoopState::new(opts.seed)
            }
        };
        let steps_per_epoch = data.train.ids.len().div_ceil(opts.batch_size);
        let schedule = Schedule::new(opts.lr, opts.warmup_frac, steps_per_epoch * opts.epochs);
        println!(
            "{}: {} train / {} val / {} test; {steps_per_epoch} steps per epoch; run folder {}",
            splits.name,
            splits.train.len(),
            splits.val.len(),
            splits.test.len(),
            files.run.display()
        );
        let watched = watched_rows(data.val.ids.len(), opts.val_points);
        let watch = data.val.subset(&watched);
        Ok(Self {
            opts,
            splits,
            files,
            device,
            data,
            watched,
            watch,
            heads: None,
            head_seconds: 0.0,
            steps_per_epoch,
            model,
            eval_model,
            weights,
            schedule,
            state,
            wall,
        })
    }

    /// Measure the heads at each validation point with `probe`'s sample of
    /// `--head-sample` validation reviews (none when either is missing).
    fn with_probe(mut self, probe: Option<ProbeMaker>, tokenizer: &Tokenizer) -> Self {
        let (pool, n) = (self.opts.model.pool, self.opts.head_sample);
        let probe = probe.map(|make| make(&self.data.val, tokenizer, pool, n));
        self.heads = probe.filter(|p| p.reviews() > 0);
        self
    }

    fn run(mut self, control: &Control) -> Result<Outcome> {
        while self.state.epoch < self.opts.epochs
            && self.state.epochs_since_best < self.opts.patience
        {
            if !self.epoch(control)? {
                self.save_last()?;
                return Ok(Outcome::Interrupted(self.files.run.clone()));
            }
            self.end_epoch()?;
        }
        self.finish()
    }

    /// The rest of the epoch in progress; false when stopped on request before its end.
    fn epoch(&mut self, control: &Control) -> Result<bool> {
        let batches = epoch_batches(
            &self.data.train.lengths(),
            self.opts.batch_size,
            self.opts.bucket,
            &mut epoch_rng(self.opts.seed, self.state.epoch),
        );
        let bar = crate::util::progress::bar(
            batches.len() as u64,
            "epoch {prefix} {bar:30} {pos}/{len} {msg} ETA {eta}",
        );
        bar.set_prefix(format!("{}/{}", self.state.epoch + 1, self.opts.epochs));
        bar.set_position(self.state.batch as u64);
        while self.state.batch < batches.len() {
            if control.stop_before(self.state.step) {
                bar.finish_and_clear();
                return Ok(false);
            }
            self.step(&batches[self.state.batch], batches.len(), &bar)?;
            if self.validation_due() {
                bar.suspend(|| self.validate_inside())?;
            }
            faults::point(Fault::Step);
            let due = self
                .weights
                .checkpoint_due(control.checkpoint, self.state.step);
            if due && self.state.batch < batches.len() {
                self.save_last()?;
            }
        }
        bar.finish_and_clear();
        Ok(true)
    }

    /// Training row `row` as this epoch draws it: whole, or with probability
    /// `--spans` a random span of it. The draw depends on the seed, the epoch and
    /// the row alone, so a resumed run draws the same.
    fn drawn<'b>(&self, row: usize, ids: &'b [u32]) -> Cow<'b, [u32]> {
        if self.opts.spans == 0.0 {
            return Cow::Borrowed(ids);
        }
        let key = self.opts.seed.wrapping_mul(0x9E37_79B9)
            ^ ((self.state.epoch as u64) << 32)
            ^ row as u64;
        let mut rng = Rng::new(key ^ 0x5350_414E);
        if rng.uniform() >= self.opts.spans {
            return Cow::Borrowed(ids);
        }
        let k = SPAN_TOKENS.start() + rng.below(SPAN_TOKENS.end() - SPAN_TOKENS.start() + 1);
        Cow::Owned(cut_span(ids, k, &mut rng))
    }

    /// One optimizer step on the batch of these training rows, and its bookkeeping.
    fn step(&mut self, rows: &[usize], n_batches: usize, bar: &ProgressBar) -> Result<()> {
        let started = Instant::now();
        let train = &self.data.train;
        let seqs: Vec<Cow<[u32]>> = rows.iter().map(|&i| self.drawn(i, &train.ids[i])).collect();
        let seqs: Vec<&[u32]> = seqs.iter().map(|s| s.as_ref()).collect();
        let labels: Vec<u32> = rows.iter().map(|&i| train.labels[i]).collect();
        let batch = collate(&seqs, &labels, self.device)?;
        let config = StepConfig {
            lr: self.schedule.lr(self.state.step),
            clip: self.opts.clip,
        };
        let state = &mut self.state;
        let (loss, correct) = train_step(
            &self.model,
            &mut self.weights.optimizer,
            &batch,
            config,
            &mut state.dropout_rng,
        )?;
        let at = format!("epoch {}, step {}", state.epoch + 1, state.step);
        check_finite(loss, "training", &at, &self.files.run)?;
        state.batch += 1;
        state.step += 1;
        let s = &mut state.sums;
        s.epoch.add(loss, correct, rows.len());
        s.window.add(loss, correct, rows.len());
        s.real_tokens += batch.real_tokens;
        s.seconds += started.elapsed().as_secs_f64();
        if closes_window(state.batch, n_batches) {
            let w = std::mem::take(&mut s.window);
            s.curve.push(CurvePoint {
                epoch: state.epoch as f64 + state.batch as f64 / n_batches as f64,
                loss: w.mean_loss(),
                acc: w.accuracy(),
            });
        }
        let status = format!(
            "loss {:.4} acc {:.3} {:.0} tok/s",
            s.epoch.mean_loss(),
            s.epoch.accuracy(),
            s.real_tokens as f64 / s.seconds
        );
        if bar.is_hidden() && state.batch.is_multiple_of(CURVE_EVERY_STEPS) {
            println!(
                "epoch {}/{} step {}/{n_batches}  {status}",
                state.epoch + 1,
                self.opts.epochs,
                state.batch
            );
        }
        bar.set_message(status);
        bar.inc(1);
        Ok(())
    }

    /// `val_points` validations per epoch, evenly spaced; this one at its end.
    fn validation_due(&self) -> bool {
        let (batch, n) = (self.state.batch, self.steps_per_epoch);
        let points = self.opts.val_points;
        batch < n && (1..points).any(|k| k * n / points == batch)
    }

    /// A validation inside the epoch, on the watched rows only.
    fn validate_inside(&mut self) -> Result<()> {
        let val = self.evaluate(&self.watch)?;
        let improved = self.record_validation(val.loss, val.scores.accuracy)?;
        self.save_last()?;
        if improved {
            self.save_best()?;
        }
        let s = &self.state;
        println!(
            "  step {}/{}: val loss {:.4} acc {:.4} on {} watched rows{}",
            s.batch,
            self.steps_per_epoch,
            val.loss,
            val.scores.accuracy,
            self.watched.len(),
            if improved { "  (best so far)" } else { "" }
        );
        Ok(())
    }

    /// Add a validation point after the current step, every head measured on the
    /// head sample; note the step as the best if its watched loss is the lowest
    /// so far. Returns whether it was.
    fn record_validation(&mut self, loss: f64, acc: f64) -> Result<bool> {
        let started = Instant::now();
        let (heads, forming) = match &self.heads {
            None => (Vec::new(), Vec::new()),
            Some(probe) => probe.measure(&self.eval_model, self.device)?,
        };
        self.head_seconds += started.elapsed().as_secs_f64();
        let state = &mut self.state;
        state.sums.val_curve.push(ValPoint {
            epoch: state.epoch as f64 + state.batch as f64 / self.steps_per_epoch as f64,
            step: state.step,
            loss,
            acc,
            train_loss: state.sums.epoch.mean_loss(),
            heads,
            forming,
        });
        let improved = state.best_val_loss.is_none_or(|best| loss < best);
        if improved {
            state.best_val_loss = Some(loss);
            state.best_epoch = state.epoch + 1;
            state.best_step = Some(state.step);
            state.sums.improved = true;
        }
        Ok(improved)
    }

    /// The current weights as the best so far. The checkpoint written just
    /// before holds the same weights and a state naming this step the best, so
    /// a kill between the two is repaired on resume (`finish_validation_writes`).
    fn save_best(&self) -> Result<()> {
        save_model(&self.weights.varmap, &self.opts.model, &self.files.run)?;
        faults::point(Fault::Best);
        Ok(())
    }

    /// Validate on the whole split, record the epoch, checkpoint the loop at
    /// the start of the next one, keep the weights if they are the best so far,
    /// and only then publish the epoch: history.jsonl makes the folder serve.
    fn end_epoch(&mut self) -> Result<()> {
        let val = self.evaluate(&self.data.val)?;
        let (watched_loss, watched_acc) = val.on_rows(&self.watched, &self.data.val.labels);
        let improved = self.record_validation(watched_loss, watched_acc)?;
        let state = &mut self.state;
        let s = std::mem::take(&mut state.sums);
        let record = EpochRecord {
            epoch: state.epoch + 1,
            train_loss: s.epoch.mean_loss(),
            train_acc: s.epoch.accuracy(),
            val_loss: val.loss,
            val_acc: val.scores.accuracy,
            val_f1: val.scores.macro_f1,
            lr: self.schedule.lr(state.step),
            seconds: s.seconds,
            tokens_per_s: s.real_tokens as f64 / s.seconds,
            train_curve: s.curve,
            val_curve: s.val_curve,
            best_step: state.best_step,
        };
        println!(
            "epoch {}/{}  train loss {:.4} acc {:.4} | val loss {:.4} acc {:.4} F1 {:.4} | \
             {:.0} s, {:.0} tok/s{}",
            record.epoch,
            self.opts.epochs,
            record.train_loss,
            record.train_acc,
            record.val_loss,
            record.val_acc,
            record.val_f1,
            record.seconds,
            record.tokens_per_s,
            if improved { "  (best so far)" } else { "" }
        );
        if let Some(probe) = &self.heads {
            println!(
                "  every head measured on {} validation reviews at each validation point: {:.1} s so far",
                probe.reviews(),
                self.head_seconds
            );
        }
        if s.improved {
            state.epochs_since_best = 0;
        } else {
            state.epochs_since_best += 1;
        }
        state.history.push(record);
        state.epoch += 1;
        state.batch = 0;
        self.save_last()?;
        if improved {
            self.save_best()?;
        }
        publish_epochs(self.files, &self.state.history)
    }

    fn save_last(&mut self) -> Result<()> {
        self.weights.save_last(&self.files.run, &self.state)
    }

    fn evaluate(&self, split: &EncodedSplit) -> Result<Evaluation> {
        evaluate(
            &self.eval_model,
            split,
            self.opts.eval_batch_size,
            &self.splits.label_names,
            self.device,
        )
    }

    /// The best weights, evaluated on the whole validation split (they may come
    /// from inside an epoch) and once on the test split; the reports.
    fn finish(self) -> Result<Outcome> {
        load_weights(&self.weights.varmap, &self.files.run.join(WEIGHTS_FILE))?;
        let val = self.evaluate(&self.data.val)?;
        let fitted = Calibration::fitted("val", &val.probs, &self.data.val.labels);
        fitted.write(&self.files.run)?;
        faults::point(Fault::Final);
        let test = self.evaluate(&self.data.test)?;
        let applied = Calibration::at(
            "test",
            fitted.temperature,
            &test.probs,
            &self.data.test.labels,
        );
        println!("calibrated: {}; {}", fitted.line(), applied.line());
        let lengths = self.data.train.lengths();
        let batches = epoch_batches(
            &lengths,
            self.opts.batch_size,
            self.opts.bucket,
            &mut epoch_rng(self.opts.seed, 0),
        );
        let metrics = write_outputs(
            self.files,
            self.opts,
            self.splits,
            &self.state,
            &BestWeights {
                val,
                test,
                calibration: [fitted, applied],
            },
            padding_fraction(&batches, &lengths),
            self.wall.elapsed().as_secs_f64(),
        )?;
        // Again here: a kill between history.jsonl and the link is mended now.
        self.files.point_latest_here()?;
        Ok(Outcome::Finished(metrics))
    }
}

/// history.jsonl, which makes the folder serve a model, then `runs/latest`.
fn publish_epochs(files: &RunFiles, history: &[EpochRecord]) -> Result<()> {
    crate::util::fsutil::write_jsonl(&files.run.join(HISTORY_FILE), history)?;
    files.point_latest_here()
}

/// A checkpoint is written before the files that follow a validation (the best
/// weights, then at an epoch's end history.jsonl): redo those a kill cut off.
fn finish_validation_writes(
    state: &LoopState,
    varmap: &VarMap,
    config: &Config,
    files: &RunFiles,
) -> Result<()> {
    if state.best_step == Some(state.step) {
        // The checkpoint's weights are the best: a validation just chose them.
        save_model(varmap, config, &files.run)?;
    }
    let published = std::fs::read_to_string(files.run.join(HISTORY_FILE))
        .map_or(0, |text| text.lines().count());
    if published < state.history.len() {
        publish_epochs(files, &state.history)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_window_is_never_a_handful_of_batches() {
        let ends = |n: usize| (1..=n).filter(|&b| closes_window(b, n)).collect::<Vec<_>>();
        // 704 batches: windows end at 50, ..., 650, then 704 (54 batches), not 700 and 704.
        let e = ends(704);
        assert_eq!(e.len(), 14);
        assert_eq!(&e[e.len() - 2..], &[650, 704]);
        // 730: the last window (30 batches) is half a window or more and stands alone.
        assert_eq!(&ends(730)[13..], &[700, 730]);
        assert_eq!(ends(10), vec![10]);
    }
}
