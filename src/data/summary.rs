//! What `xray fetch` reports: rows per split and label, and token lengths.

use serde::Serialize;

#[derive(Debug, Serialize, PartialEq)]
pub struct LengthStats {
    pub mean: f64,
    pub median: usize,
    pub p95: usize,
    pub max: usize,
    /// Share of texts longer than max_len tokens (specials included).
    pub truncated: f64,
}

pub fn length_stats(lengths: &[usize], max_len: usize) -> LengthStats {
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let n = sorted.len().max(1);
    let at = |q: f64| {
        sorted
            .get(((n - 1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    LengthStats {
        mean: sorted.iter().sum::<usize>() as f64 / n as f64,
        median: at(0.5),
        p95: at(0.95),
        max: sorted.last().copied().unwrap_or(0),
        truncated: sorted.iter().filter(|&&l| l > max_len).count() as f64 / n as f64,
    }
}

/// "12,500 neg · 12,500 pos"
pub fn describe_counts(counts: &[usize], names: &[String]) -> String {
    counts
        .iter()
        .zip(names)
        .map(|(c, n)| format!("{} {n}", thousands(*c)))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_stats_on_a_hand_computed_case() {
        let s = length_stats(&[1, 2, 3, 4, 100], 3);
        assert_eq!((s.median, s.p95, s.max), (3, 100, 100));
        assert!((s.mean - 22.0).abs() < 1e-12);
        assert!((s.truncated - 0.4).abs() < 1e-12);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(25_000), "25,000");
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}

/// One split as `fetch` found it.
#[derive(Debug, Serialize)]
pub struct SplitSummary {
    pub split: String,
    pub rows: usize,
    pub per_label: Vec<usize>,
    /// Token lengths (train split only: the one that trains the model).
    pub tokens: Option<LengthStats>,
}
