//! Token embedding + learned positional embedding (no scaling, no embedding dropout).

use super::config::Config;
use candle_core::{Module, Result, Tensor};
use candle_nn::{Embedding, Init, VarBuilder};

pub struct Embeddings {
    tok: Embedding,
    pos: Tensor, // (max_len, D)
}

impl Embeddings {
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        let init = Init::Randn {
            mean: 0.0,
            stdev: config.init_std,
        };
        let d = config.d_model;
        let tok = vb
            .pp("tok_emb")
            .get_with_hints((config.vocab_size, d), "weight", init)?;
        let pos = vb
            .pp("pos_emb")
            .get_with_hints((config.max_len, d), "weight", init)?;
        Ok(Self {
            tok: Embedding::new(tok, d),
            pos,
        })
    }

    /// input_ids (B, L) u32 -> token embeddings (B, L, D), before positions:
    /// the input that gradient attributions differentiate against.
    pub fn tokens(&self, input_ids: &Tensor) -> Result<Tensor> {
        self.tok.forward(input_ids)
    }

    /// The (V, D) token table.
    pub fn table(&self) -> &Tensor {
        self.tok.embeddings()
    }

    /// Token embeddings (B, L, D) + the positional table's first L rows.
    pub fn add_positions(&self, tokens: &Tensor) -> Result<Tensor> {
        let (_, l, _) = tokens.dims3()?;
        let max_len = self.pos.dim(0)?;
        if l > max_len {
            candle_core::bail!("sequence length {l} exceeds the model's max_len {max_len}");
        }
        tokens.broadcast_add(&self.pos.narrow(0, 0, l)?)
    }
}
