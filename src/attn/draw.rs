//! The figures of one example: per layer the head-mean heatmap and every head
//! (weight × keys seen, on a log scale where white is uniform), and the text
//! coloured three ways: the route to the head, rollout, and Integrated Gradients.
//! Long texts show a window of WINDOW tokens around the most weighted one.

use super::capture::{is_special, top_k, Maps};
use super::rollout::Square;
use crate::model::Pool;
use crate::viz::heatmap::{draw_grid, draw_heatmap, Heatmap, Scale};
use crate::viz::highlight::{draw_highlights, word_range, Highlights};
use anyhow::Result;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// More labels than this are unreadable.
const WINDOW: usize = 40;
/// Tokens outlined in the text figure and marked with a dot in the heatmaps.
pub const TOP_MARKED: usize = 5;

/// What the figures of one example say about it.
pub struct Drawing<'a> {
    pub name: &'a str,
    /// "true neg · predicted neg (p = 0.987)".
    pub verdict: &'a str,
    pub predicted: &'a str,
    pub tokens: &'a [String],
    /// The example's row of the batch's attention_mask (its pads shown as a strip).
    pub mask: &'a [u32],
    pub pool: Pool,
    /// Integrated Gradients per token, towards the predicted class.
    pub integrated: &'a [f32],
}

const SCALE_NOTE: &str = "colour = weight × keys seen (1 = uniform), log scale 1/16 to 16";

/// Draw every figure of one example into `figures`; returns the files written.
pub fn draw_example(d: &Drawing, maps: &Maps, figures: &Path) -> Result<Vec<PathBuf>> {
    let real = d.tokens.len();
    let (evidence, _) = maps.evidence(d.pool);
    let window = window_around(evidence, d.tokens);
    let top = top_k(evidence, d.tokens, TOP_MARKED);
    let shown: Vec<String> = window
        .clone()
        .map(|k| match top.contains(&k) {
            true => format!("● {}", d.tokens[k]),
            false => d.tokens[k].clone(),
        })
        .collect();
    let keys = maps.keys_per_row()[window.clone()].to_vec();
    let span = if window.len() < real {
        format!(" · tokens {}–{} of {real}", window.start, window.end - 1)
    } else {
        String::new()
    };
    let mut written = Vec::new();
    for (l, (mean, heads_l)) in maps.means.iter().zip(&maps.per_head).enumerate() {
        let layer = l + 1;
        let entropy = &maps.entropy[l];
        let sub = |m: &Square| submatrix(m, real, window.clone());
        let path = figures.join(format!("attn_{}_layer{layer}.png", d.name));
        let mean_w = sub(mean);
        let map = Heatmap {
            title: format!(
                "{} · layer {layer}, mean of {} heads · {}{span} · {SCALE_NOTE} · ● top tokens",
                d.name,
                heads_l.len(),
                d.verdict
            ),
            weights: &mean_w,
            tokens: &shown,
            scale: Scale::VsUniform(&keys),
        };
        draw_heatmap(&map, d.mask, &path)?;
        written.push(path);
        let head_maps: Vec<Square> = heads_l.iter().map(sub).collect();
        let grid: Vec<Heatmap> = head_maps
            .iter()
            .enumerate()
            .map(|(h, w)| Heatmap {
                title: format!("head {} · entropy {:.2} of uniform", h + 1, entropy[h]),
                weights: w,
                tokens: &shown,
                scale: Scale::VsUniform(&keys),
            })
            .collect();
        let path = figures.join(format!("attn_{}_layer{layer}_heads.png", d.name));
        let title = format!(
            "{} · layer {layer} · every head{span} · {SCALE_NOTE}",
            d.name
        );
        draw_grid(&title, &grid, &path)?;
        written.push(path);
    }
    written.push(draw_text_view(d, maps, figures)?);
    Ok(written)
}

/// `attn_{name}_text.png`: the text coloured by the route, by rollout and by
/// Integrated Gradients, each with its top tokens boxed.
fn draw_text_view(d: &Drawing, maps: &Maps, figures: &Path) -> Result<PathBuf> {
    let real = d.tokens.len();
    let (evidence, evidence_caption) = maps.evidence(d.pool);
    let path = figures.join(format!("attn_{}_text.png", d.name));
    let outlined = |w: &[f32]| top_k(w, d.tokens, TOP_MARKED);
    // Both rows sum to 1 over the real tokens, so × real is against uniform.
    let scale = |w: &[f32]| {
        let (lo, hi) = word_range(d.tokens, w);
        format!(
            "white {:.1}x to orange {:.1}x uniform; top {TOP_MARKED} boxed",
            lo * real as f32,
            hi * real as f32
        )
    };
    let panels = [
        Highlights {
            caption: format!("{evidence_caption} ({})", scale(evidence)),
            tokens: d.tokens,
            weights: evidence,
            signed: false,
            top: outlined(evidence),
        },
        Highlights {
            caption: format!(
                "attention rollout from the pooled output through all layers (Abnar & Zuidema 2020; {})",
                scale(&maps.rolled)
            ),
            tokens: d.tokens,
            weights: &maps.rolled,
            signed: false,
            top: outlined(&maps.rolled),
        },
        Highlights {
            caption: format!(
                "Integrated Gradients: red pushes towards {}, blue away (scaled to the largest |value|)",
                d.predicted
            ),
            tokens: d.tokens,
            weights: d.integrated,
            signed: true,
            top: outlined(d.integrated),
        },
    ];
    draw_highlights(&format!("{} · {}", d.name, d.verdict), &panels, &path)?;
    Ok(path)
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
