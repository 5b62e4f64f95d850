//! figures/pretrain_gain.png: test accuracy of the classifier against the
//! pretraining tokens its body saw (0: from scratch), one line per architecture.

use super::font::ensure_font;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// One line: its label and (pretraining tokens in millions, test accuracy) points.
pub type GainLine = (String, Vec<(f64, f64)>);

const COLORS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];

pub fn draw_gain(lines: &[GainLine], path: &Path) -> Result<()> {
    ensure_font();
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (1000, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let all = || lines.iter().flat_map(|(_, p)| p.iter().copied());
        let x_max = all().map(|(x, _)| x).fold(1.0, f64::max) * 1.08;
        let accs = all().map(|(_, y)| y);
        let lo = accs.clone().fold(1.0, f64::min) - 0.01;
        let hi = accs.fold(0.0, f64::max) + 0.01;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "what pretraining buys: IMDb test accuracy after fine-tuning",
                ("sans-serif", 24),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-x_max * 0.03..x_max, lo..hi)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("pretraining tokens (millions; 0 = from scratch)")
            .y_desc("test accuracy")
            .y_label_formatter(&|y| format!("{y:.3}"))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for ((label, points), color) in lines.iter().zip(COLORS.into_iter().cycle()) {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)).point_size(6))
                .map_err(|e| anyhow!("{e}"))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(points.iter().map(|&(x, y)| {
                    let font = ("sans-serif", 16).into_font().color(&color);
                    EmptyElement::at((x, y)) + Text::new(format!("{y:.4}"), (-22, -26), font)
                }))
                .map_err(|e| anyhow!("{e}"))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    crate::util::fsutil::commit(&tmp, path)
}
