//! The command line as plain data (clap derive); main.rs dispatches on it. Every
//! default comes from the `Default` of what it configures (`TrainOptions`,
//! `Config`, `ProfileArgs`), so the help text and the library cannot disagree.

use crate::attn::command::AttnRequest;
use crate::attn::Choice;
use crate::data::dataset::DatasetSpec;
use crate::data::tokenize::{TokenizerSpec, Truncate, DEFAULT_TOKENIZER};
use crate::device::DeviceArg;
use crate::eval::EvalRequest;
use crate::inspect::InspectRequest;
use crate::model::{Activation, Arch, AttnFn, Config, NormKind, Pool, QkInit};
use crate::predict::PredictRequest;
use crate::pretrain::command::{PretrainRequest, PretrainStart};
use crate::pretrain::options::{Budget, PretrainOptions};
use crate::profile::ProfileArgs;
use crate::runner::control::{Control, Every};
use crate::train::command::{TrainRequest, TrainStart};
use crate::train::options::TrainOptions;
use crate::usage::{require, require_in};
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
        crate::saved_run::resolve_run(self.run.as_deref(), &self.root.dir)
    }
}

#[derive(Debug, Args)]
pub struct ProfileCmd {
    /// Run folder whose model to profile (default: a freshly initialised default model).
    #[arg(long)]
    pub run: Option<PathBuf>,
    #[arg(long, default_value_t = ProfileArgs::default().seq_len)]
    pub seq_len: usize,
    #[arg(long, default_value_t = ProfileArgs::default().batch_size)]
    pub batch_size: usize,
    /// Timed steps, after 5 warm-up steps.
    #[arg(long, default_value_t = ProfileArgs::default().steps)]
    pub steps: usize,
    /// Time training steps (forward, backward, AdamW; 30% of each row padded) instead.
    #[arg(long)]
    pub train: bool,
    /// Profile each of these sequence lengths; draws figures/profile_seq_len.png.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub sweep: Vec<usize>,
    /// Accepted for the brief's command line; mixed precision is not implemented, so it is refused.
    #[arg(long)]
    pub amp: bool,
    #[command(flatten)]
    pub root: Root,
}

impl ProfileCmd {
    /// The checked request `profile::run` takes.
    pub fn request(&self, common: &Common) -> anyhow::Result<crate::profile::ProfileRequest> {
        self.check()?;
        Ok(crate::profile::ProfileRequest {
            run: self.run.clone(),
            args: ProfileArgs {
                seq_len: self.seq_len,
                batch_size: self.batch_size,
                steps: self.steps,
                train: self.train,
            },
            sweep: self.sweep.clone(),
            amp: self.amp,
            out: self.root.dir.clone(),
            device: common.device,
        })
    }

    fn check(&self) -> anyhow::Result<()> {
        use crate::model::config::{MAX_LEN_LIMIT, MIN_LEN};
        // Sequence lengths within the bounds of a model's --max-len.
        for (flag, n, (min, max)) in [
            ("--seq-len", self.seq_len, (MIN_LEN, MAX_LEN_LIMIT)),
            ("--batch-size", self.batch_size, (1, 4096)),
            ("--steps", self.steps, (1, 1_000_000)),
        ]
        .into_iter()
        .chain(
            self.sweep
                .iter()
                .map(|&n| ("--sweep", n, (MIN_LEN, MAX_LEN_LIMIT))),
        ) {
            require_in(flag, n, (min, max))?;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct FetchCmd {
    /// imdb or ag_news (honours HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE).
    #[arg(long)]
    pub dataset: DatasetSpec,
    /// bert-base-uncased, or wordpiece:N (trained at `train` time, nothing to fetch).
    #[arg(long, default_value = DEFAULT_TOKENIZER)]
    pub tokenizer: TokenizerSpec,
    /// Length (special tokens included) whose truncation share the summary reports.
    #[arg(long, default_value_t = Config::default().max_len)]
    pub max_len: usize,
}

/// How `xray train` forms its batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Batches {
    /// Shuffled, then sorted by length inside chunks of 50 batches: about 1% padding
    /// on IMDb. With q and k started at 1/sqrt(d_model) the heads read as well as with random batches
    Bucketed,
    /// Shuffled: every length together, about 20% padding on IMDb (slower)
    Random,
}

impl Batches {
    fn from_bucket(bucket: bool) -> Self {
        if bucket {
            Self::Bucketed
        } else {
            Self::Random
        }
    }
}

#[derive(Debug, Args)]
pub struct TrainCmd {
    /// imdb, ag_news, or a .parquet/.csv/.jsonl file with `text` and `label` columns.
    #[arg(long, required_unless_present = "resume")]
    pub dataset: Option<DatasetSpec>,
    /// Continue an interrupted run (default: runs/latest) with its saved options.
    #[arg(long, num_args = 0..=1, value_name = "RUN_DIR")]
    pub resume: Option<Option<PathBuf>>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Start from a pretrained body (`xray pretrain`'s run folder): its tokenizer,
    /// architecture, embeddings, blocks and final norm; the pooling and head are new.
    /// --max-len stays this run's: a longer one repeats the pretrained position table.
    #[arg(long, value_name = "RUN_DIR")]
    pub init: Option<PathBuf>,
    /// How the final states reach the head: mean over real tokens, the [CLS] state, a
    /// learned attention pooling over the final states or over the words, or the last
    /// real token [default: mean for the encoder, last for the decoder].
    #[arg(long, value_enum)]
    pub pool: Option<Pool>,
    /// Passes over the training split; warmup and decay span all of them. One by default:
    /// on IMDb the validation loss is lowest after the first epoch and rises after it (xray
    /// and the PyTorch peer alike), and one epoch with the whole schedule ends at a learning
    /// rate of 0 instead of mid-decay.
    #[arg(long, default_value_t = TrainOptions::default().epochs)]
    pub epochs: usize,
    #[arg(long, default_value_t = TrainOptions::default().batch_size)]
    pub batch_size: usize,
    /// Peak learning rate (linear warmup over 5% of the steps, then linear decay).
    #[arg(long, default_value_t = TrainOptions::default().lr)]
    pub lr: f64,
    /// The learning rate of the q and k projections as a multiple of --lr: they alone
    /// decide where attention looks (docs/attention-recipes.md measures it).
    #[arg(long, default_value_t = TrainOptions::default().qk_lr_mult, value_name = "X")]
    pub qk_lr_mult: f64,
    #[arg(long, default_value_t = Config::default().dropout)]
    pub dropout: f32,
    /// bert-base-uncased (vocabulary only), wordpiece:N (trained on the training split,
    /// the same vocabulary for the same texts every run) or a tokenizer.json.
    #[arg(long, default_value = DEFAULT_TOKENIZER)]
    pub tokenizer: String,
    /// How to cut texts longer than --max-len. head-tail by default: 44% of IMDb reviews
    /// are longer than 256 tokens, and reviewers tend to give their verdict at the end.
    #[arg(long, value_enum, default_value_t = TrainOptions::default().truncate)]
    pub truncate: Truncate,
    #[arg(long, default_value_t = TrainOptions::default().val_frac)]
    pub val_frac: f64,
    #[arg(long, default_value_t = TrainOptions::default().seed)]
    pub seed: u64,
    /// Stop after this many epochs without a lower validation loss.
    #[arg(long, default_value_t = TrainOptions::default().patience)]
    pub patience: usize,
    /// Validations per epoch, evenly spaced, the last at its end; the best of them
    /// is kept. Inside an epoch they watch at most 1,000 evenly spaced validation rows
    /// (on IMDb ~1.5 s each, 2 cores); 1 validates the whole split once per epoch.
    #[arg(long, default_value_t = TrainOptions::default().val_points)]
    pub val_points: usize,
    /// Validation reviews on which every attention head is measured at each
    /// validation point (entropy, top-5 keys × uniform, evidence precision by
    /// gradient × input), kept in history.jsonl for figures/heads_over_training.png;
    /// 0 measures none.
    #[arg(long, default_value_t = TrainOptions::default().head_sample)]
    pub head_sample: usize,
    /// The share of training reviews replaced, each time they are drawn, by a
    /// random span of 16 to 128 of their tokens (the label kept): the model then
    /// also learns from short texts (`eval --by-length` measures them). 0: none.
    #[arg(long, default_value_t = TrainOptions::default().spans)]
    pub spans: f64,
    /// How training batches are formed (docs/attention-recipes.md measures both).
    #[arg(long, value_enum, default_value_t = Batches::from_bucket(TrainOptions::default().bucket))]
    pub batches: Batches,
    /// Keep HTML line breaks (IMDb's `<br />`); by default they become spaces before
    /// tokenizing, so they never reach the model or the figures as "< br / >".
    #[arg(long)]
    pub keep_markup: bool,
    /// Use at most N examples of each split (a quick run).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Run folder name under runs/ (default: <dataset>-<arch>-<UTC time>).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub checkpoint: CheckpointArgs,
    #[command(flatten)]
    pub root: Root,
}

/// The architecture of a new model, shared by `train` and `pretrain`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    #[arg(long, value_enum, default_value_t = Config::default().arch)]
    pub arch: Arch,
    #[arg(long, value_enum, default_value_t = Config::default().norm)]
    pub norm: NormKind,
    #[arg(long, value_enum, default_value_t = Config::default().act)]
    pub act: Activation,
    /// Tokens per text, [CLS] and [SEP] included.
    #[arg(long, default_value_t = Config::default().max_len)]
    pub max_len: usize,
    #[arg(long, default_value_t = Config::default().d_model)]
    pub d_model: usize,
    #[arg(long, default_value_t = Config::default().n_heads)]
    pub heads: usize,
    #[arg(long, default_value_t = Config::default().n_layers)]
    pub layers: usize,
    #[arg(long, default_value_t = Config::default().ffn_mult)]
    pub ffn_mult: usize,
    /// How the q and k projections start: `shared` draws them like every other weight
    /// (std 0.02), where the heads begin near uniform and leave it slowly; `scaled`
    /// draws them with std 1/sqrt(d_model), attention scores of unit variance.
    #[arg(long, value_enum, default_value_t = Config::default().qk_init)]
    pub qk_init: QkInit,
    /// QK-norm: divide each head's q and k by their RMS and scale them by a learned
    /// gain before the scores (Henry et al. 2020, Dehghani et al. 2023).
    #[arg(long)]
    pub qk_norm: bool,
    /// What turns a head's scores into weights: softmax gives every key some
    /// weight; sparsemax and entmax15 (1.5-entmax) give exactly 0 to the keys below
    /// a threshold, so a heatmap is white where a head does not look.
    #[arg(long, value_enum, default_value_t = Config::default().attn_fn)]
    pub attn_fn: AttnFn,
}

impl ModelArgs {
    /// The model these flags ask for, with `dropout` and `pool` given by the command.
    pub fn config(&self, dropout: f32, pool: Pool) -> Config {
        Config {
            d_model: self.d_model,
            n_heads: self.heads,
            n_layers: self.layers,
            ffn_mult: self.ffn_mult,
            max_len: self.max_len,
            dropout,
            act: self.act,
            norm: self.norm,
            arch: self.arch,
            pool,
            qk_init: self.qk_init,
            qk_norm: self.qk_norm,
            attn_fn: self.attn_fn,
            ..Default::default()
        }
    }
}

/// How often a long run writes its resumable checkpoint.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Rewrite the resumable checkpoint (last/) this often, so that a `kill -9` or a
    /// power loss costs at most that much training.
    #[arg(long, default_value_t = Every::default().minutes, value_name = "MINUTES")]
    pub checkpoint_minutes: f64,
    /// Also rewrite it every N optimizer steps.
    #[arg(long, value_name = "N")]
    pub checkpoint_steps: Option<usize>,
    /// Save a checkpoint and stop after N optimizer steps, as Ctrl-C would (for resume tests).
    #[arg(long, hide = true)]
    pub stop_after_steps: Option<usize>,
}

impl CheckpointArgs {
    /// The run's checkpoint flags, and Ctrl-C asking it to stop after the step
    /// in progress.
    pub fn control(&self) -> anyhow::Result<Control> {
        Control::with_ctrl_c(self.stop_after_steps, self.every()?)
    }

    /// How often to checkpoint inside a run.
    pub fn every(&self) -> anyhow::Result<Every> {
        require(self.checkpoint_minutes > 0.0, || {
            format!(
                "--checkpoint-minutes {}: use a positive number of minutes, e.g. 2",
                self.checkpoint_minutes
            )
        })?;
        require(self.checkpoint_steps != Some(0), || {
            "--checkpoint-steps 0: use at least 1".into()
        })?;
        Ok(Every {
            minutes: self.checkpoint_minutes,
            steps: self.checkpoint_steps,
        })
    }
}

#[derive(Debug, Args)]
pub struct GainCmd {
    /// Finished training runs (`xray train`, with or without --init).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub root: Root,
}

#[derive(Debug, Args)]
pub struct PretrainCmd {
    /// imdb (its 50,000 unlabeled reviews + the training split's texts), ag_news, or a
    /// .parquet/.csv/.jsonl file (its training split's texts); never validation or test texts.
    #[arg(long, required_unless_present = "resume")]
    pub dataset: Option<DatasetSpec>,
    /// More text to pretrain on: .txt files (one text per line) or tables with a `text` column.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub unlabeled: Vec<PathBuf>,
    /// Continue an interrupted pretraining run with its saved options.
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Budget in minutes of this machine (turned into a step count before the first
    /// step, from the measured speed) [default: 60].
    #[arg(long, conflicts_with = "tokens")]
    pub minutes: Option<f64>,
    /// Budget in real tokens trained on (the same steps on every machine).
    #[arg(long)]
    pub tokens: Option<u64>,
    /// Share of positions asked about: masked (encoder) or predicting the next token (decoder).
    #[arg(long, default_value_t = PretrainOptions::default().mask_prob)]
    pub mask_prob: f64,
    /// The causal-mask lesson: pretrain the decoder twice, with its causal mask and
    /// without it (held-out loss always measured with it); draws figures/causal_lm_ablation.png.
    #[arg(long)]
    pub causal_ablation: bool,
    #[arg(long, default_value_t = PretrainOptions::default().batch_size)]
    pub batch_size: usize,
    /// Peak learning rate (linear warmup over 2% of the steps, then linear decay).
    #[arg(long, default_value_t = PretrainOptions::default().lr)]
    pub lr: f64,
    #[arg(long, default_value_t = PretrainOptions::default().model.dropout)]
    pub dropout: f32,
    /// bert-base-uncased, or wordpiece:N (trained on the corpus).
    #[arg(long, default_value = DEFAULT_TOKENIZER)]
    pub tokenizer: String,
    /// Held-out measurements over the budget.
    #[arg(long, default_value_t = PretrainOptions::default().eval_points)]
    pub eval_points: usize,
    /// With --val-frac, which training texts `train` will validate on: they stay out
    /// of the corpus. Fine-tune with the same two.
    #[arg(long, default_value_t = PretrainOptions::default().seed)]
    pub seed: u64,
    #[arg(long, default_value_t = PretrainOptions::default().val_frac)]
    pub val_frac: f64,
    /// Use at most N texts (a quick run).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Run folder name under runs/ (default: pretrain-<dataset>-<arch>-<UTC time>).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub checkpoint: CheckpointArgs,
    #[command(flatten)]
    pub root: Root,
}

impl PretrainCmd {
    pub fn request(self, common: &Common) -> anyhow::Result<PretrainRequest> {
        let start = match (&self.resume, &self.dataset) {
            (Some(dir), _) => PretrainStart::Resume(dir.clone()),
            (None, Some(dataset)) => PretrainStart::New {
                opts: Box::new(self.options(dataset.clone())),
                name: self.name.clone(),
                causal_ablation: self.causal_ablation,
            },
            (None, None) => unreachable!("clap requires --dataset unless --resume"),
        };
        Ok(PretrainRequest {
            start,
            root: self.root.dir,
            control: self.checkpoint.control()?,
            device: common.device,
        })
    }

    pub fn options(&self, dataset: DatasetSpec) -> PretrainOptions {
        let budget = match (self.tokens, self.minutes) {
            (Some(n), _) => Budget::Tokens(n),
            (None, Some(m)) => Budget::Minutes(m),
            (None, None) => PretrainOptions::default().budget,
        };
        let arch = self.model.arch;
        PretrainOptions {
            dataset,
            unlabeled: self.unlabeled.clone(),
            tokenizer: self.tokenizer.clone(),
            model: self.model.config(self.dropout, Pool::default_for(arch)),
            budget,
            mask_prob: self.mask_prob,
            batch_size: self.batch_size,
            lr: self.lr,
            eval_points: self.eval_points,
            seed: self.seed,
            val_frac: self.val_frac,
            limit: self.limit,
            ..Default::default()
        }
    }
}

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

#[derive(Debug, Args)]
pub struct InspectCmd {
    /// Texts to batch (default: the --rows shortest validation reviews of unequal length).
    pub texts: Vec<String>,
    #[arg(long, default_value_t = 4)]
    pub rows: usize,
    #[command(flatten)]
    pub run: RunArg,
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

impl TrainCmd {
    pub fn request(self, common: &Common) -> anyhow::Result<TrainRequest> {
        let start = match (&self.resume, &self.dataset) {
            (Some(dir), _) => TrainStart::Resume(dir.clone()),
            (None, Some(dataset)) => TrainStart::New {
                opts: Box::new(self.options(dataset.clone())),
                name: self.name.clone(),
            },
            (None, None) => unreachable!("clap requires --dataset unless --resume"),
        };
        Ok(TrainRequest {
            start,
            root: self.root.dir,
            control: self.checkpoint.control()?,
            device: common.device,
        })
    }

    /// The options a new run is trained with.
    pub fn options(&self, dataset: DatasetSpec) -> TrainOptions {
        let arch = self.model.arch;
        let model = self
            .model
            .config(self.dropout, self.pool.unwrap_or(Pool::default_for(arch)));
        TrainOptions {
            dataset,
            tokenizer: self.tokenizer.clone(),
            truncate: self.truncate,
            model,
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            patience: self.patience,
            val_points: self.val_points,
            head_sample: self.head_sample,
            spans: self.spans,
            seed: self.seed,
            val_frac: self.val_frac,
            bucket: self.batches == Batches::Bucketed,
            strip_markup: !self.keep_markup,
            qk_lr_mult: self.qk_lr_mult,
            limit: self.limit,
            init: self.init.clone(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With no flags, `train` trains exactly the library's defaults.
    #[test]
    fn train_without_flags_uses_the_library_defaults() {
        let cli = Cli::parse_from(["xray", "train", "--dataset", "imdb"]);
        let Command::Train(cmd) = cli.command else {
            panic!("not train")
        };
        assert_eq!(cmd.options(DatasetSpec::Imdb), TrainOptions::default());
    }

    #[test]
    fn batches_random_and_keep_markup_reach_the_options() {
        let args = [
            "xray",
            "train",
            "--dataset",
            "imdb",
            "--batches",
            "random",
            "--keep-markup",
        ];
        let Command::Train(cmd) = Cli::parse_from(args).command else {
            panic!("not train")
        };
        let opts = cmd.options(DatasetSpec::Imdb);
        assert!(!opts.bucket && !opts.strip_markup);
        assert!(TrainOptions::default().bucket, "bucketed is the default");
    }
}

#[derive(Debug, Args)]
pub struct VideoCmd {
    /// The root the run wrote its figures/ and metrics/ into (`--out` of train and attn).
    #[arg(long = "from", visible_alias = "run", default_value = ".")]
    pub from: PathBuf,
    /// Language of the captions and the voice.
    #[arg(long, value_enum, default_value_t = crate::video::Lang::En)]
    pub lang: crate::video::Lang,
    /// Narrate the captions with espeak-ng; each slide lasts as long as its sentence.
    #[arg(long)]
    pub voice: bool,
    /// The MP4 to write (H.264 + AAC, 1280x720).
    #[arg(long, default_value = "video/xray.mp4")]
    pub out: PathBuf,
    /// Write the frames (PNG), the narration script and, with --voice, the narration
    /// to this folder instead of encoding: no ffmpeg needed.
    #[arg(long, value_name = "DIR")]
    pub frames_only: Option<PathBuf>,
    /// Show the PNG figures even when Chromium could browse figures/attn.html.
    #[arg(long)]
    pub no_browser: bool,
}

impl VideoCmd {
    pub fn options(&self) -> crate::video::VideoOptions {
        crate::video::VideoOptions {
            from: self.from.clone(),
            lang: self.lang,
            voice: self.voice,
            out: self.out.clone(),
            frames_only: self.frames_only.clone(),
            browse: !self.no_browser,
        }
    }
}
