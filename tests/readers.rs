//! Readers that never panic: random bytes, and valid files with bytes flipped,
//! inserted or cut off, fed to every reader of user or run-folder files (CSV,
//! JSONL and parquet tables, config.json, train_args.json, the checkpoint's
//! state.json, safetensors weights, tokenizer.json). Each input either loads or
//! fails with an error naming the file, in seconds (no hang); a panic fails the case.

mod common;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use candle_core::{DType, Device};
use parquet::arrow::ArrowWriter;
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use xray::data::table::read_table;
use xray::data::tokenize::load_tokenizer;
use xray::model::store::{init_model, load_config, load_weights, save_model};
use xray::model::Arch;
use xray::runner::checkpoint::read_state;
use xray::train::options::TrainOptions;
use xray::train::state::LoopState;

/// Cases per reader and kind of input.
const CASES: u32 = 1000;

/// A valid file's bytes with up to 8 random edits, and perhaps cut short.
fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = valid.len();
    let edits = prop::collection::vec((0..n, any::<u8>(), 0..3u8), 0..8);
    (edits, prop::option::of(0..n)).prop_map(move |(edits, cut)| {
        let mut bytes = valid.clone();
        for (at, byte, how) in edits {
            let at = at.min(bytes.len().saturating_sub(1));
            match how {
                0 if !bytes.is_empty() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if !bytes.is_empty() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        if let Some(cut) = cut.filter(|_| bytes.len() > 1) {
            bytes.truncate(cut.min(bytes.len()));
        }
        bytes
    })
}

/// Random bytes, or a mutation of `valid`.
fn inputs(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..512), mutated(valid)]
}

/// Write `bytes` as `name` in a fresh folder and read it with `read`: a result
/// (any), or an error that names the file; never a panic, never a hang.
fn check<T>(name: &str, bytes: &[u8], read: impl Fn(&Path) -> anyhow::Result<T>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let started = Instant::now();
    if let Err(err) = read(dir.path()) {
        let msg = format!("{err:#}");
        let file = Path::new(name).file_name().unwrap().to_string_lossy();
        assert!(
            msg.contains(file.as_ref()),
            "{name}: the error does not name the file: {msg}"
        );
    }
    // A hang, not a slow machine: a library panic that a reader catches still prints
    // its backtrace under RUST_BACKTRACE=1, which took 4.7 s on 2 busy cores.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{name}: took {:?}",
        started.elapsed()
    );
}

fn valid_csv() -> Vec<u8> {
    b"text,label\n\"a good, long film\",pos\nawful plot,neg\n\"it was \"\"fine\"\"\",pos\n".to_vec()
}

fn valid_jsonl() -> Vec<u8> {
    b"{\"text\": \"a good film\", \"label\": 1}\n{\"text\": \"awful plot\", \"label\": 0}\n"
        .to_vec()
}

fn valid_parquet() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let text: ArrayRef = Arc::new(StringArray::from(vec!["a good film", "awful plot", "fine"]));
    let label: ArrayRef = Arc::new(Int64Array::from(vec![1, 0, 1]));
    let batch = RecordBatch::try_from_iter([("text", text), ("label", label)]).unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    std::fs::read(path).unwrap()
}

/// A tiny model's config.json and model.safetensors.
fn valid_run_files() -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(Arch::Encoder);
    let (_, varmap) = init_model(&config, 0, DType::F32, &Device::Cpu).unwrap();
    save_model(&varmap, &config, dir.path()).unwrap();
    let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    (read("config.json"), read("model.safetensors"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn csv_tables(bytes in inputs(valid_csv())) {
        check("t.csv", &bytes, |d| read_table(&d.join("t.csv")));
    }

    #[test]
    fn jsonl_tables(bytes in inputs(valid_jsonl())) {
        check("t.jsonl", &bytes, |d| read_table(&d.join("t.jsonl")));
    }

    #[test]
    fn parquet_tables(bytes in inputs(valid_parquet())) {
        check("t.parquet", &bytes, |d| read_table(&d.join("t.parquet")));
    }

    #[test]
    fn config_json(bytes in inputs(valid_run_files().0)) {
        check("config.json", &bytes, load_config);
    }

    #[test]
    fn weights(bytes in inputs(valid_run_files().1)) {
        let config = common::tiny_config(Arch::Encoder);
        let (_, varmap) = init_model(&config, 0, DType::F32, &Device::Cpu).unwrap();
        check("model.safetensors", &bytes, |d| load_weights(&varmap, &d.join("model.safetensors")));
    }

    #[test]
    fn train_args(bytes in inputs(serde_json::to_vec_pretty(&TrainOptions::default()).unwrap())) {
        check("train_args.json", &bytes, TrainOptions::read);
    }

    #[test]
    fn checkpoint_state(bytes in inputs(serde_json::to_vec_pretty(&LoopState::new(0)).unwrap())) {
        check("last/state.json", &bytes, read_state::<LoopState>);
    }

    #[test]
    fn tokenizer(bytes in inputs(std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/run_v1/run/tokenizer.json")).unwrap())) {
        check("tokenizer.json", &bytes, |d| load_tokenizer(&d.join("tokenizer.json")));
    }
}
