//! The memory allocator of every xray program: the binary, the tests and the
//! benches measure the same thing.

/// glibc's malloc hands big tensor buffers back to the OS after every op, and the
/// page faults that follow cost a third of a training step; mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (15 in the option enum of v2, built here, and of v3).
const MI_OPTION_PURGE_DELAY: i32 = 15;

/// mimalloc hands freed memory back to the OS 10 ms after the free, and a step
/// frees and re-allocates the same large buffers every few milliseconds, so each
/// step paid page faults and kernel page zeroing again.
/// Never purging keeps them; peak memory is unchanged. Call once, at start.
pub fn keep_freed_memory() {
    // SAFETY: a plain option setter, valid at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}
