//! An embedded font, so figures render on machines with no system fonts.

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
