//! How a run is stopped and kept: Ctrl-C (or, for tests, a step count) asks it
//! to stop after the step in progress; `Every` says how often it rewrites its
//! resumable checkpoint, so a `kill -9` loses little.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The shell's convention for "stopped by Ctrl-C".
pub const EXIT_INTERRUPTED: i32 = 130;

/// A point of the training curve this often; without a terminal (a log file),
/// also a progress line instead of a bar.
pub const CURVE_EVERY_STEPS: usize = 50;

/// How a run may be stopped early, and how often it writes `last/`.
#[derive(Clone, Default)]
pub struct Control {
    pub interrupt: Arc<AtomicBool>,
    pub stop_after_steps: Option<usize>,
    pub checkpoint: Every,
}

impl Control {
    /// Ctrl-C asks the run to stop after the step in progress (a second Ctrl-C
    /// exits at once).
    pub fn with_ctrl_c(stop_after_steps: Option<usize>, checkpoint: Every) -> anyhow::Result<Self> {
        let control = Control {
            stop_after_steps,
            checkpoint,
            ..Control::default()
        };
        let flag = control.interrupt.clone();
        ctrlc::set_handler(move || {
            eprintln!(
                "\ninterrupted: saving a checkpoint after this step \
                 (Ctrl-C again to abort without saving)"
            );
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(EXIT_INTERRUPTED);
            }
        })?;
        Ok(control)
    }

    /// Whether the run should stop before taking step `step` (0-based).
    pub fn stop_before(&self, step: usize) -> bool {
        self.interrupt.load(Ordering::SeqCst) || self.stop_after_steps.is_some_and(|n| step >= n)
    }
}

/// A periodic checkpoint when either is due.
#[derive(Clone, Copy, Debug)]
pub struct Every {
    pub minutes: f64,
    pub steps: Option<usize>,
}

/// Two minutes: a checkpoint (the weights and twice their size in AdamW
/// moments, flushed to disk) takes a fraction of a second, a negligible share
/// of the time between two, and a kill loses at most two minutes.
impl Default for Every {
    fn default() -> Self {
        Self {
            minutes: 2.0,
            steps: None,
        }
    }
}
