//! figures/faithfulness.png: for every method, the drop in the predicted class's
//! probability against the share of tokens deleted (comprehensiveness, left) or
//! kept alone (sufficiency, right); random ranking drawn dashed as the floor.

use super::font::ensure_font;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const RANDOM: RGBColor = RGBColor(120, 120, 120);

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// One method's curves: the drop at each share of tokens, deleted and kept alone.
pub struct Deletion<'a> {
    pub method: &'a str,
    pub comprehensiveness: &'a [f64],
    pub sufficiency: &'a [f64],
}

/// The shares of tokens on the x axis, and each method's curves.
pub struct Curves<'a> {
    pub fractions: &'a [f64],
    pub methods: Vec<Deletion<'a>>,
    /// Reviews measured, for the title.
    pub examples: usize,
}

fn panel<'a>(
    area: &Area,
    f: &Curves<'a>,
    title: &str,
    values: fn(&Deletion<'a>) -> &'a [f64],
) -> Result<()> {
    let all = f.methods.iter().flat_map(|c| values(c).iter().copied());
    let (lo, hi) = all.fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let pad = 0.08 * (hi - lo).max(1e-3);
    let sizes = f.fractions.len();
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(-0.2..(sizes as f64 - 0.8), (lo - pad)..(hi + pad))
        .map_err(|e| anyhow!("{e}"))?;
    let fractions = f.fractions.to_vec();
    chart
        .configure_mesh()
        .x_labels(sizes)
        .x_label_formatter(&|x| {
            let i = x.round() as usize;
            match fractions.get(i) {
                Some(frac) if (x - i as f64).abs() < 1e-6 => format!("{:.0}%", 100.0 * frac),
                _ => String::new(),
            }
        })
        // A tick at 0 lands a rounding error below it; "-0.0" would read as a value.
        .y_label_formatter(&|y| format!("{:.2}", if y.abs() < 5e-3 { 0.0 } else { *y }))
        .x_desc("share of tokens, ranked by the method")
        .y_desc("drop in p(predicted class)")
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (k, curve) in f.methods.iter().enumerate() {
        let points: Vec<(f64, f64)> = values(curve)
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as f64, v))
            .collect();
        let random = curve.method == "random";
        let color = if random {
            RANDOM
        } else {
            COLORS[k % COLORS.len()]
        };
        let style = color.stroke_width(if random { 2 } else { 3 });
        let series = if random {
            chart.draw_series(DashedLineSeries::new(points.clone(), 8, 6, style))
        } else {
            chart.draw_series(LineSeries::new(points.clone(), style))
        };
        series
            .map_err(|e| anyhow!("{e}"))?
            .label(curve.method)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3)));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

pub fn draw_faithfulness(f: &Curves, path: &Path) -> Result<()> {
    ensure_font();
    let root = BitMapBackend::new(path, (1400, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let title = format!(
        "Faithfulness on {} validation reviews (ERASER, DeYoung et al. 2020)",
        f.examples
    );
    let root = root
        .titled(&title, ("sans-serif", 24))
        .map_err(|e| anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(700);
    panel(
        &left,
        f,
        "comprehensiveness: top tokens deleted (higher = more faithful)",
        |c| c.comprehensiveness,
    )?;
    panel(
        &right,
        f,
        "sufficiency: only top tokens kept (lower = more faithful)",
        |c| c.sufficiency,
    )?;
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}
