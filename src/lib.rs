//! xray: a Transformer block written by hand on candle tensors, trained to
//! classify text, with tests that prove its masks do what they claim.

pub mod alloc;
pub mod attn;
pub mod cli;
pub mod data;
pub mod device;
pub mod eval;
pub mod faults;
pub mod fetch;
pub mod fsutil;
pub mod gain;
pub mod inference;
pub mod inspect;
pub mod kernels;
pub mod model;
pub mod predict;
pub mod pretrain;
pub mod profile;
pub mod progress;
pub mod rng;
pub mod runner;
pub mod saved_run;
pub mod train;
pub mod usage;
pub mod video;
pub mod viz;
