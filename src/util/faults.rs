//! Fault injection for the crash tests. With `XRAY_CRASH_AT` in the environment
//! the process kills itself with SIGKILL at one of its crash points: after each
//! training step, between the file operations of a write, right after the best
//! weights are saved, and inside the final evaluation, so a test can stop a run
//! at exactly the moments a real `kill -9` or power loss might, including
//! half-way through writing `last/`. Unset, a point costs one relaxed load.
//!
//! - `XRAY_CRASH_AT=N`: at the N-th point of any kind;
//! - `XRAY_CRASH_AT=KIND:N`: at the N-th point of one kind (`step`, `write`,
//!   `best`, `final`): `step:12` is after step 12 on any CPU, however fast.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// What a crash point follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A training step, its bookkeeping done.
    Step,
    /// One file operation of a write (a file flushed, a folder renamed).
    Write,
    /// The best weights so far, written.
    Best,
    /// A batch of the final validation and test passes.
    Final,
}

impl Fault {
    const ALL: [Fault; 4] = [Fault::Step, Fault::Write, Fault::Best, Fault::Final];

    fn name(self) -> &'static str {
        match self {
            Fault::Step => "step",
            Fault::Write => "write",
            Fault::Best => "best",
            Fault::Final => "final",
        }
    }
}

/// The point to crash at: the N-th of one kind, or of all kinds (None).
type Target = (Option<Fault>, usize);

/// Points passed so far: of each kind (by its discriminant), then of all.
static PASSED: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];

fn parse(spec: &str) -> Option<Target> {
    match spec.split_once(':') {
        None => Some((None, spec.parse().ok()?)),
        Some((kind, n)) => {
            let kind = Fault::ALL.into_iter().find(|k| k.name() == kind)?;
            Some((Some(kind), n.parse().ok()?))
        }
    }
}

fn target() -> Option<Target> {
    static TARGET: OnceLock<Option<Target>> = OnceLock::new();
    *TARGET.get_or_init(|| {
        let spec = std::env::var("XRAY_CRASH_AT").ok()?;
        let target = parse(&spec);
        if target.is_none() {
            eprintln!("warning: XRAY_CRASH_AT={spec:?} is neither N nor KIND:N; ignored");
        }
        target
    })
}

/// One crash point of `kind` passed.
pub fn point(kind: Fault) {
    let Some((want, n)) = target() else {
        return;
    };
    let slot = match want {
        Some(w) if w != kind => return,
        Some(_) => kind as usize,
        None => Fault::ALL.len(),
    };
    if PASSED[slot].fetch_add(1, Ordering::Relaxed) + 1 == n {
        // SIGKILL cannot be caught: no destructor, no flush, as in the real thing.
        // SAFETY: kill(2) on our own pid with a valid signal number.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_a_count_or_a_kind_and_a_count() {
        assert_eq!(parse("12"), Some((None, 12)));
        assert_eq!(parse("step:3"), Some((Some(Fault::Step), 3)));
        assert_eq!(parse("final:1"), Some((Some(Fault::Final), 1)));
        assert_eq!(parse("stepp:3"), None);
        assert_eq!(parse("step:x"), None);
    }
}
