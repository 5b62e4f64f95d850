//! The defaults both loops share: one place, so that `xray pretrain` and the
//! `xray train --init` run fine-tuned from it split the texts the same way
//! (same seed and validation share: no validation text in the corpus) and take
//! steps of the same size.

pub const BATCH_SIZE: usize = 32;
pub const WEIGHT_DECAY: f64 = 0.01;
/// The learning rate of q and k as a multiple of the rest.
pub const QK_LR_MULT: f64 = 1.0;
/// Global gradient-norm clip.
pub const CLIP: f64 = 1.0;
pub const SEED: u64 = 0;
/// The share of the labeled training split held out for validation.
pub const VAL_FRAC: f64 = 0.1;
