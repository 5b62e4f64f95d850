//! `kill -9` at any moment, a checkpoint write included, costs at most the steps
//! since the last checkpoint: the run resumes to the uninterrupted run's final
//! metrics and history bit for bit, and no file a reader opens is ever half-written.
//!
//! Kills come two ways: `XRAY_CRASH_AT=N`, which makes the process SIGKILL itself
//! at its N-th crash point (after a step, and between the file operations of a
//! write: see src/util/faults.rs), and a SIGKILL from this test at a random moment.

mod common;

use common::write_task;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;
use xray::train::state::EpochRecord;
use xray::util::rng::Rng;

const XRAY: &str = env!("CARGO_BIN_EXE_xray");

/// The tiny model on the marker task as run `name` under `dir`.
fn tiny_run(dir: &Path, name: &str) -> Command {
    let mut cmd = Command::new(XRAY);
    cmd.args(["train", "--dataset"]).arg(dir.join("task.csv"));
    cmd.arg("--tokenizer").arg(dir.join("tokenizer.json"));
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
    cmd.args(["--batch-size", "16", "--lr", "3e-3", "--name", name]);
    cmd.arg("--out").arg(dir);
    cmd
}

/// A tiny two-epoch run of `name`, checkpointing after every step.
fn train(dir: &Path, name: &str) -> Command {
    let mut cmd = tiny_run(dir, name);
    cmd.args(["--epochs", "2", "--checkpoint-steps", "1"]);
    // One validation per epoch: the fault points counted below assume it (the
    // validations inside an epoch are resumed exactly in tests/train.rs).
    cmd.args(["--val-points", "1"]);
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
        // step's checkpoint (2-12 at an epoch's end: checkpoint, best weights,
        // config, the best-weights point, history). Every other kill lands inside those writes (no
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

/// What a kill left, as a user meets it: where `runs/latest` points, and what
/// `predict` says of the run folder.
struct Left {
    latest: Option<PathBuf>,
    predicts: bool,
    stderr: String,
}

fn left(dir: &Path, name: &str) -> Left {
    let out = Command::new(XRAY)
        .args(["predict", "great film", "--run"])
        .arg(dir.join("runs").join(name))
        .output()
        .unwrap();
    Left {
        latest: std::fs::read_link(dir.join("runs/latest")).ok(),
        predicts: out.status.success(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One epoch of 11 steps with validations after steps 2, 5, 8 and 11 and the
/// default checkpoint interval (minutes: none in a run this short), so its
/// checkpoints are the validations' own.
fn one_epoch(dir: &Path, name: &str) -> Command {
    let mut cmd = tiny_run(dir, name);
    cmd.args(["--epochs", "1", "--val-points", "4"]);
    cmd
}

/// Killed at points chosen by kind and count, not by time: before the first
/// checkpoint, right after the first best-so-far save, in the middle of a
/// checkpoint write, between two validations, between the epoch's checkpoint and
/// its history, and during the test pass. Until the epoch is published the run
/// never becomes `runs/latest` and `predict` refuses it; every kill after the
/// first checkpoint resumes to the uninterrupted run's metrics and history.
#[test]
fn a_run_killed_in_its_first_epoch_is_never_served_and_resumes_exactly() {
    let root = tempfile::tempdir().unwrap();
    write_task(root.path(), &["great", "awful"], 200);
    assert!(one_epoch(root.path(), "whole").status().unwrap().success());
    let whole = root.path().join("runs/whole");
    let vals = &history(&whole)[0].val_curve;
    assert_eq!(
        vals.iter().map(|v| v.step).collect::<Vec<_>>(),
        [2, 5, 8, 11]
    );
    // Which validations saved best weights, to aim a kill at the epoch's last.
    let mut lowest = f64::INFINITY;
    let saved: Vec<bool> = vals
        .iter()
        .map(|v| {
            let better = v.loss < lowest;
            lowest = lowest.min(v.loss);
            better
        })
        .collect();
    assert!(
        saved[3],
        "the epoch's last validation must be its best for the kill between the epoch's \
         checkpoint and its history: {vals:?}"
    );
    let saves = saved.iter().filter(|&&s| s).count();

    // (kill at, has a checkpoint, serves a model)
    let cases = [
        // The crash point of a step follows its validation: step 1 is the last
        // before the first checkpoint.
        ("step:1".to_string(), false, false),
        ("best:1".to_string(), true, false),
        // Points 1-3 are the run's first files, 4-10 the first checkpoint,
        // 11-12 the best weights and config: 16 is inside the second checkpoint.
        ("write:16".to_string(), true, false),
        ("step:7".to_string(), true, false),
        (format!("best:{saves}"), true, false),
        ("final:1".to_string(), true, true),
    ];
    for (at, resumable, serves) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_task(dir.path(), &["great", "awful"], 200);
        let status = one_epoch(dir.path(), "k")
            .env("XRAY_CRASH_AT", &at)
            .status()
            .unwrap();
        assert!(killed(status), "{at}: {status}");
        let run = dir.path().join("runs/k");
        if at.starts_with("write:") {
            assert!(
                run.join("last.tmp").exists() || run.join("last.old").exists(),
                "{at} was not inside a checkpoint write"
            );
        }
        check_files(&run, &mut 0);
        let seen = left(dir.path(), "k");
        assert_eq!(seen.predicts, serves, "{at}: {}", seen.stderr);
        assert_eq!(
            seen.latest.as_deref(),
            serves.then_some(Path::new("k")),
            "{at}: runs/latest"
        );
        if !serves {
            assert!(
                seen.stderr.contains("has not finished an epoch yet"),
                "{at}: {}",
                seen.stderr
            );
        }
        let out = resume(dir.path(), "k").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if !resumable {
            assert_eq!(out.status.code(), Some(1), "{at}: {err}");
            assert!(
                err.contains("has no checkpoint to resume from"),
                "{at}: {err}"
            );
            continue;
        }
        assert!(out.status.success(), "{at}: {err}");
        assert_eq!(metrics(&run), metrics(&whole), "{at}");
        assert_eq!(history(&run), history(&whole), "{at}");
        assert_eq!(
            left(dir.path(), "k").latest.as_deref(),
            Some(Path::new("k"))
        );
    }
}
