//! Training and evaluation: `options` (what was asked) and `data` (the splits it
//! reads) -> `run` (the loop) -> `step` (one optimizer step on an objective) with
//! `optim` (AdamW, schedule, clipping) and `checkpoint` (resume); `evaluate` and
//! `metrics` for scores, `report` for the files a run leaves behind, `command`
//! for `xray train` itself.

pub mod checkpoint;
pub mod command;
pub mod data;
pub mod evaluate;
pub mod metrics;
pub mod optim;
pub mod options;
pub mod report;
pub mod run;
pub mod step;
