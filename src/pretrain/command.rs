//! `xray pretrain`: a new run, `--resume`, or the causal-mask ablation (two
//! decoder runs, with and without the mask), and the figures under the output root.

use super::options::PretrainOptions;
use super::run::{self, Outcome, CURVES_FIGURE};
use super::state::{curves, read_history, EvalRecord};
use crate::model::Arch;
use crate::runner::control::{Control, EXIT_INTERRUPTED};
use crate::runner::folder::{default_run_name, run_dir, FIGURES_DIR, WEIGHTS_FILE};
use crate::util::device::{select_device, DeviceArg};
use crate::viz::pretrain_curves::draw_pretrain_curves;
use anyhow::{Context, Result};
use candle_core::Device;
use std::path::{Path, PathBuf};

/// What `xray pretrain` is asked: a new run (or the causal ablation's two) or a
/// resume, under which root, and how it may be stopped.
pub struct PretrainRequest {
    pub start: PretrainStart,
    pub root: PathBuf,
    pub control: Control,
    pub device: DeviceArg,
}

pub enum PretrainStart {
    /// A new run named `name` (default: `pretrain-<dataset>-<arch>-<UTC time>`).
    New {
        opts: Box<PretrainOptions>,
        name: Option<String>,
        causal_ablation: bool,
    },
    Resume(PathBuf),
}

pub fn run(cmd: PretrainRequest) -> Result<i32> {
    let device = select_device(cmd.device)?;
    let (root, control) = (&cmd.root, &cmd.control);
    let (opts, name, causal_ablation) = match cmd.start {
        PretrainStart::Resume(dir) => return exit_code(run::resume(&dir, &device, control)?, root),
        PretrainStart::New {
            opts,
            name,
            causal_ablation,
        } => (*opts, name, causal_ablation),
    };
    let name = name.unwrap_or_else(|| {
        format!(
            "pretrain-{}",
            default_run_name(&opts.dataset.name(), opts.model.arch)
        )
    });
    if causal_ablation {
        return ablation(opts, &name, root, &device, control);
    }
    exit_code(
        run::pretrain(&opts, &run_dir(root, &name), &device, control)?,
        root,
    )
}

/// Draw figures/pretrain_curves.png for a finished run; 130 for a stopped one.
fn exit_code(outcome: Outcome, root: &Path) -> Result<i32> {
    match outcome {
        Outcome::Finished(run) => {
            let path = root.join(FIGURES_DIR).join(CURVES_FIGURE);
            std::fs::create_dir_all(root.join(FIGURES_DIR))?;
            std::fs::copy(run.join(CURVES_FIGURE), &path)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
            Ok(0)
        }
        Outcome::Interrupted(dir) => {
            eprintln!(
                "stopped; resume with: xray pretrain --resume {}",
                dir.display()
            );
            Ok(EXIT_INTERRUPTED)
        }
    }
}

/// The decoder pretrained with its causal mask and without it, same budget and
/// seed, both measured with the mask; a run already finished is reused.
fn ablation(
    opts: PretrainOptions,
    name: &str,
    root: &Path,
    device: &Device,
    control: &Control,
) -> Result<i32> {
    crate::util::usage::require(opts.model.arch == Arch::Decoder, || {
        "--causal-ablation is the decoder's lesson: add --arch decoder".into()
    })?;
    let mut runs: Vec<(String, Vec<EvalRecord>)> = Vec::new();
    for (no_mask, suffix, label) in [
        (false, "causal", "trained with the causal mask"),
        (true, "no-causal-mask", "trained without it"),
    ] {
        let dir = run_dir(root, &format!("{name}-{suffix}"));
        let history = if dir.join(WEIGHTS_FILE).is_file() {
            println!("{} is finished: reusing it", dir.display());
            read_history(&dir)?
        } else {
            let opts = PretrainOptions {
                no_causal_mask: no_mask,
                ..opts.clone()
            };
            match run::pretrain(&opts, &dir, device, control)? {
                Outcome::Finished(run) => read_history(&run)?,
                stopped => return exit_code(stopped, root),
            }
        };
        runs.push((label.into(), history));
    }
    let path = root.join(FIGURES_DIR).join("causal_lm_ablation.png");
    std::fs::create_dir_all(root.join(FIGURES_DIR))?;
    let runs: Vec<_> = runs.iter().map(|(l, h)| curves(l.clone(), h)).collect();
    draw_pretrain_curves(
        &runs,
        "next-token pretraining: the causal mask on and off in training (held out: always on)",
        &path,
    )?;
    println!("wrote {}", path.display());
    Ok(0)
}
