//! The default recipe's attention reads: trained briefly on a task that one marker
//! word decides, some head puts at least 5x the uniform weight on that word. This
//! is what makes the heatmaps show the evidence (under [CLS] pooling and
//! length-bucketed batches the IMDb heads stayed near uniform). On this task, mean
//! pooling with random batches and q and k started at 0.02 (`--qk-init shared`)
//! finds the word in 1 of 4 seeds; with `scaled`, in 6 of 6 with random batches
//! and 6 of 6 with the default bucketed ones (docs/attention-recipes.md).

mod common;

use common::{tiny_options, write_task_filled, PROBE};
use xray::attn::capture::Capture;
use xray::attn::heads::received;
use xray::data::collate::collate_unlabelled;
use xray::modes::saved_run::SavedRun;
use xray::runner::control::Control;
use xray::runner::folder::RunFiles;
use xray::train::options::TrainOptions;
use xray::train::run;

const MARKERS: [&str; 2] = ["great", "awful"];

/// Per (layer, head): the weight the marker word receives × uniform, mean over
/// the test split of a run trained with `opts`.
fn marker_weight(opts: TrainOptions, root: &std::path::Path) -> Vec<((usize, usize), f64)> {
    let files = RunFiles::new(root, "reads");
    let cpu = candle_core::Device::Cpu;
    run::train(opts, &files, &cpu, &Control::default(), PROBE).unwrap();
    let saved = SavedRun::open(&root.join("runs/reads"), &cpu).unwrap();
    let test = saved.split("test").unwrap();
    let seqs: Vec<&[u32]> = test.ids.iter().map(|s| s.as_slice()).collect();
    let capture = Capture::run(&saved, &collate_unlabelled(&seqs, &cpu).unwrap(), None).unwrap();
    let mut sums = Vec::new();
    for (b, ids) in seqs.iter().enumerate() {
        let tokens = saved.tokens(ids);
        let marker = tokens
            .iter()
            .position(|t| MARKERS.contains(&t.as_str()))
            .expect("every text holds its marker");
        let maps = capture.maps(b, ids.len());
        let heads = maps.per_head.iter().enumerate().flat_map(|(l, layer)| {
            layer
                .iter()
                .enumerate()
                .map(move |(h, w)| ((l + 1, h + 1), w))
        });
        for (k, (at, w)) in heads.enumerate() {
            let got = received(w, ids.len(), maps.causal)[marker] / seqs.len() as f64;
            match sums.get_mut(k) {
                Some((_, sum)) => *sum += got,
                None => sums.push((at, got)),
            }
        }
    }
    sums
}

/// The task: 12 to 35 filler words around the marker, 400 texts; a model of two
/// layers (d_model 32, 2 heads) trained 8 epochs with the default recipe.
fn task_options(data: &std::path::Path) -> TrainOptions {
    let mut opts = tiny_options(data);
    opts.model.d_model = 32;
    opts.model.n_layers = 2;
    opts.model.max_len = 48;
    opts.epochs = 8;
    opts
}

#[test]
fn the_default_recipe_puts_5x_the_uniform_weight_on_the_deciding_word() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_task_filled(dir.path(), &MARKERS, 400, 12);
    let weights = marker_weight(task_options(&data), dir.path());
    let best = weights.iter().map(|&(_, w)| w).fold(0.0, f64::max);
    assert!(
        best >= 5.0,
        "marker weight × uniform per (layer, head): {weights:?}"
    );
}
