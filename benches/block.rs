//! The default model at batch 16, seq 256: the attention block alone (forward +
//! backward), the whole model forward, forward+backward, and one full training
//! step (with clipping and AdamW): the harness for speed work (SPEC §7).
//! `cargo bench --bench block`.

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use criterion::{criterion_group, criterion_main, Criterion};
use xray::model::attention::MultiHeadSelfAttention;
use xray::model::store::init_model;
use xray::model::{Config, Mode};
use xray::rng::Rng;
use xray::train::optim::{AdamW, AdamWConfig};

const BATCH: usize = 16;
const SEQ: usize = 256;

fn inputs(config: &Config) -> (Tensor, Tensor, Tensor) {
    let mut rng = Rng::new(0);
    let ids: Vec<u32> = (0..BATCH * SEQ)
        .map(|_| rng.below(config.vocab_size) as u32)
        .collect();
    let labels: Vec<u32> = (0..BATCH)
        .map(|_| rng.below(config.n_classes) as u32)
        .collect();
    (
        Tensor::from_vec(ids, (BATCH, SEQ), &Device::Cpu).unwrap(),
        Tensor::ones((BATCH, SEQ), DType::U32, &Device::Cpu).unwrap(),
        Tensor::from_vec(labels, BATCH, &Device::Cpu).unwrap(),
    )
}

fn bench_block(c: &mut Criterion) {
    xray::alloc::keep_freed_memory(); // as the xray binary does
    let config = Config::default();
    let (model, varmap) = init_model(&config, 0, DType::F32, &Device::Cpu).unwrap();
    let (ids, mask, labels) = inputs(&config);
    let mut group = c.benchmark_group("default_model_b16_l256");
    group.sample_size(10);

    let attn_vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&attn_vars, DType::F32, &Device::Cpu);
    let attn = MultiHeadSelfAttention::new(vb, &config).unwrap();
    let x = candle_core::Var::randn(0f32, 1.0, (BATCH, SEQ, config.d_model), &Device::Cpu).unwrap();
    group.bench_function("attention_forward_backward", |b| {
        b.iter(|| {
            let (out, _) = attn
                .forward(x.as_tensor(), None, &mut Mode::Eval, false)
                .unwrap();
            out.sum_all().unwrap().backward().unwrap()
        })
    });

    group.bench_function("forward", |b| {
        b.iter(|| {
            model
                .forward(&ids, &mask, model.masks(), false, &mut Mode::Eval)
                .unwrap()
        })
    });
    let mut rng = Rng::new(1);
    // Training-mode forward (dropout on), cross-entropy, backward.
    let mut gradients = || {
        let out = model
            .forward(
                &ids,
                &mask,
                model.masks(),
                false,
                &mut Mode::Train(&mut rng),
            )
            .unwrap();
        let loss = candle_nn::loss::cross_entropy(&out.logits, &labels).unwrap();
        loss.backward().unwrap()
    };
    group.bench_function("forward_backward", |b| b.iter(&mut gradients));
    let vars = varmap.data().lock().unwrap().clone();
    let mut optimizer = AdamW::new(&vars, AdamWConfig::default()).unwrap();
    group.bench_function("train_step", |b| {
        b.iter(|| {
            let mut grads = gradients();
            optimizer.clip_grad_norm(&mut grads, 1.0).unwrap();
            optimizer.update(&grads, 1e-4).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench_block);
criterion_main!(benches);
