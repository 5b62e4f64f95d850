//! Reading `text` + `label` tables from .parquet, .csv and .jsonl, with errors that
//! name the file, the row and the column.

use anyhow::{anyhow, bail, ensure, Context, Result};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

pub const TEXT: &str = "text";
pub const LABEL: &str = "label";

/// Labels as the file holds them: class ids, or names still to be mapped to ids.
#[derive(Clone, Debug, PartialEq)]
pub enum RawLabels {
    Ids(Vec<i64>),
    Names(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RawTable {
    pub texts: Vec<String>,
    pub labels: RawLabels,
}

/// Read a table by its extension; rows are numbered from 1 in errors.
pub fn read_table(path: &Path) -> Result<RawTable> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let table = match ext.as_str() {
        "parquet" => read_parquet(path),
        "csv" => read_csv(path),
        "jsonl" | "json" => read_jsonl(path),
        _ => bail!(
            "{}: unknown file type '.{ext}': \
             use .parquet, .csv or .jsonl with `text` and `label` columns",
            path.display()
        ),
    }?;
    ensure!(
        !table.texts.is_empty(),
        "{}: the file has no rows",
        path.display()
    );
    Ok(table)
}

fn missing_column(path: &Path, column: &str, found: &[String]) -> anyhow::Error {
    anyhow!(
        "{}: no `{column}` column; columns found: [{}]",
        path.display(),
        found.join(", ")
    )
}

/// The parquet decoder can panic on some corrupt files instead of returning an
/// error (bad page headers, impossible offsets): turned into an error naming the file.
pub fn read_parquet(path: &Path) -> Result<RawTable> {
    std::panic::catch_unwind(|| read_parquet_file(path)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        bail!(
            "{}: not a readable parquet file (corrupt data: {why})",
            path.display()
        )
    })
}

fn read_parquet_file(path: &Path) -> Result<RawTable> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).with_context(|| {
        format!(
            "{}: not a readable parquet file (truncated or another format?)",
            path.display()
        )
    })?;
    let found: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    for column in [TEXT, LABEL] {
        if !found.iter().any(|f| f == column) {
            return Err(missing_column(path, column, &found));
        }
    }
    let reader = builder
        .build()
        .with_context(|| format!("reading {}", path.display()))?;
    let mut texts = Vec::new();
    let mut labels = RawLabels::Ids(Vec::new());
    for batch in reader {
        let batch: RecordBatch = batch.with_context(|| {
            format!("{}: corrupt data after row {}", path.display(), texts.len())
        })?;
        let first_row = texts.len() + 1;
        let column = |name| batch.column_by_name(name).expect("checked in the schema");
        push_texts(&mut texts, column(TEXT), path, first_row)?;
        push_labels(&mut labels, column(LABEL), path, first_row)?;
    }
    Ok(RawTable { texts, labels })
}

fn push_texts(
    texts: &mut Vec<String>,
    array: &ArrayRef,
    path: &Path,
    first_row: usize,
) -> Result<()> {
    let at = |i: usize| format!("{}: row {}, column `{TEXT}`", path.display(), first_row + i);
    for i in 0..array.len() {
        ensure!(array.is_valid(i), "{}: the text is null", at(i));
        let text = match array.data_type() {
            DataType::Utf8 => array
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .map(|a| a.value(i).to_string()),
            DataType::LargeUtf8 => array
                .as_any()
                .downcast_ref::<arrow_array::LargeStringArray>()
                .map(|a| a.value(i).to_string()),
            DataType::Utf8View => array
                .as_any()
                .downcast_ref::<arrow_array::StringViewArray>()
                .map(|a| a.value(i).to_string()),
            DataType::Binary => {
                let bytes = array
                    .as_any()
                    .downcast_ref::<arrow_array::BinaryArray>()
                    .map(|a| a.value(i).to_vec());
                bytes
                    .map(String::from_utf8)
                    .transpose()
                    .map_err(|_| anyhow!("{}: the text is not valid UTF-8", at(i)))?
            }
            other => bail!("{}: expected a string column, found {other}", at(i)),
        };
        texts.push(text.expect("downcast matches the data type"));
    }
    Ok(())
}

fn push_labels(
    labels: &mut RawLabels,
    array: &ArrayRef,
    path: &Path,
    first_row: usize,
) -> Result<()> {
    let at = |i: usize| {
        format!(
            "{}: row {}, column `{LABEL}`",
            path.display(),
            first_row + i
        )
    };
    if let Some(i) = (0..array.len()).find(|&i| !array.is_valid(i)) {
        bail!("{}: the label is null", at(i));
    }
    let casted;
    let array = if array.data_type().is_integer() {
        casted = widen_to_i64(array).with_context(|| at(0))?;
        &casted
    } else {
        array
    };
    if matches!(labels, RawLabels::Ids(v) if v.is_empty()) && array.data_type() == &DataType::Utf8 {
        *labels = RawLabels::Names(Vec::new());
    }
    match (labels, array.data_type()) {
        (RawLabels::Ids(ids), DataType::Int64) => {
            let a = array
                .as_any()
                .downcast_ref::<arrow_array::Int64Array>()
                .expect("cast to i64");
            ids.extend(a.values().iter());
        }
        (RawLabels::Names(names), DataType::Utf8) => {
            let a = array
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .expect("utf8");
            names.extend(a.iter().map(|s| s.unwrap_or_default().to_string()));
        }
        (_, other) => bail!(
            "{}: labels must be integers or strings, found {other}",
            at(0)
        ),
    }
    Ok(())
}

/// Widen any integer column to i64 (files store labels as int8..int64, signed or not).
fn widen_to_i64(array: &ArrayRef) -> Result<ArrayRef> {
    use arrow_array::Int64Array;
    macro_rules! widen {
        ($t:ty) => {
            array.as_any().downcast_ref::<$t>().map(|a| {
                a.iter()
                    .map(|v| v.map(|v| v as i64))
                    .collect::<Int64Array>()
            })
        };
    }
    let out = match array.data_type() {
        DataType::Int8 => widen!(arrow_array::Int8Array),
        DataType::Int16 => widen!(arrow_array::Int16Array),
        DataType::Int32 => widen!(arrow_array::Int32Array),
        DataType::Int64 => widen!(arrow_array::Int64Array),
        DataType::UInt8 => widen!(arrow_array::UInt8Array),
        DataType::UInt16 => widen!(arrow_array::UInt16Array),
        DataType::UInt32 => widen!(arrow_array::UInt32Array),
        DataType::UInt64 => widen!(arrow_array::UInt64Array),
        _ => None,
    };
    out.map(|a| std::sync::Arc::new(a) as ArrayRef)
        .ok_or_else(|| anyhow!("not an integer column"))
}

/// A label cell from a text format: an integer id or a class name.
enum Cell {
    Id(i64),
    Name(String),
}

/// Collect cells into one label kind; a file mixing ids and names is inconsistent.
fn labels_from_cells(
    cells: Vec<Cell>,
    path: &Path,
    where_is: impl Fn(usize) -> String,
) -> Result<RawLabels> {
    let first_is_id = matches!(cells.first(), Some(Cell::Id(_)));
    if let Some(i) = cells
        .iter()
        .position(|c| matches!(c, Cell::Id(_)) != first_is_id)
    {
        bail!(
            "{}: {}, column `{LABEL}`: labels mix integer ids and names; \
             use one kind for the whole file",
            path.display(),
            where_is(i)
        );
    }
    Ok(if first_is_id {
        RawLabels::Ids(
            cells
                .into_iter()
                .map(|c| {
                    if let Cell::Id(v) = c {
                        v
                    } else {
                        unreachable!()
                    }
                })
                .collect(),
        )
    } else {
        RawLabels::Names(
            cells
                .into_iter()
                .map(|c| {
                    if let Cell::Name(v) = c {
                        v
                    } else {
                        unreachable!()
                    }
                })
                .collect(),
        )
    })
}

pub fn read_csv(path: &Path) -> Result<RawTable> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let headers = reader
        .byte_headers()
        .with_context(|| format!("{}: reading the header row", path.display()))?
        .clone();
    let found: Vec<String> = headers
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let index = |column: &str| {
        found
            .iter()
            .position(|f| f == column)
            .ok_or_else(|| missing_column(path, column, &found))
    };
    let (text_at, label_at) = (index(TEXT)?, index(LABEL)?);
    let mut texts = Vec::new();
    let mut cells = Vec::new();
    for (i, record) in reader.byte_records().enumerate() {
        let row = i + 1;
        let record =
            record.with_context(|| format!("{}: row {row}: malformed CSV", path.display()))?;
        let field = |at: usize, column: &str| -> Result<String> {
            let bytes = record
                .get(at)
                .ok_or_else(|| anyhow!("{}: row {row}: no `{column}` field", path.display()))?;
            String::from_utf8(bytes.to_vec()).map_err(|_| {
                anyhow!(
                    "{}: row {row}, column `{column}`: not valid UTF-8",
                    path.display()
                )
            })
        };
        texts.push(field(text_at, TEXT)?);
        let label = field(label_at, LABEL)?.trim().to_string();
        ensure!(
            !label.is_empty(),
            "{}: row {row}, column `{LABEL}`: the label is empty",
            path.display()
        );
        cells.push(label.parse::<i64>().map_or(Cell::Name(label), Cell::Id));
    }
    Ok(RawTable {
        texts,
        labels: labels_from_cells(cells, path, |i| format!("row {}", i + 1))?,
    })
}

pub fn read_jsonl(path: &Path) -> Result<RawTable> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut texts = Vec::new();
    let mut cells = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let row = i + 1;
        let at = |column: &str| format!("{}: line {row}, column `{column}`", path.display());
        let line = std::str::from_utf8(line)
            .map_err(|_| anyhow!("{}: line {row}: not valid UTF-8", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}: line {row}: not a JSON object", path.display()))?;
        let object = value
            .as_object()
            .ok_or_else(|| anyhow!("{}: line {row}: not a JSON object", path.display()))?;
        let text = object.get(TEXT).ok_or_else(|| {
            anyhow!(
                "{}: line {row}: no `{TEXT}` key; keys found: [{}]",
                path.display(),
                object.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        let text = text
            .as_str()
            .ok_or_else(|| anyhow!("{}: the text is {text}, not a string", at(TEXT)))?;
        let cell = match object.get(LABEL) {
            Some(serde_json::Value::Number(n)) if n.is_i64() => {
                Cell::Id(n.as_i64().expect("checked"))
            }
            Some(serde_json::Value::String(s)) => Cell::Name(s.clone()),
            Some(other) => bail!(
                "{}: the label {other} is neither an integer nor a string",
                at(LABEL)
            ),
            None => bail!("{}: line {row}: no `{LABEL}` key", path.display()),
        };
        texts.push(text.to_string());
        cells.push(cell);
        lines.push(row);
    }
    Ok(RawTable {
        texts,
        labels: labels_from_cells(cells, path, |i| format!("line {}", lines[i]))?,
    })
}
