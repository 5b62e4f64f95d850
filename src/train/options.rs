//! Everything a training run was asked to do, saved as train_args.json so that
//! `--resume`, `eval` and `predict` rebuild the same data and model.

use crate::data::dataset::DatasetSpec;
use crate::data::tokenize::{Truncate, DEFAULT_TOKENIZER};
use crate::model::Config;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const ARGS_FILE: &str = "train_args.json";

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
    pub seed: u64,
    pub val_frac: f64,
    /// Length-bucketed batches (less padding, same result with a correct mask).
    pub bucket: bool,
    /// Use at most this many examples of each split (quick runs, tests).
    pub limit: Option<usize>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            dataset: DatasetSpec::Imdb,
            tokenizer: DEFAULT_TOKENIZER.into(),
            truncate: Truncate::HeadTail,
            model: Config::default(),
            epochs: 1,
            batch_size: 32,
            eval_batch_size: 64,
            lr: 5e-4,
            warmup_frac: 0.05,
            weight_decay: 0.01,
            clip: 1.0,
            patience: 2,
            seed: 0,
            val_frac: 0.1,
            bucket: true,
            limit: None,
        }
    }
}

impl TrainOptions {
    /// The options saved in a run folder.
    pub fn read(run: &Path) -> Result<Self> {
        let path = run.join(ARGS_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {}: is {} a training run folder?",
                path.display(),
                run.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}
