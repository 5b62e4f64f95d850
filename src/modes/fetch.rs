//! `xray fetch`: bring a named dataset and the tokenizer into the Hub cache, check
//! their schema, and summarise them.

use crate::data::collate::{epoch_batches, padding_fraction};
use crate::data::dataset::{label_ids, DatasetSpec};
use crate::data::hub::{fetch, HubFile};
use crate::data::summary::{describe_counts, length_stats, thousands, LengthStats, SplitSummary};
use crate::data::table::read_parquet;
use crate::data::tokenize::{build_tokenizer, encode, Encoded, TokenizerSpec, Truncate};
use crate::train::options::TrainOptions;
use crate::util::rng::Rng;
use anyhow::{bail, Result};
use tokenizers::Tokenizer;

/// `xray fetch`: `max_len` is the length whose truncation share the summary reports.
pub fn fetch_dataset(
    spec: &DatasetSpec,
    tokenizer: &TokenizerSpec,
    max_len: usize,
) -> Result<Vec<SplitSummary>> {
    let Some(hub) = spec.hub() else {
        bail!("fetch takes a named dataset (imdb or ag_news); a local file needs no fetching");
    };
    let names: Vec<String> = hub.label_names.iter().map(|s| s.to_string()).collect();
    let splits: Vec<(&str, &HubFile)> = [("train", &hub.train), ("test", &hub.test)]
        .into_iter()
        .chain(hub.unsupervised.as_ref().map(|f| ("unsupervised", f)))
        .collect();
    let mut summaries = Vec::new();
    let mut failures = Vec::new();
    let built = fetch_tokenizer(tokenizer, &mut failures);
    for (split, file) in splits {
        let path = match fetch(file) {
            Ok(path) => path,
            Err(e) => {
                println!("{split:>12}: MISSING");
                failures.push(format!("{split}: {e:#}"));
                continue;
            }
        };
        let table = read_parquet(&path)?;
        let (rows, per_label, texts) = if split == "unsupervised" {
            (table.texts.len(), Vec::new(), table.texts)
        } else {
            let (data, _) = label_ids(table, Some(&names), &path)?;
            (data.len(), data.counts_per_label(names.len()), data.texts)
        };
        let encoded = match (&built, split) {
            (Some(t), "train") => Some(encode(t, &texts, max_len, Truncate::Head)?),
            _ => None,
        };
        let tokens = encoded
            .as_ref()
            .map(|e| length_stats(&e.full_lengths, max_len));
        println!(
            "{split:>12}: {} rows  {}  ({})",
            thousands(rows),
            describe_counts(&per_label, &names),
            path.display()
        );
        if let (Some(t), Some(e)) = (&tokens, &encoded) {
            print_lengths(t, e, max_len);
        }
        summaries.push(SplitSummary {
            split: split.to_string(),
            rows,
            per_label,
            tokens,
        });
    }
    if !failures.is_empty() {
        bail!(
            "{} of {}'s files could not be fetched:\n  {}",
            failures.len(),
            hub.name,
            failures.join("\n  ")
        );
    }
    Ok(summaries)
}

/// The tokenizer the length summary needs; a trained WordPiece has nothing to
/// fetch. A failure is recorded, and the splits are still fetched.
fn fetch_tokenizer(spec: &TokenizerSpec, failures: &mut Vec<String>) -> Option<Tokenizer> {
    if let TokenizerSpec::WordPiece(_) = spec {
        return None;
    }
    match build_tokenizer(spec, &[]) {
        Ok(t) => {
            println!(
                "{:>12}: vocabulary of {} tokens",
                "tokenizer",
                t.get_vocab_size(true)
            );
            Some(t)
        }
        Err(e) => {
            println!("{:>12}: MISSING", "tokenizer");
            failures.push(format!("tokenizer: {e:#}"));
            None
        }
    }
}

/// The training split's token lengths and the padding of both batchings.
fn print_lengths(t: &LengthStats, e: &Encoded, max_len: usize) {
    println!(
        "{:>12}  tokens per text: mean {:.1}, median {}, p95 {}, max {}; \
         {:.1}% longer than --max-len {max_len}",
        "",
        t.mean,
        t.median,
        t.p95,
        t.max,
        100.0 * t.truncated
    );
    let lengths: Vec<usize> = e.ids.iter().map(Vec::len).collect();
    // At the batch size `train` uses by default.
    let batch = TrainOptions::default().batch_size;
    let padding = |bucket| {
        let batches = epoch_batches(&lengths, batch, bucket, &mut Rng::new(0));
        padding_fraction(&batches, &lengths)
    };
    println!(
        "{:>12}  padding at batch {batch}: {:.1}% with random batches, \
         {:.1}% length-bucketed",
        "",
        100.0 * padding(false),
        100.0 * padding(true)
    );
}
