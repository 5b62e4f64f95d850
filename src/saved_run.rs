//! A finished run folder opened for use: model, tokenizer, labels and options,
//! shared by `eval`, `predict` and `profile --run`.

use crate::data::dataset::label_ids;
use crate::data::table::read_table;
use crate::data::tokenize::load_tokenizer;
use crate::model::{store, Classifier, Config};
use crate::train::checkpoint::read_state;
use crate::train::data::{encode_split, encode_texts, load_data, EncodedSplit};
use crate::train::evaluate::{evaluate, predict_probs, Evaluation};
use crate::train::options::TrainOptions;
use crate::train::report::RunFiles;
use anyhow::{Context, Result};
use candle_core::Device;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

pub struct SavedRun {
    pub dir: PathBuf,
    pub model: Classifier,
    pub config: Config,
    pub params: usize,
    pub options: TrainOptions,
    pub labels: Vec<String>,
    pub tokenizer: Tokenizer,
    /// The encoded validation split, built once: `attn` needs it for examples and faithfulness.
    val: std::sync::OnceLock<EncodedSplit>,
}

/// `--run DIR`, or `<root>/runs/latest`.
pub fn resolve_run(run: Option<&Path>, root: &Path) -> Result<PathBuf> {
    let dir = run.map_or_else(|| RunFiles::latest_link(root), Path::to_path_buf);
    dir.canonicalize().with_context(|| {
        format!(
            "no run folder at {}: train one first (xray train --dataset imdb) or pass --run DIR",
            dir.display()
        )
    })
}

/// A run counts once its first epoch has been validated: before that it has no
/// best weights, only (perhaps) a checkpoint to resume from.
pub fn check_finished(dir: &Path) -> Result<()> {
    if dir.join(store::WEIGHTS_FILE).is_file() {
        return Ok(());
    }
    let there = match read_state::<crate::train::checkpoint::LoopState>(dir)? {
        Some(s) => format!(
            "it holds a checkpoint at epoch {}, batch {} (last/); finish it with: \
             xray train --resume {}",
            s.epoch + 1,
            s.batch,
            dir.display()
        ),
        None => "it holds no checkpoint either: it was stopped before its first one; \
                 train it again"
            .into(),
    };
    anyhow::bail!(
        "{} has not finished an epoch yet, so it has no trained weights ({} is missing): {there}",
        dir.display(),
        store::WEIGHTS_FILE
    )
}

impl SavedRun {
    pub fn open(dir: &Path, device: &Device) -> Result<Self> {
        check_finished(dir)?;
        let (model, varmap, config) = store::load_model(dir, device)?;
        let labels_path = dir.join("labels.json");
        let labels: Vec<String> = serde_json::from_str(
            &std::fs::read_to_string(&labels_path)
                .with_context(|| format!("reading {}", labels_path.display()))?,
        )
        .with_context(|| format!("parsing {}", labels_path.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            params: store::param_count(&varmap),
            model,
            config,
            options: TrainOptions::read(dir)?,
            labels,
            tokenizer: load_tokenizer(&dir.join("tokenizer.json"))?,
            val: std::sync::OnceLock::new(),
        })
    }

    /// The run's own validation or test split, rebuilt with its seed.
    pub fn split(&self, name: &str) -> Result<EncodedSplit> {
        if let (Some(val), "val") = (self.val.get(), name) {
            return Ok(val.clone());
        }
        let splits = load_data(&self.options)?;
        let data = match name {
            "val" => &splits.val,
            "test" => &splits.test,
            other => anyhow::bail!("unknown split {other:?}: use test or val"),
        };
        let encoded = encode_split(&self.tokenizer, data, &self.options)?;
        if name == "val" {
            let _ = self.val.set(encoded.clone());
        }
        Ok(encoded)
    }

    /// A labelled file, its labels read with this run's label names.
    pub fn file(&self, path: &Path) -> Result<EncodedSplit> {
        let (data, _) = label_ids(read_table(path)?, Some(&self.labels), path)?;
        encode_split(&self.tokenizer, &data, &self.options)
    }

    pub fn evaluate(&self, data: &EncodedSplit, device: &Device) -> Result<Evaluation> {
        evaluate(
            &self.model,
            data,
            self.options.eval_batch_size,
            &self.labels,
            device,
        )
    }

    /// Class probabilities for raw texts.
    pub fn predict(&self, texts: &[String], device: &Device) -> Result<Vec<Vec<f32>>> {
        let ids = encode_texts(&self.tokenizer, texts, &self.options)?;
        predict_probs(&self.model, &ids, self.options.eval_batch_size, device)
    }
}
