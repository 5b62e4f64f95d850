//! One forward and one forward+backward of the default model at batch 16, seq 256:
//! the harness for speed work (SPEC §7). `cargo bench --bench block`.

use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use xray::model::store::init_model;
use xray::model::{Config, Mode};
use xray::rng::Rng;

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
    let config = Config::default();
    let (model, _) = init_model(&config, 0, DType::F32, &Device::Cpu).unwrap();
    let (ids, mask, labels) = inputs(&config);
    let mut group = c.benchmark_group("default_model_b16_l256");
    group.sample_size(10);
    group.bench_function("forward", |b| {
        b.iter(|| {
            model
                .forward(&ids, &mask, model.masks(), false, &mut Mode::Eval)
                .unwrap()
        })
    });
    let mut rng = Rng::new(1);
    group.bench_function("forward_backward", |b| {
        b.iter(|| {
            let out = model
                .forward(
                    &ids,
                    &mask,
                    model.masks(),
                    false,
                    &mut Mode::Train(&mut rng),
                )
                .unwrap();
            candle_nn::loss::cross_entropy(&out.logits, &labels)
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_block);
criterion_main!(benches);
