//! The whole classifier: the shared body -> pooling -> linear head -> logits.

use super::body::Body;
use super::config::Config;
use super::forward::Forward;
use super::linear::Linear;
use super::mask::Masks;
use super::pooling::Pooling;
use super::tape::StackTape;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

pub struct Classifier {
    body: Body,
    head: Linear,
    pooling: Pooling,
}

/// What one forward pass returns. Every caller (training, eval, attention X-ray,
/// profiling) goes through the same `forward` and picks what it needs.
pub struct Output {
    /// (B, n_classes)
    pub logits: Tensor,
    /// Final-normed hidden states (B, L, D).
    pub hidden: Tensor,
    /// How much each position contributes to the pooled vector (B, L); rows sum to 1.
    pub pooling: Tensor,
    /// Attention weights per layer, (B, H, L, L) each; empty unless asked for.
    pub attn: Vec<Tensor>,
    /// The blocks' tape when they ran on it ([`Forward::by_hand`]).
    pub tape: Option<StackTape>,
}

impl Classifier {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        Ok(Self {
            body: Body::new(vb.clone(), config)?,
            head: Linear::new(
                vb.pp("head"),
                config.d_model,
                config.n_classes,
                config.init_std,
            )?,
            pooling: Pooling::new(vb.pp("pool"), config)?,
        })
    }

    /// The masks this architecture is meant to run with.
    pub fn masks(&self) -> Masks {
        self.body.masks()
    }

    /// input_ids, attention_mask: (B, L) u32, attention_mask 1 for real tokens, 0 for [PAD].
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        fwd: Forward,
    ) -> Result<Output> {
        self.forward_embedded(&self.token_embeddings(input_ids)?, attention_mask, fwd)
    }

    /// (B, L) ids -> (B, L, D) token embeddings, before positions.
    pub fn token_embeddings(&self, input_ids: &Tensor) -> Result<Tensor> {
        self.body.token_embeddings(input_ids)
    }

    /// The (V, D) token embedding table.
    pub fn embedding_table(&self) -> &Tensor {
        self.body.embedding_table()
    }

    /// The forward pass from token embeddings (B, L, D): how gradient attributions
    /// run the model on inputs between a baseline and the text.
    pub fn forward_embedded(
        &self,
        tokens: &Tensor,
        attention_mask: &Tensor,
        fwd: Forward,
    ) -> Result<Output> {
        let body = self.body.forward_embedded(tokens, attention_mask, fwd)?;
        let pooling = self.pooling.weights(&body.hidden, tokens, attention_mask)?; // (B, L)
        let pooled = pooling.unsqueeze(1)?.matmul(&body.hidden)?.squeeze(1)?; // (B, D)
        Ok(Output {
            logits: self.head.forward(&pooled)?,
            hidden: body.hidden,
            pooling,
            attn: body.attn,
            tape: body.tape,
        })
    }

    /// Eval-mode logits with the architecture's own masks.
    pub fn logits(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        Ok(self
            .forward(input_ids, attention_mask, Forward::eval())?
            .logits)
    }
}
