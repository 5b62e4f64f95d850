//! One self-contained HTML page (data, script and style inline; no network) to
//! browse examples, layers and heads.

use super::colormap::{DIVERGING, HIGHLIGHT, INK_SWITCH, SEQUENTIAL, VIRIDIS};
use super::heatmap::ABOVE_CAP;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;

const TEMPLATE: &str = include_str!("attn.html");

/// Write `data` (any serialisable value with an `examples` list) into the page.
pub fn write_attention_page<T: Serialize>(data: &T, path: &Path) -> Result<()> {
    // `</` would close the script element early if a token contained it.
    let json = serde_json::to_string(data)?.replace("</", "<\\/");
    // The page colours with the figures' own maps and contrast rule.
    let page = TEMPLATE
        .replace("/*VIRIDIS*/", &serde_json::to_string(&VIRIDIS)?)
        .replace("/*DIVERGING*/", &serde_json::to_string(&DIVERGING)?)
        .replace("/*HIGHLIGHT*/", &serde_json::to_string(&HIGHLIGHT)?)
        .replace("/*INK_SWITCH*/", &INK_SWITCH.to_string())
        .replace("/*SEQUENTIAL*/", &serde_json::to_string(&SEQUENTIAL)?)
        .replace("/*ABOVE_CAP*/", &ABOVE_CAP.to_string())
        .replace("/*DATA*/", &json);
    crate::util::fsutil::atomic_write(path, page.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_with_the_figures_colours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attn.html");
        write_attention_page(&serde_json::json!({ "examples": [] }), &path).unwrap();
        let page = std::fs::read_to_string(&path).unwrap();
        assert!(!page.contains("/*"), "a placeholder is left in the page");
        assert!(page.contains(&format!("INK_SWITCH = {INK_SWITCH}")));
        assert!(page.contains("[[68,1,84],"), "viridis from colormap.rs");
    }
}
