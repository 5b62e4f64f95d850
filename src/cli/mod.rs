//! The command line as plain data (clap derive); main.rs dispatches on it. Every
//! default comes from the `Default` of what it configures (`TrainOptions`,
//! `Config`, `ProfileArgs`), so the help text and the library cannot disagree.
//!
//! One file per group of commands: `training` (train, pretrain), `reading`
//! (eval, predict, inspect, attn), `tools` (profile, fetch, gain, video).

mod reading;
mod tools;
mod training;

pub use reading::{AttnCmd, EvalCmd, InspectCmd, PredictCmd};
pub use tools::{FetchCmd, GainCmd, ProfileCmd, VideoCmd};
pub use training::{Batches, CheckpointArgs, ModelArgs, PretrainCmd, TrainCmd};

use crate::util::device::DeviceArg;
use crate::util::usage::require;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "xray",
    version,
    about = "Train a hand-written Transformer block on text and X-ray its attention"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Where to run: auto picks CUDA when built with it and a GPU is present.
    #[arg(long, global = true, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// CPU threads for candle (default: all physical cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
}

impl Common {
    pub fn check(&self) -> anyhow::Result<()> {
        require(self.threads.is_none_or(|n| (1..=1024).contains(&n)), || {
            format!(
                "--threads {:?}: use 1 to 1024 threads",
                self.threads.unwrap_or(0)
            )
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a dataset and the tokenizer into the Hugging Face cache and summarise them.
    Fetch(FetchCmd),
    /// Train the classifier; writes a run folder, metrics/ and figures/.
    Train(Box<TrainCmd>),
    /// Pretrain the body on unlabeled text (masked LM for the encoder, next token for
    /// the decoder), to fine-tune with `train --init`.
    Pretrain(Box<PretrainCmd>),
    /// Compare classifiers fine-tuned from pretrained bodies (and from scratch): a
    /// table, and figures/pretrain_gain.png against the pretraining tokens.
    Gain(GainCmd),
    /// Recompute the metrics of a trained run on a split or a labelled file.
    Eval(EvalCmd),
    /// Classify texts with a trained run.
    Predict(PredictCmd),
    /// Draw what a trained run attends to: heatmaps per layer and head, rollout, explanations.
    Attn(AttnCmd),
    /// One small real batch through a trained run, as JSON: tokens, input_ids,
    /// attention_mask, the additive masks, and each stage's shape and values (the notebook reads it).
    Inspect(InspectCmd),
    /// Time forward passes with the brief's protocol and print JSON.
    Profile(ProfileCmd),
    /// Make the demo video (MP4, captions burned in, optional voice) from the figures
    /// and metrics a run wrote (`train`, then `attn --compare-causal --html`).
    Video(VideoCmd),
}

/// The output root every command shares.
#[derive(Debug, Args)]
pub struct Root {
    /// Root for runs/, metrics/ and figures/.
    #[arg(long = "out", default_value = ".")]
    pub dir: PathBuf,
}

/// A trained run to use, and the root it lives under.
#[derive(Debug, Args)]
pub struct RunArg {
    /// Run folder (default: runs/latest under --out).
    #[arg(long)]
    pub run: Option<PathBuf>,
    #[command(flatten)]
    pub root: Root,
}

impl RunArg {
    /// `--run DIR`, or `<out>/runs/latest`, resolved to a real folder.
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        crate::runner::folder::resolve_run(self.run.as_deref(), &self.root.dir)
    }
}
