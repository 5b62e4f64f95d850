//! Training on a small synthetic task the test writes itself: it learns, leaves the
//! brief's artifacts, repeats itself under one seed, resumes exactly, and stops on NaN.

mod common;

use common::{assert_success, tiny_options, write_task, write_task_filled, PROBE};
use std::path::{Path, PathBuf};
use xray::model::{Activation, Arch, AttnFn, Config, Forward, NormKind, Pool};
use xray::modes::saved_run::SavedRun;
use xray::runner::control::Control;
use xray::runner::folder::RunFiles;
use xray::train::options::TrainOptions;
use xray::train::report::FinalMetrics;
use xray::train::run::{self, Outcome};
use xray::train::state::EpochRecord;

fn train(opts: &TrainOptions, root: &Path, name: &str, control: &Control) -> Outcome {
    run::train(
        opts.clone(),
        &RunFiles::new(root, name),
        &candle_core::Device::Cpu,
        control,
        PROBE,
    )
    .unwrap()
}

fn finished(outcome: Outcome) -> FinalMetrics {
    match outcome {
        Outcome::Finished(m) => m,
        Outcome::Interrupted(dir) => panic!("run stopped early in {}", dir.display()),
    }
}

/// history.jsonl without the wall-clock fields, which no seed can fix.
fn history(run: &Path) -> Vec<EpochRecord> {
    let text = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    text.lines()
        .map(|l| EpochRecord {
            seconds: 0.0,
            tokens_per_s: 0.0,
            ..serde_json::from_str(l).unwrap()
        })
        .collect()
}

#[test]
fn training_learns_the_task_and_writes_the_briefs_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 400);
    let metrics = finished(train(
        &tiny_options(&data),
        dir.path(),
        "enc",
        &Control::default(),
    ));
    assert!(metrics.test_accuracy > 0.9, "{metrics:?}");
    // The curve inside each epoch ends exactly at the epoch's end.
    for record in history(&dir.path().join("runs/enc")) {
        let last = record.train_curve.last().expect("no training curve points");
        assert_eq!(last.epoch, record.epoch as f64, "{record:?}");
    }
    // Ten validations per epoch by default, the last at its end; the kept
    // weights are those of the lowest validation loss of them all.
    let records = history(&dir.path().join("runs/enc"));
    for record in &records {
        assert_eq!(record.val_curve.len(), 10, "{record:?}");
        let end = record.val_curve.last().unwrap();
        assert_eq!(end.epoch, record.epoch as f64);
        // Every head measured at every validation point, each number in range.
        for point in &record.val_curve {
            assert_eq!(point.heads.len(), 2, "1 layer of 2 heads: {point:?}");
            for h in &point.heads {
                assert!(h.entropy > 0.0 && h.entropy <= 1.0 + 1e-6, "{h:?}");
                assert!(
                    h.top5_x_uniform.is_finite() && h.top5_x_uniform >= 0.0,
                    "{h:?}"
                );
                assert!((0.0..=1.0).contains(&h.precision_at_5), "{h:?}");
            }
        }
    }
    let lowest = records
        .iter()
        .flat_map(|r| &r.val_curve)
        .min_by(|a, b| a.loss.total_cmp(&b.loss))
        .unwrap();
    assert_eq!(records.last().unwrap().best_step, Some(lowest.step));
    assert_eq!(metrics.best_epoch, lowest.epoch.ceil() as usize);
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("metrics/final_metrics.json")).unwrap(),
    )
    .unwrap();
    let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "best_epoch",
            "test_accuracy",
            "test_f1",
            "train_loss",
            "val_loss"
        ]
    );
    // The temperature fitted on validation is what a saved run's probabilities
    // use: softmax(logits / T), the prediction unchanged.
    let run = dir.path().join("runs/enc");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("metrics/run_summary.json")).unwrap(),
    )
    .unwrap();
    let calibration = summary["calibration"].as_array().unwrap();
    assert_eq!(calibration.len(), 2, "{summary}");
    assert_eq!(calibration[0]["fitted_on"], "val");
    let t = xray::train::calibrate::read_temperature(&run).unwrap();
    assert_eq!(calibration[0]["temperature"].as_f64(), Some(t));
    assert!(calibration[0]["nll_after"].as_f64() <= calibration[0]["nll_before"].as_f64());
    let cpu = candle_core::Device::Cpu;
    let saved = xray::modes::saved_run::SavedRun::open(&run, &cpu).unwrap();
    assert_eq!(saved.model.temperature(), t);
    let ids = saved.split("test").unwrap().ids[..8].to_vec();
    let served = xray::runner::inference::predict_probs(&saved.model, &ids, 8, &cpu).unwrap();
    let (raw, _, _) = xray::model::store::load_model(&run, &cpu).unwrap();
    let raw = xray::runner::inference::predict_probs(&raw, &ids, 8, &cpu).unwrap();
    for (s, r) in served.iter().zip(&raw) {
        let expected = xray::train::calibrate::rescale(r, t);
        for (a, b) in s.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-4, "{s:?} vs {expected:?} at T {t}");
        }
        assert_eq!(
            xray::runner::inference::argmax(s),
            xray::runner::inference::argmax(r)
        );
    }
    for file in [
        "runs/enc/calibration.json",
        "figures/curves.png",
        "figures/heads_over_training.png",
        "metrics/run_summary.json",
        "runs/enc/model.safetensors",
        "runs/enc/config.json",
        "runs/enc/tokenizer.json",
        "runs/enc/labels.json",
        "runs/enc/last/state.json",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} is missing");
    }
    assert_eq!(history(&dir.path().join("runs/enc")).len(), 3);
    // metrics/ describes this one run: its history.jsonl is the run's, and the
    // summary quotes the same history and the same test accuracy.
    let read = |file: &str| std::fs::read_to_string(dir.path().join(file)).unwrap();
    assert_eq!(
        read("metrics/history.jsonl"),
        read("runs/enc/history.jsonl")
    );
    let summary: serde_json::Value =
        serde_json::from_str(&read("metrics/run_summary.json")).unwrap();
    let lines: Vec<serde_json::Value> = read("metrics/history.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(summary["history"], serde_json::Value::Array(lines));
    assert_eq!(summary["test_accuracy"], json["test_accuracy"]);
    assert_eq!(
        std::fs::read_link(dir.path().join("runs/latest")).unwrap(),
        PathBuf::from("enc")
    );
    let labels: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("runs/enc/labels.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        labels,
        ["awful", "great"],
        "string labels are numbered in sorted order and saved"
    );

    // eval recomputes the test metrics; predict reads the marker word.
    let device = candle_core::Device::Cpu;
    let saved = SavedRun::open(&dir.path().join("runs/enc"), &device).unwrap();
    let test = saved
        .evaluate(&saved.split("test").unwrap(), &device)
        .unwrap();
    assert_eq!(test.scores.accuracy, metrics.test_accuracy);
    let probs = saved
        .predict(
            &["the film was great".into(), "the film was awful".into()],
            &device,
        )
        .unwrap();
    assert!(probs[0][1] > 0.5 && probs[1][0] > 0.5, "{probs:?}");
}

#[test]
fn same_seed_gives_the_same_history_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 200);
    let opts = TrainOptions {
        epochs: 2,
        ..tiny_options(&data)
    };
    let a = finished(train(&opts, dir.path(), "a", &Control::default()));
    let b = finished(train(&opts, dir.path(), "b", &Control::default()));
    assert_eq!(a, b);
    assert_eq!(
        history(&dir.path().join("runs/a")),
        history(&dir.path().join("runs/b"))
    );
    let c = finished(train(
        &TrainOptions { seed: 1, ..opts },
        dir.path(),
        "c",
        &Control::default(),
    ));
    assert_ne!(
        history(&dir.path().join("runs/a")),
        history(&dir.path().join("runs/c")),
        "the seed changed nothing"
    );
    assert_ne!(a, c);
}

#[test]
fn an_interrupted_run_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    // Texts of 10 to 30 words, and --spans: the spans (16 tokens and up) each
    // epoch draws must be drawn again on resume.
    let data = write_task_filled(dir.path(), &["great", "awful"], 200, 10);
    let tiny = tiny_options(&data);
    let opts = TrainOptions {
        epochs: 2,
        spans: 0.5,
        model: Config {
            max_len: 40,
            ..tiny.model
        },
        ..tiny
    };
    let whole = finished(train(&opts, dir.path(), "whole", &Control::default()));
    let plain = TrainOptions {
        spans: 0.0,
        ..opts.clone()
    };
    finished(train(&plain, dir.path(), "plain", &Control::default()));
    assert_ne!(
        history(&dir.path().join("runs/whole")),
        history(&dir.path().join("runs/plain")),
        "--spans 0.5 changed nothing"
    );
    // 180 training rows / 16 = 12 steps per epoch: stop in the middle of epoch 2.
    let stop = Control {
        stop_after_steps: Some(17),
        ..Control::default()
    };
    assert!(matches!(
        train(&opts, dir.path(), "cut", &stop),
        Outcome::Interrupted(_)
    ));
    let files = RunFiles::new(dir.path(), "cut");
    let resumed = finished(
        run::resume(
            &files,
            &candle_core::Device::Cpu,
            &Control::default(),
            PROBE,
        )
        .unwrap(),
    );
    assert_eq!(resumed, whole);
    assert_eq!(
        history(&dir.path().join("runs/cut")),
        history(&dir.path().join("runs/whole"))
    );
}

#[test]
fn a_nan_loss_stops_the_run_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 100);
    // Finite, so it passes the option check, and far too large.
    let opts = TrainOptions {
        lr: 1e30,
        ..tiny_options(&data)
    };
    let err = run::train(
        opts,
        &RunFiles::new(dir.path(), "nan"),
        &candle_core::Device::Cpu,
        &Control::default(),
        PROBE,
    )
    .err()
    .expect("an infinite learning rate must fail");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("the training loss became NaN") && msg.contains("--lr"),
        "{msg}"
    );
    assert!(
        !dir.path().join("metrics/final_metrics.json").exists(),
        "metrics written for a failed run"
    );
}

#[test]
fn decoder_layernorm_silu_and_four_classes_train_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["world", "sports", "business", "science"], 480);
    let model = Config {
        arch: Arch::Decoder,
        pool: Pool::default_for(Arch::Decoder),
        norm: NormKind::Layer,
        act: Activation::Silu,
        ..tiny_options(&data).model
    };
    let opts = TrainOptions {
        model,
        epochs: 4,
        ..tiny_options(&data)
    };
    let metrics = finished(train(&opts, dir.path(), "dec", &Control::default()));
    assert!(metrics.test_f1 > 0.8, "{metrics:?}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("metrics/run_summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["confusion"].as_array().unwrap().len(), 4);
}

#[test]
fn the_cli_exits_130_on_interrupt_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 100);
    let xray = env!("CARGO_BIN_EXE_xray");
    let out = std::process::Command::new(xray)
        .args([
            "train",
            "--dataset",
            data.to_str().unwrap(),
            "--tokenizer",
            dir.path().join("tokenizer.json").to_str().unwrap(),
            "--d-model",
            "16",
            "--heads",
            "2",
            "--layers",
            "1",
            "--max-len",
            "24",
            "--epochs",
            "1",
            "--name",
            "cli",
            "--stop-after-steps",
            "2",
        ])
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("resume with: xray train --resume"));
    let out = std::process::Command::new(xray)
        .args(["train", "--resume"])
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
    assert!(dir.path().join("metrics/final_metrics.json").is_file());
    // An empty text is refused as a usage error, not answered.
    let out = std::process::Command::new(xray)
        .args(["predict", "a fine film", "  "])
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("text 2 is empty"), "{err}");
}

/// An option out of range is a usage error (exit 2, SPEC), caught before
/// anything is written; a runtime error (a missing file) exits 1.
#[test]
fn a_bad_option_exits_2_and_a_missing_file_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 40);
    let xray = env!("CARGO_BIN_EXE_xray");
    let train = |args: &[&str]| {
        std::process::Command::new(xray)
            .arg("train")
            .args(args)
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let out = train(&["--dataset", data.to_str().unwrap(), "--spans", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--spans 2: use a share from 0 to 1"), "{err}");
    let out = train(&["--dataset", data.to_str().unwrap(), "--batch-size", "0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--batch-size 0"), "{err}");
    assert!(
        !dir.path().join("runs").exists(),
        "a usage error wrote a run"
    );
    let missing = dir.path().join("missing.csv");
    let out = train(&["--dataset", missing.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--strip-markup` is saved with the run and applied to every text it reads
/// afterwards: a text with line breaks predicts as the same text without them.
#[test]
fn strip_markup_is_saved_and_applied_when_the_run_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 100);
    let opts = TrainOptions {
        epochs: 1,
        strip_markup: true,
        ..tiny_options(&data)
    };
    finished(train(&opts, dir.path(), "clean", &Control::default()));
    let cpu = candle_core::Device::Cpu;
    let saved = SavedRun::open(&dir.path().join("runs/clean"), &cpu).unwrap();
    assert!(saved.options.strip_markup);
    let texts = |t: &str| vec![t.to_string()];
    assert_eq!(
        saved
            .predict(&texts("great<br /><br />film"), &cpu)
            .unwrap(),
        saved.predict(&texts("great film"), &cpu).unwrap()
    );
}

/// `--qk-norm` (config.json) and `--qk-lr-mult` (train_args.json) are saved with
/// the run; reopening it builds QK-norm's gains and loads their trained values,
/// on weights that build no gradient graph.
#[test]
fn qk_norm_and_the_qk_multiple_are_saved_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 100);
    let base = tiny_options(&data);
    let opts = TrainOptions {
        epochs: 1,
        qk_lr_mult: 3.0,
        model: Config {
            qk_norm: true,
            ..base.model.clone()
        },
        ..base
    };
    finished(train(&opts, dir.path(), "qk", &Control::default()));
    let run = dir.path().join("runs/qk");
    let cpu = candle_core::Device::Cpu;
    let saved = SavedRun::open(&run, &cpu).unwrap();
    assert!(saved.config.qk_norm);
    assert_eq!(saved.options.qk_lr_mult, 3.0);
    assert_eq!(saved.params, saved.config.param_count());
    let weights = candle_core::safetensors::load(run.join("model.safetensors"), &cpu).unwrap();
    let gain: Vec<f32> = weights
        .iter()
        .find(|(name, _)| name.ends_with("attn.q_norm.weight"))
        .map(|(_, t)| t.to_vec1().unwrap())
        .unwrap_or_else(|| panic!("no q_norm gain among {:?}", weights.keys()));
    assert!(
        gain.iter().any(|&g| (g - 1.0).abs() > 1e-4),
        "the gain never trained: {gain:?}"
    );
    // A saved run only serves: its forward records no gradient graph.
    let b = xray::data::collate::collate_unlabelled(&[&[1, 5, 2]], &cpu).unwrap();
    let logits = saved.model.logits(&b.input_ids, &b.attention_mask).unwrap();
    assert!(
        !logits.track_op(),
        "inference on a saved run built a gradient graph"
    );
}

/// A run trained with 1.5-entmax is saved as such, reloads as such (config.json's
/// `attn_fn`), and its heads give exactly zero weight to some real keys.
#[test]
fn a_sparse_attention_run_is_saved_and_reloaded_sparse() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 100);
    let base = tiny_options(&data);
    let opts = TrainOptions {
        epochs: 1,
        model: Config {
            attn_fn: AttnFn::Entmax15,
            ..base.model.clone()
        },
        ..base
    };
    finished(train(&opts, dir.path(), "sparse", &Control::default()));
    let cpu = candle_core::Device::Cpu;
    let saved = SavedRun::open(&dir.path().join("runs/sparse"), &cpu).unwrap();
    assert_eq!(saved.config.attn_fn, AttnFn::Entmax15);
    let ids: Vec<u32> = (0..16).map(|i| 1 + i % 17).collect();
    let b = xray::data::collate::collate_unlabelled(&[&ids], &cpu).unwrap();
    let out = saved
        .model
        .forward(&b.input_ids, &b.attention_mask, Forward::eval().keep_attn())
        .unwrap();
    let weights: Vec<f32> = out.attn[0].flatten_all().unwrap().to_vec1().unwrap();
    let zeros = weights.iter().filter(|&&w| w == 0.0).count();
    assert!(zeros > 0, "no exact zero among {} weights", weights.len());
}
