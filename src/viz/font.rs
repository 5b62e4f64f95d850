//! An embedded font, so figures render on machines with no system fonts, and
//! how a long line of text is broken to fit a figure.

use plotters::style::{register_font, FontStyle};
use std::sync::Once;

pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TTF shipped by the dejavu crate; a failure here is a build bug.
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
        let _ = register_font("monospace", FontStyle::Normal, dejavu::sans_mono::regular());
    });
}

/// `text` broken at `sep` into lines of at most `width` characters (a part
/// longer than that stands alone on its line).
pub fn wrap(text: &str, sep: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for part in text.split(sep) {
        match lines.last_mut() {
            Some(line)
                if line.chars().count() + sep.chars().count() + part.chars().count() <= width =>
            {
                line.push_str(sep);
                line.push_str(part);
            }
            _ => lines.push(part.to_string()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrap_breaks_at_the_separator_within_the_width() {
        assert_eq!(super::wrap("a · bb · ccc", " · ", 8), ["a · bb", "ccc"]);
        assert_eq!(super::wrap("one two", " ", 3), ["one", "two"]);
        assert_eq!(super::wrap("", " ", 3), [""]);
    }
}
