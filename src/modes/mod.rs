//! A finished run read back (`saved_run`), and the commands that are not a
//! training loop or the X-ray: `fetch`, `eval`, `predict`, `inspect`,
//! `profile` and `gain`, each with its plain request and its `run`.

pub mod eval;
pub mod fetch;
pub mod gain;
pub mod inspect;
pub mod predict;
pub mod profile;
pub mod saved_run;
