//! figures/profile_seq_len.png: throughput and peak memory against sequence length.

use super::font::ensure_font;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// One profiled sequence length.
pub struct SweepPoint {
    pub seq_len: usize,
    pub tokens_per_s: f64,
    pub peak_mem_gb: f64,
}

/// `train`: the points timed training steps, else forward passes, of `batch` rows.
pub fn draw_sweep(points: &[SweepPoint], batch: usize, train: bool, path: &Path) -> Result<()> {
    ensure_font();
    let e = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let max_l = points.iter().map(|p| p.seq_len).max().unwrap_or(1) as f64;
    let max_tps = points.iter().map(|p| p.tokens_per_s).fold(0.0, f64::max) * 1.15;
    let max_mem = points.iter().map(|p| p.peak_mem_gb).fold(0.0, f64::max) * 1.15;
    let what = if train {
        "training steps"
    } else {
        "forward passes"
    };
    let title = format!(
        "{what}, batch {}: tokens/s and peak memory against sequence length",
        batch
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..max_l * 1.05, 0.0..max_tps)
        .map_err(|x| e(&x))?
        .set_secondary_coord(0.0..max_l * 1.05, 0.0..max_mem);
    chart
        .configure_mesh()
        .x_desc("sequence length L")
        .y_desc("tokens / s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .configure_secondary_axes()
        .y_desc("peak memory (GB)")
        .y_label_formatter(&|y| format!("{y:.2}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(|x| e(&x))?;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
    chart
        .draw_series(
            LineSeries::new(
                points.iter().map(|p| (p.seq_len as f64, p.tokens_per_s)),
                blue.stroke_width(3),
            )
            .point_size(5),
        )
        .map_err(|x| e(&x))?
        .label("tokens/s (falls as the L² attention term grows)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(3)));
    chart
        .draw_secondary_series(
            LineSeries::new(
                points.iter().map(|p| (p.seq_len as f64, p.peak_mem_gb)),
                orange.stroke_width(3),
            )
            .point_size(5),
        )
        .map_err(|x| e(&x))?
        .label("peak memory")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(3)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))
}
