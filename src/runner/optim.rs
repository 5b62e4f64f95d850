//! AdamW with state we own (candle_nn's keeps its moments private, so it cannot
//! be saved for an exact resume), the learning-rate schedule, and gradient clipping.

use super::grads::{Grad, Gradients};
use crate::kernels::adamw::{Moment, RowMoment, Step};
use anyhow::{Context, Result};
use candle_core::{Tensor, Var};
use std::collections::HashMap;
use std::path::Path;

pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// The learning rate of the q and k projections, as a multiple of the rest:
    /// they alone decide where attention looks (docs/attention-recipes.md).
    pub qk_lr_mult: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            qk_lr_mult: 1.0,
        }
    }
}

struct Param {
    name: String,
    var: Var,
    m: Var,
    v: Var,
    decay: bool,
    /// Its learning rate as a multiple of the schedule's.
    lr_mult: f64,
}

pub struct AdamW {
    params: Vec<Param>,
    config: AdamWConfig,
    pub step: usize,
}

/// Decay only matrices that multiply activations: norms, biases and embeddings are
/// left alone (decaying an embedding row shrinks rare tokens just for being rare).
fn decays(name: &str) -> bool {
    name.ends_with(".weight") && !name.contains("norm") && !name.contains("emb")
}

/// The query and key projections of every attention layer (`...attn.q.weight`).
fn is_qk(name: &str) -> bool {
    name.contains("attn.q.") || name.contains("attn.k.")
}

impl AdamW {
    /// One parameter group per named variable, in name order (stable across runs).
    pub fn new(vars: &HashMap<String, Var>, config: AdamWConfig) -> Result<Self> {
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        let params = names
            .into_iter()
            .map(|name| {
                let var = vars[name].clone();
                let zeros = || Var::zeros(var.shape(), var.dtype(), var.device());
                Ok(Param {
                    name: name.clone(),
                    m: zeros()?,
                    v: zeros()?,
                    decay: decays(name),
                    lr_mult: if is_qk(name) { config.qk_lr_mult } else { 1.0 },
                    var,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            params,
            config,
            step: 0,
        })
    }

    /// Scale all gradients so their global L2 norm is at most `max_norm`; returns the norm before.
    pub fn clip_grad_norm(&self, grads: &mut Gradients, max_norm: f64) -> Result<f64> {
        let mut total = 0f64;
        for p in &self.params {
            // A table's zero rows add nothing (and D a multiple of 32 keeps
            // candle's 32 partial sums, so even the rounding is the dense sum's).
            let g = match grads.get(p.var.as_tensor()) {
                Some(Grad::Dense(g)) => g,
                Some(Grad::Rows(r)) => &r.rows,
                None => continue,
            };
            total += g
                .sqr()?
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()?;
        }
        let norm = total.sqrt();
        if norm > max_norm {
            let scale = max_norm / (norm + 1e-6);
            for p in &self.params {
                grads.scale(p.var.as_tensor(), scale)?;
            }
        }
        Ok(norm)
    }

    /// One update with the given learning rate (the schedule lives with the caller).
    pub fn update(&mut self, grads: &Gradients, lr: f64) -> Result<()> {
        self.step += 1;
        let c = &self.config;
        let t = self.step as i32;
        let (correct1, correct2) = (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t));
        for p in &self.params {
            let Some(g) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let decay = if p.decay { c.weight_decay } else { 0.0 };
            let lr = lr * p.lr_mult;
            if !crate::kernels::fused(p.var.as_tensor()) {
                let g = grads
                    .dense(p.var.as_tensor())?
                    .context("gradient vanished")?;
                update_composed(p, &g, lr, decay, (correct1, correct2), c)?;
                continue;
            }
            for (moment, beta, square) in [(&p.m, c.beta1, false), (&p.v, c.beta2, true)] {
                let beta = beta as f32;
                match g {
                    Grad::Dense(g) => moment
                        .as_tensor()
                        .inplace_op2(&g.contiguous()?, &Moment { beta, square })?,
                    Grad::Rows(r) => moment.as_tensor().inplace_op2(
                        &r.rows.contiguous()?,
                        &RowMoment {
                            beta,
                            square,
                            ids: &r.ids,
                        },
                    )?,
                }
            }
            let step = Step {
                lr: lr as f32,
                decay: decay as f32,
                correct1: correct1 as f32,
                correct2: correct2 as f32,
                eps: c.eps as f32,
            };
            p.var
                .as_tensor()
                .inplace_op3(p.m.as_tensor(), p.v.as_tensor(), &step)?;
        }
        Ok(())
    }

    /// The moments as named tensors (`m.<param>`, `v.<param>`), for the checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        self.params
            .iter()
            .flat_map(|p| {
                [
                    (format!("m.{}", p.name), p.m.as_tensor().clone()),
                    (format!("v.{}", p.name), p.v.as_tensor().clone()),
                ]
            })
            .collect()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let tensors = self.state_tensors();
        crate::model::store::save_tensors(tensors.iter().map(|(n, t)| (n.as_str(), t)), path)
    }

    pub fn load(&mut self, path: &Path, step: usize) -> Result<()> {
        let file = unsafe { candle_core::safetensors::MmapedSafetensors::new(path) }
            .with_context(|| format!("opening {}", path.display()))?;
        for p in &self.params {
            for (prefix, var) in [("m", &p.m), ("v", &p.v)] {
                let name = format!("{prefix}.{}", p.name);
                let t = file
                    .load(&name, var.device())
                    .with_context(|| format!("{name} missing from {}", path.display()))?;
                var.set(&t)?;
            }
        }
        self.step = step;
        Ok(())
    }
}

/// The same update from tensor ops, for devices without the CPU kernels.
fn update_composed(
    p: &Param,
    g: &Tensor,
    lr: f64,
    decay: f64,
    (correct1, correct2): (f64, f64),
    c: &AdamWConfig,
) -> Result<()> {
    let m = ((p.m.as_tensor() * c.beta1)? + (g * (1.0 - c.beta1))?)?;
    let v = ((p.v.as_tensor() * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
    let step = ((&m / correct1)? / ((&v / correct2)?.sqrt()? + c.eps)?)?;
    let decayed = (p.var.as_tensor() * (1.0 - lr * decay))?;
    p.var.set(&(decayed - (step * lr)?)?)?;
    p.m.set(&m)?;
    p.v.set(&v)?;
    Ok(())
}

/// A run's learning-rate schedule: `learning_rate` with the run's numbers.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub peak: f64,
    pub warmup: usize,
    pub total: usize,
}

impl Schedule {
    /// Warmup over `warmup_frac` of `total` steps.
    pub fn new(peak: f64, warmup_frac: f64, total: usize) -> Self {
        Self {
            peak,
            warmup: (warmup_frac * total as f64).round() as usize,
            total,
        }
    }

    pub fn lr(&self, step: usize) -> f64 {
        learning_rate(step, self.warmup, self.total, self.peak)
    }
}

/// Linear warmup to `peak` over `warmup` steps, then linear decay to 0 at `total`
/// (HF's get_linear_schedule_with_warmup, as the PyTorch peer).
pub fn learning_rate(step: usize, warmup: usize, total: usize, peak: f64) -> f64 {
    if step < warmup {
        peak * step as f64 / warmup.max(1) as f64
    } else {
        peak * (total.saturating_sub(step)) as f64 / (total - warmup).max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        assert_eq!(learning_rate(0, 10, 110, 1.0), 0.0);
        assert!((learning_rate(5, 10, 110, 1.0) - 0.5).abs() < 1e-12);
        assert!((learning_rate(10, 10, 110, 1.0) - 1.0).abs() < 1e-12);
        assert!((learning_rate(60, 10, 110, 1.0) - 0.5).abs() < 1e-12);
        assert_eq!(learning_rate(110, 10, 110, 1.0), 0.0);
    }

    #[test]
    fn cpu_kernels_match_the_composed_update() {
        let mut rng = crate::util::rng::Rng::new(5);
        let mut random = |n: usize| (0..n).map(|_| rng.normal() as f32).collect::<Vec<f32>>();
        let dev = candle_core::Device::Cpu;
        let (w0, g0) = (random(64), random(64));
        let run = |fused: bool| {
            let w = Var::from_tensor(&Tensor::from_vec(w0.clone(), (8, 8), &dev).unwrap()).unwrap();
            let vars = HashMap::from([("blocks.0.ffn.up.weight".to_string(), w.clone())]);
            let mut opt = AdamW::new(&vars, AdamWConfig::default()).unwrap();
            let g = Tensor::from_vec(g0.clone(), (8, 8), &dev).unwrap();
            for _ in 0..3 {
                let loss = (w.as_tensor() * &g).unwrap().sum_all().unwrap();
                if fused {
                    opt.update(&Gradients::backward(&loss, None, None).unwrap(), 0.01)
                        .unwrap();
                } else {
                    opt.step += 1;
                    let t = opt.step as i32;
                    let c = &opt.config;
                    let corrections = (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t));
                    update_composed(&opt.params[0], &g, 0.01, c.weight_decay, corrections, c)
                        .unwrap();
                }
            }
            w.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let (fused, composed) = (run(true), run(false));
        assert!(
            fused
                .iter()
                .zip(&composed)
                .all(|(a, b)| (a - b).abs() < 1e-6),
            "{fused:?} vs {composed:?}"
        );
        assert!(fused.iter().zip(&w0).any(|(a, b)| a != b), "nothing moved");
    }

    /// AdamW's first step moves a weight by about lr against its gradient's
    /// sign: with --qk-lr-mult 3, q and k move 3x as far as v and o.
    #[test]
    fn the_qk_multiple_scales_only_the_query_and_key_steps() {
        let dev = candle_core::Device::Cpu;
        let names = [
            "blocks.0.attn.q.weight",
            "blocks.0.attn.k.weight",
            "blocks.0.attn.v.weight",
            "blocks.0.attn.o.weight",
        ];
        let vars: HashMap<String, Var> = names
            .iter()
            .map(|n| (n.to_string(), Var::zeros((2, 2), DType::F32, &dev).unwrap()))
            .collect();
        let config = AdamWConfig {
            weight_decay: 0.0,
            qk_lr_mult: 3.0,
            ..AdamWConfig::default()
        };
        let mut opt = AdamW::new(&vars, config).unwrap();
        let loss = names
            .iter()
            .map(|n| vars[*n].as_tensor().sum_all().unwrap())
            .reduce(|a, b| (a + b).unwrap())
            .unwrap();
        opt.update(&Gradients::backward(&loss, None, None).unwrap(), 0.01)
            .unwrap();
        let moved = |n: &str| -> f32 {
            vars[n]
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()[0]
        };
        for (name, expected) in names.iter().zip([-0.03, -0.03, -0.01, -0.01]) {
            assert!(
                (moved(name) - expected).abs() < 1e-5,
                "{name}: {}",
                moved(name)
            );
        }
    }

    #[test]
    fn adamw_first_step_moves_each_weight_by_lr_against_its_gradient() {
        let w = Var::new(&[1.0f32, -2.0], &candle_core::Device::Cpu).unwrap();
        let vars = HashMap::from([("head.bias".to_string(), w.clone())]);
        let mut opt = AdamW::new(&vars, AdamWConfig::default()).unwrap();
        let loss = (w.as_tensor() * 3.0).unwrap().sum_all().unwrap(); // gradient +3 everywhere
        opt.update(&Gradients::backward(&loss, None, None).unwrap(), 0.1)
            .unwrap();
        // Bias-corrected Adam's first step is lr * sign(g); biases are not decayed.
        let got: Vec<f32> = w.as_tensor().to_vec1().unwrap();
        assert!(
            (got[0] - 0.9).abs() < 1e-6 && (got[1] + 2.1).abs() < 1e-6,
            "{got:?}"
        );
    }
}
