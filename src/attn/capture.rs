//! One forward pass with the attention weights kept (the composed path), turned
//! into plain per-example matrices: per layer and head, head means, the attention
//! the pooled vector receives, and rollout.

use super::rollout::{crop, head_mean, rollout, vec_mat, Square};
use crate::data::collate::Batch;
use crate::model::{Forward, Masks};
use crate::saved_run::SavedRun;
use crate::train::evaluate::probabilities;
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
}

impl Capture {
    /// With the run's own masks, or `masks` (the mask comparisons switch one off).
    pub fn run(saved: &SavedRun, batch: &Batch, masks: Option<Masks>) -> Result<Self> {
        let fwd = Forward {
            masks,
            ..Forward::eval().keep_attn()
        };
        let out = saved
            .model
            .forward(&batch.input_ids, &batch.attention_mask, fwd)?;
        let (_, heads, len, _) = out.attn[0].dims4()?;
        Ok(Self {
            layers: out
                .attn
                .iter()
                .map(|a| a.flatten_all()?.to_vec1())
                .collect::<candle_core::Result<_>>()?,
            pooling: out.pooling.to_vec2()?,
            probs: probabilities(&out.logits)?,
            heads,
            len,
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
        Maps {
            per_head,
            means,
            pooled_attn,
            rolled,
        }
    }
}

pub fn token_strings(saved: &SavedRun, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&id| {
            saved
                .tokenizer
                .id_to_token(id)
                .unwrap_or_else(|| format!("#{id}"))
        })
        .collect()
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
