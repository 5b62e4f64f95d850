//! Dropout driven by our seeded RNG, and the train/eval switch that carries it.

use crate::kernels;
use crate::util::rng::Rng;
use candle_core::{Result, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

/// Mask elements drawn from one RNG stream.
const MASK_BLOCK: usize = 16 * 1024;

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
        // A draw below p·2^64 is dropped: `uniform() < p` without the float conversion.
        let below = (p as f64 * 2f64.powi(64)) as u64;
        // One draw seeds the whole mask and each block of it gets its own stream:
        // the blocks fill in parallel (a serial loop was a few percent of a
        // training step) and the mask does not depend on the thread count.
        let seed = rng.next_u64();
        let mut scale = kernels::Fresh::new(n);
        scale
            .slots()
            .par_chunks_mut(MASK_BLOCK)
            .enumerate()
            .for_each(|(i, block)| {
                let mut rng = Rng::new(seed.wrapping_add(i as u64));
                let draws =
                    std::iter::repeat_with(|| if rng.next_u64() < below { 0.0 } else { keep });
                kernels::write_all(block, draws);
            });
        // SAFETY: `write_all` wrote every slot of every block.
        Some(unsafe { scale.written() })
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
        Ok(self.residual_keeping(x, a, p)?.0)
    }

    /// [`Mode::residual`], returning the dropout's scales (None when nothing is
    /// dropped) for the hand-written backward (`model::tape`).
    pub fn residual_keeping(
        &mut self,
        x: &Tensor,
        a: &Tensor,
        p: f32,
    ) -> Result<(Tensor, Option<Arc<Vec<f32>>>)> {
        match self.keep_scale(a.elem_count(), p) {
            Some(scale) => {
                let scale = Arc::new(scale);
                Ok((kernels::dropout_add(x, a, scale.clone())?, Some(scale)))
            }
            None => Ok(((x + a)?, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(threads: usize) -> Vec<f32> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
        let mut rng = Rng::new(7);
        pool.unwrap()
            .install(|| Mode::Train(&mut rng).keep_scale(100_000, 0.25))
            .unwrap()
    }

    #[test]
    fn masks_drop_about_p_scale_survivors_and_ignore_the_thread_count() {
        let one = mask(1);
        assert_eq!(one, mask(2), "the mask depends on the thread count");
        let dropped = one.iter().filter(|&&s| s == 0.0).count() as f64 / one.len() as f64;
        assert!((dropped - 0.25).abs() < 0.01, "dropped {dropped}");
        assert!(one.iter().all(|&s| s == 0.0 || s == 1.0 / 0.75));
        // Blocks draw different streams: the second block is not the first again.
        assert_ne!(one[..MASK_BLOCK], one[MASK_BLOCK..2 * MASK_BLOCK]);
        assert_eq!(Mode::Eval.keep_scale(10, 0.25), None);
    }
}
