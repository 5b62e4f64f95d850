//! Minimal pairs: two texts that differ by a word or two and should (or should
//! not) flip the verdict. Each text's prediction and its Integrated Gradients
//! side by side show whether the model reads the change (a negation, an
//! intensifier, a positive word inside a negative review) or counts cues.

use super::attribution::{attribute, Baseline, IG_STEPS};
use super::capture::{is_special, top_k};
use crate::modes::saved_run::SavedRun;
use crate::runner::inference::argmax;
use crate::runner::inference::predict_probs;
use crate::train::data::encode_texts;
use crate::util::fsutil::atomic_write;
use crate::viz::highlight::{draw_highlights, Highlights};
use anyhow::Result;
use candle_core::Device;
use std::path::{Path, PathBuf};

/// (what the pair tests, first text, second text).
pub const PAIRS: [(&str, &str, &str); 5] = [
    ("negation", "Not bad at all.", "Bad."),
    (
        "negation at the end",
        "I expected it to be great, and it was not.",
        "I expected it to be great, and it was.",
    ),
    (
        "intensifier",
        "The film was good.",
        "The film was really, truly good.",
    ),
    (
        "a positive word in a negative review",
        "The only good thing about this film is the poster; everything else is awful.",
        "Everything about this film is awful.",
    ),
    (
        "negated praise",
        "I did not like the story and the acting was not good.",
        "I liked the story and the acting was good.",
    ),
];

struct Read {
    tokens: Vec<String>,
    label: String,
    probability: f32,
    integrated: Vec<f32>,
}

fn read(saved: &SavedRun, ids: &[u32], probs: &[f32], device: &Device) -> Result<Read> {
    let tokens = saved.tokens(ids);
    let special: Vec<bool> = tokens.iter().map(|t| is_special(t)).collect();
    let a = attribute(&saved.model, ids, &special, IG_STEPS, Baseline::Pad, device)?;
    let class = argmax(probs);
    Ok(Read {
        label: saved.labels[class].clone(),
        probability: probs[class],
        integrated: a.integrated,
        tokens,
    })
}

/// figures/attn_pairs.png and attn_pairs.md; returns the files written.
pub fn draw_pairs(saved: &SavedRun, figures: &Path, device: &Device) -> Result<Vec<PathBuf>> {
    let texts: Vec<String> = PAIRS
        .iter()
        .flat_map(|(_, a, b)| [a.to_string(), b.to_string()])
        .collect();
    let ids = encode_texts(&saved.tokenizer, &texts, &saved.options)?;
    let probs = predict_probs(&saved.model, &ids, saved.options.eval_batch_size, device)?;
    let reads: Vec<Read> = ids
        .iter()
        .zip(&probs)
        .map(|(ids, p)| read(saved, ids, p, device))
        .collect::<Result<_>>()?;
    let panels: Vec<Highlights> = reads
        .iter()
        .enumerate()
        .map(|(k, r)| Highlights {
            caption: format!(
                "{} {}: {} (p = {:.3})",
                PAIRS[k / 2].0,
                if k % 2 == 0 { "A" } else { "B" },
                r.label,
                r.probability
            ),
            tokens: &r.tokens,
            weights: &r.integrated,
            signed: true,
            top: top_k(&r.integrated, &r.tokens, 2),
        })
        .collect();
    let png = figures.join("attn_pairs.png");
    draw_highlights(
        "Minimal pairs · Integrated Gradients: red pushes towards the predicted label, blue away",
        &panels,
        &png,
    )?;
    let rows: Vec<String> = PAIRS
        .iter()
        .enumerate()
        .map(|(p, (what, a, b))| {
            let (ra, rb) = (&reads[2 * p], &reads[2 * p + 1]);
            let top = |r: &Read| {
                let words: Vec<String> = top_k(&r.integrated, &r.tokens, 2)
                    .iter()
                    .map(|&k| format!("`{}`", r.tokens[k]))
                    .collect();
                words.join(", ")
            };
            format!(
                "| {what} | {a} | {} {:.3} ({}) | {b} | {} {:.3} ({}) |",
                ra.label,
                ra.probability,
                top(ra),
                rb.label,
                rb.probability,
                top(rb)
            )
        })
        .collect();
    let md = format!(
        "# Minimal pairs\n\nEach row: two texts that differ by a word or two, the prediction \
         (p of the predicted label) and the two words Integrated Gradients finds pushing \
         hardest towards it. A model that reads should flip on a negation and keep its \
         verdict under an intensifier; a bag of cues does not.\n\n\
         | test | text A | A: prediction (top words) | text B | B: prediction (top words) |\n\
         | --- | --- | --- | --- | --- |\n{}\n\nFigure: `attn_pairs.png`.\n",
        rows.join("\n")
    );
    let path = figures.join("attn_pairs.md");
    atomic_write(&path, md.as_bytes())?;
    Ok(vec![png, path])
}
