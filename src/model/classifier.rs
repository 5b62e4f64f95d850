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
    /// Divides the logits wherever probabilities are shown (temperature scaling,
    /// fitted after training; 1 = none). The logits themselves stay raw.
    temperature: f64,
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
            temperature: 1.0,
        })
    }

    /// The same model, its probabilities at temperature `t`.
    pub fn with_temperature(self, t: f64) -> Self {
        Self {
            temperature: t,
            ..self
        }
    }

    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// (B, n_classes) logits -> the logits its probabilities are the softmax of.
    pub fn calibrated(&self, logits: &Tensor) -> Result<Tensor> {
        if self.temperature == 1.0 {
            return Ok(logits.clone());
        }
        logits / self.temperature
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
