//! One optimizer step, the only one: training, `xray profile --train` and the
//! benches all call `train_step`. The loss comes from an [`Objective`], so a
//! second objective (a language-model loss) reuses the step and the loop.

use super::grads::{Gradients, TokenRows};
use super::optim::AdamW;
use crate::data::collate::Batch;
use crate::model::tape::StackTape;
use crate::model::{Classifier, Forward};
use crate::util::rng::Rng;
use anyhow::{bail, Result};
use candle_core::{DType, Tensor, D};
use std::path::Path;

/// What one step is told besides the batch.
#[derive(Clone, Copy, Debug)]
pub struct StepConfig {
    pub lr: f64,
    /// Global gradient-norm clip.
    pub clip: f64,
}

/// One batch's loss in training mode, as an [`Objective`] gives it.
pub struct Loss {
    /// The mean loss, a scalar with the graph behind it.
    pub value: Tensor,
    /// Right predictions (of examples, or of tokens).
    pub correct: usize,
    /// The batch's token-table rows when the loss was computed from them (the
    /// table's gradient then comes as rows: `runner::grads`).
    pub rows: Option<TokenRows>,
    /// The blocks' tape when they ran on it (`model::tape`).
    pub tape: Option<StackTape>,
}

/// A training loss: one batch in training mode, dropout from `rng`.
pub trait Objective {
    type Batch;
    fn loss(&self, batch: &Self::Batch, rng: &mut Rng) -> Result<Loss>;
}

/// Classification: cross-entropy of the logits against the labels, from the
/// batch's token rows.
impl Objective for Classifier {
    type Batch = Batch;

    fn loss(&self, batch: &Batch, rng: &mut Rng) -> Result<Loss> {
        let ids = &batch.input_ids;
        let rows = TokenRows::new(self.embedding_table(), ids, &self.token_embeddings(ids)?)?;
        let fwd = Forward::train(rng).by_hand();
        let out = self.forward_embedded(rows.as_tensor(), &batch.attention_mask, fwd)?;
        let (value, correct) = cross_entropy(&out.logits, &batch.labels)?;
        Ok(Loss {
            value,
            correct,
            rows: Some(rows),
            tape: out.tape,
        })
    }
}

/// Mean cross-entropy of logits (N, C) against targets (N) u32, and how many
/// of the N argmaxes hit their target.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<(Tensor, usize)> {
    let loss = crate::kernels::cross_entropy(logits, targets)?;
    let correct = logits
        .argmax(D::Minus1)?
        .eq(targets)?
        .to_dtype(DType::U32)?
        .sum_all()?
        .to_scalar::<u32>()?;
    Ok((loss, correct as usize))
}

/// Loss, backward, clip, AdamW. Returns the batch's mean loss and the number correct.
pub fn train_step<O: Objective>(
    objective: &O,
    optimizer: &mut AdamW,
    batch: &O::Batch,
    step: StepConfig,
    rng: &mut Rng,
) -> Result<(f64, usize)> {
    let loss = objective.loss(batch, rng)?;
    let mut grads = Gradients::backward(&loss.value, loss.rows.as_ref(), loss.tape)?;
    optimizer.clip_grad_norm(&mut grads, step.clip)?;
    optimizer.update(&grads, step.lr)?;
    Ok((loss.value.to_scalar::<f32>()? as f64, loss.correct))
}

/// A loss that is not finite stops the run before anything is saved: `last/`
/// still holds the weights of a good step. `what` names the loss, `at` the step.
pub fn check_finite(loss: f64, what: &str, at: &str, run: &Path) -> Result<()> {
    if !loss.is_finite() {
        bail!(
            "the {what} loss became {loss} at {at}: stopped without saving; the last good \
             checkpoint is in {}/last (try a lower --lr, then --resume)",
            run.display()
        );
    }
    Ok(())
}
