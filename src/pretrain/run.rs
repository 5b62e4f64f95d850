//! A pretraining run, top to bottom: `pretrain` or `resume` sets up the run
//! folder and the [`Pretrainer`], whose `run` takes steps over the corpus's
//! windows until the budget is spent, measuring the held-out windows at evenly
//! spaced points, then `finish` saves the pretrained model. The step, AdamW,
//! the schedule and the checkpoints are the run floor's (`crate::runner`), the
//! same as `xray train`'s; `state` holds where the loop stands.

use super::corpus::{load_texts, Corpus};
use super::masking::MaskRule;
use super::objective::{held_out, Pretraining};
use super::options::{Budget, PretrainOptions};
use super::state::{curves, write_history, EvalRecord, LmPoint, PretrainState};
use crate::data::collate::{epoch_batches, sorted_batches};
use crate::data::tokenize::{build_tokenizer, load_tokenizer, TokenizerSpec};
use crate::model::store::{detached_language_model, init_language_model, save_model};
use crate::model::{Arch, LanguageModel, LmBatch, Masks};
use crate::runner::checkpoint::Tally;
use crate::runner::control::{Control, CURVE_EVERY_STEPS};
use crate::runner::folder::{
    start_in, write_start_files, HISTORY_FILE, PRETRAIN_ARGS_FILE, SNAPSHOTS_DIR, TOKENIZER_FILE,
};
use crate::runner::optim::{AdamWConfig, Schedule};
use crate::runner::step::{check_finite, train_step, Objective, StepConfig};
use crate::runner::weights::Weights;
use crate::util::rng::Rng;
use anyhow::{Context, Result};
use candle_core::{DType, Device};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokenizers::Tokenizer;

/// The figure of the run's curves, in the run folder.
pub const CURVES_FIGURE: &str = "pretrain_curves.png";
/// Steps timed, after two untimed ones (first touches of memory), to turn
/// `--minutes` into steps.
const PROBE_STEPS: usize = 6;
const PROBE_WARMUP: usize = 2;
/// The most of a `--minutes` budget the held-out evaluations may take.
const EVAL_SHARE: f64 = 0.1;
/// Held-out windows per forward: the (N, V) logits of 32 windows at 15% take
/// 150 MB, and their softmax as much again.
const EVAL_BATCH: usize = 32;
/// Snapshots of the body at k/SNAPSHOTS of the budget.
const SNAPSHOTS: usize = 4;

/// How many of `asked` evaluations of `eval_s` seconds fit in a tenth of a
/// budget of `budget_s` (at least one): a short budget spent on evaluations
/// would train nothing.
fn evals_within(budget_s: f64, eval_s: f64, asked: usize) -> usize {
    let fit = (EVAL_SHARE * budget_s / eval_s.max(1e-9)) as usize;
    asked.min(fit).max(1)
}

pub enum Outcome {
    /// The run folder, with the pretrained model and its history.
    Finished(PathBuf),
    /// Stopped on request with a resumable checkpoint in the run folder.
    Interrupted(PathBuf),
}

/// Start a new run in `run` (`start_in` clears it again if the start fails).
pub fn pretrain(
    opts: &PretrainOptions,
    run: &Path,
    device: &Device,
    control: &Control,
) -> Result<Outcome> {
    opts.check()?;
    start_in(run, || {
        let texts = load_texts(opts)?;
        let tokenizer = build_tokenizer(&opts.tokenizer.parse::<TokenizerSpec>()?, &texts)?;
        let mut opts = opts.clone();
        opts.model.vocab_size = tokenizer.get_vocab_size(true);
        opts.model.validate()?;
        write_start_files(run, &tokenizer, PRETRAIN_ARGS_FILE, &opts)?;
        let corpus = Corpus::new(&tokenizer, &texts, &opts)?;
        Pretrainer::new(&opts, corpus, &tokenizer, run, device, Start::New)?.run(control)
    })
}

/// Continue the run in `run` from its last checkpoint, with its saved options.
pub fn resume(run: &Path, device: &Device, control: &Control) -> Result<Outcome> {
    let opts = PretrainOptions::read(run)?;
    let tokenizer = load_tokenizer(&run.join(TOKENIZER_FILE))?;
    let corpus = Corpus::new(&tokenizer, &load_texts(&opts)?, &opts)?;
    Pretrainer::new(&opts, corpus, &tokenizer, run, device, Start::Resume)?.run(control)
}

enum Start {
    /// Measure the untrained model and fix the step count.
    New,
    /// From the run folder's `last/` checkpoint.
    Resume,
}

/// Everything a run holds while it trains.
struct Pretrainer<'a> {
    opts: &'a PretrainOptions,
    run: &'a Path,
    device: &'a Device,
    corpus: Corpus,
    rule: MaskRule,
    held_out: Vec<LmBatch>,
    /// Trains through autograd; `eval_model` shares its weights, detached.
    model: LanguageModel,
    eval_model: LanguageModel,
    weights: Weights,
    state: PretrainState,
    /// The batches of the pass in progress, and which pass they are.
    pass: (usize, Vec<Vec<usize>>),
}

impl<'a> Pretrainer<'a> {
    fn new(
        opts: &'a PretrainOptions,
        corpus: Corpus,
        tokenizer: &Tokenizer,
        run: &'a Path,
        device: &'a Device,
        start: Start,
    ) -> Result<Self> {
        let (model, varmap) = init_language_model(&opts.model, opts.seed, DType::F32, device)?;
        let eval_model = detached_language_model(&varmap, &opts.model, device)?;
        let rule = mask_rule(opts, tokenizer)?;
        let held_out = held_out_batches(&corpus, &rule, opts, device)?;
        println!(
            "{}: {} training windows ({} tokens), {} held out; run folder {}",
            opts.dataset.name(),
            corpus.train.len(),
            corpus.real_tokens(),
            corpus.held_out.len(),
            run.display()
        );
        let mut this = Self {
            opts,
            run,
            device,
            corpus,
            rule,
            held_out,
            model,
            eval_model,
            weights: Weights::new(
                varmap,
                AdamWConfig {
                    weight_decay: opts.weight_decay,
                    ..AdamWConfig::default()
                },
            )?,
            state: PretrainState {
                step: 0,
                total_steps: 0,
                eval_points: opts.eval_points,
                dropout_rng: Rng::new(opts.seed.wrapping_add(0xD80F)),
                tokens: 0,
                seconds: 0.0,
                window: Tally::default(),
                curve: Vec::new(),
                history: Vec::new(),
            },
            pass: (usize::MAX, Vec::new()),
        };
        match start {
            Start::New => this.plan()?,
            Start::Resume => {
                this.state = this.weights.resume(run)?;
                println!(
                    "resuming {} at step {}/{}",
                    run.display(),
                    this.state.step,
                    this.state.total_steps
                );
            }
        }
        Ok(this)
    }

    /// The held-out point before training, and the step count of the budget.
    fn plan(&mut self) -> Result<()> {
        let started = Instant::now();
        self.record_eval(0.0)?;
        let eval_s = started.elapsed().as_secs_f64();
        let tokens_per_step = self.corpus.real_tokens() as f64 / self.corpus.train.len() as f64
            * self.opts.batch_size as f64;
        let steps = match self.opts.budget {
            Budget::Tokens(n) => n as f64 / tokens_per_step,
            Budget::Minutes(m) => {
                let step_s = self.probe_step_seconds()?;
                self.state.eval_points = evals_within(m * 60.0, eval_s, self.opts.eval_points);
                let evals = eval_s * self.state.eval_points as f64;
                (m * 60.0 - evals).max(0.0) / step_s
            }
        };
        self.state.total_steps = (steps.ceil() as usize).max(1);
        if self.state.eval_points < self.opts.eval_points {
            println!(
                "{} held-out evaluations instead of {}: each takes {eval_s:.1} s, and they may use a tenth of the budget",
                self.state.eval_points, self.opts.eval_points
            );
        }
        println!(
            "budget {:?}: {} steps of {} windows (~{:.1}M tokens, {:.1} passes over the corpus)",
            self.opts.budget,
            self.state.total_steps,
            self.opts.batch_size,
            self.state.total_steps as f64 * tokens_per_step / 1e6,
            self.state.total_steps as f64 * tokens_per_step / self.corpus.real_tokens() as f64
        );
        Ok(())
    }

    /// Seconds per step, timed on the first batches with the gradient computed
    /// and thrown away: the weights and the run's RNGs stay untouched.
    fn probe_step_seconds(&mut self) -> Result<f64> {
        let batches = (0..PROBE_WARMUP + PROBE_STEPS)
            .map(|k| self.batch(k))
            .collect::<Result<Vec<_>>>()?;
        let objective = self.objective();
        let mut rng = Rng::new(0);
        let mut timed = 0.0;
        for (k, lm) in batches.iter().enumerate() {
            let started = Instant::now();
            let _ = objective.loss(lm, &mut rng)?.value.backward()?;
            if k >= PROBE_WARMUP {
                timed += started.elapsed().as_secs_f64();
            }
        }
        Ok(timed / PROBE_STEPS as f64)
    }

    fn objective(&self) -> Pretraining<'_> {
        Pretraining {
            model: &self.model,
            masks: train_masks(self.opts),
        }
    }

    fn schedule(&self) -> Schedule {
        Schedule::new(self.opts.lr, self.opts.warmup_frac, self.state.total_steps)
    }

    fn run(mut self, control: &Control) -> Result<Outcome> {
        let bar = crate::util::progress::bar(
            self.state.total_steps as u64,
            "pretrain {bar:30} {pos}/{len} {msg} ETA {eta}",
        );
        bar.set_position(self.state.step as u64);
        while self.state.step < self.state.total_steps {
            if control.stop_before(self.state.step) {
                bar.finish_and_clear();
                self.save_last()?;
                return Ok(Outcome::Interrupted(self.run.to_path_buf()));
            }
            self.step()?;
            let status = self.status();
            if bar.is_hidden() && self.state.step.is_multiple_of(CURVE_EVERY_STEPS) {
                println!(
                    "step {}/{}  {status}",
                    self.state.step, self.state.total_steps
                );
            }
            bar.set_message(status);
            bar.inc(1);
            if self.eval_due() {
                let lr = self.schedule().lr(self.state.step);
                bar.suspend(|| self.record_eval(lr))?;
            }
            if self.snapshot_due() {
                self.save_snapshot()?;
            }
            crate::util::faults::point(crate::util::faults::Fault::Step);
            if self
                .weights
                .checkpoint_due(control.checkpoint, self.state.step)
            {
                self.save_last()?;
            }
        }
        bar.finish_and_clear();
        self.finish()
    }

    /// The latest curve point's loss (the window in progress until the first).
    fn status(&self) -> String {
        let s = &self.state;
        let last = s
            .curve
            .last()
            .or_else(|| s.history.last().and_then(|r| r.train_curve.last()));
        let (loss, acc) = last.map_or((s.window.mean_loss(), s.window.accuracy()), |p| {
            (p.loss, p.acc)
        });
        format!(
            "loss {loss:.3} acc {acc:.3} {:.0} tok/s",
            s.tokens as f64 / s.seconds.max(1e-9)
        )
    }

    /// The masked batch of step `step`: the windows come from that pass's
    /// shuffle, the masks from an RNG of the seed and the step alone, so a
    /// resumed run asks the same questions.
    fn batch(&mut self, step: usize) -> Result<LmBatch> {
        let n = self.corpus.train.len().div_ceil(self.opts.batch_size);
        let pass = step / n;
        if self.pass.0 != pass {
            let lengths: Vec<usize> = self.corpus.train.iter().map(Vec::len).collect();
            let mut rng =
                Rng::new(self.opts.seed.wrapping_mul(1000).wrapping_add(pass as u64) ^ 0x9A55);
            self.pass = (
                pass,
                epoch_batches(&lengths, self.opts.batch_size, true, &mut rng),
            );
        }
        let rows = &self.pass.1[step % n];
        let seqs: Vec<&[u32]> = rows
            .iter()
            .map(|&i| self.corpus.train[i].as_slice())
            .collect();
        let mut rng = Rng::new(self.opts.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.rule.batch(&seqs, &mut rng, self.device)
    }

    fn step(&mut self) -> Result<()> {
        let started = Instant::now();
        let lm = self.batch(self.state.step)?;
        let config = StepConfig {
            lr: self.schedule().lr(self.state.step),
            clip: self.opts.clip,
        };
        let objective = Pretraining {
            model: &self.model,
            masks: train_masks(self.opts),
        };
        let state = &mut self.state;
        let (loss, correct) = train_step(
            &objective,
            &mut self.weights.optimizer,
            &lm,
            config,
            &mut state.dropout_rng,
        )?;
        check_finite(
            loss,
            "pretraining",
            &format!("step {}", state.step),
            self.run,
        )?;
        state.step += 1;
        state.tokens += lm.batch.real_tokens;
        state.seconds += started.elapsed().as_secs_f64();
        state.window.add(loss, correct, lm.targets.dim(0)?);
        if state.step.is_multiple_of(CURVE_EVERY_STEPS) || state.step == state.total_steps {
            let w = std::mem::take(&mut state.window);
            state.curve.push(LmPoint {
                step: state.step,
                tokens: state.tokens,
                loss: w.mean_loss(),
                acc: w.accuracy(),
            });
        }
        Ok(())
    }

    fn eval_due(&self) -> bool {
        let points = match self.state.eval_points {
            0 => self.opts.eval_points,
            n => n,
        };
        let (step, total) = (self.state.step, self.state.total_steps);
        (1..=points).any(|k| k * total / points == step)
    }

    /// Measure the held-out windows now; history.jsonl follows.
    fn record_eval(&mut self, lr: f64) -> Result<()> {
        let (loss, acc) = held_out(&self.eval_model, &self.held_out)?;
        let s = &mut self.state;
        println!(
            "  step {}/{}: held-out loss {loss:.4}, token accuracy {acc:.4}",
            s.step, s.total_steps
        );
        s.history.push(EvalRecord {
            step: s.step,
            tokens: s.tokens,
            seconds: s.seconds,
            lr,
            held_out_loss: loss,
            held_out_acc: acc,
            train_curve: std::mem::take(&mut s.curve),
        });
        write_history(self.run, &s.history)
    }

    /// The run's curves so far, drawn at checkpoints and at the end: a figure
    /// per held-out point would put drawing on the loop's path.
    fn draw_curves(&self) -> Result<()> {
        crate::viz::pretrain_curves::draw_pretrain_curves(
            &[curves(self.label(), &self.state.history)],
            &self.title(),
            &self.run.join(CURVES_FIGURE),
        )
    }

    fn label(&self) -> String {
        match (self.opts.model.causal(), self.opts.no_causal_mask) {
            (false, _) => "masked LM".into(),
            (true, false) => "next token, causal mask".into(),
            (true, true) => "next token, trained without the causal mask".into(),
        }
    }

    fn title(&self) -> String {
        format!(
            "xray pretrain: {} on {} ({} x {} tokens per step)",
            self.label(),
            self.opts.dataset.name(),
            self.opts.batch_size,
            self.opts.model.max_len
        )
    }

    /// At a quarter, half and three quarters of the budget: the bodies the
    /// budget table fine-tunes (the same run along the way, not runs of their
    /// own schedule: their learning rate has not decayed yet).
    fn snapshot_due(&self) -> bool {
        let (step, total) = (self.state.step, self.state.total_steps);
        step < total && (1..SNAPSHOTS).any(|k| k * total / SNAPSHOTS == step)
    }

    /// `snapshots/step-N/`: a folder `train --init` reads like the run itself,
    /// its history ending at this step (a held-out point: the quarters of the
    /// budget are among the evaluation points).
    fn save_snapshot(&self) -> Result<()> {
        let dir = self
            .run
            .join(SNAPSHOTS_DIR)
            .join(format!("step-{}", self.state.step));
        save_model(&self.weights.varmap, &self.opts.model, &dir)?;
        for file in [TOKENIZER_FILE, PRETRAIN_ARGS_FILE, HISTORY_FILE] {
            std::fs::copy(self.run.join(file), dir.join(file))
                .with_context(|| format!("copying {file} into {}", dir.display()))?;
        }
        Ok(())
    }

    fn save_last(&mut self) -> Result<()> {
        self.weights.save_last(self.run, &self.state)?;
        self.draw_curves()
    }

    /// The pretrained model (what `train --init` reads) and a last checkpoint.
    fn finish(mut self) -> Result<Outcome> {
        save_model(&self.weights.varmap, &self.opts.model, self.run)?;
        self.save_last()?;
        let last = self.state.history.last().context("no held-out point")?;
        println!(
            "pretrained {} steps, {:.1}M tokens in {:.1} min: held-out loss {:.4}, token \
             accuracy {:.4}; fine-tune with: xray train --dataset DATASET{} --init {}",
            self.state.step,
            self.state.tokens as f64 / 1e6,
            self.state.seconds / 60.0,
            last.held_out_loss,
            last.held_out_acc,
            match self.opts.model.arch {
                Arch::Encoder => "",
                Arch::Decoder => " --arch decoder",
            },
            self.run.display()
        );
        Ok(Outcome::Finished(self.run.to_path_buf()))
    }
}

/// None: the architecture's own masks; the ablation trains without the causal one.
fn train_masks(opts: &PretrainOptions) -> Option<Masks> {
    opts.no_causal_mask.then_some(Masks {
        padding: true,
        causal: false,
    })
}

/// The masking rule of the options, with the tokenizer's own special ids.
fn mask_rule(opts: &PretrainOptions, tokenizer: &Tokenizer) -> Result<MaskRule> {
    let mask_id = tokenizer
        .token_to_id("[MASK]")
        .context("the tokenizer has no [MASK] token: use a BERT-style tokenizer")?;
    let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .filter_map(|t| tokenizer.token_to_id(t))
        .collect();
    Ok(MaskRule {
        arch: opts.model.arch,
        prob: opts.mask_prob,
        mask_id,
        vocab_size: opts.model.vocab_size as u32,
        specials,
    })
}

/// The held-out windows, masked once with a fixed RNG: every point of the
/// curve asks the same questions.
fn held_out_batches(
    corpus: &Corpus,
    rule: &MaskRule,
    opts: &PretrainOptions,
    device: &Device,
) -> Result<Vec<LmBatch>> {
    let lengths: Vec<usize> = corpus.held_out.iter().map(Vec::len).collect();
    let mut rng = Rng::new(opts.seed ^ 0x0E1D);
    sorted_batches(&lengths, EVAL_BATCH)
        .iter()
        .map(|rows| {
            let seqs: Vec<&[u32]> = rows
                .iter()
                .map(|&i| corpus.held_out[i].as_slice())
                .collect();
            rule.batch(&seqs, &mut rng, device)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::evals_within;

    #[test]
    fn evaluations_take_at_most_a_tenth_of_a_minutes_budget() {
        // 2 minutes, 5 s per evaluation: 12 s of evaluations, 2 of them.
        assert_eq!(evals_within(120.0, 5.0, 20), 2);
        // An hour: all 20 fit (100 s of 3,600).
        assert_eq!(evals_within(3600.0, 5.0, 20), 20);
        // One evaluation longer than the budget's tenth: still one, the last.
        assert_eq!(evals_within(30.0, 10.0, 20), 1);
    }
}
