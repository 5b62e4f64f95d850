//! The commands that read a finished run: `eval`, `predict`, `inspect` and the
//! X-ray `attn`, each beside the request it builds.

use super::{Common, RunArg};
use crate::attn::command::AttnRequest;
use crate::attn::Choice;
use crate::modes::eval::EvalRequest;
use crate::modes::inspect::InspectRequest;
use crate::modes::predict::PredictRequest;
use crate::util::usage::require;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct EvalCmd {
    #[command(flatten)]
    pub run: RunArg,
    #[arg(long, default_value = "test", value_parser = ["test", "val"])]
    pub split: String,
    /// A labelled .parquet/.csv/.jsonl file to evaluate instead of a split.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Also score the split's texts cut to their first k tokens and to a random
    /// k-token span (k = 8, 16, 32, 64, 128): accuracy, loss and calibration error
    /// per length, in the JSON, the run summaries and figures/accuracy_by_length.png
    /// (the split is scored 11 times over: several minutes for IMDb's test split).
    #[arg(long)]
    pub by_length: bool,
}

impl EvalCmd {
    pub fn request(self, common: &Common) -> anyhow::Result<EvalRequest> {
        Ok(EvalRequest {
            run: self.run.resolve()?,
            split: self.split,
            data: self.data,
            by_length: self.by_length,
            out: self.run.root.dir.clone(),
            device: common.device,
        })
    }
}

#[derive(Debug, Args)]
pub struct PredictCmd {
    /// Texts to classify.
    #[arg(required = true)]
    pub texts: Vec<String>,
    #[command(flatten)]
    pub run: RunArg,
    /// One JSON object per text instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl PredictCmd {
    pub fn request(self, common: &Common) -> anyhow::Result<PredictRequest> {
        // An empty text has no words to classify: the model would answer from
        // [CLS] and [SEP] alone, with a confidence that means nothing.
        if let Some(k) = self.texts.iter().position(|t| t.trim().is_empty()) {
            require(false, || {
                format!(
                    "text {} is empty: give xray predict at least one word",
                    k + 1
                )
            })?;
        }
        Ok(PredictRequest {
            run: self.run.resolve()?,
            texts: self.texts,
            json: self.json,
            device: common.device,
        })
    }
}

#[derive(Debug, Args)]
pub struct InspectCmd {
    /// Texts to batch (default: the --rows shortest validation reviews of unequal length).
    pub texts: Vec<String>,
    #[arg(long, default_value_t = 4)]
    pub rows: usize,
    #[command(flatten)]
    pub run: RunArg,
}

impl InspectCmd {
    pub fn request(self, common: &Common) -> anyhow::Result<InspectRequest> {
        Ok(InspectRequest {
            run: self.run.resolve()?,
            texts: self.texts,
            rows: self.rows,
            device: common.device,
        })
    }
}

#[derive(Debug, Args)]
pub struct AttnCmd {
    #[command(flatten)]
    pub run: RunArg,
    /// How many validation examples to pick: confident ones per class, the most
    /// ambiguous, then misclassified ones.
    #[arg(long, default_value_t = 3)]
    pub example: usize,
    /// Validation rows to draw instead.
    #[arg(long, num_args = 1..)]
    pub index: Vec<usize>,
    /// Your own texts to draw instead.
    #[arg(long, num_args = 1..)]
    pub text: Vec<String>,
    /// Also draw the first example with the causal mask on and off, and padded with the
    /// padding mask on and off.
    #[arg(long)]
    pub compare_causal: bool,
    /// Also write figures/attn.html: one offline page to browse examples, layers and heads.
    #[arg(long)]
    pub html: bool,
    /// Also write figures/attn_examples.json: the raw weights of the chosen examples.
    #[arg(long)]
    pub json: bool,
    /// Also draw figures/attn_pairs.png and .md: built-in minimal pairs (negation,
    /// intensifiers, a positive word in a negative review) with their attributions.
    #[arg(long)]
    pub pairs: bool,
    /// Measure faithfulness (ERASER comprehensiveness and sufficiency at 1-50% of the
    /// tokens, for every method) on this many validation examples; 0 skips.
    #[arg(long, default_value_t = 500)]
    pub faithfulness: usize,
}

impl AttnCmd {
    pub fn request(self, common: &Common) -> anyhow::Result<AttnRequest> {
        require(self.example >= 1, || {
            "--example 0: draw at least one example (or use --index / --text)".into()
        })?;
        let choice = match (self.text.is_empty(), self.index.is_empty()) {
            (false, _) => Choice::Texts(self.text),
            (true, false) => Choice::Indices(self.index),
            (true, true) => Choice::Examples(self.example),
        };
        Ok(AttnRequest {
            run: self.run.resolve()?,
            out: self.run.root.dir,
            choice,
            compare_causal: self.compare_causal,
            html: self.html,
            json: self.json,
            pairs: self.pairs,
            faithfulness: self.faithfulness,
            device: common.device,
        })
    }
}
