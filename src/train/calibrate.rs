//! Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural
//! Networks"): one scalar T, fitted after training on the validation split to
//! minimise its negative log-likelihood. Probabilities become softmax(logits / T)
//! wherever a saved run shows them; the argmax never changes, and the logits stay
//! raw for the X-ray and the attributions.

use super::evaluate::nll;
use super::lengths::{expected_calibration_error, ECE_BINS};
use crate::runner::folder::CALIBRATION_FILE;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The fitted temperature and what it changed on the split it was fitted on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    pub temperature: f64,
    pub fitted_on: String,
    pub examples: usize,
    pub nll_before: f64,
    pub nll_after: f64,
    pub ece_before: f64,
    pub ece_after: f64,
}

/// Where the search for T runs: ln T within these bounds.
const LN_T: (f64, f64) = (-3.0, 3.0);
const GOLDEN_STEPS: usize = 60;

/// softmax(ln p / t): the probabilities of logits divided by t (ln p is the
/// logits up to a constant, which softmax ignores).
pub fn rescale(probs: &[f32], t: f64) -> Vec<f32> {
    let scaled: Vec<f64> = probs
        .iter()
        .map(|&p| (p.max(f32::MIN_POSITIVE) as f64).ln() / t)
        .collect();
    let top = scaled.iter().copied().fold(f64::MIN, f64::max);
    let exp: Vec<f64> = scaled.iter().map(|x| (x - top).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|x| (x / sum) as f32).collect()
}

fn mean_nll(probs: &[Vec<f32>], labels: &[u32], t: f64) -> f64 {
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(p, &l)| nll(&rescale(p, t), l))
        .sum();
    total / labels.len().max(1) as f64
}

/// The T that minimises the mean NLL of `probs` (golden-section search on ln T;
/// the NLL is convex in 1/T).
pub fn fit(probs: &[Vec<f32>], labels: &[u32]) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let at = |ln_t: f64| mean_nll(probs, labels, ln_t.exp());
    let (mut a, mut b) = LN_T;
    let (mut c, mut d) = (b - ratio * (b - a), a + ratio * (b - a));
    let (mut fc, mut fd) = (at(c), at(d));
    for _ in 0..GOLDEN_STEPS {
        if fc < fd {
            (b, d, fd) = (d, c, fc);
            c = b - ratio * (b - a);
            fc = at(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + ratio * (b - a);
            fd = at(d);
        }
    }
    ((a + b) / 2.0).exp()
}

impl Calibration {
    /// T fitted on `probs` (softmax of the raw logits) of the split `name`.
    pub fn fitted(name: &str, probs: &[Vec<f32>], labels: &[u32]) -> Self {
        Self::at(name, fit(probs, labels), probs, labels)
    }

    /// What temperature `t` does to `probs` of the split `name`.
    pub fn at(name: &str, t: f64, probs: &[Vec<f32>], labels: &[u32]) -> Self {
        let after: Vec<Vec<f32>> = probs.iter().map(|p| rescale(p, t)).collect();
        Calibration {
            temperature: t,
            fitted_on: name.to_string(),
            examples: labels.len(),
            nll_before: mean_nll(probs, labels, 1.0),
            nll_after: mean_nll(probs, labels, t),
            ece_before: expected_calibration_error(probs, labels, ECE_BINS),
            ece_after: expected_calibration_error(&after, labels, ECE_BINS),
        }
    }

    /// "temperature 1.23 on 2500 val texts: NLL 0.268 -> 0.262, ECE 0.021 -> 0.012".
    pub fn line(&self) -> String {
        format!(
            "temperature {:.3} on {} {} texts: NLL {:.4} -> {:.4}, ECE {:.4} -> {:.4}",
            self.temperature,
            self.examples,
            self.fitted_on,
            self.nll_before,
            self.nll_after,
            self.ece_before,
            self.ece_after
        )
    }

    pub fn write(&self, run: &Path) -> Result<()> {
        crate::util::fsutil::atomic_write(
            &run.join(CALIBRATION_FILE),
            &serde_json::to_vec_pretty(self)?,
        )
    }
}

/// The run's temperature: 1 for a run saved without one.
pub fn read_temperature(run: &Path) -> Result<f64> {
    let path = run.join(CALIBRATION_FILE);
    if !path.is_file() {
        return Ok(1.0);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let c: Calibration =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(
        c.temperature.is_finite() && c.temperature > 0.0,
        "{}: temperature {} is not a positive number; delete the file to serve uncalibrated",
        path.display(),
        c.temperature
    );
    Ok(c.temperature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,000 predictions with a logit margin of 4, right 88.08% of the time
    /// (sigmoid(4 / 2)): the temperature that calibrates them is 2.
    #[test]
    fn fit_recovers_the_temperature_of_overconfident_predictions() {
        let confident = 1.0 / (1.0 + (-4.0f64).exp());
        let p = vec![(1.0 - confident) as f32, confident as f32];
        let probs = vec![p; 1000];
        let right = (1000.0 / (1.0 + (-2.0f64).exp())).round() as usize;
        let labels: Vec<u32> = (0..1000).map(|i| u32::from(i < right)).collect();
        let c = Calibration::fitted("val", &probs, &labels);
        assert!((c.temperature - 2.0).abs() < 0.02, "{c:?}");
        assert!(
            c.nll_after < c.nll_before && c.ece_after < c.ece_before,
            "{c:?}"
        );
        // The prediction never changes, only its confidence.
        let after = rescale(&probs[0], c.temperature);
        assert!(after[1] > after[0] && after[1] < probs[0][1]);
        assert!((after.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(rescale(&probs[0], 1.0)[1], probs[0][1]);
    }

    #[test]
    fn runs_without_a_calibration_file_serve_at_temperature_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_temperature(dir.path()).unwrap(), 1.0);
        let bad = Calibration {
            temperature: -1.0,
            ..Calibration::fitted("val", &[vec![0.5, 0.5]], &[0])
        };
        bad.write(dir.path()).unwrap();
        assert!(read_temperature(dir.path()).is_err());
    }
}
