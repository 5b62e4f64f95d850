//! Why the masks matter, shown on one text: the causal mask on and off, and the
//! padding mask on and off in a padded batch (where the weight leaks onto [PAD]).

use super::capture::{token_strings, Capture};
use super::rollout::Square;
use crate::data::collate::collate_unlabelled;
use crate::fsutil::atomic_write;
use crate::model::Masks;
use crate::saved_run::SavedRun;
use crate::train::metrics::argmax;
use crate::viz::heatmap::{draw_grid, Heatmap, Scale};
use anyhow::{bail, Context, Result};
use candle_core::Device;
use std::path::{Path, PathBuf};

/// Short enough that every label stays readable.
const MAX_TOKENS: usize = 24;

struct Pass {
    last_layer: Square,
    probs: Vec<f32>,
}

/// Row 0 of a batch under `masks`: last-layer head-mean map over the first `keep`
/// positions, and probabilities.
fn run(
    saved: &SavedRun,
    rows: &[&[u32]],
    masks: Masks,
    keep: usize,
    device: &Device,
) -> Result<Pass> {
    let batch = collate_unlabelled(rows, device)?;
    let capture = Capture::run(saved, &batch, Some(masks))?;
    let mut maps = capture.maps(0, keep);
    Ok(Pass {
        last_layer: maps.means.pop().expect("at least one layer"),
        probs: capture.probs[0].clone(),
    })
}

fn describe(saved: &SavedRun, p: &[f32]) -> String {
    let c = argmax(p);
    format!("{} p = {:.3}", saved.labels[c], p[c])
}

/// The largest change in any class's probability between two passes.
/// "identical" for an exact match, else the largest difference.
fn agreement(shift: f32) -> String {
    if shift == 0.0 {
        "identical".to_string()
    } else {
        format!("within {shift:.0e}")
    }
}

/// What the causal comparison is: for an encoder the mask is switched on only
/// for the figure, which shows the mask's mechanics, not a model trained with it.
fn causal_title(trained_causal: bool) -> &'static str {
    if trained_causal {
        "a decoder trained with the causal mask · last layer · as trained (right) and with the mask removed (left)"
    } else {
        "an encoder trained without the causal mask · last layer · the mask, switched on only here, \
         empties the upper triangle · a model trained with it: causal_lm_ablation.png"
    }
}

fn prob_shift(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Draw both comparisons for `ids` (cut to MAX_TOKENS); returns the files written.
pub fn compare_masks(
    saved: &SavedRun,
    ids: &[u32],
    figures: &Path,
    device: &Device,
) -> Result<Vec<PathBuf>> {
    let mut ids = ids[..ids.len().min(MAX_TOKENS)].to_vec();
    if let (Some(last), Some(&sep)) = (
        ids.last_mut(),
        saved.tokenizer.token_to_id("[SEP]").as_ref(),
    ) {
        *last = sep; // a cut text still ends like a whole one
    }
    let n = ids.len();
    let tokens = token_strings(saved, &ids);
    let mut written = Vec::new();

    let causal = |on| {
        run(
            saved,
            &[&ids],
            Masks {
                padding: true,
                causal: on,
            },
            n,
            device,
        )
    };
    let (off, on) = (causal(false)?, causal(true)?);
    let panels = [
        Heatmap {
            title: format!("no causal mask · {}", describe(saved, &off.probs)),
            weights: &off.last_layer,
            tokens: &tokens,
            scale: Scale::Linear,
        },
        Heatmap {
            title: format!("causal mask · {}", describe(saved, &on.probs)),
            weights: &on.last_layer,
            tokens: &tokens,
            scale: Scale::Linear,
        },
    ];
    let path = figures.join("attn_compare_causal.png");
    draw_grid(causal_title(saved.model.masks().causal), &panels, &path)?;
    written.push(path);

    // The text padded to twice its length by a longer row in the same batch.
    let longer: Vec<u32> = ids.iter().chain(ids.iter()).copied().collect();
    let padded_tokens: Vec<String> = tokens
        .iter()
        .cloned()
        .chain(std::iter::repeat_n("[PAD]".to_string(), n))
        .collect();
    let with_pads = |padding| {
        run(
            saved,
            &[&ids, &longer],
            Masks {
                padding,
                causal: saved.model.masks().causal,
            },
            2 * n,
            device,
        )
    };
    let (masked, leaky) = (with_pads(true)?, with_pads(false)?);
    let alone = run(saved, &[&ids], saved.model.masks(), n, device)?;
    let pad_share = |p: &Pass| {
        (0..n)
            .map(|i| {
                p.last_layer[i * 2 * n + n..(i + 1) * 2 * n]
                    .iter()
                    .sum::<f32>()
            })
            .sum::<f32>()
            / n as f32
    };
    let panels = [
        Heatmap {
            title: format!(
                "padding mask on · {} · weight on [PAD] {:.3}",
                describe(saved, &masked.probs),
                pad_share(&masked)
            ),
            weights: &masked.last_layer,
            tokens: &padded_tokens,
            scale: Scale::Linear,
        },
        Heatmap {
            title: format!(
                "padding mask off · {} · weight on [PAD] {:.3}",
                describe(saved, &leaky.probs),
                pad_share(&leaky)
            ),
            weights: &leaky.last_layer,
            tokens: &padded_tokens,
            scale: Scale::Linear,
        },
    ];
    let path = figures.join("attn_compare_padding.png");
    draw_grid(
        &format!(
            "the text alone: {} · inside a batch padded to {}: with and without the padding mask",
            describe(saved, &alone.probs),
            2 * n
        ),
        &panels,
        &path,
    )?;
    written.push(path);

    let md = format!(
        "# Why the masks matter

Text (first {n} tokens): `{}`

| pass | prediction | mean weight a real query puts on [PAD] |
| --- | --- | --- |
| alone, no padding | {} | – |
| padded to {}, padding mask on | {} | {:.4} |
| padded to {}, padding mask off | {} | {:.4} |
| no causal mask | {} | – |
| causal mask | {} | – |

With the padding mask the padded pass reproduces the text alone (its probabilities
{}); without it the real tokens spend {:.4} of their weight on [PAD] and
the probabilities move by up to {:.1e}. Figures: `attn_compare_padding.png`,
`attn_compare_causal.png` ({}).
",
        tokens.join(" "),
        describe(saved, &alone.probs),
        2 * n,
        describe(saved, &masked.probs),
        pad_share(&masked),
        2 * n,
        describe(saved, &leaky.probs),
        pad_share(&leaky),
        describe(saved, &off.probs),
        describe(saved, &on.probs),
        agreement(prob_shift(&alone.probs, &masked.probs)),
        pad_share(&leaky),
        prob_shift(&alone.probs, &leaky.probs),
        causal_title(saved.model.masks().causal)
    );
    let path = figures.join("attn_compare.md");
    atomic_write(&path, md.as_bytes())?;
    written.push(path);
    Ok(written)
}

/// The numbers of `attn_compare.md`'s table, read back (the video quotes them).
#[derive(Debug, PartialEq)]
pub struct MaskSummary {
    /// Each prediction as the table writes it, e.g. "pos p = 0.624".
    pub alone: String,
    pub padded_to: usize,
    pub padding_on: String,
    pub pad_weight_on: f32,
    pub padding_off: String,
    pub pad_weight_off: f32,
    pub causal_off: String,
    pub causal_on: String,
}

impl MaskSummary {
    /// Parse the table `compare_masks` writes: its five rows, in its order.
    pub fn parse(md: &str) -> Result<Self> {
        let rows: Vec<Vec<&str>> = md
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| ---") && !l.starts_with("| pass"))
            .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
            .collect();
        let [alone, on, off, causal_off, causal_on] = rows.as_slice() else {
            bail!(
                "expected the 5 rows compare_masks writes, found {}",
                rows.len()
            );
        };
        let padded_to = on[0]
            .strip_prefix("padded to ")
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("row 2 should start \"padded to N,\": {:?}", on[0]))?;
        let weight = |row: &[&str]| -> Result<f32> {
            row.get(2)
                .and_then(|w| w.parse().ok())
                .with_context(|| format!("no [PAD] weight in row {row:?}"))
        };
        let cell = |row: &[&str]| -> Result<String> {
            row.get(1)
                .map(|c| c.to_string())
                .with_context(|| format!("no prediction in row {row:?}"))
        };
        Ok(Self {
            alone: cell(alone)?,
            padded_to,
            padding_on: cell(on)?,
            pad_weight_on: weight(on)?,
            padding_off: cell(off)?,
            pad_weight_off: weight(off)?,
            causal_off: cell(causal_off)?,
            causal_on: cell(causal_on)?,
        })
    }
}
