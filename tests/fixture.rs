//! Run folders written by an earlier version still load: `tests/fixtures/run_v1/`
//! was written by the version before the code was reorganised (commit 2f2e5b3), a
//! tiny run interrupted one step into its second epoch. It must open for `predict`
//! with the same probabilities, and resume to the same final metrics, as then.

mod common;

use common::{tiny_options, write_task, PROBE};
use std::path::{Path, PathBuf};
use xray::modes::saved_run::SavedRun;
use xray::runner::control::Control;
use xray::runner::folder::RunFiles;
use xray::train::report::FinalMetrics;
use xray::train::run::{self, Outcome};

const TEXTS: [&str; 3] = ["great film", "awful plot", "the story was"];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run_v1")
}

/// A copy of `run` under `root/runs/`, its dataset path pointed at a freshly
/// written copy of the same task (the fixture recorded a temporary folder).
fn copy_run(run: &Path, root: &Path) -> PathBuf {
    let data = write_task(root, &["great", "awful"], 120);
    let dest = root.join("runs").join("fixture");
    for entry in walk(run) {
        let target = dest.join(entry.strip_prefix(run).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
    let args = dest.join("train_args.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&args).unwrap()).unwrap();
    json["dataset"] = serde_json::json!({ "File": data });
    std::fs::write(&args, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    dest
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

fn predict(run: &Path) -> Vec<Vec<f32>> {
    let saved = SavedRun::open(run, &candle_core::Device::Cpu).unwrap();
    let texts: Vec<String> = TEXTS.iter().map(|t| t.to_string()).collect();
    saved.predict(&texts, &candle_core::Device::Cpu).unwrap()
}

fn resume(root: &Path) -> FinalMetrics {
    let files = RunFiles::new(root, "fixture");
    match run::resume(
        &files,
        &candle_core::Device::Cpu,
        &Control::default(),
        PROBE,
    )
    .unwrap()
    {
        Outcome::Finished(m) => m,
        Outcome::Interrupted(dir) => panic!("stopped early in {}", dir.display()),
    }
}

#[test]
fn a_run_folder_written_before_the_reorganisation_predicts_and_resumes_as_then() {
    let expected = |name| std::fs::read_to_string(fixture().join(name)).unwrap();
    let root = tempfile::tempdir().unwrap();
    let run = copy_run(&fixture().join("run"), root.path());
    // The probabilities within 1e-6: the kernels sum in another order on an
    // AVX2 CPU than on the AVX-512 one that wrote the fixture (one ulp apart).
    let want: Vec<Vec<f32>> = serde_json::from_str(&expected("probs.json")).unwrap();
    let got = predict(&run);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
        assert!(
            (g - w).abs() < 1e-6,
            "{got:?} against {want:?} when the fixture was written"
        );
    }
    // The metrics within 1e-6: the loss is a sum over the vocabulary whose
    // order the fused cross-entropy kernel chose (values moved by 6e-9).
    let got = resume(root.path());
    let want: FinalMetrics = serde_json::from_str(&expected("final_metrics.json")).unwrap();
    assert_eq!(got.best_epoch, want.best_epoch);
    for (name, a, b) in [
        ("test_accuracy", got.test_accuracy, want.test_accuracy),
        ("test_f1", got.test_f1, want.test_f1),
        ("val_loss", got.val_loss, want.val_loss),
        ("train_loss", got.train_loss, want.train_loss),
    ] {
        assert!(
            (a - b).abs() < 1e-6,
            "{name}: {a} against {b} when the fixture was written"
        );
    }
}

/// Writes tests/fixtures/run_v1 afresh. Only for a deliberate change of format:
/// `cargo test --test fixture -- --ignored`.
#[test]
#[ignore]
fn write_fixture() {
    let root = tempfile::tempdir().unwrap();
    let data = write_task(root.path(), &["great", "awful"], 120);
    let opts = xray::train::options::TrainOptions {
        epochs: 2,
        ..tiny_options(&data)
    };
    let files = RunFiles::new(root.path(), "fixture");
    let stop = Control {
        stop_after_steps: Some(8), // 108 training rows: 7 steps an epoch
        ..Control::default()
    };
    let outcome = run::train(opts, &files, &candle_core::Device::Cpu, &stop, PROBE).unwrap();
    assert!(matches!(outcome, Outcome::Interrupted(_)));
    let out = fixture();
    let _ = std::fs::remove_dir_all(&out);
    for entry in walk(&files.run) {
        let target = out
            .join("run")
            .join(entry.strip_prefix(&files.run).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
    std::fs::write(out.join("probs.json"), json(&predict(&files.run))).unwrap();
    std::fs::write(out.join("final_metrics.json"), json(&resume(root.path()))).unwrap();
}
