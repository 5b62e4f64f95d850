//! Which examples to X-ray: the user's texts, validation rows by index, or picked
//! from the validation split (per class the most confidently correct one, then
//! the most ambiguous, then the most confidently wrong ones).

use crate::modes::saved_run::SavedRun;
use crate::runner::inference::argmax;
use crate::runner::inference::predict_probs;
use crate::train::data::encode_texts;
use anyhow::{bail, Result};
use candle_core::Device;

pub enum Choice {
    /// `count` examples picked from the validation split.
    Examples(usize),
    /// Validation rows by index.
    Indices(Vec<usize>),
    /// The user's own texts (no true label).
    Texts(Vec<String>),
}

/// One example ready to draw.
pub struct Example {
    pub name: String,
    pub ids: Vec<u32>,
    pub truth: Option<u32>,
}

pub fn choose(saved: &SavedRun, choice: &Choice, device: &Device) -> Result<Vec<Example>> {
    let picked: Vec<(usize, String)> = match choice {
        Choice::Texts(texts) => {
            let ids = encode_texts(&saved.tokenizer, texts, &saved.options)?;
            return Ok(ids
                .into_iter()
                .enumerate()
                .map(|(k, ids)| Example {
                    name: format!("text_{}", k + 1),
                    ids,
                    truth: None,
                })
                .collect());
        }
        Choice::Indices(indices) => {
            // From the run's summary when it has one: a bad index is refused
            // before the split is rebuilt, which takes a while.
            let rows = match saved.val_rows() {
                Some(rows) => rows,
                None => saved.split("val")?.ids.len(),
            };
            if let Some(&bad) = indices.iter().find(|&&i| i >= rows) {
                bail!("--index {bad} is out of range: the validation split has {rows} examples");
            }
            indices.iter().map(|&i| (i, format!("val_{i}"))).collect()
        }
        Choice::Examples(count) => {
            let val = saved.split("val")?;
            let batch = saved.options.eval_batch_size;
            let probs = predict_probs(&saved.model, &val.ids, batch, device)?;
            pick_examples(&probs, &val.labels, &saved.labels, *count)
        }
    };
    let val = saved.split("val")?;
    Ok(picked
        .into_iter()
        .map(|(i, name)| Example {
            name,
            ids: val.ids[i].clone(),
            truth: Some(val.labels[i]),
        })
        .collect())
}

/// Indices into the split, in the order they should be shown, with a short name.
pub fn pick_examples(
    probs: &[Vec<f32>],
    labels: &[u32],
    label_names: &[String],
    count: usize,
) -> Vec<(usize, String)> {
    let predicted = |i: usize| argmax(&probs[i]);
    let mut picked: Vec<(usize, String)> = Vec::new();
    let take = |i: Option<usize>, name: String, picked: &mut Vec<(usize, String)>| {
        if let Some(i) = i.filter(|i| !picked.iter().any(|(p, _)| p == i)) {
            picked.push((i, name));
        }
    };
    for (class, name) in label_names.iter().enumerate() {
        let confident = (0..labels.len())
            .filter(|&i| labels[i] as usize == class && predicted(i) == class)
            .max_by(|&a, &b| probs[a][class].total_cmp(&probs[b][class]));
        take(confident, format!("confident_{}", slug(name)), &mut picked);
    }
    // Ambiguous: the smallest gap between the two most likely classes (0.5/0.5 for two classes).
    let ambiguous =
        (0..labels.len()).min_by(|&a, &b| margin(&probs[a]).total_cmp(&margin(&probs[b])));
    take(ambiguous, "ambiguous".into(), &mut picked);
    let mut wrong: Vec<usize> = (0..labels.len())
        .filter(|&i| predicted(i) != labels[i] as usize)
        .collect();
    wrong.sort_by(|&a, &b| probs[b][predicted(b)].total_cmp(&probs[a][predicted(a)]));
    for (n, i) in wrong.into_iter().enumerate() {
        take(Some(i), format!("misclassified_{}", n + 1), &mut picked);
    }
    picked.truncate(count);
    picked
}

fn margin(p: &[f32]) -> f32 {
    let mut sorted = p.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    sorted[0] - sorted.get(1).copied().unwrap_or(0.0)
}

/// A file-name-safe version of a label ("Sci/Tech" -> "sci_tech").
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_confident_per_class_then_ambiguous_then_wrong() {
        let probs = vec![
            vec![0.9, 0.1],
            vec![0.2, 0.8],
            vec![0.51, 0.49],
            vec![0.99, 0.01],
            vec![0.05, 0.95],
            vec![0.3, 0.7],
        ];
        let labels = [0, 1, 0, 0, 0, 1];
        let names = vec!["neg".to_string(), "pos".to_string()];
        let picked = pick_examples(&probs, &labels, &names, 5);
        // Row 1 (0.8) is the most confident correct pos, row 3 (0.99) the neg; row 4 is wrong.
        let expected: Vec<(usize, String)> = [
            (3, "confident_neg"),
            (1, "confident_pos"),
            (2, "ambiguous"),
            (4, "misclassified_1"),
        ]
        .iter()
        .map(|(i, n)| (*i, n.to_string()))
        .collect();
        assert_eq!(picked, expected);
        assert_eq!(pick_examples(&probs, &labels, &names, 2).len(), 2);
    }
}
