//! Figures drawn with plotters (bitmap backend, embedded font).

mod colormap;
pub mod curves;
pub mod faithfulness;
pub(crate) mod font;
pub mod forming;
pub mod gain;
pub mod heads;
pub mod heatmap;
pub mod highlight;
pub mod html;
pub mod lengths;
pub mod pretrain;
pub mod sweep;
