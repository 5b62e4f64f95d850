//! One self-contained HTML page (data, script and style inline; no network) to
//! browse examples, layers and heads.

use anyhow::Result;
use serde::Serialize;
use std::path::Path;

const TEMPLATE: &str = include_str!("attn.html");

/// Write `data` (any serialisable value with an `examples` list) into the page.
pub fn write_attention_page<T: Serialize>(data: &T, path: &Path) -> Result<()> {
    // `</` would close the script element early if a token contained it.
    let json = serde_json::to_string(data)?.replace("</", "<\\/");
    crate::fsutil::atomic_write(path, TEMPLATE.replace("/*DATA*/", &json).as_bytes())
}
