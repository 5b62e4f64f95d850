//! How a run does on short texts: its split's texts cut to their first k tokens
//! and to a random k-token span, for k in LENGTHS, and whole (truncated as in
//! training); each with its loss, accuracy and expected calibration error.

use super::data::EncodedSplit;
use super::evaluate::nll;
use crate::data::tokenize::{truncate_ids, Truncate};
use crate::model::Classifier;
use crate::runner::inference::{argmax, predict_probs};
use crate::util::rng::Rng;
use anyhow::Result;
use candle_core::Device;
use serde::{Deserialize, Serialize};

/// The cut lengths, in tokens (words' pieces, [CLS] and [SEP] not counted).
pub const LENGTHS: [usize; 5] = [8, 16, 32, 64, 128];
/// Equal-width confidence bins of the calibration error (Guo et al. 2017).
pub const ECE_BINS: usize = 15;

/// Which part of each text a row keeps.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Cut {
    /// The first k tokens.
    First,
    /// k tokens from a random start (seeded).
    Span,
    /// The whole text, truncated as the run trained.
    Full,
}

/// One cut at one length, scored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LengthRow {
    pub cut: Cut,
    /// k; None for `Full`.
    pub tokens: Option<usize>,
    pub examples: usize,
    pub loss: f64,
    pub accuracy: f64,
    /// Expected calibration error over ECE_BINS bins of the top probability.
    pub ece: f64,
}

/// [CLS] + the first `k` word tokens + [SEP] of a whole encoded text.
pub fn cut_first(whole: &[u32], k: usize) -> Vec<u32> {
    cut_at(whole, 0, k)
}

/// [CLS] + `k` word tokens from a random start + [SEP] (the whole text when shorter).
pub fn cut_span(whole: &[u32], k: usize, rng: &mut Rng) -> Vec<u32> {
    let words = whole.len().saturating_sub(2);
    let start = match words > k {
        true => rng.below(words - k + 1),
        false => 0,
    };
    cut_at(whole, start, k)
}

/// [CLS] + word tokens start..start+k (as many as there are) + [SEP].
fn cut_at(whole: &[u32], start: usize, k: usize) -> Vec<u32> {
    let (Some(&cls), Some(&sep)) = (whole.first(), whole.last()) else {
        return whole.to_vec();
    };
    let words = &whole[1..whole.len().saturating_sub(1).max(1)];
    let end = (start + k).min(words.len());
    let mut ids = vec![cls];
    ids.extend_from_slice(&words[start.min(end)..end]);
    ids.push(sep);
    ids
}

/// Expected calibration error: the mean over equal-width bins of the top
/// probability of |accuracy − confidence|, weighted by the bin's share.
pub fn expected_calibration_error(probs: &[Vec<f32>], labels: &[u32], bins: usize) -> f64 {
    let mut sums = vec![(0usize, 0.0f64, 0.0f64); bins]; // (count, confidence, correct)
    for (p, &label) in probs.iter().zip(labels) {
        let best = argmax(p);
        let confidence = p[best] as f64;
        let bin = ((confidence * bins as f64) as usize).min(bins - 1);
        sums[bin].0 += 1;
        sums[bin].1 += confidence;
        sums[bin].2 += f64::from(u8::from(best == label as usize));
    }
    let n = probs.len().max(1) as f64;
    sums.iter()
        .filter(|(count, _, _)| *count > 0)
        .map(|&(_, conf, correct)| (correct - conf).abs() / n)
        .sum()
}

/// One row: `ids` scored against `labels`.
fn score(
    model: &Classifier,
    ids: &[Vec<u32>],
    labels: &[u32],
    (cut, tokens): (Cut, Option<usize>),
    batch: usize,
    device: &Device,
) -> Result<LengthRow> {
    let probs = predict_probs(model, ids, batch, device)?;
    let n = labels.len().max(1) as f64;
    let correct = probs
        .iter()
        .zip(labels)
        .filter(|(p, &l)| argmax(p) == l as usize)
        .count();
    Ok(LengthRow {
        cut,
        tokens,
        examples: labels.len(),
        loss: probs
            .iter()
            .zip(labels)
            .map(|(p, &l)| nll(p, l))
            .sum::<f64>()
            / n,
        accuracy: correct as f64 / n,
        ece: expected_calibration_error(&probs, labels, ECE_BINS),
    })
}

/// Every length, first and span, then the whole texts truncated to `max_len`.
pub fn by_length(
    model: &Classifier,
    whole: &EncodedSplit,
    (max_len, truncate): (usize, Truncate),
    batch: usize,
    device: &Device,
) -> Result<Vec<LengthRow>> {
    let mut rows = Vec::new();
    let mut rng = Rng::new(29);
    let bar = crate::util::progress::bar(
        (2 * LENGTHS.len() + 1) as u64,
        "  by length {bar:30} {pos}/{len} ETA {eta}",
    );
    for k in LENGTHS {
        let first: Vec<Vec<u32>> = whole.ids.iter().map(|w| cut_first(w, k)).collect();
        rows.push(score(
            model,
            &first,
            &whole.labels,
            (Cut::First, Some(k)),
            batch,
            device,
        )?);
        bar.inc(1);
        let span: Vec<Vec<u32>> = whole.ids.iter().map(|w| cut_span(w, k, &mut rng)).collect();
        rows.push(score(
            model,
            &span,
            &whole.labels,
            (Cut::Span, Some(k)),
            batch,
            device,
        )?);
        bar.inc(1);
    }
    let full: Vec<Vec<u32>> = whole
        .ids
        .iter()
        .map(|w| truncate_ids(w, max_len, truncate))
        .collect();
    rows.push(score(
        model,
        &full,
        &whole.labels,
        (Cut::Full, None),
        batch,
        device,
    )?);
    bar.finish_and_clear();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_cls_and_sep_around_k_word_tokens() {
        let whole = [101, 1, 2, 3, 4, 5, 6, 102];
        assert_eq!(cut_first(&whole, 3), [101, 1, 2, 3, 102]);
        assert_eq!(cut_first(&whole, 10), whole, "a shorter text stays whole");
        let mut rng = Rng::new(1);
        for _ in 0..50 {
            let span = cut_span(&whole, 3, &mut rng);
            assert_eq!((span[0], span[4], span.len()), (101, 102, 5));
            assert!(span[1..4].windows(2).all(|w| w[1] == w[0] + 1), "{span:?}");
        }
        let starts: std::collections::BTreeSet<u32> =
            (0..200).map(|_| cut_span(&whole, 3, &mut rng)[1]).collect();
        assert_eq!(
            starts.into_iter().collect::<Vec<_>>(),
            [1, 2, 3, 4],
            "every start"
        );
        assert_eq!(cut_span(&[101, 102], 4, &mut rng), [101, 102]);
    }

    #[test]
    fn calibration_error_by_hand() {
        // Confident and right: 0. Two at 0.9, one right: |0.5 - 0.9| = 0.4.
        let right = vec![vec![0.0, 1.0]; 4];
        assert!(expected_calibration_error(&right, &[1; 4], ECE_BINS) < 1e-9);
        let half = vec![vec![0.1, 0.9], vec![0.1, 0.9]];
        assert!((expected_calibration_error(&half, &[1, 0], ECE_BINS) - 0.4).abs() < 1e-6);
        // Two bins: 0.6 right (gap 0.4), 0.9 wrong (gap 0.9): (0.4 + 0.9) / 2.
        let two = vec![vec![0.4, 0.6], vec![0.1, 0.9]];
        assert!((expected_calibration_error(&two, &[1, 0], ECE_BINS) - 0.65).abs() < 1e-6);
    }
}
