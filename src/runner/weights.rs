//! The weights a run trains, with their optimizer and their checkpoint timer:
//! what both loops set up the same way and save the same way.

use super::checkpoint::{load_checkpoint, save_checkpoint, Resumable};
use super::control::Every;
use super::optim::{AdamW, AdamWConfig};
use anyhow::Result;
use candle_nn::VarMap;
use std::path::Path;
use std::time::Instant;

pub struct Weights {
    pub varmap: VarMap,
    pub optimizer: AdamW,
    /// When `last/` was last written (or the run started), and at which step.
    saved: (Instant, usize),
}

impl Weights {
    /// AdamW over every variable of `varmap` (decay as `AdamW` decides per tensor).
    pub fn new(varmap: VarMap, config: AdamWConfig) -> Result<Self> {
        let vars = varmap.data().lock().expect("VarMap lock poisoned").clone();
        Ok(Self {
            optimizer: AdamW::new(&vars, config)?,
            varmap,
            saved: (Instant::now(), 0),
        })
    }

    /// Weights and moments from the run's checkpoint; returns its loop state.
    pub fn resume<S: Resumable>(&mut self, run: &Path) -> Result<S> {
        let state: S = load_checkpoint(run, &self.varmap, &mut self.optimizer)?;
        self.saved.1 = state.step();
        Ok(state)
    }

    pub fn checkpoint_due(&self, every: Every, step: usize) -> bool {
        let (at, saved_step) = self.saved;
        at.elapsed().as_secs_f64() >= every.minutes * 60.0
            || every.steps.is_some_and(|n| step >= saved_step + n)
    }

    /// `last/`: the weights, the moments and the loop's state, together.
    pub fn save_last(&mut self, run: &Path, state: &impl Resumable) -> Result<()> {
        save_checkpoint(run, &self.varmap, &self.optimizer, state)?;
        self.saved = (Instant::now(), state.step());
        Ok(())
    }
}
