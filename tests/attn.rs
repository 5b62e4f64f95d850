//! `xray attn` end to end on a tiny trained run: the figures and explanations exist
//! and the explanation names the marker words the task hinges on.

mod common;

use common::{tiny_options, write_task, PROBE};
use xray::attn::compare::{MaskSummary, COMPARE_JSON};
use xray::attn::faithfulness::measure;
use xray::attn::heads::Role;
use xray::attn::{xray_attention, Choice};
use xray::modes::saved_run::SavedRun;
use xray::runner::control::Control;
use xray::runner::folder::RunFiles;
use xray::train::run;

/// scripts/check_html.sh on `page`, or a printed reason when Chromium is absent.
fn check_page(page: &std::path::Path) {
    let found = ["chromium", "chromium-browser"].iter().any(|b| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        println!("skipped: the page check needs chromium (apt-get install chromium)");
        return;
    }
    let out = std::process::Command::new("scripts/check_html.sh")
        .arg(page)
        .arg(page.with_extension("png"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("column labels 1, hover 1"), "{text}");
    assert!(
        text.contains("head cards, forming ") && !text.contains("forming 0,"),
        "the slider of the heads forming: {text}"
    );
}

/// A tiny run trained under `root` on the marker-word task of `rows` rows:
/// the task's file and the run's files.
fn trained(root: &std::path::Path, rows: usize) -> (std::path::PathBuf, RunFiles) {
    let data = write_task(root, &["great", "awful"], rows);
    let files = RunFiles::new(root, "enc");
    run::train(
        tiny_options(&data),
        &files,
        &candle_core::Device::Cpu,
        &Control::default(),
        PROBE,
    )
    .unwrap();
    (data, files)
}

#[test]
fn attn_draws_maps_heads_rollout_and_explanations_for_picked_examples() {
    let dir = tempfile::tempdir().unwrap();
    let (_, files) = trained(dir.path(), 400);
    let saved = SavedRun::open(&files.run, &candle_core::Device::Cpu).unwrap();
    let figures = dir.path().join("figures");
    let written = xray_attention(
        &saved,
        &Choice::Examples(3),
        &figures,
        true,
        None,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let written = written.written;
    for name in ["confident_awful", "confident_great", "ambiguous"] {
        for file in [
            format!("attn_{name}_layer1.png"),
            format!("attn_{name}_layer1_heads.png"),
            format!("attn_{name}_text.png"),
            format!("attn_{name}.md"),
        ] {
            assert!(
                figures.join(&file).is_file(),
                "{file} missing; wrote {written:?}"
            );
        }
    }
    for file in [
        "attn_compare_causal.png",
        "attn_compare_padding.png",
        "attn_compare.md",
        COMPARE_JSON,
    ] {
        assert!(figures.join(file).is_file(), "{file} missing");
    }
    // The numbers read back (the video quotes them): the mask leaves [PAD]
    // exactly 0 and the padded pass's prediction is the text's alone.
    let json = std::fs::read_to_string(figures.join(COMPARE_JSON)).unwrap();
    let masks: MaskSummary = serde_json::from_str(&json).unwrap();
    assert_eq!(masks.pad_weight_on, 0.0, "{json}");
    assert!(masks.pad_weight_off > 0.0 && masks.padded_to > 0, "{json}");
    assert_eq!(masks.padding_on, masks.alone, "{json}");
    assert!(masks.shift_on < 1e-5, "{json}");
    assert!(
        !masks.trained_causal && !masks.causal_on.is_empty(),
        "{json}"
    );
    let md = std::fs::read_to_string(figures.join("attn_compare.md")).unwrap();
    assert!(md.contains(&masks.padding_off), "{md}");
    let md = std::fs::read_to_string(figures.join("attn_confident_great.md")).unwrap();
    assert!(
        md.contains("predicted great") && md.contains("## Top tokens by Integrated Gradients"),
        "{md}"
    );
    // The label's marker word is what the prediction rests on: IG ranks it first.
    assert!(md.contains("finds \"great\""), "{md}");
    let own = xray_attention(
        &saved,
        &Choice::Texts(vec!["the film was awful".into()]),
        &figures,
        false,
        None,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert!(own.written.iter().any(|p| p.ends_with("attn_text_1.md")));
    let record = &own.examples[0];
    assert_eq!(
        (record.truth.clone(), record.tokens.len()),
        (None, 6),
        "[CLS] the film was awful [SEP]"
    );
    assert_eq!(
        record.layers[0][0].len(),
        36,
        "full (n x n) maps in the JSON export"
    );
    let page = dir.path().join("attn.html");
    xray::viz::html::write_attention_page(&serde_json::json!({ "examples": own.examples }), &page)
        .unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("\"name\":\"text_1\"")
            && !html.contains("/*DATA*/")
            && !html.contains("http"),
        "page is not self-contained"
    );
    // The numbers are drops in probability; which method wins depends on the model (a mean-pooled
    // encoder can read the marker from its own position without attending to it).
    let f = measure(
        &saved,
        &saved.split("test").unwrap(),
        40,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(f.examples, 40);
    let names: Vec<&str> = f.methods.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        names,
        [
            "attention",
            "rollout",
            "grad_input",
            "integrated_gradients",
            "random"
        ]
    );
    for c in &f.methods {
        for drop in c.comprehensiveness.iter().chain(&c.sufficiency) {
            assert!(drop.is_finite() && drop.abs() <= 1.0, "{c:?}");
        }
    }
    // One marker word decides each label: Integrated Gradients must find it
    // better than chance (deleting it moves the prediction more).
    let ig = f.method("integrated_gradients").unwrap();
    let random = f.method("random").unwrap();
    assert!(
        ig.comprehensiveness_aopc > random.comprehensiveness_aopc,
        "{ig:?} vs {random:?}"
    );
    assert!(f.integrated_gradients.mean_abs_error.is_finite());
    // Every head of every layer measured, each statistic in its range.
    let c = &saved.config;
    assert_eq!(f.heads.len(), c.n_layers * c.n_heads);
    for h in &f.heads {
        assert!(h.entropy > 0.0 && h.entropy <= 1.0 + 1e-6, "{h:?}");
        assert!(
            h.top_x_uniform >= 1.0 && h.top5_x_uniform <= h.top_x_uniform,
            "{h:?}"
        );
        for share in [
            h.precision_at_5,
            h.sink_share,
            h.positional_share,
            h.structure_at_5,
        ] {
            assert!((0.0..=1.0 + 1e-9).contains(&share), "{h:?}");
        }
        assert!(!h.top_keys.is_empty(), "{h:?}");
        assert_eq!(h.role, Role::of(h), "{h:?}");
        assert!(
            h.words.windows(2).all(|w| w[0].x_uniform >= w[1].x_uniform),
            "{h:?}"
        );
    }
    assert!(f.route.top_x_uniform >= 1.0, "{:?}", f.route);
    assert_eq!(
        f.ig_toward, saved.labels[1],
        "a two-class task signs towards its second label"
    );
    // Every head a card, and the page with its cards, column labels and hover
    // renders offline where Chromium is installed.
    let cards = figures.join("heads.png");
    xray::viz::head_cards::draw_head_cards(&f.cards(), &cards).unwrap();
    assert!(std::fs::metadata(&cards).unwrap().len() > 10_000);
    xray::attn::record::write_html(
        &own.examples,
        Some(&f),
        xray::attn::watch::forming_of(&saved).unwrap(),
        &page,
    )
    .unwrap();
    check_page(&page);
    // A bad index is refused from the run summary's row count, before the
    // validation split is rebuilt; the count is the split's.
    let val_rows = saved.split("val").unwrap().ids.len();
    assert_eq!(saved.val_rows(), Some(val_rows));
    let err = xray_attention(
        &saved,
        &Choice::Indices(vec![10_000]),
        &figures,
        false,
        None,
        &candle_core::Device::Cpu,
    )
    .err()
    .unwrap();
    assert!(format!("{err:#}").contains("--index 10000 is out of range"));
}

/// `eval --by-length`: every cut at every length scored, in the run summaries and drawn.
#[test]
fn eval_by_length_scores_cut_texts_and_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let (data, files) = trained(dir.path(), 200);
    let request = |by_length, data| xray::modes::eval::EvalRequest {
        run: files.run.canonicalize().unwrap(),
        split: "test".into(),
        data,
        by_length,
        out: dir.path().to_path_buf(),
        device: xray::util::device::DeviceArg::Cpu,
    };
    let err = xray::modes::eval::run(request(true, Some(data.clone()))).unwrap_err();
    assert!(format!("{err:#}").contains("--by-length cuts the run's own split"));
    xray::modes::eval::run(request(true, None)).unwrap();
    assert!(dir.path().join("figures/accuracy_by_length.png").is_file());
    for summary in [
        files.run.join("run_summary.json"),
        dir.path().join("metrics/run_summary.json"),
    ] {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        let rows = json["by_length"]["rows"].as_array().unwrap();
        let lengths = xray::train::lengths::LENGTHS.len();
        assert_eq!(rows.len(), 2 * lengths + 1, "{summary:?}");
        for row in rows {
            for key in ["loss", "accuracy", "ece"] {
                let x = row[key].as_f64().unwrap();
                assert!(x.is_finite() && x >= 0.0, "{row}");
            }
        }
        // The task's marker word is in every text: whole texts are read right.
        assert_eq!(rows[2 * lengths]["cut"], "full");
        assert!(
            rows[2 * lengths]["accuracy"].as_f64().unwrap() > 0.9,
            "{rows:?}"
        );
    }
}
