//! The whole classifier:
//! ids -> embeddings -> N blocks -> final norm -> pooling -> linear head -> logits.

use super::block::Block;
use super::config::{Arch, Config};
use super::embed::Embeddings;
use super::forward::Forward;
use super::linear::Linear;
use super::mask::{attention_bias, Masks};
use super::norm::Norm;
use candle_core::{DType, Result, Tensor, D};
use candle_nn::VarBuilder;

pub struct Classifier {
    embed: Embeddings,
    blocks: Vec<Block>,
    norm_final: Norm,
    head: Linear,
    arch: Arch,
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
            arch: config.arch,
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
        mut fwd: Forward,
    ) -> Result<Output> {
        let dtype = self.head.weight().dtype();
        let masks = fwd.masks.unwrap_or(self.masks());
        let bias = attention_bias(attention_mask, masks, dtype)?;
        let mut x = self.embed.forward(input_ids)?; // (B, L, D)
        let mut attn = Vec::new();
        for block in &self.blocks {
            let (y, weights) = block.forward(&x, bias.as_ref(), &mut fwd)?;
            x = y;
            attn.extend(weights);
        }
        let hidden = self.norm_final.forward(&x)?;
        let pooling = self.pooling_weights(attention_mask)?.to_dtype(dtype)?; // (B, L)
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

    /// Encoder: mean over real tokens (padded positions carry states that must not
    /// leak in). Decoder: the last real token, the only one that has seen the whole
    /// text under the causal mask.
    fn pooling_weights(&self, attention_mask: &Tensor) -> Result<Tensor> {
        let real = attention_mask.to_dtype(DType::F32)?; // (B, L)
        let count = real.sum_keepdim(D::Minus1)?.clamp(1.0, f64::MAX)?; // (B, 1)
        match self.arch {
            Arch::Encoder => real.broadcast_div(&count),
            Arch::Decoder => {
                let l = real.dim(1)?;
                let positions = Tensor::arange(0f32, l as f32, real.device())?; // (L)
                let positions = positions.unsqueeze(0)?; // (1, L)
                positions
                    .broadcast_eq(&(count - 1.0)?)?
                    .to_dtype(DType::F32)
            }
        }
    }
}
