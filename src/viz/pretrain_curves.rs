//! figures/pretrain_curves.png and causal_lm_ablation.png: loss (left panel) and
//! token accuracy (right) of one or more pretraining runs against the tokens
//! trained on. Each run draws its training curve thin and its held-out points
//! thick; the held-out windows are always read with the architecture's masks.

use super::font::ensure_font;
use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

const COLORS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
];

/// One run's lines, as (million tokens, value) points: the training curve
/// (thin) and the held-out points (thick), loss and token accuracy.
pub struct RunCurves {
    pub label: String,
    pub train_loss: Vec<(f64, f64)>,
    pub train_acc: Vec<(f64, f64)>,
    pub held_loss: Vec<(f64, f64)>,
    pub held_acc: Vec<(f64, f64)>,
}

impl RunCurves {
    fn lines(&self, acc: bool) -> [&Vec<(f64, f64)>; 2] {
        if acc {
            [&self.train_acc, &self.held_acc]
        } else {
            [&self.train_loss, &self.held_loss]
        }
    }
}

pub fn draw_pretrain_curves(runs: &[RunCurves], title: &str, path: &Path) -> Result<()> {
    ensure_font();
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (1400, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let (top, body) = root.split_vertically(50);
        top.draw(&Text::new(title, (20, 12), ("sans-serif", 26)))
            .map_err(|e| anyhow!("{e}"))?;
        let (left, right) = body.split_horizontally(700);
        panel(&left, runs, false)?;
        panel(&right, runs, true)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    crate::util::fsutil::commit(&tmp, path)
}

fn panel(area: &DrawingArea<BitMapBackend, Shift>, runs: &[RunCurves], acc: bool) -> Result<()> {
    let all: Vec<(f64, f64)> = runs
        .iter()
        .flat_map(|r| r.lines(acc).into_iter().flatten().copied())
        .collect();
    let x_max = all.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-3) * 1.02;
    let y_max = all.iter().map(|p| p.1).fold(0.0, f64::max);
    let y_min = all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    // Loss from just below its lowest point: the untrained model's ln V would
    // otherwise squash the part of the curve worth reading.
    let (y_min, y_max) = if acc {
        (0.0, (y_max * 1.1).min(1.0) + 1e-6)
    } else {
        ((y_min - 0.5).max(0.0), y_max * 1.03 + 1e-6)
    };
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("tokens trained on (millions)")
        .y_desc(if acc {
            "token accuracy"
        } else {
            "cross-entropy loss"
        })
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (run, color) in runs.iter().zip(COLORS) {
        let label = &run.label;
        let [train, held] = run.lines(acc);
        chart
            .draw_series(LineSeries::new(
                train.clone(),
                color.mix(0.45).stroke_width(2),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("{label}: training batches"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.mix(0.45)));
        chart
            .draw_series(LineSeries::new(held.clone(), color.stroke_width(4)).point_size(5))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("{label}: held-out 1%"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(4))
            });
    }
    chart
        .configure_series_labels()
        .position(if acc {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        })
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
