//! The model's hyper-parameters: everything needed to rebuild it (saved as config.json).

use crate::kernels::AttnFn;
use crate::util::usage::{require, require_in};
use anyhow::{ensure, Result};
use serde::{Deserialize, Serialize};

/// The longest `max_len` accepted: the positional table and the (L x L)
/// attention maps grow with it, and past this a 2-core CPU would take hours a batch.
pub const MAX_LEN_LIMIT: usize = 8192;
/// The shortest window a model may be built for (see `Config::check_flags`).
pub const MIN_LEN: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Bidirectional attention.
    Encoder,
    /// Causal attention; pools the last real token by default.
    Decoder,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Exact (erf) GELU, as BERT and the PyTorch peer.
    Gelu,
    Silu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    /// x / rms(x) * g: no mean, no bias.
    Rms,
    /// (x - mean) / std * g + b.
    Layer,
}

/// How the q and k projections start. Attention scores are bilinear in them: from
/// small weights both q and k are small, each one's gradient is proportional to the
/// other, and the heads sit near uniform for many steps (a plateau).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum QkInit {
    /// N(0, init_std), like every other weight: scores of std ~0.1 at the start.
    Shared,
    /// N(0, 1/d_model): q and k of unit variance, scores of std ~1 at the start.
    Scaled,
}

impl QkInit {
    /// Runs saved before the option started q and k like every other weight.
    fn saved_before_the_option() -> Self {
        QkInit::Shared
    }
}

/// How the final states reach the head (`pooling.rs` holds the layers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    /// Mean of the final states over real tokens.
    Mean,
    /// The final state of [CLS] (encoder only: under the causal mask it sees nothing).
    Cls,
    /// Learned attention pooling: one query, softmax over real tokens.
    Attention,
    /// Learned attention pooling scored on each token's own embedding.
    Words,
    /// The last real token (the decoder's pooling).
    Last,
}

impl Pool {
    /// What a new run pools with when `--pool` is not given. The encoder pools the
    /// mean: every position's state reaches the loss, so layer-1 heads learn to read
    /// the evidence; under [CLS] pooling they stayed within 1% of uniform
    /// (docs/attention-recipes.md).
    pub fn default_for(arch: Arch) -> Pool {
        match arch {
            Arch::Encoder => Pool::Mean,
            Arch::Decoder => Pool::Last,
        }
    }

    /// How runs pooled before config.json recorded `pool` (the mean then too; [CLS]
    /// was the default in between, always recorded).
    pub fn original(arch: Arch) -> Pool {
        match arch {
            Arch::Encoder => Pool::Mean,
            Arch::Decoder => Pool::Last,
        }
    }

    /// Whether the head learns a query (`pool.query`, d_model).
    pub fn learns_query(self) -> bool {
        matches!(self, Pool::Attention | Pool::Words)
    }

    pub fn name(self) -> &'static str {
        match self {
            Pool::Mean => "mean",
            Pool::Cls => "cls",
            Pool::Attention => "attention",
            Pool::Words => "words",
            Pool::Last => "last",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Token vocabulary; 30,522 is bert-base-uncased's.
    pub vocab_size: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub n_layers: usize,
    /// FFN hidden width = ffn_mult * d_model.
    pub ffn_mult: usize,
    /// Longest sequence the positional embedding covers, special tokens included.
    pub max_len: usize,
    pub n_classes: usize,
    /// Dropout on each residual branch (attention and FFN outputs).
    pub dropout: f32,
    /// Dropout on the attention weights; 0 by default, as in the PyTorch peer.
    pub attn_dropout: f32,
    pub act: Activation,
    pub norm: NormKind,
    pub arch: Arch,
    /// How the final states become the head's input (see `pooling`).
    pub pool: Pool,
    pub norm_eps: f64,
    /// Std of the N(0, std) init of every Linear and Embedding weight (BERT/GPT-2 style).
    pub init_std: f64,
    /// The q and k projections' init (see `QkInit`).
    #[serde(default = "QkInit::saved_before_the_option")]
    pub qk_init: QkInit,
    /// QK-norm: each head's q and k divided by their RMS over d_head and scaled
    /// by a learned gain (`attn.q_norm.weight`, `attn.k_norm.weight`, d_head,
    /// starting at 1) before the scores (Henry et al. 2020, Dehghani et al. 2023).
    pub qk_norm: bool,
    /// What turns a head's scores into weights: softmax, or sparsemax / 1.5-entmax,
    /// which give exactly 0 to the keys below a threshold (`kernels::AttnFn`).
    pub attn_fn: AttnFn,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            vocab_size: 30_522,
            d_model: 256,
            n_heads: 4,
            // One block: its heads read the evidence and the mean-pooled route
            // follows them; a second block turned the route to punctuation
            // (docs/attention-recipes.md, the choice).
            n_layers: 1,
            ffn_mult: 4,
            max_len: 256,
            n_classes: 2,
            dropout: 0.1,
            attn_dropout: 0.0,
            act: Activation::Gelu,
            norm: NormKind::Rms,
            arch: Arch::Encoder,
            pool: Pool::default_for(Arch::Encoder),
            norm_eps: 1e-5,
            init_std: 0.02,
            qk_init: QkInit::Scaled,
            qk_norm: false,
            attn_fn: AttnFn::Softmax,
        }
    }
}

impl Config {
    /// A saved config; one saved before `pool` existed pooled as its arch did then.
    pub fn from_json(json: serde_json::Value) -> serde_json::Result<Config> {
        let legacy = json.get("pool").is_none();
        let mut config: Config = serde_json::from_value(json)?;
        if legacy {
            config.pool = Pool::original(config.arch);
        }
        Ok(config)
    }

    pub fn d_head(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// The std q and k start with.
    pub fn qk_init_std(&self) -> f64 {
        match self.qk_init {
            QkInit::Shared => self.init_std,
            QkInit::Scaled => 1.0 / (self.d_model as f64).sqrt(),
        }
    }

    pub fn d_ffn(&self) -> usize {
        self.ffn_mult * self.d_model
    }

    /// Scalar parameters (embeddings, blocks, final norm, head).
    pub fn param_count(&self) -> usize {
        let (d, f) = (self.d_model, self.d_ffn());
        let norm = if self.norm == NormKind::Layer {
            2 * d
        } else {
            d
        };
        let qk_norm = if self.qk_norm { 2 * self.d_head() } else { 0 };
        let block = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 2 * norm + qk_norm;
        (self.vocab_size + self.max_len) * d
            + self.n_layers * block
            + norm
            + d * self.n_classes
            + self.n_classes
            + if self.pool.learns_query() { d } else { 0 }
    }

    pub fn causal(&self) -> bool {
        self.arch == Arch::Decoder
    }

    /// The model's command-line options in range, as usage errors (exit 2):
    /// the one set of bounds `train`, `pretrain` and `profile` check. A window
    /// of 8 tokens is the shortest both tasks can learn from ([CLS], [SEP] and
    /// at least one masked or predicted token among six).
    pub fn check_flags(&self) -> Result<()> {
        for (flag, n, max) in [
            ("--d-model", self.d_model, 8192),
            ("--heads", self.n_heads, 256),
            ("--layers", self.n_layers, 64),
            ("--ffn-mult", self.ffn_mult, 64),
        ] {
            require_in(flag, n, (1, max))?;
        }
        require((MIN_LEN..=MAX_LEN_LIMIT).contains(&self.max_len), || {
            format!(
                "--max-len {}: use {MIN_LEN} to {MAX_LEN_LIMIT} tokens ([CLS] and [SEP] included)",
                self.max_len
            )
        })?;
        require(self.d_model.is_multiple_of(self.n_heads), || {
            format!(
                "--d-model {} is not a multiple of --heads {}: each head gets d_model / heads",
                self.d_model, self.n_heads
            )
        })?;
        require(!(self.pool == Pool::Cls && self.causal()), || {
            "--pool cls needs --arch encoder: under the causal mask [CLS] sees only itself; \
             the decoder pools its last token (--pool last)"
                .into()
        })?;
        require((0.0..1.0).contains(&self.dropout), || {
            format!("--dropout {}: use a probability in [0, 1)", self.dropout)
        })
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.n_heads > 0 && self.d_model.is_multiple_of(self.n_heads),
            "d_model ({}) must be a positive multiple of n_heads ({})",
            self.d_model,
            self.n_heads
        );
        ensure!(
            self.vocab_size > 0 && self.max_len > 0 && self.n_layers > 0 && self.ffn_mult > 0,
            "vocab_size, max_len, n_layers and ffn_mult must all be positive"
        );
        ensure!(
            self.max_len <= MAX_LEN_LIMIT,
            "max_len {} is over the limit of {MAX_LEN_LIMIT}",
            self.max_len
        );
        ensure!(
            self.n_classes >= 2,
            "n_classes must be at least 2, got {}",
            self.n_classes
        );
        ensure!(
            !(self.pool == Pool::Cls && self.causal()),
            "cls pooling needs the encoder: under the causal mask [CLS] sees only itself"
        );
        for (name, p) in [
            ("dropout", self.dropout),
            ("attn_dropout", self.attn_dropout),
        ] {
            ensure!((0.0..1.0).contains(&p), "{name} must be in [0, 1), got {p}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn train_and_pretrain_check_the_model_with_one_set_of_bounds() {
        use crate::pretrain::options::PretrainOptions;
        use crate::train::options::TrainOptions;
        let with_len = |max_len| Config {
            max_len,
            ..Config::default()
        };
        for (len, ok) in [
            (MIN_LEN - 1, false),
            (MIN_LEN, true),
            (MAX_LEN_LIMIT + 1, false),
        ] {
            let train = TrainOptions {
                model: with_len(len),
                ..TrainOptions::default()
            };
            let pretrain = PretrainOptions {
                model: with_len(len),
                ..PretrainOptions::default()
            };
            assert_eq!(with_len(len).check_flags().is_ok(), ok, "{len}");
            // Both refuse exactly what the shared check refuses (memory aside).
            let refused = |e: anyhow::Error| e.to_string().contains("--max-len");
            assert_eq!(train.check().err().is_some_and(refused), !ok, "train {len}");
            assert_eq!(
                pretrain.check().err().is_some_and(refused),
                !ok,
                "pretrain {len}"
            );
        }
    }
    use super::*;
    use crate::model::store::init_model;
    use candle_core::{DType, Device};

    fn std_of(varmap: &candle_nn::VarMap, name: &str) -> f64 {
        let data = varmap.data().lock().expect("VarMap lock poisoned");
        let w = data[name].as_tensor().flatten_all().unwrap();
        let w: Vec<f32> = w.to_vec1().unwrap();
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / w.len() as f64;
        (w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / w.len() as f64).sqrt()
    }

    #[test]
    fn scaled_qk_init_starts_q_and_k_at_one_over_sqrt_d_and_nothing_else() {
        let config = Config {
            vocab_size: 50,
            d_model: 64,
            n_layers: 1,
            max_len: 16,
            qk_init: QkInit::Scaled,
            ..Config::default()
        };
        let (_, varmap) = init_model(&config, 0, DType::F32, &Device::Cpu).unwrap();
        for (name, want) in [
            ("blocks.0.attn.q.weight", 0.125),
            ("blocks.0.attn.k.weight", 0.125),
            ("blocks.0.attn.v.weight", 0.02),
            ("blocks.0.ffn.up.weight", 0.02),
        ] {
            let got = std_of(&varmap, name);
            assert!(
                (got / want - 1.0).abs() < 0.05,
                "{name}: std {got}, want {want}"
            );
        }
    }

    #[test]
    fn a_config_saved_before_qk_init_reads_as_shared() {
        let mut json = serde_json::to_value(Config {
            qk_init: QkInit::Scaled,
            ..Config::default()
        })
        .unwrap();
        assert_eq!(json["qk_init"], "scaled");
        json.as_object_mut().unwrap().remove("qk_init");
        assert_eq!(Config::from_json(json).unwrap().qk_init, QkInit::Shared);
    }
}
