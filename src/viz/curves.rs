//! figures/curves.png: train/val loss (left axis) and accuracy (right axis) over
//! epochs. Training is drawn from its windows of steps, validation from its
//! points inside and at the end of each epoch, so even a one-epoch run shows how
//! it learned; a ring marks the validation whose weights were kept.

use super::font::ensure_font;
use anyhow::{anyhow, Result};
use plotters::chart::DualCoordChartContext;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

const LOSS_COLORS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14)];
/// (epoch, value) points of one line.
pub type Points = Vec<(f64, f64)>;
/// One plotted line: legend label and its points.
type Series = (String, Points);

const ACC_COLORS: [RGBColor; 2] = [RGBColor(44, 160, 44), RGBColor(214, 39, 40)];

/// A training run's lines, in epochs: the training means so far, validation
/// points, and the validation whose weights were kept.
pub struct EpochCurves {
    pub epochs: usize,
    pub train_loss: Points,
    pub train_acc: Points,
    pub val_loss: Points,
    pub val_acc: Points,
    pub best: Option<(f64, f64)>,
    /// The validation points' rows and the split's, when they differ: the
    /// legend says the points are on a sample.
    pub val_rows: Option<(usize, usize)>,
    /// The kept weights' loss on the whole validation split (final_metrics.json).
    pub kept_val_loss: Option<f64>,
}

/// "on 834 of 2,500 reviews", or nothing when the points saw the whole split.
fn on_rows(val_rows: Option<(usize, usize)>) -> String {
    match val_rows {
        Some((seen, all)) if seen < all => format!(" (on {seen} of {all} reviews)"),
        _ => String::new(),
    }
}

pub fn draw_curves(curves: EpochCurves, title: &str, path: &Path) -> Result<()> {
    ensure_font();
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (1000, 600 + LEGEND_HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        // The legend gets its own strip under the chart: inside it, it covered
        // the validation points, which sit at the top right by the end of training.
        let (root, legend_area) = root.split_vertically(600);
        let n = curves.epochs.max(1) as f64;
        let best = curves.best.map(|at| (at, kept_label(&curves)));
        let on = on_rows(curves.val_rows);
        let loss_series: [Series; 2] = [
            (
                "train loss (mean over the epoch so far)".into(),
                curves.train_loss,
            ),
            (format!("val loss{on}"), curves.val_loss),
        ];
        let acc_series: [Series; 2] = [
            (
                "train acc (mean over the epoch so far)".into(),
                curves.train_acc,
            ),
            (format!("val acc{on}"), curves.val_acc),
        ];
        let values = |series: &[Series]| -> Vec<f64> {
            series
                .iter()
                .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
                .collect()
        };
        let loss_max = values(&loss_series).into_iter().fold(0.0f64, f64::max) * 1.15 + 1e-6;
        let acc_min =
            (values(&acc_series).into_iter().fold(1.0f64, f64::min) - 0.05).clamp(0.0, 0.95);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 26))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .right_y_label_area_size(65)
            .build_cartesian_2d(0.0..n + 0.05, 0.0..loss_max)
            .map_err(|e| anyhow!("{e}"))?
            .set_secondary_coord(0.0..n + 0.05, acc_min..1.0);
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("cross-entropy loss")
            .x_labels(curves.epochs * 4 + 1)
            .x_label_formatter(&|x| {
                format!("{x:.2}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
            })
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
        let entries = legend_entries(&loss_series, &acc_series, best.as_ref());
        draw_lines(&mut chart, loss_series, acc_series, best)?;
        draw_legend(&legend_area, &entries)?;
        root.present()
            .map_err(|e| anyhow!("writing {}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| anyhow!("renaming into {}: {e}", path.display()))
}

/// The kept weights' ring: the lowest validation point, and their loss on the
/// whole split when the points were on a sample (the number final_metrics.json
/// reports).
fn kept_label(curves: &EpochCurves) -> String {
    match (curves.kept_val_loss, on_rows(curves.val_rows).is_empty()) {
        (Some(loss), false) => format!("kept weights: val loss {loss:.4} on the whole split"),
        _ => "kept weights (lowest val loss)".into(),
    }
}

/// Pixels under the chart for the legend: two columns of entries.
const LEGEND_HEIGHT: u32 = 100;

/// One legend entry: its label, colour, and whether it is the kept weights' ring.
type Entry = (String, RGBColor, bool);

fn legend_entries(
    loss: &[Series; 2],
    acc: &[Series; 2],
    best: Option<&((f64, f64), String)>,
) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for (((loss_label, _), loss_color), ((acc_label, _), acc_color)) in
        loss.iter().zip(LOSS_COLORS).zip(acc.iter().zip(ACC_COLORS))
    {
        entries.push((loss_label.clone(), loss_color, false));
        entries.push((acc_label.clone(), acc_color, false));
    }
    if let Some((_, label)) = best {
        entries.push((label.clone(), BLACK, true));
    }
    entries
}

/// The entries in two columns, a line (or the ring) before each label.
fn draw_legend(area: &DrawingArea<BitMapBackend, Shift>, entries: &[Entry]) -> Result<()> {
    for (i, (label, color, ring)) in entries.iter().enumerate() {
        let (x, y) = (85 + 450 * (i as i32 % 2), 12 + 28 * (i as i32 / 2));
        if *ring {
            area.draw(&Circle::new((x + 12, y + 9), 7, color.stroke_width(2)))
        } else {
            area.draw(&PathElement::new(
                vec![(x, y + 9), (x + 24, y + 9)],
                color.stroke_width(3),
            ))
        }
        .map_err(|e| anyhow!("{e}"))?;
        area.draw(&Text::new(label.as_str(), (x + 34, y), ("sans-serif", 16)))
            .map_err(|e| anyhow!("{e}"))?;
    }
    Ok(())
}

type Chart<'a, 'b> = DualCoordChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
>;

/// The losses on the left axis, the accuracies on the right (validation points
/// marked), and a ring on the kept weights.
fn draw_lines(
    chart: &mut Chart,
    loss_series: [Series; 2],
    acc_series: [Series; 2],
    best: Option<((f64, f64), String)>,
) -> Result<()> {
    for ((label, points), color) in loss_series.into_iter().zip(LOSS_COLORS) {
        let marker = if label.starts_with("val") { 6 } else { 0 };
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(3)).point_size(marker))
            .map_err(|e| anyhow!("{e}"))?;
    }
    for ((label, points), color) in acc_series.into_iter().zip(ACC_COLORS) {
        let marker = if label.starts_with("val") { 6 } else { 0 };
        chart
            .draw_secondary_series(
                LineSeries::new(points, color.stroke_width(3)).point_size(marker),
            )
            .map_err(|e| anyhow!("{e}"))?;
    }
    if let Some((best, _)) = best {
        chart
            .draw_series([Circle::new(best, 11, BLACK.stroke_width(2))])
            .map_err(|e| anyhow!("{e}"))?;
    }
    Ok(())
}
