//! One 1280x720 PNG per slide: the title on top, the figure (or card) in the
//! middle, the caption burned in at the bottom so the video reads without sound.

use super::script::{Slide, Visual};
use crate::viz::font::ensure_font;
use anyhow::{anyhow, Context, Result};
use image::imageops::FilterType;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 720;
const TITLE_H: u32 = 64;
const CAPTION_H: u32 = 132;
/// Where a figure goes: between the title and the caption, with side margins.
pub const CONTENT: (u32, u32, u32, u32) =
    (24, TITLE_H, WIDTH - 48, HEIGHT - TITLE_H - CAPTION_H - 8);

const INK: RGBColor = RGBColor(30, 30, 40);
const BAND: RGBColor = RGBColor(24, 26, 38);
const MUTED: RGBColor = RGBColor(120, 120, 135);

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a frame: {e}")
}

/// Draw `slide` (with `image`, the PNG its visual shows) as frame `label` into `png`.
pub fn render(slide: &Slide, image: Option<&Path>, label: &str, png: &Path) -> Result<()> {
    ensure_font();
    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    if let Some(path) = image {
        paste_fitted(&mut buf, path)?;
    }
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        let title = ("sans-serif", 30)
            .into_font()
            .style(FontStyle::Bold)
            .color(&INK);
        root.draw_text(&slide.title, &title, (28, 18))
            .map_err(err)?;
        let tag = ("sans-serif", 18)
            .into_font()
            .color(&MUTED)
            .pos(Pos::new(HPos::Right, VPos::Top));
        root.draw_text(label, &tag, (WIDTH as i32 - 28, 24))
            .map_err(err)?;
        match &slide.visual {
            Visual::Card(lines) => card(&root, lines)?,
            Visual::Code(text) => code(&root, text)?,
            Visual::Figure(_) | Visual::Page(_) => {}
        }
        caption(&root, &slide.caption)?;
        root.present().map_err(err)?;
    }
    image::save_buffer(png, &buf, WIDTH, HEIGHT, image::ColorType::Rgb8)
        .with_context(|| format!("writing {}", png.display()))
}

/// The PNG without its white margins, scaled to fit CONTENT (never enlarged
/// past 1.25x), centred: every pixel of margin cut is text drawn larger.
fn paste_fitted(buf: &mut [u8], path: &Path) -> Result<()> {
    let img = image::open(path)
        .with_context(|| format!("reading {}", path.display()))?
        .to_rgb8();
    let img = trim_white(&img);
    let (x0, y0, w, h) = CONTENT;
    let scale = (w as f32 / img.width() as f32)
        .min(h as f32 / img.height() as f32)
        .min(1.25);
    let (sw, sh) = (
        ((img.width() as f32 * scale) as u32).max(1),
        ((img.height() as f32 * scale) as u32).max(1),
    );
    let img = image::imageops::resize(&img, sw, sh, FilterType::CatmullRom);
    let (ox, oy) = (x0 + (w - sw) / 2, y0 + (h - sh) / 2);
    for (y, row) in img.rows().enumerate() {
        let at = (((oy + y as u32) * WIDTH + ox) * 3) as usize;
        for (x, px) in row.enumerate() {
            buf[at + 3 * x..at + 3 * x + 3].copy_from_slice(&px.0);
        }
    }
    Ok(())
}

/// The smallest box holding every non-white pixel, plus 8 px of white around it.
fn trim_white(img: &image::RgbImage) -> image::RgbImage {
    let ink = |x: u32, y: u32| img.get_pixel(x, y).0.iter().any(|&c| c < 250);
    let (w, h) = img.dimensions();
    let rows: Vec<u32> = (0..h).filter(|&y| (0..w).any(|x| ink(x, y))).collect();
    let cols: Vec<u32> = (0..w).filter(|&x| (0..h).any(|y| ink(x, y))).collect();
    let (Some(&top), Some(&bottom), Some(&left), Some(&right)) =
        (rows.first(), rows.last(), cols.first(), cols.last())
    else {
        return img.clone();
    };
    let (x, y) = (left.saturating_sub(8), top.saturating_sub(8));
    let (x1, y1) = ((right + 9).min(w), (bottom + 9).min(h));
    image::imageops::crop_imm(img, x, y, x1 - x, y1 - y).to_image()
}

/// Greedy word wrap of `text` to `width` pixels in `font`.
fn wrap(root: &Area, text: &str, font: &TextStyle, width: u32) -> Result<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if !line.is_empty() && root.estimate_text_size(&candidate, font).map_err(err)?.0 > width {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    lines.push(line);
    Ok(lines)
}

/// The caption band: white on dark, centred, the largest size that fits 4 lines.
fn caption(root: &Area, text: &str) -> Result<()> {
    let top = (HEIGHT - CAPTION_H) as i32;
    root.draw(&Rectangle::new(
        [(0, top), (WIDTH as i32, HEIGHT as i32)],
        BAND.filled(),
    ))
    .map_err(err)?;
    for px in [27, 24, 21, 18] {
        let font = ("sans-serif", px)
            .into_font()
            .color(&WHITE)
            .pos(Pos::new(HPos::Center, VPos::Top));
        let lines = wrap(root, text, &font, WIDTH - 80)?;
        let line_h = (px as f32 * 1.3) as i32;
        if lines.len() as i32 * line_h <= CAPTION_H as i32 - 16 || px == 18 {
            let y0 = top + (CAPTION_H as i32 - lines.len() as i32 * line_h) / 2;
            for (i, line) in lines.iter().enumerate() {
                root.draw_text(line, &font, (WIDTH as i32 / 2, y0 + i as i32 * line_h))
                    .map_err(err)?;
            }
            return Ok(());
        }
    }
    Ok(())
}

/// A headline and its lines, each wrapped, centred in CONTENT.
fn card(root: &Area, lines: &[String]) -> Result<()> {
    let (x0, y0, w, h) = CONTENT;
    let mut rows: Vec<(String, TextStyle)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let font = if i == 0 {
            ("sans-serif", 44)
                .into_font()
                .style(FontStyle::Bold)
                .color(&INK)
        } else {
            ("sans-serif", 25).into_font().color(&INK)
        };
        for part in wrap(root, line, &font, w - 80)? {
            rows.push((part, font.clone()));
        }
    }
    let heights: Vec<i32> = rows
        .iter()
        .map(|(_, f)| (f.font.get_size() * 1.6) as i32)
        .collect();
    let mut y = y0 as i32 + (h as i32 - heights.iter().sum::<i32>()) / 2;
    for ((text, font), dy) in rows.iter().zip(heights) {
        let font = font.pos(Pos::new(HPos::Center, VPos::Top));
        root.draw_text(text, &font, ((x0 + w / 2) as i32, y))
            .map_err(err)?;
        y += dy;
    }
    Ok(())
}

/// Monospace lines, left-aligned in a box centred in CONTENT.
fn code(root: &Area, text: &str) -> Result<()> {
    let (x0, y0, w, h) = CONTENT;
    let font = ("monospace", 26).into_font().color(&INK);
    let lines: Vec<&str> = text.lines().collect();
    let widest = lines
        .iter()
        .map(|l| root.estimate_text_size(l, &font).map(|s| s.0))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(err)?
        .into_iter()
        .max()
        .unwrap_or(0);
    let line_h = 38;
    let (bw, bh) = (widest as i32 + 60, lines.len() as i32 * line_h + 40);
    let (bx, by) = ((x0 + w / 2) as i32 - bw / 2, (y0 + h / 2) as i32 - bh / 2);
    root.draw(&Rectangle::new(
        [(bx, by), (bx + bw, by + bh)],
        RGBColor(244, 244, 248).filled(),
    ))
    .map_err(err)?;
    for (i, line) in lines.iter().enumerate() {
        root.draw_text(line, &font, (bx + 30, by + 20 + i as i32 * line_h))
            .map_err(err)?;
    }
    Ok(())
}
