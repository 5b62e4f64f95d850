//! Why [CLS] pooling and length-bucketed batches leave the heads uniform
//! (docs/attention-recipes.md): the gradient that reaches each layer's q, k and v
//! projections, batch by batch, for length-bucketed and for random batches of IMDb.
//!
//! Adam moves a weight by about mean(g) / rms(g) per step, so what drives q and k is
//! not the size of one batch's gradient but how consistently batches agree on its
//! direction: `coherence` = |sum of the batches' gradients| / (sum of their norms),
//! 1 when every batch pushes the same way, about 1/sqrt(batches) when they cancel.
//!
//! Usage (release build, IMDb in the Hugging Face cache):
//!   cargo run --release --example qk_gradient -- POOL [BATCHES] [RUN_DIR]
//! POOL is cls or mean; without RUN_DIR the model is freshly initialised with the
//! default config and seed, with it the weights are that run's (its own pooling).

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::ValueEnum;
use std::collections::btree_map::{BTreeMap, Entry};
use xray::data::collate::{collate, epoch_batches};
use xray::data::tokenize::{build_tokenizer, TokenizerSpec};
use xray::model::store::{init_model, load_model};
use xray::model::Pool;
use xray::runner::step::Objective;
use xray::train::data::{encode_split, load_data, prepared};
use xray::train::options::TrainOptions;
use xray::util::rng::Rng;

/// Training rows read: enough for the batches, far fewer than 22,500 to tokenize.
const ROWS: usize = 6_000;

/// One weight's gradients over the batches.
struct Seen {
    /// Their sum.
    sum: Tensor,
    /// The sum of their norms.
    norms: f64,
    /// (batch width, gradient norm) per batch.
    points: Vec<(f64, f64)>,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(pool) = args.first() else {
        bail!("usage: qk_gradient POOL [BATCHES] [RUN_DIR]  (POOL: cls or mean)");
    };
    let pool = Pool::from_str(pool, true).map_err(anyhow::Error::msg)?;
    let n_batches: usize = match args.get(1) {
        Some(n) => n.parse().context("BATCHES must be a whole number")?,
        None => 60,
    };
    let device = Device::Cpu;
    let mut opts = TrainOptions {
        dataset: "imdb".parse()?,
        limit: Some(ROWS),
        ..TrainOptions::default()
    };
    opts.model.pool = pool;
    let splits = load_data(&opts)?;
    let tokenizer = build_tokenizer(
        &opts.tokenizer.parse::<TokenizerSpec>()?,
        &prepared(&splits.train.texts, &opts),
    )?;
    opts.model.vocab_size = tokenizer.get_vocab_size(true);
    let (model, varmap) = match args.get(2) {
        Some(dir) => {
            let (model, varmap, _) = load_model(dir.as_ref(), &device)?;
            (model, varmap)
        }
        None => init_model(&opts.model, opts.seed, DType::F32, &device)?,
    };
    let train = encode_split(&tokenizer, &splits.train, &opts)?;
    let lengths = train.lengths();
    let vars = varmap.data().lock().expect("VarMap lock poisoned").clone();
    let watched: BTreeMap<String, _> = vars
        .into_iter()
        .filter(|(name, _)| {
            [".attn.q.weight", ".attn.k.weight", ".attn.v.weight"]
                .iter()
                .any(|p| name.ends_with(p))
        })
        .collect();
    println!(
        "pooling {pool:?}, {n_batches} batches of {} each",
        opts.batch_size
    );
    for bucket in [true, false] {
        let batches = epoch_batches(&lengths, opts.batch_size, bucket, &mut Rng::new(1));
        let mut seen: BTreeMap<&str, Seen> = BTreeMap::new();
        let mut rng = Rng::new(2);
        for rows in batches.iter().take(n_batches) {
            let seqs: Vec<&[u32]> = rows.iter().map(|&i| train.ids[i].as_slice()).collect();
            let labels: Vec<u32> = rows.iter().map(|&i| train.labels[i]).collect();
            let batch = collate(&seqs, &labels, &device)?;
            let width = batch.input_ids.dim(1)? as f64;
            let grads = model.loss(&batch, &mut rng)?.value.backward()?;
            for (name, var) in &watched {
                let g = grads
                    .get(var)
                    .context("no gradient reached a watched weight")?;
                let norm = g.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64;
                let entry = match seen.entry(name.as_str()) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(Seen {
                        sum: g.zeros_like()?,
                        norms: 0.0,
                        points: Vec::new(),
                    }),
                };
                entry.sum = (&entry.sum + g)?;
                entry.norms += norm;
                entry.points.push((width, norm));
            }
        }
        println!(
            "\n{} batches",
            if bucket { "length-bucketed" } else { "random" }
        );
        println!(
            "{:<28} {:>10} {:>10} {:>22}",
            "weight", "mean |g|", "coherence", "|g| short / long half"
        );
        for (name, w) in &seen {
            let coherence = w.sum.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64 / w.norms;
            let mut points = w.points.clone();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let half = points.len() / 2;
            let mean =
                |p: &[(f64, f64)]| p.iter().map(|x| x.1).sum::<f64>() / p.len().max(1) as f64;
            println!(
                "{name:<28} {:>10.2e} {coherence:>10.3} {:>22.2}",
                w.norms / points.len() as f64,
                mean(&points[..half]) / mean(&points[half..])
            );
        }
    }
    Ok(())
}
