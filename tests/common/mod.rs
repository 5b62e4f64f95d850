//! Small models and batches shared by the integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use xray::model::store::init_model;
use xray::model::{Arch, Classifier, Config};

pub fn tiny_config(arch: Arch) -> Config {
    Config {
        vocab_size: 50,
        d_model: 16,
        n_heads: 4,
        n_layers: 2,
        max_len: 16,
        n_classes: 3,
        arch,
        ..Config::default()
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
