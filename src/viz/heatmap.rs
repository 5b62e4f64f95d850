//! Attention heatmaps: one matrix with token labels, a colour bar, the weight
//! each key receives as a strip above its column, and the attention_mask as its
//! own strip (pads are cropped from the matrix).

use super::colormap::{sequential, viridis};
use super::font::{ensure_font, wrap};
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// A square map over a window of real tokens.
pub struct Heatmap<'a> {
    pub title: String,
    /// Row-major (n x n) weights, rows = queries, columns = keys.
    pub weights: &'a [f32],
    pub tokens: &'a [String],
    pub scale: Scale<'a>,
    /// Per column, the weight that key receives (mean over the queries that see
    /// it, × uniform), drawn above it on the same scale; None draws no strip.
    pub received: Option<&'a [f32]>,
}

/// How a weight becomes a colour.
#[derive(Clone, Copy)]
pub enum Scale<'a> {
    /// Viridis from 0 to the map's largest weight: exact zeros stand out (masks).
    Linear,
    /// weight × (keys the row sees), 1 = uniform: white at or below uniform (so
    /// the noise under it disappears, and a sparse head's exact zeros are white),
    /// then white to dark red up to ABOVE_CAP; the cells the mask forbids grey.
    AboveUniform {
        /// Per row: how many keys that query may see.
        keys: &'a [f32],
        /// Per cell, row by row: whether the mask forbids it.
        masked: &'a [bool],
    },
}

/// Where the above-uniform scale saturates: this many times uniform.
pub const ABOVE_CAP: f32 = 8.0;

/// A weight × uniform as a colour: white at or below 1, dark red at ABOVE_CAP and over.
pub fn above_uniform(x: f32) -> RGBColor {
    sequential((x - 1.0) / (ABOVE_CAP - 1.0))
}

const MASKED: RGBColor = RGBColor(200, 200, 200);

impl Scale<'_> {
    /// The colour of cell `cell` (row `row`) holding weight `w`.
    fn color(&self, w: f32, (row, cell): (usize, usize), max: f32) -> RGBColor {
        match self {
            Scale::Linear => viridis(w / max),
            Scale::AboveUniform { masked, .. } if masked[cell] => MASKED,
            Scale::AboveUniform { keys, .. } => above_uniform(w * keys[row]),
        }
    }
}

/// The received strip's height and the gap under it, in pixels.
const STRIP_PX: i32 = 16;
const STRIP_GAP: i32 = 6;

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing: {e}")
}

/// Where a matrix sits: its colour scale's max, its top and its side in pixels
/// (its colour bar spans the same height).
struct Placed {
    max: f32,
    top: i32,
    side: i32,
}

/// Draw one matrix into `area`, labels and received strip included.
fn draw_matrix(area: &Area, map: &Heatmap, label_px: u32, font_px: u32) -> Result<Placed> {
    let n = map.tokens.len();
    let (w, h) = area.dim_in_pixel();
    let strip = if map.received.is_some() {
        STRIP_PX + STRIP_GAP
    } else {
        0
    };
    let side = (w
        .min(h.saturating_sub(strip as u32))
        .saturating_sub(label_px + 10)) as i32;
    let cell = (side as f32 / n.max(1) as f32).max(1.0);
    let (x0, y0) = (label_px as i32, 4 + strip);
    if let Some(received) = map.received {
        for (j, &x) in received.iter().enumerate() {
            let (xa, xb) = (
                x0 + (j as f32 * cell) as i32,
                x0 + ((j + 1) as f32 * cell) as i32,
            );
            area.draw(&Rectangle::new(
                [(xa, 4), (xb, 4 + STRIP_PX)],
                above_uniform(x).filled(),
            ))
            .map_err(err)?;
        }
        area.draw(&Rectangle::new(
            [(x0, 4), (x0 + side, 4 + STRIP_PX)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        let style = TextStyle::from(("sans-serif", 12).into_font())
            .pos(Pos::new(HPos::Right, VPos::Center));
        area.draw(&Text::new("received", (x0 - 4, 4 + STRIP_PX / 2), style))
            .map_err(err)?;
    }
    let max = map
        .weights
        .iter()
        .cloned()
        .fold(f32::MIN_POSITIVE, f32::max);
    for i in 0..n {
        for j in 0..n {
            let (xa, ya) = (x0 + (j as f32 * cell) as i32, y0 + (i as f32 * cell) as i32);
            let (xb, yb) = (
                x0 + ((j + 1) as f32 * cell) as i32,
                y0 + ((i + 1) as f32 * cell) as i32,
            );
            let color = map.scale.color(map.weights[i * n + j], (i, i * n + j), max);
            area.draw(&Rectangle::new([(xa, ya), (xb, yb)], color.filled()))
                .map_err(err)?;
        }
    }
    if font_px > 0 {
        let font = ("sans-serif", font_px as f64).into_font();
        let left = TextStyle::from(font.clone()).pos(Pos::new(HPos::Right, VPos::Center));
        // Rotated a quarter turn clockwise: the key labels read downwards from under their column.
        let below = TextStyle::from(font.transform(FontTransform::Rotate90))
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (k, token) in map.tokens.iter().enumerate() {
            let mid = (k as f32 * cell + cell / 2.0) as i32;
            area.draw(&Text::new(token.clone(), (x0 - 4, y0 + mid), left.clone()))
                .map_err(err)?;
            let y_text = y0 + (n as f32 * cell) as i32 + 4;
            area.draw(&Text::new(token.clone(), (x0 + mid, y_text), below.clone()))
                .map_err(err)?;
        }
    }
    Ok(Placed { max, top: y0, side })
}

/// A vertical colour bar beside a placed matrix, as tall as it.
fn draw_colorbar(area: &Area, scale: Scale, at: &Placed) -> Result<()> {
    let (top, bottom) = (at.top, at.top + at.side);
    let steps = 100;
    // t in [0, 1] from bottom to top, as a colour and as a label.
    let color = |t: f32| match scale {
        Scale::Linear => viridis(t),
        Scale::AboveUniform { .. } => sequential(t),
    };
    let label = |t: f32| match scale {
        Scale::Linear => format!("{:.3}", at.max * t),
        Scale::AboveUniform { .. } => match 1.0 + t * (ABOVE_CAP - 1.0) {
            x if t == 0.0 => format!("≤{x:.0}x"),
            x if t == 1.0 => format!("≥{x:.0}x"),
            x => format!("{x:.1}x"),
        },
    };
    let name = match scale {
        Scale::Linear => "weight",
        Scale::AboveUniform { .. } => "x uniform",
    };
    for s in 0..steps {
        let t = 1.0 - s as f32 / steps as f32;
        let ya = top + (bottom - top) * s / steps;
        let yb = top + (bottom - top) * (s + 1) / steps;
        area.draw(&Rectangle::new([(10, ya), (30, yb + 1)], color(t).filled()))
            .map_err(err)?;
    }
    let style =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for k in 0..=4 {
        let t = k as f32 / 4.0;
        let y = bottom - ((bottom - top) as f32 * t) as i32;
        area.draw(&Text::new(label(t), (36, y), style.clone()))
            .map_err(err)?;
    }
    area.draw(&Text::new(
        name,
        (8, bottom + 18),
        ("sans-serif", 14).into_font(),
    ))
    .map_err(err)?;
    Ok(())
}

/// The attention_mask of the whole padded row: real tokens dark, [PAD] light.
fn draw_mask_strip(area: &Area, mask: &[u32]) -> Result<()> {
    let (w, _) = area.dim_in_pixel();
    let cell = ((w as i32 - 20) as f32 / mask.len().max(1) as f32).max(1.0);
    for (k, &m) in mask.iter().enumerate() {
        let color = if m == 1 {
            RGBColor(40, 40, 40)
        } else {
            RGBColor(220, 220, 220)
        };
        let (xa, xb) = (
            10 + (k as f32 * cell) as i32,
            10 + ((k + 1) as f32 * cell) as i32,
        );
        area.draw(&Rectangle::new([(xa, 24), (xb, 40)], color.filled()))
            .map_err(err)?;
    }
    let real = mask.iter().filter(|&&m| m == 1).count();
    let text = format!(
        "attention_mask: {real} real tokens (dark), {} [PAD] \
         (light, cropped from the maps: they get exactly 0 weight)",
        mask.len() - real
    );
    area.draw(&Text::new(text, (10, 4), ("sans-serif", 15).into_font()))
        .map_err(err)?;
    Ok(())
}

fn label_font_px(n: usize) -> u32 {
    if n <= 24 {
        14
    } else if n <= 48 {
        11
    } else {
        0
    }
}

/// `title` over `root`, broken at its " · " separators into as many lines as it
/// takes to fit `width` pixels (a long title would otherwise be cut at both ends).
fn titled_lines<'a>(root: &Area<'a>, title: &str, px: u32, width: u32) -> Result<Area<'a>> {
    let fits = (width as f64 / (0.55 * px as f64)) as usize; // DejaVu Sans: ~0.55 em a glyph
    let mut area = root.clone();
    for line in &wrap(title, " · ", fits) {
        area = area.titled(line, ("sans-serif", px)).map_err(err)?;
    }
    Ok(area)
}

/// One big head-averaged map, its colour bar and the mask strip.
pub fn draw_heatmap(map: &Heatmap, mask: &[u32], path: &Path) -> Result<()> {
    ensure_font();
    let root = BitMapBackend::new(path, (1100, 1080)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = titled_lines(&root, &map.title, 20, 1100)?;
    let (body, strip) = root.split_vertically(990);
    let (matrix, bar) = body.split_horizontally(990);
    let placed = draw_matrix(&matrix, map, 130, label_font_px(map.tokens.len()))?;
    draw_colorbar(&bar, map.scale, &placed)?;
    draw_mask_strip(&strip, mask)?;
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}

/// Several maps side by side (the heads of a layer, or one text under two masks),
/// each with its own scale and colour bar.
pub fn draw_grid(title: &str, heads: &[Heatmap], path: &Path) -> Result<()> {
    ensure_font();
    let cols = (heads.len() as f64).sqrt().ceil() as usize;
    let rows = heads.len().div_ceil(cols);
    let root =
        BitMapBackend::new(path, (640 * cols as u32, 560 * rows as u32 + 40)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = titled_lines(&root, title, 20, 640 * cols as u32)?;
    for (area, map) in root.split_evenly((rows, cols)).iter().zip(heads) {
        let area = area.titled(&map.title, ("sans-serif", 16)).map_err(err)?;
        let font = match map.tokens.len() {
            0..=24 => 10,
            25..=48 => 8,
            _ => 0,
        };
        let (matrix, bar) = area.split_horizontally(560);
        let placed = draw_matrix(&matrix, map, if font > 0 { 80 } else { 10 }, font)?;
        draw_colorbar(&bar, map.scale, &placed)?;
    }
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sparse head's exact zero is white like any weight at or below
    /// uniform; only the cells the mask forbids are grey.
    #[test]
    fn exact_zeros_are_white_and_masked_cells_grey() {
        let (keys, masked) = ([2.0f32, 2.0], [false, true, false, false]);
        let scale = Scale::AboveUniform {
            keys: &keys,
            masked: &masked,
        };
        let white = above_uniform(1.0);
        assert_eq!(scale.color(0.0, (0, 0), 1.0), white, "an exact zero");
        assert_eq!(scale.color(0.0, (0, 1), 1.0), MASKED, "a masked cell");
        assert_ne!(scale.color(0.9, (1, 3), 1.0), white, "1.8x uniform");
    }
}
