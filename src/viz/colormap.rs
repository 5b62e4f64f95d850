//! Viridis (perceptually uniform and readable in greyscale, so weights compare
//! honestly) for magnitudes, and a blue-white-red diverging map for signed values
//! and ratios around 1.

use plotters::style::RGBColor;

const VIRIDIS: [(u8, u8, u8); 9] = [
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

/// A highlight behind text: white at 0, strong orange at 1.
pub fn highlight(t: f32) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |p: f32, q: f32| (p + (q - p) * t).round() as u8;
    RGBColor(mix(255.0, 245.0), mix(255.0, 130.0), mix(255.0, 20.0))
}

/// ColorBrewer's RdBu, blue (negative) through white (0) to red (positive).
const DIVERGING: [(u8, u8, u8); 11] = [
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
