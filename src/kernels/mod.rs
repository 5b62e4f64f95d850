//! The CPU kernels under the model (`model/`) and the optimizer (`runner/optim`):
//! the element-wise and row-wise work around the matmuls as fused ops with
//! hand-written backward passes, attention's core as one op, the linear layer,
//! and AdamW's in-place update. Composed from candle ops, each of these takes
//! several passes over (B, H, L, L) or (B, L, 4D) buffers, and every intermediate
//! costs candle's backward a zero-filled gradient buffer and an add; fused, it is
//! one pass forward and one backward, parallel over rows.
//!
//! Each public function decides for itself, by [`fused`]: f32 on the CPU runs the
//! kernel, anything else (CUDA, the f64 finite-difference tests) the same math in
//! candle ops. Each kernel is tested against that composition, values and gradients.

pub(crate) mod adamw;
mod affine;
mod attention_core;
mod cross_entropy;
mod gelu;
mod gemm;
mod head_split;
mod residual;
mod rms_norm;
mod simd;
mod softmax;
mod sparse;

pub use affine::{linear, linear_backward, linear_gelu, linear_gelu_keeping};
pub use attention_core::{attention, attention_keeping, AttentionTape};
pub use cross_entropy::cross_entropy;
pub use gelu::gelu;
pub(crate) use gelu::gelu_backward;
pub use head_split::Heads;
pub use residual::{dropout_add, dropout_add_backward};
pub use rms_norm::{rms_norm, rms_norm_backward};
pub(crate) use simd::vectorized;
pub use softmax::softmax_last;
pub use sparse::AttnFn;

use candle_core::{CpuStorage, Layout, Result, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Elements per parallel task: big enough to amortise scheduling.
pub(crate) const MIN_CHUNK: usize = 16 * 1024;

/// exp(x) to about 2 ulp, written so that the loops calling it vectorise (libm's
/// expf is a scalar call, and it was a tenth of a training step). Inputs below
/// the f32 range give exactly 0, so masked attention weights stay exactly 0.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to the nearest integer k without a call, and
    // leaves k in the low bits of the sum: integer ops on those bits build 2^k
    // (a float-to-int cast would not vectorise: Rust's `as` saturates).
    const ROUND: f32 = 12_582_912.0;
    let xc = x.clamp(-87.0, 88.0);
    let shifted = xc * std::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = xc - k * LN2_HI - k * LN2_LO; // |r| <= ln2 / 2
                                          // Cephes' expf polynomial.
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let k_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()); // k mod 2^32
    let two_k = f32::from_bits(k_int.wrapping_add(127) << 23);
    if x < -87.0 {
        0.0
    } else {
        y * two_k
    }
}

thread_local! {
    /// Set by [`composed_only`]: this thread runs every op as a CUDA device would.
    static COMPOSED_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` with every op on its composed path (candle ops, as on a CUDA device)
/// even for f32 CPU tensors, so that the CPU can test what a GPU computes. Per
/// thread: the choice is made where an op is called, never inside a kernel.
pub fn composed_only<T>(f: impl FnOnce() -> T) -> T {
    let before = COMPOSED_ONLY.with(|c| c.replace(true));
    let out = f();
    COMPOSED_ONLY.with(|c| c.set(before));
    out
}

/// Whether `x` takes the fused path: f32 on the CPU, unless [`composed_only`].
pub fn fused(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == candle_core::DType::F32 && !COMPOSED_ONLY.with(|c| c.get())
}

/// The f32 slice behind a contiguous CPU tensor (custom ops see raw storage).
pub(crate) fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => candle_core::bail!("{op}: fused kernel needs a contiguous f32 tensor"),
    }
}

/// The slices behind the two inputs of a fused op.
fn contiguous2<'a>(
    s1: &'a CpuStorage,
    l1: &Layout,
    s2: &'a CpuStorage,
    l2: &Layout,
    op: &str,
) -> Result<(&'a [f32], &'a [f32])> {
    Ok((contiguous(s1, l1, op)?, contiguous(s2, l2, op)?))
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

/// `row` repeated to `n` floats (n a multiple of its length), in parallel chunks.
pub(crate) fn tiled(row: &[f32], n: usize) -> Vec<f32> {
    assert_eq!(
        n % row.len(),
        0,
        "tiled: {n} is not a multiple of {}",
        row.len()
    );
    let mut out = Fresh::new(n);
    out.slots()
        .par_chunks_mut(rows_per_task(row.len()))
        .for_each(|chunk| {
            for slots in chunk.chunks_mut(row.len()) {
                write_all(slots, row.iter().copied());
            }
        });
    // SAFETY: the chunks cover all n slots, each row of them written by `write_all`.
    unsafe { out.written() }
}

/// An output of n floats that its kernel writes in full before it reads any of
/// them: the products of `gemm::matmul_into`, element-wise fills. Zero-filling
/// them first was a `memset` per output, a visible share of a training step's
/// profile; skipping it saves part of that (the kernels' own writes then take
/// the cache misses the fill took; docs/results-log.md has the numbers).
pub(crate) struct Fresh {
    buf: Vec<f32>,
    n: usize,
}

impl Fresh {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
            n,
        }
    }

    /// The n slots, to be written.
    pub(crate) fn slots(&mut self) -> &mut [MaybeUninit<f32>] {
        &mut self.buf.spare_capacity_mut()[..self.n]
    }

    /// The buffer, once every slot is written.
    ///
    /// # Safety
    /// Every one of the n slots has been written.
    pub(crate) unsafe fn written(mut self) -> Vec<f32> {
        // SAFETY: the capacity holds n elements, all initialised (the caller).
        unsafe { self.buf.set_len(self.n) };
        self.buf
    }
}

/// Slots that have all been written, as floats to read or update in place.
///
/// # Safety
/// Every element of `slots` has been written.
pub(crate) unsafe fn assume_written(slots: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: MaybeUninit<f32> has f32's layout, and the caller vouches that
    // every element is initialised.
    unsafe { &mut *(slots as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Whole rows of length n per parallel task, about MIN_CHUNK elements.
fn rows_per_task(n: usize) -> usize {
    (MIN_CHUNK / n.max(1)).max(1) * n
}

fn row_len(l: &Layout) -> usize {
    l.dims().last().copied().unwrap_or(1)
}

/// A new buffer the length of `a`, written chunk by chunk in parallel from the
/// matching chunks of `a` and `b` (`chunk` a whole number of rows for row-wise
/// ops); `f` also gets the index of the chunk's first element, and must write
/// every slot of its chunk ([`write_all`] does, and says so if it does not).
fn par_zip2(
    a: &[f32],
    b: &[f32],
    chunk: usize,
    f: impl Fn(usize, &mut [MaybeUninit<f32>], &[f32], &[f32]) + Sync,
) -> Vec<f32> {
    let mut out = Fresh::new(a.len());
    out.slots()
        .par_chunks_mut(chunk)
        .zip(a.par_chunks(chunk).zip(b.par_chunks(chunk)))
        .enumerate()
        .for_each(|(i, (out, (a, b)))| {
            simd::vectorized(
                #[inline(always)]
                || f(i * chunk, out, a, b),
            )
        });
    // SAFETY: every caller's `f` writes its whole chunk, through `write_all`.
    unsafe { out.written() }
}

/// `values` into `slots`, one each, and the slots back as floats to go on with.
/// Panics if `values` runs out first: a slot left unwritten would later be read.
#[inline(always)]
pub(crate) fn write_all(
    slots: &mut [MaybeUninit<f32>],
    values: impl Iterator<Item = f32>,
) -> &mut [f32] {
    let mut written = 0;
    for (slot, v) in slots.iter_mut().zip(values) {
        slot.write(v);
        written += 1;
    }
    assert_eq!(
        written,
        slots.len(),
        "write_all: values for {written} of {} slots",
        slots.len()
    );
    // SAFETY: the loop wrote every slot.
    unsafe { assume_written(slots) }
}

/// Sums over rows of length n: `f(row, acc)` adds row `row`'s contribution to
/// `acc`. Bands of rows are summed in parallel, then the band sums are added in
/// band order: a parallel `reduce` would pair them in whatever order work
/// stealing produced, and float addition is not associative, so the same seed
/// could give different gradients from run to run.
fn column_sum(rows: usize, n: usize, f: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let band = (MIN_CHUNK / n.max(1)).max(16);
    let bands: Vec<Vec<f32>> = (0..rows.div_ceil(band))
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0f32; n];
            simd::vectorized(
                #[inline(always)]
                || {
                    for row in t * band..((t + 1) * band).min(rows) {
                        f(row, &mut acc);
                    }
                },
            );
            acc
        })
        .collect();
    let mut total = vec![0f32; n];
    for band in &bands {
        total.iter_mut().zip(band).for_each(|(t, b)| *t += b);
    }
    total
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_exp_matches_libm_across_the_f32_range() {
        let mut worst = 0f64;
        for i in -100_000..=100_000 {
            let x = i as f32 * 8.7e-4; // -87 ..= 87
            let (fast, exact) = (super::exp(x) as f64, (x as f64).exp());
            worst = worst.max(((fast - exact) / exact).abs());
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(super::exp(-1e9), 0.0);
        assert_eq!(super::exp(-90.0), 0.0);
    }

    #[test]
    #[should_panic(expected = "values for 3 of 4 slots")]
    fn write_all_refuses_to_leave_a_slot_unwritten() {
        let mut slots = [std::mem::MaybeUninit::<f32>::uninit(); 4];
        super::write_all(&mut slots, [1.0, 2.0, 3.0].into_iter());
    }

    #[test]
    fn tiled_repeats_its_row_across_parallel_chunks() {
        let v = super::tiled(&[1.0, 2.0, 3.0], 3 * 20_000); // several chunks
        assert!(v.chunks(3).all(|r| r == [1.0, 2.0, 3.0]));
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use candle_core::{Device, Tensor, Var};

    pub fn random(shape: &[usize], seed: u64, scale: f64) -> Var {
        let mut rng = crate::util::rng::Rng::new(seed);
        let v: Vec<f32> = (0..shape.iter().product())
            .map(|_| (rng.normal() * scale) as f32)
            .collect();
        Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
    }

    pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
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

    /// Largest differences of the values and of the gradients of every input in
    /// `inputs`, between `fused` and `reference` under the same random probe.
    pub fn compare(
        fused: impl Fn() -> Tensor,
        reference: impl Fn() -> Tensor,
        inputs: &[&Var],
    ) -> (f32, f32) {
        let (a, b) = (fused(), reference());
        let probe = random(a.dims(), 99, 1.0);
        let ga = (&a * probe.as_tensor()).unwrap().sum_all().unwrap();
        let gb = (&b * probe.as_tensor()).unwrap().sum_all().unwrap();
        let (ga, gb) = (ga.backward().unwrap(), gb.backward().unwrap());
        let grad = inputs
            .iter()
            .map(|x| max_diff(ga.get(x).unwrap(), gb.get(x).unwrap()))
            .fold(0f32, f32::max);
        (max_diff(&a, &b), grad)
    }
}
