//! The short explanation written beside each example's figures (`attn_<name>.md`):
//! its text, the verdict, the words the head reads and the words that push the
//! prediction, the most faithful method's top words with its measured
//! faithfulness, and how focused each head is.

use super::attribution::Attribution;
use super::capture::{is_special, top_k, Maps};
use super::draw::Drawing;
use super::faithfulness::Faithfulness;
use super::heads::{role_rules, TOP_KEYS};

const TOP_TOKENS: usize = 10;
/// Characters of the text quoted at the top.
const EXCERPT: usize = 400;

/// The per-token scores a faithfulness method name stands for.
fn scores<'a>(method: &str, maps: &'a Maps, a: &'a Attribution) -> Option<&'a [f32]> {
    Some(match method {
        "attention" => &maps.pooled_attn,
        "rollout" => &maps.rolled,
        "pooling" => &maps.pooling,
        "grad_input" => &a.grad_input,
        "integrated_gradients" => &a.integrated,
        _ => return None,
    })
}

fn quoted(tokens: &[String], positions: &[usize]) -> String {
    let words: Vec<String> = positions
        .iter()
        .map(|&k| format!("\"{}\"", tokens[k]))
        .collect();
    words.join(", ")
}

fn table(tokens: &[String], weights: &[f32], unit: impl Fn(f32) -> String) -> String {
    top_k(weights, tokens, TOP_TOKENS)
        .into_iter()
        .enumerate()
        .map(|(r, k)| format!("| {} | `{}` | {} |", r + 1, tokens[k], unit(weights[k])))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn explanation(
    d: &Drawing,
    maps: &Maps,
    attribution: &Attribution,
    faithfulness: Option<&Faithfulness>,
) -> String {
    let tokens = d.tokens;
    let n = tokens.len() as f32;
    let (evidence, route) = maps.evidence(d.pool);
    let top = top_k(evidence, tokens, 3);
    let ratios: Vec<String> = top
        .iter()
        .map(|&k| format!("\"{}\" ({:.1}x uniform)", tokens[k], evidence[k] * n))
        .collect();
    let ig = &attribution.integrated;
    let towards = top_k(ig, tokens, 3);
    let against: Vec<f32> = ig.iter().map(|x| -x).collect();
    let away = top_k(&against, tokens, 3);
    let faithful = faithfulness
        .map(|f| faithful_sentence(f, maps, attribution, tokens))
        .unwrap_or_default();
    let (excerpt, cut) = excerpt(tokens);
    let (head_cols, rule, entropy) = entropy_table(&maps.entropy);
    let roles = faithfulness.map(roles_table).unwrap_or_default();
    format!(
        "# {name}: {verdict}

> {excerpt}{cut}

For a **{predicted}** prediction the head reads this text through the {route}; \
it weighs most {}. Integrated Gradients ({} steps from a baseline of [PAD] for every word; \
completeness error {:.4} on a margin change of {:.3}) finds {} pushing towards \
{predicted} and {} pushing away.
{faithful}
## Top tokens by the route to the head ({route})

| rank | token | weight × n (1 = uniform) |
| --- | --- | --- |
{}

## Top tokens by Integrated Gradients (towards {predicted})

| rank | token | attribution |
| --- | --- | --- |
{}

## How focused each head is (attention entropy / ln(keys seen); 1 = uniform)

| layer |{head_cols}
| --- |{rule}
{entropy}
{roles}
Attention shows where information flows; gradients show what the prediction is
sensitive to; only the faithfulness test (`xray attn --faithfulness 500`) says
which of them the prediction really rests on. Figures: `attn_{name}_layer*.png`,
`attn_{name}_layer*_heads.png`, `attn_{name}_text.png`.
",
        ratios.join(", "),
        super::attribution::IG_STEPS,
        attribution.completeness_error(),
        attribution.margin_gap,
        quoted(tokens, &towards),
        quoted(tokens, &away),
        table(tokens, evidence, |w| format!("{:.1}", w * n)),
        table(tokens, ig, |w| format!("{w:+.3}")),
        name = d.name,
        verdict = d.verdict,
        predicted = d.predicted,
    )
}

/// The sentence naming the most faithful method, its comparison with random
/// deletion at 10%, and its top words on this text; empty when none is known.
fn faithful_sentence(
    f: &Faithfulness,
    maps: &Maps,
    attribution: &Attribution,
    tokens: &[String],
) -> String {
    let Some(best) = f.most_faithful() else {
        return String::new();
    };
    let Some(s) = scores(&best.method, maps, attribution) else {
        return String::new();
    };
    let at10 = f.fractions.iter().position(|&x| (x - 0.1).abs() < 1e-9);
    let versus = match (at10, f.method("random")) {
        (Some(i), Some(r)) => format!(
            ": deleting its top 10% of tokens lowers the predicted probability by \
             {:.3} on average, random deletion by {:.3}",
            best.comprehensiveness[i], r.comprehensiveness[i]
        ),
        _ => String::new(),
    };
    format!(
        "\nThe most faithful method on {} validation reviews is **{}** \
         (comprehensiveness AOPC {:.3}, sufficiency AOPC {:.3}{versus}). \
         Its top words here: {}.\n",
        f.examples,
        best.method,
        best.comprehensiveness_aopc,
        best.sufficiency_aopc,
        quoted(tokens, &top_k(s, tokens, 5))
    )
}

/// What each head does over the faithfulness sample: its role and the numbers
/// that gave it, reading heads first.
fn roles_table(f: &Faithfulness) -> String {
    let mut heads: Vec<_> = f.heads.iter().collect();
    heads.sort_by_key(|h| (h.role.rank(), h.layer, h.head));
    let rows: Vec<String> = heads
        .iter()
        .map(|h| {
            let words: Vec<String> = h
                .words
                .iter()
                .take(5)
                .map(|w| format!("`{}`", w.token))
                .collect();
            format!(
                "| {} | {} | **{}** | {:.2} | {:.2} at {:.1}x | {:.0}% | {:.0}% | {} |",
                h.layer,
                h.head,
                h.role.name(),
                h.entropy,
                h.precision_at_5,
                h.top5_x_uniform,
                100.0 * h.positional_share,
                100.0 * h.structure_at_5,
                words.join(" ")
            )
        })
        .collect();
    format!(
        "
## What each head does, over {} validation reviews

Roles by these thresholds: {}.

| layer | head | role | entropy | precision@{TOP_KEYS} at top-{TOP_KEYS} × uniform | weight beside the query | top keys that are structure | words it weighs most |
| --- | --- | --- | --- | --- | --- | --- | --- |
{}
",
        f.examples,
        role_rules(),
        rows.join("\n")
    )
}

/// The text's words (subwords joined), cut to EXCERPT characters, and "…" if cut.
fn excerpt(tokens: &[String]) -> (String, &'static str) {
    let text: String = tokens
        .iter()
        .filter(|t| !is_special(t))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ##", "");
    let cut = if text.chars().count() > EXCERPT {
        "…"
    } else {
        ""
    };
    (text.chars().take(EXCERPT).collect(), cut)
}

/// The entropy table's header cells, rule and rows, one row per layer.
fn entropy_table(entropy: &[Vec<f32>]) -> (String, String, String) {
    let rows = entropy
        .iter()
        .enumerate()
        .map(|(l, heads)| {
            let cells: Vec<String> = heads.iter().map(|e| format!("{e:.2}")).collect();
            format!("| {} | {} |", l + 1, cells.join(" | "))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let heads = entropy.first().map_or(0, Vec::len);
    let head_cols: String = (1..=heads).map(|h| format!(" head {h} |")).collect();
    (head_cols, " --- |".repeat(heads), rows)
}
