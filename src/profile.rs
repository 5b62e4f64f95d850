//! `xray profile`: the brief's speed protocol (eval mode, random ids, all-ones
//! mask, warm-up steps, then timed steps), printed as JSON; `--train` times whole
//! training steps instead, `--sweep` several sequence lengths.

use crate::device::{device_name, peak_rss_gb};
use crate::model::{store, Classifier, Config, Mode};
use crate::rng::Rng;
use crate::train::optim::{AdamW, AdamWConfig};
use anyhow::{ensure, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

const WARMUP_STEPS: usize = 5;
/// Training steps pad the last 30% of every row, as real batches are padded.
pub const TRAIN_PAD_FRAC: f64 = 0.3;

pub struct ProfileArgs {
    pub seq_len: usize,
    pub batch_size: usize,
    pub steps: usize,
    pub train: bool,
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
        Some(dir) => store::load_model(dir, device),
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

/// Random ids; with `pad_frac`, the last share of every row is [PAD] with mask 0.
fn random_batch(
    config: &Config,
    b: usize,
    l: usize,
    pad_frac: f64,
    device: &Device,
) -> Result<(Tensor, Tensor, Tensor)> {
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
    Ok((
        Tensor::from_vec(ids, (b, l), device)?,
        Tensor::from_vec(mask, (b, l), device)?,
        Tensor::from_vec(labels, b, device)?,
    ))
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
    let (input_ids, attention_mask, labels) = random_batch(config, b, l, pad_frac, device)?;
    let vars = varmap.data().lock().expect("VarMap lock poisoned").clone();
    let mut optimizer = AdamW::new(&vars, AdamWConfig::default())?;
    let mut rng = Rng::new(1);
    let mut step = || -> Result<()> {
        if args.train {
            let out = model.forward(
                &input_ids,
                &attention_mask,
                model.masks(),
                false,
                &mut Mode::Train(&mut rng),
            )?;
            let loss = candle_nn::loss::cross_entropy(&out.logits, &labels)?;
            let mut grads = loss.backward()?;
            optimizer.clip_grad_norm(&mut grads, 1.0)?;
            optimizer.update(&grads, 1e-4)?;
        } else {
            let out = model.forward(
                &input_ids,
                &attention_mask,
                model.masks(),
                false,
                &mut Mode::Eval,
            )?;
            out.logits.to_vec2::<f32>()?; // waits for the device
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
