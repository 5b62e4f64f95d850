//! The residual connection with dropout on the branch, x + a * scale, where
//! `scale` holds 0 for dropped elements and 1/(1-p) for kept ones. Fused, the
//! mask is kept by the op instead of living in the graph as a tensor whose
//! gradient candle would compute and throw away.

use super::{contiguous, contiguous2, fused, par_zip2, write_all, MIN_CHUNK};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use std::sync::Arc;

/// x + a * scale, element-wise; `scale` has a's element count.
pub fn dropout_add(x: &Tensor, a: &Tensor, scale: Arc<Vec<f32>>) -> Result<Tensor> {
    if fused(x) && fused(a) {
        let op = DropoutAdd(scale);
        return x.contiguous()?.apply_op2(&a.contiguous()?, op);
    }
    let scale = Tensor::from_slice(&scale, a.shape(), a.device())?.to_dtype(a.dtype())?;
    x + (a * scale)?
}

/// The gradient at the branch `a` of [`dropout_add`] from the gradient at its
/// output (the gradient at `x` is the output's own). CPU f32: the hand-written
/// backward (`model::tape`) runs on the fused path only.
pub fn dropout_add_backward(grad: &Tensor, scale: &Arc<Vec<f32>>) -> Result<Tensor> {
    grad.contiguous()?.apply_op1_no_bwd(&Scale(scale.clone()))
}

struct DropoutAdd(Arc<Vec<f32>>);
struct Scale(Arc<Vec<f32>>);

impl CustomOp2 for DropoutAdd {
    fn name(&self) -> &'static str {
        "fused-dropout-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, a) = contiguous2(s1, l1, s2, l2, self.name())?;
        if x.len() != a.len() || a.len() != self.0.len() {
            candle_core::bail!("{}: shapes differ", self.name());
        }
        let y = par_zip2(
            x,
            a,
            MIN_CHUNK,
            #[inline(always)]
            |start, y, x, a| {
                let scale = &self.0[start..start + y.len()];
                let values = x.iter().zip(a).zip(scale).map(|((&x, &a), &s)| x + a * s);
                write_all(y, values);
            },
        );
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _a: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((
            Some(grad.clone()),
            Some(dropout_add_backward(grad, &self.0)?),
        ))
    }
}

impl CustomOp1 for Scale {
    fn name(&self) -> &'static str {
        "fused-dropout-scale"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = contiguous(s, l, self.name())?;
        let y = par_zip2(
            g,
            &self.0,
            MIN_CHUNK,
            #[inline(always)]
            |_, y, g, s| {
                write_all(y, g.iter().zip(s).map(|(&g, &s)| g * s));
            },
        );
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{compare, random};
    use super::*;

    #[test]
    fn fused_dropout_add_matches_the_composed_one_for_both_inputs() {
        let x = random(&[4, 9, 5], 7, 1.0);
        let a = random(&[4, 9, 5], 8, 1.0);
        let scale: Vec<f32> = (0..180).map(|k| [0.0, 1.25][k % 3 / 2]).collect();
        let mask = Tensor::from_vec(scale.clone(), (4, 9, 5), x.device()).unwrap();
        let (value, grad) = compare(
            || dropout_add(x.as_tensor(), a.as_tensor(), Arc::new(scale.clone())).unwrap(),
            || (x.as_tensor() + (a.as_tensor() * &mask).unwrap()).unwrap(),
            &[&x, &a],
        );
        assert!(value < 1e-6 && grad < 1e-6, "value {value}, grad {grad}");
    }
}
