//! The position-wise feed-forward network: d -> ffn_mult*d -> d.

use super::config::{Activation, Config};
use super::linear::Linear;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// Fields read by the hand-written backward (`tape`) too.
pub struct FeedForward {
    pub(super) up: Linear,
    pub(super) down: Linear,
    pub(super) act: Activation,
}

impl FeedForward {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        let (d, h) = (config.d_model, config.d_ffn());
        Ok(Self {
            up: Linear::new(vb.pp("up"), d, h, config.init_std)?,
            down: Linear::new(vb.pp("down"), h, d, config.init_std)?,
            act: config.act,
        })
    }

    /// (N, D) rows -> (N, D)
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = match self.act {
            Activation::Gelu => self.up.forward_gelu(x)?,
            Activation::Silu => self.up.forward(x)?.silu()?,
        }; // (N, ffn)
        self.down.forward(&h)
    }
}
