//! Choosing where tensors live, and how many CPU threads candle uses.

use anyhow::{bail, Result};
use candle_core::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// CUDA when built with `--features cuda` and a GPU is present, else CPU.
    Auto,
    Cpu,
    Cuda,
}

pub fn select_device(arg: DeviceArg) -> Result<Device> {
    match arg {
        DeviceArg::Cpu => Ok(Device::Cpu),
        DeviceArg::Auto if candle_core::utils::cuda_is_available() => Ok(Device::new_cuda(0)?),
        DeviceArg::Auto => Ok(Device::Cpu),
        DeviceArg::Cuda if candle_core::utils::cuda_is_available() => Device::new_cuda(0)
            .map_err(|e| anyhow::anyhow!("--device cuda: no usable GPU ({e}); use --device cpu")),
        DeviceArg::Cuda => bail!(
            "--device cuda: this binary was built without CUDA; \
             rebuild with `cargo build --release --features cuda`, or use --device cpu"
        ),
    }
}

pub fn device_name(device: &Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", candle_core::utils::get_num_threads()),
        Device::Cuda(_) => "cuda:0".to_string(),
        Device::Metal(_) => "metal".to_string(),
    }
}

/// Must run before the first tensor op: candle sizes its thread pools once.
pub fn set_threads(n: Option<usize>) {
    if let Some(n) = n.filter(|&n| n > 0) {
        // SAFETY-free in edition 2021; called from main before any thread is spawned.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    }
}

/// Peak resident set size of this process in GB of 10^9 bytes (Linux VmHWM,
/// counted in KiB), 0 where unknown. The one measurement of a run's memory:
/// README and the notebook quote it from run_summary.json.
pub fn peak_rss_gb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib * 1024.0 / 1e9)
}

/// Memory the kernel says is available to a new allocation (Linux MemAvailable), in GiB.
pub fn available_memory_gb() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / (1024.0 * 1024.0))
}
