//! The command line as plain data (clap derive); main.rs dispatches on it.

use crate::data::dataset::DatasetSpec;
use crate::data::tokenize::TokenizerSpec;
use crate::device::DeviceArg;
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a dataset and the tokenizer into the Hugging Face cache and summarise them.
    Fetch(FetchCmd),
    /// Time forward passes with the brief's protocol and print JSON.
    Profile(ProfileCmd),
}

#[derive(Debug, Args)]
pub struct ProfileCmd {
    /// Run folder whose model to profile (default: a freshly initialised default model).
    #[arg(long)]
    pub run: Option<PathBuf>,
    #[arg(long, default_value_t = 256)]
    pub seq_len: usize,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Timed steps, after 5 warm-up steps.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
}

#[derive(Debug, Args)]
pub struct FetchCmd {
    /// imdb or ag_news (honours HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE).
    #[arg(long)]
    pub dataset: DatasetSpec,
    /// bert-base-uncased, or wordpiece:N (trained at `train` time, nothing to fetch).
    #[arg(long, default_value = "bert-base-uncased")]
    pub tokenizer: TokenizerSpec,
    /// Length (special tokens included) whose truncation share the summary reports.
    #[arg(long, default_value_t = 256)]
    pub max_len: usize,
}
