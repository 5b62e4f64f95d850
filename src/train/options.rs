//! Everything a training run was asked to do, saved as train_args.json so that
//! `--resume`, `eval` and `predict` rebuild the same data and model.

use crate::data::dataset::DatasetSpec;
use crate::data::tokenize::{Truncate, DEFAULT_TOKENIZER};
use crate::model::Config;
use crate::runner::defaults;
use crate::runner::folder::TRAIN_ARGS_FILE;
use crate::runner::optim::AdamWConfig;
use crate::util::usage::{require, require_in};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Bytes per f32.
const F32: f64 = 4.0;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainOptions {
    pub dataset: DatasetSpec,
    /// `bert-base-uncased` or `wordpiece:N`.
    pub tokenizer: String,
    pub truncate: Truncate,
    /// vocab_size and n_classes are filled in from the tokenizer and the labels.
    pub model: Config,
    pub epochs: usize,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub lr: f64,
    /// Share of all steps spent warming the learning rate up.
    pub warmup_frac: f64,
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub clip: f64,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// Validations per epoch, evenly spaced, the last at its end; runs saved
    /// before the option validated once.
    #[serde(default = "once_per_epoch")]
    pub val_points: usize,
    pub seed: u64,
    pub val_frac: f64,
    /// Length-bucketed batches: less padding, so faster. With q and k started at
    /// 0.02 they left the heads near uniform; started at 1/sqrt(d_model) they read
    /// as with random batches (docs/attention-recipes.md).
    pub bucket: bool,
    /// Use at most this many examples of each split (quick runs, tests).
    pub limit: Option<usize>,
    /// The pretraining run whose body the classifier starts from.
    #[serde(default)]
    pub init: Option<std::path::PathBuf>,
    /// HTML line breaks (IMDb's `<br />`) become spaces before tokenizing, in
    /// every text the run reads; runs saved before the option kept them.
    #[serde(default)]
    pub strip_markup: bool,
    /// The learning rate of the q and k projections as a multiple of `lr`
    /// (runs saved before the option: 1).
    #[serde(default = "unit_multiple")]
    pub qk_lr_mult: f64,
    /// Validation reviews on which every head is measured at each validation
    /// point (history.jsonl); 0 measures none, as runs saved before the option.
    #[serde(default)]
    pub head_sample: usize,
    /// The share of training reviews replaced, each time they are drawn, by a
    /// random span of SPAN_TOKENS of their tokens (the label kept), so that the
    /// model also learns from short texts; 0, as runs saved before the option.
    #[serde(default)]
    pub spans: f64,
}

/// The lengths a `--spans` span takes, in word tokens: uniform over this range.
pub const SPAN_TOKENS: std::ops::RangeInclusive<usize> = 16..=128;

fn unit_multiple() -> f64 {
    defaults::QK_LR_MULT
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            dataset: DatasetSpec::Imdb,
            tokenizer: DEFAULT_TOKENIZER.into(),
            truncate: Truncate::HeadTail,
            model: Config::default(),
            epochs: 1,
            batch_size: defaults::BATCH_SIZE,
            eval_batch_size: 64,
            lr: 5e-4,
            warmup_frac: 0.05,
            weight_decay: defaults::WEIGHT_DECAY,
            clip: defaults::CLIP,
            patience: 2,
            val_points: 10,
            seed: defaults::SEED,
            val_frac: defaults::VAL_FRAC,
            bucket: true,
            limit: None,
            init: None,
            strip_markup: true,
            qk_lr_mult: defaults::QK_LR_MULT,
            head_sample: 100,
            spans: 0.0,
        }
    }
}

fn once_per_epoch() -> usize {
    1
}

impl TrainOptions {
    /// The options saved in a run folder.
    pub fn read(run: &Path) -> Result<Self> {
        let path = run.join(TRAIN_ARGS_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {}: is {} a training run folder?",
                path.display(),
                run.display()
            )
        })?;
        let parse = || -> serde_json::Result<Self> {
            let json: serde_json::Value = serde_json::from_str(&text)?;
            let model = Config::from_json(json.get("model").cloned().unwrap_or_default())?;
            Ok(Self {
                model,
                ..serde_json::from_value(json)?
            })
        };
        parse().with_context(|| format!("parsing {}", path.display()))
    }

    /// Every numeric option in range, and the run small enough for this machine's
    /// memory; checked before anything is written (a UsageError: exit code 2).
    pub fn check(&self) -> Result<()> {
        self.model.check_flags()?;
        for (flag, n, max) in [
            ("--batch-size", self.batch_size, 4096),
            ("--epochs", self.epochs, 1000),
            ("--patience", self.patience, 1000),
            ("--val-points", self.val_points, 1000),
        ] {
            require_in(flag, n, (1, max))?;
        }
        require(self.lr.is_finite() && self.lr > 0.0, || {
            format!("--lr {}: use a positive learning rate, e.g. 5e-4", self.lr)
        })?;
        require((0.01..=100.0).contains(&self.qk_lr_mult), || {
            format!(
                "--qk-lr-mult {}: use a multiple from 0.01 to 100, e.g. 3",
                self.qk_lr_mult
            )
        })?;
        require((0.0..=1.0).contains(&self.spans), || {
            format!("--spans {}: use a share from 0 to 1, e.g. 0.5", self.spans)
        })?;
        require(self.val_frac > 0.0 && self.val_frac < 1.0, || {
            format!(
                "--val-frac {}: use a share in (0, 1), e.g. 0.1",
                self.val_frac
            )
        })?;
        require(self.limit != Some(0), || {
            "--limit 0: keep at least one example of each split".into()
        })?;
        self.check_memory()
    }

    /// AdamW as this run asks for it.
    pub fn adamw(&self) -> AdamWConfig {
        AdamWConfig {
            weight_decay: self.weight_decay,
            qk_lr_mult: self.qk_lr_mult,
            ..AdamWConfig::default()
        }
    }

    /// Parameters with their gradients and AdamW's two moments, plus one batch's
    /// activations at the longest length (the (L x L) attention maps among them).
    pub fn training_memory_gb(&self) -> (f64, f64) {
        let m = &self.model;
        let params = 4.0 * m.param_count() as f64 * F32;
        let (b, l) = (self.batch_size as f64, m.max_len as f64);
        let per_position = 20.0 * m.d_model as f64 + 3.0 * m.d_ffn() as f64;
        let per_layer = b * l * (per_position + 2.0 * m.n_heads as f64 * l);
        let activations = 2.0 * m.n_layers as f64 * per_layer * F32; // kept, and their gradients
        let gb = |bytes: f64| bytes / (1u64 << 30) as f64;
        (gb(params), gb(activations))
    }

    fn check_memory(&self) -> Result<()> {
        let Some(available) = crate::util::device::available_memory_gb() else {
            return Ok(());
        };
        let (params, activations) = self.training_memory_gb();
        require(params + activations <= available, || {
            format!(
                "this run would need about {:.1} GB ({params:.1} GB for the parameters with \
                 their gradients and optimizer state, {activations:.1} GB for a batch of \
                 {} texts of --max-len {}), more than the {available:.1} GB available; \
                 lower --max-len or --batch-size",
                params + activations,
                self.batch_size,
                self.model.max_len
            )
        })
    }
}
