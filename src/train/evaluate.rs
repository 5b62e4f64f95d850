//! Inference over a whole split, batched in length order, with no gradient graph.

use super::metrics::{scores, Scores};
use crate::data::collate::{collate, sorted_batches};
use crate::model::Classifier;
use anyhow::Result;
use candle_core::{Device, D};

/// Token ids (specials included, truncated) and class ids of one split.
#[derive(Clone, Debug, Default)]
pub struct EncodedSplit {
    pub ids: Vec<Vec<u32>>,
    pub labels: Vec<u32>,
}

impl EncodedSplit {
    pub fn lengths(&self) -> Vec<usize> {
        self.ids.iter().map(Vec::len).collect()
    }

    pub fn real_tokens(&self) -> usize {
        self.ids.iter().map(Vec::len).sum()
    }
}

pub struct Evaluation {
    pub loss: f64,
    pub predictions: Vec<u32>,
    /// Softmax probabilities, one row per example, in the split's order.
    pub probs: Vec<Vec<f32>>,
    pub scores: Scores,
}

/// Class probabilities for every sequence, in input order.
pub fn predict_probs(
    model: &Classifier,
    ids: &[Vec<u32>],
    batch_size: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
    let mut probs = vec![Vec::new(); ids.len()];
    let bar = crate::progress::bar(
        ids.len() as u64,
        "  eval {bar:30} {pos}/{len} {per_sec} ETA {eta}",
    );
    for batch in sorted_batches(&lengths, batch_size) {
        let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
        let b = collate(&seqs, &vec![0; seqs.len()], device)?;
        let logits = model.logits(&b.input_ids, &b.attention_mask)?;
        let p: Vec<Vec<f32>> = candle_nn::ops::softmax(&logits, D::Minus1)?.to_vec2()?;
        for (&i, row) in batch.iter().zip(p) {
            probs[i] = row;
        }
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    Ok(probs)
}

fn argmax(row: &[f32]) -> u32 {
    row.iter()
        .enumerate()
        .fold(
            (0, f32::MIN),
            |best, (i, &p)| if p > best.1 { (i, p) } else { best },
        )
        .0 as u32
}

/// Mean cross-entropy, predictions and scores of a labelled split.
pub fn evaluate(
    model: &Classifier,
    data: &EncodedSplit,
    batch_size: usize,
    label_names: &[String],
    device: &Device,
) -> Result<Evaluation> {
    let probs = predict_probs(model, &data.ids, batch_size, device)?;
    let predictions: Vec<u32> = probs.iter().map(|p| argmax(p)).collect();
    let nll: f64 = probs
        .iter()
        .zip(&data.labels)
        .map(|(p, &l)| -(p[l as usize].max(1e-12) as f64).ln())
        .sum();
    Ok(Evaluation {
        loss: nll / data.labels.len().max(1) as f64,
        scores: scores(&data.labels, &predictions, label_names),
        predictions,
        probs,
    })
}
