//! The datasets xray knows by name, the user's own files, label ids, and the
//! stratified splits.

use super::hub::{fetch, HubFile};
use super::table::{read_parquet, read_table, RawLabels, RawTable};
use crate::util::rng::Rng;
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A user's single file has no test split: this stratified share becomes one.
pub const FILE_TEST_FRAC: f64 = 0.1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DatasetSpec {
    Imdb,
    AgNews,
    File(PathBuf),
}

impl std::str::FromStr for DatasetSpec {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "imdb" => DatasetSpec::Imdb,
            "ag_news" => DatasetSpec::AgNews,
            path => DatasetSpec::File(PathBuf::from(path)),
        })
    }
}

/// A named Hub dataset: where its parquet splits live and what its labels mean.
pub struct HubDataset {
    pub name: &'static str,
    pub train: HubFile,
    pub test: HubFile,
    pub unsupervised: Option<HubFile>,
    pub label_names: &'static [&'static str],
}

impl DatasetSpec {
    pub fn hub(&self) -> Option<HubDataset> {
        match self {
            DatasetSpec::Imdb => {
                let file = |split: &str| {
                    HubFile::dataset(
                        "stanfordnlp/imdb",
                        format!("plain_text/{split}-00000-of-00001.parquet"),
                    )
                };
                Some(HubDataset {
                    name: "imdb",
                    train: file("train"),
                    test: file("test"),
                    unsupervised: Some(file("unsupervised")),
                    label_names: &["neg", "pos"],
                })
            }
            DatasetSpec::AgNews => {
                let file = |split: &str| {
                    HubFile::dataset(
                        "fancyzhx/ag_news",
                        format!("data/{split}-00000-of-00001.parquet"),
                    )
                };
                Some(HubDataset {
                    name: "ag_news",
                    train: file("train"),
                    test: file("test"),
                    unsupervised: None,
                    label_names: &["World", "Sports", "Business", "Sci/Tech"],
                })
            }
            DatasetSpec::File(_) => None,
        }
    }

    pub fn name(&self) -> String {
        match (self.hub(), self) {
            (Some(hub), _) => hub.name.to_string(),
            (None, DatasetSpec::File(path)) => path.display().to_string(),
            (None, _) => unreachable!("named datasets have a hub entry"),
        }
    }
}

/// Texts with class ids 0..n_classes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    pub texts: Vec<String>,
    pub labels: Vec<u32>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            texts: indices.iter().map(|&i| self.texts[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    pub fn counts_per_label(&self, n_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; n_classes];
        self.labels.iter().for_each(|&l| counts[l as usize] += 1);
        counts
    }
}

pub struct Splits {
    pub name: String,
    pub label_names: Vec<String>,
    pub train: Dataset,
    pub val: Dataset,
    pub test: Dataset,
}

/// Class ids for a table. With `names`, ids must lie in 0..names.len(); without,
/// integer ids must be >= 0 and string labels are numbered in sorted order.
pub fn label_ids(
    table: RawTable,
    names: Option<&[String]>,
    path: &Path,
) -> Result<(Dataset, Vec<String>)> {
    let (labels, names) = match (table.labels, names) {
        (RawLabels::Ids(ids), known) => {
            let n = known.map_or_else(
                || ids.iter().max().map_or(0, |&m| m + 1),
                |k| k.len() as i64,
            );
            if let Some(row) = ids.iter().position(|&id| id < 0 || id >= n) {
                let expected = match known {
                    Some(k) => format!(
                        "this dataset's classes are 0..={} ({})",
                        n - 1,
                        k.join(", ")
                    ),
                    None => "use class ids 0, 1, 2, … or class names".to_string(),
                };
                bail!(
                    "{}: row {}, column `label`: label {} is out of range: {expected}",
                    path.display(),
                    row + 1,
                    ids[row]
                );
            }
            let names = known.map_or_else(
                || (0..n).map(|i| i.to_string()).collect(),
                <[String]>::to_vec,
            );
            (ids.iter().map(|&id| id as u32).collect(), names)
        }
        (RawLabels::Names(labels), known) => {
            let names: Vec<String> = match known {
                Some(k) => k.to_vec(),
                None => labels
                    .iter()
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            };
            let ids = labels.iter().enumerate().map(|(row, l)| {
                names
                    .iter()
                    .position(|n| n == l)
                    .map(|i| i as u32)
                    .with_context(|| {
                        format!(
                        "{}: row {}, column `label`: unknown label {l:?}; known labels: {names:?}",
                        path.display(),
                        row + 1
                    )
                    })
            });
            (ids.collect::<Result<Vec<_>>>()?, names)
        }
    };
    if names.len() < 2 {
        bail!(
            "{}: a classifier needs at least 2 classes; found only {names:?}",
            path.display()
        );
    }
    let data = Dataset {
        texts: table.texts,
        labels,
    };
    Ok((without_empty_texts(data, path)?, names))
}

/// Rows whose text is empty or blank carry nothing to learn or to predict from:
/// dropped, with a warning that counts them and names the first few rows.
fn without_empty_texts(data: Dataset, path: &Path) -> Result<Dataset> {
    let (kept, empty): (Vec<usize>, Vec<usize>) =
        (0..data.len()).partition(|&i| !data.texts[i].trim().is_empty());
    if empty.is_empty() {
        return Ok(data);
    }
    ensure!(
        !kept.is_empty(),
        "{}: every row's `text` is empty",
        path.display()
    );
    let rows: Vec<String> = empty.iter().take(5).map(|i| (i + 1).to_string()).collect();
    let more = if empty.len() > 5 { ", …" } else { "" };
    eprintln!(
        "warning: {}: dropped {} of {} rows with an empty `text` (rows {}{more})",
        path.display(),
        empty.len(),
        data.len(),
        rows.join(", ")
    );
    Ok(data.subset(&kept))
}

/// Indices of (kept, held out): `frac` of each class held out, chosen by `seed`.
pub fn stratified_split(labels: &[u32], frac: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let n_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let (mut kept, mut held) = (Vec::new(), Vec::new());
    for class in 0..n_classes {
        let mut members: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == class)
            .collect();
        rng.shuffle(&mut members);
        let n_held = (members.len() as f64 * frac).round() as usize;
        held.extend_from_slice(&members[..n_held]);
        kept.extend_from_slice(&members[n_held..]);
    }
    kept.sort_unstable();
    held.sort_unstable();
    (kept, held)
}

fn read_hub_split(file: &HubFile, names: &[String]) -> Result<Dataset> {
    let path = fetch(file)?;
    let table = read_parquet(&path)?;
    Ok(label_ids(table, Some(names), &path)?.0)
}

/// Train / validation / test for a named dataset or the user's file.
pub fn load_splits(spec: &DatasetSpec, val_frac: f64, seed: u64) -> Result<Splits> {
    let (all_train, test, label_names) = match (spec.hub(), spec) {
        (Some(hub), _) => {
            let names: Vec<String> = hub.label_names.iter().map(|s| s.to_string()).collect();
            let train = read_hub_split(&hub.train, &names)?;
            let test = read_hub_split(&hub.test, &names)?;
            (train, test, names)
        }
        (None, DatasetSpec::File(path)) => {
            let (all, names) = label_ids(read_table(path)?, None, path)?;
            let (rest, test) = stratified_split(&all.labels, FILE_TEST_FRAC, seed ^ 0x7E57);
            (all.subset(&rest), all.subset(&test), names)
        }
        (None, _) => unreachable!("named datasets have a hub entry"),
    };
    let (train, val) = stratified_split(&all_train.labels, val_frac, seed);
    Ok(Splits {
        name: spec.name(),
        label_names,
        train: all_train.subset(&train),
        val: all_train.subset(&val),
        test,
    })
}

/// The unlabelled texts of a dataset that has them (IMDb's 50,000 reviews).
pub fn load_unsupervised(spec: &DatasetSpec) -> Result<Vec<String>> {
    let file = spec
        .hub()
        .and_then(|h| h.unsupervised)
        .with_context(|| format!("{} has no unsupervised split", spec.name()))?;
    Ok(read_parquet(&fetch(&file)?)?.texts)
}
