//! The additive attention masks, built in one place.
//!
//! A mask is a bias added to the scores before softmax: 0 where a query may look,
//! MASK_FILL where it may not.

use candle_core::{DType, Device, Result, Tensor};

/// Finite on purpose: `-inf` turns a fully masked row (a padding query under the
/// causal mask) into NaN, and `f32::MIN` overflows to `-inf` when the padding and
/// causal biases are added together. exp(-1e9 - max) is still exactly 0 in f32.
pub const MASK_FILL: f64 = -1e9;

/// Which masks a forward pass applies (switching one off is how the tests prove it matters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Masks {
    pub padding: bool,
    pub causal: bool,
}

/// (B, L) 1/0 attention_mask -> (B, 1, 1, L): MASK_FILL on padding keys, for every query.
pub fn padding_bias(attention_mask: &Tensor, dtype: DType) -> Result<Tensor> {
    let (b, l) = attention_mask.dims2()?;
    let is_pad = attention_mask.to_dtype(dtype)?.affine(-1.0, 1.0)?; // 1 on [PAD]
    (is_pad * MASK_FILL)?.reshape((b, 1, 1, l))
}

/// (1, 1, L, L): MASK_FILL on keys j > query i (the strict upper triangle).
pub fn causal_bias(len: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let fill = MASK_FILL as f32;
    let bias: Vec<f32> = (0..len * len)
        .map(|k| if k % len > k / len { fill } else { 0.0 })
        .collect();
    Tensor::from_vec(bias, (1, 1, len, len), device)?.to_dtype(dtype)
}

/// `bias`, or a zero bias (1, 1, 1, L) like `x`: the fused attention kernel always
/// takes one.
pub fn bias_or_zeros(bias: Option<&Tensor>, l: usize, x: &Tensor) -> Result<Tensor> {
    match bias {
        Some(bias) => Ok(bias.clone()),
        None => Tensor::zeros((1, 1, 1, l), x.dtype(), x.device()),
    }
}

/// The combined bias in `dtype`, broadcastable to (B, H, L, L); None when no mask applies.
pub fn attention_bias(
    attention_mask: &Tensor,
    masks: Masks,
    dtype: DType,
) -> Result<Option<Tensor>> {
    let (_, l) = attention_mask.dims2()?;
    let padding = masks
        .padding
        .then(|| padding_bias(attention_mask, dtype))
        .transpose()?;
    let causal = masks
        .causal
        .then(|| causal_bias(l, dtype, attention_mask.device()))
        .transpose()?;
    Ok(match (padding, causal) {
        (Some(p), Some(c)) => Some(p.broadcast_add(&c)?), // (B, 1, L, L)
        (p, c) => p.or(c),
    })
}
