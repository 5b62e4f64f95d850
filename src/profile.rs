//! `xray profile`: the brief's speed protocol (eval mode, random ids, all-ones
//! mask, warm-up steps, then timed forward passes), printed as JSON.

use crate::device::{device_name, peak_rss_gb};
use crate::model::{store, Classifier, Config, Mode};
use crate::rng::Rng;
use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

const WARMUP_STEPS: usize = 5;

pub struct ProfileArgs {
    pub seq_len: usize,
    pub batch_size: usize,
    pub steps: usize,
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

/// The trained model of a run folder, or a freshly initialised default one.
pub fn model_for_profile(
    run: Option<&Path>,
    device: &Device,
) -> Result<(Classifier, Config, usize)> {
    match run {
        Some(dir) => {
            let (model, varmap, config) = store::load_model(dir, device)?;
            Ok((model, config, store::param_count(&varmap)))
        }
        None => {
            let config = Config::default();
            let (model, varmap) = store::init_model(&config, 0, DType::F32, device)?;
            Ok((model, config, store::param_count(&varmap)))
        }
    }
}

pub fn profile_forward(
    model: &Classifier,
    config: &Config,
    params: usize,
    args: &ProfileArgs,
    device: &Device,
) -> Result<ProfileReport> {
    anyhow::ensure!(
        args.seq_len <= config.max_len,
        "--seq-len {} exceeds the model's max_len {}",
        args.seq_len,
        config.max_len
    );
    let (b, l) = (args.batch_size, args.seq_len);
    let mut rng = Rng::new(0);
    let ids: Vec<u32> = (0..b * l)
        .map(|_| rng.below(config.vocab_size) as u32)
        .collect();
    let input_ids = Tensor::from_vec(ids, (b, l), device)?;
    let attention_mask = Tensor::ones((b, l), DType::U32, device)?;
    let step = || -> Result<()> {
        let out = model.forward(
            &input_ids,
            &attention_mask,
            model.masks(),
            false,
            &mut Mode::Eval,
        )?;
        out.logits.to_vec2::<f32>()?; // waits for the device
        Ok(())
    };
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
        params_m: params as f64 / 1e6,
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
