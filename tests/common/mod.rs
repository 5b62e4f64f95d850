//! Small models and batches shared by the integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use std::path::{Path, PathBuf};
use xray::data::dataset::DatasetSpec;
use xray::data::tokenize::{fixed_vocab_tokenizer, save_tokenizer};
use xray::model::store::init_model;
use xray::model::{Arch, Classifier, Config, Pool};
use xray::train::options::TrainOptions;
use xray::train::probe::ProbeMaker;

/// The X-ray's head probe, which `xray train` hands the loop: every test run
/// measures its heads at each validation point, as the command does.
pub const PROBE: Option<ProbeMaker> = Some(xray::attn::watch::probe);

pub fn tiny_config(arch: Arch) -> Config {
    Config {
        vocab_size: 50,
        d_model: 16,
        n_heads: 4,
        n_layers: 2,
        max_len: 16,
        n_classes: 3,
        arch,
        pool: Pool::default_for(arch),
        ..Config::default()
    }
}

/// Every pooling head each architecture may use: the mask and gradient tests run on all.
pub const HEADS: [(Arch, Pool); 6] = [
    (Arch::Encoder, Pool::Mean),
    (Arch::Encoder, Pool::Cls),
    (Arch::Encoder, Pool::Attention),
    (Arch::Encoder, Pool::Words),
    (Arch::Decoder, Pool::Last),
    (Arch::Decoder, Pool::Attention),
];

pub fn tiny_head(arch: Arch, pool: Pool) -> Config {
    Config {
        pool,
        ..tiny_config(arch)
    }
}

pub fn tiny_model(config: &Config, seed: u64) -> (Classifier, VarMap) {
    init_model(config, seed, DType::F32, &Device::Cpu).unwrap()
}

/// A right-padded batch: each row's real ids, then [PAD] = 0 up to `len`.
pub fn padded_batch(rows: &[&[u32]], len: usize) -> (Tensor, Tensor) {
    let mut ids = Vec::new();
    let mut mask = Vec::new();
    for row in rows {
        assert!(row.len() <= len);
        ids.extend(
            row.iter()
                .copied()
                .chain(std::iter::repeat_n(0, len - row.len())),
        );
        mask.extend((0..len).map(|i| u32::from(i < row.len())));
    }
    let shape = (rows.len(), len);
    (
        Tensor::from_vec(ids, shape, &Device::Cpu).unwrap(),
        Tensor::from_vec(mask, shape, &Device::Cpu).unwrap(),
    )
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Variables by name, sorted, so failures name the culprit.
pub fn named_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let mut vars: Vec<_> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

const WORDS: [&str; 12] = [
    "film", "plot", "actor", "scene", "story", "music", "the", "a", "was", "and", "it", "this",
];

/// Class k texts contain the marker word for class k among filler words; a fixed
/// word-level vocabulary is saved beside it as tokenizer.json (a trained WordPiece
/// breaks ties in hash order, so it could differ from one test run to the next).
pub fn write_task(dir: &Path, markers: &[&str], rows: usize) -> PathBuf {
    write_task_filled(dir, markers, rows, 4)
}

/// `write_task` with `filler` to `3 * filler - 1` filler words around each marker.
pub fn write_task_filled(dir: &Path, markers: &[&str], rows: usize, filler: usize) -> PathBuf {
    let mut rng = xray::util::rng::Rng::new(99);
    let mut csv = String::from("text,label\n");
    for i in 0..rows {
        let class = i % markers.len();
        let mut words: Vec<&str> = (0..filler + rng.below(2 * filler))
            .map(|_| WORDS[rng.below(WORDS.len())])
            .collect();
        words.insert(rng.below(words.len()), markers[class]);
        csv.push_str(&format!("{},{}\n", words.join(" "), markers[class]));
    }
    let path = dir.join("task.csv");
    std::fs::write(&path, csv).unwrap();
    let vocab: Vec<&str> = WORDS.iter().chain(markers).copied().collect();
    let tokenizer = fixed_vocab_tokenizer(&vocab).unwrap();
    save_tokenizer(&tokenizer, &dir.join("tokenizer.json")).unwrap();
    path
}

pub fn tiny_options(data: &Path) -> TrainOptions {
    TrainOptions {
        dataset: DatasetSpec::File(data.to_path_buf()),
        tokenizer: data.with_file_name("tokenizer.json").display().to_string(),
        model: Config {
            d_model: 16,
            n_heads: 2,
            n_layers: 1,
            max_len: 24,
            ..Config::default()
        },
        epochs: 3,
        batch_size: 16,
        lr: 3e-3,
        patience: 5,
        ..TrainOptions::default()
    }
}

/// A finished subprocess that must have succeeded; its stderr says why not.
pub fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
