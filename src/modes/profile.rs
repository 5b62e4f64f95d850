//! `xray profile`: the brief's speed protocol (eval mode, random ids, all-ones
//! mask, warm-up steps, then timed steps), printed as JSON; `--train` times whole
//! training steps instead, `--sweep` several sequence lengths.

use crate::data::collate::Batch;
use crate::model::{store, Classifier, Config};
use crate::runner::folder::{FIGURES_DIR, METRICS_DIR};
use crate::runner::optim::{AdamW, AdamWConfig};
use crate::runner::step::{train_step, StepConfig};
use crate::train::options::TrainOptions;
use crate::util::device::{device_name, peak_rss_gb, select_device, DeviceArg};
use crate::util::rng::Rng;
use crate::viz::sweep::{draw_sweep, SweepPoint};
use anyhow::{ensure, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

const WARMUP_STEPS: usize = 5;
/// Training steps pad the last 30% of every row, as real batches are padded.
pub const TRAIN_PAD_FRAC: f64 = 0.3;

#[derive(Clone, Copy)]
pub struct ProfileArgs {
    pub seq_len: usize,
    pub batch_size: usize,
    pub steps: usize,
    pub train: bool,
}

/// The brief's protocol: batch 16 of 256 tokens, 50 timed steps.
impl Default for ProfileArgs {
    fn default() -> Self {
        Self {
            seq_len: 256,
            batch_size: 16,
            steps: 50,
            train: false,
        }
    }
}

/// What `xray profile` was asked, checked by the command line.
pub struct ProfileRequest {
    /// The run whose model to time; None: a freshly initialised default model.
    pub run: Option<PathBuf>,
    /// seq_len is replaced by each of `sweep`'s lengths when there are any.
    pub args: ProfileArgs,
    pub sweep: Vec<usize>,
    pub amp: bool,
    /// The root whose metrics/ and figures/ a sweep writes into.
    pub out: PathBuf,
    pub device: DeviceArg,
}

/// `xray profile`: one report per sequence length; a sweep also draws its figure.
pub fn run(req: ProfileRequest) -> Result<()> {
    ensure!(
        !req.amp,
        "--amp: mixed precision is not implemented yet; profile in f32 without --amp"
    );
    let device = select_device(req.device)?;
    let longest = req.sweep.iter().copied().max().unwrap_or(req.args.seq_len);
    let (model, varmap, config) = model_for_profile(req.run.as_deref(), longest, &device)?;
    let lengths = if req.sweep.is_empty() {
        vec![req.args.seq_len]
    } else {
        req.sweep.clone()
    };
    let mut reports = Vec::new();
    for seq_len in lengths {
        let args = ProfileArgs {
            seq_len,
            ..req.args
        };
        let report = profile(&model, &varmap, &config, &args, &device)?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        reports.push(report);
    }
    if !req.sweep.is_empty() {
        let out = &req.out;
        let json = out.join(METRICS_DIR).join("profile_sweep.json");
        crate::util::fsutil::atomic_write(&json, &serde_json::to_vec_pretty(&reports)?)?;
        let png = out.join(FIGURES_DIR).join("profile_seq_len.png");
        std::fs::create_dir_all(out.join(FIGURES_DIR))?;
        let points: Vec<SweepPoint> = reports
            .iter()
            .map(|r| SweepPoint {
                seq_len: r.seq_len,
                tokens_per_s: r.tokens_per_s,
                peak_mem_gb: r.peak_mem_gb,
            })
            .collect();
        draw_sweep(&points, req.args.batch_size, req.args.train, &png)?;
        eprintln!("wrote {} and {}", json.display(), png.display());
    }
    Ok(())
}

/// Exactly the brief's keys.
#[derive(Debug, Serialize)]
pub struct ProfileReport {
    pub device: String,
    pub params_m: f64,
    pub seq_len: usize,
    pub batch_size: usize,
    pub steps: usize,
    pub elapsed_s: f64,
    pub tokens: usize,
    pub tokens_per_s: f64,
    pub peak_mem_gb: f64,
    pub amp: bool,
}

/// A run folder's trained model, or a freshly initialised default one whose
/// positional table covers `longest`.
pub fn model_for_profile(
    run: Option<&Path>,
    longest: usize,
    device: &Device,
) -> Result<(Classifier, VarMap, Config)> {
    match run {
        Some(dir) => {
            crate::train::state::check_finished(dir)?;
            store::load_model(dir, device)
        }
        None => {
            let config = Config {
                max_len: longest.max(Config::default().max_len),
                ..Config::default()
            };
            let (model, varmap) = store::init_model(&config, 0, DType::F32, device)?;
            Ok((model, varmap, config))
        }
    }
}

/// Random ids and labels; with `pad_frac`, the last share of every row is [PAD]
/// with mask 0. The benches time the same batches.
pub fn random_batch(
    config: &Config,
    b: usize,
    l: usize,
    pad_frac: f64,
    device: &Device,
) -> Result<Batch> {
    let mut rng = Rng::new(0);
    let real = l - (l as f64 * pad_frac).round() as usize;
    let ids: Vec<u32> = (0..b * l)
        .map(|k| {
            if k % l < real {
                rng.below(config.vocab_size) as u32
            } else {
                0
            }
        })
        .collect();
    let mask: Vec<u32> = (0..b * l).map(|k| u32::from(k % l < real)).collect();
    let labels: Vec<u32> = (0..b).map(|_| rng.below(config.n_classes) as u32).collect();
    Ok(Batch {
        input_ids: Tensor::from_vec(ids, (b, l), device)?,
        attention_mask: Tensor::from_vec(mask, (b, l), device)?,
        labels: Tensor::from_vec(labels, b, device)?,
        real_tokens: b * real,
    })
}

/// Peak RSS counts from here on (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn profile(
    model: &Classifier,
    varmap: &VarMap,
    config: &Config,
    args: &ProfileArgs,
    device: &Device,
) -> Result<ProfileReport> {
    ensure!(
        args.seq_len <= config.max_len,
        "--seq-len {} exceeds the model's max_len {}",
        args.seq_len,
        config.max_len
    );
    let (b, l) = (args.batch_size, args.seq_len);
    let pad_frac = if args.train { TRAIN_PAD_FRAC } else { 0.0 };
    let batch = random_batch(config, b, l, pad_frac, device)?;
    let vars = varmap.data().lock().expect("VarMap lock poisoned").clone();
    let mut optimizer = AdamW::new(&vars, AdamWConfig::default())?;
    let step_config = StepConfig {
        lr: TrainOptions::default().lr,
        clip: TrainOptions::default().clip,
    };
    let mut rng = Rng::new(1);
    // Inference as eval and predict run it: on detached weights, no graph.
    let inference = store::detached_model(varmap, config, device)?;
    let mut step = || -> Result<()> {
        if args.train {
            train_step(model, &mut optimizer, &batch, step_config, &mut rng)?;
        } else {
            let logits = inference.logits(&batch.input_ids, &batch.attention_mask)?;
            logits.to_vec2::<f32>()?; // waits for the device
        }
        Ok(())
    };
    reset_peak_memory();
    for _ in 0..WARMUP_STEPS {
        step()?;
    }
    let start = Instant::now();
    for _ in 0..args.steps {
        step()?;
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    let tokens = b * l * args.steps;
    Ok(ProfileReport {
        device: device_name(device),
        params_m: store::param_count(varmap) as f64 / 1e6,
        seq_len: l,
        batch_size: b,
        steps: args.steps,
        elapsed_s,
        tokens,
        tokens_per_s: tokens as f64 / elapsed_s,
        peak_mem_gb: peak_rss_gb(),
        amp: false,
    })
}
