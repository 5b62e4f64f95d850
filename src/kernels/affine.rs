//! A whole linear layer, x·Wᵀ + b, as one op. Composed, it is a transpose, a
//! matmul and a broadcast add, three graph nodes with a zero-filled gradient
//! buffer and an add each in candle's backward, and the broadcast add's backward
//! reduces over N with candle's strided reduction, one of the slowest steps of a
//! training step. Here the bias rows are laid down first and the gemm adds x·Wᵀ
//! onto them; the bias gradient is a parallel column sum. `linear_gelu` is the
//! same op with the FFN's GELU applied to its output.

use super::gelu::{gelu, gelu_backward, gelu_values};
use super::gemm::{matmul, matmul_into, Mat};
use super::{column_sum, contiguous, contiguous2, fused, row_len, tiled, Fresh};
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, Device, Layout, Result, Shape, Tensor,
};
use std::sync::OnceLock;

/// x (N, D_in), weight (D_out, D_in), bias (D_out) -> (N, D_out).
pub fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if fused(x) {
        x.contiguous()?
            .apply_op3(&weight.contiguous()?, &bias.contiguous()?, Linear)
    } else {
        x.matmul(&weight.t()?)?.broadcast_add(bias)
    }
}

/// gelu(x·Wᵀ + b): the FFN's up projection and its activation as one op.
pub fn linear_gelu(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if fused(x) {
        let op = LinearGelu::default();
        x.contiguous()?
            .apply_op3(&weight.contiguous()?, &bias.contiguous()?, op)
    } else {
        gelu(&linear(x, weight, bias)?)
    }
}

/// [`linear_gelu`] that also returns the pre-activation x·Wᵀ + b, which
/// `gelu_backward` needs: for the hand-written backward (`model::tape`). CPU f32.
pub fn linear_gelu_keeping(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<(Tensor, Tensor)> {
    let op = LinearGelu::default();
    let y = x
        .contiguous()?
        .apply_op3_no_bwd(&weight.contiguous()?, &bias.contiguous()?, &op)?;
    match op.pre.into_inner() {
        Some(pre) => Ok((y, pre)),
        None => candle_core::bail!("fused-linear-gelu: the forward kept no pre-activation"),
    }
}

struct Linear;
/// dx = dy · W, written straight into a fresh buffer (candle's matmul zeroes
/// its output first, serially, and dx is activation-sized).
struct InputGrad;
struct ColumnSum;

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "fused-linear"
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
        let (y, shape) = affine((s1, l1), (s2, l2), (s3, l3), self.name())?;
        Ok((CpuStorage::F32(y), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = linear_backward(x, w, grad)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// x·Wᵀ + b for the slices behind x (N, D_in), W (D_out, D_in) and b (D_out).
fn affine(
    (s1, l1): (&CpuStorage, &Layout),
    (s2, l2): (&CpuStorage, &Layout),
    (s3, l3): (&CpuStorage, &Layout),
    name: &str,
) -> Result<(Vec<f32>, Shape)> {
    let (x, w, b) = (
        contiguous(s1, l1, name)?,
        contiguous(s2, l2, name)?,
        contiguous(s3, l3, name)?,
    );
    let ((n, d_in), (d_out, w_in)) = (l1.shape().dims2()?, l2.shape().dims2()?);
    if w_in != d_in || b.len() != d_out {
        candle_core::bail!(
            "{name}: input {:?}, weight {:?}, bias {:?} do not fit",
            l1.dims(),
            l2.dims(),
            l3.dims()
        );
    }
    let mut y = tiled(b, n * d_out);
    let (x, w) = (Mat::rows(x, n, d_in, d_in), Mat::rows(w, d_out, d_in, d_in));
    let threads = candle_core::utils::get_num_threads();
    matmul(&mut y, d_out, x, w.t(), true, threads);
    Ok((y, Shape::from((n, d_out))))
}

/// The gradients of x, W and b from the gradient at x·Wᵀ + b. CPU f32 (the op's
/// backward, and the hand-written one of `model::tape`).
pub fn linear_backward(x: &Tensor, w: &Tensor, grad: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let grad = grad.contiguous()?; // (N, D_out)
    let dx = grad.apply_op2_no_bwd(w, &InputGrad)?; // (N, D_in)
    let dw = grad.t()?.matmul(x)?; // (D_out, D_in)
    let db = grad.apply_op1_no_bwd(&ColumnSum)?;
    Ok((dx, dw, db))
}

/// The FFN's up projection with its GELU: the pre-activation stays inside the op
/// for the backward pass instead of being a graph node of its own, which candle
/// would give a zero-filled (N, D_out) gradient buffer and an add.
/// Each call makes a new op, so the pre-activation is set once, by its forward.
#[derive(Default)]
struct LinearGelu {
    pre: OnceLock<Tensor>,
}

impl CustomOp3 for LinearGelu {
    fn name(&self) -> &'static str {
        "fused-linear-gelu"
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
        let (pre, shape) = affine((s1, l1), (s2, l2), (s3, l3), self.name())?;
        let y = gelu_values(&pre);
        let pre = Tensor::from_vec(pre, shape.clone(), &Device::Cpu)?;
        if self.pre.set(pre).is_err() {
            candle_core::bail!("{}: one op ran its forward twice", self.name())
        }
        Ok((CpuStorage::F32(y), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Some(pre) = self.pre.get() else {
            candle_core::bail!("{}: backward before forward", self.name())
        };
        let (dx, dw, db) = linear_backward(x, w, &gelu_backward(pre, grad)?)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "fused-linear-input-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (dy, w) = contiguous2(s1, l1, s2, l2, self.name())?;
        let ((n, d_out), (w_out, d_in)) = (l1.shape().dims2()?, l2.shape().dims2()?);
        if w_out != d_out {
            candle_core::bail!(
                "{}: dy {:?}, weight {:?}",
                self.name(),
                l1.dims(),
                l2.dims()
            );
        }
        let mut dx = Fresh::new(n * d_in);
        let (dy, w) = (
            Mat::rows(dy, n, d_out, d_out),
            Mat::rows(w, d_out, d_in, d_in),
        );
        let threads = candle_core::utils::get_num_threads();
        matmul_into(dx.slots(), d_in, dy, w, threads);
        // SAFETY: the (n, d_in) product wrote every element.
        let dx = unsafe { dx.written() };
        Ok((CpuStorage::F32(dx), Shape::from((n, d_in))))
    }
}

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "fused-column-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l, self.name())?;
        let n = row_len(l);
        let sum = column_sum(
            x.len() / n,
            n,
            #[inline(always)]
            |row, acc| {
                acc.iter_mut()
                    .zip(&x[row * n..(row + 1) * n])
                    .for_each(|(a, x)| *a += x);
            },
        );
        Ok((CpuStorage::F32(sum), Shape::from(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{compare, random};
    use super::*;

    #[test]
    fn fused_linear_matches_the_composed_one_for_input_weight_and_bias() {
        let x = random(&[300, 5], 5, 1.0);
        let w = random(&[7, 5], 6, 1.0);
        let b = random(&[7], 7, 1.0);
        let (value, grad) = compare(
            || linear(x.as_tensor(), w.as_tensor(), b.as_tensor()).unwrap(),
            || {
                let y = x.as_tensor().matmul(&w.as_tensor().t().unwrap()).unwrap();
                y.broadcast_add(b.as_tensor()).unwrap()
            },
            &[&x, &w, &b],
        );
        assert!(value < 1e-6 && grad < 1e-4, "value {value}, grad {grad}");
    }

    #[test]
    fn fused_linear_gelu_matches_the_composed_one_for_input_weight_and_bias() {
        let x = random(&[300, 5], 8, 1.0);
        let w = random(&[7, 5], 9, 1.0);
        let b = random(&[7], 10, 1.0);
        let (value, grad) = compare(
            || linear_gelu(x.as_tensor(), w.as_tensor(), b.as_tensor()).unwrap(),
            || {
                let y = x.as_tensor().matmul(&w.as_tensor().t().unwrap()).unwrap();
                y.broadcast_add(b.as_tensor()).unwrap().gelu_erf().unwrap()
            },
            &[&x, &w, &b],
        );
        assert!(value < 1e-5 && grad < 1e-4, "value {value}, grad {grad}");
    }
}
