//! How each attention head reads, over the faithfulness sample: how focused it
//! is, how much weight the keys it looks at most receive, whether those keys
//! are the evidence (the review's top tokens by |Integrated Gradients|), how much
//! weight stays beside each query, and how much goes to structure. From those,
//! one role per head (`Role`), and the words each head weighs most.

use super::capture::{is_special, top_k, Maps};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The keys a head is judged by: the 5 it weighs most.
pub const TOP_KEYS: usize = 5;
/// The evidence: the top 10% of a review's tokens by |IG|, at least TOP_KEYS.
pub const EVIDENCE_FRAC: f64 = 0.10;

/// Words a head card lists: the ones it weighs most on average.
pub const CARD_WORDS: usize = 15;
/// A word is listed only when the sample holds it this often (rare words' means are noise).
pub const MIN_OCCURRENCES: usize = 10;

/// What a head does, judged over the sample by the thresholds below, in this order.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Its top keys are the evidence, and they stand out.
    Reading,
    /// Its weight stays on the query's own position and its neighbours
    /// (Clark et al. 2019, "What does BERT look at?").
    Positional,
    /// Its weight goes to [CLS], [SEP] and punctuation (a sink), or its top keys
    /// are punctuation and function words.
    Structure,
    /// Near uniform: it averages.
    Broad,
    /// None of the above: the numbers say what it does.
    #[default]
    Mixed,
}

/// Reading: precision@5 at least this, with the top keys at least READING_X x uniform.
pub const READING_PRECISION: f64 = 0.5;
pub const READING_X: f64 = 2.0;
/// Positional: at least this share of each query's weight on offsets -1, 0, +1.
pub const POSITIONAL_SHARE: f64 = 0.5;
/// Structure: at least this share of the weight on [CLS], [SEP] and punctuation
/// (a sink), or at least STRUCTURE_AT_5 of the weight its top keys receive on
/// structure tokens, with those keys at least READING_X x uniform (a uniform head
/// scores about the structure tokens' share of a text, ~0.45 in English reviews).
pub const SINK_SHARE: f64 = 0.5;
pub const STRUCTURE_AT_5: f64 = 0.6;
/// Broad: entropy at least this share of uniform's.
pub const BROAD_ENTROPY: f64 = 0.9;

impl Role {
    /// The first role whose threshold the head passes.
    pub fn of(h: &HeadStats) -> Role {
        if h.precision_at_5 >= READING_PRECISION && h.top5_x_uniform >= READING_X {
            Role::Reading
        } else if h.positional_share >= POSITIONAL_SHARE {
            Role::Positional
        } else if h.sink_share >= SINK_SHARE
            || (h.structure_at_5 >= STRUCTURE_AT_5 && h.top5_x_uniform >= READING_X)
        {
            Role::Structure
        } else if h.entropy >= BROAD_ENTROPY {
            Role::Broad
        } else {
            Role::Mixed
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Reading => "reading",
            Role::Positional => "positional",
            Role::Structure => "structure",
            Role::Broad => "broad",
            Role::Mixed => "mixed",
        }
    }

    /// Figures list heads in this order: the ones that read first.
    pub fn rank(self) -> usize {
        self as usize
    }
}

/// The thresholds in one sentence, for the explanations and the figures.
pub fn role_rules() -> String {
    format!(
        "reading: precision@{TOP_KEYS} >= {READING_PRECISION} with its top keys >= {READING_X}x \
         uniform; positional: >= {:.0}% of each query's weight on itself and its two neighbours; \
         structure: >= {:.0}% of the weight on [CLS], [SEP] and punctuation, or >= {:.0}% of what \
         its top keys receive on punctuation and function words, at >= {READING_X}x uniform; broad: entropy >= {BROAD_ENTROPY} of uniform; mixed: none of these \
         (tried in that order)",
        100.0 * POSITIONAL_SHARE,
        100.0 * SINK_SHARE,
        100.0 * STRUCTURE_AT_5
    )
}

/// One word as a head weighs it: the mean over its occurrences.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WordWeight {
    pub token: String,
    /// The weight it receives, x uniform, mean over its occurrences.
    pub x_uniform: f64,
    pub count: usize,
    /// Its mean Integrated Gradients attribution towards `Faithfulness::ig_toward`.
    pub ig: f64,
}

/// One head's statistics, each a mean over the sample's reviews (fields added
/// later default to 0 when an older file lacks them).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
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
    /// The share of each query's weight on offsets -1, 0, +1.
    pub positional_share: f64,
    /// Of the weight its TOP_KEYS keys receive, the share on punctuation and
    /// function words (`is_structure`).
    pub structure_at_5: f64,
    pub role: Role,
    /// The CARD_WORDS words it weighs most (seen at least MIN_OCCURRENCES times).
    pub words: Vec<WordWeight>,
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
    /// Per head, per word: the sum of what it received (x uniform), occurrences.
    head_words: Vec<HashMap<String, (f64, usize)>>,
    /// Per word: the sum of its signed IG, occurrences.
    word_ig: HashMap<String, (f64, usize)>,
}

/// Punctuation alone: structure, not evidence.
fn is_punctuation(token: &str) -> bool {
    !token.is_empty() && token.chars().all(|c| c.is_ascii_punctuation())
}

/// The most frequent English function words (negations left out: they are
/// evidence in a review), and "s", "t" of "'s", "n't" as the tokenizer splits them.
const FUNCTION_WORDS: [&str; 40] = [
    "the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by",
    "from", "as", "is", "was", "are", "were", "be", "been", "it", "its", "this", "that", "i",
    "you", "he", "she", "we", "they", "his", "her", "my", "me", "so", "there", "s", "t",
];

/// [CLS], [SEP], punctuation and function words: what a structure head reads.
pub fn is_structure(token: &str) -> bool {
    is_special(token) || is_punctuation(token) || FUNCTION_WORDS.contains(&token)
}

/// The mean share of each query's weight on its own position and its two
/// neighbours (row-major (n x n) weights).
pub fn positional_share(weights: &[f32], n: usize) -> f64 {
    let near = |i: usize| -> f64 {
        (i.saturating_sub(1)..(i + 2).min(n))
            .map(|j| weights[i * n + j] as f64)
            .sum()
    };
    (0..n).map(near).sum::<f64>() / n.max(1) as f64
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
    /// One review: its maps, its IG attribution per position (towards the
    /// predicted class), `sign` turning that towards the reference class the word
    /// cards colour by (+1 or -1), the route, its tokens.
    pub fn add(
        &mut self,
        maps: &Maps,
        evidence: &[f32],
        sign: f32,
        route: &[f32],
        tokens: &[String],
    ) {
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
            self.head_words = vec![HashMap::new(); flat.len()];
        }
        for (k, token) in tokens.iter().enumerate().filter(|(_, t)| !is_special(t)) {
            let entry = self.word_ig.entry(token.clone()).or_default();
            entry.0 += (sign * evidence[k]) as f64;
            entry.1 += 1;
        }
        for (k, &(l, h, w)) in flat.iter().enumerate() {
            let entropy = maps.entropy[l][h] as f64;
            self.add_head(k, entropy, w, maps.causal, tokens, &is_evidence);
        }
        self.add_route(route, tokens, &is_evidence);
        self.reviews += 1;
    }

    /// One head's map of one review (`k` in the tally's order), added to its sums.
    fn add_head(
        &mut self,
        k: usize,
        entropy: f64,
        w: &[f32],
        causal: bool,
        tokens: &[String],
        is_evidence: &impl Fn(&usize) -> bool,
    ) {
        let n = tokens.len();
        let got = received(w, n, causal);
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
        stats.entropy += entropy;
        stats.top_x_uniform += got.iter().copied().fold(0.0, f64::max);
        stats.top5_x_uniform += top.iter().map(|&i| got[i]).sum::<f64>() / top.len().max(1) as f64;
        stats.precision_at_5 +=
            top.iter().filter(|i| is_evidence(i)).count() as f64 / top.len().max(1) as f64;
        stats.sink_share += sink / total.max(f64::MIN_POSITIVE);
        let on_top: f64 = top.iter().map(|&i| got[i]).sum();
        let on_structure: f64 = top
            .iter()
            .filter(|&&i| is_structure(&tokens[i]))
            .map(|&i| got[i])
            .sum();
        stats.structure_at_5 += on_structure / on_top.max(f64::MIN_POSITIVE);
        stats.positional_share += positional_share(w, n);
        for &i in &top {
            *self.head_keys[k].entry(tokens[i].clone()).or_default() += 1;
        }
        for (i, token) in tokens.iter().enumerate().filter(|(_, t)| !is_special(t)) {
            let entry = self.head_words[k].entry(token.clone()).or_default();
            entry.0 += got[i];
            entry.1 += 1;
        }
    }

    /// The route's weights of one review: its top token, and whether it is evidence.
    fn add_route(
        &mut self,
        route: &[f32],
        tokens: &[String],
        is_evidence: &impl Fn(&usize) -> bool,
    ) {
        let n = tokens.len();
        let first = top_k(route, tokens, 1);
        self.route.top_x_uniform += route
            .iter()
            .map(|&x| x as f64 * n as f64)
            .fold(0.0, f64::max);
        self.route.top_is_evidence += first.iter().filter(|i| is_evidence(i)).count() as f64;
        for &i in &first {
            *self.route_tokens.entry(tokens[i].clone()).or_default() += 1;
        }
    }

    /// The means, and the most frequent keys of each head and of the route.
    pub fn finish(mut self) -> (Vec<HeadStats>, RouteStats) {
        let n = self.reviews.max(1) as f64;
        for ((stats, keys), words) in self
            .heads
            .iter_mut()
            .zip(&self.head_keys)
            .zip(&self.head_words)
        {
            stats.entropy /= n;
            stats.top_x_uniform /= n;
            stats.top5_x_uniform /= n;
            stats.precision_at_5 /= n;
            stats.sink_share /= n;
            stats.positional_share /= n;
            stats.structure_at_5 /= n;
            stats.top_keys = most_frequent(keys);
            stats.words = most_weighed(words, &self.word_ig);
            stats.role = Role::of(stats);
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

/// The CARD_WORDS words a head weighs most on average, among those seen at
/// least MIN_OCCURRENCES times, with their mean IG (ties by token).
fn most_weighed(
    words: &HashMap<String, (f64, usize)>,
    ig: &HashMap<String, (f64, usize)>,
) -> Vec<WordWeight> {
    let mut all: Vec<WordWeight> = words
        .iter()
        .filter(|(_, &(_, count))| count >= MIN_OCCURRENCES)
        .map(|(token, &(sum, count))| {
            let (ig_sum, ig_count) = ig.get(token).copied().unwrap_or_default();
            WordWeight {
                token: token.clone(),
                x_uniform: sum / count as f64,
                count,
                ig: ig_sum / ig_count.max(1) as f64,
            }
        })
        .collect();
    all.sort_by(|a, b| {
        b.x_uniform
            .total_cmp(&a.x_uniform)
            .then_with(|| a.token.cmp(&b.token))
    });
    all.truncate(CARD_WORDS);
    all
}

#[cfg(test)]
mod tests {
    use super::super::capture::normalised_entropy;
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
        tally.add(&maps, &ig, 1.0, &route, &tokens);
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

    /// Maps of 20 tokens: [CLS], 18 words, [SEP]; the evidence, by IG, is five of the words.
    fn twenty() -> (Vec<String>, Vec<f32>) {
        let mut tokens = vec!["[CLS]".to_string()];
        tokens.extend((1..19).map(|k| format!("w{k}")));
        tokens.push("[SEP]".to_string());
        let ig = (0..20)
            .map(|k| {
                if [3, 7, 9, 12, 15].contains(&k) {
                    1.0
                } else {
                    0.01
                }
            })
            .collect();
        (tokens, ig)
    }

    /// The maps of a one-layer, one-head model over `n` tokens, its entropy measured.
    fn one_head(map: Vec<f32>, n: usize) -> Maps {
        let entropy = normalised_entropy(&map, n, false);
        Maps {
            per_head: vec![vec![map]],
            means: vec![],
            pooled_attn: vec![],
            rolled: vec![],
            pooling: vec![1.0 / n as f32; n],
            entropy: vec![vec![entropy]],
            causal: false,
        }
    }

    fn role_of(map: Vec<f32>) -> HeadStats {
        let (tokens, ig) = twenty();
        role_on(map, &tokens, &ig)
    }

    fn role_on(map: Vec<f32>, tokens: &[String], ig: &[f32]) -> HeadStats {
        let n = tokens.len();
        let maps = one_head(map, n);
        let mut tally = Tally::default();
        tally.add(&maps, ig, 1.0, &vec![1.0 / n as f32; n], tokens);
        tally.finish().0.remove(0)
    }

    #[test]
    fn hand_built_maps_get_their_roles() {
        let n = 20;
        let row_major = |f: &dyn Fn(usize, usize) -> f32| -> Vec<f32> {
            (0..n * n).map(|k| f(k / n, k % n)).collect()
        };
        // Each query on itself and its neighbours: positional.
        let diagonal = role_of(row_major(&|i, j| {
            let near = (i.saturating_sub(1)..(i + 2).min(n)).len() as f32;
            f32::from(i.abs_diff(j) <= 1) / near
        }));
        assert_eq!(diagonal.role, Role::Positional, "{diagonal:?}");
        assert!((diagonal.positional_share - 1.0).abs() < 1e-6);
        // Every query on [CLS]: a sink, structure.
        let sink = role_of(row_major(&|_, j| f32::from(j == 0)));
        assert_eq!(sink.role, Role::Structure, "{sink:?}");
        assert!(sink.sink_share > SINK_SHARE);
        // Every query on the five evidence words: reading, 4x uniform on them.
        let marked = [3, 7, 9, 12, 15];
        let reading = role_of(row_major(&|_, j| {
            if marked.contains(&j) {
                0.2
            } else {
                0.0
            }
        }));
        assert_eq!(reading.role, Role::Reading, "{reading:?}");
        assert!((reading.precision_at_5 - 1.0).abs() < 1e-9);
        assert!((reading.top5_x_uniform - 4.0).abs() < 1e-5);
        // Every query on five punctuation and function words: structure.
        let (mut tokens, ig) = twenty();
        for (k, t) in [(2, "."), (5, "the"), (11, ","), (14, "and"), (17, "of")] {
            tokens[k] = t.to_string();
        }
        let words = [2, 5, 11, 14, 17];
        let map = row_major(&|_, j| if words.contains(&j) { 0.2 } else { 0.0 });
        let structure = role_on(map, &tokens, &ig);
        assert_eq!(structure.role, Role::Structure, "{structure:?}");
        assert_eq!(structure.structure_at_5, 1.0);
        assert!(
            structure.sink_share < SINK_SHARE,
            "not a sink: most of it on words"
        );
        // Uniform: broad.
        let flat = role_of(row_major(&|_, _| 1.0 / n as f32));
        assert_eq!(flat.role, Role::Broad, "{flat:?}");
        assert_eq!(flat.structure_at_5, 0.0);
    }

    #[test]
    fn word_cards_keep_frequent_words_with_their_mean_weight_and_signed_ig() {
        let (tokens, ig) = twenty();
        let n = tokens.len();
        let on_w3: Vec<f32> = (0..n * n).map(|k| f32::from(k % n == 3)).collect();
        let maps = one_head(on_w3, n);
        let mut tally = Tally::default();
        let route = vec![1.0 / n as f32; n];
        for _ in 0..MIN_OCCURRENCES - 1 {
            tally.add(&maps, &ig, -1.0, &route, &tokens);
        }
        let (heads, _) = tally.finish();
        assert!(heads[0].words.is_empty(), "every word seen too rarely");
        let mut tally = Tally::default();
        for _ in 0..MIN_OCCURRENCES {
            tally.add(&maps, &ig, -1.0, &route, &tokens);
        }
        let (heads, _) = tally.finish();
        let words = &heads[0].words;
        assert_eq!(words.len(), CARD_WORDS, "18 words seen, 15 listed");
        assert_eq!(words[0].token, "w3");
        assert!((words[0].x_uniform - n as f64).abs() < 1e-6);
        assert_eq!(words[0].count, MIN_OCCURRENCES);
        assert!((words[0].ig + 1.0).abs() < 1e-6, "IG turned by the sign");
        assert!(words[1..].iter().all(|w| w.x_uniform == 0.0));
    }

    #[test]
    fn structure_tokens_are_specials_punctuation_and_function_words() {
        for t in ["[CLS]", "[SEP]", ".", ",", "'", "the", "and", "s"] {
            assert!(is_structure(t), "{t}");
        }
        for t in ["great", "not", "worst", "##ly"] {
            assert!(!is_structure(t), "{t}");
        }
    }
}
