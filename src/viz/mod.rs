//! Figures drawn with plotters (bitmap backend, embedded font).

mod colormap;
pub mod curves;
pub mod deletion_curves;
pub(crate) mod font;
pub mod forming;
pub mod gain_curves;
pub mod head_cards;
pub mod heatmap;
pub mod highlight;
pub mod html;
pub mod length_curves;
pub mod pretrain_curves;
pub mod sweep;
