//! Dropout driven by our seeded RNG, and the train/eval switch that carries it.

use super::kernels;
use crate::rng::Rng;
use candle_core::{Result, Tensor};

/// Eval: dropout is the identity. Train: masks are drawn from the given RNG,
/// so the same seed gives the same masks.
pub enum Mode<'a> {
    Eval,
    Train(&'a mut Rng),
}

impl Mode<'_> {
    pub fn is_train(&self) -> bool {
        matches!(self, Mode::Train(_))
    }

    /// Inverted dropout: zero each element with probability p, scale survivors by 1/(1-p).
    /// Per-element multipliers, 0 (dropped, with probability p) or 1/(1-p);
    /// None when nothing is dropped.
    fn keep_scale(&mut self, n: usize, p: f32) -> Option<Vec<f32>> {
        let rng = match self {
            Mode::Train(rng) if p > 0.0 => rng,
            _ => return None,
        };
        let keep = 1.0 / (1.0 - p);
        let p = p as f64;
        Some(
            (0..n)
                .map(|_| if rng.uniform() < p { 0.0 } else { keep })
                .collect(),
        )
    }

    pub fn dropout(&mut self, x: &Tensor, p: f32) -> Result<Tensor> {
        match self.keep_scale(x.elem_count(), p) {
            Some(scale) => {
                x * Tensor::from_vec(scale, x.shape(), x.device())?.to_dtype(x.dtype())?
            }
            None => Ok(x.clone()),
        }
    }

    /// The residual connection x + dropout(a).
    pub fn residual(&mut self, x: &Tensor, a: &Tensor, p: f32) -> Result<Tensor> {
        match self.keep_scale(a.elem_count(), p) {
            Some(scale) => kernels::dropout_add(x, a, scale),
            None => x + a,
        }
    }
}
