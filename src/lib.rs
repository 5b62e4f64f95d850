//! xray: a Transformer block written by hand on candle tensors, trained to
//! classify text, with tests that prove its masks do what they claim.
//!
//! The modules from the bottom floor up: each imports only from the floors
//! below it, and every floor may use `util`.

// Small utilities: memory, devices, durable files, progress, seeds, usage errors.
pub mod util;

// The model and the engine that runs it fast.
pub mod kernels;
pub mod model;

// Data in: fetching, tables, tokenizing, batching.
pub mod data;

// The floor both training loops stand on, and the two loops.
pub mod pretrain;
pub mod runner;
pub mod train;

// A finished run read back, and the commands that serve it.
pub mod modes;

// The X-ray: attention, attributions and faithfulness; figures of plain series; the video.
pub mod attn;
pub mod video;
pub mod viz;

// The command line.
pub mod cli;
