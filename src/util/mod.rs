//! Small utilities every floor uses: the allocator's setting (`alloc`), the
//! device and its memory (`device`), fault points for the crash tests
//! (`faults`), durable file writes (`fsutil`), progress bars (`progress`), the
//! seeded generator (`rng`) and usage errors (`usage`).

pub mod alloc;
pub mod device;
pub mod faults;
pub mod fsutil;
pub mod progress;
pub mod rng;
pub mod usage;
