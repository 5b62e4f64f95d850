//! The position-wise feed-forward network: d -> ffn_mult*d -> d.

use super::config::{Activation, Config};
use super::kernels;
use super::linear::linear;
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

pub struct FeedForward {
    up: Linear,
    down: Linear,
    act: Activation,
}

impl FeedForward {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        let (d, h) = (config.d_model, config.d_ffn());
        Ok(Self {
            up: linear(vb.pp("up"), d, h, config.init_std)?,
            down: linear(vb.pp("down"), h, d, config.init_std)?,
            act: config.act,
        })
    }

    /// (B, L, D) -> (B, L, D)
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.up.forward(x)?; // (B, L, ffn)
        let h = match self.act {
            Activation::Gelu => kernels::gelu(&h)?,
            Activation::Silu => h.silu()?,
        };
        self.down.forward(&h)
    }
}
