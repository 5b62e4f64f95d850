//! Fault injection for the crash tests. With `XRAY_CRASH_AT=N` in the
//! environment the process kills itself with SIGKILL at its N-th crash point:
//! after each training step and between the file operations of a checkpoint, so
//! a test can stop a run at exactly the moments a real `kill -9` or power loss
//! might, including half-way through writing `last/`. Unset, it costs one
//! relaxed load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

static PASSED: AtomicUsize = AtomicUsize::new(0);

fn target() -> Option<usize> {
    static TARGET: OnceLock<Option<usize>> = OnceLock::new();
    *TARGET.get_or_init(|| std::env::var("XRAY_CRASH_AT").ok()?.parse().ok())
}

/// One crash point passed.
pub fn point() {
    if let Some(n) = target() {
        if PASSED.fetch_add(1, Ordering::Relaxed) + 1 == n {
            // SIGKILL cannot be caught: no destructor, no flush, as in the real thing.
            // SAFETY: kill(2) on our own pid with a valid signal number.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
    }
}
