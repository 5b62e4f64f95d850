//! The position-wise feed-forward network: d -> ffn_mult*d -> d.

use super::config::{Activation, Config};
use super::linear::Linear;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

pub struct FeedForward {
    up: Linear,
    down: Linear,
    act: Activation,
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

    /// The up and down layers, as the tape reads them; None under SiLU, which
    /// the tape does not cover.
    pub fn gelu_layers(&self) -> Option<(&Linear, &Linear)> {
        (self.act == Activation::Gelu).then_some((&self.up, &self.down))
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
