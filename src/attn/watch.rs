//! The heads seen forming: at each validation point the trainer measures every
//! head's entropy, the weight its top keys receive and how often they are the
//! evidence, on a fixed sample of validation reviews (history.jsonl keeps them).
//! The evidence here is gradient × input of the model at that point: one
//! forward and backward pass a batch gives the attention and the gradients,
//! where Integrated Gradients would take 34 a review.

use super::attribution::batch_gradient_times_input;
use super::capture::{Capture, Maps};
use super::heads::{received, Tally};
use crate::data::collate::collate_unlabelled;
use crate::data::dataset::stratified_split;
use crate::data::tokenize::tokens_of;
use crate::model::{Classifier, Pool};
use crate::modes::saved_run::SavedRun;
use crate::train::data::EncodedSplit;
use crate::train::probe::HeadProbe;
use crate::train::state::{Forming, HeadPoint};
use anyhow::Result;
use candle_core::Device;
use tokenizers::Tokenizer;

/// Reviews per capture batch.
const BATCH: usize = 32;
/// Positions of each forming example kept (the page shows them whole).
pub const FORMING_TOKENS: usize = 40;

/// The fixed sample, chosen once, and its tokens.
pub struct HeadWatch {
    ids: Vec<Vec<u32>>,
    tokens: Vec<Vec<String>>,
    /// Indices into the sample of the forming examples: per class, its shortest
    /// review, whose received weights each validation point keeps.
    forming: Vec<usize>,
    /// The model's pooling, which names its route (tallied, not kept).
    pool: Pool,
}

impl HeadWatch {
    /// `n` validation reviews, stratified and seeded as the faithfulness sample is.
    pub fn new(val: &EncodedSplit, tokenizer: &Tokenizer, pool: Pool, n: usize) -> Self {
        let frac = (n as f64 / val.ids.len().max(1) as f64).min(1.0);
        let (_, mut sample) = stratified_split(&val.labels, frac, 17);
        // In length order, so that each batch of the measurement pads little
        // (as inference batches do): the statistics are per review, the order
        // is free, and it is the cost the trainer pays at every point.
        sample.sort_by_key(|&i| val.ids[i].len());
        let ids: Vec<Vec<u32>> = sample.iter().map(|&i| val.ids[i].clone()).collect();
        let tokens = ids.iter().map(|ids| tokens_of(tokenizer, ids)).collect();
        let mut forming: Vec<usize> = Vec::new();
        for (k, &i) in sample.iter().enumerate() {
            let class = val.labels[i];
            let same = forming.iter().position(|&f| val.labels[sample[f]] == class);
            match same {
                Some(at) if ids[forming[at]].len() <= ids[k].len() => {}
                Some(at) => forming[at] = k,
                None => forming.push(k),
            }
        }
        forming.sort_by_key(|&k| val.labels[sample[k]]);
        Self {
            ids,
            tokens,
            forming,
            pool,
        }
    }

    /// The forming examples' first FORMING_TOKENS tokens, in class order.
    pub fn forming_tokens(&self) -> Vec<Vec<String>> {
        self.forming
            .iter()
            .map(|&k| {
                self.tokens[k]
                    .iter()
                    .take(FORMING_TOKENS)
                    .cloned()
                    .collect()
            })
            .collect()
    }
}

/// The trainer's probe (`train::probe`): a HeadWatch of the run's validation split.
pub fn probe(
    val: &EncodedSplit,
    tokenizer: &Tokenizer,
    pool: Pool,
    n: usize,
) -> Box<dyn HeadProbe> {
    Box::new(HeadWatch::new(val, tokenizer, pool, n))
}

impl HeadProbe for HeadWatch {
    fn reviews(&self) -> usize {
        self.ids.len()
    }

    /// Every head of `model` over the sample, layer by layer, and what each
    /// reads of the forming examples.
    fn measure(&self, model: &Classifier, device: &Device) -> Result<(Vec<HeadPoint>, Forming)> {
        let mut tally = Tally::default();
        let mut forming: Forming = vec![Vec::new(); self.forming.len()];
        let chunks = self.ids.chunks(BATCH).zip(self.tokens.chunks(BATCH));
        for (c, (chunk, tokens)) in chunks.enumerate() {
            let seqs: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
            let batch = collate_unlabelled(&seqs, device)?;
            let (out, evidence) = batch_gradient_times_input(model, &batch)?;
            let capture = Capture::from_output(model, &out, None)?;
            for (b, (ids, tokens)) in chunk.iter().zip(tokens).enumerate() {
                let maps = capture.maps(b, ids.len());
                if let Some(f) = self.forming.iter().position(|&k| k == c * BATCH + b) {
                    forming[f] = received_per_head(&maps);
                }
                let route = maps.evidence(self.pool).0.to_vec();
                tally.add(&maps, &evidence[b][..ids.len()], 1.0, &route, tokens);
            }
        }
        let (heads, _) = tally.finish();
        let points = heads
            .into_iter()
            .map(|h| HeadPoint {
                layer: h.layer,
                head: h.head,
                entropy: h.entropy,
                top5_x_uniform: h.top5_x_uniform,
                precision_at_5: h.precision_at_5,
            })
            .collect();
        Ok((points, forming))
    }
}

/// [layer][head][position]: what each of the first FORMING_TOKENS positions
/// receives, × uniform, rounded to 0.01 (history.jsonl keeps them all).
fn received_per_head(maps: &Maps) -> Vec<Vec<Vec<f32>>> {
    let n = maps.pooling.len();
    maps.per_head
        .iter()
        .map(|layer| {
            layer
                .iter()
                .map(|w| {
                    received(w, n, maps.causal)
                        .iter()
                        .take(FORMING_TOKENS)
                        .map(|&x| (x * 100.0).round() as f32 / 100.0)
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// What every head read of the head sample's shortest review of each class at
/// each validation point of `saved`'s training, with those reviews' tokens: the
/// page's slider. Null for a run that measured no head.
pub fn forming_of(saved: &SavedRun) -> Result<serde_json::Value> {
    let points: Vec<serde_json::Value> = saved
        .history()?
        .iter()
        .flat_map(|r| &r.val_curve)
        .filter(|p| !p.forming.is_empty())
        .map(|p| serde_json::json!({ "step": p.step, "epoch": p.epoch, "received": p.forming }))
        .collect();
    if points.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    let watch = HeadWatch::new(
        &saved.split("val")?,
        &saved.tokenizer,
        saved.config.pool,
        saved.options.head_sample,
    );
    Ok(serde_json::json!({ "tokens": watch.forming_tokens(), "points": points }))
}
