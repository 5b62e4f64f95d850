//! The live demo: figures/attn.html browsed in headless Chromium, one screenshot
//! per state of its menus (example, layer, head, what colours the words).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One state of the page's menus.
#[derive(Clone, Debug)]
pub struct Step {
    pub example: usize,
    /// None: the last layer.
    pub layer: Option<usize>,
    /// A key of the page's METHODS ("integrated", "pooled", ...).
    pub by: &'static str,
}

impl Step {
    pub fn words(example: usize, by: &'static str) -> Self {
        Self {
            example,
            layer: None,
            by,
        }
    }

    pub fn layer(self, layer: usize) -> Self {
        Self {
            layer: Some(layer),
            ..self
        }
    }

    /// Set the menus as a visitor would, then redraw. The head stays on "mean",
    /// the page's default; the map is shrunk so the words fit beside it.
    fn script(&self) -> String {
        let layer = match self.layer {
            Some(l) => format!("$(\"layer\").value = \"{l}\";"),
            None => "$(\"layer\").value = $(\"layer\").options.length - 1;".into(),
        };
        format!(
            "<style>body {{ margin: 10px 16px; }} canvas {{ width: 470px; height: 470px; }} \
             .tokens {{ max-width: 700px !important; font-size: 13px; }}</style>\n\
             <script>$(\"example\").value = \"{}\"; fillMethods(); {layer} \
             $(\"by\").value = \"{}\"; draw();</script>\n",
            self.example, self.by
        )
    }
}

/// Chromium or Chrome on PATH.
pub fn find_browser() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| super::programs::on_path(name))
}

/// Screenshot the page in `step`'s state at `size` pixels into `png`.
pub fn capture(
    browser: &Path,
    page: &str,
    step: &Step,
    size: (u32, u32),
    png: &Path,
) -> Result<()> {
    let Some(end) = page.rfind("</body>") else {
        bail!("the attention page has no </body>");
    };
    let html = png.with_extension("html");
    let state = format!("{}{}{}", &page[..end], step.script(), &page[end..]);
    std::fs::write(&html, state).with_context(|| format!("writing {}", html.display()))?;
    let html = std::fs::canonicalize(&html)?;
    let profile = png.with_extension("profile");
    // The flags keep a headless Chromium off the network and out of the user's profile.
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={},{}", size.0, size.1))
    .arg(format!("--screenshot={}", png.display()))
    .arg(format!("file://{}", html.display()));
    let shot = super::programs::run(&mut cmd, &format!("screenshotting {}", html.display()));
    // The page copy and Chromium's profile folder are of no further use.
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_file(&html);
    shot?;
    if !png.is_file() {
        bail!(
            "{} wrote no screenshot to {}",
            browser.display(),
            png.display()
        );
    }
    Ok(())
}
