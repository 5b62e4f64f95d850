//! Training and evaluation: `options` (what was asked) and `data` (the splits it
//! reads) -> `run` (epochs and validation, on the `runner` floor: the step, the
//! optimizer, the checkpoint) with `state` (where the loop stands); `evaluate`
//! and `metrics` for scores, `calibrate` for the temperature, `lengths` for short texts, `report` for the files a run leaves behind, `probe` for the heads measured at each validation point,
//! `command` for `xray train` itself.

pub mod calibrate;
pub mod command;
pub mod data;
pub mod evaluate;
pub mod lengths;
pub mod metrics;
pub mod options;
pub mod probe;
pub mod report;
pub mod run;
pub mod state;
