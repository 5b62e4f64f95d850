//! `xray inspect`: one real batch through a trained run, printed as JSON — the
//! tokens, the collator's `input_ids` and `attention_mask`, the additive masks
//! the attention adds, and the shape and values at each stage of the forward
//! pass. What the notebook shows; nothing here is computed apart from the model's
//! own code (the collator, `attention_bias`, one `Classifier::forward`).

use crate::data::collate::collate_unlabelled;
use crate::kernels;
use crate::model::mask::attention_bias;
use crate::model::{Forward, Masks, Output};
use crate::modes::saved_run::SavedRun;
use crate::train::data::encode_texts;
use crate::util::device::{select_device, DeviceArg};
use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use serde_json::{json, Value};
use std::path::PathBuf;

/// What `xray inspect` is asked.
pub struct InspectRequest {
    pub run: PathBuf,
    /// Texts to batch; none: the `rows` shortest validation reviews.
    pub texts: Vec<String>,
    pub rows: usize,
    pub device: DeviceArg,
}

pub fn run(cmd: InspectRequest) -> Result<()> {
    let device = select_device(cmd.device)?;
    let saved = SavedRun::open(&cmd.run, &device)?;
    let report = inspect(&saved, &cmd.texts, cmd.rows, &device)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// The report for `texts`, or with none the `rows` shortest validation reviews.
pub fn inspect(saved: &SavedRun, texts: &[String], rows: usize, device: &Device) -> Result<Value> {
    let (ids, gold) = if texts.is_empty() {
        shortest(saved, rows)?
    } else {
        (
            encode_texts(&saved.tokenizer, texts, &saved.options)?,
            Vec::new(),
        )
    };
    let seqs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let batch = collate_unlabelled(&seqs, device)?;
    let out = saved.model.forward(
        &batch.input_ids,
        &batch.attention_mask,
        Forward::eval().keep_attn(),
    )?;
    let probs = kernels::softmax_last(&out.logits, None, 1.0)?;
    let (b, l) = batch.input_ids.dims2()?;
    Ok(json!({
        "run": saved.dir,
        "config": saved.config,
        "labels": saved.labels,
        "texts": ids.iter().map(|row| decode(saved, row)).collect::<Result<Vec<_>>>()?,
        "gold": gold,
        "tokens": ids.iter().map(|row| saved.tokens(row)).collect::<Vec<_>>(),
        "input_ids": batch.input_ids.to_vec2::<u32>()?,
        "attention_mask": batch.attention_mask.to_vec2::<u32>()?,
        "padding_share": 1.0 - batch.real_tokens as f64 / (b * l) as f64,
        "masks": masks(&batch.attention_mask)?,
        "stages": stages(saved, &batch.input_ids, &out)?,
        "attention": out.attn.iter().map(per_head).collect::<Result<Vec<_>>>()?,
        "pooling": out.pooling.to_vec2::<f32>()?,
        "probabilities": probs.to_vec2::<f32>()?,
    }))
}

/// The `rows` shortest validation texts (a batch small enough to read), with
/// unequal lengths so that the collator pads, and their labels.
fn shortest(saved: &SavedRun, rows: usize) -> Result<(Vec<Vec<u32>>, Vec<String>)> {
    anyhow::ensure!(rows > 0, "--rows must be at least 1");
    let val = saved.split("val")?;
    let mut order: Vec<usize> = (0..val.ids.len()).collect();
    order.sort_by_key(|&i| val.ids[i].len());
    order.dedup_by_key(|&mut i| val.ids[i].len());
    order.truncate(rows);
    let gold = order
        .iter()
        .map(|&i| saved.labels[val.labels[i] as usize].clone());
    Ok((
        order.iter().map(|&i| val.ids[i].clone()).collect(),
        gold.collect(),
    ))
}

/// The text the model reads (special tokens dropped, truncation applied).
fn decode(saved: &SavedRun, ids: &[u32]) -> Result<String> {
    saved
        .tokenizer
        .decode(ids, true)
        .map_err(anyhow::Error::msg)
}

/// Each stage of the forward pass in order, as the model produced it.
fn stages(saved: &SavedRun, input_ids: &Tensor, out: &Output) -> Result<Vec<Value>> {
    let mut stages = vec![
        stage("input_ids", input_ids),
        stage(
            "token embeddings",
            &saved.model.token_embeddings(input_ids)?,
        ),
    ];
    for (i, weights) in out.attn.iter().enumerate() {
        stages.push(stage(
            &format!("block {}: attention weights", i + 1),
            weights,
        ));
    }
    stages.extend([
        stage("hidden states (final norm)", &out.hidden),
        stage("pooling weights", &out.pooling),
        stage("logits", &out.logits),
    ]);
    Ok(stages)
}

fn stage(name: &str, t: &Tensor) -> Value {
    json!({ "stage": name, "shape": t.dims(), "dtype": format!("{:?}", t.dtype()) })
}

/// The three additive biases for the batch, as the attention adds them to the
/// scores of row `b` (L, L): 0 where a query may look, MASK_FILL where not.
fn masks(attention_mask: &Tensor) -> Result<Value> {
    let (b, l) = attention_mask.dims2()?;
    let real = attention_mask.sum(1)?.to_vec1::<u32>()?;
    let row = (0..b).min_by_key(|&i| real[i]).context("an empty batch")?; // the most padded
    let bias = |padding, causal| -> Result<Value> {
        let masks = Masks { padding, causal };
        let full = attention_bias(attention_mask, masks, DType::F32)?
            .context("a mask was asked for")?
            .broadcast_as((b, 1, l, l))?
            .get(row)?
            .squeeze(0)?;
        Ok(json!(full.to_vec2::<f32>()?))
    };
    Ok(json!({
        "row": row,
        "padding": bias(true, false)?,
        "causal": bias(false, true)?,
        "both": bias(true, true)?,
    }))
}

/// (B, H, L, L) -> nested lists [row][head][query][key].
fn per_head(weights: &Tensor) -> Result<Vec<Vec<Vec<Vec<f32>>>>> {
    let b = weights.dim(0)?;
    (0..b)
        .map(|i| Ok(weights.get(i)?.to_dtype(DType::F32)?.to_vec3::<f32>()?))
        .collect()
}
