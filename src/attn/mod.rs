//! `xray attn`: pick examples, run them with attention capture, and draw what the
//! model looks at: per-layer maps, all heads, pooled attention, rollout, and a
//! short explanation per example.

pub mod compare;
pub mod faithfulness;
pub mod rollout;
pub mod select;

use crate::data::collate::collate;
use crate::fsutil::atomic_write;
use crate::model::Mode;
use crate::saved_run::SavedRun;
use crate::train::evaluate::predict_probs;
use crate::viz::heatmap::{draw_grid, draw_heatmap, Heatmap};
use crate::viz::highlight::{draw_highlights, Highlights};
use anyhow::{bail, Result};
use candle_core::{Device, D};
use rollout::{crop, head_mean, rollout, vec_mat, Square};
use select::{argmax, pick_examples};
use std::path::{Path, PathBuf};

/// More labels than this are unreadable: longer texts show a window around the
/// most attended token.
const WINDOW: usize = 40;
const TOP_TOKENS: usize = 10;

pub enum Choice {
    /// `count` examples picked from the validation split.
    Examples(usize),
    /// Validation rows by index.
    Indices(Vec<usize>),
    /// The user's own texts (no true label).
    Texts(Vec<String>),
}

/// One example ready to draw.
struct Example {
    name: String,
    ids: Vec<u32>,
    truth: Option<u32>,
}

fn choose(saved: &SavedRun, choice: &Choice, device: &Device) -> Result<Vec<Example>> {
    if let Choice::Texts(texts) = choice {
        let encoded = crate::train::run::encode_split(
            &saved.tokenizer,
            &crate::data::dataset::Dataset {
                texts: texts.clone(),
                labels: vec![0; texts.len()],
            },
            &saved.options,
        )?;
        return Ok(encoded
            .ids
            .into_iter()
            .enumerate()
            .map(|(k, ids)| Example {
                name: format!("text_{}", k + 1),
                ids,
                truth: None,
            })
            .collect());
    }
    let val = saved.split("val")?;
    let picked: Vec<(usize, String)> = match choice {
        Choice::Indices(indices) => {
            if let Some(&bad) = indices.iter().find(|&&i| i >= val.ids.len()) {
                bail!(
                    "--index {bad} is out of range: the validation split has {} examples",
                    val.ids.len()
                );
            }
            indices.iter().map(|&i| (i, format!("val_{i}"))).collect()
        }
        Choice::Examples(count) => {
            let probs = predict_probs(
                &saved.model,
                &val.ids,
                saved.options.eval_batch_size,
                device,
            )?;
            pick_examples(&probs, &val.labels, &saved.labels, *count)
        }
        Choice::Texts(_) => unreachable!("handled above"),
    };
    Ok(picked
        .into_iter()
        .map(|(i, name)| Example {
            name,
            ids: val.ids[i].clone(),
            truth: Some(val.labels[i]),
        })
        .collect())
}

/// What `--json` exports per example, and the HTML page browses.
#[derive(Clone, serde::Serialize)]
pub struct ExampleRecord {
    pub name: String,
    pub tokens: Vec<String>,
    pub truth: Option<String>,
    pub predicted: String,
    pub probability: f32,
    pub probs: Vec<f32>,
    /// Attention the pooled output receives (last layer), and rollout, per token.
    pub pooled: Vec<f32>,
    pub rolled: Vec<f32>,
    /// [layer][head] -> (n x n) row-major over all real tokens; empty in the HTML page.
    pub layers: Vec<Vec<Square>>,
    /// The readable window the figures show, and its maps [layer][head].
    pub window_start: usize,
    pub window_tokens: Vec<String>,
    pub window_maps: Vec<Vec<Square>>,
}

pub struct AttnOutput {
    pub written: Vec<PathBuf>,
    pub examples: Vec<ExampleRecord>,
}

/// One forward pass with attention kept, as plain vectors.
pub struct Capture {
    /// Per layer, (B, H, L, L) flattened.
    layers: Vec<Vec<f32>>,
    /// (B, L) pooling weights of each example.
    pooling: Vec<Vec<f32>>,
    pub probs: Vec<Vec<f32>>,
    heads: usize,
    len: usize,
}

/// What one example's attention says, restricted to its real tokens.
pub struct Maps {
    /// [layer][head] -> (real x real)
    pub per_head: Vec<Vec<Square>>,
    /// [layer] -> head mean (real x real)
    pub means: Vec<Square>,
    /// Attention the pooled vector receives from each token (last layer).
    pub pooled: Vec<f32>,
    /// The same through attention rollout over all layers.
    pub rolled: Vec<f32>,
}

impl Capture {
    pub fn run(
        saved: &SavedRun,
        input_ids: &candle_core::Tensor,
        attention_mask: &candle_core::Tensor,
    ) -> Result<Self> {
        let out = saved.model.forward(
            input_ids,
            attention_mask,
            saved.model.masks(),
            true,
            &mut Mode::Eval,
        )?;
        let (_, heads, len, _) = out.attn[0].dims4()?;
        Ok(Self {
            layers: out
                .attn
                .iter()
                .map(|a| a.flatten_all()?.to_vec1())
                .collect::<candle_core::Result<_>>()?,
            pooling: out.pooling.to_vec2()?,
            probs: candle_nn::ops::softmax(&out.logits, D::Minus1)?.to_vec2()?,
            heads,
            len,
        })
    }

    pub fn maps(&self, b: usize, real: usize) -> Maps {
        let (heads, len) = (self.heads, self.len);
        let per_head: Vec<Vec<Square>> = self
            .layers
            .iter()
            .map(|l| {
                (0..heads)
                    .map(|h| crop(&l[(b * heads + h) * len * len..][..len * len], len, real))
                    .collect()
            })
            .collect();
        let means: Vec<Square> = per_head.iter().map(|h| head_mean(h)).collect();
        let pool = &self.pooling[b][..real];
        let pooled = vec_mat(pool, means.last().expect("at least one layer"));
        let rolled = vec_mat(pool, &rollout(&means, real));
        Maps {
            per_head,
            means,
            pooled,
            rolled,
        }
    }
}

pub fn token_strings(saved: &SavedRun, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&id| {
            saved
                .tokenizer
                .id_to_token(id)
                .unwrap_or_else(|| format!("#{id}"))
        })
        .collect()
}

/// Draw every chosen example into `figures`; returns the files written and the data.
/// With `compare_masks`, the first example is also drawn under switched masks (see `compare`).
pub fn xray_attention(
    saved: &SavedRun,
    choice: &Choice,
    figures: &Path,
    compare_masks: bool,
    device: &Device,
) -> Result<AttnOutput> {
    let examples = choose(saved, choice, device)?;
    std::fs::create_dir_all(figures)?;
    let mut written = Vec::new();
    let mut records = Vec::new();
    if let (true, Some(first)) = (compare_masks, examples.first()) {
        written.extend(compare::compare_masks(saved, &first.ids, figures, device)?);
    }
    let seqs: Vec<&[u32]> = examples.iter().map(|e| e.ids.as_slice()).collect();
    // One padded batch, as in training: the maps crop the pads, the mask strip shows them.
    let batch = collate(&seqs, &vec![0; seqs.len()], device)?;
    let capture = Capture::run(saved, &batch.input_ids, &batch.attention_mask)?;
    let masks: Vec<Vec<u32>> = batch.attention_mask.to_vec2()?;
    let heads = capture.heads;
    for (b, example) in examples.iter().enumerate() {
        let real = example.ids.len();
        let tokens = token_strings(saved, &example.ids);
        let Maps {
            per_head,
            means,
            pooled,
            rolled,
        } = capture.maps(b, real);
        let probs = &capture.probs;
        let predicted = argmax(&probs[b]);
        let verdict = format!(
            "true {} · predicted {} (p = {:.3})",
            example
                .truth
                .map_or("?".to_string(), |t| saved.labels[t as usize].clone()),
            saved.labels[predicted],
            probs[b][predicted]
        );
        let window = window_around(&rolled, &tokens);
        let shown: Vec<String> = tokens[window.clone()].to_vec();
        let span = if window.len() < real {
            format!(" · tokens {}–{} of {real}", window.start, window.end - 1)
        } else {
            String::new()
        };
        for (l, (mean, heads_l)) in means.iter().zip(&per_head).enumerate() {
            let sub = |m: &Square| submatrix(m, real, window.clone());
            let mean_w = sub(mean);
            let path = figures.join(format!("attn_{}_layer{}.png", example.name, l + 1));
            let title = format!(
                "{} · layer {} (mean of {heads} heads) · {verdict}{span}",
                example.name,
                l + 1
            );
            draw_heatmap(
                &Heatmap {
                    title,
                    weights: &mean_w,
                    tokens: &shown,
                },
                &masks[b],
                &path,
            )?;
            written.push(path);
            let head_maps: Vec<Square> = heads_l.iter().map(sub).collect();
            let grid: Vec<Heatmap> = head_maps
                .iter()
                .enumerate()
                .map(|(h, w)| Heatmap {
                    title: format!(
                        "head {} (scale 0 to {:.3})",
                        h + 1,
                        w.iter().cloned().fold(0.0, f32::max)
                    ),
                    weights: w,
                    tokens: &shown,
                })
                .collect();
            let path = figures.join(format!("attn_{}_layer{}_heads.png", example.name, l + 1));
            draw_grid(
                &format!("{} · layer {} · every head{span}", example.name, l + 1),
                &grid,
                &path,
            )?;
            written.push(path);
        }
        let path = figures.join(format!("attn_{}_text.png", example.name));
        let panels = [
            Highlights { caption: "attention the pooled output receives (last layer, mean of heads; white = least, orange = most)".into(), tokens: &tokens, weights: &pooled },
            Highlights { caption: "attention rollout across all layers (Abnar & Zuidema 2020; white = least, orange = most)".into(), tokens: &tokens, weights: &rolled },
        ];
        draw_highlights(&format!("{} · {verdict}", example.name), &panels, &path)?;
        written.push(path);
        let md = explanation(
            &example.name,
            &verdict,
            &saved.labels[predicted],
            &tokens,
            &pooled,
            &rolled,
        );
        let path = figures.join(format!("attn_{}.md", example.name));
        atomic_write(&path, md.as_bytes())?;
        written.push(path);
        let window_maps = per_head
            .iter()
            .map(|heads| {
                heads
                    .iter()
                    .map(|m| submatrix(m, real, window.clone()))
                    .collect()
            })
            .collect();
        records.push(ExampleRecord {
            name: example.name.clone(),
            truth: example.truth.map(|t| saved.labels[t as usize].clone()),
            predicted: saved.labels[predicted].clone(),
            probability: probs[b][predicted],
            probs: probs[b].clone(),
            window_start: window.start,
            window_tokens: shown,
            window_maps,
            layers: per_head,
            tokens,
            pooled,
            rolled,
        });
    }
    Ok(AttnOutput {
        written,
        examples: records,
    })
}

pub fn is_special(token: &str) -> bool {
    token.starts_with('[') && token.ends_with(']')
}

/// At most WINDOW tokens, centred on the most weighted non-special token.
fn window_around(weights: &[f32], tokens: &[String]) -> std::ops::Range<usize> {
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

fn submatrix(m: &[f32], n: usize, range: std::ops::Range<usize>) -> Square {
    range
        .clone()
        .flat_map(|i| m[i * n + range.start..i * n + range.end].to_vec())
        .collect()
}

/// The top non-special tokens by weight, as (token, weight).
fn top_tokens(tokens: &[String], weights: &[f32]) -> Vec<(String, f32)> {
    let mut order: Vec<usize> = (0..tokens.len())
        .filter(|&k| !is_special(&tokens[k]))
        .collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
    order
        .into_iter()
        .take(TOP_TOKENS)
        .map(|k| (tokens[k].clone(), weights[k]))
        .collect()
}

fn explanation(
    name: &str,
    verdict: &str,
    predicted: &str,
    tokens: &[String],
    pooled: &[f32],
    rolled: &[f32],
) -> String {
    let table = |weights: &[f32]| {
        top_tokens(tokens, weights)
            .iter()
            .enumerate()
            .map(|(k, (t, w))| format!("| {} | `{t}` | {w:.4} |", k + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let top = top_tokens(tokens, rolled);
    let share: f32 = top.iter().take(3).map(|(_, w)| w).sum();
    let words: Vec<String> = top
        .iter()
        .take(3)
        .map(|(t, _)| format!("\"{t}\""))
        .collect();
    let text: String = tokens
        .iter()
        .filter(|t| !is_special(t))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ##", "");
    let excerpt: String = text.chars().take(400).collect();
    format!(
"# {name}: {verdict}

> {excerpt}{}

Rolled-out attention puts {:.0}% of the pooled output's weight on {}, for a **{predicted}** prediction.

## Top tokens by attention rollout

| rank | token | weight |
| --- | --- | --- |
{}

## Top tokens by the attention the pooled output receives (last layer)

| rank | token | weight |
| --- | --- | --- |
{}

Attention shows where information flows, not why the model decided: a token can
carry weight without changing the prediction. Figures: `attn_{name}_layer*.png`,
`attn_{name}_layer*_heads.png`, `attn_{name}_text.png`.
",
        if text.chars().count() > 400 { "…" } else { "" }, 100.0 * share, words.join(", "), table(rolled), table(pooled))
}
