//! `xray inspect` on a tiny trained run: the JSON the notebook reads holds the
//! batch the collator built, masks that are what the attention applied, and
//! stages whose shapes agree with each other.

mod common;

use common::{tiny_options, write_task, PROBE};
use serde_json::Value;
use xray::model::MASK_FILL;
use xray::modes::saved_run::SavedRun;
use xray::runner::control::Control;
use xray::runner::folder::RunFiles;
use xray::train::run;

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn inspect_reports_the_batch_its_masks_and_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 200);
    let files = RunFiles::new(dir.path(), "enc");
    let device = candle_core::Device::Cpu;
    run::train(
        tiny_options(&data),
        &files,
        &device,
        &Control::default(),
        PROBE,
    )
    .unwrap();
    let saved = SavedRun::open(&files.run, &device).unwrap();

    let texts = [
        "the film was great and long".to_string(),
        "awful".to_string(),
    ];
    let r = xray::modes::inspect::inspect(&saved, &texts, 4, &device).unwrap();
    let ids: Vec<Vec<u32>> = serde_json::from_value(r["input_ids"].clone()).unwrap();
    let mask: Vec<Vec<u32>> = serde_json::from_value(r["attention_mask"].clone()).unwrap();
    let (b, l) = (ids.len(), ids[0].len());
    assert_eq!(b, 2);
    let real: Vec<usize> = mask
        .iter()
        .map(|m| m.iter().sum::<u32>() as usize)
        .collect();
    for (i, tokens) in r["tokens"].as_array().unwrap().iter().enumerate() {
        assert_eq!(tokens.as_array().unwrap().len(), real[i], "row {i}");
        assert!(
            ids[i][real[i]..].iter().all(|&id| id == 0),
            "padding is [PAD] = 0"
        );
    }
    assert!(real[1] < real[0] && real[0] == l);
    let share = r["padding_share"].as_f64().unwrap();
    assert!((share - (2 * l - real[0] - real[1]) as f64 / (2 * l) as f64).abs() < 1e-12);

    // The masks are drawn for the padded row: padding fills its [PAD] keys, causal the
    // strict upper triangle, and both is their union.
    assert_eq!(r["masks"]["row"], 1);
    let (pad, causal, both) = (
        matrix(&r["masks"]["padding"]),
        matrix(&r["masks"]["causal"]),
        matrix(&r["masks"]["both"]),
    );
    for q in 0..l {
        for k in 0..l {
            let want_pad = if k >= real[1] { MASK_FILL } else { 0.0 };
            let want_causal = if k > q { MASK_FILL } else { 0.0 };
            assert_eq!(pad[q][k], want_pad as f32 as f64, "padding ({q}, {k})");
            assert_eq!(causal[q][k], want_causal as f32 as f64, "causal ({q}, {k})");
            assert_eq!(
                both[q][k],
                (want_pad + want_causal) as f32 as f64,
                "both ({q}, {k})"
            );
        }
    }

    // Attention: rows sum to 1 and no real query looks at a [PAD] key.
    let layers = r["attention"].as_array().unwrap();
    assert_eq!(layers.len(), saved.config.n_layers);
    for layer in layers {
        let w: Vec<Vec<Vec<Vec<f64>>>> = serde_json::from_value(layer.clone()).unwrap();
        assert_eq!((w.len(), w[0].len()), (b, saved.config.n_heads));
        for (i, heads) in w.iter().enumerate() {
            for row in heads.iter().flatten().take(real[i]) {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
                assert!(row[real[i]..].iter().all(|&x| x == 0.0), "weight on [PAD]");
            }
        }
    }
    let probs = matrix(&r["probabilities"]);
    assert!(probs
        .iter()
        .all(|p| (p.iter().sum::<f64>() - 1.0).abs() < 1e-5));

    let d = saved.config.d_model;
    let shapes: Vec<(String, Vec<usize>)> = r["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().into(),
                serde_json::from_value(s["shape"].clone()).unwrap(),
            )
        })
        .collect();
    let want = [
        ("input_ids", vec![b, l]),
        ("token embeddings", vec![b, l, d]),
        (
            "block 1: attention weights",
            vec![b, saved.config.n_heads, l, l],
        ),
        ("hidden states (final norm)", vec![b, l, d]),
        ("pooling weights", vec![b, l]),
        ("logits", vec![b, 2]),
    ];
    let want: Vec<(String, Vec<usize>)> = want.into_iter().map(|(n, s)| (n.into(), s)).collect();
    assert_eq!(shapes, want);

    // Without texts: the shortest validation reviews, of unequal lengths, with their labels.
    let r = xray::modes::inspect::inspect(&saved, &[], 3, &device).unwrap();
    let lens: Vec<usize> = r["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_array().unwrap().len())
        .collect();
    assert_eq!(lens.len(), 3);
    assert!(lens.windows(2).all(|w| w[0] < w[1]), "{lens:?}");
    let gold = r["gold"].as_array().unwrap();
    assert_eq!(gold.len(), 3);
    assert!(gold
        .iter()
        .all(|g| saved.labels.contains(&g.as_str().unwrap().to_string())));
    assert!(xray::modes::inspect::inspect(&saved, &[], 0, &device).is_err());
}
