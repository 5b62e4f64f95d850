//! `xray eval`: a trained run's metrics on its test or validation split, or on a
//! labelled file, printed as JSON.

use crate::device::{select_device, DeviceArg};
use crate::saved_run::SavedRun;
use anyhow::Result;
use std::path::PathBuf;

/// What `xray eval` is asked.
pub struct EvalRequest {
    pub run: PathBuf,
    /// `test` or `val`, unless `data` names a labelled file.
    pub split: String,
    pub data: Option<PathBuf>,
    pub device: DeviceArg,
}

pub fn run(cmd: EvalRequest) -> Result<()> {
    let device = select_device(cmd.device)?;
    let saved = SavedRun::open(&cmd.run, &device)?;
    let data = match &cmd.data {
        Some(path) => saved.file(path)?,
        None => saved.split(&cmd.split)?,
    };
    let result = saved.evaluate(&data, &device)?;
    let source = cmd
        .data
        .as_ref()
        .map_or(cmd.split.clone(), |p| p.display().to_string());
    let report = serde_json::json!({
        "run": saved.dir,
        "data": source,
        "examples": data.labels.len(),
        "loss": result.loss,
        "accuracy": result.scores.accuracy,
        "macro_f1": result.scores.macro_f1,
        "confusion": result.scores.confusion,
        "per_class": result.scores.per_class,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
