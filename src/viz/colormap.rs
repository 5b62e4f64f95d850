//! Viridis (perceptually uniform and readable in greyscale, so weights compare
//! honestly) for magnitudes, and a blue-white-red diverging map for signed values
//! and ratios around 1.

use plotters::style::RGBColor;

pub const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (72, 40, 120),
    (62, 74, 137),
    (49, 104, 142),
    (38, 130, 142),
    (31, 158, 137),
    (53, 183, 121),
    (110, 206, 88),
    (253, 231, 37),
];

/// t in [0, 1] -> colour.
pub fn viridis(t: f32) -> RGBColor {
    interpolate(&VIRIDIS, t.clamp(0.0, 1.0))
}

/// The colour at t in [0, 1] along evenly spaced stops, mixed linearly.
fn interpolate(stops: &[(u8, u8, u8)], t: f32) -> RGBColor {
    let x = t * (stops.len() - 1) as f32;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f32;
    let (a, b) = (stops[i], stops[i + 1]);
    let mix = |p: u8, q: u8| (p as f32 + (q as f32 - p as f32) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// ColorBrewer's OrRd from pure white: a weight at or below uniform draws nothing.
pub const SEQUENTIAL: [(u8, u8, u8); 9] = [
    (255, 255, 255),
    (254, 232, 200),
    (253, 212, 158),
    (253, 187, 132),
    (252, 141, 89),
    (239, 101, 72),
    (215, 48, 31),
    (179, 0, 0),
    (127, 0, 0),
];

/// t in [0, 1] -> colour: white to dark red.
pub fn sequential(t: f32) -> RGBColor {
    interpolate(&SEQUENTIAL, t.clamp(0.0, 1.0))
}

pub const HIGHLIGHT: [(u8, u8, u8); 2] = [(255, 255, 255), (245, 130, 20)];

/// A highlight behind text: white at 0, strong orange at 1.
pub fn highlight(t: f32) -> RGBColor {
    interpolate(&HIGHLIGHT, t.clamp(0.0, 1.0))
}

/// ColorBrewer's RdBu, blue (negative) through white (0) to red (positive).
pub const DIVERGING: [(u8, u8, u8); 11] = [
    (5, 48, 97),
    (33, 102, 172),
    (67, 147, 195),
    (146, 197, 222),
    (209, 229, 240),
    (247, 247, 247),
    (253, 219, 199),
    (244, 165, 130),
    (214, 96, 77),
    (178, 24, 43),
    (103, 0, 31),
];

/// t in [-1, 1] -> colour: blue below 0, white at 0, red above.
pub fn diverging(t: f32) -> RGBColor {
    interpolate(&DIVERGING, (t.clamp(-1.0, 1.0) + 1.0) / 2.0)
}

/// Relative luminance (WCAG 2): the sRGB channels linearised and weighted.
fn luminance(c: RGBColor) -> f32 {
    let lin = |v: u8| {
        let s = v as f32 / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

/// Below this luminance white text contrasts more than black: the point where
/// (1 + 0.05) / (L + 0.05) = (L + 0.05) / (0 + 0.05). The HTML page receives
/// the same number, so every text view switches at the same fill.
pub const INK_SWITCH: f32 = 0.1791;

/// The text colour for a word drawn on `fill`: black, or white on dark fills.
pub fn ink(fill: RGBColor) -> RGBColor {
    if luminance(fill) < INK_SWITCH {
        RGBColor(255, 255, 255)
    } else {
        RGBColor(0, 0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dark_fills_get_white_text_light_fills_black() {
        let white = RGBColor(255, 255, 255);
        let black = RGBColor(0, 0, 0);
        // The darkest ends of both maps carry words in the figures.
        assert_eq!(ink(diverging(1.0)), white);
        assert_eq!(ink(diverging(-1.0)), white);
        assert_eq!(ink(viridis(0.0)), white);
        assert_eq!(ink(viridis(1.0)), black);
        assert_eq!(ink(sequential(1.0)), white);
        assert_eq!(ink(sequential(0.0)), black);
        assert_eq!(ink(diverging(0.0)), black);
        assert_eq!(ink(highlight(0.0)), black);
        assert_eq!(ink(highlight(1.0)), black);
    }

    #[test]
    fn the_switch_is_where_both_inks_contrast_equally() {
        let contrast = |a: f32, b: f32| (a.max(b) + 0.05) / (a.min(b) + 0.05);
        let (w, b) = (contrast(1.0, INK_SWITCH), contrast(0.0, INK_SWITCH));
        assert!((w - b).abs() < 1e-2, "{w} vs {b}");
    }
}
