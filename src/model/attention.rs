//! Multi-head self-attention, step by step (no fused or ready-made attention).

use super::config::Config;
use super::dropout::Mode;
use super::kernels;
use super::linear::linear;
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

pub struct MultiHeadSelfAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    n_heads: usize,
    d_head: usize,
    attn_dropout: f32,
}

impl MultiHeadSelfAttention {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        let (d, std) = (config.d_model, config.init_std);
        Ok(Self {
            q: linear(vb.pp("q"), d, d, std)?,
            k: linear(vb.pp("k"), d, d, std)?,
            v: linear(vb.pp("v"), d, d, std)?,
            o: linear(vb.pp("o"), d, d, std)?,
            n_heads: config.n_heads,
            d_head: config.d_head(),
            attn_dropout: config.attn_dropout,
        })
    }

    /// (B, L, D) -> (B, H, L, Dh)
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, l, _) = x.dims3()?;
        x.reshape((b, l, self.n_heads, self.d_head))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// x: (B, L, D); bias: additive mask broadcastable to (B, H, L, L).
    /// Returns the output (B, L, D) and the attention weights (B, H, L, L).
    pub fn forward(
        &self,
        x: &Tensor,
        bias: Option<&Tensor>,
        mode: &mut Mode,
    ) -> Result<(Tensor, Tensor)> {
        let (b, l, d) = x.dims3()?;
        let q = self.split_heads(&self.q.forward(x)?)?; // (B, H, L, Dh)
        let k = self.split_heads(&self.k.forward(x)?)?;
        let v = self.split_heads(&self.v.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (self.d_head as f64).sqrt())?; // (B, H, L, L)
        let scores = match bias {
            Some(bias) => scores.broadcast_add(bias)?,
            None => scores,
        };
        // Ours, with a backward pass: candle's fused last-dim softmax has none.
        let weights = kernels::softmax_last(&scores)?;
        let dropped = mode.dropout(&weights, self.attn_dropout)?;
        let context = dropped.matmul(&v)?; // (B, H, L, Dh)
        let context = context.transpose(1, 2)?.reshape((b, l, d))?; // (B, L, D): heads side by side
        Ok((self.o.forward(&context)?, weights))
    }
}
