//! The narration: espeak-ng speaks each slide's sentence to a WAV file; the
//! slides last as long as their sentences, and one track holds them all.

use super::Lang;
use anyhow::{bail, ensure, Context, Result};
use std::path::Path;
use std::process::Command;

/// 16-bit mono samples at `rate` Hz.
pub struct Clip {
    pub rate: u32,
    pub samples: Vec<i16>,
}

impl Clip {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.rate as f64
    }
}

fn voice(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en-us",
        Lang::Es => "es",
    }
}

/// Speak `text` with espeak-ng into `wav`, and read it back.
pub fn speak(espeak: &Path, text: &str, lang: Lang, wav: &Path) -> Result<Clip> {
    let mut cmd = Command::new(espeak);
    cmd.args(["-v", voice(lang), "-s", "175", "-w"])
        .arg(wav)
        .arg(text);
    super::programs::run(&mut cmd, &format!("speaking {text:?}"))?;
    read_wav(wav)
}

/// A PCM WAV file of 16-bit mono samples (what espeak-ng writes).
pub fn read_wav(path: &Path) -> Result<Clip> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "{} is not a WAV file",
        path.display()
    );
    let (mut rate, mut format) = (0u32, (0u16, 0u16));
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into()?) as usize;
        let body = &bytes[at + 8..(at + 8 + size).min(bytes.len())];
        match id {
            b"fmt " if body.len() >= 16 => {
                format = (
                    u16::from_le_bytes([body[2], body[3]]),
                    u16::from_le_bytes([body[14], body[15]]),
                );
                rate = u32::from_le_bytes(body[4..8].try_into()?);
            }
            b"data" => {
                ensure!(
                    format == (1, 16),
                    "{}: expected 16-bit mono PCM, found {format:?}",
                    path.display()
                );
                let samples = body
                    .chunks_exact(2)
                    .map(|s| i16::from_le_bytes([s[0], s[1]]))
                    .collect();
                return Ok(Clip { rate, samples });
            }
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    bail!("{}: no data chunk", path.display())
}

/// Each clip padded with silence to its slide's length, one after the other.
pub fn track(clips: &[Clip], seconds: &[f64]) -> Result<Clip> {
    let rate = clips.first().map_or(22_050, |c| c.rate);
    ensure!(
        clips.iter().all(|c| c.rate == rate),
        "narration clips at different rates"
    );
    let mut samples = Vec::new();
    for (clip, &s) in clips.iter().zip(seconds) {
        let len = (s * rate as f64).round() as usize;
        samples.extend(clip.samples.iter().take(len));
        samples.resize(samples.len() + len.saturating_sub(clip.samples.len()), 0);
    }
    Ok(Clip { rate, samples })
}

/// Write `clip` as a 16-bit mono PCM WAV file.
pub fn write_wav(clip: &Clip, path: &Path) -> Result<()> {
    let data = (clip.samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + data as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&clip.rate.to_le_bytes());
    bytes.extend_from_slice(&(clip.rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data.to_le_bytes());
    for s in &clip.samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_track_reads_back_with_each_clip_padded_to_its_slide() {
        let clips = [
            Clip {
                rate: 100,
                samples: vec![1; 50],
            },
            Clip {
                rate: 100,
                samples: vec![2; 300],
            },
        ];
        let t = track(&clips, &[1.0, 2.0]).unwrap();
        assert_eq!(t.samples.len(), 300);
        assert_eq!(
            (t.samples[49], t.samples[50], t.samples[100], t.samples[299]),
            (1, 0, 2, 2)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wav");
        write_wav(&t, &path).unwrap();
        let back = read_wav(&path).unwrap();
        assert_eq!((back.rate, back.samples), (100, t.samples));
    }
}
