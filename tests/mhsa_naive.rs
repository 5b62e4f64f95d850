//! SPEC §4, item 6: MHSA equals an independent, plain-loop attention written here.

mod common;

use candle_core::{DType, Device, Tensor};
use common::*;
use xray::model::attention::MultiHeadSelfAttention;
use xray::model::mask::attention_bias;
use xray::model::store::seeded_var_builder;
use xray::model::{Arch, Forward, Masks};
use xray::util::rng::Rng;

fn weights(varmap: &candle_nn::VarMap, name: &str) -> Vec<f32> {
    let vars = varmap.data().lock().unwrap();
    vars[name].flatten_all().unwrap().to_vec1().unwrap()
}

/// y = W x + b with W stored (out, in) row-major, as torch and candle store it.
fn affine(w: &[f32], b: &[f32], x: &[f32]) -> Vec<f32> {
    b.iter()
        .enumerate()
        .map(|(o, bo)| {
            bo + x
                .iter()
                .enumerate()
                .map(|(i, xi)| w[o * x.len() + i] * xi)
                .sum::<f32>()
        })
        .collect()
}

/// One sequence, one head at a time; softmax only over the keys a query may see.
fn naive_attention(
    x: &[Vec<f32>],
    real: &[bool],
    causal: bool,
    n_heads: usize,
    p: impl Fn(&str) -> Vec<f32>,
) -> Vec<Vec<f32>> {
    let proj = |name: &str| -> Vec<Vec<f32>> {
        let (w, b) = (p(&format!("{name}.weight")), p(&format!("{name}.bias")));
        x.iter().map(|xi| affine(&w, &b, xi)).collect()
    };
    let (q, k, v) = (proj("q"), proj("k"), proj("v"));
    let d = x[0].len();
    let dh = d / n_heads;
    let mut merged = vec![vec![0f32; d]; x.len()];
    for h in 0..n_heads {
        let cols = h * dh..(h + 1) * dh;
        for i in 0..x.len() {
            let visible: Vec<usize> = (0..x.len())
                .filter(|&j| real[j] && (!causal || j <= i))
                .collect();
            let scores: Vec<f32> = visible
                .iter()
                .map(|&j| cols.clone().map(|c| q[i][c] * k[j][c]).sum::<f32>() / (dh as f32).sqrt())
                .collect();
            let top = scores.iter().cloned().fold(f32::MIN, f32::max);
            let exps: Vec<f32> = scores.iter().map(|s| (s - top).exp()).collect();
            let total: f32 = exps.iter().sum();
            for (&j, e) in visible.iter().zip(&exps) {
                for c in cols.clone() {
                    merged[i][c] += e / total * v[j][c];
                }
            }
        }
    }
    let (wo, bo) = (p("o.weight"), p("o.bias"));
    merged.iter().map(|m| affine(&wo, &bo, m)).collect()
}

#[test]
fn mhsa_equals_a_naive_per_head_loop() {
    let config = tiny_config(Arch::Encoder);
    let (vb, varmap) = seeded_var_builder(21, DType::F32, &Device::Cpu);
    let attn = MultiHeadSelfAttention::new(vb, &config).unwrap();
    let (b, l, d) = (2, 6, config.d_model);
    let mut rng = Rng::new(22);
    let x: Vec<f32> = (0..b * l * d).map(|_| rng.normal() as f32).collect();
    let (_, mask) = padded_batch(&[&[1, 2, 3, 4], &[1, 2, 3, 4, 5, 6]], l);
    let lengths = [4, 6];
    // Both paths: the composed one (weights kept) and the fused CPU kernel.
    for (causal, keep_attn) in [(false, false), (false, true), (true, false), (true, true)] {
        let bias = attention_bias(
            &mask,
            Masks {
                padding: true,
                causal,
            },
            DType::F32,
        )
        .unwrap();
        let input = Tensor::from_vec(x.clone(), (b * l, d), &Device::Cpu).unwrap(); // rows
        let (out, _) = attn
            .forward(
                &input,
                (b, l),
                bias.as_ref(),
                &mut Forward {
                    keep_attn,
                    ..Forward::eval()
                },
            )
            .unwrap();
        let out: Vec<f32> = out.flatten_all().unwrap().to_vec1().unwrap();
        for (row, len) in lengths.iter().enumerate() {
            let seq: Vec<Vec<f32>> = (0..l)
                .map(|i| x[(row * l + i) * d..][..d].to_vec())
                .collect();
            let real: Vec<bool> = (0..l).map(|i| i < *len).collect();
            let expected =
                naive_attention(&seq, &real, causal, config.n_heads, |n| weights(&varmap, n));
            for (i, e_i) in expected.iter().enumerate() {
                for (c, e) in e_i.iter().enumerate() {
                    let got = out[(row * l + i) * d + c];
                    assert!(
                        (got - e).abs() < 1e-5,
                        "causal {causal}, weights kept {keep_attn}, row {row}, pos {i}, dim {c}: \
                         {got} vs naive {e}"
                    );
                }
            }
        }
    }
}
