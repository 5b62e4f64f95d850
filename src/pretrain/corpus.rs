//! The pretraining corpus: a dataset's unlabeled text and its training split's
//! texts (labels unused; never its validation or test texts), plus the user's
//! `--unlabeled` files, tokenized and cut into windows of `max_len` tokens, with
//! 1% of the texts held out to measure the language model.

use super::options::{PretrainOptions, HELD_OUT_FRAC};
use crate::data::dataset::{load_splits, load_unsupervised, DatasetSpec};
use crate::data::table::read_table;
use crate::data::tokenize::encode_each;
use crate::util::rng::Rng;
use anyhow::{ensure, Context, Result};
use std::path::Path;
use tokenizers::Tokenizer;

/// Token windows, [CLS] ... [SEP] each.
pub struct Corpus {
    pub train: Vec<Vec<u32>>,
    pub held_out: Vec<Vec<u32>>,
}

/// Every text the options allow, in a fixed order.
pub fn load_texts(opts: &PretrainOptions) -> Result<Vec<String>> {
    let mut texts = load_splits(&opts.dataset, opts.val_frac, opts.seed)?
        .train
        .texts;
    if opts.dataset == DatasetSpec::Imdb {
        texts.extend(load_unsupervised(&opts.dataset)?);
    }
    for path in &opts.unlabeled {
        texts.extend(read_unlabeled(path)?);
    }
    if let Some(n) = opts.limit {
        texts.truncate(n);
    }
    Ok(texts)
}

/// A .txt file holds one text per line; other files are read as tables.
fn read_unlabeled(path: &Path) -> Result<Vec<String>> {
    let texts = if path.extension().is_some_and(|e| e == "txt") {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    } else {
        read_table(path)?.texts
    };
    ensure!(
        !texts.is_empty(),
        "{}: no text to pretrain on",
        path.display()
    );
    Ok(texts)
}

impl Corpus {
    /// Hold out texts first (a review is on one side only), then cut each text
    /// into windows.
    pub fn new(tokenizer: &Tokenizer, texts: &[String], opts: &PretrainOptions) -> Result<Self> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        Rng::new(opts.seed ^ 0x4E1D).shuffle(&mut order);
        let n_held = ((texts.len() as f64 * HELD_OUT_FRAC).round() as usize).max(1);
        ensure!(
            texts.len() > n_held,
            "the corpus has {} texts: too few to hold some out",
            texts.len()
        );
        let windows = |rows: &[usize]| -> Result<Vec<Vec<u32>>> {
            let picked: Vec<&str> = rows.iter().map(|&i| texts[i].as_str()).collect();
            windows(tokenizer, &picked, opts.model.max_len)
        };
        Ok(Self {
            held_out: windows(&order[..n_held])?,
            train: windows(&order[n_held..])?,
        })
    }

    pub fn real_tokens(&self) -> usize {
        self.train.iter().map(Vec::len).sum()
    }
}

/// Each text's tokens in consecutive windows of `max_len - 2`, wrapped in
/// [CLS] and [SEP]: a long review is read whole, not truncated.
fn windows(tokenizer: &Tokenizer, texts: &[&str], max_len: usize) -> Result<Vec<Vec<u32>>> {
    let id = |t: &str| {
        tokenizer
            .token_to_id(t)
            .with_context(|| format!("the tokenizer has no {t} token"))
    };
    let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
    let mut windows = Vec::new();
    encode_each(tokenizer, texts, false, |ids| {
        for piece in ids.chunks(max_len - 2) {
            let mut w = Vec::with_capacity(piece.len() + 2);
            w.push(cls);
            w.extend_from_slice(piece);
            w.push(sep);
            windows.push(w);
        }
    })
    .context("tokenizing the corpus")?;
    Ok(windows)
}
