//! What `--json` exports per example and the HTML page browses.

use super::faithfulness::Faithfulness;
use super::heads::role_rules;
use super::rollout::Square;
use crate::util::fsutil::atomic_write;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Serialize, Deserialize)]
pub struct ExampleRecord {
    pub name: String,
    pub tokens: Vec<String>,
    pub truth: Option<String>,
    pub predicted: String,
    pub probability: f32,
    pub probs: Vec<f32>,
    /// Attention the pooled output receives (last layer), and rollout, per token.
    #[serde(rename = "pooled")]
    pub pooled_attn: Vec<f32>,
    pub rolled: Vec<f32>,
    /// The pooling head's own weights per token (uniform for mean pooling).
    pub pooling: Vec<f32>,
    /// Signed attributions per token towards the predicted class.
    pub grad_input: Vec<f32>,
    pub integrated: Vec<f32>,
    /// |sum of `integrated` − the margin's change from the baseline (every word [PAD])|.
    pub completeness_error: f32,
    /// [layer][head] -> mean attention entropy / ln(keys seen): 1 = uniform.
    pub entropy: Vec<Vec<f32>>,
    /// [layer][head] -> (n x n) row-major over all real tokens; empty in the HTML page.
    pub layers: Vec<Vec<Square>>,
    /// The readable window the figures show, and its maps [layer][head].
    pub window_start: usize,
    /// The positions the window shows, in order (stretches around the evidence;
    /// absent from older files, whose windows ran on from `window_start`).
    #[serde(default)]
    pub window_positions: Vec<usize>,
    pub window_tokens: Vec<String>,
    pub window_maps: Vec<Vec<Square>>,
    /// [layer][head] -> the weight each window key receives from every query
    /// that sees it (all of the text's, not only the window's), × uniform.
    #[serde(default)]
    pub window_received: Vec<Vec<Vec<f32>>>,
    /// How many keys each window row sees (1 / the uniform weight): the page's
    /// colour scale, as the PNG heatmaps', is weight × this.
    #[serde(default)]
    pub window_keys: Vec<f32>,
}

/// figures/attn_examples.json: every weight of every example.
pub fn write_json(records: &[ExampleRecord], path: &Path) -> Result<()> {
    let json = serde_json::json!({ "examples": records });
    atomic_write(path, &serde_json::to_vec(&json)?)
}

/// figures/attn.html: the page needs the readable windows only (the full
/// matrices would make it tens of MB), and the head cards when measured.
pub fn write_html(
    records: &[ExampleRecord],
    faithfulness: Option<&Faithfulness>,
    forming: serde_json::Value,
    path: &Path,
) -> Result<()> {
    let light: Vec<ExampleRecord> = records
        .iter()
        .map(|e| ExampleRecord {
            layers: Vec::new(),
            ..e.clone()
        })
        .collect();
    let mut page = serde_json::json!({ "examples": light, "forming": forming });
    if let Some(f) = faithfulness {
        page["heads"] = serde_json::to_value(&f.heads)?;
        page["heads_examples"] = f.examples.into();
        page["ig_toward"] = f.ig_toward.clone().into();
        page["role_rules"] = role_rules().into();
    }
    crate::viz::html::write_attention_page(&page, path)
}
