//! `xray attn`: pick examples (`select`), run them with attention kept
//! (`capture`), draw what the model looks at (`draw`: per-layer maps, every head,
//! pooled attention, rollout from `rollout`), explain each one (`explain`), and
//! export the records (`record`); `compare` shows the masks switched off,
//! `faithfulness` tests whether the ranked tokens matter, `heads` gives each head
//! its role, `watch` follows the heads while the model trains, `command` is the CLI mode.

pub mod attribution;
pub mod capture;
pub mod command;
pub mod compare;
pub mod draw;
pub mod explain;
pub mod faithfulness;
pub mod heads;
pub mod pairs;
pub mod record;
pub mod rollout;
pub mod select;
pub mod watch;

use crate::data::collate::collate_unlabelled;
use crate::modes::saved_run::SavedRun;
use crate::runner::inference::argmax;
use crate::util::fsutil::atomic_write;
use anyhow::{Context, Result};
use attribution::{attribute, Attribution, Baseline, IG_STEPS};
use candle_core::Device;
use capture::{Capture, Maps};
use draw::{draw_example, evidence_window, submatrix, Drawing};
use faithfulness::Faithfulness;
use record::ExampleRecord;
pub use select::Choice;
use std::path::{Path, PathBuf};

pub struct AttnOutput {
    pub written: Vec<PathBuf>,
    pub examples: Vec<ExampleRecord>,
}

/// Draw every chosen example into `figures`; returns the files written and the data.
/// With `compare_masks`, the first example is also drawn under switched masks (see `compare`).
pub fn xray_attention(
    saved: &SavedRun,
    choice: &Choice,
    figures: &Path,
    compare_masks: bool,
    faithfulness: Option<&Faithfulness>,
    device: &Device,
) -> Result<AttnOutput> {
    let examples = select::choose(saved, choice, device)?;
    std::fs::create_dir_all(figures).with_context(|| format!("creating {}", figures.display()))?;
    let mut written = Vec::new();
    if let (true, Some(first)) = (compare_masks, examples.first()) {
        written.extend(compare::compare_masks(saved, &first.ids, figures, device)?);
    }
    let seqs: Vec<&[u32]> = examples.iter().map(|e| e.ids.as_slice()).collect();
    // One padded batch, as in training: the maps crop the pads, the mask strip shows them.
    let batch = collate_unlabelled(&seqs, device)?;
    let capture = Capture::run(saved, &batch, None)?;
    let masks: Vec<Vec<u32>> = batch.attention_mask.to_vec2()?;
    let roles = faithfulness.map(|f| f.roles()).unwrap_or_default();
    let mut records = Vec::new();
    for (b, example) in examples.iter().enumerate() {
        let tokens = saved.tokens(&example.ids);
        let maps = capture.maps(b, tokens.len());
        let probs = &capture.probs[b];
        let predicted = argmax(probs);
        let truth = example.truth.map(|t| saved.labels[t as usize].clone());
        let verdict = format!(
            "true {} · predicted {} (p = {:.3})",
            truth.as_deref().unwrap_or("?"),
            saved.labels[predicted],
            probs[predicted]
        );
        let special: Vec<bool> = tokens.iter().map(|t| capture::is_special(t)).collect();
        let attribution = attribute(
            &saved.model,
            &example.ids,
            &special,
            IG_STEPS,
            Baseline::Pad,
            device,
        )?;
        let drawing = Drawing {
            name: &example.name,
            verdict: &verdict,
            predicted: &saved.labels[predicted],
            tokens: &tokens,
            mask: &masks[b],
            pool: saved.config.pool,
            integrated: &attribution.integrated,
            roles: &roles,
        };
        written.extend(draw_example(&drawing, &maps, figures)?);
        let md = explain::explanation(&drawing, &maps, &attribution, faithfulness);
        let path = figures.join(format!("attn_{}.md", example.name));
        atomic_write(&path, md.as_bytes())?;
        written.push(path);
        records.push(record(&drawing, truth, probs, maps, &attribution));
    }
    Ok(AttnOutput {
        written,
        examples: records,
    })
}

/// What `--json` and the page keep of one example: its weights, the window the
/// figures show, its attributions.
fn record(
    d: &Drawing,
    truth: Option<String>,
    probs: &[f32],
    maps: Maps,
    attribution: &Attribution,
) -> ExampleRecord {
    let tokens = d.tokens;
    let shown = evidence_window(d.integrated, tokens);
    let window_maps = maps
        .per_head
        .iter()
        .map(|heads| {
            heads
                .iter()
                .map(|m| submatrix(m, tokens.len(), &shown))
                .collect()
        })
        .collect();
    let keys = maps.keys_per_row();
    let window_received = maps
        .per_head
        .iter()
        .map(|heads| {
            heads
                .iter()
                .map(|m| {
                    let all = heads::received(m, tokens.len(), maps.causal);
                    shown.iter().map(|&k| all[k] as f32).collect()
                })
                .collect()
        })
        .collect();
    let predicted = argmax(probs);
    ExampleRecord {
        name: d.name.to_string(),
        truth,
        predicted: d.predicted.to_string(),
        probability: probs[predicted],
        probs: probs.to_vec(),
        window_start: shown.first().copied().unwrap_or(0),
        window_keys: shown.iter().map(|&k| keys[k]).collect(),
        window_tokens: shown.iter().map(|&k| tokens[k].clone()).collect(),
        window_positions: shown,
        window_maps,
        window_received,
        layers: maps.per_head,
        tokens: tokens.to_vec(),
        pooled_attn: maps.pooled_attn,
        rolled: maps.rolled,
        pooling: maps.pooling,
        completeness_error: attribution.completeness_error(),
        grad_input: attribution.grad_input.clone(),
        integrated: attribution.integrated.clone(),
        entropy: maps.entropy,
    }
}
