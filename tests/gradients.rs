//! SPEC §4, item 5: every parameter learns, and the hand-written backward paths
//! (MHSA, FFN, both norms, the whole classifier) match finite differences in f64.

mod common;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use common::*;
use xray::model::attention::MultiHeadSelfAttention;
use xray::model::ffn::FeedForward;
use xray::model::mask::attention_bias;
use xray::model::norm::Norm;
use xray::model::store::{init_model, seeded_var_builder};
use xray::model::{Activation, Arch, AttnFn, Config, Forward, Masks, NormKind, Pool};
use xray::util::rng::Rng;

fn random(shape: &[usize], rng: &mut Rng, dtype: DType) -> Tensor {
    let n = shape.iter().product();
    let values: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    Tensor::from_vec(values, shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

#[test]
fn every_parameter_gets_a_nonzero_gradient() {
    let variants = [
        (Arch::Encoder, Pool::Mean, NormKind::Rms, Activation::Gelu),
        (Arch::Encoder, Pool::Cls, NormKind::Layer, Activation::Gelu),
        (
            Arch::Encoder,
            Pool::Attention,
            NormKind::Rms,
            Activation::Silu,
        ),
        (
            Arch::Encoder,
            Pool::Words,
            NormKind::Layer,
            Activation::Gelu,
        ),
        (Arch::Decoder, Pool::Last, NormKind::Layer, Activation::Silu),
        (
            Arch::Decoder,
            Pool::Attention,
            NormKind::Rms,
            Activation::Gelu,
        ),
    ];
    // The first three again with QK-norm (its gains get gradients too), and
    // under each sparse function (q and k, and attention pooling's query, get
    // gradients through τ).
    let with_qk_norm = variants
        .iter()
        .map(|&v| (v, (false, AttnFn::Softmax)))
        .chain(variants[..3].iter().map(|&v| (v, (true, AttnFn::Softmax))))
        .chain(
            variants[..3]
                .iter()
                .map(|&v| (v, (false, AttnFn::Sparsemax))),
        )
        .chain(
            variants[..3]
                .iter()
                .map(|&v| (v, (false, AttnFn::Entmax15))),
        );
    for ((arch, pool, norm, act), (qk_norm, attn_fn)) in with_qk_norm {
        let config = Config {
            norm,
            act,
            attn_dropout: 0.1,
            qk_norm,
            attn_fn,
            ..tiny_head(arch, pool)
        };
        let (model, varmap) = tiny_model(&config, 1);
        let (ids, mask) = padded_batch(&[&[1, 5, 9, 2], &[1, 8, 7, 6, 4, 3, 2]], 7);
        let mut rng = Rng::new(2);
        let out = model
            .forward(&ids, &mask, Forward::train(&mut rng))
            .unwrap();
        let labels = Tensor::new(&[0u32, 2], &Device::Cpu).unwrap();
        let loss = candle_nn::loss::cross_entropy(&out.logits, &labels).unwrap();
        let grads = loss.backward().unwrap();
        for (name, var) in named_vars(&varmap) {
            let grad = grads.get(&var).unwrap_or_else(|| {
                panic!("{arch:?}/{norm:?}: {name} got no gradient ({pool:?} pooling)")
            });
            let size = grad
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(
                size > 0.0,
                "{arch:?}/{pool:?}/{norm:?}: {name} has an all-zero gradient"
            );
        }
    }
}

/// Compare backprop with central differences on a few entries of each variable.
/// The loss is sum(out * R) for a fixed random R, so every output element matters.
fn assert_matches_finite_differences(
    what: &str,
    loss: impl Fn() -> Tensor,
    vars: &[(String, Var)],
) {
    const H: f64 = 1e-5;
    let grads = loss().backward().unwrap();
    let value = |t: Tensor| t.to_scalar::<f64>().unwrap();
    for (name, var) in vars {
        let grad: Vec<f64> = grads
            .get(var)
            .expect("gradient")
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let original: Vec<f64> = var.flatten_all().unwrap().to_vec1().unwrap();
        let step = (original.len() / 7).max(1);
        for i in (0..original.len()).step_by(step) {
            let at = |delta: f64| {
                let mut v = original.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                value(loss())
            };
            let numeric = (at(H) - at(-H)) / (2.0 * H);
            var.set(&Tensor::from_vec(original.clone(), var.shape(), &Device::Cpu).unwrap())
                .unwrap();
            let tol = 1e-6 + 1e-5 * numeric.abs().max(grad[i].abs());
            assert!(
                (grad[i] - numeric).abs() < tol,
                "{what}: d loss / d {name}[{i}]: backprop {} vs finite differences {numeric}",
                grad[i]
            );
        }
    }
}

fn input_var(shape: &[usize], rng: &mut Rng) -> Var {
    Var::from_tensor(&random(shape, rng, DType::F64)).unwrap()
}

fn with_input(varmap: &VarMap, x: &Var) -> Vec<(String, Var)> {
    let mut vars = named_vars(varmap);
    vars.push(("input".into(), x.clone()));
    vars
}

#[test]
fn attention_gradients_match_finite_differences() {
    for (qk_norm, attn_fn) in ATTENTION_VARIANTS {
        attention_matches_finite_differences(Config {
            qk_norm,
            attn_fn,
            ..tiny_config(Arch::Decoder)
        });
    }
}

/// (qk_norm, attn_fn): QK-norm, and each sparse function.
const ATTENTION_VARIANTS: [(bool, AttnFn); 4] = [
    (false, AttnFn::Softmax),
    (true, AttnFn::Softmax),
    (false, AttnFn::Sparsemax),
    (false, AttnFn::Entmax15),
];

fn attention_matches_finite_differences(config: Config) {
    let (vb, varmap) = seeded_var_builder(4, DType::F64, &Device::Cpu);
    let attn = MultiHeadSelfAttention::new(vb, &config).unwrap();
    let mut rng = Rng::new(5);
    let x = input_var(&[2 * 5, config.d_model], &mut rng); // (B·L, D) rows
    let (_, mask) = padded_batch(&[&[1, 2, 3], &[1, 2, 3, 4, 5]], 5);
    let bias = attention_bias(
        &mask,
        Masks {
            padding: true,
            causal: true,
        },
        DType::F64,
    )
    .unwrap();
    let r = random(&[2 * 5, config.d_model], &mut rng, DType::F64);
    let loss = || {
        let (out, _) = attn
            .forward(&x, (2, 5), bias.as_ref(), &mut Forward::eval().keep_attn())
            .unwrap();
        (out * &r).unwrap().sum_all().unwrap()
    };
    let what = format!("MHSA (qk_norm {}, {:?})", config.qk_norm, config.attn_fn);
    assert_matches_finite_differences(&what, loss, &with_input(&varmap, &x));
}

/// Without the weights asked for, f32 on the CPU runs the fused attention op:
/// same output and same gradients for the input and every weight as the
/// composed path the finite-difference test above checks, with and without masks.
#[test]
fn fused_attention_path_matches_the_composed_path() {
    for (qk_norm, attn_fn) in ATTENTION_VARIANTS {
        fused_matches_composed(Config {
            qk_norm,
            attn_fn,
            ..tiny_config(Arch::Decoder)
        });
    }
}

fn fused_matches_composed(config: Config) {
    let (vb, varmap) = seeded_var_builder(4, DType::F32, &Device::Cpu);
    let attn = MultiHeadSelfAttention::new(vb, &config).unwrap();
    let mut rng = Rng::new(5);
    let x = Var::from_tensor(&random(&[2 * 5, config.d_model], &mut rng, DType::F32)).unwrap();
    let (_, mask) = padded_batch(&[&[1, 2, 3], &[1, 2, 3, 4, 5]], 5);
    let r = random(&[2 * 5, config.d_model], &mut rng, DType::F32);
    let vars = with_input(&varmap, &x);
    for on in [false, true] {
        let masks = Masks {
            padding: on,
            causal: on,
        };
        let bias = attention_bias(&mask, masks, DType::F32).unwrap();
        let run = |keep_attn| {
            let (out, weights) = attn
                .forward(
                    &x,
                    (2, 5),
                    bias.as_ref(),
                    &mut Forward {
                        keep_attn,
                        ..Forward::eval()
                    },
                )
                .unwrap();
            assert_eq!(weights.is_some(), keep_attn);
            let grads = (&out * &r).unwrap().sum_all().unwrap().backward().unwrap();
            (out, grads)
        };
        let ((fused, fused_grads), (composed, composed_grads)) = (run(false), run(true));
        let qk_norm = (config.qk_norm, config.attn_fn);
        assert!(
            max_abs_diff(&fused, &composed) < 1e-5,
            "{masks:?} qk_norm {qk_norm:?}"
        );
        for (name, var) in &vars {
            let (a, b) = (fused_grads.get(var), composed_grads.get(var));
            let diff = max_abs_diff(a.unwrap(), b.unwrap());
            assert!(
                diff < 1e-4,
                "{masks:?} (qk_norm, attn_fn) {qk_norm:?} {name}: gradient differs by {diff}"
            );
        }
    }
}

#[test]
fn ffn_gradients_match_finite_differences() {
    for act in [Activation::Gelu, Activation::Silu] {
        let config = Config {
            act,
            ..tiny_config(Arch::Encoder)
        };
        let (vb, varmap) = seeded_var_builder(6, DType::F64, &Device::Cpu);
        let ffn = FeedForward::new(vb, &config).unwrap();
        let mut rng = Rng::new(7);
        let x = input_var(&[2 * 3, config.d_model], &mut rng); // (B·L, D) rows
        let r = random(&[2 * 3, config.d_model], &mut rng, DType::F64);
        let loss = || (ffn.forward(&x).unwrap() * &r).unwrap().sum_all().unwrap();
        assert_matches_finite_differences(&format!("FFN {act:?}"), loss, &with_input(&varmap, &x));
    }
}

#[test]
fn norm_gradients_match_finite_differences() {
    for norm in [NormKind::Rms, NormKind::Layer] {
        let config = Config {
            norm,
            ..tiny_config(Arch::Encoder)
        };
        let (vb, varmap) = seeded_var_builder(8, DType::F64, &Device::Cpu);
        let layer = Norm::new(vb, &config).unwrap();
        let mut rng = Rng::new(9);
        // Move the gain and bias off their 1 / 0 init so their gradients are exercised.
        for (_, var) in named_vars(&varmap) {
            var.set(&(var.as_tensor() + random(var.dims(), &mut rng, DType::F64)).unwrap())
                .unwrap();
        }
        let x = input_var(&[2, 3, config.d_model], &mut rng);
        let r = random(&[2, 3, config.d_model], &mut rng, DType::F64);
        let loss = || {
            (layer.forward(&x).unwrap() * &r)
                .unwrap()
                .sum_all()
                .unwrap()
        };
        assert_matches_finite_differences(&format!("{norm:?}Norm"), loss, &with_input(&varmap, &x));
    }
}

#[test]
fn classifier_gradients_match_finite_differences() {
    for (arch, pool) in HEADS {
        let config = tiny_head(arch, pool);
        let (model, varmap) = init_model(&config, 10, DType::F64, &Device::Cpu).unwrap();
        let (ids, mask) = padded_batch(&[&[1, 5, 9, 2], &[1, 8, 7, 6, 2]], 5);
        let mut rng = Rng::new(11);
        let logits = model.forward(&ids, &mask, Forward::eval()).unwrap().logits;
        let r = random(logits.dims(), &mut rng, DType::F64);
        let loss = || {
            let out = model.forward(&ids, &mask, Forward::eval()).unwrap();
            (out.logits * &r).unwrap().sum_all().unwrap()
        };
        assert_matches_finite_differences(
            &format!("{arch:?}/{pool:?} classifier"),
            loss,
            &named_vars(&varmap),
        );
    }
}
