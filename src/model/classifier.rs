//! The whole classifier:
//! ids -> embeddings -> N blocks -> final norm -> pooling -> linear head -> logits.

use super::block::Block;
use super::config::Config;
use super::embed::Embeddings;
use super::forward::Forward;
use super::linear::Linear;
use super::mask::{attention_bias, Masks};
use super::norm::Norm;
use super::pooling::Pooling;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

pub struct Classifier {
    embed: Embeddings,
    blocks: Vec<Block>,
    norm_final: Norm,
    head: Linear,
    pooling: Pooling,
    causal: bool,
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
}

impl Classifier {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        let blocks = (0..config.n_layers)
            .map(|i| Block::new(vb.pp(format!("blocks.{i}")), config))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embed: Embeddings::new(vb.clone(), config)?,
            blocks,
            norm_final: Norm::new(vb.pp("norm_final"), config)?,
            head: Linear::new(
                vb.pp("head"),
                config.d_model,
                config.n_classes,
                config.init_std,
            )?,
            pooling: Pooling::new(vb.pp("pool"), config)?,
            causal: config.causal(),
        })
    }

    /// The masks this architecture is meant to run with.
    pub fn masks(&self) -> Masks {
        Masks {
            padding: true,
            causal: self.causal,
        }
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
        self.embed.tokens(input_ids)
    }

    /// The forward pass from token embeddings (B, L, D): how gradient attributions
    /// run the model on inputs between a baseline and the text.
    pub fn forward_embedded(
        &self,
        tokens: &Tensor,
        attention_mask: &Tensor,
        mut fwd: Forward,
    ) -> Result<Output> {
        let dtype = self.head.weight().dtype();
        let masks = fwd.masks.unwrap_or(self.masks());
        let bias = attention_bias(attention_mask, masks, dtype)?;
        let mut x = self.embed.add_positions(tokens)?; // (B, L, D)
        let mut attn = Vec::new();
        for block in &self.blocks {
            let (y, weights) = block.forward(&x, bias.as_ref(), &mut fwd)?;
            x = y;
            attn.extend(weights);
        }
        let hidden = self.norm_final.forward(&x)?;
        let pooling = self.pooling.weights(&hidden, attention_mask)?; // (B, L)
        let pooled = pooling.unsqueeze(1)?.matmul(&hidden)?.squeeze(1)?; // (B, D)
        Ok(Output {
            logits: self.head.forward(&pooled)?,
            hidden,
            pooling,
            attn,
        })
    }

    /// Eval-mode logits with the architecture's own masks.
    pub fn logits(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        Ok(self
            .forward(input_ids, attention_mask, Forward::eval())?
            .logits)
    }
}
