//! The commands that train: `train` and `pretrain`, with the flags they share
//! (the model's architecture, checkpoints), each beside the request it builds.

use super::{Common, Root};
use crate::data::dataset::DatasetSpec;
use crate::data::tokenize::{Truncate, DEFAULT_TOKENIZER};
use crate::model::{Activation, Arch, AttnFn, Config, NormKind, Pool, QkInit};
use crate::pretrain::command::{PretrainRequest, PretrainStart};
use crate::pretrain::options::{Budget, PretrainOptions};
use crate::runner::control::{Control, Every};
use crate::train::command::{TrainRequest, TrainStart};
use crate::train::options::TrainOptions;
use crate::util::usage::require;
use clap::Args;
use std::path::PathBuf;

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
            probe: Some(crate::attn::watch::probe),
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

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

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
