//! Where the classifier looks: the attention its pooled vector receives from each
//! token, and attention rollout across layers (Abnar & Zuidema, 2020).

/// A square matrix, row-major: `m[i * n + j]` is query i's weight on key j.
pub type Square = Vec<f32>;

/// Keep the rows and columns of real tokens only (pads are right, so a prefix).
pub fn crop(weights: &[f32], len: usize, real: usize) -> Square {
    (0..real)
        .flat_map(|i| weights[i * len..i * len + real].to_vec())
        .collect()
}

/// Mean over heads of (H, n, n) weights.
pub fn head_mean(heads: &[Square]) -> Square {
    let n = heads[0].len();
    (0..n)
        .map(|k| heads.iter().map(|h| h[k]).sum::<f32>() / heads.len() as f32)
        .collect()
}

/// v (n) times m (n x n): how much each key feeds a weighted mix of queries.
pub fn vec_mat(v: &[f32], m: &[f32]) -> Vec<f32> {
    let n = v.len();
    (0..n)
        .map(|j| (0..n).map(|i| v[i] * m[i * n + j]).sum())
        .collect()
}

fn mat_mul(a: &[f32], b: &[f32], n: usize) -> Square {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                out[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    out
}

/// Rollout over head-averaged layers (first layer first): each layer becomes
/// (A + I) / 2 with rows renormalised (the residual stream carries half of each
/// token forward), and the layers multiply: R = Â_L · … · Â_1.
pub fn rollout(layers: &[Square], n: usize) -> Square {
    let mut total: Square = (0..n * n)
        .map(|k| if k / n == k % n { 1.0 } else { 0.0 })
        .collect();
    for a in layers {
        let mut with_residual: Square = (0..n * n)
            .map(|k| 0.5 * a[k] + if k / n == k % n { 0.5 } else { 0.0 })
            .collect();
        for row in with_residual.chunks_mut(n) {
            let sum: f32 = row.iter().sum();
            row.iter_mut()
                .for_each(|x| *x /= sum.max(f32::MIN_POSITIVE));
        }
        total = mat_mul(&with_residual, &total, n);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_matches_a_hand_computed_case() {
        // Two tokens. Layer 1: both attend token 0. Layer 2: both attend token 1.
        let l1 = vec![1.0, 0.0, 1.0, 0.0];
        let l2 = vec![0.0, 1.0, 0.0, 1.0];
        // Â1 = [[1, 0], [.5, .5]], Â2 = [[.5, .5], [0, 1]];
        // R = Â2 · Â1 = [[.75, .25], [.5, .5]].
        let r = rollout(&[l1, l2], 2);
        let expected = [0.75, 0.25, 0.5, 0.5];
        assert!(
            r.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6),
            "{r:?}"
        );
        // Rows of a rollout stay distributions.
        assert!((r[0] + r[1] - 1.0).abs() < 1e-6 && (r[2] + r[3] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn cropping_keeps_the_real_prefix() {
        let w: Vec<f32> = (0..9).map(|x| x as f32).collect(); // 3 x 3
        assert_eq!(crop(&w, 3, 2), vec![0.0, 1.0, 3.0, 4.0]);
    }

    #[test]
    fn pooled_attention_of_a_mean_pool_is_the_column_mean() {
        let m = vec![0.2, 0.8, 0.6, 0.4];
        let got = vec_mat(&[0.5, 0.5], &m);
        assert!((got[0] - 0.4).abs() < 1e-6 && (got[1] - 0.6).abs() < 1e-6);
    }
}
