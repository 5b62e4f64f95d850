//! The pretraining loss, as an [`Objective`] for the one `train_step`: cross-
//! entropy of the language model's logits at the chosen positions.

use crate::model::{Forward, LanguageModel, LmBatch, Masks};
use crate::runner::step::{cross_entropy, Loss, Objective};
use crate::util::rng::Rng;
use anyhow::Result;

pub struct Pretraining<'a> {
    pub model: &'a LanguageModel,
    /// None: the architecture's own masks; the ablation trains without the causal one.
    pub masks: Option<Masks>,
}

impl Objective for Pretraining<'_> {
    type Batch = LmBatch;

    /// The table also makes the output logits, so its gradient is dense anyway:
    /// no token rows.
    fn loss(&self, lm: &LmBatch, rng: &mut Rng) -> Result<Loss> {
        let fwd = Forward::train(rng);
        let fwd = match self.masks {
            Some(masks) => fwd.with_masks(masks),
            None => fwd,
        };
        let (value, correct) = cross_entropy(&self.model.logits(lm, fwd)?, &lm.targets)?;
        Ok(Loss {
            value,
            correct,
            rows: None,
            tape: None,
        })
    }
}

/// Summed loss and correct predictions of `model` on held-out batches, in eval
/// mode with the architecture's own masks: (mean loss, token accuracy).
pub fn held_out(model: &LanguageModel, batches: &[LmBatch]) -> Result<(f64, f64)> {
    let (mut loss, mut correct, mut n) = (0.0, 0, 0);
    for lm in batches {
        let (l, c) = cross_entropy(&model.logits(lm, Forward::eval())?, &lm.targets)?;
        let k = lm.targets.dim(0)?;
        loss += l.to_scalar::<f32>()? as f64 * k as f64;
        correct += c;
        n += k;
    }
    Ok((loss / n.max(1) as f64, correct as f64 / n.max(1) as f64))
}
