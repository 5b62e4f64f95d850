//! The parameters: seeded initialisation, and the safetensors + config.json checkpoint.
//!
//! Tensor names follow the module tree (`blocks.0.attn.q.weight`), because every
//! module is built from `vb.pp("its_name")`.

use super::{Classifier, Config, LanguageModel};
use crate::util::fsutil::atomic_write;
use crate::util::rng::Rng;
use anyhow::{bail, ensure, Context, Result};
use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder, VarMap};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const CONFIG_FILE: &str = "config.json";

/// A VarMap backend whose `Init` draws come from our seeded RNG, in the order the
/// modules ask for them, so one seed always gives the same weights.
struct SeededInit {
    varmap: VarMap,
    rng: Mutex<Rng>,
}

impl SeededInit {
    fn init(&self, shape: &Shape, init: Init) -> candle_core::Result<Tensor> {
        let n = shape.elem_count();
        let mut rng = self.rng.lock().expect("init RNG lock poisoned");
        let values: Vec<f32> = match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| (mean + stdev * rng.normal()) as f32)
                .collect(),
            Init::Uniform { lo, up } => (0..n)
                .map(|_| (lo + (up - lo) * rng.uniform()) as f32)
                .collect(),
            Init::Kaiming { .. } => candle_core::bail!("Kaiming init is not used by xray"),
        };
        Tensor::from_vec(values, shape, &Device::Cpu)
    }
}

impl SimpleBackend for SeededInit {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut vars = self.varmap.data().lock().expect("VarMap lock poisoned");
        if let Some(var) = vars.get(name) {
            if var.shape() != &s {
                candle_core::bail!("shape mismatch on {name}: {s:?} vs {:?}", var.shape());
            }
            return Ok(var.as_tensor().clone());
        }
        let var = Var::from_tensor(&self.init(&s, h)?.to_dtype(dtype)?.to_device(dev)?)?;
        let tensor = var.as_tensor().clone();
        vars.insert(name.to_string(), var);
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("{name} has no shape to initialise from")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap
            .data()
            .lock()
            .is_ok_and(|vars| vars.contains_key(name))
    }
}

/// A VarBuilder that creates missing variables from `seed`, and the VarMap that keeps them.
pub fn seeded_var_builder(
    seed: u64,
    dtype: DType,
    device: &Device,
) -> (VarBuilder<'static>, VarMap) {
    let varmap = VarMap::new();
    let backend = SeededInit {
        varmap: varmap.clone(),
        rng: Mutex::new(Rng::new(seed)),
    };
    (
        VarBuilder::from_backend(Box::new(backend), dtype, device.clone()),
        varmap,
    )
}

/// A freshly initialised model and the trainable variables behind it.
pub fn init_model(
    config: &Config,
    seed: u64,
    dtype: DType,
    device: &Device,
) -> Result<(Classifier, VarMap)> {
    init(config, seed, dtype, device, Classifier::new)
}

/// A freshly initialised pretraining model (body + tied LM head).
pub fn init_language_model(
    config: &Config,
    seed: u64,
    dtype: DType,
    device: &Device,
) -> Result<(LanguageModel, VarMap)> {
    init(config, seed, dtype, device, LanguageModel::new)
}

fn init<M>(
    config: &Config,
    seed: u64,
    dtype: DType,
    device: &Device,
    build: impl FnOnce(VarBuilder, &Config) -> candle_core::Result<M>,
) -> Result<(M, VarMap)> {
    config.validate()?;
    let (vb, varmap) = seeded_var_builder(seed, dtype, device);
    Ok((build(vb, config)?, varmap))
}

/// The names of the tensors the body owns (embeddings, blocks, final norm): what
/// `train --init` carries from a pretrained model into a classifier.
pub fn is_body_tensor(name: &str) -> bool {
    ["tok_emb.", "pos_emb.", "blocks.", "norm_final."]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Overwrite the body's variables with the same-named tensors of `path` (a
/// pretrained model); the rest (pooling, head) keeps its fresh initialisation.
/// Returns how many tensors were copied.
pub fn load_body(varmap: &VarMap, path: &Path) -> Result<usize> {
    let file = unsafe { candle_core::safetensors::MmapedSafetensors::new(path) }
        .with_context(|| format!("opening {}", path.display()))?;
    let vars = varmap.data().lock().expect("VarMap lock poisoned");
    let mut copied = 0;
    for (name, var) in vars.iter().filter(|(n, _)| is_body_tensor(n)) {
        let mut tensor = file
            .load(name, var.device())
            .with_context(|| format!("tensor {name} missing from {}", path.display()))?;
        if name.starts_with("pos_emb.") {
            tensor = fit_positions(&tensor, var.dim(0)?)?;
        }
        ensure!(
            tensor.shape() == var.shape(),
            "tensor {name} in {} has shape {:?}, the model expects {:?}",
            path.display(),
            tensor.shape(),
            var.shape()
        );
        var.set(&tensor.to_dtype(var.dtype())?)?;
        copied += 1;
    }
    Ok(copied)
}

/// The pretrained position table (P, d) for a run reading `rows` positions: cut
/// when shorter; when longer, the table repeated from its start, the copy
/// initialisation of Longformer (Beltagy et al. 2020), which keeps the local
/// offsets the pretrained attention learned instead of starting them at noise.
fn fit_positions(table: &Tensor, rows: usize) -> Result<Tensor> {
    let pretrained = table.dim(0)?;
    let copies: Vec<Tensor> = (0..rows.div_ceil(pretrained))
        .map(|_| table.clone())
        .collect();
    Ok(Tensor::cat(&copies, 0)?.narrow(0, 0, rows)?)
}

/// Total number of scalar parameters.
pub fn param_count(varmap: &VarMap) -> usize {
    varmap.all_vars().iter().map(|v| v.elem_count()).sum()
}

/// Write `model.safetensors` and `config.json` into `dir`, each atomically.
pub fn save_model(varmap: &VarMap, config: &Config, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    save_weights(varmap, &dir.join(WEIGHTS_FILE))?;
    let json = serde_json::to_vec_pretty(config)?;
    atomic_write(&dir.join(CONFIG_FILE), &json)
}

/// Write the variables to a safetensors file through a temp file and a rename.
pub fn save_weights(varmap: &VarMap, path: &Path) -> Result<()> {
    let vars = varmap.data().lock().expect("VarMap lock poisoned");
    save_tensors(vars.iter().map(|(n, v)| (n.as_str(), v.as_tensor())), path)
}

/// Write named tensors to a safetensors file through a temp file and a rename.
pub fn save_tensors<'a>(
    tensors: impl Iterator<Item = (&'a str, &'a Tensor)>,
    path: &Path,
) -> Result<()> {
    let tensors: HashMap<&str, Tensor> = tensors.map(|(n, t)| (n, t.clone())).collect();
    let tmp = path.with_extension("safetensors.tmp");
    candle_core::safetensors::save(&tensors, &tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    crate::util::fsutil::commit(&tmp, path)
}

/// A second view of the model on detached weights: evaluation through it records
/// no gradient graph, yet it sees every optimizer update (the storage is shared).
pub fn detached_model(varmap: &VarMap, config: &Config, device: &Device) -> Result<Classifier> {
    detached(varmap, config, device, Classifier::new)
}

/// The language model's detached view, for its held-out measurements.
pub fn detached_language_model(
    varmap: &VarMap,
    config: &Config,
    device: &Device,
) -> Result<LanguageModel> {
    detached(varmap, config, device, LanguageModel::new)
}

fn detached<M>(
    varmap: &VarMap,
    config: &Config,
    device: &Device,
    build: impl FnOnce(VarBuilder, &Config) -> candle_core::Result<M>,
) -> Result<M> {
    let vars = varmap.data().lock().expect("VarMap lock poisoned");
    let tensors: HashMap<String, Tensor> = vars
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().detach()))
        .collect();
    let dtype = tensors.values().next().map_or(DType::F32, |t| t.dtype());
    Ok(build(
        VarBuilder::from_tensors(tensors, dtype, device),
        config,
    )?)
}

/// Read `config.json` from a run folder.
pub fn load_config(dir: &Path) -> Result<Config> {
    let path = dir.join(CONFIG_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let config = Config::from_json(json).with_context(|| format!("parsing {}", path.display()))?;
    config
        .validate()
        .with_context(|| format!("checking {}", path.display()))?;
    Ok(config)
}

/// Overwrite every variable with the tensor of the same name in `path`; the file
/// must hold exactly the model's tensors, with the same shapes.
pub fn load_weights(varmap: &VarMap, path: &Path) -> Result<()> {
    let file = unsafe { candle_core::safetensors::MmapedSafetensors::new(path) }
        .with_context(|| format!("opening {}", path.display()))?;
    let vars = varmap.data().lock().expect("VarMap lock poisoned");
    let in_file = file.tensors().len();
    ensure!(
        in_file == vars.len(),
        "{} holds {in_file} tensors, the model has {}: was it saved with another config?",
        path.display(),
        vars.len()
    );
    for (name, var) in vars.iter() {
        let tensor = file
            .load(name, var.device())
            .with_context(|| format!("tensor {name} missing from {}", path.display()))?;
        if tensor.shape() != var.shape() {
            bail!(
                "tensor {name} in {} has shape {:?}, the model expects {:?}",
                path.display(),
                tensor.shape(),
                var.shape()
            );
        }
        var.set(&tensor.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

/// Rebuild a saved model: config.json gives the architecture, model.safetensors the weights.
pub fn load_model(dir: &Path, device: &Device) -> Result<(Classifier, VarMap, Config)> {
    let config = load_config(dir)?;
    let (model, varmap) = init_model(&config, 0, DType::F32, device)?;
    load_weights(&varmap, &dir.join(WEIGHTS_FILE))?;
    Ok((model, varmap, config))
}
