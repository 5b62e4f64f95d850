//! How each attention head reads, over the faithfulness sample: how focused it
//! is, how much weight the keys it looks at most receive, and whether those keys
//! are the evidence (the review's top tokens by |Integrated Gradients|). A
//! heatmap shows the evidence *visibly* when both are high; a head whose weight
//! goes to [CLS], [SEP] or punctuation is a sink, whatever its entropy.

use super::capture::{is_special, top_k, Maps};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The keys a head is judged by: the 5 it weighs most.
pub const TOP_KEYS: usize = 5;
/// The evidence: the top 10% of a review's tokens by |IG|, at least TOP_KEYS.
pub const EVIDENCE_FRAC: f64 = 0.10;

/// One head's statistics, each a mean over the sample's reviews.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HeadStats {
    /// 1-based, as the figures number them.
    pub layer: usize,
    pub head: usize,
    /// Entropy / ln(keys seen), mean over queries: 1 is uniform.
    pub entropy: f64,
    /// The weight the most-weighted key receives, mean over queries, × uniform.
    pub top_x_uniform: f64,
    /// The same for the TOP_KEYS most-weighted non-special keys, on average.
    pub top5_x_uniform: f64,
    /// The share of those keys that are evidence.
    pub precision_at_5: f64,
    /// The share of the weight received by special tokens and punctuation.
    pub sink_share: f64,
    /// The tokens most often among the TOP_KEYS keys, with how often.
    pub top_keys: Vec<(String, usize)>,
}

/// The route by which words reach the classifier (`Maps::evidence`), judged alike.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RouteStats {
    /// Its largest weight × uniform.
    pub top_x_uniform: f64,
    /// The share of reviews whose top non-special token is evidence.
    pub top_is_evidence: f64,
    /// The tokens most often on top, with how often.
    pub top_tokens: Vec<(String, usize)>,
}

/// Sums over reviews, turned into means by `finish`.
#[derive(Default)]
pub struct Tally {
    reviews: usize,
    heads: Vec<HeadStats>,
    head_keys: Vec<HashMap<String, usize>>,
    route: RouteStats,
    route_tokens: HashMap<String, usize>,
}

/// Punctuation alone: structure, not evidence.
fn is_punctuation(token: &str) -> bool {
    !token.is_empty() && token.chars().all(|c| c.is_ascii_punctuation())
}

/// How much each key receives from the queries that may see it, × uniform
/// (a row that sees k keys weighs each 1/k when uniform).
pub fn received(weights: &[f32], n: usize, causal: bool) -> Vec<f64> {
    (0..n)
        .map(|j| {
            let rows = if causal { j..n } else { 0..n };
            let count = rows.len().max(1) as f64;
            rows.map(|i| {
                let keys = if causal { i + 1 } else { n };
                weights[i * n + j] as f64 * keys as f64
            })
            .sum::<f64>()
                / count
        })
        .collect()
}

impl Tally {
    /// One review: its maps, its IG attribution per position, its tokens.
    pub fn add(&mut self, maps: &Maps, evidence: &[f32], route: &[f32], tokens: &[String]) {
        let n = tokens.len();
        let candidates = tokens.iter().filter(|t| !is_special(t)).count();
        let wanted = ((candidates as f64 * EVIDENCE_FRAC).round() as usize).max(TOP_KEYS);
        let magnitude: Vec<f32> = evidence.iter().map(|x| x.abs()).collect();
        let is_evidence = {
            let top = top_k(&magnitude, tokens, wanted);
            move |i: &usize| top.contains(i)
        };
        let flat: Vec<(usize, usize, &Vec<f32>)> = maps
            .per_head
            .iter()
            .enumerate()
            .flat_map(|(l, heads)| heads.iter().enumerate().map(move |(h, w)| (l, h, w)))
            .collect();
        if self.heads.is_empty() {
            self.heads = flat
                .iter()
                .map(|&(l, h, _)| HeadStats {
                    layer: l + 1,
                    head: h + 1,
                    ..HeadStats::default()
                })
                .collect();
            self.head_keys = vec![HashMap::new(); flat.len()];
        }
        for (k, &(l, h, w)) in flat.iter().enumerate() {
            let got = received(w, n, maps.causal);
            let top = top_k(
                &got.iter().map(|&x| x as f32).collect::<Vec<_>>(),
                tokens,
                TOP_KEYS,
            );
            let total: f64 = got.iter().sum();
            let sink: f64 = (0..n)
                .filter(|&i| is_special(&tokens[i]) || is_punctuation(&tokens[i]))
                .map(|i| got[i])
                .sum();
            let stats = &mut self.heads[k];
            stats.entropy += maps.entropy[l][h] as f64;
            stats.top_x_uniform += got.iter().copied().fold(0.0, f64::max);
            stats.top5_x_uniform +=
                top.iter().map(|&i| got[i]).sum::<f64>() / top.len().max(1) as f64;
            stats.precision_at_5 +=
                top.iter().filter(|i| is_evidence(i)).count() as f64 / top.len().max(1) as f64;
            stats.sink_share += sink / total.max(f64::MIN_POSITIVE);
            for &i in &top {
                *self.head_keys[k].entry(tokens[i].clone()).or_default() += 1;
            }
        }
        let first = top_k(route, tokens, 1);
        self.route.top_x_uniform += route
            .iter()
            .map(|&x| x as f64 * n as f64)
            .fold(0.0, f64::max);
        self.route.top_is_evidence += first.iter().filter(|i| is_evidence(i)).count() as f64;
        for &i in &first {
            *self.route_tokens.entry(tokens[i].clone()).or_default() += 1;
        }
        self.reviews += 1;
    }

    /// The means, and the most frequent keys of each head and of the route.
    pub fn finish(mut self) -> (Vec<HeadStats>, RouteStats) {
        let n = self.reviews.max(1) as f64;
        for (stats, keys) in self.heads.iter_mut().zip(&self.head_keys) {
            stats.entropy /= n;
            stats.top_x_uniform /= n;
            stats.top5_x_uniform /= n;
            stats.precision_at_5 /= n;
            stats.sink_share /= n;
            stats.top_keys = most_frequent(keys);
        }
        self.route.top_x_uniform /= n;
        self.route.top_is_evidence /= n;
        self.route.top_tokens = most_frequent(&self.route_tokens);
        (self.heads, self.route)
    }
}

/// The TOP_KEYS most frequent tokens, most frequent first (ties by token).
fn most_frequent(counts: &HashMap<String, usize>) -> Vec<(String, usize)> {
    let mut all: Vec<(String, usize)> = counts.iter().map(|(t, &c)| (t.clone(), c)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(TOP_KEYS);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_weight_is_one_when_uniform_and_n_on_a_single_key() {
        let uniform = vec![0.25; 16];
        assert!(received(&uniform, 4, false)
            .iter()
            .all(|&x| (x - 1.0).abs() < 1e-9));
        // Every query on key 2: it receives 4x uniform, the others nothing.
        let one: Vec<f32> = (0..16).map(|k| f32::from(k % 4 == 2)).collect();
        assert_eq!(received(&one, 4, false), vec![0.0, 0.0, 4.0, 0.0]);
        // Causal and uniform over what each row sees: 1 everywhere.
        let causal = [
            1.0,
            0.0,
            0.0,
            0.5,
            0.5,
            0.0,
            1.0 / 3.0,
            1.0 / 3.0,
            1.0 / 3.0,
        ];
        assert!(received(&causal, 3, true)
            .iter()
            .all(|&x| (x - 1.0).abs() < 1e-6));
    }

    /// A head that looks at the one evidence word, another at [SEP].
    #[test]
    fn a_head_on_the_evidence_scores_precision_and_a_head_on_sep_is_a_sink() {
        let tokens: Vec<String> = ["[CLS]", "a", "b", "awful", "c", "d", "e", "[SEP]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let n = tokens.len();
        let on = |key: usize| -> Vec<f32> { (0..n * n).map(|k| f32::from(k % n == key)).collect() };
        let maps = Maps {
            per_head: vec![vec![on(3), on(7)]],
            means: vec![],
            pooled_attn: vec![],
            rolled: vec![],
            pooling: vec![1.0 / n as f32; n],
            entropy: vec![vec![0.0, 0.0]],
            causal: false,
        };
        let ig = [0.0, 0.1, -0.2, 2.0, 0.3, -0.4, 0.5, 0.0];
        let route: Vec<f32> = (0..n)
            .map(|k| if k == 3 { 0.5 } else { 0.5 / 7.0 })
            .collect();
        let mut tally = Tally::default();
        tally.add(&maps, &ig, &route, &tokens);
        let (heads, route) = tally.finish();
        assert_eq!(heads[0].top_x_uniform, n as f64);
        let keys: Vec<&str> = heads[0].top_keys.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            keys,
            ["a", "awful", "b", "c", "d"],
            "once each: in token order"
        );
        // Evidence: the top 5 by |IG| (10% of 6 rounds to 1, at least 5):
        // awful, e, d, c, b; the head's top 5 non-special keys are awful, then
        // zeros in position order: a, b, c, d. Of those, awful, b, c, d are evidence.
        assert!(
            (heads[0].precision_at_5 - 0.8).abs() < 1e-9,
            "{:?}",
            heads[0]
        );
        assert!(heads[0].sink_share < 1e-9);
        assert!((heads[1].sink_share - 1.0).abs() < 1e-9);
        assert_eq!(route.top_is_evidence, 1.0);
        assert!((route.top_x_uniform - 4.0).abs() < 1e-6);
        assert_eq!(route.top_tokens, vec![("awful".to_string(), 1)]);
    }
}
