//! Fused CPU kernels with hand-written backward passes, for the two element-wise
//! hot spots of a step: the attention softmax and exact GELU. Composed from tensor
//! ops they take a dozen passes over (B, H, L, L) or (B, L, 4D) buffers; fused,
//! one pass forward and one backward, parallel over rows. Other devices use the
//! composed ops. Each kernel is tested against its composition, values and gradients.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

/// Rows per parallel task: big enough to amortise scheduling.
const MIN_CHUNK: usize = 16 * 1024;

/// The f32 slice behind a contiguous CPU tensor (custom ops see raw storage).
pub(crate) fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => candle_core::bail!("{op}: fused kernel needs a contiguous f32 tensor"),
    }
}

pub(crate) fn contiguous_mut<'a>(
    s: &'a mut CpuStorage,
    l: &Layout,
    op: &str,
) -> Result<&'a mut [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&mut v[a..b]),
        _ => candle_core::bail!("{op}: fused kernel needs a contiguous f32 tensor"),
    }
}

/// Softmax over the last dimension; rows are independent.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
        x.contiguous()?.apply_op1(FusedSoftmax)
    } else {
        candle_nn::ops::softmax(x, D::Minus1)
    }
}

/// Exact GELU, x Φ(x).
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
        x.contiguous()?.apply_op1(FusedGelu)
    } else {
        x.gelu_erf()
    }
}

struct FusedSoftmax;
struct SoftmaxBackward;
struct FusedGelu;
struct GeluBackward;

/// Whole rows of length n per parallel task, about MIN_CHUNK elements.
fn rows_per_task(n: usize) -> usize {
    (MIN_CHUNK / n.max(1)).max(1) * n
}

fn row_len(l: &Layout) -> usize {
    l.dims().last().copied().unwrap_or(1)
}

impl CustomOp1 for FusedSoftmax {
    fn name(&self) -> &'static str {
        "fused-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, self.name())?;
        let n = row_len(l);
        let mut y = vec![0f32; x.len()];
        let rows_per_task = rows_per_task(n);
        y.par_chunks_mut(rows_per_task)
            .zip(x.par_chunks(rows_per_task))
            .for_each(|(y, x)| {
                for (y, x) in y.chunks_mut(n).zip(x.chunks(n)) {
                    let max = x.iter().cloned().fold(f32::MIN, f32::max);
                    let mut sum = 0.0;
                    for (y, &x) in y.iter_mut().zip(x) {
                        *y = (x - max).exp();
                        sum += *y;
                    }
                    let inv = 1.0 / sum;
                    y.iter_mut().for_each(|y| *y *= inv);
                }
            });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            y.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxBackward)?,
        ))
    }
}

impl CustomOp2 for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "fused-softmax-backward"
    }

    /// dx = y (dy - sum(dy y)) per row.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (y, dy) = (
            contiguous(s1, l1, self.name())?,
            contiguous(s2, l2, self.name())?,
        );
        let n = row_len(l1);
        let rows_per_task = rows_per_task(n);
        let dx = par_zip2(y, dy, rows_per_task, |dx, y, dy| {
            for ((dx, y), dy) in dx.chunks_mut(n).zip(y.chunks(n)).zip(dy.chunks(n)) {
                let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
                for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
                    *dx = y * (dy - dot);
                }
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below f32's own rounding
/// at the values GELU cares about), several times faster than libm's.
fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_7 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * (-x * x).exp();
    y.copysign(x)
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2 pi)
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// A new buffer the length of `a`, filled chunk by chunk in parallel from the
/// matching chunks of `a` and `b` (`chunk` a whole number of rows for row-wise ops).
fn par_zip2(
    a: &[f32],
    b: &[f32],
    chunk: usize,
    f: impl Fn(&mut [f32], &[f32], &[f32]) + Sync,
) -> Vec<f32> {
    let mut out = vec![0f32; a.len()];
    out.par_chunks_mut(chunk)
        .zip(a.par_chunks(chunk).zip(b.par_chunks(chunk)))
        .for_each(|(out, (a, b))| f(out, a, b));
    out
}

fn par_map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(MIN_CHUNK)
        .zip(x.par_chunks(MIN_CHUNK))
        .for_each(|(y, x)| {
            y.iter_mut().zip(x).for_each(|(y, &x)| *y = f(x));
        });
    y
}

impl CustomOp1 for FusedGelu {
    fn name(&self) -> &'static str {
        "fused-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, self.name())?;
        let y = par_map(x, |x| 0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2)));
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            x.apply_op2_no_bwd(&grad.contiguous()?, &GeluBackward)?,
        ))
    }
}

impl CustomOp2 for GeluBackward {
    fn name(&self) -> &'static str {
        "fused-gelu-backward"
    }

    /// d/dx x Φ(x) = Φ(x) + x φ(x).
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, dy) = (
            contiguous(s1, l1, self.name())?,
            contiguous(s2, l2, self.name())?,
        );
        let dx = par_zip2(x, dy, MIN_CHUNK, |dx, x, dy| {
            for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
                let pdf = INV_SQRT_2PI * (-0.5 * x * x).exp();
                *dx = dy * (cdf + x * pdf);
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn random(shape: &[usize], seed: u64, scale: f64) -> Var {
        let mut rng = crate::rng::Rng::new(seed);
        let v: Vec<f32> = (0..shape.iter().product())
            .map(|_| (rng.normal() * scale) as f32)
            .collect();
        Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// Values and input gradients of `fused` and `reference` under the same random probe.
    fn compare(
        fused: impl Fn(&Tensor) -> Tensor,
        reference: impl Fn(&Tensor) -> Tensor,
        x: &Var,
    ) -> (f32, f32) {
        let probe = random(x.dims(), 99, 1.0);
        let (a, b) = (fused(x.as_tensor()), reference(x.as_tensor()));
        let ga = (&a * probe.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gb = (&b * probe.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        (
            max_diff(&a, &b),
            max_diff(ga.get(x).unwrap(), gb.get(x).unwrap()),
        )
    }

    #[test]
    fn fused_softmax_matches_the_composed_one_with_masked_entries() {
        let x = random(&[2, 3, 5, 7], 1, 3.0);
        let masked = (x.as_tensor()
            + crate::model::mask::causal_bias(7, candle_core::DType::F32, &Device::Cpu)
                .unwrap()
                .narrow(2, 0, 5)
                .unwrap()
                .broadcast_as((2, 3, 5, 7))
                .unwrap())
        .unwrap();
        let x = Var::from_tensor(&masked).unwrap();
        let (value, grad) = compare(
            |t| softmax_last(t).unwrap(),
            |t| candle_nn::ops::softmax(t, D::Minus1).unwrap(),
            &x,
        );
        assert!(value < 1e-6 && grad < 1e-5, "value {value}, grad {grad}");
    }

    #[test]
    fn fused_gelu_matches_exact_gelu_values_and_gradients() {
        let x = random(&[4, 33, 9], 2, 3.0);
        let (value, grad) = compare(|t| gelu(t).unwrap(), |t| t.gelu_erf().unwrap(), &x);
        assert!(value < 1e-5 && grad < 1e-5, "value {value}, grad {grad}");
    }
}
