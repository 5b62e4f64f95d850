//! README's results table agrees with the committed metrics, and no published file
//! names one machine's paths: scripts/check_numbers.py renders the table from
//! metrics/ and fails on any difference, here on a planted one; its --paths rule
//! fails on a machine's absolute path in published text, here on a planted one.

use std::path::Path;
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The check run on `root`, or None (with the reason printed) without python3.
fn check(root: &Path, args: &[&str]) -> Option<Output> {
    let script = Path::new(ROOT).join("scripts/check_numbers.py");
    match Command::new("python3")
        .arg(script)
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
    {
        Ok(out) => Some(out),
        Err(e) => {
            println!("skipped: python3 not runnable ({e})");
            None
        }
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// README and the four metrics files the table reads, copied into `dir`.
fn copy_inputs(dir: &Path) {
    std::fs::create_dir_all(dir.join("metrics")).unwrap();
    std::fs::copy(Path::new(ROOT).join("README.md"), dir.join("README.md")).unwrap();
    for name in [
        "final_metrics.json",
        "run_summary.json",
        "provenance.json",
        "faithfulness.json",
    ] {
        let from = Path::new(ROOT).join("metrics").join(name);
        std::fs::copy(from, dir.join("metrics").join(name)).unwrap();
    }
}

#[test]
fn the_committed_table_agrees_and_a_planted_mismatch_fails() {
    let Some(out) = check(Path::new(ROOT), &["--paths"]) else {
        return;
    };
    assert!(out.status.success(), "{}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    let path = dir.path().join("metrics/final_metrics.json");
    let mut metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let acc = metrics["test_accuracy"].as_f64().unwrap();
    metrics["test_accuracy"] = serde_json::json!(acc - 0.01);
    std::fs::write(&path, metrics.to_string()).unwrap();
    let out = check(dir.path(), &[]).unwrap();
    assert!(!out.status.success(), "a planted mismatch passed");
    assert!(text(&out).contains("results table"), "{}", text(&out));
}

#[test]
fn a_machine_path_in_published_text_fails_the_paths_rule() {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
    };
    if git(&["init", "-q"]).is_err() {
        println!("skipped: git not runnable");
        return;
    }
    git(&["add", "-A"]).unwrap();
    let Some(clean) = check(dir.path(), &["--paths"]) else {
        return;
    };
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    let page = "Run it: /home/someone/xray/target/release/xray predict";
    std::fs::write(dir.path().join("docs/page.md"), page).unwrap();
    git(&["add", "-A"]).unwrap();
    let out = check(dir.path(), &["--paths"]).unwrap();
    assert!(clean.status.success(), "{}", text(&clean));
    assert!(!out.status.success(), "an absolute binary path passed");
    assert!(text(&out).contains("docs/page.md:1"), "{}", text(&out));
}
