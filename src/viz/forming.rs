//! figures/heads_over_training.png: every head at every validation point, the
//! weight its top-5 keys receive (× uniform, left) and how often they are the
//! evidence (precision@5 by gradient × input, right), against the training step:
//! the reading head seen forming.

use super::font::ensure_font;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// One colour per head (tab10), a line style per layer.
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
/// (layer, head) -> its (step, value) points, in step order.
pub type Lines = Vec<((usize, usize), Vec<(f64, f64)>)>;

fn panel(area: &Area, title: &str, y_desc: &str, lines: &Lines, y_max: f64) -> Result<()> {
    let steps = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..steps * 1.02, 0.0..y_max)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .x_desc("training step")
        .y_desc(y_desc)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for ((layer, head), points) in lines {
        let color = COLORS[(head - 1) % COLORS.len()];
        let style = color.stroke_width(if *layer == 1 { 3 } else { 2 });
        let label = format!("layer {layer} head {head}");
        let series = match layer % 2 {
            1 => chart.draw_series(LineSeries::new(points.clone(), style)),
            _ => chart.draw_series(DashedLineSeries::new(points.clone(), 9, 5, style)),
        };
        series
            .map_err(|e| anyhow!("{e}"))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Draw the heads' top-5 contrast and precision over training, measured on
/// `reviews` validation reviews.
pub fn draw_heads_over_training(
    contrast: &Lines,
    precision: &Lines,
    reviews: usize,
    path: &Path,
) -> Result<()> {
    ensure_font();
    let root = BitMapBackend::new(path, (1400, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let layers = contrast.iter().map(|((layer, _), _)| *layer).max();
    let styles = if layers > Some(1) {
        " (solid: odd layers, dashed: even)"
    } else {
        ""
    };
    let title = format!(
        "The heads forming: every head at each validation point, on {reviews} fixed validation reviews{styles}"
    );
    let root = root
        .titled(&title, ("sans-serif", 22))
        .map_err(|e| anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(700);
    let highest = contrast
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .fold(1.0, f64::max);
    panel(
        &left,
        "weight on its top-5 keys (× uniform)",
        "× uniform",
        contrast,
        highest * 1.1,
    )?;
    panel(
        &right,
        "top-5 keys that are evidence (precision@5, gradient × input)",
        "precision@5",
        precision,
        1.0,
    )?;
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}
