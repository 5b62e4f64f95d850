//! Linear layers with the peer's explicit init: weight N(0, init_std), bias 0.

use candle_core::Result;
use candle_nn::{Init, Linear, VarBuilder};

pub fn linear(vb: VarBuilder, d_in: usize, d_out: usize, init_std: f64) -> Result<Linear> {
    let weight = vb.get_with_hints(
        (d_out, d_in),
        "weight",
        Init::Randn {
            mean: 0.0,
            stdev: init_std,
        },
    )?;
    let bias = vb.get_with_hints(d_out, "bias", Init::Const(0.0))?;
    Ok(Linear::new(weight, Some(bias)))
}
