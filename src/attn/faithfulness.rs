//! Does a method point at the tokens the prediction rests on? ERASER's two tests
//! (DeYoung et al. 2020), for every method and at several sizes: rank the
//! tokens by the method, then
//! - comprehensiveness: delete the top k% and measure how much the predicted
//!   class's probability drops (higher: the method found what mattered);
//! - sufficiency: keep only the top k% and measure the drop (lower: those tokens
//!   alone carry the prediction).
//!
//! Each is also averaged over the sizes (AOPC). Random ranking is the floor.

use super::attribution::{attribute, Baseline, IG_STEPS};
use super::capture::{is_special, top_k, Capture, Maps};
use super::heads::{
    role_rules, HeadStats, Role, RouteStats, Tally, CARD_WORDS, MIN_OCCURRENCES, TOP_KEYS,
};
use crate::data::collate::collate_unlabelled;
use crate::data::dataset::stratified_split;
use crate::modes::saved_run::SavedRun;
use crate::runner::inference::predict_probs;
use crate::train::data::EncodedSplit;
use crate::util::rng::Rng;
use crate::viz::deletion_curves::{Curves, Deletion};
use crate::viz::head_cards::{Bar, Card, Cards};
use anyhow::Result;
use candle_core::Device;
use serde::{Deserialize, Serialize};

/// ERASER's sizes: shares of an example's non-special tokens.
pub const FRACTIONS: [f64; 5] = [0.01, 0.05, 0.10, 0.20, 0.50];
const BATCH: usize = 32;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Faithfulness {
    pub examples: usize,
    pub fractions: Vec<f64>,
    pub methods: Vec<Curve>,
    pub integrated_gradients: Completeness,
    /// How each attention head reads over the same examples (absent in files
    /// written before it was measured).
    #[serde(default)]
    pub heads: Vec<HeadStats>,
    #[serde(default)]
    pub route: RouteStats,
    /// The class the heads' word cards sign IG towards: the second label of a
    /// two-class run ("pos"), else each review's predicted class.
    #[serde(default)]
    pub ig_toward: String,
}

/// One method's drops in the predicted class's probability, per fraction.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Curve {
    pub method: String,
    pub comprehensiveness: Vec<f64>,
    pub sufficiency: Vec<f64>,
    pub comprehensiveness_aopc: f64,
    pub sufficiency_aopc: f64,
}

/// How far Integrated Gradients' sums are from the margin's change.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Completeness {
    pub steps: usize,
    pub baseline: Baseline,
    /// Mean |sum of attributions − (margin(text) − margin(baseline))|.
    pub mean_abs_error: f64,
    /// Mean |margin(text) − margin(baseline)|, the scale of that error.
    pub mean_abs_gap: f64,
}

impl Faithfulness {
    /// The method with the highest comprehensiveness AOPC, random excluded.
    pub fn most_faithful(&self) -> Option<&Curve> {
        self.methods
            .iter()
            .filter(|c| c.method != "random")
            .max_by(|a, b| {
                a.comprehensiveness_aopc
                    .total_cmp(&b.comprehensiveness_aopc)
            })
    }

    /// [layer][head] -> each head's role, as the figures order them.
    pub fn roles(&self) -> Vec<Vec<Role>> {
        let mut roles: Vec<Vec<Role>> = Vec::new();
        for h in &self.heads {
            roles.resize(roles.len().max(h.layer), Vec::new());
            let layer = &mut roles[h.layer - 1];
            layer.resize(layer.len().max(h.head), Role::default());
            layer[h.head - 1] = h.role;
        }
        roles
    }

    /// The reading head the front page, the video and the notebook name: of the
    /// heads whose role is reading, the one whose top-5 keys receive the most
    /// weight (scripts/check_numbers.py applies the same rule).
    pub fn reading_head(&self) -> Option<&HeadStats> {
        self.heads
            .iter()
            .filter(|h| h.role == Role::Reading)
            .max_by(|a, b| a.top5_x_uniform.total_cmp(&b.top5_x_uniform))
    }

    pub fn method(&self, name: &str) -> Option<&Curve> {
        self.methods.iter().find(|c| c.method == name)
    }

    /// What figures/faithfulness.png draws: every method's curves.
    pub fn curves(&self) -> Curves<'_> {
        let methods = self.methods.iter().map(|c| Deletion {
            method: &c.method,
            comprehensiveness: &c.comprehensiveness,
            sufficiency: &c.sufficiency,
        });
        Curves {
            fractions: &self.fractions,
            methods: methods.collect(),
            examples: self.examples,
        }
    }

    /// What figures/heads.png draws: every head's card, titled with its role
    /// and the numbers that gave it, its most-weighed words as bars.
    pub fn cards(&self) -> Cards {
        let card = |h: &HeadStats| Card {
            layer: h.layer,
            head: h.head,
            title: format!("layer {} · head {} · {}", h.layer, h.head, h.role.name()),
            lines: [
                format!(
                    "precision@{TOP_KEYS} {:.2} at {:.1}x uniform · entropy {:.2}",
                    h.precision_at_5, h.top5_x_uniform, h.entropy
                ),
                format!(
                    "beside the query {:.0}% · top keys' weight on structure {:.0}%",
                    100.0 * h.positional_share,
                    100.0 * h.structure_at_5
                ),
            ],
            bars: h
                .words
                .iter()
                .map(|w| Bar {
                    word: w.token.clone(),
                    x_uniform: w.x_uniform,
                    ig: w.ig,
                })
                .collect(),
        };
        Cards {
            title: format!(
                "What each head reads, over {} validation reviews: the {CARD_WORDS} words it weighs \
                 most (mean weight × uniform over each word's occurrences, seen ≥ {MIN_OCCURRENCES} times)",
                self.examples
            ),
            legend: format!(
                "bar colour: the word's mean Integrated Gradients, red towards {}, blue away, grey \
                 near 0 · roles: {}",
                self.ig_toward,
                role_rules()
            ),
            rows: CARD_WORDS,
            empty: format!("no word seen {MIN_OCCURRENCES} times in the sample"),
            cards: self.heads.iter().map(card).collect(),
        }
    }
}

/// Per-token scores of every method for one example, higher = more important.
struct Ranked {
    names: Vec<&'static str>,
    scores: Vec<Vec<f32>>,
}

/// `ids` without the positions in `drop`.
fn without(ids: &[u32], drop: &[usize]) -> Vec<u32> {
    ids.iter()
        .enumerate()
        .filter(|(k, _)| !drop.contains(k))
        .map(|(_, &id)| id)
        .collect()
}

/// `ids` with only the positions in `keep`, and the special tokens, in order.
fn only(ids: &[u32], keep: &[usize], tokens: &[String]) -> Vec<u32> {
    ids.iter()
        .enumerate()
        .filter(|(k, _)| keep.contains(k) || is_special(&tokens[*k]))
        .map(|(_, &id)| id)
        .collect()
}

/// How many tokens a fraction of `candidates` is: at least one.
fn size(frac: f64, candidates: usize) -> usize {
    ((candidates as f64 * frac).round() as usize).max(1)
}

/// Mean drops per method and fraction from the probabilities before and after.
/// `after[e][m][f]` = (p after deleting, p after keeping only) for example e.
fn curves(names: &[&str], before: &[f64], after: &[Vec<Vec<(f64, f64)>>]) -> Vec<Curve> {
    let n = before.len().max(1) as f64;
    names
        .iter()
        .enumerate()
        .map(|(m, name)| {
            let mean = |pick: fn((f64, f64)) -> f64, f: usize| {
                before
                    .iter()
                    .zip(after)
                    .map(|(p, a)| p - pick(a[m][f]))
                    .sum::<f64>()
                    / n
            };
            let comp: Vec<f64> = (0..FRACTIONS.len()).map(|f| mean(|p| p.0, f)).collect();
            let suff: Vec<f64> = (0..FRACTIONS.len()).map(|f| mean(|p| p.1, f)).collect();
            let aopc = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            Curve {
                method: name.to_string(),
                comprehensiveness_aopc: aopc(&comp),
                sufficiency_aopc: aopc(&suff),
                comprehensiveness: comp,
                sufficiency: suff,
            }
        })
        .collect()
}

/// Both tests over a seeded, stratified sample of `n` examples of `data`, and
/// the attention heads' statistics over the same examples.
pub fn measure(
    saved: &SavedRun,
    data: &EncodedSplit,
    n: usize,
    device: &Device,
) -> Result<Faithfulness> {
    let frac = (n as f64 / data.ids.len() as f64).min(1.0);
    let (_, sample) = stratified_split(&data.labels, frac, 17);
    let mut rng = Rng::new(23);
    let (mut before, mut classes, mut edited) = (Vec::new(), Vec::new(), Vec::new());
    let (mut errors, mut gaps) = (Vec::new(), Vec::new());
    let mut names = Vec::new();
    let mut heads = Tally::default();
    let binary = saved.labels.len() == 2;
    let bar = crate::util::progress::bar(
        sample.len() as u64,
        "  faithfulness {bar:30} {pos}/{len} ETA {eta}",
    );
    for chunk in sample.chunks(BATCH) {
        let seqs: Vec<&[u32]> = chunk.iter().map(|&i| data.ids[i].as_slice()).collect();
        let capture = Capture::run(saved, &collate_unlabelled(&seqs, device)?, None)?;
        for (b, ids) in seqs.iter().enumerate() {
            let tokens = saved.tokens(ids);
            let maps = capture.maps(b, ids.len());
            let ranked = rank(saved, &maps, ids, &mut rng, device)?;
            let route = maps.evidence(saved.config.pool).0;
            let class = ranked.class;
            let sign = match (binary, class) {
                (true, 0) => -1.0,
                _ => 1.0,
            };
            heads.add(&maps, &ranked.integrated, sign, route, &tokens);
            errors.push(ranked.attribution_error);
            gaps.push(ranked.gap);
            before.push(capture.probs[b][class] as f64);
            classes.push(class);
            let candidates = tokens.iter().filter(|t| !is_special(t)).count();
            for scores in &ranked.methods.scores {
                for frac in FRACTIONS {
                    let top = top_k(scores, &tokens, size(frac, candidates));
                    edited.push(without(ids, &top));
                    edited.push(only(ids, &top, &tokens));
                }
            }
            names = ranked.methods.names;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let probs = predict_probs(&saved.model, &edited, saved.options.eval_batch_size, device)?;
    let after = per_method(&probs, &classes, names.len());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (heads, route) = heads.finish();
    Ok(Faithfulness {
        examples: before.len(),
        fractions: FRACTIONS.to_vec(),
        methods: curves(&names, &before, &after),
        integrated_gradients: Completeness {
            steps: IG_STEPS,
            baseline: Baseline::Pad,
            mean_abs_error: mean(&errors),
            mean_abs_gap: mean(&gaps),
        },
        heads,
        route,
        ig_toward: match binary {
            true => saved.labels[1].clone(),
            false => "the predicted class".to_string(),
        },
    })
}

/// The edited texts' probabilities, each example's `methods` × FRACTIONS ×
/// (deleted, kept) in a row -> [example][method][fraction] = (p deleted, p kept)
/// of the example's predicted class.
fn per_method(probs: &[Vec<f32>], classes: &[usize], methods: usize) -> Vec<Vec<Vec<(f64, f64)>>> {
    let per_example = methods * FRACTIONS.len() * 2;
    probs
        .chunks(per_example)
        .zip(classes)
        .map(|(p, &c)| {
            p.chunks(FRACTIONS.len() * 2)
                .map(|m| {
                    m.chunks(2)
                        .map(|d| (d[0][c] as f64, d[1][c] as f64))
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// One example's rankings, and its attribution's completeness.
struct Example {
    methods: Ranked,
    /// Integrated Gradients per position: the evidence the heads are judged by.
    integrated: Vec<f32>,
    class: usize,
    attribution_error: f64,
    gap: f64,
}

/// Every method's scores for one example: attention and rollout from its
/// maps, the pooling head's own weights where they are learned, both gradient
/// attributions, and random scores.
fn rank(
    saved: &SavedRun,
    maps: &Maps,
    ids: &[u32],
    rng: &mut Rng,
    device: &Device,
) -> Result<Example> {
    let special: Vec<bool> = saved.tokens(ids).iter().map(|t| is_special(t)).collect();
    let attribution = attribute(&saved.model, ids, &special, IG_STEPS, Baseline::Pad, device)?;
    let mut names = vec!["attention", "rollout"];
    let mut scores = vec![maps.pooled_attn.clone(), maps.rolled.clone()];
    if saved.config.pool.learns_query() {
        names.push("pooling");
        scores.push(maps.pooling.clone());
    }
    names.extend(["grad_input", "integrated_gradients", "random"]);
    scores.push(attribution.grad_input.clone());
    scores.push(attribution.integrated.clone());
    scores.push((0..ids.len()).map(|_| rng.uniform() as f32).collect());
    Ok(Example {
        class: attribution.target,
        attribution_error: attribution.completeness_error() as f64,
        gap: attribution.margin_gap.abs() as f64,
        integrated: attribution.integrated,
        methods: Ranked { names, scores },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_skips_special_tokens_and_deletion_keeps_the_rest_in_order() {
        let tokens: Vec<String> = ["[CLS]", "good", "film", "bad", "[SEP]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let weights = [0.9, 0.1, 0.3, 0.5, 0.8];
        assert_eq!(top_k(&weights, &tokens, 2), vec![3, 2]);
        assert_eq!(without(&[101, 1, 2, 3, 102], &[3, 2]), vec![101, 1, 102]);
        assert_eq!(only(&[101, 1, 2, 3, 102], &[3], &tokens), vec![101, 3, 102]);
        assert_eq!(size(0.01, 230), 2);
        assert_eq!(size(0.01, 20), 1);
    }

    /// Two examples, one method, worked by hand: p before 0.9 and 0.8; deleting
    /// the top tokens leaves 0.5 and 0.6 at every size, keeping only them 0.85 and 0.7.
    #[test]
    fn drops_and_aopc_by_hand() {
        let before = [0.9, 0.8];
        let at = |del: f64, keep: f64| vec![vec![(del, keep); FRACTIONS.len()]];
        let after = [at(0.5, 0.85), at(0.6, 0.7)];
        let curve = &curves(&["m"], &before, &after)[0];
        // comprehensiveness: ((0.9 - 0.5) + (0.8 - 0.6)) / 2 = 0.3
        // sufficiency: ((0.9 - 0.85) + (0.8 - 0.7)) / 2 = 0.075
        for f in 0..FRACTIONS.len() {
            assert!((curve.comprehensiveness[f] - 0.3).abs() < 1e-12);
            assert!((curve.sufficiency[f] - 0.075).abs() < 1e-12);
        }
        assert!((curve.comprehensiveness_aopc - 0.3).abs() < 1e-12);
        assert!((curve.sufficiency_aopc - 0.075).abs() < 1e-12);
    }
}
