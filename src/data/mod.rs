//! From the Hub (or the user's file) to batches:
//! `hub` (fetch) -> `table` (parquet/csv/jsonl) -> `dataset` (labels, splits)
//! -> `tokenize` -> `collate`; `summary` describes what was fetched.

pub mod collate;
pub mod dataset;
pub mod hub;
pub mod summary;
pub mod table;
pub mod tokenize;
