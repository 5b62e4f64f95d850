//! Moving attention heads between the row layout of the linear layers,
//! (B·L, D) with heads side by side, and the per-head layout of the attention
//! matmuls, (B, H, L, Dh). Composed, each direction is a reshape, a transpose
//! and a copy, three graph nodes with a full-size gradient buffer each; here it
//! is one copy, and its backward is the copy the other way.

use super::{contiguous, fused, write_all, Fresh};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

#[derive(Clone, Copy)]
pub struct Heads {
    pub b: usize,
    pub l: usize,
    pub h: usize,
    pub dh: usize,
}

impl Heads {
    /// (B·L, D) -> (B, H, L, Dh)
    pub fn split(self, x: &Tensor) -> Result<Tensor> {
        if fused(x) {
            return x.contiguous()?.apply_op1(Shuffle {
                heads: self,
                split: true,
            });
        }
        x.reshape((self.b, self.l, self.h, self.dh))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// (B, H, L, Dh) -> (B·L, D)
    pub fn merge(self, x: &Tensor) -> Result<Tensor> {
        if fused(x) {
            return x.contiguous()?.apply_op1(Shuffle {
                heads: self,
                split: false,
            });
        }
        x.transpose(1, 2)?
            .reshape((self.b * self.l, self.h * self.dh))
    }
}

struct Shuffle {
    heads: Heads,
    split: bool,
}

impl CustomOp1 for Shuffle {
    fn name(&self) -> &'static str {
        "fused-head-shuffle"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, self.name())?;
        let Heads { b, l: len, h, dh } = self.heads;
        if x.len() != b * len * h * dh {
            candle_core::bail!(
                "{}: {:?} holds no {b}x{len}x{h}x{dh}",
                self.name(),
                l.dims()
            );
        }
        let mut y = Fresh::new(x.len());
        // Each task owns one contiguous block of the output: a (batch, head) block
        // of L x Dh when splitting, a batch item's L rows of D when merging.
        if self.split {
            y.slots()
                .par_chunks_mut(len * dh)
                .enumerate()
                .for_each(|(bh, out)| {
                    let (bi, hi) = (bh / h, bh % h);
                    for (t, out) in out.chunks_mut(dh).enumerate() {
                        let src = ((bi * len + t) * h + hi) * dh;
                        write_all(out, x[src..src + dh].iter().copied());
                    }
                });
        } else {
            y.slots()
                .par_chunks_mut(len * h * dh)
                .enumerate()
                .for_each(|(bi, out)| {
                    for (th, out) in out.chunks_mut(dh).enumerate() {
                        let (t, hi) = (th / h, th % h);
                        let src = ((bi * h + hi) * len + t) * dh;
                        write_all(out, x[src..src + dh].iter().copied());
                    }
                });
        }
        // SAFETY: the L x Dh (or L x D) blocks cover the output, each row of
        // each block written by `write_all`.
        let y = unsafe { y.written() };
        let shape = if self.split {
            Shape::from((b, h, len, dh))
        } else {
            Shape::from((b * len, h * dh))
        };
        Ok((CpuStorage::F32(y), shape))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let inverse = Shuffle {
            heads: self.heads,
            split: !self.split,
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&inverse)?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{compare, random};
    use super::*;

    #[test]
    fn fused_head_split_and_merge_match_reshape_and_transpose() {
        let heads = Heads {
            b: 2,
            l: 5,
            h: 3,
            dh: 4,
        };
        let x = random(&[10, 12], 9, 1.0);
        let composed = |x: &Tensor| {
            x.reshape((2, 5, 3, 4))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let (value, grad) = compare(
            || heads.split(x.as_tensor()).unwrap(),
            || composed(x.as_tensor()),
            &[&x],
        );
        assert!(
            value == 0.0 && grad == 0.0,
            "split: value {value}, grad {grad}"
        );
        let y = random(&[2, 3, 5, 4], 10, 1.0);
        let (value, grad) = compare(
            || heads.merge(y.as_tensor()).unwrap(),
            || {
                y.as_tensor()
                    .transpose(1, 2)
                    .unwrap()
                    .reshape((10, 12))
                    .unwrap()
            },
            &[&y],
        );
        assert!(
            value == 0.0 && grad == 0.0,
            "merge: value {value}, grad {grad}"
        );
    }
}
