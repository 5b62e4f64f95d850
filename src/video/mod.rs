//! `xray video`: the demo video, made from a run's own files. The facts are read
//! back from figures/ and metrics/ (`facts`), become slides with a sentence each
//! in English or Spanish (`script`), are drawn as 1280x720 frames (`frames`; the
//! attention page is browsed in headless Chromium when there is one, `browse`),
//! spoken by espeak-ng (`voice`) and encoded by ffmpeg (`encode`).

mod browse;
mod encode;
mod facts;
mod frames;
mod programs;
mod script;
mod voice;

use crate::util::fsutil::{atomic_write, commit};
use anyhow::{Context, Result};
use facts::Facts;
use script::{Slide, Visual};
use std::path::{Path, PathBuf};

pub use programs::INSTALL;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    En,
    Es,
}

impl Lang {
    /// The script written beside the video: one per language, so that making
    /// both keeps both (video/script.md, video/script_es.md).
    fn script_file(self) -> &'static str {
        match self {
            Lang::En => "script.md",
            Lang::Es => "script_es.md",
        }
    }
}

/// Silence after each spoken sentence.
const PAUSE_S: f64 = 0.8;
/// What a browser screenshot covers: the content area's shape, at a scale where
/// the page's 14 px text stays readable once fitted.
const PAGE_PX: (u32, u32) = (1380, 578);

/// A slide without a voice stays long enough to read its caption.
fn reading_seconds(caption: &str) -> f64 {
    (caption.chars().count() as f64 / 15.0 + 1.5).max(4.0)
}

/// A folder removed on drop unless kept: a failed run leaves nothing behind.
struct Scratch {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A drawn slide, how long it lasts, and its narration.
struct Made {
    frame: PathBuf,
    seconds: f64,
    clip: Option<voice::Clip>,
}

/// What `xray video` was asked.
pub struct VideoOptions {
    /// The root the run wrote its figures/ and metrics/ into.
    pub from: PathBuf,
    pub lang: Lang,
    pub voice: bool,
    /// The MP4 to write.
    pub out: PathBuf,
    /// Write frames, script and narration here instead of encoding.
    pub frames_only: Option<PathBuf>,
    /// Browse figures/attn.html in Chromium when it is found.
    pub browse: bool,
}

pub fn run(cmd: &VideoOptions) -> Result<()> {
    let facts = Facts::read(&cmd.from)?;
    // Every tool is found before anything is written.
    let ffmpeg = match cmd.frames_only {
        Some(_) => None,
        None => Some(programs::require("ffmpeg", "to encode the MP4")?),
    };
    let espeak = cmd
        .voice
        .then(|| programs::require("espeak-ng", "to speak the narration (--voice)"))
        .transpose()?;
    let browser = cmd.browse.then(browse::find_browser).flatten();
    let slides = script::slides(&facts, cmd.lang, browser.is_some())?;

    let (dir, keep) = match &cmd.frames_only {
        Some(dir) => (dir.clone(), true),
        None => (parts_dir(&cmd.out), false),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let scratch = Scratch { dir, keep };
    let bar = crate::util::progress::bar(
        slides.len() as u64,
        "drawing {bar:30} {pos}/{len} slides {msg}",
    );
    let studio = Studio {
        facts: &facts,
        browser: browser.as_deref(),
        espeak: espeak.as_deref(),
        lang: cmd.lang,
        dir: &scratch.dir,
    };
    let mut made = Vec::new();
    for (k, slide) in slides.iter().enumerate() {
        bar.set_message(slide.title.clone());
        made.push(studio.make(slide, k, slides.len())?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let narration = match espeak {
        Some(_) => {
            let clips: Vec<voice::Clip> = made.iter_mut().filter_map(|m| m.clip.take()).collect();
            let seconds: Vec<f64> = made.iter().map(|m| m.seconds).collect();
            let path = scratch.dir.join("narration.wav");
            voice::write_wav(&voice::track(&clips, &seconds)?, &path)?;
            Some(path)
        }
        None => None,
    };
    let script = script_md(cmd, &slides, &made, browser.as_deref());
    let Some(ffmpeg) = ffmpeg else {
        let name = cmd.lang.script_file();
        atomic_write(&scratch.dir.join(name), script.as_bytes())?;
        println!(
            "wrote {} frames and {name} to {}",
            made.len(),
            scratch.dir.display()
        );
        return Ok(());
    };
    encode_all(&ffmpeg, &made, narration.as_deref(), &scratch.dir, &cmd.out)?;
    let script_path = cmd.out.with_file_name(cmd.lang.script_file());
    atomic_write(&script_path, script.as_bytes())?;
    let size = std::fs::metadata(&cmd.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} ({}, {:.1} MB) and {}",
        cmd.out.display(),
        clock(made.iter().map(|m| m.seconds).sum()),
        size as f64 / 1e6,
        script_path.display()
    );
    Ok(())
}

/// The work folder beside the output: same file system, so the rename is atomic.
fn parts_dir(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_owned();
    name.push(format!(".parts-{}", std::process::id()));
    out.with_file_name(name)
}

/// What every slide is made with: the run's facts, the tools found, the folder.
struct Studio<'a> {
    facts: &'a Facts,
    browser: Option<&'a Path>,
    espeak: Option<&'a Path>,
    lang: Lang,
    dir: &'a Path,
}

impl Studio<'_> {
    /// Slide `k` of `total`: its screenshot if any, its frame, its voice and length.
    fn make(&self, slide: &Slide, k: usize, total: usize) -> Result<Made> {
        let Self {
            facts,
            browser,
            espeak,
            lang,
            dir,
        } = *self;
        let image = match (&slide.visual, browser) {
            (Visual::Figure(path), _) => Some(path.clone()),
            (Visual::Page(step), Some(browser)) => {
                let png = dir.join(format!("page_{:02}.png", k + 1));
                browse::capture(browser, &facts.page, step, PAGE_PX, &png)?;
                Some(png)
            }
            _ => None,
        };
        let frame = dir.join(format!("frame_{:02}.png", k + 1));
        frames::render(
            slide,
            image.as_deref(),
            &format!("{}/{total}", k + 1),
            &frame,
        )?;
        let (seconds, clip) = match espeak {
            Some(espeak) => {
                let text = slide.spoken.as_deref().unwrap_or(&slide.caption);
                let wav = dir.join(format!("voice_{:02}.wav", k + 1));
                let clip = voice::speak(espeak, text, lang, &wav)?;
                (clip.seconds() + PAUSE_S, Some(clip))
            }
            None => (reading_seconds(&slide.caption), None),
        };
        // Whole frames, so that the video's length is the sum of the slides'.
        let seconds = (seconds * encode::FPS as f64).ceil() / encode::FPS as f64;
        Ok(Made {
            frame,
            seconds,
            clip,
        })
    }
}

fn encode_all(
    ffmpeg: &Path,
    made: &[Made],
    narration: Option<&Path>,
    dir: &Path,
    out: &Path,
) -> Result<()> {
    let bar = crate::util::progress::bar(
        made.len() as u64 + 1,
        "encoding {bar:30} {pos}/{len} {eta} left",
    );
    let mut segments = Vec::new();
    for (k, m) in made.iter().enumerate() {
        let mp4 = dir.join(format!("segment_{:02}.mp4", k + 1));
        let segment = encode::Segment {
            frame: m.frame.clone(),
            frames: (m.seconds * encode::FPS as f64).round() as u32,
        };
        encode::segment(ffmpeg, &segment, &mp4)?;
        segments.push(mp4);
        bar.inc(1);
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let tmp = dir.join("video.mp4");
    encode::join(ffmpeg, &segments, narration, dir, &tmp)?;
    bar.finish_and_clear();
    commit(&tmp, out)
}

/// m:ss.s
fn clock(seconds: f64) -> String {
    format!("{}:{:04.1}", (seconds / 60.0) as u64, seconds % 60.0)
}

/// The narration script: each slide's time, what it shows and what it says.
fn script_md(
    cmd: &VideoOptions,
    slides: &[Slide],
    made: &[Made],
    browser: Option<&Path>,
) -> String {
    let total: f64 = made.iter().map(|m| m.seconds).sum();
    let mut md = format!(
        "# xray: the demo video's script\n\n\
         Made by `xray video --from {} --lang {}{}` from the run's own files: \
         {} slides, {} ({total:.2} s), 1280x720 at {} fps. Every number is read from \
         `metrics/` and `figures/`; the attention page {}.\n",
        cmd.from.display(),
        match cmd.lang {
            Lang::En => "en",
            Lang::Es => "es",
        },
        if cmd.voice { " --voice" } else { "" },
        slides.len(),
        clock(total),
        encode::FPS,
        if browser.is_some() {
            "was browsed in headless Chromium"
        } else {
            "was not browsed (figures shown as PNGs)"
        },
    );
    let mut at = 0.0;
    for (k, (slide, m)) in slides.iter().zip(made).enumerate() {
        let shows = match &slide.visual {
            Visual::Card(_) => "a card".to_string(),
            Visual::Code(_) => "metrics/final_metrics.json as it is".to_string(),
            Visual::Figure(path) => format!("`{}`", path.display()),
            Visual::Page(step) => format!(
                "figures/attn.html: example {}, layer {}, words coloured by `{}`",
                step.example + 1,
                step.layer
                    .map_or("last".to_string(), |l| (l + 1).to_string()),
                step.by
            ),
        };
        md += &format!(
            "\n## {}. {} ({} to {})\n\nShows {shows}.\n\n> {}\n",
            k + 1,
            slide.title,
            clock(at),
            clock(at + m.seconds),
            slide.caption
        );
        if let Some(spoken) = &slide.spoken {
            md += &format!("\nSpoken: {spoken}\n");
        }
        at += m.seconds;
    }
    md
}
