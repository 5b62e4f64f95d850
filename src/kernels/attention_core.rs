//! Attention's core in one op: f(Q Kᵀ · scale + bias) V for every head, f the
//! softmax or a sparse function (`sparse::AttnFn`),
//! from the (B·L, 3D) output of the stacked q/k/v projection to the (B·L, D)
//! context with the heads side by side. Composed, that is three head splits, a
//! transpose, two batched matmuls, the softmax and a merge: eight graph nodes,
//! each with a zero-filled gradient buffer and an add in candle's backward, and
//! each small (L, Dh) x (Dh, L) product split across the cores. Here one task
//! per batch item runs its heads' products single-threaded on strided views, so
//! the cores split whole examples, and the op keeps the softmax weights for its
//! backward pass.

use super::gemm::{matmul, matmul_into, Mat};
use super::softmax::BiasRows;
use super::{assume_written, contiguous2, simd, AttnFn, Fresh, Heads};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

/// qkv: (B·L, 3D), q, k and v side by side; bias: (B or 1, 1, L or 1, L), the
/// shapes `mask::attention_bias` builds. Returns the context (B·L, D). CPU f32
/// only: `model::attention`'s composed path is the reference and runs elsewhere.
pub fn attention(
    qkv: &Tensor,
    bias: &Tensor,
    heads: Heads,
    scale: f64,
    f: AttnFn,
) -> Result<Tensor> {
    let op = Attention::new(heads, scale, f);
    qkv.contiguous()?.apply_op2(&bias.contiguous()?, op)
}

/// [`attention`], keeping what its backward needs: for the hand-written backward
/// (`model::tape`). CPU f32.
pub fn attention_keeping(
    qkv: &Tensor,
    bias: &Tensor,
    heads: Heads,
    scale: f64,
    f: AttnFn,
) -> Result<(Tensor, AttentionTape)> {
    let op = Attention::new(heads, scale, f);
    let qkv = qkv.contiguous()?;
    let context = qkv.apply_op2_no_bwd(&bias.contiguous()?, &op)?;
    Ok((context, AttentionTape { op, qkv }))
}

/// One attention core's forward, kept: its input and softmax weights.
pub struct AttentionTape {
    op: Attention,
    qkv: Tensor,
}

impl AttentionTape {
    /// d context (B·L, D) -> d qkv (B·L, 3D).
    pub fn backward(&self, grad: &Tensor) -> Result<Tensor> {
        self.op.backward(&self.qkv, grad)
    }
}

struct Attention {
    heads: Heads,
    scale: f32,
    f: AttnFn,
    /// The forward pass's weights (B, H, L, L), taken by the backward pass.
    weights: Mutex<Vec<f32>>,
}

impl Attention {
    fn new(heads: Heads, scale: f64, f: AttnFn) -> Self {
        Self {
            heads,
            scale: scale as f32,
            f,
            weights: Mutex::new(Vec::new()),
        }
    }
}

impl Heads {
    fn width(&self) -> usize {
        self.h * self.dh
    }

    /// Head `hi`'s (L, Dh) views of q, k and v inside one batch item's (L, 3D) rows.
    fn qkv<'a>(&self, x: &'a [f32], hi: usize) -> [Mat<'a>; 3] {
        let d = self.width();
        [0, 1, 2].map(|part| Mat::rows(&x[part * d + hi * self.dh..], self.l, self.dh, 3 * d))
    }

    fn check(&self, qkv: &Layout, op: &str) -> Result<()> {
        let want = (self.b * self.l, 3 * self.width());
        if qkv.shape().dims2()? != want {
            candle_core::bail!("{op}: qkv is {:?}, expected {want:?}", qkv.dims());
        }
        Ok(())
    }
}

impl CustomOp2 for Attention {
    fn name(&self) -> &'static str {
        "fused-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.heads.check(l1, self.name())?;
        let (qkv, bias) = contiguous2(s1, l1, s2, l2, self.name())?;
        let Heads { b, l, h, dh } = self.heads;
        let d = self.heads.width();
        let bias_rows = BiasRows::new(&[b, h, l, l], l2.dims())?;
        let (mut context, mut weights) = (Fresh::new(b * l * d), Fresh::new(b * h * l * l));
        context
            .slots()
            .par_chunks_mut(l * d)
            .zip(weights.slots().par_chunks_mut(h * l * l))
            .enumerate()
            .for_each(|(bi, (context, weights))| {
                let x = &qkv[bi * l * 3 * d..(bi + 1) * l * 3 * d];
                let mut sorted = Vec::with_capacity(l);
                for (hi, w) in weights.chunks_mut(l * l).enumerate() {
                    let [q, k, v] = self.heads.qkv(x, hi);
                    // The scores (L, L).
                    matmul_into(w, l, q, k.t(), 1);
                    // SAFETY: the product wrote all of them.
                    let w = unsafe { assume_written(w) };
                    simd::vectorized(
                        #[inline(always)]
                        || {
                            for (i, row) in w.chunks_mut(l).enumerate() {
                                let at = bias_rows.of((bi * h + hi) * l + i) * l;
                                let bias = Some(&bias[at..at + l]);
                                self.f.row(row, self.scale, bias, &mut sorted);
                            }
                        },
                    );
                    // (L, Dh) into this head's columns of the context rows
                    matmul_into(&mut context[hi * dh..], d, Mat::rows(w, l, l, l), v, 1);
                }
            });
        // SAFETY: every batch item's heads wrote all of its weights, and their
        // Dh columns each side by side fill its context rows' D.
        let (context, weights) = unsafe { (context.written(), weights.written()) };
        *self.weights.lock().expect("attention weights lock") = weights;
        Ok((CpuStorage::F32(context), Shape::from((b * l, d))))
    }

    /// The mask is a constant: no gradient flows to it.
    fn bwd(
        &self,
        qkv: &Tensor,
        _bias: &Tensor,
        _context: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(self.backward(qkv, grad)?), None))
    }
}

impl Attention {
    fn backward(&self, qkv: &Tensor, grad: &Tensor) -> Result<Tensor> {
        let weights = std::mem::take(&mut *self.weights.lock().expect("attention weights lock"));
        if weights.is_empty() {
            candle_core::bail!("fused-attention: a second backward pass through the same graph");
        }
        let op = AttentionBackward {
            heads: self.heads,
            scale: self.scale,
            f: self.f,
            weights,
        };
        qkv.apply_op2_no_bwd(&grad.contiguous()?, &op)
    }
}

struct AttentionBackward {
    heads: Heads,
    scale: f32,
    f: AttnFn,
    weights: Vec<f32>,
}

impl CustomOp2 for AttentionBackward {
    fn name(&self) -> &'static str {
        "fused-attention-backward"
    }

    /// (qkv, d context) -> d qkv, per head: dV = Pᵀ dO, dP = dO Vᵀ,
    /// dS = f's backward of dP, dQ = dS K, dK = dSᵀ Q.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.heads.check(l1, self.name())?;
        let (qkv, grad) = contiguous2(s1, l1, s2, l2, self.name())?;
        let Heads { l, h, dh, .. } = self.heads;
        let d = self.heads.width();
        let mut dqkv = Fresh::new(qkv.len());
        dqkv.slots()
            .par_chunks_mut(l * 3 * d)
            .zip(qkv.par_chunks(l * 3 * d))
            .zip(
                grad.par_chunks(l * d)
                    .zip(self.weights.par_chunks(h * l * l)),
            )
            .for_each(|((dx, x), (g, weights))| {
                let mut ds = vec![0f32; l * l];
                for (hi, w) in weights.chunks(l * l).enumerate() {
                    let [q, k, v] = self.heads.qkv(x, hi);
                    let (p, g) = (Mat::rows(w, l, l, l), Mat::rows(&g[hi * dh..], l, dh, d));
                    let col = hi * dh;
                    matmul_into(&mut dx[2 * d + col..], 3 * d, p.t(), g, 1); // dV
                    matmul(&mut ds, l, g, v.t(), false, 1); // dP (L, L)
                    simd::vectorized(
                        #[inline(always)]
                        || {
                            for (ds, w) in ds.chunks_mut(l).zip(w.chunks(l)) {
                                self.f.row_backward(ds, w, self.scale);
                            }
                        },
                    );
                    let dsm = Mat::rows(&ds, l, l, l);
                    matmul_into(&mut dx[col..], 3 * d, dsm, k, 1); // dQ
                    matmul_into(&mut dx[d + col..], 3 * d, dsm.t(), q, 1); // dK
                }
            });
        // SAFETY: each head wrote its Dh columns of dQ, dK and dV in every row:
        // all 3D columns of every batch item's rows.
        let dqkv = unsafe { dqkv.written() };
        Ok((CpuStorage::F32(dqkv), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{compare, random};
    use super::*;
    use crate::model::mask::{attention_bias, Masks};
    use candle_core::{DType, Device, D};

    /// The textbook composition on the same (B·L, 3D) input (the sparse
    /// functions as the model's composed path writes them, in tensor ops).
    fn composed(qkv: &Tensor, bias: &Tensor, hd: Heads, scale: f64, f: AttnFn) -> Tensor {
        let d = hd.width();
        let part = |i: usize| {
            qkv.narrow(1, i * d, d)
                .and_then(|x| x.reshape((hd.b, hd.l, hd.h, hd.dh)))
                .and_then(|x| x.transpose(1, 2)) // (B, H, L, Dh)
                .and_then(|x| x.contiguous())
                .unwrap()
        };
        let (q, k, v) = (part(0), part(1), part(2));
        let scores = q.matmul(&k.t().unwrap()).unwrap();
        let weights = match f {
            AttnFn::Softmax => {
                let scores = (scores * scale).unwrap().broadcast_add(bias).unwrap();
                candle_nn::ops::softmax(&scores, D::Minus1)
            }
            _ => crate::model::attn_fn::weights(&scores, Some(bias), scale, f),
        };
        weights
            .and_then(|w| w.matmul(&v))
            .and_then(|c| c.transpose(1, 2)) // (B, L, H, Dh)
            .and_then(|c| c.reshape((hd.b * hd.l, d)))
            .unwrap()
    }

    /// Padding in the second example, every mask combination, several heads,
    /// each function from scores to weights.
    #[test]
    fn fused_attention_matches_the_composed_one_under_every_mask() {
        let hd = Heads {
            b: 2,
            l: 6,
            h: 3,
            dh: 4,
        };
        let qkv = random(&[12, 36], 5, 1.5);
        let attention_mask =
            Tensor::new(&[[1u32, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], &Device::Cpu).unwrap();
        let no_mask = Tensor::zeros((1, 1, 1, 6), DType::F32, &Device::Cpu).unwrap();
        let fns = [AttnFn::Softmax, AttnFn::Sparsemax, AttnFn::Entmax15];
        let masks = [(false, false), (true, false), (false, true), (true, true)];
        for (f, (padding, causal)) in fns.iter().flat_map(|&f| masks.map(|m| (f, m))) {
            let masks = Masks { padding, causal };
            let bias = attention_bias(&attention_mask, masks, DType::F32)
                .unwrap()
                .unwrap_or(no_mask.clone());
            let (value, grad) = compare(
                || attention(qkv.as_tensor(), &bias, hd, 0.5, f).unwrap(),
                || composed(qkv.as_tensor(), &bias, hd, 0.5, f),
                &[&qkv],
            );
            assert!(
                value < 1e-5 && grad < 1e-4,
                "{f:?} {masks:?}: value {value}, grad {grad}"
            );
        }
    }

    #[test]
    fn a_qkv_of_the_wrong_width_is_refused() {
        let hd = Heads {
            b: 1,
            l: 4,
            h: 2,
            dh: 2,
        };
        let qkv = Tensor::zeros((4, 8), DType::F32, &Device::Cpu).unwrap();
        let bias = Tensor::zeros((1, 1, 1, 4), DType::F32, &Device::Cpu).unwrap();
        let err = attention(&qkv, &bias, hd, 1.0, AttnFn::Softmax)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected (4, 12)"), "{err}");
    }
}
