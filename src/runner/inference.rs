//! Inference with a trained classifier: batched class probabilities in length
//! order (little padding), on a model whose weights build no gradient graph.
//! The one path of the validations, the test pass, eval, predict and attn.

use crate::data::collate::{collate_unlabelled, sorted_batches};
use crate::model::Classifier;
use anyhow::Result;
use candle_core::{Device, Tensor, D};

/// Class probabilities for every sequence, in input order, at the model's temperature.
pub fn predict_probs(
    model: &Classifier,
    ids: &[Vec<u32>],
    batch_size: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
    let mut probs = vec![Vec::new(); ids.len()];
    let bar = crate::util::progress::bar(
        ids.len() as u64,
        "  eval {bar:30} {pos}/{len} {per_sec} ETA {eta}",
    );
    for batch in sorted_batches(&lengths, batch_size) {
        let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
        let b = collate_unlabelled(&seqs, device)?;
        let logits = model.logits(&b.input_ids, &b.attention_mask)?;
        for (&i, row) in batch
            .iter()
            .zip(probabilities(&model.calibrated(&logits)?)?)
        {
            probs[i] = row;
        }
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    Ok(probs)
}

/// (B, n_classes) logits -> softmax probabilities, one row per example.
pub fn probabilities(logits: &Tensor) -> Result<Vec<Vec<f32>>> {
    Ok(candle_nn::ops::softmax(logits, D::Minus1)?.to_vec2()?)
}

/// The index of the largest value, the first one on ties (the predicted class).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(
            (0, f32::MIN),
            |best, (i, &p)| if p > best.1 { (i, p) } else { best },
        )
        .0
}
