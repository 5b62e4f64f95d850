//! `xray gain`: what pretraining bought. For fine-tuned runs (and runs from
//! scratch, at 0 tokens) it reads each run's summary and the pretraining tokens
//! its body had seen, prints a markdown table, and draws figures/pretrain_gain.png.

use crate::model::Arch;
use crate::pretrain::state::read_history;
use crate::runner::folder::{FIGURES_DIR, RUN_SUMMARY_FILE};
use crate::viz::gain_curves::{draw_gain, GainLine};
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One fine-tuned (or from-scratch) classifier.
#[derive(Clone, Debug)]
pub struct GainRow {
    pub run: PathBuf,
    pub arch: Arch,
    /// Real tokens its body was pretrained on; 0 from scratch.
    pub tokens: usize,
    pub test_accuracy: f64,
    pub test_f1: f64,
    pub wall_time_s: f64,
}

/// The fields of run_summary.json this needs, and only those: summaries written
/// by earlier versions (the committed pretrained runs') still count.
#[derive(Deserialize)]
struct Summary {
    options: Options,
    test_accuracy: f64,
    test_f1: f64,
    wall_time_s: f64,
}

#[derive(Deserialize)]
struct Options {
    model: Model,
    #[serde(default)]
    init: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Model {
    arch: Arch,
}

pub fn read_row(run: &Path) -> Result<GainRow> {
    let path = run.join(RUN_SUMMARY_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}: is {} a finished training run?",
            path.display(),
            run.display()
        )
    })?;
    let summary: Summary =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let tokens = match &summary.options.init {
        None => 0,
        Some(dir) => read_history(dir)
            .with_context(|| format!("the pretraining run {} of {}", dir.display(), run.display()))?
            .last()
            .map_or(0, |r| r.tokens),
    };
    Ok(GainRow {
        run: run.to_path_buf(),
        arch: summary.options.model.arch,
        tokens,
        test_accuracy: summary.test_accuracy,
        test_f1: summary.test_f1,
        wall_time_s: summary.wall_time_s,
    })
}

pub fn run(runs: &[PathBuf], root: &Path) -> Result<()> {
    let mut rows = runs
        .iter()
        .map(|r| read_row(r))
        .collect::<Result<Vec<_>>>()?;
    rows.sort_by_key(|r| (r.arch as u8, r.tokens));
    println!("| arch | pretraining tokens | test acc | test macro F1 | fine-tuning wall | run |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| {:?} | {:.1}M | {:.4} | {:.4} | {:.1} min | {} |",
            r.arch,
            r.tokens as f64 / 1e6,
            r.test_accuracy,
            r.test_f1,
            r.wall_time_s / 60.0,
            r.run.display()
        );
    }
    let figures = root.join(FIGURES_DIR);
    std::fs::create_dir_all(&figures).with_context(|| format!("creating {}", figures.display()))?;
    let path = figures.join("pretrain_gain.png");
    let lines: Vec<GainLine> = [Arch::Encoder, Arch::Decoder]
        .into_iter()
        .map(|arch| {
            let points = rows
                .iter()
                .filter(|r| r.arch == arch)
                .map(|r| (r.tokens as f64 / 1e6, r.test_accuracy))
                .collect();
            (format!("{arch:?}").to_lowercase(), points)
        })
        .collect();
    draw_gain(&lines, &path)?;
    println!("wrote {}", path.display());
    Ok(())
}
