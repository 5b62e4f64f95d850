//! `xray attn`: the figures of the chosen examples, and on request the JSON
//! export, the HTML page and the faithfulness measurement (also recorded in the
//! run summaries that describe this run).

use super::faithfulness::{measure, Faithfulness, FRACTIONS};
use super::heads::{role_rules, TOP_KEYS};
use super::{record, xray_attention, Choice};
use crate::modes::saved_run::SavedRun;
use crate::runner::folder::{FIGURES_DIR, METRICS_DIR};
use crate::util::device::{select_device, DeviceArg};
use crate::util::fsutil::atomic_write;
use anyhow::Result;
use std::path::PathBuf;

/// What `xray attn` is asked.
pub struct AttnRequest {
    pub run: PathBuf,
    /// The root of figures/ and metrics/.
    pub out: PathBuf,
    pub choice: Choice,
    pub compare_causal: bool,
    pub html: bool,
    pub json: bool,
    pub pairs: bool,
    /// Validation examples to measure faithfulness on; 0 skips.
    pub faithfulness: usize,
    pub device: DeviceArg,
}

pub fn run(cmd: AttnRequest) -> Result<()> {
    let device = select_device(cmd.device)?;
    let saved = SavedRun::open(&cmd.run, &device)?;
    let (out, figures) = (cmd.out.as_path(), cmd.out.join(FIGURES_DIR));
    // Measured first, so that each example's explanation can quote it.
    let faithfulness = match cmd.faithfulness {
        0 => None,
        n => Some(measure(&saved, &saved.split("val")?, n, &device)?),
    };
    let output = xray_attention(
        &saved,
        &cmd.choice,
        &figures,
        cmd.compare_causal,
        faithfulness.as_ref(),
        &device,
    )?;
    let mut written = output.written;
    if cmd.pairs {
        written.extend(super::pairs::draw_pairs(&saved, &figures, &device)?);
    }
    if cmd.json {
        let path = figures.join("attn_examples.json");
        record::write_json(&output.examples, &path)?;
        written.push(path);
    }
    if cmd.html {
        let path = figures.join("attn.html");
        record::write_html(
            &output.examples,
            faithfulness.as_ref(),
            super::watch::forming_of(&saved)?,
            &path,
        )?;
        written.push(path);
    }
    if let Some(f) = &faithfulness {
        print_table(f);
        let path = figures.join("faithfulness.png");
        crate::viz::deletion_curves::draw_faithfulness(&f.curves(), &path)?;
        written.push(path);
        let path = figures.join("heads.png");
        crate::viz::head_cards::draw_head_cards(&f.cards(), &path)?;
        written.push(path);
        let metrics = out.join(METRICS_DIR);
        saved.record_in_summaries(out, "faithfulness", &serde_json::to_value(f)?)?;
        let json = serde_json::to_vec_pretty(f)?;
        for path in [
            saved.dir.join("faithfulness.json"),
            metrics.join("faithfulness.json"),
        ] {
            atomic_write(&path, &json)?;
            written.push(path);
        }
    }
    for path in &written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The methods' drops at each size, then their averages (AOPC).
fn print_table(f: &Faithfulness) {
    let sizes: Vec<String> = FRACTIONS
        .iter()
        .map(|x| format!("{:>6}", format!("{:.0}%", 100.0 * x)))
        .collect();
    println!(
        "faithfulness over {} validation examples: the drop in the predicted class's \
         probability when the top tokens are deleted (comprehensiveness, higher is better) \
         or kept alone (sufficiency, lower is better)",
        f.examples
    );
    println!(
        "{:<22} {}   AOPC | {}   AOPC",
        "method",
        sizes.join(" "),
        sizes.join(" ")
    );
    let row = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:>6.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for c in &f.methods {
        println!(
            "{:<22} {} {:>6.3} | {} {:>6.3}",
            c.method,
            row(&c.comprehensiveness),
            c.comprehensiveness_aopc,
            row(&c.sufficiency),
            c.sufficiency_aopc
        );
    }
    let ig = &f.integrated_gradients;
    println!(
        "Integrated Gradients ({} steps, {:?} baseline): completeness error {:.4} on margins of {:.3} on average",
        ig.steps, ig.baseline, ig.mean_abs_error, ig.mean_abs_gap
    );
    println!(
        "heads over the same examples: entropy (1 = uniform), the top key's weight and the \
         top {TOP_KEYS} keys' (x uniform), the share of those that are evidence (top 10% by \
         |IG|), the share of weight on [CLS]/[SEP]/punctuation, beside each query (offsets \
         -1, 0, +1), the share of its top keys that are structure, the role, the keys most often on top"
    );
    println!("  roles: {}", role_rules());
    for h in &f.heads {
        let keys: Vec<&str> = h.top_keys.iter().map(|(t, _)| t.as_str()).collect();
        println!(
            "  layer {} head {}: entropy {:.3}  top {:>5.1}x  top-{TOP_KEYS} {:>5.1}x  \
             precision {:.2}  sink {:.2}  beside {:.2}  structure {:.0}%  {:<10} {}",
            h.layer,
            h.head,
            h.entropy,
            h.top_x_uniform,
            h.top5_x_uniform,
            h.precision_at_5,
            h.sink_share,
            h.positional_share,
            100.0 * h.structure_at_5,
            h.role.name(),
            keys.join(" ")
        );
    }
    let r = &f.route;
    let tokens: Vec<&str> = r.top_tokens.iter().map(|(t, _)| t.as_str()).collect();
    println!(
        "  route to the head: top token {:.1}x uniform, evidence in {:.0}% of examples; \
         most often {}",
        r.top_x_uniform,
        100.0 * r.top_is_evidence,
        tokens.join(" ")
    );
}
