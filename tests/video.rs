//! `xray video` on a tiny trained and X-rayed run: with ffmpeg, an H.264 MP4 at
//! 1280x720 as long as its script says (and an audio stream with --voice); without
//! ffmpeg, a clear error and nothing written; --frames-only needs no ffmpeg.

mod common;

use common::{assert_success, tiny_options, write_task, PROBE};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use xray::runner::control::Control;
use xray::runner::folder::RunFiles;
use xray::train::run;

const XRAY: &str = env!("CARGO_BIN_EXE_xray");

/// One tiny run, trained and X-rayed (`xray attn --compare-causal --html`) once
/// for every test here; the folder lives as long as the test process.
fn run_root() -> &'static Path {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = write_task(dir.path(), &["great", "awful"], 400);
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
        let out = Command::new(XRAY)
            .args([
                "attn",
                "--compare-causal",
                "--html",
                "--faithfulness",
                "40",
                "--run",
            ])
            .arg(&files.run)
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_success(&out);
        dir
    })
    .path()
}

/// `xray video --from <the run> ARGS` in folder `cwd`, with PATH replaced when given.
fn video(args: &[&str], cwd: &Path, path: Option<&str>) -> Output {
    let mut cmd = Command::new(XRAY);
    cmd.current_dir(cwd)
        .arg("video")
        .arg("--from")
        .arg(run_root())
        .args(args);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.output().unwrap()
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("-version").output().is_ok()
        || Command::new(tool).arg("--version").output().is_ok()
}

/// The run's test accuracy as the captions write it.
fn accuracy() -> String {
    let text = std::fs::read_to_string(run_root().join("metrics/final_metrics.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    format!("{:.4}", json["test_accuracy"].as_f64().unwrap())
}

/// The total the script states: "(123.40 s)".
fn scripted_seconds(script: &str) -> f64 {
    let end = script.find(" s),").expect("the script states its length");
    let start = script[..end].rfind('(').unwrap() + 1;
    script[start..end].parse().unwrap()
}

fn probe(mp4: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(mp4)
        .output()
        .unwrap();
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn streams<'a>(probe: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["codec_type"] == kind)
        .collect()
}

#[test]
fn the_video_is_h264_at_720p_as_long_as_its_script_with_a_voice_when_asked() {
    if !have("ffmpeg") || !have("ffprobe") {
        eprintln!("skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)");
        return;
    }
    let voice = have("espeak-ng");
    if !voice {
        eprintln!("espeak-ng not installed: checking the video without --voice");
    }
    let out_dir = tempfile::tempdir().unwrap();
    // The default, relative --out, as `make video` gives it.
    let mp4 = out_dir.path().join("video").join("xray.mp4");
    let mut args = vec!["--no-browser", "--out", "video/xray.mp4"];
    if voice {
        args.push("--voice");
    }
    let out = video(&args, out_dir.path(), None);
    assert_success(&out);
    let script = std::fs::read_to_string(mp4.with_file_name("script.md")).unwrap();
    assert!(
        script.contains(&format!("accuracy {}", accuracy())),
        "{script}"
    );

    let p = probe(&mp4);
    let video = streams(&p, "video");
    assert_eq!(video.len(), 1, "{p}");
    assert_eq!(
        (
            &video[0]["codec_name"],
            &video[0]["width"],
            &video[0]["height"]
        ),
        (&"h264".into(), &1280.into(), &720.into())
    );
    let seconds: f64 = p["format"]["duration"].as_str().unwrap().parse().unwrap();
    let expected = scripted_seconds(&script);
    assert!(
        (seconds - expected).abs() < 1.0,
        "{seconds} s against the script's {expected} s"
    );
    assert_eq!(streams(&p, "audio").len(), usize::from(voice), "{p}");
    // Only the video and its script are left beside each other.
    let left: Vec<PathBuf> = std::fs::read_dir(mp4.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn without_ffmpeg_the_video_fails_naming_the_package_and_writes_nothing() {
    let empty = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let mp4 = out_dir.path().join("video").join("xray.mp4");
    let out = video(
        &["--out", mp4.to_str().unwrap()],
        out_dir.path(),
        empty.path().to_str(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ffmpeg was not found") && stderr.contains(xray::video::INSTALL),
        "{stderr}"
    );
    assert!(!out_dir.path().join("video").exists(), "nothing is written");
}

#[test]
fn frames_only_writes_720p_frames_and_the_script_without_ffmpeg() {
    let empty = tempfile::tempdir().unwrap();
    let frames = tempfile::tempdir().unwrap();
    let out = video(
        &[
            "--no-browser",
            "--frames-only",
            frames.path().to_str().unwrap(),
        ],
        frames.path(),
        empty.path().to_str(),
    );
    assert_success(&out);
    let script = std::fs::read_to_string(frames.path().join("script.md")).unwrap();
    assert!(
        script.contains(&format!("accuracy {}", accuracy())),
        "{script}"
    );
    let pngs: Vec<PathBuf> = std::fs::read_dir(frames.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    // Title, 3 examples x 2, the heads' cards, two masks, curves, metrics,
    // faithfulness, lessons, close; and the heads forming when a head reads.
    let faith = std::fs::read_to_string(run_root().join("metrics/faithfulness.json")).unwrap();
    let faith: serde_json::Value = serde_json::from_str(&faith).unwrap();
    let reads = faith["heads"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["role"] == "reading");
    assert_eq!(pngs.len(), 15 + usize::from(reads), "{pngs:?}");
    assert!(script.contains("Every head explained"), "{script}");
    assert_eq!(script.contains("The heads forming"), reads, "{script}");
    // The Spanish script has its own name, so making both keeps both.
    let es = tempfile::tempdir().unwrap();
    let out = video(
        &[
            "--no-browser",
            "--lang",
            "es",
            "--frames-only",
            es.path().to_str().unwrap(),
        ],
        es.path(),
        empty.path().to_str(),
    );
    assert_success(&out);
    let script_es = std::fs::read_to_string(es.path().join("script_es.md")).unwrap();
    assert!(script_es.contains("Cada cabeza explicada"), "{script_es}");
    assert!(!es.path().join("script.md").exists());
    for png in pngs {
        let bytes = std::fs::read(&png).unwrap();
        let size = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!((size(16), size(20)), (1280, 720), "{}", png.display());
    }
}

#[test]
fn a_root_without_the_attention_page_is_an_error_that_says_how_to_make_it() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(XRAY)
        .args(["video", "--frames-only"])
        .arg(empty.path().join("frames"))
        .arg("--from")
        .arg(empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("xray attn --compare-causal --html"),
        "{stderr}"
    );
}
