//! The pretraining head on the shared body: the final states at the chosen
//! positions -> logits over the vocabulary through the token embedding table
//! itself (tied, as in BERT and GPT-2), plus a bias `lm.bias`. Only the chosen
//! positions reach the (N, V) logits, so the head's cost follows the share of
//! tokens asked about, not the length.

use super::body::Body;
use super::config::Config;
use super::forward::Forward;
use crate::data::collate::Batch;
use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

pub struct LanguageModel {
    body: Body,
    bias: Tensor, // (V)
}

/// What a language model reads and what it must predict: the (masked) inputs,
/// and at N chosen positions, flat indices into the batch's B·L, the target token.
pub struct LmBatch {
    pub batch: Batch,
    /// (N) u32
    pub positions: Tensor,
    /// (N) u32
    pub targets: Tensor,
}

impl LanguageModel {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        Ok(Self {
            body: Body::new(vb.clone(), config)?,
            bias: vb
                .pp("lm")
                .get_with_hints(config.vocab_size, "bias", Init::Const(0.0))?,
        })
    }

    /// (N, V) logits at the batch's chosen positions.
    pub fn logits(&self, lm: &LmBatch, fwd: Forward) -> Result<Tensor> {
        let batch = &lm.batch;
        let hidden = self
            .body
            .forward(&batch.input_ids, &batch.attention_mask, fwd)?
            .hidden; // (B, L, D)
        let (b, l, d) = hidden.dims3()?;
        let chosen = hidden.reshape((b * l, d))?.index_select(&lm.positions, 0)?; // (N, D)
        chosen
            .matmul(&self.body.embedding_table().t()?)? // (N, V)
            .broadcast_add(&self.bias)
    }
}
