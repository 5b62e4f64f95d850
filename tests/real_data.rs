//! The real datasets in ../shared/data, when present (skipped with a reason otherwise).

use std::path::PathBuf;
use xray::data::dataset::{load_splits, load_unsupervised, DatasetSpec};
use xray::data::hub::fetch;
use xray::data::table::read_parquet;

fn shared_cache() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/hf");
    if !path.is_dir() {
        println!(
            "SKIPPED: {} is absent, so the real IMDb / AG News checks cannot run",
            path.display()
        );
        return None;
    }
    std::env::set_var("HF_HOME", path.canonicalize().unwrap());
    std::env::set_var("HF_HUB_OFFLINE", "1");
    Some(path)
}

#[test]
fn real_imdb_and_ag_news_have_the_documented_rows() {
    if shared_cache().is_none() {
        return;
    }
    let imdb = load_splits(&DatasetSpec::Imdb, 0.1, 0).unwrap();
    assert_eq!(imdb.label_names, ["neg", "pos"]);
    assert_eq!(
        (imdb.train.len(), imdb.val.len(), imdb.test.len()),
        (22_500, 2_500, 25_000)
    );
    assert_eq!(imdb.val.counts_per_label(2), [1_250, 1_250]);
    assert_eq!(imdb.test.counts_per_label(2), [12_500, 12_500]);
    assert_eq!(load_unsupervised(&DatasetSpec::Imdb).unwrap().len(), 50_000);

    let ag_news = DatasetSpec::AgNews.hub().unwrap();
    let test = read_parquet(&fetch(&ag_news.test).unwrap()).unwrap();
    assert_eq!(test.texts.len(), 7_600);
    // The train split is not in the shared cache: a clear error, not a crash.
    let err = format!(
        "{:#}",
        load_splits(&DatasetSpec::AgNews, 0.1, 0)
            .err()
            .expect("train split is missing")
    );
    assert!(
        err.contains(
            "data/train-00000-of-00001.parquet (fancyzhx/ag_news) is not in the Hugging Face cache"
        ),
        "{err}"
    );
}
