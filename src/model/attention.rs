//! Multi-head self-attention, step by step (no fused or ready-made attention).

use super::config::Config;
use super::dropout::Mode;
use super::kernels;
use super::linear::{as_rows, Linear};
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

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
            q: Linear::new(vb.pp("q"), d, d, std)?,
            k: Linear::new(vb.pp("k"), d, d, std)?,
            v: Linear::new(vb.pp("v"), d, d, std)?,
            o: Linear::new(vb.pp("o"), d, d, std)?,
            n_heads: config.n_heads,
            d_head: config.d_head(),
            attn_dropout: config.attn_dropout,
        })
    }

    /// x: (B, L, D); bias: additive mask broadcastable to (B, H, L, L).
    /// Returns the output (B, L, D) and, with `keep_weights`, the attention
    /// weights (B, H, L, L). Without them, on the CPU, the fused kernel runs the
    /// same computation as one op (tested against this composition).
    pub fn forward(
        &self,
        x: &Tensor,
        bias: Option<&Tensor>,
        mode: &mut Mode,
        keep_weights: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (b, l, d) = x.dims3()?;
        let heads = kernels::Heads {
            b,
            l,
            h: self.n_heads,
            dh: self.d_head,
        };
        let scale = 1.0 / (self.d_head as f64).sqrt();
        let rows = as_rows(x)?; // (B·L, D): one matmul per projection
        let dropout = mode.is_train() && self.attn_dropout > 0.0;
        if kernels::fused(x) && !keep_weights && !dropout {
            let qkv = Linear::stacked(&[&self.q, &self.k, &self.v])?.forward(&rows)?; // (B·L, 3D)
            let bias = match bias {
                Some(bias) => bias.clone(),
                None => Tensor::zeros((1, 1, 1, l), x.dtype(), x.device())?,
            };
            let context = kernels::attention(&qkv, &bias, heads, scale)?; // (B·L, D)
            return Ok((self.o.forward(&context)?.reshape((b, l, d))?, None));
        }
        let q = heads.split(&self.q.forward(&rows)?)?; // (B, H, L, Dh)
        let k = heads.split(&self.k.forward(&rows)?)?;
        let v = heads.split(&self.v.forward(&rows)?)?;
        let scores = q.matmul(&k.t()?)?; // (B, H, L, L)

        // Ours, with a backward pass (candle's fused softmax has none), and with
        // the 1/sqrt(Dh) scale and the mask folded into the same pass.
        let weights = kernels::softmax_last(&scores, bias, scale)?;
        let dropped = mode.dropout(&weights, self.attn_dropout)?;
        let context = heads.merge(&dropped.matmul(&v)?)?; // (B·L, D): heads side by side
        Ok((self.o.forward(&context)?.reshape((b, l, d))?, Some(weights)))
    }
}
