//! RMSNorm, x / sqrt(mean(x²) + eps) * g, in one pass; composed it is seven ops
//! over (B, L, D) and a slow reduction for g's gradient.

use super::{
    column_sum, contiguous, contiguous2, fused, par_zip2, row_len, rows_per_task, simd, write_all,
};
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, D};

pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    if fused(x) {
        return x
            .contiguous()?
            .apply_op2(&weight.contiguous()?, RmsNorm { eps: eps as f32 });
    }
    let inv_rms = (x.sqr()?.mean_keepdim(D::Minus1)? + eps)?.sqrt()?.recip()?; // (..., 1)
    x.broadcast_mul(&inv_rms)?.broadcast_mul(weight)
}

/// The gradients of x and of the gain from the gradient at `rms_norm(x, weight, eps)`;
/// CPU f32 (the hand-written backward of `model::tape`).
pub fn rms_norm_backward(
    x: &Tensor,
    weight: &Tensor,
    eps: f64,
    grad: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let op = RmsNorm { eps: eps as f32 };
    let grad = grad.contiguous()?;
    let dx = x.apply_op3_no_bwd(weight, &grad, &op)?;
    let dg = x.apply_op2_no_bwd(&grad, &WeightGrad(op))?;
    Ok((dx, dg))
}

#[derive(Clone, Copy)]
struct RmsNorm {
    eps: f32,
}

impl RmsNorm {
    /// Inlined so that it is compiled for the caller's vector unit.
    #[inline(always)]
    fn inv_rms(&self, x: &[f32]) -> f32 {
        let ms = simd::dot(x, x) / x.len() as f32;
        1.0 / (ms + self.eps).sqrt()
    }
}

impl CustomOp2 for RmsNorm {
    fn name(&self) -> &'static str {
        "fused-rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, g) = contiguous2(s1, l1, s2, l2, CustomOp2::name(self))?;
        let n = row_len(l1);
        let y = par_zip2(
            x,
            x,
            rows_per_task(n),
            #[inline(always)]
            |_, y, x, _| {
                for (y, x) in y.chunks_mut(n).zip(x.chunks(n)) {
                    let inv = self.inv_rms(x);
                    write_all(y, x.iter().zip(g).map(|(&x, &g)| x * inv * g));
                }
            },
        );
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        g: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dg) = rms_norm_backward(x, g, self.eps as f64, grad)?;
        Ok((Some(dx), Some(dg)))
    }
}

/// dx = r (g dy) - x r³ mean(g dy x), with r = 1 / rms(x).
impl CustomOp3 for RmsNorm {
    fn name(&self) -> &'static str {
        "fused-rms-norm-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = CustomOp3::name(self);
        let (x, g, dy) = (
            contiguous(s1, l1, name)?,
            contiguous(s2, l2, name)?,
            contiguous(s3, l3, name)?,
        );
        let n = row_len(l1);
        let dx = par_zip2(
            x,
            dy,
            rows_per_task(n),
            #[inline(always)]
            |_, dx, x, dy| {
                for ((dx, x), dy) in dx.chunks_mut(n).zip(x.chunks(n)).zip(dy.chunks(n)) {
                    let r = self.inv_rms(x);
                    // x * g in dx first: a two-slice dot vectorises, a three-way sum does not.
                    let dx = write_all(dx, x.iter().zip(g).map(|(x, g)| x * g));
                    let c = r * r * r * simd::dot(dx, dy) / n as f32;
                    for (((dx, &x), &dy), &g) in dx.iter_mut().zip(x).zip(dy).zip(g) {
                        *dx = r * g * dy - x * c;
                    }
                }
            },
        );
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// dg = sum over rows of dy x r.
struct WeightGrad(RmsNorm);

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "fused-rms-norm-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, dy) = contiguous2(s1, l1, s2, l2, self.name())?;
        let n = row_len(l1);
        let dg = column_sum(
            x.len() / n,
            n,
            #[inline(always)]
            |row, acc| {
                let (x, dy) = (&x[row * n..(row + 1) * n], &dy[row * n..(row + 1) * n]);
                let r = self.0.inv_rms(x);
                for ((acc, &x), &dy) in acc.iter_mut().zip(x).zip(dy) {
                    *acc += dy * x * r;
                }
            },
        );
        Ok((CpuStorage::F32(dg), Shape::from(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{compare, random};
    use super::*;

    #[test]
    fn fused_rms_norm_matches_the_composed_one_for_input_and_weight() {
        let x = random(&[3, 5, 16], 3, 2.0);
        let g = random(&[16], 4, 1.0);
        let composed = || {
            let x = x.as_tensor();
            let inv = (x.sqr().unwrap().mean_keepdim(D::Minus1).unwrap() + 1e-5)
                .unwrap()
                .sqrt()
                .unwrap()
                .recip()
                .unwrap();
            x.broadcast_mul(&inv)
                .unwrap()
                .broadcast_mul(g.as_tensor())
                .unwrap()
        };
        let (value, grad) = compare(
            || rms_norm(x.as_tensor(), g.as_tensor(), 1e-5).unwrap(),
            composed,
            &[&x, &g],
        );
        assert!(value < 1e-5 && grad < 1e-4, "value {value}, grad {grad}");
    }
}
