//! Batches: a seeded, optionally length-bucketed sampler, and the dynamic-padding
//! collator that emits `input_ids` + `attention_mask`.

use crate::util::rng::Rng;
use candle_core::{Device, Result, Tensor};

/// Bucketing sorts by length inside chunks of this many batches: enough to group
/// similar lengths, few enough that batches still mix the whole dataset.
pub const BUCKET_BATCHES: usize = 50;

pub struct Batch {
    /// (B, L) u32, right-padded with [PAD] = 0.
    pub input_ids: Tensor,
    /// (B, L) u32: 1 for real tokens, 0 for [PAD].
    pub attention_mask: Tensor,
    /// (B) u32 class ids.
    pub labels: Tensor,
    pub real_tokens: usize,
}

/// Pad to the longest sequence in the batch (special tokens are already in `seqs`).
pub fn collate(seqs: &[&[u32]], labels: &[u32], device: &Device) -> Result<Batch> {
    let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(seqs.len() * len);
    let mut mask = Vec::with_capacity(seqs.len() * len);
    for seq in seqs {
        ids.extend_from_slice(seq);
        ids.resize(ids.len() + len - seq.len(), 0);
        mask.extend((0..len).map(|i| u32::from(i < seq.len())));
    }
    let shape = (seqs.len(), len);
    Ok(Batch {
        input_ids: Tensor::from_vec(ids, shape, device)?,
        attention_mask: Tensor::from_vec(mask, shape, device)?,
        labels: Tensor::from_slice(labels, seqs.len(), device)?,
        real_tokens: seqs.iter().map(|s| s.len()).sum(),
    })
}

/// A batch to run without labels (inference, the X-ray); its labels are 0.
pub fn collate_unlabelled(seqs: &[&[u32]], device: &Device) -> Result<Batch> {
    collate(seqs, &vec![0; seqs.len()], device)
}

/// One epoch's batches of indices: shuffled, and with `bucket` sorted by length
/// inside chunks of BUCKET_BATCHES batches, then the batch order shuffled again.
pub fn epoch_batches(
    lengths: &[usize],
    batch_size: usize,
    bucket: bool,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    rng.shuffle(&mut order);
    if !bucket {
        return order.chunks(batch_size).map(<[usize]>::to_vec).collect();
    }
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for chunk in order.chunks(batch_size * BUCKET_BATCHES) {
        let mut chunk = chunk.to_vec();
        chunk.sort_by_key(|&i| lengths[i]);
        batches.extend(chunk.chunks(batch_size).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

/// Batches in length order, for evaluation: with a correct mask the order changes
/// nothing but speed.
pub fn sorted_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order.chunks(batch_size).map(<[usize]>::to_vec).collect()
}

/// Share of the padded positions that are [PAD].
pub fn padding_fraction(batches: &[Vec<usize>], lengths: &[usize]) -> f64 {
    let (mut real, mut total) = (0usize, 0usize);
    for batch in batches {
        let longest = batch.iter().map(|&i| lengths[i]).max().unwrap_or(0);
        real += batch.iter().map(|&i| lengths[i]).sum::<usize>();
        total += longest * batch.len();
    }
    if total == 0 {
        0.0
    } else {
        1.0 - real as f64 / total as f64
    }
}
