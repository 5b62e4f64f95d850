//! A run's data: the three splits loaded with its seed (and `--limit`), then
//! tokenized and truncated with its tokenizer.

use super::options::TrainOptions;
use crate::data::dataset::{load_splits, stratified_split, Dataset, Splits};
use crate::data::tokenize::{encode, strip_markup};
use anyhow::{bail, Result};
use std::borrow::Cow;
use tokenizers::Tokenizer;

/// Token ids (specials included, truncated) and class ids of one split.
#[derive(Clone, Debug, Default)]
pub struct EncodedSplit {
    pub ids: Vec<Vec<u32>>,
    pub labels: Vec<u32>,
}

impl EncodedSplit {
    pub fn lengths(&self) -> Vec<usize> {
        self.ids.iter().map(Vec::len).collect()
    }

    pub fn subset(&self, rows: &[usize]) -> Self {
        Self {
            ids: rows.iter().map(|&i| self.ids[i].clone()).collect(),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    pub fn real_tokens(&self) -> usize {
        self.ids.iter().map(Vec::len).sum()
    }
}

/// The three splits, tokenized and truncated.
pub struct EncodedSplits {
    pub train: EncodedSplit,
    pub val: EncodedSplit,
    pub test: EncodedSplit,
}

impl EncodedSplits {
    pub fn new(tokenizer: &Tokenizer, splits: &Splits, opts: &TrainOptions) -> Result<Self> {
        Ok(Self {
            train: encode_split(tokenizer, &splits.train, opts)?,
            val: encode_split(tokenizer, &splits.val, opts)?,
            test: encode_split(tokenizer, &splits.test, opts)?,
        })
    }
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

/// A training split must hold at least two classes; a class missing from any
/// split is worth a warning (its F1 is 0, or undefined).
pub fn check_classes(splits: &Splits) -> Result<()> {
    let n = splits.label_names.len();
    let train = splits.train.counts_per_label(n);
    let present: Vec<&String> = (0..n)
        .filter(|&c| train[c] > 0)
        .map(|c| &splits.label_names[c])
        .collect();
    if present.len() < 2 {
        bail!(
            "{}: the training split holds only the class(es) {present:?} of {:?}; \
             a classifier needs examples of at least 2 classes",
            splits.name,
            splits.label_names
        );
    }
    for (split, data) in [
        ("train", &splits.train),
        ("val", &splits.val),
        ("test", &splits.test),
    ] {
        let counts = data.counts_per_label(n);
        for (class, name) in splits.label_names.iter().enumerate() {
            if counts[class] == 0 {
                eprintln!(
                    "warning: {}: the {split} split has no example of class {name:?}",
                    splits.name
                );
            }
        }
    }
    Ok(())
}

pub fn load_data(opts: &TrainOptions) -> Result<Splits> {
    let mut splits = load_splits(&opts.dataset, opts.val_frac, opts.seed)?;
    splits.train = limited(std::mem::take(&mut splits.train), opts.limit, opts.seed);
    splits.val = limited(std::mem::take(&mut splits.val), opts.limit, opts.seed);
    splits.test = limited(std::mem::take(&mut splits.test), opts.limit, opts.seed);
    let sizes = [splits.train.len(), splits.val.len(), splits.test.len()];
    if sizes.contains(&0) {
        bail!(
            "{}: a split is empty after splitting (train {}, val {}, test {}); \
             use more data or a larger --val-frac",
            splits.name,
            sizes[0],
            sizes[1],
            sizes[2]
        );
    }
    Ok(splits)
}

pub fn encode_split(
    tokenizer: &Tokenizer,
    data: &Dataset,
    opts: &TrainOptions,
) -> Result<EncodedSplit> {
    let texts = prepared(&data.texts, opts);
    let encoded = encode(tokenizer, &texts, opts.model.max_len, opts.truncate)?;
    Ok(EncodedSplit {
        ids: encoded.ids,
        labels: data.labels.clone(),
    })
}

/// Texts without labels (the user's own, in `predict` and `attn --text`).
pub fn encode_texts(
    tokenizer: &Tokenizer,
    texts: &[String],
    opts: &TrainOptions,
) -> Result<Vec<Vec<u32>>> {
    let texts = prepared(texts, opts);
    Ok(encode(tokenizer, &texts, opts.model.max_len, opts.truncate)?.ids)
}

/// The texts as the run's tokenizer sees them: with `--strip-markup`, without
/// HTML line breaks. Every text a run reads, its tokenizer's training included,
/// passes here.
pub fn prepared<'a>(texts: &'a [String], opts: &TrainOptions) -> Cow<'a, [String]> {
    if opts.strip_markup {
        Cow::Owned(texts.iter().map(|t| strip_markup(t)).collect())
    } else {
        Cow::Borrowed(texts)
    }
}
