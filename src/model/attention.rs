//! Multi-head self-attention: f(Q·Kᵀ/√Dh + mask)·V per head, f the softmax or a
//! sparse function (`attn_fn`), heads side by side, then the output projection. Written step by step below (the composed
//! path); on the CPU in f32, when nothing needs the weights, the same computation
//! runs as one kernel (`kernels::attention`, tested against the composed path).

use super::attn_fn;
use super::config::Config;
use super::forward::Forward;
use super::linear::Linear;
use super::mask::bias_or_zeros;
use crate::kernels::{self, AttnFn};
use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

/// Which implementation one attention layer runs, chosen in [`Path::choose`] alone:
///
/// | device | dtype | keep_attn | attention dropout (training) | path     |
/// |--------|-------|-----------|------------------------------|----------|
/// | CPU    | f32   | no        | no                           | Fused    |
/// | CPU    | f32   | yes       | any                          | Composed |
/// | CPU    | f32   | any       | yes                          | Composed |
/// | CUDA   | any   | any       | any                          | Composed |
/// | any    | f64   | any       | any                          | Composed |
///
/// (and every row Composed inside `kernels::composed_only`, which tests use to
/// run on the CPU what a CUDA device runs).
///
/// Fused keeps no weights and draws no dropout inside the op. In the composed
/// path each step (`Linear`, `Heads::split`, `softmax_last`) runs its CPU kernel
/// for f32 on the CPU and plain candle ops elsewhere (see `crate::kernels`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    Fused,
    Composed,
}

impl Path {
    pub fn choose(x: &Tensor, fwd: &Forward, attn_dropout: f32) -> Path {
        let dropout = fwd.mode.is_train() && attn_dropout > 0.0;
        if kernels::fused(x) && !fwd.keep_attn && !dropout {
            Path::Fused
        } else {
            Path::Composed
        }
    }
}

pub struct MultiHeadSelfAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    /// QK-norm's gains for q and k (Dh each), with the RMS epsilon.
    qk_norm: Option<(Tensor, Tensor, f64)>,
    n_heads: usize,
    d_head: usize,
    attn_dropout: f32,
    attn_fn: AttnFn,
}

/// The attention layer as the hand-written backward (`tape`) reads it.
pub struct AttnView<'a> {
    pub qkv: [&'a Linear; 3],
    pub o: &'a Linear,
    pub heads: usize,
    pub d_head: usize,
    pub attn_fn: AttnFn,
}

/// (N, D) rows, heads side by side -> each head's slice divided by its RMS and
/// multiplied by `gain` (Dh): QK-norm.
fn head_rms(x: &Tensor, gain: &Tensor, n_heads: usize, eps: f64) -> Result<Tensor> {
    let (n, d) = x.dims2()?;
    let x = x.reshape((n, n_heads, d / n_heads))?; // (N, H, Dh)
    let rms = (x.sqr()?.mean_keepdim(2)? + eps)?.sqrt()?; // (N, H, 1)
    x.broadcast_div(&rms)?.broadcast_mul(gain)?.reshape((n, d))
}

impl MultiHeadSelfAttention {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        let (d, std, qk) = (config.d_model, config.init_std, config.qk_init_std());
        let gain = |name| vb.get_with_hints(config.d_head(), name, Init::Const(1.0));
        let qk_norm = match config.qk_norm {
            true => Some((
                gain("q_norm.weight")?,
                gain("k_norm.weight")?,
                config.norm_eps,
            )),
            false => None,
        };
        Ok(Self {
            qk_norm,
            q: Linear::new(vb.pp("q"), d, d, qk)?,
            k: Linear::new(vb.pp("k"), d, d, qk)?,
            v: Linear::new(vb.pp("v"), d, d, std)?,
            o: Linear::new(vb.pp("o"), d, d, std)?,
            n_heads: config.n_heads,
            d_head: config.d_head(),
            attn_dropout: config.attn_dropout,
            attn_fn: config.attn_fn,
        })
    }

    /// rows: (B·L, D), the positions of a (B, L) batch; bias: additive mask
    /// broadcastable to (B, H, L, L). Returns the output (B·L, D) and, with
    /// `fwd.keep_attn`, the attention weights (B, H, L, L).
    pub fn forward(
        &self,
        rows: &Tensor,
        (b, l): (usize, usize),
        bias: Option<&Tensor>,
        fwd: &mut Forward,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let heads = kernels::Heads {
            b,
            l,
            h: self.n_heads,
            dh: self.d_head,
        };
        let scale = 1.0 / (self.d_head as f64).sqrt();
        if Path::choose(rows, fwd, self.attn_dropout) == Path::Fused {
            let qkv = match self.qk_norm {
                None => Linear::stacked(&[&self.q, &self.k, &self.v])?.forward(rows)?, // (B·L, 3D)
                Some(_) => {
                    let (q, k) = self.queries_keys(rows)?;
                    Tensor::cat(&[q, k, self.v.forward(rows)?], 1)? // (B·L, 3D)
                }
            };
            let bias = bias_or_zeros(bias, l, rows)?;
            let context = kernels::attention(&qkv, &bias, heads, scale, self.attn_fn)?; // (B·L, D)
            return Ok((self.o.forward(&context)?, None));
        }
        let (q, k) = self.queries_keys(rows)?;
        let (q, k) = (heads.split(&q)?, heads.split(&k)?); // (B, H, L, Dh)
        let v = heads.split(&self.v.forward(rows)?)?;
        let scores = q.matmul(&k.t()?)?; // (B, H, L, L)

        let weights = attn_fn::weights(&scores, bias, scale, self.attn_fn)?;
        let dropped = fwd.mode.dropout(&weights, self.attn_dropout)?;
        let context = heads.merge(&dropped.matmul(&v)?)?; // (B·L, D): heads side by side
        Ok((self.o.forward(&context)?, fwd.keep_attn.then_some(weights)))
    }

    /// The layer as the tape reads it; None under QK-norm or attention dropout,
    /// which the tape does not cover.
    pub fn tape_view(&self) -> Option<AttnView<'_>> {
        let covered = self.qk_norm.is_none() && self.attn_dropout == 0.0;
        covered.then_some(AttnView {
            qkv: [&self.q, &self.k, &self.v],
            o: &self.o,
            heads: self.n_heads,
            d_head: self.d_head,
            attn_fn: self.attn_fn,
        })
    }

    /// q and k (B·L, D), through QK-norm when the config asks for it.
    fn queries_keys(&self, rows: &Tensor) -> Result<(Tensor, Tensor)> {
        let (q, k) = (self.q.forward(rows)?, self.k.forward(rows)?);
        match &self.qk_norm {
            None => Ok((q, k)),
            Some((gq, gk, eps)) => Ok((
                head_rms(&q, gq, self.n_heads, *eps)?,
                head_rms(&k, gk, self.n_heads, *eps)?,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;
    use candle_core::DType;
    use candle_core::Device;

    /// Each caller's options, and the path they must take.
    #[test]
    fn each_caller_takes_its_path() {
        let x32 = Tensor::zeros((1, 2, 4), DType::F32, &Device::Cpu).unwrap();
        let x64 = x32.to_dtype(DType::F64).unwrap();
        let mut rng = Rng::new(0);
        let cases = [
            (
                "training step (runner::step)",
                Forward::train(&mut rng),
                0.0,
                &x32,
                Path::Fused,
            ),
            (
                "evaluate / predict (inference)",
                Forward::eval(),
                0.0,
                &x32,
                Path::Fused,
            ),
            (
                "the X-ray (attn::capture)",
                Forward::eval().keep_attn(),
                0.0,
                &x32,
                Path::Composed,
            ),
            (
                "f64 gradient checks (tests/gradients.rs)",
                Forward::eval(),
                0.0,
                &x64,
                Path::Composed,
            ),
        ];
        for (caller, fwd, p, x, path) in cases {
            assert_eq!(Path::choose(x, &fwd, p), path, "{caller}");
        }
        let gpu_like = crate::kernels::composed_only(|| Path::choose(&x32, &Forward::eval(), 0.0));
        assert_eq!(gpu_like, Path::Composed, "inside composed_only");
        let mut rng = Rng::new(0);
        let dropout = Forward::train(&mut rng);
        assert_eq!(
            Path::choose(&x32, &dropout, 0.1),
            Path::Composed,
            "attention dropout"
        );
        assert_eq!(
            Path::choose(&x32, &Forward::eval(), 0.1),
            Path::Fused,
            "eval ignores dropout"
        );
    }
}
