//! What a CUDA device computes, computed on the CPU. Inside
//! `kernels::composed_only` every op takes its composed path (candle ops, as on
//! a GPU; dropout masks still drawn from the run's RNG); one training step there
//! must give the loss, every parameter's gradient and the weights after AdamW
//! that the fused CPU path gives, for every pooling head and for the language
//! model's loss over the vocabulary.

mod common;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use common::*;
use xray::data::collate::collate;
use xray::kernels::composed_only;
use xray::model::store::seeded_var_builder;
use xray::model::{Arch, Config, LanguageModel};
use xray::pretrain::masking::MaskRule;
use xray::pretrain::objective::Pretraining;
use xray::runner::grads::Gradients;
use xray::runner::optim::{AdamW, AdamWConfig};
use xray::runner::step::Objective;
use xray::util::rng::Rng;

/// Every variable's values, by name.
type Values = Vec<(String, Vec<f32>)>;

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// One step of `objective` on `batch` from the weights in `varmap` as they are:
/// the loss, each gradient, each weight after AdamW; the weights are put back.
fn one_step<O: Objective>(
    objective: &O,
    batch: &O::Batch,
    varmap: &VarMap,
) -> (f32, Values, Values) {
    let vars = named_vars(varmap);
    let before: Vec<Tensor> = vars
        .iter()
        .map(|(_, v)| v.as_tensor().copy().unwrap())
        .collect();
    let map = varmap.data().lock().unwrap().clone();
    let mut optimizer = AdamW::new(&map, AdamWConfig::default()).unwrap();
    let loss = objective.loss(batch, &mut Rng::new(7)).unwrap();
    let grads = Gradients::backward(&loss.value, loss.rows.as_ref(), loss.tape).unwrap();
    let gradients = vars
        .iter()
        .map(|(name, v)| {
            let g = grads.dense(v.as_tensor()).unwrap();
            (name.clone(), flat(&g.unwrap()))
        })
        .collect();
    optimizer.update(&grads, 1e-3).unwrap();
    let after = vars
        .iter()
        .map(|(name, v)| (name.clone(), flat(v.as_tensor())))
        .collect();
    for ((_, v), t) in vars.iter().zip(&before) {
        v.set(t).unwrap();
    }
    (loss.value.to_scalar::<f32>().unwrap(), gradients, after)
}

/// The same step on both paths agrees to float rounding.
fn assert_paths_agree<O: Objective>(what: &str, objective: &O, batch: &O::Batch, varmap: &VarMap) {
    let (loss_f, grads_f, after_f) = one_step(objective, batch, varmap);
    let (loss_c, grads_c, after_c) = composed_only(|| one_step(objective, batch, varmap));
    assert!(
        (loss_f - loss_c).abs() < 1e-5,
        "{what}: loss {loss_f} fused vs {loss_c} composed"
    );
    // Two implementations round differently: identical bits would mean one path ran twice.
    assert_ne!(grads_f, grads_c, "{what}: composed_only changed nothing");
    for ((name, a), (_, b)) in grads_f.iter().zip(&grads_c) {
        let diff = max_diff(a, b, |_| true);
        assert!(diff < 1e-4, "{what}: gradient of {name} differs by {diff}");
    }
    // AdamW's first step moves each weight by about lr * sign(gradient), so it
    // magnifies the rounding noise of gradients that are 0 in exact arithmetic
    // (the key bias's: softmax ignores a shift shared by all keys); those are
    // left out, every other weight must agree.
    for (((name, a), (_, b)), (_, g)) in after_f.iter().zip(&after_c).zip(&grads_f) {
        let diff = max_diff(a, b, |i| g[i].abs() > 1e-6);
        assert!(diff < 1e-5, "{what}: {name} after AdamW differs by {diff}");
    }
    assert!(
        moved_anything(&after_f, varmap),
        "{what}: the step moved nothing"
    );
}

/// The largest |a - b| over the elements `keep` selects.
fn max_diff(a: &[f32], b: &[f32], keep: impl Fn(usize) -> bool) -> f32 {
    (0..a.len())
        .filter(|&i| keep(i))
        .map(|i| (a[i] - b[i]).abs())
        .fold(0.0, f32::max)
}

/// Whether a weight after the step differs from the weight now in `varmap`.
fn moved_anything(after: &Values, varmap: &VarMap) -> bool {
    after
        .iter()
        .zip(named_vars(varmap))
        .any(|((_, a), (_, v))| a.iter().zip(flat(v.as_tensor())).any(|(x, y)| x != &y))
}

#[test]
fn a_training_step_on_the_composed_path_matches_the_fused_path() {
    let seqs: [&[u32]; 3] = [&[1, 5, 9, 2], &[1, 8, 7, 6, 4, 3, 2], &[1, 11, 2]];
    let batch = collate(&seqs, &[0, 2, 1], &Device::Cpu).unwrap();
    for (arch, pool) in HEADS {
        for attn_dropout in [0.0, 0.1] {
            let config = Config {
                attn_dropout,
                ..tiny_head(arch, pool)
            };
            let (model, varmap) = tiny_model(&config, 3);
            let what = format!("{arch:?}/{pool:?}, attention dropout {attn_dropout}");
            assert_paths_agree(&what, &model, &batch, &varmap);
        }
    }
}

#[test]
fn a_pretraining_step_on_the_composed_path_matches_the_fused_path() {
    for arch in [Arch::Encoder, Arch::Decoder] {
        let config = Config {
            vocab_size: 40,
            ..tiny_config(arch)
        };
        let (vb, varmap) = seeded_var_builder(3, DType::F32, &Device::Cpu);
        let model = LanguageModel::new(vb, &config).unwrap();
        let rule = MaskRule {
            arch,
            prob: 0.5,
            mask_id: 4,
            vocab_size: 40,
            specials: vec![0, 1, 2, 3, 4],
        };
        let seqs: [&[u32]; 2] = [&[2, 10, 11, 12, 13, 3], &[2, 20, 21, 3]];
        let lm = rule.batch(&seqs, &mut Rng::new(1), &Device::Cpu).unwrap();
        let objective = Pretraining {
            model: &model,
            masks: None,
        };
        assert_paths_agree(
            &format!("{arch:?} language model"),
            &objective,
            &lm,
            &varmap,
        );
    }
}
