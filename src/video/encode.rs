//! ffmpeg as a subprocess: each frame becomes a still segment of its slide's
//! length (no zoom: resampling every frame blurs small text), the segments are joined, and
//! the narration, when there is one, is muxed in as AAC.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const FPS: u32 = 25;
/// One slide's frame and how long it stays.
pub struct Segment {
    pub frame: PathBuf,
    pub frames: u32,
}

fn run(ffmpeg: &Path, args: &[String], what: &str) -> Result<()> {
    let mut cmd = Command::new(ffmpeg);
    cmd.args(["-hide_banner", "-nostdin", "-y", "-v", "error"])
        .args(args);
    super::programs::run(&mut cmd, what)
}

/// The still `seg.frame` as an H.264 clip of `seg.frames` frames into `mp4`.
pub fn segment(ffmpeg: &Path, seg: &Segment, mp4: &Path) -> Result<()> {
    let n = seg.frames;
    let args: Vec<String> = [
        "-loop",
        "1",
        "-framerate",
        &FPS.to_string(),
        "-i",
        &seg.frame.display().to_string(),
        "-vf",
        "format=yuv420p",
        "-frames:v",
        &n.to_string(),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "stillimage",
        "-crf",
        "24",
        "-r",
        &FPS.to_string(),
        &mp4.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    run(ffmpeg, &args, &format!("encoding {}", seg.frame.display()))
}

/// Join `segments` (same codec and size) and mux `narration` (a WAV) into `out`.
pub fn join(
    ffmpeg: &Path,
    segments: &[PathBuf],
    narration: Option<&Path>,
    work: &Path,
    out: &Path,
) -> Result<()> {
    let list = work.join("segments.txt");
    // ffmpeg resolves the list's paths against the list's folder: give it absolute ones.
    let lines = segments
        .iter()
        .map(|p| {
            let p = std::fs::canonicalize(p).with_context(|| format!("finding {}", p.display()))?;
            Ok(format!(
                "file '{}'",
                p.display().to_string().replace('\'', "'\\''")
            ))
        })
        .collect::<Result<Vec<String>>>()?;
    std::fs::write(&list, lines.join("\n") + "\n")
        .with_context(|| format!("writing {}", list.display()))?;
    let mut args: Vec<String> = ["-f", "concat", "-safe", "0", "-i"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(list.display().to_string());
    if let Some(wav) = narration {
        args.extend(["-i".into(), wav.display().to_string()]);
        args.extend(["-c:a", "aac", "-b:a", "96k", "-map", "0:v", "-map", "1:a"].map(String::from));
    }
    args.extend(["-c:v", "copy", "-movflags", "+faststart", "-f", "mp4"].map(String::from));
    args.push(out.display().to_string());
    run(ffmpeg, &args, "joining the segments")
}
