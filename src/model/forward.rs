//! How a forward pass runs, one value threaded from the classifier down to each
//! attention layer: which masks, whether to keep the attention weights, and the
//! train/eval mode that carries dropout's RNG.

use super::dropout::Mode;
use super::mask::Masks;
use crate::util::rng::Rng;

pub struct Forward<'a> {
    /// None: the architecture's own masks (padding, plus causal for the decoder).
    pub masks: Option<Masks>,
    /// Return every layer's attention weights (B, H, L, L): the X-ray's view.
    pub keep_attn: bool,
    /// Run the blocks on the tape (`model::tape`) where it covers them: the
    /// caller then hands the tape to `runner::grads::Gradients::backward`.
    pub by_hand: bool,
    pub mode: Mode<'a>,
}

impl Forward<'static> {
    /// Inference: the model's own masks, no dropout, no weights kept.
    pub fn eval() -> Self {
        Self {
            masks: None,
            keep_attn: false,
            by_hand: false,
            mode: Mode::Eval,
        }
    }
}

impl<'a> Forward<'a> {
    /// Training: dropout masks drawn from `rng`.
    pub fn train(rng: &'a mut Rng) -> Self {
        Self {
            mode: Mode::Train(rng),
            ..Forward::eval()
        }
    }

    pub fn by_hand(self) -> Self {
        Self {
            by_hand: true,
            ..self
        }
    }

    pub fn keep_attn(self) -> Self {
        Self {
            keep_attn: true,
            ..self
        }
    }

    /// Other masks than the architecture's (how the mask comparisons switch one off).
    pub fn with_masks(self, masks: Masks) -> Self {
        Self {
            masks: Some(masks),
            ..self
        }
    }
}
