//! Gradient attributions, one signed number per token: how much that token's
//! embedding moves the predicted class's margin (its logit minus the mean of the
//! others) up, towards the class, or down, away from it.
//! - gradient × input: one backward pass at the text;
//! - Integrated Gradients (Sundararajan et al. 2017): the gradient averaged over
//!   `steps` midpoints of the straight line from a baseline to the text, times
//!   (text − baseline), all midpoints in one batch. Completeness says the
//!   attributions sum to margin(text) − margin(baseline); the gap left is the
//!   Riemann sum's error, reported as `completeness_error`.
//!
//! Only the words' token embeddings move along the path: the positional
//! embeddings and the special tokens ([CLS], [SEP]) stay, so the baseline is
//! "the same frame, no words" and the attributions are about words.

use crate::data::collate::Batch;
use crate::model::{Classifier, Forward, Output};
use candle_core::{DType, Device, Result, Tensor, Var, D};
use serde::{Deserialize, Serialize};

pub const IG_STEPS: usize = 32;

/// Where Integrated Gradients' path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Baseline {
    /// Every word's embedding replaced by [PAD]'s (id 0).
    Pad,
    /// All-zero word embeddings.
    Zero,
}

pub struct Attribution {
    /// The class whose margin is explained: the prediction.
    pub target: usize,
    /// Per position, [CLS] and [SEP] included.
    pub grad_input: Vec<f32>,
    pub integrated: Vec<f32>,
    /// margin(text) − margin(baseline): what `integrated` sums to, ideally.
    pub margin_gap: f32,
}

impl Attribution {
    pub fn completeness_error(&self) -> f32 {
        (self.integrated.iter().sum::<f32>() - self.margin_gap).abs()
    }
}

/// The target's logit minus the mean of the other logits: (S, C) -> (S).
fn margin(logits: &Tensor, target: usize) -> Result<Tensor> {
    let c = logits.dim(1)?;
    let own = logits.narrow(1, target, 1)?.squeeze(1)?;
    let others = ((logits.sum(1)? - &own)? / (c - 1) as f64)?;
    own - others
}

/// d sum(margin) / d tokens, for a batch of token embeddings (S, L, D).
fn margin_gradient(
    model: &Classifier,
    tokens: &Tensor,
    target: Option<usize>,
) -> Result<(Tensor, Tensor, usize)> {
    let (s, l, _) = tokens.dims3()?;
    let var = Var::from_tensor(tokens)?;
    let mask = Tensor::ones((s, l), DType::U32, tokens.device())?;
    let logits = model
        .forward_embedded(var.as_tensor(), &mask, Forward::eval())?
        .logits;
    let target = match target {
        Some(t) => t,
        None => logits.get(0)?.argmax(D::Minus1)?.to_scalar::<u32>()? as usize,
    };
    let margins = margin(&logits, target)?; // (S)
    let grads = margins.sum_all()?.backward()?;
    let grad = grads
        .get(var.as_tensor())
        .cloned()
        .ok_or_else(|| candle_core::Error::Msg("no gradient reached the embeddings".into()))?;
    Ok((grad, margins, target))
}

/// Gradient × input of a padded batch, each row towards its own predicted
/// class, in one backward pass (each row's margin depends on its own tokens
/// alone: the padding mask keeps the rows apart), with the forward's output and
/// its attention kept: what the trainer judges its heads by while it trains.
/// Rows are (L) long, pads included; a pad's value is 0.
pub fn batch_gradient_times_input(
    model: &Classifier,
    batch: &Batch,
) -> Result<(Output, Vec<Vec<f32>>)> {
    let text = model.token_embeddings(&batch.input_ids)?.detach(); // (B, L, D)
    let var = Var::from_tensor(&text)?;
    let fwd = Forward::eval().keep_attn();
    let out = model.forward_embedded(var.as_tensor(), &batch.attention_mask, fwd)?;
    let (b, c) = out.logits.dims2()?;
    let predicted = out.logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
    // Each row's margin as a weighted sum of its logits: +1 on its class, -1/(C-1) elsewhere.
    let weights: Vec<f32> = predicted
        .iter()
        .flat_map(|&t| {
            (0..c).map(move |k| {
                if k == t as usize {
                    1.0
                } else {
                    -1.0 / (c - 1) as f32
                }
            })
        })
        .collect();
    let weights =
        Tensor::from_vec(weights, (b, c), out.logits.device())?.to_dtype(out.logits.dtype())?;
    let grads = (&out.logits * weights)?.sum_all()?.backward()?;
    let grad = grads
        .get(var.as_tensor())
        .cloned()
        .ok_or_else(|| candle_core::Error::Msg("no gradient reached the embeddings".into()))?;
    let per_token = (text * grad)?
        .sum(D::Minus1)?
        .to_dtype(DType::F32)?
        .to_vec2()?;
    Ok((out, per_token))
}

/// Both attributions of one text (unpadded ids, [CLS] … [SEP]); `special` marks
/// the positions kept in the baseline.
pub fn attribute(
    model: &Classifier,
    ids: &[u32],
    special: &[bool],
    steps: usize,
    baseline: Baseline,
    device: &Device,
) -> Result<Attribution> {
    let l = ids.len();
    let embed = |ids: &[u32]| model.token_embeddings(&Tensor::new(ids, device)?.unsqueeze(0)?);
    let text = embed(ids)?.detach(); // (1, L, D)
    let base_ids: Vec<u32> = ids
        .iter()
        .zip(special)
        .map(|(&id, &s)| if s { id } else { 0 })
        .collect();
    let keep: Vec<f32> = special.iter().map(|&s| f32::from(u8::from(s))).collect();
    let keep = Tensor::new(keep, device)?
        .to_dtype(text.dtype())?
        .reshape((1, l, 1))?;
    let base = match baseline {
        Baseline::Pad => embed(&base_ids)?,
        Baseline::Zero => text.broadcast_mul(&keep)?,
    }
    .detach();
    let per_token = |x: &Tensor, grad: &Tensor| -> Result<Vec<f32>> {
        (x * grad)?
            .sum(D::Minus1)?
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1()
    };

    // The text and the baseline side by side: the gradient at the text, and the gap.
    let ends = Tensor::cat(&[&text, &base], 0)?; // (2, L, D)
    let (grad, margins, target) = margin_gradient(model, &ends, None)?;
    let grad_input = per_token(&text, &grad.narrow(0, 0, 1)?)?;
    let m: Vec<f32> = margins.to_dtype(DType::F32)?.to_vec1()?;

    // Midpoints alpha = (k + 1/2) / steps of base + alpha (text - base): (S, L, D).
    let alphas: Vec<f32> = (0..steps)
        .map(|k| (k as f32 + 0.5) / steps as f32)
        .collect();
    let alphas = Tensor::new(alphas, device)?
        .to_dtype(text.dtype())?
        .reshape((steps, 1, 1))?;
    let diff = (&text - &base)?;
    let path = base.broadcast_add(&diff.broadcast_mul(&alphas)?)?;
    let (grad, _, _) = margin_gradient(model, &path, Some(target))?;
    let mean_grad = grad.mean_keepdim(0)?; // (1, L, D)
    Ok(Attribution {
        target,
        grad_input,
        integrated: per_token(&diff, &mean_grad)?,
        margin_gap: m[0] - m[1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::collate::collate_unlabelled;
    use crate::model::store::init_model;
    use crate::model::Config;

    /// Completeness: the attributions sum to the margin's change, and the Riemann
    /// error shrinks as the steps grow.
    #[test]
    fn integrated_gradients_are_complete() {
        let config = Config {
            vocab_size: 40,
            d_model: 16,
            n_heads: 2,
            n_layers: 2,
            max_len: 12,
            ..Config::default()
        };
        let dev = Device::Cpu;
        let (model, _) = init_model(&config, 3, DType::F32, &dev).unwrap();
        let ids = [2u32, 7, 11, 5, 30, 3];
        let special = [true, false, false, false, false, true];
        for baseline in [Baseline::Pad, Baseline::Zero] {
            let coarse = attribute(&model, &ids, &special, 2, baseline, &dev).unwrap();
            let fine = attribute(&model, &ids, &special, 64, baseline, &dev).unwrap();
            let specials = [fine.integrated[0], fine.integrated[5]];
            assert_eq!(
                specials,
                [0.0, 0.0],
                "{baseline:?}: kept tokens got attributions"
            );
            assert!(
                coarse.margin_gap.abs() > 1e-4,
                "{baseline:?}: nothing to attribute"
            );
            assert_eq!(fine.integrated.len(), ids.len());
            let err = fine.completeness_error();
            assert!(
                err < 0.02 * coarse.margin_gap.abs().max(1e-3),
                "{baseline:?}: completeness error {err} for a gap of {}",
                fine.margin_gap
            );
            assert!(err <= coarse.completeness_error() + 1e-6, "{baseline:?}");
            // The same gradient from a padded batch, the text beside a shorter one.
            let batch = collate_unlabelled(&[&ids[..], &ids[..3]], &dev).unwrap();
            let (_, rows) = batch_gradient_times_input(&model, &batch).unwrap();
            for (a, b) in rows[0].iter().zip(&fine.grad_input) {
                assert!((a - b).abs() <= 1e-4 * b.abs().max(1e-2), "{a} vs {b}");
            }
        }
    }
}
