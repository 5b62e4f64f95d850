//! Seeded init and the safetensors + config.json round trip.

mod common;

use candle_core::Device;
use common::*;
use xray::model::store::{init_model, load_model, param_count, save_model};
use xray::model::{Arch, Config, Forward, Pool};
use xray::util::rng::Rng;

#[test]
fn same_seed_gives_same_weights_and_another_seed_does_not() {
    let config = tiny_config(Arch::Encoder);
    let (_, a) = tiny_model(&config, 42);
    let (_, b) = tiny_model(&config, 42);
    let (_, c) = tiny_model(&config, 43);
    for ((name, va), ((_, vb), (_, vc))) in named_vars(&a)
        .iter()
        .zip(named_vars(&b).iter().zip(named_vars(&c).iter()))
    {
        assert_eq!(
            max_abs_diff(va, vb),
            0.0,
            "{name} differs between two inits with one seed"
        );
        if name.ends_with("weight") && !name.contains("norm") {
            assert!(
                max_abs_diff(va, vc) > 0.0,
                "{name} is the same under two seeds"
            );
        }
    }
}

#[test]
fn same_seed_gives_same_dropout_masks() {
    let config = tiny_config(Arch::Encoder);
    let (model, _) = tiny_model(&config, 1);
    let (ids, mask) = padded_batch(&[&[1, 5, 9, 2, 3, 4]], 6);
    let run = |seed| {
        let mut rng = Rng::new(seed);
        model
            .forward(&ids, &mask, Forward::train(&mut rng))
            .unwrap()
            .logits
    };
    assert_eq!(max_abs_diff(&run(7), &run(7)), 0.0);
    assert!(
        max_abs_diff(&run(7), &run(8)) > 0.0,
        "dropout ignored its seed"
    );
    let eval = model.logits(&ids, &mask).unwrap();
    assert!(
        max_abs_diff(&run(7), &eval) > 0.0,
        "training mode applied no dropout"
    );
}

#[test]
fn saved_model_reloads_with_identical_logits() {
    let config = Config {
        arch: Arch::Decoder,
        ..tiny_config(Arch::Decoder)
    };
    let (model, varmap) = tiny_model(&config, 9);
    let dir = tempfile::tempdir().unwrap();
    save_model(&varmap, &config, dir.path()).unwrap();
    let (loaded, _, loaded_config) = load_model(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded_config, config);
    let (ids, mask) = padded_batch(&[&[1, 5, 9, 2], &[1, 8, 7, 6, 4, 3, 2]], 7);
    let diff = max_abs_diff(
        &model.logits(&ids, &mask).unwrap(),
        &loaded.logits(&ids, &mask).unwrap(),
    );
    assert_eq!(diff, 0.0);
}

#[test]
fn loading_weights_of_another_shape_fails_with_the_tensor_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_, varmap) = tiny_model(&tiny_config(Arch::Encoder), 1);
    save_model(
        &varmap,
        &Config {
            d_model: 8,
            ..tiny_config(Arch::Encoder)
        },
        dir.path(),
    )
    .unwrap();
    let err = format!(
        "{:#}",
        load_model(dir.path(), &Device::Cpu)
            .err()
            .expect("load must fail")
    );
    assert!(err.contains("shape"), "unhelpful error: {err}");
}

#[test]
fn default_config_has_the_peers_parameter_count() {
    // ../shared/peers/torch_ref: 9,458,434 parameters for its recipe, two blocks
    // mean-pooled; [CLS] pooling adds nothing, word pooling its query (d_model).
    // One block of d_model 256 and d_ffn 1024 holds 789,248 of them.
    let count = |pool, n_layers| {
        let config = Config {
            pool,
            n_layers,
            ..Config::default()
        };
        let (_, varmap) = init_model(&config, 0, candle_core::DType::F32, &Device::Cpu).unwrap();
        let counted = param_count(&varmap);
        assert_eq!(counted, config.param_count(), "{config:?}");
        counted
    };
    assert_eq!(count(Pool::Mean, 2), 9_458_434);
    assert_eq!(count(Config::default().pool, 2), 9_458_434);
    assert_eq!(count(Pool::Words, 2), 9_458_434 + 256);
    assert_eq!(Config::default().n_layers, 1);
    assert_eq!(count(Config::default().pool, 1), 9_458_434 - 789_248);
}

#[test]
fn tensor_names_are_the_documented_ones() {
    let (_, varmap) = tiny_model(
        &Config {
            n_layers: 1,
            ..tiny_config(Arch::Encoder)
        },
        0,
    );
    let names: Vec<String> = named_vars(&varmap).into_iter().map(|(n, _)| n).collect();
    let expected = [
        "blocks.0.attn.k.bias",
        "blocks.0.attn.k.weight",
        "blocks.0.attn.o.bias",
        "blocks.0.attn.o.weight",
        "blocks.0.attn.q.bias",
        "blocks.0.attn.q.weight",
        "blocks.0.attn.v.bias",
        "blocks.0.attn.v.weight",
        "blocks.0.ffn.down.bias",
        "blocks.0.ffn.down.weight",
        "blocks.0.ffn.up.bias",
        "blocks.0.ffn.up.weight",
        "blocks.0.norm_attn.weight",
        "blocks.0.norm_ffn.weight",
        "head.bias",
        "head.weight",
        "norm_final.weight",
        "pos_emb.weight",
        "tok_emb.weight",
    ];
    assert_eq!(names, expected);
}
