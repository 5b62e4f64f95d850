//! One pre-norm Transformer block:
//! x = x + Dropout(MHSA(Norm(x), mask)); x = x + Dropout(FFN(Norm(x))).

use super::attention::MultiHeadSelfAttention;
use super::config::Config;
use super::ffn::FeedForward;
use super::forward::Forward;
use super::norm::Norm;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// Fields read by the hand-written backward (`tape`) too.
pub struct Block {
    pub(super) norm_attn: Norm,
    pub(super) attn: MultiHeadSelfAttention,
    pub(super) norm_ffn: Norm,
    pub(super) ffn: FeedForward,
    pub(super) dropout: f32,
}

impl Block {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        Ok(Self {
            norm_attn: Norm::new(vb.pp("norm_attn"), config)?,
            attn: MultiHeadSelfAttention::new(vb.pp("attn"), config)?,
            norm_ffn: Norm::new(vb.pp("norm_ffn"), config)?,
            ffn: FeedForward::new(vb.pp("ffn"), config)?,
            dropout: config.dropout,
        })
    }

    /// x (B·L, D) rows of a (B, L) batch -> (B·L, D), plus, with
    /// `fwd.keep_attn`, this layer's attention weights (B, H, L, L).
    pub fn forward(
        &self,
        x: &Tensor,
        batch: (usize, usize),
        bias: Option<&Tensor>,
        fwd: &mut Forward,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let normed = self.norm_attn.forward(x)?;
        let (a, attn) = self.attn.forward(&normed, batch, bias, fwd)?;
        let x = fwd.mode.residual(x, &a, self.dropout)?;
        let f = self.ffn.forward(&self.norm_ffn.forward(&x)?)?;
        let x = fwd.mode.residual(&x, &f, self.dropout)?;
        Ok((x, attn))
    }
}
