//! The default model at batch 16, seq 256: the attention block alone (forward +
//! backward), the whole model forward, forward+backward, and one full training
//! step (with clipping and AdamW): the harness for speed work (SPEC §7).
//! `cargo bench --bench block`.

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use criterion::{criterion_group, criterion_main, Criterion};
use xray::model::attention::MultiHeadSelfAttention;
use xray::model::store::init_model;
use xray::model::{Config, Forward};
use xray::modes::profile::random_batch;
use xray::runner::grads::Gradients;
use xray::runner::optim::{AdamW, AdamWConfig};
use xray::runner::step::{train_step, Objective, StepConfig};
use xray::train::options::TrainOptions;
use xray::util::rng::Rng;

const BATCH: usize = 16;
const SEQ: usize = 256;

fn bench_block(c: &mut Criterion) {
    xray::util::alloc::keep_freed_memory(); // as the xray binary does
    let config = Config::default();
    let (model, varmap) = init_model(&config, 0, DType::F32, &Device::Cpu).unwrap();
    let batch = random_batch(&config, BATCH, SEQ, 0.0, &Device::Cpu).unwrap();
    let mut group = c.benchmark_group("default_model_b16_l256");
    group.sample_size(10);

    let attn_vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&attn_vars, DType::F32, &Device::Cpu);
    let attn = MultiHeadSelfAttention::new(vb, &config).unwrap();
    let x =
        candle_core::Var::randn(0f32, 1.0, (BATCH * SEQ, config.d_model), &Device::Cpu).unwrap();
    group.bench_function("attention_forward_backward", |b| {
        b.iter(|| {
            let (out, _) = attn
                .forward(x.as_tensor(), (BATCH, SEQ), None, &mut Forward::eval())
                .unwrap();
            out.sum_all().unwrap().backward().unwrap()
        })
    });

    group.bench_function("forward", |b| {
        b.iter(|| {
            model
                .logits(&batch.input_ids, &batch.attention_mask)
                .unwrap()
        })
    });
    let mut rng = Rng::new(1);
    // Training-mode forward (dropout on), cross-entropy, backward.
    group.bench_function("forward_backward", |b| {
        b.iter(|| {
            let loss = model.loss(&batch, &mut rng).unwrap();
            Gradients::backward(&loss.value, loss.rows.as_ref(), loss.tape).unwrap()
        })
    });
    let vars = varmap.data().lock().unwrap().clone();
    let mut optimizer = AdamW::new(&vars, AdamWConfig::default()).unwrap();
    let opts = TrainOptions::default();
    group.bench_function("train_step", |b| {
        b.iter(|| {
            let step = StepConfig {
                lr: opts.lr,
                clip: opts.clip,
            };
            train_step(&model, &mut optimizer, &batch, step, &mut rng).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_block);
criterion_main!(benches);
