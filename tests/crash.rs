//! `kill -9` at any moment, a checkpoint write included, costs at most the steps
//! since the last checkpoint: the run resumes to the uninterrupted run's final
//! metrics and history bit for bit, and no file a reader opens is ever half-written.
//!
//! Kills come two ways: `XRAY_CRASH_AT=N`, which makes the process SIGKILL itself
//! at its N-th crash point (after a step, and between the file operations of a
//! write: see src/faults.rs), and a SIGKILL from this test at a random moment.

mod common;

use common::write_task;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;
use xray::rng::Rng;
use xray::train::checkpoint::EpochRecord;

const XRAY: &str = env!("CARGO_BIN_EXE_xray");

/// A tiny two-epoch run of `name`, checkpointing after every step.
fn train(dir: &Path, name: &str) -> Command {
    let data = dir.join("task.csv");
    let tokenizer = dir.join("tokenizer.json");
    let mut cmd = Command::new(XRAY);
    cmd.args(["train", "--dataset"]).arg(&data);
    cmd.arg("--tokenizer").arg(&tokenizer);
    cmd.args([
        "--d-model",
        "16",
        "--heads",
        "2",
        "--layers",
        "1",
        "--max-len",
        "24",
    ]);
    cmd.args(["--epochs", "2", "--batch-size", "16", "--lr", "3e-3"]);
    // One validation per epoch: the fault points counted below assume it (the
    // validations inside an epoch are resumed exactly in tests/train.rs).
    cmd.args(["--val-points", "1"]);
    cmd.args(["--checkpoint-steps", "1", "--name", name]);
    cmd.arg("--out").arg(dir);
    cmd
}

fn resume(dir: &Path, name: &str) -> Command {
    let mut cmd = Command::new(XRAY);
    cmd.args(["train", "--resume"])
        .arg(dir.join("runs").join(name));
    cmd.args(["--checkpoint-steps", "1"]).arg("--out").arg(dir);
    cmd
}

fn killed(status: ExitStatus) -> bool {
    status.signal() == Some(9)
}

/// Every file a reader may open parses: JSON, JSON lines and safetensors alike.
/// Temporary files (`*.tmp`, `last.tmp/`) are the writers' own scratch.
fn check_files(dir: &Path, checked: &mut usize) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            continue;
        }
        if path.is_dir() {
            check_files(&path, checked);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let whole = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
            Some("jsonl") => String::from_utf8_lossy(&bytes)
                .lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
            Some("safetensors") => safetensors::SafeTensors::deserialize(&bytes).is_ok(),
            _ => true,
        };
        assert!(whole, "{} is half-written", path.display());
        *checked += 1;
    }
}

/// history.jsonl without the wall-clock fields.
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

fn metrics(run: &Path) -> String {
    std::fs::read_to_string(run.join("final_metrics.json")).unwrap()
}

#[test]
fn a_run_killed_again_and_again_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    write_task(dir.path(), &["great", "awful"], 200);
    let started = std::time::Instant::now();
    let status = train(dir.path(), "whole").output().unwrap().status;
    // The outside kill lands within the first quarter of a whole run's time, so
    // it interrupts the run in a fast (release) build too.
    let quarter = (started.elapsed().as_millis() as u64 / 4).max(2);
    assert!(status.success(), "the uninterrupted run failed: {status}");
    let whole: PathBuf = dir.path().join("runs/whole");

    let mut rng = Rng::new(2026);
    let (mut kills, mut in_writes, mut checked) = (0, 0, 0);
    // Points 1-3 write the run folder's first files, 4 ends step 1, 5-11 write
    // its checkpoint: 12 is the first kill with a checkpoint to resume from.
    let mut next = train(dir.path(), "killed");
    next.env("XRAY_CRASH_AT", "12");
    let run = dir.path().join("runs/killed");
    loop {
        let status = next.output().unwrap().status;
        if status.success() {
            break;
        }
        assert!(killed(status), "the run failed on its own: {status}");
        kills += 1;
        in_writes += usize::from(run.join("last.tmp").exists() || run.join("last.old").exists());
        check_files(&run, &mut checked);
        assert!(kills < 500, "the run never finished");
        next = resume(dir.path(), "killed");
        if kills == 1 {
            // Once from outside, at a random moment of a whole resumed run.
            let mut child = next.spawn().unwrap();
            std::thread::sleep(Duration::from_millis(
                1 + rng.below(quarter as usize) as u64,
            ));
            let _ = child.kill();
            let status = child.wait().unwrap();
            assert!(status.success() || killed(status), "{status}");
            check_files(&run, &mut checked);
            next = resume(dir.path(), "killed");
        }
        // A resumed process's points: 1 ends its first step, 2-8 write that
        // step's checkpoint (2-11 at an epoch's end: best weights, config,
        // history, checkpoint). Every other kill lands inside those writes (no
        // progress); the others after them.
        let at = if kills % 2 == 1 {
            2 + rng.below(7)
        } else {
            12 + rng.below(8)
        };
        next.env("XRAY_CRASH_AT", at.to_string());
    }
    println!(
        "{kills} kills, {in_writes} of them inside a checkpoint write; {checked} files checked"
    );
    assert!(
        kills >= 10,
        "only {kills} kills: the run is too short to test"
    );
    assert!(in_writes >= 5, "no kill landed inside a checkpoint write");
    assert_eq!(metrics(&run), metrics(&whole));
    assert_eq!(history(&run), history(&whole));
}

#[test]
fn a_run_killed_before_its_first_checkpoint_says_so_and_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    write_task(dir.path(), &["great", "awful"], 200);
    let status = train(dir.path(), "early")
        // Points 1-3 are the run folder's first files, 4 the end of the first
        // step: killed before its checkpoint is written.
        .env("XRAY_CRASH_AT", "4")
        .status()
        .unwrap();
    assert!(killed(status), "{status}");
    let out = resume(dir.path(), "early").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("has no checkpoint to resume from"), "{err}");
    let predict = Command::new(XRAY)
        .args(["predict", "great film", "--run"])
        .arg(dir.path().join("runs/early"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&predict.stderr);
    assert!(err.contains("has not finished an epoch yet"), "{err}");
    assert!(
        !dir.path().join("runs/latest").exists(),
        "runs/latest moved to an unusable run"
    );
    // The same name starts afresh: nothing in the dead folder was worth keeping.
    let status = train(dir.path(), "early").status().unwrap();
    assert!(status.success(), "{status}");
    assert!(dir.path().join("runs/latest").exists());
}
