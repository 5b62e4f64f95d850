//! The blocks' backward by hand (`model::tape`). A training
//! step through the tape must give the loss and every parameter's gradient of
//! the same step through candle's graph to the bit (both sum the same terms in
//! the same order, so any difference is a term lost or changed), for every
//! pooling head, both architectures, padded batches, with and without dropout;
//! what the tape does not cover must run through the graph; and the tape's
//! gradient must match finite differences of the loss.

mod common;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use common::*;
use xray::data::collate::{collate, Batch};
use xray::model::{Activation, AttnFn, Classifier, Config, Forward, NormKind};
use xray::runner::grads::{Gradients, TokenRows};
use xray::runner::step::cross_entropy;
use xray::util::rng::Rng;

/// Every variable's gradient by name (None: the step gave it none).
type Grads = Vec<(String, Option<Vec<f32>>)>;

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn batch() -> Batch {
    let seqs: [&[u32]; 3] = [&[1, 5, 9, 2], &[1, 8, 7, 6, 4, 3, 2], &[1, 11, 2]];
    collate(&seqs, &[0, 2, 1], &Device::Cpu).unwrap()
}

/// One training step's loss and gradients, as `runner::step` computes them,
/// the blocks on the tape or through the graph; and whether the tape ran.
fn step(model: &Classifier, varmap: &VarMap, batch: &Batch, by_hand: bool) -> (f32, Grads, bool) {
    let ids = &batch.input_ids;
    let embedded = model.token_embeddings(ids).unwrap();
    let rows = TokenRows::new(model.embedding_table(), ids, &embedded).unwrap();
    let mut rng = Rng::new(7);
    let fwd = Forward::train(&mut rng);
    let fwd = if by_hand { fwd.by_hand() } else { fwd };
    let out = model
        .forward_embedded(rows.as_tensor(), &batch.attention_mask, fwd)
        .unwrap();
    let (loss, _) = cross_entropy(&out.logits, &batch.labels).unwrap();
    let ran = out.tape.is_some();
    let grads = Gradients::backward(&loss, Some(&rows), out.tape).unwrap();
    let named = named_vars(varmap)
        .into_iter()
        .map(|(name, v)| {
            let g = grads.dense(v.as_tensor()).unwrap();
            (name, g.map(|g| flat(&g)))
        })
        .collect();
    (loss.to_scalar().unwrap(), named, ran)
}

#[test]
fn the_tape_gives_the_graphs_gradients_to_the_bit() {
    let batch = batch();
    let sparse = [AttnFn::Sparsemax, AttnFn::Entmax15].map(|f| (HEADS[0], 0.25, f));
    let cases = HEADS
        .iter()
        .flat_map(|&h| [(h, 0.0, AttnFn::Softmax), (h, 0.25, AttnFn::Softmax)])
        .chain(sparse);
    for ((arch, pool), dropout, attn_fn) in cases {
        let config = Config {
            dropout,
            attn_fn,
            ..tiny_head(arch, pool)
        };
        let what = format!("{arch:?}/{pool:?}, dropout {dropout}, {attn_fn:?}");
        let (model, varmap) = tiny_model(&config, 3);
        let (loss_t, grads_t, ran) = step(&model, &varmap, &batch, true);
        let (loss_g, grads_g, ran_g) = step(&model, &varmap, &batch, false);
        assert!(
            ran && !ran_g,
            "{what}: the tape ran {ran}, without asking {ran_g}"
        );
        assert_eq!(loss_t.to_bits(), loss_g.to_bits(), "{what}: loss");
        for ((name, t), (_, g)) in grads_t.iter().zip(&grads_g) {
            let (Some(t), Some(g)) = (t, g) else {
                panic!(
                    "{what}: {name} has a gradient on the tape {}, through the graph {}",
                    t.is_some(),
                    g.is_some()
                );
            };
            let differ = t
                .iter()
                .zip(g)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                differ,
                0,
                "{what}: {name}: {differ} of {} values differ",
                t.len()
            );
        }
        let blocks = grads_t
            .iter()
            .filter(|(n, _)| n.starts_with("blocks."))
            .count();
        assert_eq!(
            blocks,
            2 * 14,
            "{what}: a block's parameters missing from the names"
        );
    }
}

#[test]
fn what_the_tape_does_not_cover_runs_through_the_graph() {
    let batch = batch();
    let base = tiny_config(xray::model::Arch::Encoder);
    let cases = [
        (
            "LayerNorm",
            Config {
                norm: NormKind::Layer,
                ..base.clone()
            },
        ),
        (
            "SiLU",
            Config {
                act: Activation::Silu,
                ..base.clone()
            },
        ),
        (
            "QK-norm",
            Config {
                qk_norm: true,
                ..base.clone()
            },
        ),
        (
            "attention dropout",
            Config {
                attn_dropout: 0.1,
                ..base.clone()
            },
        ),
    ];
    for (what, config) in cases {
        let (model, varmap) = tiny_model(&config, 3);
        let (_, grads, ran) = step(&model, &varmap, &batch, true);
        assert!(!ran, "{what}: the tape ran");
        for (name, g) in grads {
            assert!(g.is_some(), "{what}: {name} got no gradient");
        }
    }
    // Passes that ask for the tape but have no backward, or keep the weights.
    let (model, _) = tiny_model(&base, 3);
    let (ids, mask) = (&batch.input_ids, &batch.attention_mask);
    let eval = model.forward(ids, mask, Forward::eval().by_hand()).unwrap();
    assert!(eval.tape.is_none(), "an eval pass ran the tape");
    let mut rng = Rng::new(1);
    let kept = Forward::train(&mut rng).by_hand().keep_attn();
    let kept = model.forward(ids, mask, kept).unwrap();
    assert!(
        kept.tape.is_none() && kept.attn.len() == 2,
        "a pass keeping the weights"
    );
}

/// For each block parameter, the derivative of the loss along its own
/// gradient, u = g / |g|, from central differences: it must be |g|.
#[test]
fn the_tapes_gradient_matches_finite_differences() {
    let batch = batch();
    let config = Config {
        dropout: 0.0,
        ..tiny_config(xray::model::Arch::Encoder)
    };
    let (model, varmap) = tiny_model(&config, 5);
    let (_, grads, ran) = step(&model, &varmap, &batch, true);
    assert!(ran);
    let loss = || {
        let logits = model
            .logits(&batch.input_ids, &batch.attention_mask)
            .unwrap();
        let loss = cross_entropy(&logits, &batch.labels).unwrap().0;
        loss.to_scalar::<f32>().unwrap() as f64
    };
    let mut checked = 0;
    for ((name, var), (_, g)) in named_vars(&varmap).into_iter().zip(grads) {
        let g = g.unwrap();
        let norm = g.iter().map(|g| (*g as f64).powi(2)).sum::<f64>().sqrt();
        // The key bias's gradient is 0 in exact arithmetic (softmax ignores a
        // shift shared by all keys): nothing to measure there.
        if !name.starts_with("blocks.") || norm < 1e-3 {
            continue;
        }
        let w = flat(var.as_tensor());
        let at = |eps: f64| {
            let moved: Vec<f32> = w
                .iter()
                .zip(&g)
                .map(|(w, g)| w + (eps * *g as f64 / norm) as f32)
                .collect();
            var.set(&Tensor::from_vec(moved, var.shape(), &Device::Cpu).unwrap())
                .unwrap();
            loss()
        };
        let eps = 1e-2;
        let slope = (at(eps) - at(-eps)) / (2.0 * eps);
        var.set(&Tensor::from_vec(w, var.shape(), &Device::Cpu).unwrap())
            .unwrap();
        assert!(
            (slope - norm).abs() < 0.02 * norm + 1e-4,
            "{name}: finite differences {slope}, the tape's |g| {norm}"
        );
        checked += 1;
    }
    assert!(
        checked >= 24,
        "only {checked} block parameters had a gradient to check"
    );
}
