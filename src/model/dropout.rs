//! Dropout driven by our seeded RNG, and the train/eval switch that carries it.

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
    pub fn dropout(&mut self, x: &Tensor, p: f32) -> Result<Tensor> {
        let rng = match self {
            Mode::Train(rng) if p > 0.0 => rng,
            _ => return Ok(x.clone()),
        };
        let keep = 1.0 / (1.0 - p);
        let p = p as f64;
        let scale: Vec<f32> = (0..x.elem_count())
            .map(|_| if rng.uniform() < p { 0.0 } else { keep })
            .collect();
        let scale = Tensor::from_vec(scale, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x * scale
    }
}
