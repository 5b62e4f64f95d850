//! The figures of one example: per layer the head-mean heatmap and every head,
//! and the text coloured by pooled attention and by rollout. Long texts show a
//! window of WINDOW tokens around the most attended one.

use super::capture::{is_special, Maps};
use super::rollout::Square;
use crate::viz::heatmap::{draw_grid, draw_heatmap, Heatmap};
use crate::viz::highlight::{draw_highlights, Highlights};
use anyhow::Result;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// More labels than this are unreadable.
const WINDOW: usize = 40;

/// What the figures of one example say about it.
pub struct Drawing<'a> {
    pub name: &'a str,
    /// "true neg · predicted neg (p = 0.987)".
    pub verdict: &'a str,
    pub tokens: &'a [String],
    /// The example's row of the batch's attention_mask (its pads shown as a strip).
    pub mask: &'a [u32],
}

/// Draw every figure of one example into `figures`; returns the files written.
pub fn draw_example(d: &Drawing, maps: &Maps, figures: &Path) -> Result<Vec<PathBuf>> {
    let real = d.tokens.len();
    let window = window_around(&maps.rolled, d.tokens);
    let shown = &d.tokens[window.clone()];
    let span = if window.len() < real {
        format!(" · tokens {}–{} of {real}", window.start, window.end - 1)
    } else {
        String::new()
    };
    let heads = maps.per_head.first().map_or(0, Vec::len);
    let mut written = Vec::new();
    for (l, (mean, heads_l)) in maps.means.iter().zip(&maps.per_head).enumerate() {
        let layer = l + 1;
        let sub = |m: &Square| submatrix(m, real, window.clone());
        let path = figures.join(format!("attn_{}_layer{layer}.png", d.name));
        let title = format!(
            "{} · layer {layer} (mean of {heads} heads) · {}{span}",
            d.name, d.verdict
        );
        let mean_w = sub(mean);
        let map = Heatmap {
            title,
            weights: &mean_w,
            tokens: shown,
        };
        draw_heatmap(&map, d.mask, &path)?;
        written.push(path);
        let head_maps: Vec<Square> = heads_l.iter().map(sub).collect();
        let grid: Vec<Heatmap> = head_maps
            .iter()
            .enumerate()
            .map(|(h, w)| Heatmap {
                title: format!("head {} (scale 0 to {:.3})", h + 1, max(w)),
                weights: w,
                tokens: shown,
            })
            .collect();
        let path = figures.join(format!("attn_{}_layer{layer}_heads.png", d.name));
        let title = format!("{} · layer {layer} · every head{span}", d.name);
        draw_grid(&title, &grid, &path)?;
        written.push(path);
    }
    let path = figures.join(format!("attn_{}_text.png", d.name));
    let panels = [
        Highlights {
            caption: "attention the pooled output receives \
                      (last layer, mean of heads; white = least, orange = most)"
                .into(),
            tokens: d.tokens,
            weights: &maps.pooled_attn,
        },
        Highlights {
            caption: "attention rollout across all layers \
                      (Abnar & Zuidema 2020; white = least, orange = most)"
                .into(),
            tokens: d.tokens,
            weights: &maps.rolled,
        },
    ];
    draw_highlights(&format!("{} · {}", d.name, d.verdict), &panels, &path)?;
    written.push(path);
    Ok(written)
}

fn max(w: &[f32]) -> f32 {
    w.iter().cloned().fold(0.0, f32::max)
}

/// At most WINDOW tokens, centred on the most weighted non-special token.
pub fn window_around(weights: &[f32], tokens: &[String]) -> Range<usize> {
    let n = tokens.len();
    if n <= WINDOW {
        return 0..n;
    }
    let centre = (0..n)
        .filter(|&k| !is_special(&tokens[k]))
        .max_by(|&a, &b| weights[a].total_cmp(&weights[b]))
        .unwrap_or(0);
    let start = centre.saturating_sub(WINDOW / 2).min(n - WINDOW);
    start..start + WINDOW
}

/// The rows and columns `range` of an (n x n) matrix.
pub fn submatrix(m: &[f32], n: usize, range: Range<usize>) -> Square {
    range
        .clone()
        .flat_map(|i| m[i * n + range.start..i * n + range.end].to_vec())
        .collect()
}
