//! A finished run folder opened for use: model, tokenizer, labels and options,
//! shared by `eval`, `predict` and `profile --run`.

use crate::data::dataset::{label_ids, Dataset};
use crate::data::table::read_table;
use crate::data::tokenize::{encode, load_tokenizer, tokens_of, Truncate};
use crate::model::{store, Classifier, Config};
use crate::runner::folder::{
    HISTORY_FILE, LABELS_FILE, METRICS_DIR, RUN_SUMMARY_FILE, TOKENIZER_FILE,
};
use crate::runner::inference::predict_probs;
use crate::train::calibrate::read_temperature;
use crate::train::data::{encode_split, encode_texts, load_data, prepared, EncodedSplit};
use crate::train::evaluate::{evaluate, Evaluation};
use crate::train::options::TrainOptions;
use crate::train::state::{check_finished, EpochRecord};
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

impl SavedRun {
    pub fn open(dir: &Path, device: &Device) -> Result<Self> {
        check_finished(dir)?;
        let (_, varmap, config) = store::load_model(dir, device)?;
        // Nothing that opens a saved run trains it: on detached weights a forward
        // records no gradient graph (attn's attributions differentiate with
        // respect to their own input embeddings, not the weights).
        let model = store::detached_model(&varmap, &config, device)?
            .with_temperature(read_temperature(dir)?);
        let labels_path = dir.join(LABELS_FILE);
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
            tokenizer: load_tokenizer(&dir.join(TOKENIZER_FILE))?,
            val: std::sync::OnceLock::new(),
        })
    }

    /// The run's own validation or test split, rebuilt with its seed.
    pub fn split(&self, name: &str) -> Result<EncodedSplit> {
        if let (Some(val), "val") = (self.val.get(), name) {
            return Ok(val.clone());
        }
        let spinner = crate::util::progress::spinner(format!(
            "rebuilding the {name} split from the run's data options (reading and tokenizing)"
        ));
        let encoded = encode_split(&self.tokenizer, &self.dataset(name)?, &self.options)?;
        spinner.finish_and_clear();
        if name == "val" {
            let _ = self.val.set(encoded.clone());
        }
        Ok(encoded)
    }

    /// The split with every text whole, no truncation: what `eval --by-length` cuts.
    pub fn whole_split(&self, name: &str) -> Result<EncodedSplit> {
        let spinner = crate::util::progress::spinner(format!(
            "rebuilding the {name} split with its texts whole (reading and tokenizing)"
        ));
        let data = self.dataset(name)?;
        let texts = prepared(&data.texts, &self.options);
        let ids = encode(&self.tokenizer, &texts, usize::MAX, Truncate::Head)?.ids;
        spinner.finish_and_clear();
        Ok(EncodedSplit {
            ids,
            labels: data.labels,
        })
    }

    /// The run's validation or test texts and labels, split again with its seed.
    fn dataset(&self, name: &str) -> Result<Dataset> {
        let mut splits = load_data(&self.options)?;
        Ok(match name {
            "val" => std::mem::take(&mut splits.val),
            "test" => std::mem::take(&mut splits.test),
            other => anyhow::bail!("unknown split {other:?}: use test or val"),
        })
    }

    /// The run's history.jsonl: one record per finished epoch.
    pub fn history(&self) -> Result<Vec<EpochRecord>> {
        let path = self.dir.join(HISTORY_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).with_context(|| format!("parsing {}", path.display())))
            .collect()
    }

    /// How many rows the validation split has, as the run's summary recorded it
    /// (None for a run without one): checked before the split is rebuilt.
    pub fn val_rows(&self) -> Option<usize> {
        let text = std::fs::read_to_string(self.dir.join(RUN_SUMMARY_FILE)).ok()?;
        let summary: serde_json::Value = serde_json::from_str(&text).ok()?;
        summary["rows"][1].as_u64().map(|n| n as usize)
    }

    /// Add `value` under `key` to the run summaries that exist: the run's own,
    /// and `<out>/metrics/`'s when it describes this run.
    pub fn record_in_summaries(
        &self,
        out: &Path,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<()> {
        let paths = [
            self.dir.join(RUN_SUMMARY_FILE),
            out.join(METRICS_DIR).join(RUN_SUMMARY_FILE),
        ];
        for path in paths.iter().filter(|p| p.is_file()) {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut summary: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            let same_run = summary["run"]
                .as_str()
                .and_then(|r| Path::new(r).canonicalize().ok())
                == self.dir.canonicalize().ok();
            if let (true, Some(map)) = (same_run, summary.as_object_mut()) {
                map.insert(key.into(), value.clone());
                crate::util::fsutil::atomic_write(path, &serde_json::to_vec_pretty(&summary)?)?;
            }
        }
        Ok(())
    }

    /// Each id as this run's vocabulary entry.
    pub fn tokens(&self, ids: &[u32]) -> Vec<String> {
        tokens_of(&self.tokenizer, ids)
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
