//! `xray predict`: classify texts with a trained run, as a table or JSON lines.

use crate::modes::saved_run::SavedRun;
use crate::runner::inference::argmax;
use crate::util::device::{select_device, DeviceArg};
use anyhow::Result;
use std::path::PathBuf;

/// What `xray predict` is asked.
pub struct PredictRequest {
    pub run: PathBuf,
    pub texts: Vec<String>,
    /// One JSON object per text instead of a table.
    pub json: bool,
    pub device: DeviceArg,
}

/// Texts longer than this are cut in the table.
const EXCERPT: usize = 70;

pub fn run(cmd: PredictRequest) -> Result<()> {
    let device = select_device(cmd.device)?;
    let saved = SavedRun::open(&cmd.run, &device)?;
    let probs = saved.predict(&cmd.texts, &device)?;
    for (text, p) in cmd.texts.iter().zip(&probs) {
        let best = argmax(p);
        let (label, prob) = (&saved.labels[best], p[best]);
        if cmd.json {
            let all: serde_json::Map<String, serde_json::Value> = saved
                .labels
                .iter()
                .zip(p)
                .map(|(l, &x)| (l.clone(), serde_json::json!(x)))
                .collect();
            let line = serde_json::json!({
                "text": text, "label": label, "probability": prob, "probabilities": all,
                "temperature": saved.model.temperature()
            });
            println!("{line}");
        } else {
            let excerpt: String = text.chars().take(EXCERPT).collect();
            let cut = if text.chars().count() > EXCERPT {
                "…"
            } else {
                ""
            };
            println!("{label:>10}  {prob:.3}  {excerpt}{cut}");
        }
    }
    Ok(())
}
