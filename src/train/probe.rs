//! What the loop measures of its heads at each validation point. The X-ray knows
//! how (`attn::watch`); the loop only asks, through this trait, handed down by
//! the command that starts the run, so train/ needs nothing from the floors above.

use super::data::EncodedSplit;
use super::state::{Forming, HeadPoint};
use crate::model::{Classifier, Pool};
use anyhow::Result;
use candle_core::Device;
use tokenizers::Tokenizer;

/// Every head, over a sample of validation reviews fixed when the run starts.
pub trait HeadProbe {
    /// Reviews in the sample.
    fn reviews(&self) -> usize;
    /// Every head of `model` over the sample, and what each reads of the
    /// forming examples (history.jsonl's `heads` and `forming`).
    fn measure(&self, model: &Classifier, device: &Device) -> Result<(Vec<HeadPoint>, Forming)>;
}

/// Builds a run's probe: (its validation split, tokenizer, pooling, reviews to sample).
pub type ProbeMaker = fn(&EncodedSplit, &Tokenizer, Pool, usize) -> Box<dyn HeadProbe>;
