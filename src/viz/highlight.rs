//! Tokens laid out as text, each on a background as strong as its weight.

use super::colormap::highlight;
use super::font::ensure_font;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

pub struct Highlights<'a> {
    pub caption: String,
    pub tokens: &'a [String],
    pub weights: &'a [f32],
}

const WIDTH: u32 = 1200;
const LINE: i32 = 24;

/// One panel per weighting (e.g. pooled attention, rollout), stacked.
pub fn draw_highlights(title: &str, panels: &[Highlights], path: &Path) -> Result<()> {
    ensure_font();
    let font = ("sans-serif", 16).into_font();
    let lines_per_panel: Vec<i32> = panels
        .iter()
        .map(|p| 2 + p.tokens.len() as i32 / 12)
        .collect();
    let height = 60 + lines_per_panel.iter().map(|l| (l + 2) * LINE).sum::<i32>();
    let root = BitMapBackend::new(path, (WIDTH, height as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    root.draw(&Text::new(
        title.to_string(),
        (20, 12),
        ("sans-serif", 20).into_font(),
    ))
    .map_err(|e| anyhow!("{e}"))?;
    let mut y = 50;
    for panel in panels {
        root.draw(&Text::new(
            panel.caption.clone(),
            (20, y),
            ("sans-serif", 17).into_font().style(FontStyle::Bold),
        ))
        .map_err(|e| anyhow!("{e}"))?;
        y += LINE + 6;
        // Min-max scaled: near-uniform attention would otherwise paint every token alike.
        let max = panel.weights.iter().cloned().fold(f32::MIN, f32::max);
        let min = panel.weights.iter().cloned().fold(f32::MAX, f32::min);
        let range = (max - min).max(f32::MIN_POSITIVE);
        let mut x = 20;
        for (token, &w) in panel.tokens.iter().zip(panel.weights) {
            let (tw, _) = root
                .estimate_text_size(token, &TextStyle::from(font.clone()))
                .map_err(|e| anyhow!("{e}"))?;
            if x + tw as i32 + 8 > WIDTH as i32 - 20 {
                x = 20;
                y += LINE;
            }
            root.draw(&Rectangle::new(
                [(x - 2, y - 2), (x + tw as i32 + 2, y + LINE - 6)],
                highlight((w - min) / range).filled(),
            ))
            .map_err(|e| anyhow!("{e}"))?;
            root.draw(&Text::new(token.clone(), (x, y), font.clone()))
                .map_err(|e| anyhow!("{e}"))?;
            x += tw as i32 + 8;
        }
        y += 2 * LINE;
    }
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}
