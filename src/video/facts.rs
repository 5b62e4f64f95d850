//! What the video says, read back from the files a run wrote: metrics/ (the run
//! summary, the final metrics, faithfulness) and figures/ (the attention page's
//! examples, the mask comparison). Nothing is recomputed and nothing is canned.

use crate::attn::compare::{MaskSummary, COMPARE_JSON};
use crate::attn::faithfulness::Faithfulness;
use crate::attn::record::ExampleRecord;
use crate::runner::folder::{FIGURES_DIR, FINAL_METRICS_FILE, METRICS_DIR, RUN_SUMMARY_FILE};
use crate::train::report::{FinalMetrics, RunSummary};
use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub struct Facts {
    pub figures: PathBuf,
    pub summary: RunSummary,
    pub final_metrics: FinalMetrics,
    pub final_metrics_text: String,
    /// The examples figures/attn.html browses, in its order.
    pub examples: Vec<ExampleRecord>,
    /// The HTML page itself, for the browser to show.
    pub page: String,
    pub masks: MaskSummary,
    pub faithfulness: Option<Faithfulness>,
}

const MISSING_HINT: &str = "run `xray train` and then `xray attn --compare-causal --html` \
     with the same --out first (or `make train attn`)";

impl Facts {
    /// Read the run's files under `root`; every missing file is named with the fix.
    pub fn read(root: &Path) -> Result<Self> {
        let (figures, metrics) = (root.join(FIGURES_DIR), root.join(METRICS_DIR));
        let final_metrics_text = read_text(&metrics.join(FINAL_METRICS_FILE))?;
        let page = read_text(&figures.join("attn.html"))?;
        let masks: MaskSummary = read_json(&figures.join(COMPARE_JSON))?;
        let faithfulness_path = metrics.join("faithfulness.json");
        let faithfulness = faithfulness_path
            .is_file()
            .then(|| read_json(&faithfulness_path))
            .transpose()?;
        let facts = Self {
            summary: read_json(&metrics.join(RUN_SUMMARY_FILE))?,
            final_metrics: parse_json(&final_metrics_text, &metrics.join(FINAL_METRICS_FILE))?,
            examples: page_examples(&page).with_context(|| {
                format!(
                    "reading the data of {}",
                    figures.join("attn.html").display()
                )
            })?,
            final_metrics_text,
            page,
            masks,
            faithfulness,
            figures,
        };
        if facts.examples.is_empty() {
            bail!("figures/attn.html holds no examples: {MISSING_HINT}");
        }
        Ok(facts)
    }

    /// A figure of the run, which must exist.
    pub fn figure(&self, name: &str) -> Result<PathBuf> {
        let path = self.figures.join(name);
        if !path.is_file() {
            bail!("{} is missing: {MISSING_HINT}", path.display());
        }
        Ok(path)
    }
}

/// The examples embedded in the attention page (`const DATA = {...};`).
fn page_examples(page: &str) -> Result<Vec<ExampleRecord>> {
    #[derive(Deserialize)]
    struct Data {
        examples: Vec<ExampleRecord>,
    }
    let start = page
        .find("const DATA = ")
        .context("no `const DATA = ` in the page: not written by `xray attn --html`")?;
    // The JSON ends where its value does; the stream parser stops there.
    let json = &page[start + "const DATA = ".len()..];
    let mut values = serde_json::Deserializer::from_str(json).into_iter::<Data>();
    let data = values.next().context("the page's data is empty")??;
    Ok(data.examples)
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading {}: {MISSING_HINT}", path.display()))
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    parse_json(&read_text(path)?, path)
}

fn parse_json<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    serde_json::from_str(text).with_context(|| format!("parsing {}", path.display()))
}
