//! Training and evaluation: `options` (what was asked) -> `run` (the loop) with
//! `optim` (AdamW, schedule, clipping) and `checkpoint` (resume), `evaluate` and
//! `metrics` for scores, `report` for the files a run leaves behind.

mod adamw_cpu;
pub mod checkpoint;
pub mod evaluate;
pub mod metrics;
pub mod optim;
pub mod options;
pub mod report;
pub mod run;
