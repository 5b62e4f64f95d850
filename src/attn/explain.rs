//! The short explanation written beside each example's figures (`attn_<name>.md`):
//! its text, the verdict, and the top tokens by rollout and by pooled attention.

use super::capture::{is_special, top_k, Maps};

const TOP_TOKENS: usize = 10;
/// Characters of the text quoted at the top.
const EXCERPT: usize = 400;

pub fn explanation(
    name: &str,
    verdict: &str,
    predicted: &str,
    tokens: &[String],
    maps: &Maps,
) -> String {
    let top = |weights: &[f32]| -> Vec<(String, f32)> {
        top_k(weights, tokens, TOP_TOKENS)
            .into_iter()
            .map(|k| (tokens[k].clone(), weights[k]))
            .collect()
    };
    let table = |weights: &[f32]| {
        top(weights)
            .iter()
            .enumerate()
            .map(|(k, (t, w))| format!("| {} | `{t}` | {w:.4} |", k + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let rolled = top(&maps.rolled);
    let share: f32 = rolled.iter().take(3).map(|(_, w)| w).sum();
    let words: Vec<String> = rolled
        .iter()
        .take(3)
        .map(|(t, _)| format!("\"{t}\""))
        .collect();
    let text: String = tokens
        .iter()
        .filter(|t| !is_special(t))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ##", "");
    let excerpt: String = text.chars().take(EXCERPT).collect();
    let cut = if text.chars().count() > EXCERPT {
        "…"
    } else {
        ""
    };
    format!(
        "# {name}: {verdict}

> {excerpt}{cut}

Rolled-out attention puts {:.0}% of the pooled output's weight on {}, \
for a **{predicted}** prediction.

## Top tokens by attention rollout

| rank | token | weight |
| --- | --- | --- |
{}

## Top tokens by the attention the pooled output receives (last layer)

| rank | token | weight |
| --- | --- | --- |
{}

Attention shows where information flows, not why the model decided: a token can
carry weight without changing the prediction. Figures: `attn_{name}_layer*.png`,
`attn_{name}_layer*_heads.png`, `attn_{name}_text.png`.
",
        100.0 * share,
        words.join(", "),
        table(&maps.rolled),
        table(&maps.pooled_attn)
    )
}
