//! Linear layers with the peer's explicit init: weight N(0, init_std), bias 0.
//!
//! Ours rather than candle_nn's: for a (B, L, D) input candle_nn broadcasts the
//! weight to (B, D_out, D_in), so its gradient is B full weight-sized buffers
//! summed by a slow strided reduction. Flattening to one (B·L, D) matmul gives
//! the weight gradient from a single matmul.

use crate::kernels;
use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

pub struct Linear {
    weight: Tensor, // (D_out, D_in)
    bias: Tensor,   // (D_out)
}

impl Linear {
    pub fn new(vb: VarBuilder, d_in: usize, d_out: usize, init_std: f64) -> Result<Self> {
        let weight = vb.get_with_hints(
            (d_out, d_in),
            "weight",
            Init::Randn {
                mean: 0.0,
                stdev: init_std,
            },
        )?;
        let bias = vb.get_with_hints(d_out, "bias", Init::Const(0.0))?;
        Ok(Self { weight, bias })
    }

    /// One layer computing `layers` side by side: (..., D_in) -> (..., sum of D_out).
    /// One wide matmul instead of several narrow ones; gradients flow back to
    /// each layer's own weights.
    pub fn stacked(layers: &[&Linear]) -> Result<Self> {
        let weights: Vec<&Tensor> = layers.iter().map(|l| &l.weight).collect();
        let biases: Vec<&Tensor> = layers.iter().map(|l| &l.bias).collect();
        Ok(Self {
            weight: Tensor::cat(&weights, 0)?,
            bias: Tensor::cat(&biases, 0)?,
        })
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// (..., D_in) -> (..., D_out). Callers that chain layers flatten once with
    /// [`as_rows`] and pass (N, D_in): every reshape is a graph node with a
    /// full-size gradient buffer.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() == 2 {
            return kernels::linear(x, &self.weight, &self.bias); // (N, D_out)
        }
        let mut dims = x.dims().to_vec();
        dims.pop();
        dims.push(self.weight.dim(0)?);
        self.forward(&as_rows(x)?)?.reshape(dims)
    }

    /// gelu(x·Wᵀ + b) for rows x (N, D_in), as one op (`kernels::linear_gelu`).
    pub fn forward_gelu(&self, x: &Tensor) -> Result<Tensor> {
        kernels::linear_gelu(x, &self.weight, &self.bias)
    }
}

/// (..., D) -> (N, D), N the product of the leading dimensions.
pub fn as_rows(x: &Tensor) -> Result<Tensor> {
    let d = x.dims().last().copied().unwrap_or(1);
    x.reshape((x.elem_count() / d.max(1), d))
}
