//! Wide vectors for the kernels' loops. The crate is built for baseline x86-64
//! (SSE2, so the binary runs on any x86-64 CPU); the loops are written to
//! auto-vectorise, and `vectorized` recompiles them for AVX-512 or AVX2 when the
//! CPU has it. Float sums do not vectorise on their own (the compiler must keep
//! their order), so `sum`, `dot` and `max` keep 16 partial results.

const LANES: usize = 16;

/// Runs `f` with its loops compiled for the widest vector unit this CPU has.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { avx512(f) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Folds `x` into LANES partial results with `op`, then folds those.
#[inline(always)]
fn lanes(x: &[f32], init: f32, op: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = op(*a, v);
        }
    }
    rest.iter()
        .fold(acc.into_iter().fold(init, &op), |a, &v| op(a, v))
}

#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    lanes(x, 0.0, |a, b| a + b)
}

#[inline(always)]
pub fn max(x: &[f32]) -> f32 {
    lanes(x, f32::MIN, |a, b| if b > a { b } else { a })
}

#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((acc, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *acc += x * y;
        }
    }
    acc.iter().sum::<f32>() + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_reductions_match_plain_ones() {
        let x: Vec<f32> = (0..101)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let y: Vec<f32> = x.iter().map(|v| v * 0.5 + 1.0).collect();
        let plain_dot: f32 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!((sum(&x) - x.iter().sum::<f32>()).abs() < 1e-4);
        assert!((dot(&x, &y) - plain_dot).abs() < 1e-4);
        assert_eq!(max(&x), x.iter().cloned().fold(f32::MIN, f32::max));
        assert_eq!(vectorized(|| sum(&x[..3])), x[0] + x[1] + x[2]);
    }
}
