//! One forward pass with the attention weights kept (the composed path), turned
//! into plain per-example matrices: per layer and head, head means, the attention
//! the pooled vector receives, and rollout.

use super::rollout::{crop, head_mean, rollout, vec_mat, Square};
use crate::data::collate::Batch;
use crate::model::{Classifier, Forward, Masks, Output, Pool};
use crate::modes::saved_run::SavedRun;
use crate::runner::inference::probabilities;
use anyhow::Result;

/// A batch's attention and predictions, as plain vectors.
pub struct Capture {
    /// Per layer, (B, H, L, L) flattened.
    layers: Vec<Vec<f32>>,
    /// (B, L) pooling weights of each example.
    pooling: Vec<Vec<f32>>,
    pub probs: Vec<Vec<f32>>,
    pub heads: usize,
    len: usize,
    /// Whether query i saw only keys 0..=i (for the entropy's uniform reference).
    causal: bool,
}

/// What one example's attention says, restricted to its first `real` positions.
pub struct Maps {
    /// [layer][head] -> (real x real)
    pub per_head: Vec<Vec<Square>>,
    /// [layer] -> head mean (real x real)
    pub means: Vec<Square>,
    /// Attention the pooled vector receives from each token (last layer, head mean).
    pub pooled_attn: Vec<f32>,
    /// The same through attention rollout over all layers.
    pub rolled: Vec<f32>,
    /// The pooling head's own weights over the tokens (uniform for `mean`).
    pub pooling: Vec<f32>,
    /// [layer][head] -> mean over queries of entropy / ln(keys seen): 1 is
    /// uniform attention, near 0 a head that looks at one token.
    pub entropy: Vec<Vec<f32>>,
    /// Query i saw keys 0..=i only.
    pub causal: bool,
}

impl Maps {
    /// The route by which words reach the head, for this pooling: the learned
    /// pooling's own weights, or the attention the pooled position(s) receive in
    /// the last layer (for `cls`, the [CLS] row). With a caption saying which.
    pub fn evidence(&self, pool: Pool) -> (&[f32], &'static str) {
        match pool {
            Pool::Attention => (
                &self.pooling,
                "attention pooling: each token's share of the vector the head classifies",
            ),
            Pool::Words => (
                &self.pooling,
                "word pooling: each token's share of the vector the head classifies, scored on the word alone",
            ),
            Pool::Cls => (
                &self.pooled_attn,
                "last layer's [CLS] row: how much each token feeds [CLS], the head's input",
            ),
            Pool::Mean | Pool::Last => (
                &self.pooled_attn,
                "attention the pooled output receives (last layer, mean of heads)",
            ),
        }
    }

    /// How many keys each query row may see: the uniform weight is 1 / that.
    pub fn keys_per_row(&self) -> Vec<f32> {
        let n = self.pooling.len();
        (0..n)
            .map(|i| if self.causal { i + 1 } else { n } as f32)
            .collect()
    }
}

impl Capture {
    /// With the run's own masks, or `masks` (the mask comparisons switch one off).
    pub fn run(saved: &SavedRun, batch: &Batch, masks: Option<Masks>) -> Result<Self> {
        Self::of(&saved.model, batch, masks)
    }

    /// The same for any model: the trainer watches its heads with it.
    pub fn of(model: &Classifier, batch: &Batch, masks: Option<Masks>) -> Result<Self> {
        let fwd = Forward {
            masks,
            ..Forward::eval().keep_attn()
        };
        let out = model.forward(&batch.input_ids, &batch.attention_mask, fwd)?;
        Self::from_output(model, &out, masks)
    }

    /// From a forward pass that kept its attention under `masks` (None: the model's own).
    pub fn from_output(model: &Classifier, out: &Output, masks: Option<Masks>) -> Result<Self> {
        let (_, heads, len, _) = out.attn[0].dims4()?;
        let causal = masks.unwrap_or(model.masks()).causal;
        Ok(Self {
            layers: out
                .attn
                .iter()
                .map(|a| a.flatten_all()?.to_vec1())
                .collect::<candle_core::Result<_>>()?,
            pooling: out.pooling.to_vec2()?,
            probs: probabilities(&model.calibrated(&out.logits)?)?,
            heads,
            len,
            causal,
        })
    }

    /// Example `b`'s maps over its first `real` positions (pads are on the right).
    pub fn maps(&self, b: usize, real: usize) -> Maps {
        let (heads, len) = (self.heads, self.len);
        let per_head: Vec<Vec<Square>> = self
            .layers
            .iter()
            .map(|l| {
                (0..heads)
                    .map(|h| crop(&l[(b * heads + h) * len * len..][..len * len], len, real))
                    .collect()
            })
            .collect();
        let means: Vec<Square> = per_head.iter().map(|h| head_mean(h)).collect();
        let pool = &self.pooling[b][..real];
        let pooled_attn = vec_mat(pool, means.last().expect("at least one layer"));
        let rolled = vec_mat(pool, &rollout(&means, real));
        let entropy = per_head
            .iter()
            .map(|layer| {
                layer
                    .iter()
                    .map(|w| normalised_entropy(w, real, self.causal))
                    .collect()
            })
            .collect();
        Maps {
            per_head,
            means,
            pooled_attn,
            rolled,
            pooling: pool.to_vec(),
            entropy,
            causal: self.causal,
        }
    }
}

/// Mean over the rows of an (n x n) attention map of H(row) / ln(keys the row
/// may see); rows that see a single key carry no choice and are skipped.
pub fn normalised_entropy(weights: &[f32], n: usize, causal: bool) -> f32 {
    let rows: Vec<f32> = (0..n)
        .filter_map(|i| {
            let keys = if causal { i + 1 } else { n };
            let h: f32 = weights[i * n..][..keys]
                .iter()
                .filter(|&&p| p > 0.0)
                .map(|&p| -p * p.ln())
                .sum();
            (keys > 1).then(|| h / (keys as f32).ln())
        })
        .collect();
    rows.iter().sum::<f32>() / rows.len().max(1) as f32
}

/// [CLS], [SEP], [PAD] and the like: never ranked, never deleted.
pub fn is_special(token: &str) -> bool {
    token.starts_with('[') && token.ends_with(']')
}

/// Positions of the `k` highest-weighted non-special tokens, highest first.
pub fn top_k(weights: &[f32], tokens: &[String], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..tokens.len())
        .filter(|&i| !is_special(&tokens[i]))
        .collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
    order.truncate(k);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_is_one_for_uniform_rows_and_zero_for_one_hot_rows() {
        let uniform = vec![1.0 / 3.0; 9];
        assert!((normalised_entropy(&uniform, 3, false) - 1.0).abs() < 1e-6);
        let one_hot = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        assert_eq!(normalised_entropy(&one_hot, 3, false), 0.0);
        // Causal: row 0 has no choice; rows 1 and 2 uniform over what they see.
        let causal = [
            1.0,
            0.0,
            0.0,
            0.5,
            0.5,
            0.0,
            1.0 / 3.0,
            1.0 / 3.0,
            1.0 / 3.0,
        ];
        assert!((normalised_entropy(&causal, 3, true) - 1.0).abs() < 1e-6);
    }
}
