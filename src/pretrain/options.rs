//! Everything a pretraining run was asked to do, saved as pretrain_args.json so
//! that `--resume` rebuilds the same corpus, model and schedule.

use crate::data::dataset::DatasetSpec;
use crate::data::tokenize::DEFAULT_TOKENIZER;
use crate::model::Config;
use crate::runner::defaults;
use crate::runner::folder::PRETRAIN_ARGS_FILE;
use crate::util::usage::{require, require_in};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How long to pretrain: a number of real tokens (the same on every machine),
/// or minutes of this machine's time, turned into steps once, before the first.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    Tokens(u64),
    Minutes(f64),
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PretrainOptions {
    pub dataset: DatasetSpec,
    /// More text for the corpus: .txt (one text per line) or tables with a `text` column.
    pub unlabeled: Vec<PathBuf>,
    /// `bert-base-uncased` or `wordpiece:N` (trained on the corpus).
    pub tokenizer: String,
    /// The body to pretrain; its arch picks the objective (encoder: masked LM,
    /// decoder: next token).
    pub model: Config,
    pub budget: Budget,
    /// Share of the positions whose token is predicted (masked for the encoder).
    pub mask_prob: f64,
    /// Train the decoder without its causal mask (the ablation); the held-out
    /// loss is still measured with it.
    pub no_causal_mask: bool,
    pub batch_size: usize,
    pub lr: f64,
    pub warmup_frac: f64,
    pub weight_decay: f64,
    pub clip: f64,
    /// Held-out evaluations over the budget, evenly spaced, the last at its end.
    pub eval_points: usize,
    pub seed: u64,
    /// The classifier's validation share: its texts are left out of the corpus,
    /// so `train --init` with the same seed and share never saw them.
    pub val_frac: f64,
    /// Use at most this many texts (quick runs, tests).
    pub limit: Option<usize>,
}

/// The share of the corpus's texts held out to measure the language model.
pub const HELD_OUT_FRAC: f64 = 0.01;

impl Default for PretrainOptions {
    fn default() -> Self {
        Self {
            dataset: DatasetSpec::Imdb,
            unlabeled: Vec::new(),
            tokenizer: DEFAULT_TOKENIZER.into(),
            model: Config {
                dropout: 0.0,
                ..Config::default()
            },
            budget: Budget::Minutes(60.0),
            mask_prob: 0.15,
            no_causal_mask: false,
            batch_size: defaults::BATCH_SIZE,
            lr: 1e-3,
            warmup_frac: 0.02,
            weight_decay: defaults::WEIGHT_DECAY,
            clip: defaults::CLIP,
            eval_points: 20,
            seed: defaults::SEED,
            val_frac: defaults::VAL_FRAC,
            limit: None,
        }
    }
}

impl PretrainOptions {
    pub fn read(run: &Path) -> Result<Self> {
        let path = run.join(PRETRAIN_ARGS_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {}: is {} a pretraining run folder?",
                path.display(),
                run.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Every option in range (a UsageError: exit code 2), before anything is written.
    pub fn check(&self) -> Result<()> {
        self.model.check_flags()?;
        for (flag, n, max) in [
            ("--batch-size", self.batch_size, 4096),
            ("--eval-points", self.eval_points, 1000),
        ] {
            require_in(flag, n, (1, max))?;
        }
        require(self.mask_prob > 0.0 && self.mask_prob < 1.0, || {
            format!(
                "--mask-prob {}: use a share in (0, 1), e.g. 0.15",
                self.mask_prob
            )
        })?;
        require(self.lr.is_finite() && self.lr > 0.0, || {
            format!("--lr {}: use a positive learning rate, e.g. 1e-3", self.lr)
        })?;
        require(!self.no_causal_mask || self.model.causal(), || {
            "--no-causal-mask is the decoder's ablation: add --arch decoder".into()
        })?;
        let positive = match self.budget {
            Budget::Tokens(n) => n > 0,
            Budget::Minutes(m) => m.is_finite() && m > 0.0,
        };
        require(positive, || {
            "--tokens / --minutes: give a positive budget".into()
        })?;
        require(self.limit != Some(0), || {
            "--limit 0: keep some texts".into()
        })
    }
}
