//! The Transformer body every head shares:
//! ids -> embeddings -> N blocks -> final norm -> hidden states (B, L, D).
//! The classifier pools it; a second head (a language model) can share it.

use super::block::Block;
use super::config::Config;
use super::embed::Embeddings;
use super::forward::Forward;
use super::mask::{attention_bias, Masks};
use super::norm::Norm;
use super::tape::{self, StackTape};
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

pub struct Body {
    embed: Embeddings,
    blocks: Vec<Block>,
    norm_final: Norm,
    causal: bool,
}

/// Final-normed hidden states (B, L, D), and every layer's attention weights
/// (B, H, L, L) when the pass kept them.
pub struct Hidden {
    pub hidden: Tensor,
    pub attn: Vec<Tensor>,
    /// The blocks' tape when they ran on it ([`Forward::by_hand`]).
    pub tape: Option<StackTape>,
}

impl Body {
    /// The blocks are created before the embeddings: the seeded initialisation
    /// draws in this order, and runs saved before the body was its own type
    /// depend on it.
    pub fn new(vb: VarBuilder, config: &Config) -> Result<Self> {
        let blocks = (0..config.n_layers)
            .map(|i| Block::new(vb.pp(format!("blocks.{i}")), config))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embed: Embeddings::new(vb.clone(), config)?,
            blocks,
            norm_final: Norm::new(vb.pp("norm_final"), config)?,
            causal: config.causal(),
        })
    }

    /// The masks this architecture is meant to run with.
    pub fn masks(&self) -> Masks {
        Masks {
            padding: true,
            causal: self.causal,
        }
    }

    /// (B, L) ids -> final-normed hidden states.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        fwd: Forward,
    ) -> Result<Hidden> {
        self.forward_embedded(&self.token_embeddings(input_ids)?, attention_mask, fwd)
    }

    /// The (V, D) token embedding table, which the language model's output shares.
    pub fn embedding_table(&self) -> &Tensor {
        self.embed.table()
    }

    /// (B, L) ids -> (B, L, D) token embeddings, before positions.
    pub fn token_embeddings(&self, input_ids: &Tensor) -> Result<Tensor> {
        self.embed.tokens(input_ids)
    }

    /// From token embeddings (B, L, D) to the final-normed hidden states.
    pub fn forward_embedded(
        &self,
        tokens: &Tensor,
        attention_mask: &Tensor,
        mut fwd: Forward,
    ) -> Result<Hidden> {
        let masks = fwd.masks.unwrap_or(self.masks());
        let bias = attention_bias(attention_mask, masks, tokens.dtype())?;
        let x = self.embed.add_positions(tokens)?; // (B, L, D)
        let (b, l, d) = x.dims3()?;
        // The blocks pass rows along: one reshape for the stack instead of
        // four per block, each a graph node with a gradient buffer to fill.
        let mut x = x.reshape((b * l, d))?; // (B·L, D)
        let mut attn = Vec::new();
        let mut stack = None;
        if tape::covers(&self.blocks, &x, &fwd) {
            let (top, t) = tape::forward(&self.blocks, &x, (b, l), bias.as_ref(), &mut fwd.mode)?;
            (x, stack) = (top, Some(t));
        } else {
            for block in &self.blocks {
                let (y, weights) = block.forward(&x, (b, l), bias.as_ref(), &mut fwd)?;
                x = y;
                attn.extend(weights);
            }
        }
        Ok(Hidden {
            hidden: self.norm_final.forward(&x)?.reshape((b, l, d))?,
            attn,
            tape: stack,
        })
    }
}
