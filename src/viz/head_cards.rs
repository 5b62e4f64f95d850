//! figures/heads.png: one card per head (layers as rows), titled with its role
//! and the numbers that gave it, listing the words it weighs most over the
//! faithfulness sample as bars (weight × uniform, one scale for every card),
//! each coloured by the sign of that word's mean Integrated Gradients.

use super::colormap::diverging;
use super::font::{ensure_font, wrap};
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

/// Every head's card, with the figure's title and legend: what the X-ray
/// hands this figure, as text and numbers.
pub struct Cards {
    pub title: String,
    pub legend: String,
    /// The most bars a card holds (the cards' height).
    pub rows: usize,
    /// What a card without bars says instead.
    pub empty: String,
    pub cards: Vec<Card>,
}

/// One head's card: where it sits (1-based), its title, two lines of numbers,
/// and its words as bars.
pub struct Card {
    pub layer: usize,
    pub head: usize,
    pub title: String,
    pub lines: [String; 2],
    pub bars: Vec<Bar>,
}

/// A word, the weight it receives (x uniform), and its signed attribution.
pub struct Bar {
    pub word: String,
    pub x_uniform: f64,
    pub ig: f64,
}

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
fn card(area: &Area, c: &Card, cards: &Cards, widest: f64, strongest: f64) -> Result<()> {
    area.draw(&Text::new(
        c.title.clone(),
        (10, 6),
        ("sans-serif", 20).into_font().style(FontStyle::Bold),
    ))
    .map_err(err)?;
    for (k, line) in c.lines.iter().enumerate() {
        area.draw(&Text::new(
            line.clone(),
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
    for (r, word) in c.bars.iter().enumerate() {
        let y = y0 + r as i32 * ROW_PX;
        let mid = y + ROW_PX / 2;
        area.draw(&Text::new(word.word.clone(), (x0 - 6, mid), left.clone()))
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
    if c.bars.is_empty() {
        area.draw(&Text::new(
            cards.empty.clone(),
            (x0, y0 + 10),
            ("sans-serif", 14).into_font(),
        ))
        .map_err(err)?;
    }
    // Uniform: where a word the head ignores would sit.
    let (x1, bottom) = (x_of(1.0), y0 + cards.rows as i32 * ROW_PX);
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

/// Draw every head's card into `path`, layers as rows.
pub fn draw_head_cards(cards: &Cards, path: &Path) -> Result<()> {
    ensure_font();
    let layers = cards.cards.iter().map(|c| c.layer).max().unwrap_or(0);
    let heads = cards.cards.iter().map(|c| c.head).max().unwrap_or(0);
    if layers == 0 {
        return Err(anyhow!("no head statistics to draw in {}", path.display()));
    }
    let bars = cards.cards.iter().flat_map(|c| &c.bars);
    let widest = bars.clone().map(|b| b.x_uniform).fold(1.0, f64::max);
    let strongest = bars.map(|b| b.ig.abs()).fold(0.0, f64::max);
    let size = (CARD.0 * heads as u32, CARD.1 * layers as u32 + 110);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(&cards.title, ("sans-serif", 20)).map_err(err)?;
    let (legend_area, grid) = root.split_vertically(60);
    for (k, line) in wrap(&cards.legend, " ", size.0 as usize / 7)
        .iter()
        .enumerate()
    {
        legend_area
            .draw(&Text::new(
                line.clone(),
                (10, 4 + 18 * k as i32),
                ("sans-serif", 14).into_font(),
            ))
            .map_err(err)?;
    }
    let cells = grid.split_evenly((layers, heads));
    for c in &cards.cards {
        let area = &cells[(c.layer - 1) * heads + c.head - 1];
        card(area, c, cards, widest, strongest)?;
    }
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}
