//! figures/curves.png: train/val loss (left axis) and accuracy (right axis) per epoch.

use super::font::ensure_font;
use crate::train::checkpoint::EpochRecord;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

const LOSS_COLORS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14)];
/// One plotted line: legend label and the field it reads.
type Series = (&'static str, fn(&EpochRecord) -> f64);

const ACC_COLORS: [RGBColor; 2] = [RGBColor(44, 160, 44), RGBColor(214, 39, 40)];

pub fn draw_curves(history: &[EpochRecord], title: &str, path: &Path) -> Result<()> {
    ensure_font();
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (1000, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let n = history.len().max(1) as f64;
        let losses = history.iter().flat_map(|h| [h.train_loss, h.val_loss]);
        let loss_max = losses.fold(0.0f64, f64::max) * 1.15 + 1e-6;
        let accs = history.iter().flat_map(|h| [h.train_acc, h.val_acc]);
        let acc_min = (accs.fold(1.0f64, f64::min) - 0.05).clamp(0.0, 0.95);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 26))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .right_y_label_area_size(65)
            .build_cartesian_2d(0.5..n + 0.5, 0.0..loss_max)
            .map_err(|e| anyhow!("{e}"))?
            .set_secondary_coord(0.5..n + 0.5, acc_min..1.0);
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("cross-entropy loss")
            .x_labels(history.len().max(2))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_secondary_axes()
            .y_desc("accuracy")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        let points = |f: fn(&EpochRecord) -> f64| {
            history
                .iter()
                .map(move |h| (h.epoch as f64, f(h)))
                .collect::<Vec<_>>()
        };
        let loss_series: [Series; 2] = [
            ("train loss", |h| h.train_loss),
            ("val loss", |h| h.val_loss),
        ];
        for ((label, f), color) in loss_series.into_iter().zip(LOSS_COLORS) {
            chart
                .draw_series(LineSeries::new(points(f), color.stroke_width(3)).point_size(5))
                .map_err(|e| anyhow!("{e}"))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
        }
        let acc_series: [Series; 2] = [("train acc", |h| h.train_acc), ("val acc", |h| h.val_acc)];
        for ((label, f), color) in acc_series.into_iter().zip(ACC_COLORS) {
            chart
                .draw_secondary_series(
                    LineSeries::new(points(f), color.stroke_width(3)).point_size(5),
                )
                .map_err(|e| anyhow!("{e}"))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperMiddle)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        root.present()
            .map_err(|e| anyhow!("writing {}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| anyhow!("renaming into {}: {e}", path.display()))
}
