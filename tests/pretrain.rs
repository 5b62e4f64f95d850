//! `xray pretrain` on a small task the test writes itself: the language model
//! learns, a run repeats itself under one seed and resumes exactly, the causal
//! mask's ablation shows the leak, and `train --init` carries the body (and only
//! the body) into a classifier that learns.

mod common;

use candle_core::{DType, Device};
use common::{max_abs_diff, named_vars, tiny_options, write_task, PROBE};
use std::path::{Path, PathBuf};
use xray::data::dataset::DatasetSpec;
use xray::model::store::{
    init_language_model, init_model, is_body_tensor, load_body, load_weights,
};
use xray::model::{Arch, Config, Forward, LanguageModel};
use xray::pretrain::options::{Budget, PretrainOptions};
use xray::pretrain::run::{self, Outcome};
use xray::pretrain::state::{read_history, EvalRecord};
use xray::runner::control::Control;
use xray::runner::folder::RunFiles;
use xray::train::run::Outcome as TrainOutcome;

fn options(data: &Path, arch: Arch) -> PretrainOptions {
    let model = Config {
        arch,
        pool: xray::model::Pool::default_for(arch),
        dropout: 0.0,
        ..tiny_options(data).model
    };
    PretrainOptions {
        dataset: DatasetSpec::File(data.to_path_buf()),
        tokenizer: data.with_file_name("tokenizer.json").display().to_string(),
        model,
        budget: Budget::Tokens(40_000),
        batch_size: 16,
        lr: 3e-3,
        eval_points: 4,
        ..PretrainOptions::default()
    }
}

fn pretrain(opts: &PretrainOptions, run: &Path, control: &Control) -> Outcome {
    run::pretrain(opts, run, &Device::Cpu, control).unwrap()
}

fn finished(outcome: Outcome) -> PathBuf {
    match outcome {
        Outcome::Finished(run) => run,
        Outcome::Interrupted(run) => panic!("stopped early in {}", run.display()),
    }
}

/// The history without its wall-clock field, which no seed can fix.
fn history(run: &Path) -> Vec<EvalRecord> {
    read_history(run)
        .unwrap()
        .into_iter()
        .map(|r| EvalRecord { seconds: 0.0, ..r })
        .collect()
}

#[test]
fn masked_lm_learns_repeats_under_one_seed_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 1500);
    let opts = options(&data, Arch::Encoder);
    let a = finished(pretrain(&opts, &dir.path().join("a"), &Control::default()));
    let h = history(&a);
    let (first, last) = (&h[0], h.last().unwrap());
    assert_eq!(first.step, 0);
    assert_eq!(h.len(), opts.eval_points + 1);
    // From uniform over the vocabulary to below it: the filler words are drawn
    // at random, so their frequencies are all there is to learn.
    let uniform = (load_config(&a).vocab_size as f64).ln();
    assert!((first.held_out_loss - uniform).abs() < 0.1, "{first:?}");
    assert!(last.held_out_loss < uniform - 0.3, "{last:?}");
    for file in [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "history.jsonl",
    ] {
        assert!(a.join(file).is_file(), "{file} missing");
    }
    assert!(a.join("snapshots").read_dir().unwrap().count() >= 3);

    let b = dir.path().join("b");
    let stop = Control {
        stop_after_steps: Some(last.step / 2),
        ..Control::default()
    };
    assert!(matches!(
        pretrain(&opts, &b, &stop),
        Outcome::Interrupted(_)
    ));
    finished(run::resume(&b, &Device::Cpu, &Control::default()).unwrap());
    assert_eq!(history(&b), h, "a stopped and resumed run differs");
    let weights = |run: &Path| {
        let (_, varmap) =
            init_language_model(&load_config(run), 1, DType::F32, &Device::Cpu).unwrap();
        load_weights(&varmap, &run.join("model.safetensors")).unwrap();
        named_vars(&varmap)
    };
    for ((name, x), (_, y)) in weights(&a).iter().zip(weights(&b)) {
        assert_eq!(max_abs_diff(x.as_tensor(), y.as_tensor()), 0.0, "{name}");
    }
}

fn load_config(run: &Path) -> Config {
    xray::model::store::load_config(run).unwrap()
}

#[test]
fn the_decoder_trained_without_its_causal_mask_reads_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 1500);
    let masked = options(&data, Arch::Decoder);
    let masked = PretrainOptions {
        budget: Budget::Tokens(150_000),
        ..masked
    };
    let leaky = PretrainOptions {
        no_causal_mask: true,
        ..masked.clone()
    };
    let train_loss = |h: &[EvalRecord]| h.last().unwrap().train_curve.last().unwrap().loss;
    let a = history(&finished(pretrain(
        &masked,
        &dir.path().join("a"),
        &Control::default(),
    )));
    let b = history(&finished(pretrain(
        &leaky,
        &dir.path().join("b"),
        &Control::default(),
    )));
    // Without the mask the next token is in plain view: the training loss collapses...
    assert!(
        train_loss(&b) < 0.5 * train_loss(&a),
        "{} vs {}",
        train_loss(&b),
        train_loss(&a)
    );
    // ...and the model has learned nothing that works once it cannot peek.
    let held = |h: &[EvalRecord]| h.last().unwrap().held_out_loss;
    assert!(held(&b) > held(&a) + 0.3, "{} vs {}", held(&b), held(&a));
}

#[test]
fn init_carries_the_body_alone_and_the_classifier_learns() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 600);
    let pre = finished(pretrain(
        &options(&data, Arch::Encoder),
        &dir.path().join("pre"),
        &Control::default(),
    ));
    // load_body: every body tensor equals the pretrained one; the head keeps its init.
    let config = Config {
        n_classes: 2,
        ..load_config(&pre)
    };
    let (_, fresh) = init_model(&config, 5, DType::F32, &Device::Cpu).unwrap();
    let before = named_vars(&fresh);
    let (_, loaded) = init_model(&config, 5, DType::F32, &Device::Cpu).unwrap();
    let copied = load_body(&loaded, &pre.join("model.safetensors")).unwrap();
    let (_, lm) = init_language_model(&config, 0, DType::F32, &Device::Cpu).unwrap();
    load_weights(&lm, &pre.join("model.safetensors")).unwrap();
    let lm = named_vars(&lm);
    let mut n_body = 0;
    for ((name, var), (_, was)) in named_vars(&loaded).iter().zip(&before) {
        if is_body_tensor(name) {
            n_body += 1;
            let (_, want) = lm.iter().find(|(n, _)| n == name).unwrap();
            assert_eq!(
                max_abs_diff(var.as_tensor(), want.as_tensor()),
                0.0,
                "{name}"
            );
        } else {
            assert_eq!(
                max_abs_diff(var.as_tensor(), was.as_tensor()),
                0.0,
                "{name}"
            );
        }
    }
    assert_eq!(copied, n_body);

    // A longer fine-tune repeats the pretrained position table from its start.
    let p = config.max_len;
    let long = Config {
        max_len: 2 * p + 3,
        ..config.clone()
    };
    let (_, longer) = init_model(&long, 5, DType::F32, &Device::Cpu).unwrap();
    load_body(&longer, &pre.join("model.safetensors")).unwrap();
    let table = |vars: &[(String, candle_core::Var)]| {
        let (_, v) = vars
            .iter()
            .find(|(n, _)| n.starts_with("pos_emb."))
            .unwrap();
        v.as_tensor().clone()
    };
    let (short, tiled) = (table(&lm), table(&named_vars(&longer)));
    assert_eq!(tiled.dims()[0], 2 * p + 3);
    for (start, rows) in [(0, p), (p, p), (2 * p, 3)] {
        let want = short.narrow(0, 0, rows).unwrap();
        assert_eq!(
            max_abs_diff(&tiled.narrow(0, start, rows).unwrap(), &want),
            0.0
        );
    }

    let opts = xray::train::options::TrainOptions {
        init: Some(pre.clone()),
        ..tiny_options(&data)
    };
    let outcome = xray::train::run::train(
        opts,
        &RunFiles::new(dir.path(), "ft"),
        &Device::Cpu,
        &Control::default(),
        PROBE,
    )
    .unwrap();
    let TrainOutcome::Finished(metrics) = outcome else {
        panic!("fine-tuning stopped early")
    };
    assert!(metrics.test_accuracy > 0.9, "{metrics:?}");
}

#[test]
fn the_tied_output_is_the_embedding_table() {
    let config = Config {
        vocab_size: 40,
        ..common::tiny_config(Arch::Encoder)
    };
    let (vb, varmap) = xray::model::store::seeded_var_builder(3, DType::F32, &Device::Cpu);
    let model = LanguageModel::new(vb, &config).unwrap();
    let rule = xray::pretrain::masking::MaskRule {
        arch: Arch::Encoder,
        prob: 0.5,
        mask_id: 4,
        vocab_size: 40,
        specials: vec![0, 1, 2, 3, 4],
    };
    let seqs: Vec<Vec<u32>> = vec![vec![2, 10, 11, 12, 3], vec![2, 20, 3]];
    let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
    let lm = rule
        .batch(&refs, &mut xray::util::rng::Rng::new(1), &Device::Cpu)
        .unwrap();
    let logits = model.logits(&lm, Forward::eval()).unwrap();
    let n = lm.targets.dim(0).unwrap();
    assert_eq!(logits.dims(), &[n, 40]);
    // Every parameter, the tied table included, learns from the loss.
    let (loss, _) = xray::runner::step::cross_entropy(&logits, &lm.targets).unwrap();
    let grads = loss.backward().unwrap();
    for (name, var) in named_vars(&varmap) {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name}: no gradient"));
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(norm > 0.0, "{name}: zero gradient");
    }
}

#[test]
fn the_corpus_is_the_training_split_and_the_unlabeled_files_never_val_or_test() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task(dir.path(), &["great", "awful"], 200);
    let extra = dir.path().join("extra.txt");
    std::fs::write(&extra, "one more review\n\nand another one\n").unwrap();
    let opts = PretrainOptions {
        unlabeled: vec![extra],
        ..options(&data, Arch::Encoder)
    };
    let texts = xray::pretrain::corpus::load_texts(&opts).unwrap();
    let splits = xray::data::dataset::load_splits(&opts.dataset, opts.val_frac, opts.seed).unwrap();
    assert_eq!(texts.len(), splits.train.len() + 2);
    assert!(texts.ends_with(&["one more review".into(), "and another one".into()]));
    // Exactly the training split's texts: the classifier's validation and test
    // texts are not among them.
    assert_eq!(texts[..splits.train.len()], splits.train.texts[..]);
    let missing = PretrainOptions {
        unlabeled: vec![dir.path().join("nope.txt")],
        ..opts
    };
    let err = xray::pretrain::corpus::load_texts(&missing).unwrap_err();
    assert!(format!("{err:#}").contains("nope.txt"), "{err:#}");
}
