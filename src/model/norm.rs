//! RMSNorm (our fused kernel on the CPU) and LayerNorm (composed from
//! differentiable tensor ops).
//!
//! candle_nn's fused `ops::rms_norm` / `ops::layer_norm` have no backward pass:
//! gradients would silently stop here. The gradient tests catch such a swap.

use super::config::{Config, NormKind};
use crate::kernels;
use candle_core::{Result, Tensor, D};
use candle_nn::{Init, VarBuilder};

pub enum Norm {
    Rms {
        weight: Tensor,
        eps: f64,
    },
    Layer {
        weight: Tensor,
        bias: Tensor,
        eps: f64,
    },
}

impl Norm {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        let d = config.d_model;
        let weight = vb.get_with_hints(d, "weight", Init::Const(1.0))?;
        let eps = config.norm_eps;
        Ok(match config.norm {
            NormKind::Rms => Norm::Rms { weight, eps },
            NormKind::Layer => Norm::Layer {
                weight,
                bias: vb.get_with_hints(d, "bias", Init::Const(0.0))?,
                eps,
            },
        })
    }

    /// (..., D) -> (..., D), normalised over the last dimension.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Norm::Rms { weight, eps } => kernels::rms_norm(x, weight, *eps),
            Norm::Layer { weight, bias, eps } => {
                let centred = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
                let inv_std = (centred.sqr()?.mean_keepdim(D::Minus1)? + *eps)?
                    .sqrt()?
                    .recip()?;
                centred
                    .broadcast_mul(&inv_std)?
                    .broadcast_mul(weight)?
                    .broadcast_add(bias)
            }
        }
    }
}
