//! figures/heads.png: one card per head (layers as rows), titled with its role
//! and the numbers that gave it, listing the words it weighs most over the
//! faithfulness sample as bars (weight × uniform, one scale for every card),
//! each coloured by the sign of that word's mean Integrated Gradients.

use super::colormap::diverging;
use super::font::{ensure_font, wrap};
use crate::attn::faithfulness::Faithfulness;
use crate::attn::heads::{role_rules, HeadStats, CARD_WORDS, MIN_OCCURRENCES, TOP_KEYS};
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

const CARD: (u32, u32) = (460, 446);
const LABEL_PX: i32 = 120;
const ROW_PX: i32 = 21;
/// Under this share of the strongest |IG|, a bar is drawn grey: no sign to read.
const NEUTRAL: f64 = 0.05;

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing: {e}")
}

/// A bar's colour: red towards `ig_toward`, blue away, by |IG| over the largest.
fn bar_colour(ig: f64, strongest: f64) -> RGBColor {
    let t = ig / strongest.max(f64::MIN_POSITIVE);
    match t.abs() < NEUTRAL {
        true => RGBColor(190, 190, 190),
        // From a third of the way out, so the weakest signed bar still shows its side.
        false => diverging((t.signum() * (0.35 + 0.65 * t.abs())) as f32),
    }
}

/// One head's card: its title lines, then its words as bars on the shared scale.
fn card(area: &Area, h: &HeadStats, widest: f64, strongest: f64) -> Result<()> {
    let title = format!("layer {} · head {} · {}", h.layer, h.head, h.role.name());
    area.draw(&Text::new(
        title,
        (10, 6),
        ("sans-serif", 20).into_font().style(FontStyle::Bold),
    ))
    .map_err(err)?;
    let lines = [
        format!(
            "precision@{TOP_KEYS} {:.2} at {:.1}x uniform · entropy {:.2}",
            h.precision_at_5, h.top5_x_uniform, h.entropy
        ),
        format!(
            "beside the query {:.0}% · top keys' weight on structure {:.0}%",
            100.0 * h.positional_share,
            100.0 * h.structure_at_5
        ),
    ];
    for (k, line) in lines.into_iter().enumerate() {
        area.draw(&Text::new(
            line,
            (10, 32 + 17 * k as i32),
            ("sans-serif", 13).into_font(),
        ))
        .map_err(err)?;
    }
    let (w, _) = area.dim_in_pixel();
    let (x0, y0, span) = (LABEL_PX, 72, w as i32 - LABEL_PX - 60);
    let x_of = |x: f64| x0 + (span as f64 * x / widest) as i32;
    let left =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    let right =
        TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (r, word) in h.words.iter().enumerate() {
        let y = y0 + r as i32 * ROW_PX;
        let mid = y + ROW_PX / 2;
        area.draw(&Text::new(word.token.clone(), (x0 - 6, mid), left.clone()))
            .map_err(err)?;
        let end = x_of(word.x_uniform).max(x0 + 1);
        area.draw(&Rectangle::new(
            [(x0, y + 2), (end, y + ROW_PX - 2)],
            bar_colour(word.ig, strongest).filled(),
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            format!("{:.1}x", word.x_uniform),
            (end + 4, mid),
            right.clone(),
        ))
        .map_err(err)?;
    }
    if h.words.is_empty() {
        let note = format!("no word seen {MIN_OCCURRENCES} times in the sample");
        area.draw(&Text::new(
            note,
            (x0, y0 + 10),
            ("sans-serif", 14).into_font(),
        ))
        .map_err(err)?;
    }
    // Uniform: where a word the head ignores would sit.
    let (x1, bottom) = (x_of(1.0), y0 + CARD_WORDS as i32 * ROW_PX);
    area.draw(&PathElement::new(
        [(x1, y0), (x1, bottom)],
        BLACK.mix(0.6).stroke_width(1),
    ))
    .map_err(err)?;
    area.draw(&Text::new(
        "1x",
        (x1 - 6, bottom + 4),
        ("sans-serif", 12).into_font(),
    ))
    .map_err(err)?;
    Ok(())
}

/// Draw every head's card into `path`, reading heads' layers as they come.
pub fn draw_head_cards(f: &Faithfulness, path: &Path) -> Result<()> {
    ensure_font();
    let layers = f.heads.iter().map(|h| h.layer).max().unwrap_or(0);
    let heads = f.heads.iter().map(|h| h.head).max().unwrap_or(0);
    if layers == 0 {
        return Err(anyhow!("no head statistics to draw in {}", path.display()));
    }
    let words = f.heads.iter().flat_map(|h| &h.words);
    let widest = words.clone().map(|w| w.x_uniform).fold(1.0, f64::max);
    let strongest = words.map(|w| w.ig.abs()).fold(0.0, f64::max);
    let size = (CARD.0 * heads as u32, CARD.1 * layers as u32 + 110);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = format!(
        "What each head reads, over {} validation reviews: the {CARD_WORDS} words it weighs most \
         (mean weight × uniform over each word's occurrences, seen ≥ {MIN_OCCURRENCES} times)",
        f.examples
    );
    let root = root.titled(&title, ("sans-serif", 20)).map_err(err)?;
    let legend = format!(
        "bar colour: the word's mean Integrated Gradients, red towards {}, blue away, grey near 0 · roles: {}",
        f.ig_toward,
        role_rules()
    );
    let (legend_area, grid) = root.split_vertically(60);
    for (k, line) in wrap(&legend, " ", size.0 as usize / 7).iter().enumerate() {
        legend_area
            .draw(&Text::new(
                line.clone(),
                (10, 4 + 18 * k as i32),
                ("sans-serif", 14).into_font(),
            ))
            .map_err(err)?;
    }
    let cells = grid.split_evenly((layers, heads));
    for h in &f.heads {
        let area = &cells[(h.layer - 1) * heads + h.head - 1];
        card(area, h, widest, strongest)?;
    }
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}
