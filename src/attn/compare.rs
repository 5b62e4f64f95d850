//! Why the masks matter, shown on one text: the causal mask on and off, and the
//! padding mask on and off in a padded batch (where the weight leaks onto [PAD]).

use super::capture::Capture;
use super::rollout::Square;
use crate::data::collate::collate_unlabelled;
use crate::model::Masks;
use crate::modes::saved_run::SavedRun;
use crate::runner::inference::argmax;
use crate::util::fsutil::atomic_write;
use crate::viz::heatmap::{draw_grid, Heatmap, Scale};
use anyhow::Result;
use candle_core::Device;
use serde::{Deserialize, Serialize};
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

/// The largest change in any class's probability between two passes.
fn prob_shift(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Draw both comparisons for `ids` (cut to MAX_TOKENS, and to half the model's
/// max_len), write their numbers as
/// `attn_compare.md` (to read) and `attn_compare.json` (the video's facts);
/// returns the files written.
pub fn compare_masks(
    saved: &SavedRun,
    ids: &[u32],
    figures: &Path,
    device: &Device,
) -> Result<Vec<PathBuf>> {
    // Half the model's length at most: the padding comparison doubles it.
    let keep = MAX_TOKENS.min(saved.config.max_len / 2);
    let mut ids = ids[..ids.len().min(keep)].to_vec();
    if let (Some(last), Some(&sep)) = (
        ids.last_mut(),
        saved.tokenizer.token_to_id("[SEP]").as_ref(),
    ) {
        *last = sep; // a cut text still ends like a whole one
    }
    let tokens = saved.tokens(&ids);
    let (causal_off, causal_on) = compare_causal(saved, &ids, &tokens, figures, device)?;
    let mut summary = compare_padding(saved, &ids, &tokens, figures, device)?;
    summary.causal_off = causal_off;
    summary.causal_on = causal_on;
    let md = figures.join("attn_compare.md");
    atomic_write(&md, summary.markdown().as_bytes())?;
    let json = figures.join(COMPARE_JSON);
    atomic_write(&json, &serde_json::to_vec_pretty(&summary)?)?;
    Ok(vec![
        figures.join("attn_compare_causal.png"),
        figures.join("attn_compare_padding.png"),
        md,
        json,
    ])
}

/// The file the video reads the comparison's numbers from.
pub const COMPARE_JSON: &str = "attn_compare.json";

/// One pass's last layer as a panel, on a linear scale: masked zeros stand out.
fn panel<'a>(title: String, pass: &'a Pass, tokens: &'a [String]) -> Heatmap<'a> {
    Heatmap {
        title,
        weights: &pass.last_layer,
        tokens,
        scale: Scale::Linear,
        received: None,
    }
}

/// `attn_compare_causal.png`: the last layer with the causal mask off and on;
/// returns both predictions.
fn compare_causal(
    saved: &SavedRun,
    ids: &[u32],
    tokens: &[String],
    figures: &Path,
    device: &Device,
) -> Result<(String, String)> {
    let n = ids.len();
    let causal = |on| {
        run(
            saved,
            &[ids],
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
        panel(
            format!("no causal mask · {}", describe(saved, &off.probs)),
            &off,
            tokens,
        ),
        panel(
            format!("causal mask · {}", describe(saved, &on.probs)),
            &on,
            tokens,
        ),
    ];
    let title = causal_title(saved.model.masks().causal);
    draw_grid(title, &panels, &figures.join("attn_compare_causal.png"))?;
    Ok((describe(saved, &off.probs), describe(saved, &on.probs)))
}

/// `attn_compare_padding.png`: the text padded to twice its length by a longer
/// row in the same batch, with and without the padding mask, against the text alone.
fn compare_padding(
    saved: &SavedRun,
    ids: &[u32],
    tokens: &[String],
    figures: &Path,
    device: &Device,
) -> Result<MaskSummary> {
    let n = ids.len();
    let longer: Vec<u32> = ids.iter().chain(ids).copied().collect();
    let padded_tokens: Vec<String> = tokens
        .iter()
        .cloned()
        .chain(std::iter::repeat_n("[PAD]".to_string(), n))
        .collect();
    let with_pads = |padding| {
        run(
            saved,
            &[ids, &longer],
            Masks {
                padding,
                causal: saved.model.masks().causal,
            },
            2 * n,
            device,
        )
    };
    let (masked, leaky) = (with_pads(true)?, with_pads(false)?);
    let alone = run(saved, &[ids], saved.model.masks(), n, device)?;
    // The mean over real queries of the weight their row puts on the pads.
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
    let title = |mask: &str, pass: &Pass| {
        format!(
            "padding mask {mask} · {} · weight on [PAD] {:.3}",
            describe(saved, &pass.probs),
            pad_share(pass)
        )
    };
    let panels = [
        panel(title("on", &masked), &masked, &padded_tokens),
        panel(title("off", &leaky), &leaky, &padded_tokens),
    ];
    let title = format!(
        "the text alone: {} · inside a batch padded to {}: with and without the padding mask",
        describe(saved, &alone.probs),
        2 * n
    );
    draw_grid(&title, &panels, &figures.join("attn_compare_padding.png"))?;
    Ok(MaskSummary {
        text: tokens.to_vec(),
        trained_causal: saved.model.masks().causal,
        alone: describe(saved, &alone.probs),
        padded_to: 2 * n,
        padding_on: describe(saved, &masked.probs),
        pad_weight_on: pad_share(&masked),
        shift_on: prob_shift(&alone.probs, &masked.probs),
        padding_off: describe(saved, &leaky.probs),
        pad_weight_off: pad_share(&leaky),
        shift_off: prob_shift(&alone.probs, &leaky.probs),
        causal_off: String::new(),
        causal_on: String::new(),
    })
}

/// The numbers of both comparisons (`attn_compare.json`; the video quotes them).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct MaskSummary {
    /// The text's tokens, [CLS] and [SEP] included.
    pub text: Vec<String>,
    /// Whether the model was trained with the causal mask (a decoder).
    pub trained_causal: bool,
    /// Each prediction as the figures write it, e.g. "pos p = 0.624".
    pub alone: String,
    pub padded_to: usize,
    pub padding_on: String,
    /// The mean weight a real query puts on [PAD].
    pub pad_weight_on: f32,
    /// The largest change of any class's probability from the text alone.
    pub shift_on: f32,
    pub padding_off: String,
    pub pad_weight_off: f32,
    pub shift_off: f32,
    pub causal_off: String,
    pub causal_on: String,
}

impl MaskSummary {
    /// `attn_compare.md`: the table and what it shows, in words.
    fn markdown(&self) -> String {
        let m = self;
        format!(
            "# Why the masks matter

Text (first {} tokens): `{}`

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
            m.text.len(),
            m.text.join(" "),
            m.alone,
            m.padded_to,
            m.padding_on,
            m.pad_weight_on,
            m.padded_to,
            m.padding_off,
            m.pad_weight_off,
            m.causal_off,
            m.causal_on,
            agreement(m.shift_on),
            m.pad_weight_off,
            m.shift_off,
            causal_title(m.trained_causal)
        )
    }
}
