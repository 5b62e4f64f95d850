//! The bias add of a linear layer, (N, out) + (out). Composed as a broadcast add,
//! its backward reduces the gradient over N with candle's strided reduction, one
//! of the slowest steps of a training step; here it is a parallel column sum.

use super::{column_sum, contiguous, contiguous2, fused, par_zip2, row_len, rows_per_task};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

/// `x` (N, out) plus `bias` (out) on every row.
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if fused(x) {
        x.contiguous()?.apply_op2(&bias.contiguous()?, AddBias)
    } else {
        x.broadcast_add(bias)
    }
}

struct AddBias;
struct ColumnSum;

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "fused-add-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, b) = contiguous2(s1, l1, s2, l2, self.name())?;
        let n = row_len(l1);
        if b.len() != n {
            candle_core::bail!("{}: bias of {} for rows of {n}", self.name(), b.len());
        }
        let y = par_zip2(
            x,
            x,
            rows_per_task(n),
            #[inline(always)]
            |_, y, x, _| {
                for (y, x) in y.chunks_mut(n).zip(x.chunks(n)) {
                    for ((y, &x), &b) in y.iter_mut().zip(x).zip(b) {
                        *y = x + b;
                    }
                }
            },
        );
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _b: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let db = grad.contiguous()?.apply_op1_no_bwd(&ColumnSum)?;
        Ok((Some(grad.clone()), Some(db)))
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
    fn fused_bias_add_matches_broadcast_add_for_input_and_bias() {
        let x = random(&[300, 7], 5, 1.0);
        let b = random(&[7], 6, 1.0);
        let (value, grad) = compare(
            || add_bias(x.as_tensor(), b.as_tensor()).unwrap(),
            || x.as_tensor().broadcast_add(b.as_tensor()).unwrap(),
            &[&x, &b],
        );
        assert!(value < 1e-6 && grad < 1e-4, "value {value}, grad {grad}");
    }
}
