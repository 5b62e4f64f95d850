//! figures/accuracy_by_length.png: accuracy (left) and calibration error
//! (right) of texts cut to their first k tokens and to a random k-token span,
//! against k; the whole texts drawn as a dashed line, chance as a grey one.

use super::font::ensure_font;
use anyhow::{anyhow, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

/// What one panel draws: (k, value) for the first-k and the span cuts, and the
/// whole texts' value.
pub struct ByLength {
    pub first: Vec<(f64, f64)>,
    pub span: Vec<(f64, f64)>,
    pub full: f64,
}

const FIRST: RGBColor = RGBColor(31, 119, 180);
const SPAN: RGBColor = RGBColor(255, 127, 14);
const FULL: RGBColor = RGBColor(44, 160, 44);
type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// One panel; x is log2(k), labelled with k. The legend goes where `legend` says.
type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The horizontal lines across (x0, x1): the whole texts' score, dashed, and
/// chance, grey, when there is one.
fn references(
    chart: &mut Chart,
    (x0, x1): (f64, f64),
    full: f64,
    floor: Option<f64>,
) -> Result<()> {
    let grey = RGBColor(150, 150, 150);
    let full_line = (
        full,
        format!("whole texts ({full:.3})"),
        (9, 6),
        FULL.stroke_width(2),
    );
    let chance_line = floor.map(|c| (c, format!("chance ({c:.2})"), (4, 4), grey.stroke_width(1)));
    for (y, label, (dash, gap), style) in std::iter::once(full_line).chain(chance_line) {
        chart
            .draw_series(DashedLineSeries::new([(x0, y), (x1, y)], dash, gap, style))
            .map_err(|e| anyhow!("{e}"))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    Ok(())
}

fn panel(
    area: &Area,
    (title, y_desc): (&str, &str),
    d: &ByLength,
    y: (f64, f64),
    floor: Option<f64>,
    legend: SeriesLabelPosition,
) -> Result<()> {
    let log = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
        points.iter().map(|&(k, v)| (k.log2(), v)).collect()
    };
    let (first, span) = (log(&d.first), log(&d.span));
    let xs = first.iter().chain(&span).map(|&(x, _)| x);
    let (lo, hi) = xs.fold((f64::MAX, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = (lo - 0.3, hi + 0.3);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y.0..y.1)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_labels(((hi - lo) as usize + 1) * 4)
        .x_label_formatter(&|x| match (x - x.round()).abs() < 1e-6 {
            true => format!("{:.0}", x.round().exp2()),
            false => String::new(),
        })
        .x_desc("tokens kept")
        .y_desc(y_desc)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let lines = [
        ("first k tokens", FIRST, &first),
        ("a random k-token span", SPAN, &span),
    ];
    for (label, color, points) in lines {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
            .map_err(|e| anyhow!("{e}"))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3)));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(|e| anyhow!("{e}"))?;
    }
    references(&mut chart, (x0, x1), d.full, floor)?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(legend)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Both panels: accuracy against chance (1 / classes), and calibration error.
pub fn draw_by_length(
    accuracy: &ByLength,
    ece: &ByLength,
    classes: usize,
    title: &str,
    path: &Path,
) -> Result<()> {
    ensure_font();
    let root = BitMapBackend::new(path, (1400, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(700);
    let chance = 1.0 / classes.max(1) as f64;
    let lowest = accuracy
        .first
        .iter()
        .chain(&accuracy.span)
        .map(|&(_, a)| a)
        .fold(accuracy.full, f64::min);
    panel(
        &left,
        ("accuracy", "accuracy"),
        accuracy,
        ((lowest.min(chance) - 0.05).max(0.0), 1.0),
        Some(chance),
        SeriesLabelPosition::LowerRight,
    )?;
    let highest = ece
        .first
        .iter()
        .chain(&ece.span)
        .map(|&(_, e)| e)
        .fold(ece.full, f64::max);
    panel(
        &right,
        (
            "expected calibration error (15 bins; lower is better)",
            "ECE",
        ),
        ece,
        (0.0, (highest * 1.2).max(0.05)),
        None,
        SeriesLabelPosition::UpperRight,
    )?;
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}
