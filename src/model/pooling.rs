//! How the final states become the one vector the head classifies. Every head
//! is a weighting of the positions, (B, L) rows summing to 1 over real tokens,
//! so the X-ray can always show what reached the classifier:
//! - `mean`: uniform over real tokens; words reach the head through the residual
//!   stream, whatever attention does;
//! - `cls`: the [CLS] position only, so the last layer's [CLS] query row is the
//!   route by which words reach the head;
//! - `attention`: a learned query scores every final state, softmax over real
//!   tokens (the same finite mask as attention), so its weights are the evidence;
//!   under a sparse `attn_fn` the heads' function instead, so that the pooling
//!   selects a few tokens and gives the rest exactly 0;
//! - `words`: the same, but the query scores each token's own embedding, before
//!   any attention mixed it: the weights can only pick words, not a position
//!   whose state already summarises the text;
//! - `last`: the decoder's last real token, the only one that saw the whole text.

use super::attn_fn;
use super::config::{Config, Pool};
use super::mask::padding_bias;
use crate::kernels::{self, AttnFn};
use candle_core::{DType, Result, Tensor, D};
use candle_nn::{Init, VarBuilder};

pub struct Pooling {
    pool: Pool,
    /// What turns the learned pooling's scores into weights: the heads' function.
    attn_fn: AttnFn,
    /// (D): the learned query of `attention` and `words`, `pool.query` in the checkpoint.
    query: Option<Tensor>,
}

impl Pooling {
    /// Created after every other parameter, so the body's initial weights are the
    /// same for every head. The query starts at zero: attention pooling begins as
    /// the mean pool and learns where to look.
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        let query = config
            .pool
            .learns_query()
            .then(|| vb.get_with_hints(config.d_model, "query", Init::Const(0.0)))
            .transpose()?;
        Ok(Self {
            pool: config.pool,
            attn_fn: config.attn_fn,
            query,
        })
    }

    /// hidden (B, L, D) final states, tokens (B, L, D) token embeddings,
    /// attention_mask (B, L) -> weights (B, L) in hidden's dtype.
    pub fn weights(
        &self,
        hidden: &Tensor,
        tokens: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor> {
        let dtype = hidden.dtype();
        let real = attention_mask.to_dtype(DType::F32)?; // (B, L)
        let count = real.sum_keepdim(D::Minus1)?.clamp(1.0, f64::MAX)?; // (B, 1)
        let positions = || {
            let l = real.dim(1)?;
            Tensor::arange(0f32, l as f32, real.device())?.unsqueeze(0) // (1, L)
        };
        let weights = match (self.pool, &self.query) {
            (Pool::Attention, Some(query)) => {
                return attention_pool(hidden, query, attention_mask, self.attn_fn)
            }
            (Pool::Words, Some(query)) => {
                return words_pool(tokens, query, attention_mask, self.attn_fn)
            }
            (Pool::Attention | Pool::Words, None) => {
                candle_core::bail!("attention pooling without its query")
            }
            (Pool::Mean, _) => real.broadcast_div(&count)?,
            (Pool::Cls, _) => positions()?
                .eq(0f32)?
                .to_dtype(DType::F32)?
                .broadcast_mul(&real)?,
            (Pool::Last, _) => positions()?
                .broadcast_eq(&(count - 1.0)?)?
                .to_dtype(DType::F32)?,
        };
        weights.to_dtype(dtype)
    }
}

/// softmax over real tokens of hidden · query: (B, L). No 1/√D: the query is
/// learned, so its norm is the temperature, and with the scale a one-epoch run
/// left the weights uniform (every token within 1.0x of 1/n on IMDb).
fn attention_pool(
    hidden: &Tensor,
    query: &Tensor,
    attention_mask: &Tensor,
    f: AttnFn,
) -> Result<Tensor> {
    let (b, l, d) = hidden.dims3()?;
    let scores = hidden.reshape((b * l, d))?.matmul(&query.unsqueeze(1)?)?; // (B·L, 1)
    masked_weights(&scores.reshape((b, l))?, attention_mask, f)
}

/// softmax over real tokens of √D · RMSNorm(token embedding) · query: (B, L).
/// The norm makes a score depend on the word's direction only. The √D is the
/// query's learning rate: AdamW moves each coordinate by about lr a step
/// whatever the gradient, and at 1x one IMDb epoch leaves the weights near
/// uniform (the same happens to `attention`).
fn words_pool(
    tokens: &Tensor,
    query: &Tensor,
    attention_mask: &Tensor,
    f: AttnFn,
) -> Result<Tensor> {
    let temperature = (tokens.dim(D::Minus1)? as f64).sqrt();
    let scores = (kernels::rms_norm(tokens, query, 1e-6)?.sum(D::Minus1)? * temperature)?; // (B, L)
    masked_weights(&scores, attention_mask, f)
}

/// scores (B, L) -> f over each row's real tokens (softmax, or a sparse
/// function), exactly 0 on [PAD].
fn masked_weights(scores: &Tensor, attention_mask: &Tensor, f: AttnFn) -> Result<Tensor> {
    let (b, l) = scores.dims2()?;
    let scores = scores.reshape((b, 1, 1, l))?; // the shape of one attention row per item
    let bias = padding_bias(attention_mask, scores.dtype())?; // (B, 1, 1, L)
    attn_fn::weights(&scores, Some(&bias), 1.0, f)?.reshape((b, l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Arch;
    use candle_core::Device;
    use candle_nn::VarMap;

    /// Each head's weights: rows sum to 1, padding gets exactly 0, and the head
    /// looks where its name says.
    #[test]
    fn each_head_weighs_only_real_tokens() {
        let dev = Device::Cpu;
        let mask = Tensor::new(&[[1u32, 1, 1, 0], [1, 1, 1, 1]], &dev).unwrap(); // (2, 4)
        let hidden = Tensor::randn(0f32, 1.0, (2, 4, 8), &dev).unwrap();
        let expected: [(Pool, [[f32; 4]; 2]); 3] = [
            (Pool::Mean, [[1. / 3., 1. / 3., 1. / 3., 0.], [0.25; 4]]),
            (Pool::Cls, [[1., 0., 0., 0.], [1., 0., 0., 0.]]),
            (Pool::Last, [[0., 0., 1., 0.], [0., 0., 0., 1.]]),
        ];
        for (pool, want) in expected {
            let arch = if pool == Pool::Last {
                Arch::Decoder
            } else {
                Arch::Encoder
            };
            let config = Config {
                pool,
                arch,
                d_model: 8,
                n_heads: 2,
                ..Config::default()
            };
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
            let got = Pooling::new(vb, &config)
                .unwrap()
                .weights(&hidden, &hidden, &mask)
                .unwrap();
            assert_eq!(got.to_vec2::<f32>().unwrap(), want, "{pool:?}");
        }
        for pool in [Pool::Attention, Pool::Words] {
            let got = with_random_query(pool, &dev)
                .weights(&hidden, &hidden, &mask)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            assert_eq!(got[0][3], 0.0, "{pool:?}: padding got weight");
            for row in &got {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{pool:?}");
            }
        }
    }

    /// A learned pooling (d_model 8) whose query is random instead of its zero start.
    fn with_random_query(pool: Pool, dev: &Device) -> Pooling {
        with_random_query_and(pool, AttnFn::Softmax, dev)
    }

    fn with_random_query_and(pool: Pool, attn_fn: AttnFn, dev: &Device) -> Pooling {
        let config = Config {
            pool,
            attn_fn,
            d_model: 8,
            n_heads: 2,
            ..Config::default()
        };
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, dev);
        let pooling = Pooling::new(vb, &config).unwrap();
        let query = varmap.all_vars().pop().unwrap();
        query
            .set(&Tensor::randn(0f32, 3.0, 8, dev).unwrap())
            .unwrap();
        pooling
    }

    /// `words` scores a token by its embedding alone: the same word scores the
    /// same wherever it stands and whatever the final states say.
    #[test]
    fn word_pooling_reads_only_the_token() {
        let dev = Device::Cpu;
        let pooling = with_random_query(Pool::Words, &dev);
        let word = Tensor::randn(0f32, 1.0, (1, 1, 8), &dev).unwrap();
        let other = Tensor::randn(0f32, 1.0, (1, 1, 8), &dev).unwrap();
        let tokens = Tensor::cat(&[&word, &other, &word], 1).unwrap(); // (1, 3, 8)
        let mask = Tensor::new(&[[1u32, 1, 1]], &dev).unwrap();
        let weights = |hidden: &Tensor| {
            pooling
                .weights(hidden, &tokens, &mask)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap()
        };
        let a = weights(&Tensor::randn(0f32, 1.0, (1, 3, 8), &dev).unwrap());
        let b = weights(&Tensor::randn(0f32, 1.0, (1, 3, 8), &dev).unwrap());
        assert_eq!(a, b, "the final states moved the word weights");
        assert_eq!(a[0][0], a[0][2], "one word, two weights");
        assert_ne!(a[0][0], a[0][1]);
    }

    /// Under a sparse function the learned pooling selects: some real tokens
    /// get exactly 0, padding too, and each row still sums to 1.
    #[test]
    fn sparse_pooling_gives_some_real_tokens_exactly_zero() {
        let dev = Device::Cpu;
        let mask = Tensor::new(&[[1u32; 12], [1; 12]], &dev).unwrap();
        let hidden = Tensor::randn(0f32, 1.0, (2, 12, 8), &dev).unwrap();
        for f in [AttnFn::Sparsemax, AttnFn::Entmax15] {
            for pool in [Pool::Attention, Pool::Words] {
                let got = with_random_query_and(pool, f, &dev)
                    .weights(&hidden, &hidden, &mask)
                    .unwrap()
                    .to_vec2::<f32>()
                    .unwrap();
                for row in &got {
                    assert!(
                        (row.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                        "{f:?} {pool:?}"
                    );
                    assert!(
                        row.contains(&0.0),
                        "{f:?} {pool:?}: no exact zero in {row:?}"
                    );
                }
            }
        }
    }
}
