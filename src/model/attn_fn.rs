//! The attention weights of the composed path: f(scores · scale + bias) over the
//! keys, f the softmax or a sparse function (`kernels::AttnFn`, whose doc gives
//! the formulas). Written here in tensor ops, on any device and dtype: the
//! reference the fused kernel's rows are tested against, and the path the X-ray
//! and a CUDA device run.

use crate::kernels::{self, AttnFn};
use candle_core::{DType, Result, Tensor, D};

/// scores: (B, H, Lq, L); bias broadcastable to it. Returns the weights, same shape.
pub fn weights(scores: &Tensor, bias: Option<&Tensor>, scale: f64, f: AttnFn) -> Result<Tensor> {
    if f == AttnFn::Softmax {
        return kernels::softmax_last(scores, bias, scale);
    }
    let z = (scores * scale)?;
    let z = match bias {
        Some(bias) => z.broadcast_add(bias)?,
        None => z,
    };
    // Both functions ignore a shift; shifted, the largest score is 0.
    let z = if f == AttnFn::Entmax15 { (z * 0.5)? } else { z };
    let z = z.broadcast_sub(&z.max_keepdim(D::Minus1)?)?;
    // Which keys get weight is constant where the weights are differentiable:
    // found without the graph, it leaves the gradient to flow through τ alone.
    let support = support(&z.detach(), f)?;
    let tau = threshold(&z, &support, f)?; // (B, H, Lq, 1)
    let above = (z.broadcast_sub(&tau)?.relu()? * support)?;
    match f {
        AttnFn::Entmax15 => above.sqr(),
        _ => Ok(above),
    }
}

/// 1 on the keys above τ, 0 elsewhere, for shifted scores `z` (largest 0): the
/// sorted scores' longest prefix whose threshold stays below its last key.
fn support(z: &Tensor, f: AttnFn) -> Result<Tensor> {
    // Keys below −1 never get weight (no weight exceeds 1): clamped, the masked
    // ones (−1e9) stay out of the sums below.
    let (sorted, _) = z.maximum(-1.0)?.sort_last_dim(false)?; // descending
    let n = sorted.dim(D::Minus1)?;
    let k = Tensor::arange(1u32, n as u32 + 1, z.device())?.to_dtype(z.dtype())?; // (L,)
    let tau_k = prefix_threshold(
        &sorted.cumsum(D::Minus1)?,
        &sorted.sqr()?.cumsum(D::Minus1)?,
        &k,
        f,
    )?;
    let size = sorted
        .ge(&tau_k)?
        .to_dtype(z.dtype())?
        .sum_keepdim(D::Minus1)?;
    let last = (size - 1.0)?.to_dtype(DType::U32)?; // (B, H, Lq, 1): the support's last key
    let tau = tau_k.gather(&last, D::Minus1)?;
    z.broadcast_gt(&tau)?.to_dtype(z.dtype())
}

/// τ over the keys in `support` (k of them), with the gradient through the scores.
fn threshold(z: &Tensor, support: &Tensor, f: AttnFn) -> Result<Tensor> {
    let on = (z * support)?;
    prefix_threshold(
        &on.sum_keepdim(D::Minus1)?,
        &on.sqr()?.sum_keepdim(D::Minus1)?,
        &support.sum_keepdim(D::Minus1)?,
        f,
    )
}

/// τ of n keys from their sum and sum of squares: (sum − 1)/n for sparsemax;
/// for 1.5-entmax the smaller root of Σ (z − τ)² = 1, mean − √((1 − (Σz² − n·mean²))/n).
fn prefix_threshold(sum: &Tensor, sum_sq: &Tensor, n: &Tensor, f: AttnFn) -> Result<Tensor> {
    match f {
        AttnFn::Entmax15 => {
            let mean = sum.broadcast_div(n)?;
            let spread = (sum_sq - (sum * &mean)?)?
                .affine(-1.0, 1.0)?
                .broadcast_div(n)?;
            mean - spread.relu()?.sqrt()?
        }
        _ => (sum - 1.0)?.broadcast_div(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mask::{attention_bias, Masks};
    use candle_core::{Device, Var};

    /// A padded, causal batch in f64: rows with one key, rows with masked keys.
    #[test]
    fn gradients_are_finite_under_every_mask() {
        let mut rng = crate::util::rng::Rng::new(1);
        let v: Vec<f64> = (0..2 * 2 * 5 * 5).map(|_| rng.normal()).collect();
        let x = Var::from_vec(v, (2, 2, 5, 5), &Device::Cpu).unwrap();
        let mask = Tensor::new(&[[1u32, 1, 1, 0, 0], [1, 1, 1, 1, 1]], &Device::Cpu).unwrap();
        let masks = Masks {
            padding: true,
            causal: true,
        };
        let bias = attention_bias(&mask, masks, DType::F64).unwrap();
        for f in [AttnFn::Sparsemax, AttnFn::Entmax15] {
            let w = weights(x.as_tensor(), bias.as_ref(), 0.5, f).unwrap();
            let r = Tensor::arange(0f64, 100.0, &Device::Cpu)
                .unwrap()
                .reshape((2, 2, 5, 5))
                .unwrap();
            let grads = (w * r).unwrap().sum_all().unwrap().backward().unwrap();
            let g: Vec<f64> = grads
                .get(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let bad = g.iter().position(|g| !g.is_finite());
            assert_eq!(bad, None, "{f:?}: {g:?}");
        }
    }
}
