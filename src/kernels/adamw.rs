//! AdamW's update as in-place CPU kernels: three passes over each parameter, no
//! temporaries; the token table's moments from its gradient's rows (`RowMoment`).
//! The composed tensor version allocates a dozen parameter-sized buffers per step
//! (the embedding alone is 31 MB), which costs more than the math.

use super::{contiguous, contiguous_mut, vectorized, MIN_CHUNK};
use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Result};
use rayon::prelude::*;

/// m <- beta m + (1 - beta) g, or with `square`, v <- beta v + (1 - beta) g².
pub struct Moment {
    pub beta: f32,
    pub square: bool,
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "adamw-moment"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let (m, g) = (
            contiguous_mut(s1, l1, self.name())?,
            contiguous(s2, l2, self.name())?,
        );
        m.par_chunks_mut(MIN_CHUNK)
            .zip(g.par_chunks(MIN_CHUNK))
            .for_each(|(m, g)| self.apply(m, g));
        Ok(())
    }
}

impl Moment {
    fn apply(&self, m: &mut [f32], g: &[f32]) {
        let (b, c) = (self.beta, 1.0 - self.beta);
        vectorized(
            #[inline(always)]
            || {
                if self.square {
                    m.iter_mut()
                        .zip(g)
                        .for_each(|(m, g)| *m = b * *m + c * g * g);
                } else {
                    m.iter_mut().zip(g).for_each(|(m, g)| *m = b * *m + c * g);
                }
            },
        )
    }
}

/// [`Moment`] of a (V, D) table whose gradient is given as rows: `rhs` row k is
/// row `ids[k]` (ascending), every other row's gradient is 0. Every row of the
/// moment still decays, so the result is the dense update's, bit for bit.
pub struct RowMoment<'a> {
    pub beta: f32,
    pub square: bool,
    pub ids: &'a [u32],
}

impl InplaceOp2 for RowMoment<'_> {
    fn name(&self) -> &'static str {
        "adamw-row-moment"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let (m, rows) = (
            contiguous_mut(s1, l1, self.name())?,
            contiguous(s2, l2, self.name())?,
        );
        let d = super::row_len(l1);
        if rows.len() != self.ids.len() * d
            || self.ids.iter().any(|&i| (i as usize + 1) * d > m.len())
        {
            candle_core::bail!(
                "{}: {} rows of {:?} for a {:?} table",
                self.name(),
                self.ids.len(),
                l2.dims(),
                l1.dims()
            );
        }
        let moment = Moment {
            beta: self.beta,
            square: self.square,
        };
        let zero = vec![0f32; d];
        let per_task = (MIN_CHUNK / d.max(1)).max(1);
        m.par_chunks_mut(per_task * d)
            .enumerate()
            .for_each(|(task, m)| {
                let first = task * per_task;
                let mut k = self.ids.partition_point(|&i| (i as usize) < first);
                for (r, m) in m.chunks_mut(d).enumerate() {
                    let touched = self.ids.get(k) == Some(&((first + r) as u32));
                    let g = match touched {
                        true => &rows[k * d..(k + 1) * d],
                        false => &zero[..],
                    };
                    k += touched as usize;
                    moment.apply(m, g);
                }
            });
        Ok(())
    }
}

/// θ <- θ (1 - lr wd) - lr m̂ / (sqrt(v̂) + eps), with m̂ = m / correct1, v̂ = v / correct2.
pub struct Step {
    pub lr: f32,
    pub decay: f32,
    pub correct1: f32,
    pub correct2: f32,
    pub eps: f32,
}

impl InplaceOp3 for Step {
    fn name(&self) -> &'static str {
        "adamw-step"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let (theta, m, v) = (
            contiguous_mut(s1, l1, self.name())?,
            contiguous(s2, l2, self.name())?,
            contiguous(s3, l3, self.name())?,
        );
        let keep = 1.0 - self.lr * self.decay;
        theta
            .par_chunks_mut(MIN_CHUNK)
            .zip(m.par_chunks(MIN_CHUNK).zip(v.par_chunks(MIN_CHUNK)))
            .for_each(|(theta, (m, v))| {
                vectorized(
                    #[inline(always)]
                    || {
                        for ((t, m), v) in theta.iter_mut().zip(m).zip(v) {
                            let step =
                                (m / self.correct1) / ((v / self.correct2).sqrt() + self.eps);
                            *t = *t * keep - self.lr * step;
                        }
                    },
                )
            });
        Ok(())
    }
}
