//! The figures of one example: per layer the head-mean heatmap and every head
//! (weight × keys seen: white at or below uniform, darker above it), each with
//! the weight every key receives in a strip above its column, and the text
//! coloured three ways: the route to the head, rollout, and Integrated Gradients.
//! Long texts show WINDOW tokens around the evidence (the largest |IG|).

use super::capture::{top_k, Maps};
use super::heads::{received, Role};
use super::rollout::Square;
use crate::model::Pool;
use crate::viz::heatmap::{draw_grid, draw_heatmap, Heatmap, Scale, ABOVE_CAP};
use crate::viz::highlight::{draw_highlights, word_range, Highlights};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// More labels than this are unreadable.
const WINDOW: usize = 40;
/// Tokens outlined in the text figure and marked with a dot in the heatmaps.
pub const TOP_MARKED: usize = 5;
/// The largest-|IG| tokens every window shows, marked ★.
pub const EVIDENCE_SHOWN: usize = 3;

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
    /// [layer][head] -> its role over the faithfulness sample; empty when unmeasured.
    pub roles: &'a [Vec<Role>],
}

fn scale_note() -> String {
    format!(
        "colour = weight × keys seen: white at or below uniform, dark red at {ABOVE_CAP:.0}x and \
         over · strip above: the weight each key receives · ● a map's top keys above uniform · \
         ★ the {EVIDENCE_SHOWN} largest |IG|"
    )
}

/// Draw every figure of one example into `figures`; returns the files written.
pub fn draw_example(d: &Drawing, maps: &Maps, figures: &Path) -> Result<Vec<PathBuf>> {
    let real = d.tokens.len();
    let shown = evidence_window(d.integrated, d.tokens);
    let keys: Vec<f32> = shown.iter().map(|&k| maps.keys_per_row()[k]).collect();
    let starred = evidence_top(d.integrated, d.tokens);
    let span = match shown.len() < real {
        true => format!(" · tokens {} of {real}", stretches(&shown)),
        false => String::new(),
    };
    let note = scale_note();
    let mut written = Vec::new();
    for (l, (mean, heads_l)) in maps.means.iter().zip(&maps.per_head).enumerate() {
        let layer = l + 1;
        let entropy = &maps.entropy[l];
        let view = |m: &Square| MapView::new(m, maps.causal, &shown, &starred, d.tokens);
        let path = figures.join(format!("attn_{}_layer{layer}.png", d.name));
        let mean_view = view(mean);
        draw_heatmap(
            &mean_view.heatmap(
                format!(
                    "{} · layer {layer}, mean of {} heads · {}{span} · {note}",
                    d.name,
                    heads_l.len(),
                    d.verdict
                ),
                &keys,
            ),
            d.mask,
            &path,
        )?;
        written.push(path);
        let roles = d.roles.get(l);
        let mut order: Vec<usize> = (0..heads_l.len()).collect();
        order.sort_by_key(|&h| roles.map_or(0, |r| r[h].rank()));
        let views: Vec<MapView> = order.iter().map(|&h| view(&heads_l[h])).collect();
        let grid: Vec<Heatmap> = order
            .iter()
            .zip(&views)
            .map(|(&h, v)| {
                let role = roles.map_or(String::new(), |r| format!("{} · ", r[h].name()));
                v.heatmap(
                    format!(
                        "head {} · {role}entropy {:.2} of uniform",
                        h + 1,
                        entropy[h]
                    ),
                    &keys,
                )
            })
            .collect();
        let path = figures.join(format!("attn_{}_layer{layer}_heads.png", d.name));
        let by_role = if roles.is_some() {
            ", reading heads first"
        } else {
            ""
        };
        let title = format!(
            "{} · layer {layer} · every head{by_role}{span} · {note}",
            d.name
        );
        draw_grid(&title, &grid, &path)?;
        written.push(path);
    }
    written.push(draw_text_view(d, maps, figures)?);
    Ok(written)
}

/// One map cut to the shown positions, with its labels and received strip.
struct MapView {
    weights: Square,
    /// The cells the mask forbids (a later key under the causal mask), drawn
    /// grey; an exact 0 elsewhere (sparse attention) is white like any weight
    /// at or below uniform.
    masked: Vec<bool>,
    received: Vec<f32>,
    labels: Vec<String>,
}

impl MapView {
    fn new(m: &[f32], causal: bool, shown: &[usize], starred: &[usize], tokens: &[String]) -> Self {
        let n = tokens.len();
        let all: Vec<f32> = received(m, n, causal).iter().map(|&x| x as f32).collect();
        let received: Vec<f32> = shown.iter().map(|&k| all[k]).collect();
        let dotted = top_above_uniform(&all, tokens, TOP_MARKED);
        let labels = shown
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let gap = if i > 0 && shown[i - 1] + 1 != k {
                    "… "
                } else {
                    ""
                };
                let dot = if dotted.contains(&k) { "● " } else { "" };
                let star = if starred.contains(&k) { " ★" } else { "" };
                format!("{gap}{dot}{}{star}", tokens[k])
            })
            .collect();
        let masked = shown
            .iter()
            .flat_map(|&q| shown.iter().map(move |&k| causal && k > q))
            .collect();
        MapView {
            weights: submatrix(m, n, shown),
            masked,
            received,
            labels,
        }
    }

    fn heatmap<'a>(&'a self, title: String, keys: &'a [f32]) -> Heatmap<'a> {
        Heatmap {
            title,
            weights: &self.weights,
            tokens: &self.labels,
            scale: Scale::AboveUniform {
                keys,
                masked: &self.masked,
            },
            received: Some(&self.received),
        }
    }
}

/// The `k` keys that receive the most weight (× uniform), non-special and
/// strictly above uniform: a dot never marks a key the map weighs at or below it.
pub fn top_above_uniform(received: &[f32], tokens: &[String], k: usize) -> Vec<usize> {
    top_k(received, tokens, k)
        .into_iter()
        .filter(|&i| received[i] > 1.0)
        .collect()
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

/// The EVIDENCE_SHOWN non-special tokens with the largest |IG|.
pub fn evidence_top(integrated: &[f32], tokens: &[String]) -> Vec<usize> {
    let magnitude: Vec<f32> = integrated.iter().map(|x| x.abs()).collect();
    top_k(&magnitude, tokens, EVIDENCE_SHOWN)
}

/// The positions a map shows, in order: all of a short text; of a long one,
/// WINDOW tokens holding its EVIDENCE_SHOWN largest-|IG| tokens: one stretch
/// when they fit in one, else a stretch around each (merged where they meet).
pub fn evidence_window(integrated: &[f32], tokens: &[String]) -> Vec<usize> {
    let n = tokens.len();
    let mut top = evidence_top(integrated, tokens);
    top.sort_unstable();
    let (Some(&first), Some(&last)) = (top.first(), top.last()) else {
        return (0..n.min(WINDOW)).collect();
    };
    if n <= WINDOW {
        return (0..n).collect();
    }
    if last - first < WINDOW {
        // Centred on the evidence, but never past its first or last token.
        let lowest = (last + 1).saturating_sub(WINDOW);
        let centred = ((first + last) / 2).saturating_sub(WINDOW / 2);
        let start = centred.clamp(lowest, first).min(n - WINDOW);
        return (start..start + WINDOW).collect();
    }
    let reach = WINDOW / top.len() / 2;
    let mut shown: Vec<usize> = top
        .iter()
        .flat_map(|&k| k.saturating_sub(reach)..(k + reach + 1).min(n))
        .collect();
    shown.sort_unstable();
    shown.dedup();
    shown
}

/// "12–51" or "3–15, 120–132": the stretches of sorted positions.
pub fn stretches(shown: &[usize]) -> String {
    let mut parts: Vec<(usize, usize)> = Vec::new();
    for &k in shown {
        match parts.last_mut() {
            Some((_, end)) if *end + 1 == k => *end = k,
            _ => parts.push((k, k)),
        }
    }
    let text: Vec<String> = parts.iter().map(|(a, b)| format!("{a}–{b}")).collect();
    text.join(", ")
}

/// The rows and columns `shown` of an (n x n) matrix.
pub fn submatrix(m: &[f32], n: usize, shown: &[usize]) -> Square {
    shown
        .iter()
        .flat_map(|&i| shown.iter().map(move |&j| m[i * n + j]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(n: usize) -> Vec<String> {
        let mut tokens = vec!["[CLS]".to_string()];
        tokens.extend((1..n - 1).map(|k| format!("w{k}")));
        tokens.push("[SEP]".to_string());
        tokens
    }

    /// The largest |IG| on `at`, in that order, small elsewhere; [SEP] larger
    /// still (special tokens are never the evidence).
    fn ig(n: usize, at: &[usize]) -> Vec<f32> {
        let mut ig: Vec<f32> = (0..n).map(|k| 0.001 * (k % 7) as f32).collect();
        for (r, &k) in at.iter().enumerate() {
            ig[k] = if r % 2 == 0 { 1.0 } else { -1.0 } / (r + 1) as f32;
        }
        ig[n - 1] = 5.0;
        ig
    }

    #[test]
    fn long_windows_hold_the_three_largest_ig_tokens() {
        let n = 256;
        let tokens = review(n);
        for at in [
            vec![200, 210, 230],
            vec![5, 120, 250],
            vec![1, 2, 254],
            vec![100, 101, 139],
        ] {
            let shown = evidence_window(&ig(n, &at), &tokens);
            assert!(shown.len() <= WINDOW, "{at:?}: {} shown", shown.len());
            assert!(shown.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
            for k in &at {
                assert!(shown.contains(k), "{at:?}: {k} missing from {shown:?}");
            }
        }
        // Close together: one stretch of WINDOW tokens.
        let shown = evidence_window(&ig(n, &[100, 101, 139]), &tokens);
        assert_eq!(stretches(&shown), "100–139");
        // Far apart: a stretch around each.
        let shown = evidence_window(&ig(n, &[5, 120, 250]), &tokens);
        assert_eq!(stretches(&shown), "0–11, 114–126, 244–255");
        // Short texts whole.
        assert_eq!(evidence_window(&ig(30, &[3]), &review(30)).len(), 30);
    }

    #[test]
    fn dots_never_mark_a_key_at_or_below_uniform() {
        let tokens = review(6);
        // Received × uniform: only w2 (1.8x) and w3 (1.01x) are above uniform.
        let received = [3.0, 0.5, 1.8, 1.01, 1.0, 0.2];
        assert_eq!(
            top_above_uniform(&received, &tokens, TOP_MARKED),
            vec![2, 3]
        );
        let flat = [1.0; 6];
        assert!(top_above_uniform(&flat, &tokens, TOP_MARKED).is_empty());
        // The labels of a map where every query looks at w2: one dot, on w2.
        let n = tokens.len();
        let on_w2: Vec<f32> = (0..n * n).map(|k| f32::from(k % n == 2)).collect();
        let view = MapView::new(&on_w2, false, &(0..n).collect::<Vec<_>>(), &[4], &tokens);
        let dotted: Vec<&String> = view.labels.iter().filter(|l| l.contains('●')).collect();
        assert_eq!(dotted, ["● w2"]);
        assert_eq!(view.labels[4], "w4 ★");
        assert_eq!(view.received[2], n as f32);
    }
}
