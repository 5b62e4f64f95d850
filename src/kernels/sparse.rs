//! The function that turns a row of attention scores into weights: softmax, or
//! one of two sparse functions that give exactly 0 to the keys below a threshold
//! τ, so that a heatmap is white where a head does not look:
//!
//!   sparsemax(z)_i = max(z_i − τ, 0),     τ such that Σ_i max(z_i − τ, 0) = 1
//!   entmax15(z)_i  = max(z_i/2 − τ, 0)²,  τ such that Σ_i max(z_i/2 − τ, 0)² = 1
//!
//! (Martins & Astudillo 2016; Peters, Niculae & Martins 2019). τ is exact: the
//! keys sorted from the largest, the support is the longest prefix whose own
//! threshold stays below its smallest key. No weight exceeds 1, so τ ≥ max − 1
//! and only the keys within 1 of the largest need sorting: a few dozen of 256
//! once a head has learned where to look.

use super::softmax::{softmax_row, softmax_row_backward};
use serde::{Deserialize, Serialize};

/// Which function turns attention scores into weights (config.json's `attn_fn`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AttnFn {
    /// exp(z_i) / Σ exp(z_j): every key gets some weight.
    #[default]
    Softmax,
    /// The Euclidean projection of the scores onto the simplex: max(z_i − τ, 0).
    Sparsemax,
    /// 1.5-entmax, between the two: max(z_i/2 − τ, 0)², zeros with smoother weights.
    Entmax15,
}

impl AttnFn {
    pub fn name(self) -> &'static str {
        match self {
            AttnFn::Softmax => "softmax",
            AttnFn::Sparsemax => "sparsemax",
            AttnFn::Entmax15 => "entmax15",
        }
    }

    /// One row in place: x -> f(x * scale + bias). `sorted` is scratch space
    /// (kept by the caller across rows). Call inside `simd::vectorized`.
    #[inline(always)]
    pub(super) fn row(
        self,
        x: &mut [f32],
        scale: f32,
        bias: Option<&[f32]>,
        sorted: &mut Vec<f32>,
    ) {
        if self == AttnFn::Softmax {
            return softmax_row(x, scale, bias);
        }
        x.iter_mut().for_each(|x| *x *= scale);
        if let Some(bias) = bias {
            x.iter_mut().zip(bias).for_each(|(x, b)| *x += b);
        }
        // Shifted so that the largest is 0 (entmax15 on z/2): both functions
        // ignore a shift, and the keys that can get weight are then those above −1.
        let half = if self == AttnFn::Entmax15 { 0.5 } else { 1.0 };
        let max = super::simd::max(x);
        x.iter_mut().for_each(|x| *x = (*x - max) * half);
        let tau = self.threshold(x, sorted);
        match self {
            AttnFn::Entmax15 => x.iter_mut().for_each(|x| *x = (*x - tau).max(0.0).powi(2)),
            _ => x.iter_mut().for_each(|x| *x = (*x - tau).max(0.0)),
        }
    }

    /// τ of a row `z` whose largest value is 0.
    #[inline(always)]
    fn threshold(self, z: &[f32], sorted: &mut Vec<f32>) -> f32 {
        sorted.clear();
        sorted.extend(z.iter().copied().filter(|&z| z > -1.0));
        sorted.sort_unstable_by(|a, b| b.total_cmp(a));
        let (mut tau, mut sum, mut sum_sq) = (-1.0, 0.0f32, 0.0f32);
        for (k, &z) in sorted.iter().enumerate() {
            let n = (k + 1) as f32;
            sum += z;
            let t = if self == AttnFn::Entmax15 {
                // The smaller root of Σ (z_j − t)² = 1 over the n largest.
                sum_sq += z * z;
                let mean = sum / n;
                let spread = (1.0 - (sum_sq - sum * mean)) / n;
                mean - spread.max(0.0).sqrt()
            } else {
                (sum - 1.0) / n
            };
            if t > z {
                break;
            }
            tau = t;
        }
        tau
    }

    /// One row in place: dy -> dx, given the row's weights y and the score scale.
    /// Sparsemax: dx = dy − mean(dy) on the support, 0 off it. 1.5-entmax, with
    /// g = √y: dx = g (dy − Σ g dy / Σ g). Call inside `simd::vectorized`.
    #[inline(always)]
    pub(super) fn row_backward(self, dy: &mut [f32], y: &[f32], scale: f32) {
        let g = |y: f32| match self {
            AttnFn::Entmax15 => y.sqrt(),
            _ => f32::from(y > 0.0),
        };
        if self == AttnFn::Softmax {
            return softmax_row_backward(dy, y, scale);
        }
        let (mut num, mut den) = (0.0f32, 0.0f32);
        for (&d, &y) in dy.iter().zip(y) {
            num += g(y) * d;
            den += g(y);
        }
        let mean = num / den;
        for (d, &y) in dy.iter_mut().zip(y) {
            *d = scale * g(y) * (*d - mean);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(f: AttnFn, x: &[f32]) -> Vec<f32> {
        let mut y = x.to_vec();
        f.row(&mut y, 1.0, None, &mut Vec::new());
        y
    }

    /// Σ max(z/2 − τ, 0)² = 1 solved by bisection in f64: an independent τ.
    fn entmax_by_bisection(x: &[f32]) -> Vec<f64> {
        let z: Vec<f64> = x.iter().map(|&x| x as f64 / 2.0).collect();
        let mass = |t: f64| z.iter().map(|z| (z - t).max(0.0).powi(2)).sum::<f64>();
        let max = z.iter().cloned().fold(f64::MIN, f64::max);
        let (mut lo, mut hi) = (max - 1.0, max);
        for _ in 0..100 {
            let mid = (lo + hi) / 2.0;
            if mass(mid) > 1.0 {
                lo = mid
            } else {
                hi = mid
            }
        }
        z.iter().map(|z| (z - lo).max(0.0).powi(2)).collect()
    }

    #[test]
    fn sparsemax_of_a_worked_example() {
        // Sorted 1, 0.5, −1: τ = (1 + 0.5 − 1)/2 = 0.25, and −1 < 0.25.
        let y = apply(AttnFn::Sparsemax, &[0.5, -1.0, 1.0]);
        assert_eq!(y, vec![0.25, 0.0, 0.75]);
    }

    #[test]
    fn entmax15_matches_a_threshold_found_by_bisection() {
        let mut rng = crate::util::rng::Rng::new(3);
        for scale in [0.3f32, 1.0, 4.0] {
            let x: Vec<f32> = (0..50).map(|_| rng.normal() as f32 * scale).collect();
            let y = apply(AttnFn::Entmax15, &x);
            for (a, b) in y.iter().zip(entmax_by_bisection(&x)) {
                assert!(
                    (*a as f64 - b).abs() < 1e-5,
                    "scale {scale}: {a} against {b}"
                );
            }
            let zeros = y.iter().filter(|&&y| y == 0.0).count();
            assert!(scale < 1.0 || zeros > 0, "scale {scale}: no exact zero");
        }
    }

    #[test]
    fn weights_sum_to_one_and_masked_keys_get_exactly_zero() {
        for f in [AttnFn::Softmax, AttnFn::Sparsemax, AttnFn::Entmax15] {
            let mut x = vec![0.3f32, -0.2, 0.1, 2.0, 0.0];
            let bias = [0.0, 0.0, -1e9, 0.0, -1e9];
            f.row(&mut x, 0.5, Some(&bias), &mut Vec::new());
            assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{f:?}: {x:?}");
            assert_eq!((x[2], x[4]), (0.0, 0.0), "{f:?}");
            // One key left: it takes all the weight.
            let mut one = vec![0.3f32, -0.2, 0.1];
            f.row(&mut one, 1.0, Some(&[-1e9, 0.0, -1e9]), &mut Vec::new());
            assert_eq!(one, vec![0.0, 1.0, 0.0], "{f:?}");
        }
    }

    /// The backward rows against central differences of the forward rows.
    #[test]
    fn row_backward_matches_finite_differences() {
        let mut rng = crate::util::rng::Rng::new(9);
        for f in [AttnFn::Softmax, AttnFn::Sparsemax, AttnFn::Entmax15] {
            let x: Vec<f32> = (0..12).map(|_| rng.normal() as f32).collect();
            let dy: Vec<f32> = (0..12).map(|_| rng.normal() as f32).collect();
            let loss = |x: &[f32]| {
                let mut y = x.to_vec();
                f.row(&mut y, 0.7, None, &mut Vec::new());
                y.iter().zip(&dy).map(|(y, d)| (y * d) as f64).sum::<f64>()
            };
            let mut dx = dy.clone();
            let mut y = x.clone();
            f.row(&mut y, 0.7, None, &mut Vec::new());
            f.row_backward(&mut dx, &y, 0.7);
            for i in 0..x.len() {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[i] += 1e-3;
                down[i] -= 1e-3;
                let numeric = (loss(&up) - loss(&down)) / 2e-3;
                assert!(
                    (numeric - dx[i] as f64).abs() < 2e-3,
                    "{f:?} key {i}: {} against {numeric}",
                    dx[i]
                );
            }
        }
    }
}
