//! SPEC §4, items 1-4: the padding and causal masks do what they claim, and
//! switching either off breaks the property it guards.

mod common;

use candle_core::{IndexOp, Tensor};
use common::*;
use xray::model::{Arch, AttnFn, Config, Forward, Masks, Pool};

/// Every function that turns scores into weights.
const ATTN_FNS: [AttnFn; 3] = [AttnFn::Softmax, AttnFn::Sparsemax, AttnFn::Entmax15];

/// (qk_norm, attn_fn) pairs the mask tests run: QK-norm and each sparse function.
fn variants() -> [(bool, AttnFn); 4] {
    [
        (false, AttnFn::Softmax),
        (true, AttnFn::Softmax),
        (false, AttnFn::Sparsemax),
        (false, AttnFn::Entmax15),
    ]
}

const SHORT: &[u32] = &[1, 7, 9, 4, 2];
const LONG: &[u32] = &[1, 3, 5, 8, 13, 21, 34, 11, 6, 2];

/// Logits of SHORT alone and of SHORT inside a batch padded to 12.
fn alone_and_padded(config: &Config, masks: impl Fn(Masks) -> Masks) -> (Tensor, Tensor) {
    let (model, _) = tiny_model(config, 11);
    let masks = masks(model.masks());
    let run = |ids, mask| {
        model
            .forward(&ids, &mask, Forward::eval().with_masks(masks))
            .unwrap()
            .logits
    };
    let (ids, mask) = padded_batch(&[SHORT], SHORT.len());
    let alone = run(ids, mask);
    let (ids, mask) = padded_batch(&[SHORT, LONG], 12);
    let batched = run(ids, mask).i(0..1).unwrap();
    (alone, batched)
}

#[test]
fn padding_does_not_change_logits() {
    let cases = variants().into_iter().flat_map(|v| HEADS.map(|h| (h, v)));
    for ((arch, pool), (qk_norm, attn_fn)) in cases {
        let config = Config {
            qk_norm,
            attn_fn,
            ..tiny_head(arch, pool)
        };
        let (alone, batched) = alone_and_padded(&config, |m| m);
        let diff = max_abs_diff(&alone, &batched);
        assert!(
            diff < 1e-5,
            "{arch:?}/{pool:?} (qk_norm {qk_norm}, {attn_fn:?}): logits moved by {diff} when padded"
        );
    }
}

#[test]
fn without_padding_mask_padding_changes_logits() {
    for pool in [Pool::Mean, Pool::Cls, Pool::Attention, Pool::Words] {
        let config = tiny_head(Arch::Encoder, pool);
        let (alone, batched) = alone_and_padded(&config, |m| Masks {
            padding: false,
            ..m
        });
        let diff = max_abs_diff(&alone, &batched);
        assert!(
            diff > 1e-3,
            "{pool:?}: padding mask off, yet logits moved only {diff}: the test cannot see the mask"
        );
    }
}

/// Every layer's weights for a batch holding one all-padding row.
fn weights_with_empty_row(arch: Arch, attn_fn: AttnFn) -> (Vec<Tensor>, Tensor, Tensor) {
    let config = Config {
        attn_fn,
        ..tiny_config(arch)
    };
    let (model, _) = tiny_model(&config, 5);
    let (ids, mask) = padded_batch(&[SHORT, LONG, &[]], 12);
    let out = model
        .forward(&ids, &mask, Forward::eval().keep_attn())
        .unwrap();
    (out.attn, out.logits, mask)
}

#[test]
fn real_queries_give_exactly_zero_weight_to_pad_keys_and_rows_sum_to_one() {
    let cases = [Arch::Encoder, Arch::Decoder].map(|a| ATTN_FNS.map(|f| (a, f)));
    for (arch, f) in cases.into_iter().flatten() {
        let (attn, _, mask) = weights_with_empty_row(arch, f);
        let mask: Vec<Vec<u32>> = mask.to_vec2().unwrap();
        for (layer, weights) in attn.iter().enumerate() {
            let (bsz, heads, l, _) = weights.dims4().unwrap();
            let w: Vec<f32> = weights.flatten_all().unwrap().to_vec1().unwrap();
            for b in 0..bsz {
                for head in 0..heads {
                    for q in (0..l).filter(|&q| mask[b][q] == 1) {
                        let row = &w[((b * heads + head) * l + q) * l..][..l];
                        let mut real_sum = 0.0;
                        for (k, &wk) in row.iter().enumerate() {
                            if mask[b][k] == 0 {
                                let at = format!("{arch:?} {f:?} layer {layer} row {b} query {q}");
                                assert_eq!(wk, 0.0, "{at}: pad key {k} got {wk}");
                            } else {
                                real_sum += wk;
                            }
                        }
                        assert!(
                            (real_sum - 1.0).abs() < 1e-5,
                            "{arch:?} {f:?} layer {layer}: row sums to {real_sum}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn no_nan_even_for_all_padding_rows_under_causal_and_padding_masks() {
    for f in ATTN_FNS {
        let (attn, logits, _) = weights_with_empty_row(Arch::Decoder, f);
        for t in attn.iter().chain([&logits]) {
            let all: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
            assert!(
                all.iter().all(|x| x.is_finite()),
                "{f:?}: non-finite value in {:?}",
                t.shape()
            );
        }
    }
}

/// Hidden states of two texts that agree on positions 0..=T and differ after.
fn hidden_of_diverging_texts(config: Config, masks: impl Fn(Masks) -> Masks) -> (Tensor, Tensor) {
    const T: usize = 4;
    let (model, _) = tiny_model(&config, 3);
    let a: Vec<u32> = vec![1, 7, 9, 4, 2, 30, 31, 32];
    let mut b = a.clone();
    b[T + 1..].iter_mut().for_each(|x| *x = 45 - *x);
    let run = |row: &[u32]| {
        let (ids, mask) = padded_batch(&[row], row.len());
        let out = model
            .forward(
                &ids,
                &mask,
                Forward::eval().with_masks(masks(model.masks())),
            )
            .unwrap();
        out.hidden.narrow(1, 0, T + 1).unwrap()
    };
    (run(&a), run(&b))
}

#[test]
fn causal_mask_keeps_earlier_states_independent_of_later_tokens() {
    for (qk_norm, attn_fn) in variants() {
        let config = Config {
            qk_norm,
            attn_fn,
            ..tiny_config(Arch::Decoder)
        };
        let (a, b) = hidden_of_diverging_texts(config, |m| m);
        let diff = max_abs_diff(&a, &b);
        assert!(
            diff < 1e-6,
            "qk_norm {qk_norm}, {attn_fn:?}: states at positions <= t moved by {diff} when later tokens changed"
        );
    }
}

#[test]
fn without_causal_mask_later_tokens_change_earlier_states() {
    let (a, b) =
        hidden_of_diverging_texts(tiny_config(Arch::Decoder), |m| Masks { causal: false, ..m });
    let diff = max_abs_diff(&a, &b);
    assert!(
        diff > 1e-3,
        "causal mask off, yet earlier states moved only {diff}"
    );
}

#[test]
fn causal_weights_have_an_exactly_zero_upper_triangle() {
    for f in ATTN_FNS {
        let (attn, _, _) = weights_with_empty_row(Arch::Decoder, f);
        for weights in &attn {
            let (b, h, l, _) = weights.dims4().unwrap();
            let flat: Vec<f32> = weights.flatten_all().unwrap().to_vec1().unwrap();
            for (n, w) in flat.iter().enumerate() {
                let (q, k) = ((n / l) % l, n % l);
                let at = format!("{f:?}, batch x head {}, q {q}, k {k}", n / (l * l));
                if k > q {
                    assert_eq!(*w, 0.0, "weight {w} above the diagonal ({at})");
                }
                // The first query of a real text has one key: all of its weight.
                if q == 0 && k == 0 && n / (h * l * l) < 2 {
                    assert_eq!(*w, 1.0, "the only key gets {w} ({at})");
                }
            }
            assert_eq!(flat.len(), b * h * l * l);
        }
    }
}
