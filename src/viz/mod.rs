//! Figures drawn with plotters (bitmap backend, embedded font).

pub mod curves;
mod font;
