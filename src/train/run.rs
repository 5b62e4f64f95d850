//! The training loop, top to bottom: data, tokenizer, model, optimizer, then one
//! loop with the learning-rate rule, per-epoch validation, best and last checkpoints.

use super::checkpoint::{load_checkpoint, save_checkpoint, CurvePoint, EpochRecord, LoopState};
use super::evaluate::{evaluate, EncodedSplit};
use super::optim::{learning_rate, AdamW, AdamWConfig};
use super::options::TrainOptions;
use super::report::{write_outputs, RunFiles};
use crate::data::collate::{collate, epoch_batches, padding_fraction};
use crate::data::dataset::{load_splits, stratified_split, Dataset, Splits};
use crate::data::tokenize::{
    build_tokenizer, encode, load_tokenizer, save_tokenizer, TokenizerSpec,
};
use crate::fsutil::atomic_write;
use crate::model::store::{detached_model, init_model, load_weights, save_model, WEIGHTS_FILE};
use crate::model::{Classifier, Mode};
use crate::rng::Rng;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, D};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokenizers::Tokenizer;

/// A point of the training curve this often; without a terminal (a log file),
/// also a progress line instead of a bar.
const CURVE_EVERY_STEPS: usize = 50;

/// How a run may be stopped early: Ctrl-C, or (for tests) after a number of steps.
#[derive(Clone, Default)]
pub struct Control {
    pub interrupt: Arc<AtomicBool>,
    pub stop_after_steps: Option<usize>,
}

pub enum Outcome {
    Finished(super::report::FinalMetrics),
    /// Stopped on request with a resumable checkpoint in the run folder.
    Interrupted(PathBuf),
}

/// The three splits, tokenized and truncated.
pub struct EncodedSplits {
    pub train: EncodedSplit,
    pub val: EncodedSplit,
    pub test: EncodedSplit,
}

/// At most `limit` examples, a seeded stratified sample (quick runs keep every class).
fn limited(data: Dataset, limit: Option<usize>, seed: u64) -> Dataset {
    match limit {
        Some(n) if n < data.len() => {
            let (_, keep) = stratified_split(&data.labels, n as f64 / data.len() as f64, seed);
            data.subset(&keep)
        }
        _ => data,
    }
}

pub fn load_data(opts: &TrainOptions) -> Result<Splits> {
    let mut splits = load_splits(&opts.dataset, opts.val_frac, opts.seed)?;
    splits.train = limited(std::mem::take(&mut splits.train), opts.limit, opts.seed);
    splits.val = limited(std::mem::take(&mut splits.val), opts.limit, opts.seed);
    splits.test = limited(std::mem::take(&mut splits.test), opts.limit, opts.seed);
    if splits.train.is_empty() || splits.val.is_empty() || splits.test.is_empty() {
        bail!("{}: a split is empty after splitting (train {}, val {}, test {}); use more data or a larger --val-frac",
            splits.name, splits.train.len(), splits.val.len(), splits.test.len());
    }
    Ok(splits)
}

pub fn encode_split(
    tokenizer: &Tokenizer,
    data: &Dataset,
    opts: &TrainOptions,
) -> Result<EncodedSplit> {
    let encoded = encode(tokenizer, &data.texts, opts.model.max_len, opts.truncate)?;
    Ok(EncodedSplit {
        ids: encoded.ids,
        labels: data.labels.clone(),
    })
}

/// Start a new run in `files.run`.
pub fn train(
    mut opts: TrainOptions,
    files: &RunFiles,
    device: &Device,
    control: &Control,
) -> Result<Outcome> {
    let splits = load_data(&opts)?;
    let spec: TokenizerSpec = opts.tokenizer.parse()?;
    let tokenizer = build_tokenizer(&spec, &splits.train.texts)?;
    opts.model.vocab_size = tokenizer.get_vocab_size(true);
    opts.model.n_classes = splits.label_names.len();
    opts.model.validate()?;
    std::fs::create_dir_all(&files.run)
        .with_context(|| format!("creating {}", files.run.display()))?;
    save_tokenizer(&tokenizer, &files.run.join("tokenizer.json"))?;
    atomic_write(
        &files.run.join("train_args.json"),
        &serde_json::to_vec_pretty(&opts)?,
    )?;
    atomic_write(
        &files.run.join("labels.json"),
        &serde_json::to_vec_pretty(&splits.label_names)?,
    )?;
    files.point_latest_here()?;
    fit(&opts, &splits, &tokenizer, files, device, control, false)
}

/// Continue the run in `files.run` from its last checkpoint, with its saved options.
pub fn resume(files: &RunFiles, device: &Device, control: &Control) -> Result<Outcome> {
    let opts = read_train_args(&files.run)?;
    let splits = load_data(&opts)?;
    let tokenizer = load_tokenizer(&files.run.join("tokenizer.json"))?;
    fit(&opts, &splits, &tokenizer, files, device, control, true)
}

pub fn read_train_args(run: &Path) -> Result<TrainOptions> {
    let path = run.join("train_args.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}: is {} a training run folder?",
            path.display(),
            run.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn fit(
    opts: &TrainOptions,
    splits: &Splits,
    tokenizer: &Tokenizer,
    files: &RunFiles,
    device: &Device,
    control: &Control,
    resuming: bool,
) -> Result<Outcome> {
    let wall = Instant::now();
    let data = EncodedSplits {
        train: encode_split(tokenizer, &splits.train, opts)?,
        val: encode_split(tokenizer, &splits.val, opts)?,
        test: encode_split(tokenizer, &splits.test, opts)?,
    };
    let (model, varmap) = init_model(&opts.model, opts.seed, DType::F32, device)?;
    let eval_model = detached_model(&varmap, &opts.model, device)?;
    let vars = varmap.data().lock().expect("VarMap lock poisoned").clone();
    let adamw = AdamWConfig {
        weight_decay: opts.weight_decay,
        ..AdamWConfig::default()
    };
    let mut optimizer = AdamW::new(&vars, adamw)?;
    let mut state = if resuming {
        let state = load_checkpoint(&files.run, &varmap, &mut optimizer)?;
        println!(
            "resuming {} at epoch {}, batch {}",
            files.run.display(),
            state.epoch + 1,
            state.batch
        );
        state
    } else {
        save_model(&varmap, &opts.model, &files.run)?;
        LoopState::new(opts.seed)
    };

    let lengths = data.train.lengths();
    let steps_per_epoch = lengths.len().div_ceil(opts.batch_size);
    let total_steps = steps_per_epoch * opts.epochs;
    let warmup = (opts.warmup_frac * total_steps as f64).round() as usize;
    println!(
        "{}: {} train / {} val / {} test; {} steps per epoch; run folder {}",
        splits.name,
        splits.train.len(),
        splits.val.len(),
        splits.test.len(),
        steps_per_epoch,
        files.run.display()
    );

    while state.epoch < opts.epochs && state.epochs_since_best < opts.patience {
        let epoch = state.epoch;
        let batches = epoch_batches(
            &lengths,
            opts.batch_size,
            opts.bucket,
            &mut Rng::new(opts.seed * 1000 + epoch as u64),
        );
        let bar = crate::progress::bar(
            batches.len() as u64,
            "epoch {prefix} {bar:30} {pos}/{len} {msg} ETA {eta}",
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, opts.epochs));
        bar.set_position(state.batch as u64);
        while state.batch < batches.len() {
            if control.interrupt.load(Ordering::SeqCst)
                || control.stop_after_steps.is_some_and(|n| state.step >= n)
            {
                bar.finish_and_clear();
                save_checkpoint(&files.run, &varmap, &optimizer, &state)?;
                return Ok(Outcome::Interrupted(files.run.clone()));
            }
            let started = Instant::now();
            let batch_ids = &batches[state.batch];
            let lr = learning_rate(state.step, warmup, total_steps, opts.lr);
            let (loss, correct) = train_step(
                &model,
                &mut optimizer,
                &data.train,
                batch_ids,
                lr,
                opts.clip,
                &mut state.dropout_rng,
                device,
            )?;
            if !loss.is_finite() {
                bail!("the training loss became {loss} at epoch {}, step {}: stopped without saving; the last good \
                       checkpoint is in {}/last (try a lower --lr, then --resume)", epoch + 1, state.step, files.run.display());
            }
            state.batch += 1;
            state.step += 1;
            let s = &mut state.sums;
            s.epoch.add(loss, correct, batch_ids.len());
            s.window.add(loss, correct, batch_ids.len());
            s.real_tokens += batch_ids.iter().map(|&i| lengths[i]).sum::<usize>();
            s.seconds += started.elapsed().as_secs_f64();
            if state.batch % CURVE_EVERY_STEPS == 0 || state.batch == batches.len() {
                let w = std::mem::take(&mut s.window);
                s.curve.push(CurvePoint {
                    epoch: epoch as f64 + state.batch as f64 / batches.len() as f64,
                    loss: w.mean_loss(),
                    acc: w.accuracy(),
                });
            }
            let status = format!(
                "loss {:.4} acc {:.3} {:.0} tok/s",
                s.epoch.mean_loss(),
                s.epoch.accuracy(),
                s.real_tokens as f64 / s.seconds
            );
            if bar.is_hidden() && state.batch % CURVE_EVERY_STEPS == 0 {
                println!(
                    "epoch {}/{} step {}/{}  {status}",
                    epoch + 1,
                    opts.epochs,
                    state.batch,
                    batches.len()
                );
            }
            bar.set_message(status);
            bar.inc(1);
        }
        bar.finish_and_clear();
        let val = evaluate(
            &eval_model,
            &data.val,
            opts.eval_batch_size,
            &splits.label_names,
            device,
        )?;
        let s = std::mem::take(&mut state.sums);
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: s.epoch.mean_loss(),
            train_acc: s.epoch.accuracy(),
            val_loss: val.loss,
            val_acc: val.scores.accuracy,
            val_f1: val.scores.macro_f1,
            lr: learning_rate(state.step, warmup, total_steps, opts.lr),
            seconds: s.seconds,
            tokens_per_s: s.real_tokens as f64 / s.seconds,
            train_curve: s.curve,
        };
        let improved = state
            .best_val_loss
            .is_none_or(|best| record.val_loss < best);
        println!("epoch {}/{}  train loss {:.4} acc {:.4} | val loss {:.4} acc {:.4} F1 {:.4} | {:.0} s, {:.0} tok/s{}",
            record.epoch, opts.epochs, record.train_loss, record.train_acc, record.val_loss, record.val_acc, record.val_f1,
            record.seconds, record.tokens_per_s, if improved { "  (best so far)" } else { "" });
        if improved {
            state.best_val_loss = Some(record.val_loss);
            state.best_epoch = record.epoch;
            state.epochs_since_best = 0;
            save_model(&varmap, &opts.model, &files.run)?;
        } else {
            state.epochs_since_best += 1;
        }
        state.history.push(record);
        state.epoch += 1;
        state.batch = 0;
        write_history(&files.run, &state.history)?;
        save_checkpoint(&files.run, &varmap, &optimizer, &state)?;
    }

    // The best epoch's weights, evaluated once on the test split.
    load_weights(&varmap, &files.run.join(WEIGHTS_FILE))?;
    let test = evaluate(
        &eval_model,
        &data.test,
        opts.eval_batch_size,
        &splits.label_names,
        device,
    )?;
    let batches = epoch_batches(
        &lengths,
        opts.batch_size,
        opts.bucket,
        &mut Rng::new(opts.seed * 1000),
    );
    let padding = padding_fraction(&batches, &lengths);
    let metrics = write_outputs(
        files,
        opts,
        splits,
        &state,
        &test,
        padding,
        wall.elapsed().as_secs_f64(),
    )?;
    Ok(Outcome::Finished(metrics))
}

/// Forward, cross-entropy, backward, clip, AdamW. Returns the batch loss and the number correct.
#[allow(clippy::too_many_arguments)]
fn train_step(
    model: &Classifier,
    optimizer: &mut AdamW,
    data: &EncodedSplit,
    batch_ids: &[usize],
    lr: f64,
    clip: f64,
    rng: &mut Rng,
    device: &Device,
) -> Result<(f64, usize)> {
    let seqs: Vec<&[u32]> = batch_ids.iter().map(|&i| data.ids[i].as_slice()).collect();
    let labels: Vec<u32> = batch_ids.iter().map(|&i| data.labels[i]).collect();
    let batch = collate(&seqs, &labels, device)?;
    let out = model.forward(
        &batch.input_ids,
        &batch.attention_mask,
        model.masks(),
        false,
        &mut Mode::Train(rng),
    )?;
    let loss = candle_nn::loss::cross_entropy(&out.logits, &batch.labels)?;
    let correct = out
        .logits
        .argmax(D::Minus1)?
        .eq(&batch.labels)?
        .to_dtype(DType::U32)?
        .sum_all()?
        .to_scalar::<u32>()?;
    let mut grads = loss.backward()?;
    optimizer.clip_grad_norm(&mut grads, clip)?;
    optimizer.update(&grads, lr)?;
    Ok((loss.to_scalar::<f32>()? as f64, correct as usize))
}

fn write_history(run: &Path, history: &[EpochRecord]) -> Result<()> {
    let lines: Vec<String> = history
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<_, _>>()?;
    atomic_write(
        &run.join("history.jsonl"),
        format!("{}\n", lines.join("\n")).as_bytes(),
    )
}
