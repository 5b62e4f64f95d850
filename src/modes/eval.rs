//! `xray eval`: a trained run's metrics on its test or validation split, or on a
//! labelled file, printed as JSON; with `--by-length`, also on the split's texts
//! cut short (recorded in the run summaries, drawn in accuracy_by_length.png).

use crate::modes::saved_run::SavedRun;
use crate::runner::folder::FIGURES_DIR;
use crate::train::lengths::{by_length, Cut, LengthRow, LENGTHS};
use crate::util::device::{select_device, DeviceArg};
use crate::viz::length_curves::{draw_by_length, ByLength};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// What `xray eval` is asked.
pub struct EvalRequest {
    pub run: PathBuf,
    /// `test` or `val`, unless `data` names a labelled file.
    pub split: String,
    pub data: Option<PathBuf>,
    /// Also score the split's texts cut to their first k tokens and to a random
    /// k-token span, for k in LENGTHS.
    pub by_length: bool,
    /// The root of figures/ and metrics/.
    pub out: PathBuf,
    pub device: DeviceArg,
}

pub fn run(cmd: EvalRequest) -> Result<()> {
    if cmd.by_length && cmd.data.is_some() {
        bail!("--by-length cuts the run's own split: use it with --split, not --data");
    }
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
    let mut report = serde_json::json!({
        "run": saved.dir,
        "data": source,
        "examples": data.labels.len(),
        "temperature": saved.model.temperature(),
        "loss": result.loss,
        "accuracy": result.scores.accuracy,
        "macro_f1": result.scores.macro_f1,
        "confusion": result.scores.confusion,
        "per_class": result.scores.per_class,
    });
    if cmd.by_length {
        let rows = lengths(&saved, &cmd.split, &cmd.out, &device)?;
        report["by_length"] = serde_json::to_value(&rows)?;
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The split scored by length, recorded in the run summaries and drawn.
fn lengths(
    saved: &SavedRun,
    split: &str,
    out: &Path,
    device: &candle_core::Device,
) -> Result<Vec<LengthRow>> {
    let whole = saved.whole_split(split)?;
    let shape = (saved.config.max_len, saved.options.truncate);
    let rows = by_length(
        &saved.model,
        &whole,
        shape,
        saved.options.eval_batch_size,
        device,
    )?;
    let entry = serde_json::json!({
        "split": split,
        "temperature": saved.model.temperature(),
        "rows": rows,
    });
    saved.record_in_summaries(out, "by_length", &entry)?;
    let line = |cut: Cut, value: fn(&LengthRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| r.cut == cut)
            .filter_map(|r| Some((r.tokens? as f64, value(r))))
            .collect()
    };
    let full =
        |value: fn(&LengthRow) -> f64| rows.iter().find(|r| r.cut == Cut::Full).map_or(0.0, value);
    let panel = |value: fn(&LengthRow) -> f64| ByLength {
        first: line(Cut::First, value),
        span: line(Cut::Span, value),
        full: full(value),
    };
    let figures = out.join(FIGURES_DIR);
    std::fs::create_dir_all(&figures).with_context(|| format!("creating {}", figures.display()))?;
    let path = figures.join("accuracy_by_length.png");
    let ks: Vec<String> = LENGTHS.iter().map(|k| k.to_string()).collect();
    let title = format!(
        "{} {split} texts cut to k tokens (k = {}) · {} examples · temperature {:.3}",
        saved.options.dataset.name(),
        ks.join(", "),
        whole.labels.len(),
        saved.model.temperature()
    );
    draw_by_length(
        &panel(|r| r.accuracy),
        &panel(|r| r.ece),
        saved.labels.len(),
        &title,
        &path,
    )?;
    eprintln!("wrote {}", path.display());
    Ok(rows)
}
