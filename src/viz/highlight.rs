//! Tokens laid out as text, each on a background as strong as its weight.

use super::colormap::{diverging, highlight, ink};
use super::font::ensure_font;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

pub struct Highlights<'a> {
    pub caption: String,
    pub tokens: &'a [String],
    pub weights: &'a [f32],
    /// Signed values (attributions): blue below 0, red above, scaled by the
    /// largest |value|. Otherwise white to orange, min-max scaled.
    pub signed: bool,
    /// Positions outlined in black: the panel's top tokens.
    pub top: Vec<usize>,
}

impl Highlights<'_> {
    fn color(&self, w: f32) -> RGBColor {
        let (min, max) = word_range(self.tokens, self.weights);
        if self.signed {
            diverging(w / max.abs().max(min.abs()).max(f32::MIN_POSITIVE))
        } else {
            // Min-max: near-uniform attention would otherwise paint every token alike.
            highlight(((w - min) / (max - min).max(f32::MIN_POSITIVE)).clamp(0.0, 1.0))
        }
    }
}

/// The smallest and largest weight of the words, which the colours span:
/// [CLS], [SEP] and [PAD] (rollout's [CLS] keeps most of its own weight) would
/// wash the rest out.
pub fn word_range(tokens: &[String], weights: &[f32]) -> (f32, f32) {
    tokens
        .iter()
        .zip(weights)
        .filter(|(t, _)| !is_special(t))
        .fold((f32::MAX, f32::MIN), |(lo, hi), (_, &w)| {
            (lo.min(w), hi.max(w))
        })
}

fn is_special(token: &str) -> bool {
    token.starts_with('[') && token.ends_with(']')
}

const WIDTH: u32 = 1200;
const LINE: i32 = 24;
const MARGIN: i32 = 20;

/// Where each token goes: (x, line), wrapping at the figure's width.
fn layout(tokens: &[String], font: &FontDesc) -> Result<Vec<(i32, i32)>> {
    let (mut x, mut line) = (MARGIN, 0);
    let mut at = Vec::with_capacity(tokens.len());
    for token in tokens {
        let (tw, _) = font.box_size(token).map_err(|e| anyhow!("{e}"))?;
        if x + tw as i32 + 8 > WIDTH as i32 - MARGIN {
            (x, line) = (MARGIN, line + 1);
        }
        at.push((x, line));
        x += tw as i32 + 8;
    }
    Ok(at)
}

/// One panel per weighting (e.g. pooled attention, rollout), stacked.
pub fn draw_highlights(title: &str, panels: &[Highlights], path: &Path) -> Result<()> {
    ensure_font();
    let font = ("sans-serif", 16).into_font();
    let layouts: Vec<Vec<(i32, i32)>> = panels
        .iter()
        .map(|p| layout(p.tokens, &font))
        .collect::<Result<_>>()?;
    let lines = |at: &[(i32, i32)]| at.last().map_or(1, |&(_, l)| l + 1);
    let height = 50 + layouts.iter().map(|at| (lines(at) + 3) * LINE).sum::<i32>();
    let root = BitMapBackend::new(path, (WIDTH, height as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    root.draw(&Text::new(
        title.to_string(),
        (20, 12),
        ("sans-serif", 20).into_font(),
    ))
    .map_err(|e| anyhow!("{e}"))?;
    let mut y = 50;
    for (panel, at) in panels.iter().zip(&layouts) {
        root.draw(&Text::new(
            panel.caption.clone(),
            (20, y),
            ("sans-serif", 17).into_font().style(FontStyle::Bold),
        ))
        .map_err(|e| anyhow!("{e}"))?;
        y += LINE + 6;
        for (k, ((token, &w), &(x, line))) in
            panel.tokens.iter().zip(panel.weights).zip(at).enumerate()
        {
            let (tw, _) = font.box_size(token).map_err(|e| anyhow!("{e}"))?;
            let y = y + line * LINE;
            let cell = [(x - 2, y - 2), (x + tw as i32 + 2, y + LINE - 6)];
            let fill = panel.color(w);
            root.draw(&Rectangle::new(cell, fill.filled()))
                .map_err(|e| anyhow!("{e}"))?;
            if panel.top.contains(&k) {
                // Just outside the fill, so it shows on the darkest colours too.
                let frame = [(x - 4, y - 4), (x + tw as i32 + 4, y + LINE - 4)];
                root.draw(&Rectangle::new(frame, BLACK.stroke_width(2)))
                    .map_err(|e| anyhow!("{e}"))?;
            }
            root.draw(&Text::new(token.clone(), (x, y), font.color(&ink(fill))))
                .map_err(|e| anyhow!("{e}"))?;
        }
        y += (lines(at) + 1) * LINE + 2;
    }
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}
