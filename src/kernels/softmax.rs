//! Attention softmax over the last dimension, with the score scale and the
//! additive mask folded in: softmax(x * scale + bias). Folding them saves two
//! passes and two (B, H, L, L) gradient buffers per layer.

use super::{
    contiguous, contiguous2, exp, fused, par_zip2, row_len, rows_per_task, simd, write_all,
};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, D};

/// softmax(x * scale + bias) over the last dimension. `x` is (B, H, Lq, L);
/// `bias` is (B or 1, 1, Lq or 1, L), the shapes `mask::attention_bias` builds.
pub fn softmax_last(x: &Tensor, bias: Option<&Tensor>, scale: f64) -> Result<Tensor> {
    if !fused(x) {
        let scaled = (x * scale)?;
        let biased = match bias {
            Some(bias) => scaled.broadcast_add(bias)?,
            None => scaled,
        };
        return candle_nn::ops::softmax(&biased, D::Minus1);
    }
    let op = Softmax {
        scale: scale as f32,
    };
    match bias {
        Some(bias) => x.contiguous()?.apply_op2(&bias.contiguous()?, op),
        None => x.contiguous()?.apply_op1(op),
    }
}

struct Softmax {
    scale: f32,
}

/// Where a row of x finds its bias row: x is (B, H, Lq, L), bias (Bb, 1, Lqb, L).
pub(super) struct BiasRows {
    per_batch: usize, // rows of x per batch item: H * Lq
    lq: usize,
    batch_stride: usize, // in bias rows: 0 when Bb = 1
    query_stride: usize, // 0 when Lqb = 1
}

impl BiasRows {
    /// `x` and `bias` are the dims of the scores and of the bias.
    pub(super) fn new(x: &[usize], bias: &[usize]) -> Result<Self> {
        let (&[b, h, lq, l], &[bb, one, lqb, lb]) = (x, bias) else {
            candle_core::bail!("fused-softmax: scores {x:?} and bias {bias:?} must be 4-d");
        };
        let fits = |n, full| n == 1 || n == full;
        if one != 1 || lb != l || !fits(bb, b) || !fits(lqb, lq) {
            candle_core::bail!(
                "fused-softmax: bias {:?} does not broadcast to scores {:?}",
                bias,
                x
            );
        }
        Ok(Self {
            per_batch: h * lq,
            lq,
            batch_stride: if bb == 1 { 0 } else { lqb },
            query_stride: usize::from(lqb != 1),
        })
    }

    /// The bias row (an index of rows, not elements) of score row `row`.
    pub(super) fn of(&self, row: usize) -> usize {
        (row / self.per_batch) * self.batch_stride + (row % self.lq) * self.query_stride
    }
}

impl Softmax {
    fn forward(&self, x: &[f32], n: usize, bias: Option<(&[f32], BiasRows)>) -> Vec<f32> {
        par_zip2(
            x,
            x,
            rows_per_task(n),
            #[inline(always)]
            |start, y, x, _| {
                for (r, (y, x)) in y.chunks_mut(n).zip(x.chunks(n)).enumerate() {
                    let y = write_all(y, x.iter().copied());
                    let bias = bias.as_ref().map(|(bias, rows)| {
                        let at = rows.of(start / n + r) * n;
                        &bias[at..at + n]
                    });
                    softmax_row(y, self.scale, bias);
                }
            },
        )
    }

    fn backward(&self, y: &Tensor, grad: &Tensor) -> Result<Tensor> {
        y.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxBackward { scale: self.scale })
    }
}

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "fused-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, CustomOp1::name(self))?;
        let y = self.forward(x, row_len(l), None);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.backward(y, grad)?))
    }
}

impl CustomOp2 for Softmax {
    fn name(&self) -> &'static str {
        "fused-masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, bias) = contiguous2(s1, l1, s2, l2, CustomOp2::name(self))?;
        let rows = BiasRows::new(l1.dims(), l2.dims())?;
        let y = self.forward(x, row_len(l1), Some((bias, rows)));
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    /// The mask is a constant: no gradient flows to it.
    fn bwd(
        &self,
        _x: &Tensor,
        _bias: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(self.backward(y, grad)?), None))
    }
}

/// One row in place: x -> softmax(x * scale + bias). Call inside `simd::vectorized`.
#[inline(always)]
pub(super) fn softmax_row(x: &mut [f32], scale: f32, bias: Option<&[f32]>) {
    x.iter_mut().for_each(|x| *x *= scale);
    if let Some(bias) = bias {
        x.iter_mut().zip(bias).for_each(|(x, b)| *x += b);
    }
    let max = simd::max(x);
    // Kept apart from the sum, this loop vectorises.
    x.iter_mut().for_each(|x| *x = exp(*x - max));
    let inv = 1.0 / simd::sum(x);
    x.iter_mut().for_each(|x| *x *= inv);
}

/// One row in place: dy -> dx = scale * y (dy - sum(dy y)), y the softmax output.
#[inline(always)]
pub(super) fn softmax_row_backward(dy: &mut [f32], y: &[f32], scale: f32) {
    let dot = simd::dot(y, dy);
    for (d, &y) in dy.iter_mut().zip(y) {
        *d = scale * y * (*d - dot);
    }
}

struct SoftmaxBackward {
    scale: f32,
}

impl CustomOp2 for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "fused-softmax-backward"
    }

    /// dx = scale * y (dy - sum(dy y)) per row.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (y, dy) = contiguous2(s1, l1, s2, l2, self.name())?;
        let n = row_len(l1);
        let dx = par_zip2(
            y,
            dy,
            rows_per_task(n),
            #[inline(always)]
            |_, dx, y, dy| {
                for ((dx, y), dy) in dx.chunks_mut(n).zip(y.chunks(n)).zip(dy.chunks(n)) {
                    let dx = write_all(dx, dy.iter().copied());
                    softmax_row_backward(dx, y, self.scale);
                }
            },
        );
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{compare, random};
    use super::*;
    use crate::model::mask::{attention_bias, Masks};
    use candle_core::{DType, Device};

    /// Padding in the second example, every mask combination, a scale that is not 1.
    #[test]
    fn fused_softmax_matches_the_composed_one_under_every_mask() {
        let x = random(&[2, 3, 6, 6], 1, 3.0);
        let attention_mask =
            Tensor::new(&[[1u32, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], &Device::Cpu).unwrap();
        for (padding, causal) in [(false, false), (true, false), (false, true), (true, true)] {
            let masks = Masks { padding, causal };
            let bias = attention_bias(&attention_mask, masks, DType::F32).unwrap();
            let composed = || {
                let s = (x.as_tensor() * 0.5).unwrap();
                let s = match &bias {
                    Some(b) => s.broadcast_add(b).unwrap(),
                    None => s,
                };
                candle_nn::ops::softmax(&s, D::Minus1).unwrap()
            };
            let (value, grad) = compare(
                || softmax_last(x.as_tensor(), bias.as_ref(), 0.5).unwrap(),
                composed,
                &[&x],
            );
            assert!(
                value < 1e-6 && grad < 1e-5,
                "{masks:?}: value {value}, grad {grad}"
            );
        }
    }
}
