//! Exact GELU, x Φ(x), with erf by a fast polynomial instead of libm's.

use super::{contiguous, contiguous2, exp, fused, par_zip2, write_all, MIN_CHUNK};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if fused(x) {
        x.contiguous()?.apply_op1(FusedGelu)
    } else {
        x.gelu_erf()
    }
}

struct FusedGelu;
struct GeluBackward;

/// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below f32's own rounding
/// at the values GELU cares about), several times faster than libm's.
fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_7 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-x * x);
    y.copysign(x)
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2 pi)
const INV_SQRT_2PI: f32 = 0.398_942_3;

impl CustomOp1 for FusedGelu {
    fn name(&self) -> &'static str {
        "fused-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let y = gelu_values(contiguous(s, l, self.name())?);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(gelu_backward(x, grad)?))
    }
}

/// GELU of every element, in parallel chunks.
pub(crate) fn gelu_values(x: &[f32]) -> Vec<f32> {
    par_zip2(
        x,
        x,
        MIN_CHUNK,
        #[inline(always)]
        |_, y, x, _| {
            write_all(
                y,
                x.iter().map(|&x| 0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2))),
            );
        },
    )
}

/// The gradient at GELU's input x from the gradient at its output.
pub(crate) fn gelu_backward(x: &Tensor, grad: &Tensor) -> Result<Tensor> {
    x.apply_op2_no_bwd(&grad.contiguous()?, &GeluBackward)
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
        let (x, dy) = contiguous2(s1, l1, s2, l2, self.name())?;
        let dx = par_zip2(
            x,
            dy,
            MIN_CHUNK,
            #[inline(always)]
            |_, dx, x, dy| {
                let values = x.iter().zip(dy).map(|(&x, &dy)| {
                    let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
                    let pdf = INV_SQRT_2PI * exp(-0.5 * x * x);
                    dy * (cdf + x * pdf)
                });
                write_all(dx, values);
            },
        );
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{compare, random};
    use super::*;

    #[test]
    fn fused_gelu_matches_exact_gelu_values_and_gradients() {
        let x = random(&[4, 33, 9], 2, 3.0);
        let (value, grad) = compare(
            || gelu(x.as_tensor()).unwrap(),
            || x.as_tensor().gelu_erf().unwrap(),
            &[&x],
        );
        assert!(value < 1e-5 && grad < 1e-5, "value {value}, grad {grad}");
    }
}
