//! The heads seen forming: at each validation point the trainer measures every
//! head's entropy, the weight its top keys receive and how often they are the
//! evidence, on a fixed sample of validation reviews (history.jsonl keeps them).
//! The evidence here is gradient × input of the model at that point: one
//! backward pass a review, where Integrated Gradients would take 34.

use super::attribution::gradient_times_input;
use super::capture::{tokens_of, Capture};
use super::heads::Tally;
use crate::data::collate::collate_unlabelled;
use crate::data::dataset::stratified_split;
use crate::model::{Classifier, Pool};
use crate::train::data::EncodedSplit;
use crate::train::state::HeadPoint;
use anyhow::Result;
use candle_core::Device;
use tokenizers::Tokenizer;

/// Reviews per capture batch.
const BATCH: usize = 32;

/// The fixed sample, chosen once, and its tokens.
pub struct HeadWatch {
    ids: Vec<Vec<u32>>,
    tokens: Vec<Vec<String>>,
    /// The model's pooling, which names its route (tallied, not kept).
    pool: Pool,
}

impl HeadWatch {
    /// `n` validation reviews, stratified and seeded as the faithfulness sample is.
    pub fn new(val: &EncodedSplit, tokenizer: &Tokenizer, pool: Pool, n: usize) -> Self {
        let frac = (n as f64 / val.ids.len().max(1) as f64).min(1.0);
        let (_, sample) = stratified_split(&val.labels, frac, 17);
        let ids: Vec<Vec<u32>> = sample.iter().map(|&i| val.ids[i].clone()).collect();
        let tokens = ids.iter().map(|ids| tokens_of(tokenizer, ids)).collect();
        Self { ids, tokens, pool }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Every head of `model` over the sample, layer by layer.
    pub fn measure(&self, model: &Classifier, device: &Device) -> Result<Vec<HeadPoint>> {
        let mut tally = Tally::default();
        for (chunk, tokens) in self.ids.chunks(BATCH).zip(self.tokens.chunks(BATCH)) {
            let seqs: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
            let capture = Capture::of(model, &collate_unlabelled(&seqs, device)?, None)?;
            for (b, (ids, tokens)) in chunk.iter().zip(tokens).enumerate() {
                let maps = capture.maps(b, ids.len());
                let evidence = gradient_times_input(model, ids, device)?;
                let route = maps.evidence(self.pool).0.to_vec();
                tally.add(&maps, &evidence, 1.0, &route, tokens);
            }
        }
        let (heads, _) = tally.finish();
        Ok(heads
            .into_iter()
            .map(|h| HeadPoint {
                layer: h.layer,
                head: h.head,
                entropy: h.entropy,
                top5_x_uniform: h.top5_x_uniform,
                precision_at_5: h.precision_at_5,
            })
            .collect())
    }
}
