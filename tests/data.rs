//! The data pipeline on fixtures the tests write: readers, labels, every bad
//! input, splits, the sampler and the collator.

use arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray};
use candle_core::Device;
use parquet::arrow::ArrowWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xray::data::collate::{collate, epoch_batches, padding_fraction, sorted_batches};
use xray::data::dataset::{label_ids, load_splits, stratified_split, DatasetSpec};
use xray::data::table::{read_table, RawLabels};
use xray::data::tokenize::{build_tokenizer, encode, TokenizerSpec, Truncate};
use xray::util::rng::Rng;

fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn texts(xs: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(xs.to_vec()))
}

fn ids(xs: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(xs.to_vec()))
}

fn fixture(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn error_of(path: &Path) -> String {
    match read_table(path).and_then(|t| label_ids(t, None, path)) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn parquet_csv_and_jsonl_read_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("d.parquet");
    write_parquet(
        &parquet,
        vec![
            ("label", ids(&[1, 0])),
            ("text", texts(&["good, \"great\"", "bad"])),
        ],
    );
    let csv = fixture(
        dir.path(),
        "d.csv",
        b"text,label\n\"good, \"\"great\"\"\",1\nbad,0\n",
    );
    let jsonl = fixture(
        dir.path(),
        "d.jsonl",
        b"{\"text\": \"good, \\\"great\\\"\", \"label\": 1}\n\n{\"text\": \"bad\", \"label\": 0}\n",
    );
    let expected = read_table(&parquet).unwrap();
    assert_eq!(expected.labels, RawLabels::Ids(vec![1, 0]));
    assert_eq!(read_table(&csv).unwrap(), expected);
    assert_eq!(read_table(&jsonl).unwrap(), expected);
}

#[test]
fn string_labels_are_numbered_in_sorted_order() {
    let dir = tempfile::tempdir().unwrap();
    let csv = fixture(dir.path(), "d.csv", b"label,text\npos,a\nneg,b\npos,c\n");
    let (data, names) = label_ids(read_table(&csv).unwrap(), None, &csv).unwrap();
    assert_eq!(names, ["neg", "pos"]);
    assert_eq!(data.labels, [1, 0, 1]);
}

#[test]
fn missing_column_lists_the_columns_found() {
    let dir = tempfile::tempdir().unwrap();
    let csv = fixture(dir.path(), "d.csv", b"review,label\na,1\n");
    let parquet = dir.path().join("d.parquet");
    write_parquet(
        &parquet,
        vec![("text", texts(&["a"])), ("sentiment", ids(&[1]))],
    );
    let jsonl = fixture(dir.path(), "d.jsonl", b"{\"body\": \"a\", \"label\": 1}\n");
    assert!(
        error_of(&csv).contains("no `text` column; columns found: [review, label]"),
        "{}",
        error_of(&csv)
    );
    assert!(
        error_of(&parquet).contains("no `label` column; columns found: [text, sentiment]"),
        "{}",
        error_of(&parquet)
    );
    assert!(
        error_of(&jsonl).contains("line 1: no `text` key; keys found: [body, label]"),
        "{}",
        error_of(&jsonl)
    );
}

#[test]
fn null_and_non_utf8_text_name_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let null_text = dir.path().join("null.parquet");
    write_parquet(
        &null_text,
        vec![
            ("text", Arc::new(StringArray::from(vec![Some("a"), None]))),
            ("label", ids(&[0, 1])),
        ],
    );
    assert!(
        error_of(&null_text).contains("row 2, column `text`: the text is null"),
        "{}",
        error_of(&null_text)
    );
    let binary = dir.path().join("binary.parquet");
    let bytes: ArrayRef = Arc::new(BinaryArray::from(vec![&b"ok"[..], &b"\xff\xfe"[..]]));
    write_parquet(&binary, vec![("text", bytes), ("label", ids(&[0, 1]))]);
    assert!(
        error_of(&binary).contains("row 2, column `text`: the text is not valid UTF-8"),
        "{}",
        error_of(&binary)
    );
    let csv = fixture(dir.path(), "d.csv", b"text,label\nfine,0\nbad \xff,1\n");
    assert!(
        error_of(&csv).contains("row 2, column `text`: not valid UTF-8"),
        "{}",
        error_of(&csv)
    );
    let jsonl = fixture(dir.path(), "d.jsonl", b"{\"text\": null, \"label\": 0}\n");
    assert!(
        error_of(&jsonl).contains("line 1, column `text`: the text is null, not a string"),
        "{}",
        error_of(&jsonl)
    );
}

#[test]
fn bad_labels_are_refused_with_row_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let negative = fixture(dir.path(), "neg.csv", b"text,label\na,0\nb,-1\n");
    assert!(
        error_of(&negative).contains(
            "row 2, column `label`: label -1 is out of range: \
             use class ids 0, 1, 2, … or class names"
        ),
        "{}",
        error_of(&negative)
    );
    let mixed = fixture(
        dir.path(),
        "mixed.jsonl",
        b"{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": \"pos\"}\n",
    );
    assert!(
        error_of(&mixed).contains("line 2, column `label`: labels mix integer ids and names"),
        "{}",
        error_of(&mixed)
    );
    let one_class = fixture(dir.path(), "one.csv", b"text,label\na,pos\nb,pos\n");
    assert!(
        error_of(&one_class).contains("at least 2 classes"),
        "{}",
        error_of(&one_class)
    );
    // A named dataset's labels must lie in its own range.
    let parquet = dir.path().join("imdb_like.parquet");
    write_parquet(
        &parquet,
        vec![("text", texts(&["a", "b"])), ("label", ids(&[1, 2]))],
    );
    let names = vec!["neg".to_string(), "pos".to_string()];
    let err = format!(
        "{:#}",
        label_ids(read_table(&parquet).unwrap(), Some(&names), &parquet).unwrap_err()
    );
    assert!(
        err.contains(
            "row 2, column `label`: label 2 is out of range: \
             this dataset's classes are 0..=1 (neg, pos)"
        ),
        "{err}"
    );
}

#[test]
fn empty_truncated_and_foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = fixture(dir.path(), "empty.csv", b"text,label\n");
    assert!(
        error_of(&empty).contains("the file has no rows"),
        "{}",
        error_of(&empty)
    );
    let good = dir.path().join("good.parquet");
    write_parquet(
        &good,
        vec![("text", texts(&["a", "b"])), ("label", ids(&[0, 1]))],
    );
    let bytes = std::fs::read(&good).unwrap();
    let truncated = fixture(dir.path(), "cut.parquet", &bytes[..bytes.len() / 2]);
    assert!(
        error_of(&truncated).contains("not a readable parquet file"),
        "{}",
        error_of(&truncated)
    );
    let foreign = fixture(dir.path(), "csv.parquet", b"text,label\na,1\n");
    assert!(
        error_of(&foreign).contains("not a readable parquet file"),
        "{}",
        error_of(&foreign)
    );
    let unknown = fixture(dir.path(), "d.xlsx", b"");
    assert!(
        error_of(&unknown).contains("unknown file type"),
        "{}",
        error_of(&unknown)
    );
}

#[test]
fn stratified_split_holds_out_the_same_share_of_every_class() {
    let labels: Vec<u32> = (0..1000).map(|i| u32::from(i % 4 == 0)).collect(); // 750 / 250
    let (kept, held) = stratified_split(&labels, 0.1, 3);
    assert_eq!(held.iter().filter(|&&i| labels[i] == 1).count(), 25);
    assert_eq!(held.iter().filter(|&&i| labels[i] == 0).count(), 75);
    assert_eq!(kept.len() + held.len(), 1000);
    assert!(
        held.iter().all(|i| kept.binary_search(i).is_err()),
        "a row is in both splits"
    );
    assert_eq!(
        stratified_split(&labels, 0.1, 3),
        (kept.clone(), held.clone()),
        "same seed, same split"
    );
    assert_ne!(
        stratified_split(&labels, 0.1, 4).1,
        held,
        "the seed is ignored"
    );
}

#[test]
fn a_users_file_splits_into_train_val_and_test() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..200)
        .map(|i| format!("text {i},{}\n", if i % 2 == 0 { "yes" } else { "no" }))
        .collect();
    let csv = fixture(
        dir.path(),
        "d.csv",
        format!("text,label\n{rows}").as_bytes(),
    );
    let splits = load_splits(&DatasetSpec::File(csv), 0.1, 0).unwrap();
    assert_eq!(splits.label_names, ["no", "yes"]);
    assert_eq!(
        (splits.train.len(), splits.val.len(), splits.test.len()),
        (162, 18, 20)
    );
}

#[test]
fn collator_pads_right_and_masks_exactly_the_padding() {
    let seqs: [&[u32]; 3] = [&[101, 5, 102], &[101, 7, 8, 9, 102], &[101, 102]];
    let batch = collate(&seqs, &[1, 0, 1], &Device::Cpu).unwrap();
    assert_eq!(batch.input_ids.dims(), [3, 5]);
    assert_eq!(
        batch.input_ids.to_vec2::<u32>().unwrap(),
        [
            [101, 5, 102, 0, 0],
            [101, 7, 8, 9, 102],
            [101, 102, 0, 0, 0]
        ]
    );
    assert_eq!(
        batch.attention_mask.to_vec2::<u32>().unwrap(),
        [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    );
    assert_eq!(batch.labels.to_vec1::<u32>().unwrap(), [1, 0, 1]);
    assert_eq!(batch.real_tokens, 10);
}

#[test]
fn bucketing_cuts_padding_and_still_visits_every_example_once() {
    let mut rng = Rng::new(0);
    let lengths: Vec<usize> = (0..5000).map(|_| 10 + rng.below(250)).collect();
    let plain = epoch_batches(&lengths, 32, false, &mut Rng::new(1));
    let bucketed = epoch_batches(&lengths, 32, true, &mut Rng::new(1));
    for batches in [&plain, &bucketed] {
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..5000).collect::<Vec<_>>());
    }
    let (p, b) = (
        padding_fraction(&plain, &lengths),
        padding_fraction(&bucketed, &lengths),
    );
    assert!(b < p / 5.0, "bucketed padding {b:.3} vs plain {p:.3}");
    assert_eq!(
        epoch_batches(&lengths, 32, true, &mut Rng::new(1)),
        bucketed,
        "same seed, same batches"
    );
    assert!(padding_fraction(&sorted_batches(&lengths, 32), &lengths) <= b);
}

#[test]
fn wordpiece_trains_on_the_training_texts_and_pads_with_zero() {
    let corpus: Vec<String> = (0..200)
        .map(|i| format!("the movie number {i} was wonderful and terrible at once"))
        .collect();
    let tokenizer = build_tokenizer(&TokenizerSpec::WordPiece(200), &corpus).unwrap();
    assert_eq!(tokenizer.token_to_id("[PAD]"), Some(0));
    let encoded = encode(
        &tokenizer,
        &["The movie was wonderful".to_string()],
        4,
        Truncate::Head,
    )
    .unwrap();
    let ids = &encoded.ids[0];
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[0], tokenizer.token_to_id("[CLS]").unwrap());
    assert_eq!(ids[3], tokenizer.token_to_id("[SEP]").unwrap());
    assert!(encoded.full_lengths[0] > 4);
}
