//! `xray pretrain`: the body learns to read from unlabeled text before it is
//! fine-tuned. `options` (what was asked) and `corpus` (the windows it reads)
//! -> `run` (the loop, on `runner::step::train_step`) with `masking` (what is
//! asked at each step) and `objective` (the loss); `command` for the CLI. What
//! fine-tuning from it bought is `xray gain` (src/modes/gain.rs).

pub mod command;
pub mod corpus;
pub mod masking;
pub mod objective;
pub mod options;
pub mod run;
pub mod state;
