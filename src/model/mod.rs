//! The hand-written Transformer classifier, one concept per file:
//! `config` -> `embed` -> `block` (`norm`, `attention` with its weights in `attn_fn`, `ffn`) -> `body` (what every
//! head shares) -> `pooling` -> `classifier` (or `language_model`, the pretraining head), with the masks in `mask`, dropout in
//! `dropout`, the options of one pass in `forward`, parameters in `store`, the block
//! stack's hand-written backward in `tape`. The CPU kernels underneath live in
//! `crate::kernels`.

pub mod attention;
pub mod attn_fn;
pub mod block;
pub mod body;
pub mod classifier;
pub mod config;
pub mod dropout;
pub mod embed;
pub mod ffn;
pub mod forward;
pub mod language_model;
pub mod linear;
pub mod mask;
pub mod norm;
pub mod pooling;
pub mod store;
pub mod tape;

pub use crate::kernels::AttnFn;
pub use attention::Path;
pub use body::{Body, Hidden};
pub use classifier::{Classifier, Output};
pub use config::{Activation, Arch, Config, NormKind, Pool, QkInit};
pub use dropout::Mode;
pub use forward::Forward;
pub use language_model::{LanguageModel, LmBatch};
pub use mask::{Masks, MASK_FILL};
