//! Is the attention faithful? ERASER's comprehensiveness (DeYoung et al. 2020):
//! delete the tokens a method ranks highest and measure how much the predicted
//! class's probability drops. Random deletion is the floor to beat.

use super::capture::{is_special, token_strings, top_k, Capture};
use crate::data::collate::collate_unlabelled;
use crate::data::dataset::stratified_split;
use crate::rng::Rng;
use crate::saved_run::SavedRun;
use crate::train::data::EncodedSplit;
use crate::train::evaluate::predict_probs;
use crate::train::metrics::argmax;
use anyhow::Result;
use candle_core::Device;
use serde::Serialize;

/// Share of an example's non-special tokens to delete.
pub const DELETE_FRAC: f64 = 0.1;
const BATCH: usize = 32;

#[derive(Debug, Serialize, PartialEq)]
pub struct Faithfulness {
    pub examples: usize,
    pub delete_frac: f64,
    /// Mean drop in the predicted class's probability after deleting the top tokens by...
    pub attention: f64,
    pub rollout: f64,
    pub random: f64,
}

/// `ids` without the positions in `drop`.
fn without(ids: &[u32], drop: &[usize]) -> Vec<u32> {
    ids.iter()
        .enumerate()
        .filter(|(k, _)| !drop.contains(k))
        .map(|(_, &id)| id)
        .collect()
}

/// Comprehensiveness over a seeded, stratified sample of `n` examples of `data`.
pub fn comprehensiveness(
    saved: &SavedRun,
    data: &EncodedSplit,
    n: usize,
    device: &Device,
) -> Result<Faithfulness> {
    let (_, sample) = stratified_split(
        &data.labels,
        (n as f64 / data.ids.len() as f64).min(1.0),
        17,
    );
    let mut rng = Rng::new(23);
    // p(predicted) per example; its edited ids per method [attention, rollout, random].
    let (mut originals, mut edited) = (Vec::new(), Vec::new());
    let mut classes = Vec::new();
    let bar = crate::progress::bar(
        sample.len() as u64,
        "  faithfulness {bar:30} {pos}/{len} ETA {eta}",
    );
    for chunk in sample.chunks(BATCH) {
        let seqs: Vec<&[u32]> = chunk.iter().map(|&i| data.ids[i].as_slice()).collect();
        let batch = collate_unlabelled(&seqs, device)?;
        let capture = Capture::run(saved, &batch, None)?;
        for (b, ids) in seqs.iter().enumerate() {
            let tokens = token_strings(saved, ids);
            let maps = capture.maps(b, ids.len());
            let candidates = tokens.iter().filter(|t| !is_special(t)).count();
            let k = ((candidates as f64 * DELETE_FRAC).round() as usize).max(1);
            let mut random: Vec<usize> = (0..tokens.len())
                .filter(|&i| !is_special(&tokens[i]))
                .collect();
            rng.shuffle(&mut random);
            random.truncate(k);
            let class = argmax(&capture.probs[b]);
            originals.push(capture.probs[b][class] as f64);
            classes.push(class);
            for drop in [
                top_k(&maps.pooled_attn, &tokens, k),
                top_k(&maps.rolled, &tokens, k),
                random,
            ] {
                edited.push(without(ids, &drop));
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let after = predict_probs(&saved.model, &edited, saved.options.eval_batch_size, device)?;
    let mean_drop = |method: usize| {
        let drops =
            (0..originals.len()).map(|e| originals[e] - after[e * 3 + method][classes[e]] as f64);
        drops.sum::<f64>() / originals.len().max(1) as f64
    };
    Ok(Faithfulness {
        examples: originals.len(),
        delete_frac: DELETE_FRAC,
        attention: mean_drop(0),
        rollout: mean_drop(1),
        random: mean_drop(2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_skips_special_tokens_and_deletion_keeps_the_rest_in_order() {
        let tokens: Vec<String> = ["[CLS]", "good", "film", "bad", "[SEP]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let weights = [0.9, 0.1, 0.3, 0.5, 0.8];
        assert_eq!(top_k(&weights, &tokens, 2), vec![3, 2]);
        assert_eq!(without(&[101, 1, 2, 3, 102], &[3, 2]), vec![101, 1, 102]);
    }
}
