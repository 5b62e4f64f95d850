//! One pre-norm Transformer block:
//! x = x + Dropout(MHSA(Norm(x), mask)); x = x + Dropout(FFN(Norm(x))).

use super::attention::{AttnView, MultiHeadSelfAttention};
use super::config::Config;
use super::ffn::FeedForward;
use super::forward::Forward;
use super::linear::Linear;
use super::norm::Norm;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

pub struct Block {
    norm_attn: Norm,
    attn: MultiHeadSelfAttention,
    norm_ffn: Norm,
    ffn: FeedForward,
    dropout: f32,
}

/// A block as the hand-written backward (`tape`) reads it: each norm's gain and
/// epsilon, the attention layer, the FFN's two layers, the residual dropout.
pub struct TapeView<'a> {
    pub norm_attn: (&'a Tensor, f64),
    pub attn: AttnView<'a>,
    pub norm_ffn: (&'a Tensor, f64),
    pub up: &'a Linear,
    pub down: &'a Linear,
    pub dropout: f32,
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

    /// This block as the tape reads it; None when the tape does not cover it
    /// (LayerNorm, SiLU, QK-norm, attention dropout: through candle's graph).
    pub fn tape_view(&self) -> Option<TapeView<'_>> {
        let (
            Norm::Rms {
                weight: na,
                eps: ea,
            },
            Norm::Rms {
                weight: nf,
                eps: ef,
            },
        ) = (&self.norm_attn, &self.norm_ffn)
        else {
            return None;
        };
        let (up, down) = self.ffn.gelu_layers()?;
        Some(TapeView {
            norm_attn: (na, *ea),
            attn: self.attn.tape_view()?,
            norm_ffn: (nf, *ef),
            up,
            down,
            dropout: self.dropout,
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
