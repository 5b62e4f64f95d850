//! The block stack's backward pass by hand. In a training step on the fused
//! path the blocks run outside candle's graph, each keeping what its backward
//! needs (a tape), and the backward walks the tape in reverse calling the
//! kernels' backward functions, each parameter's gradient written once into the
//! step's gradient store. Through candle's graph every intermediate of a block
//! costs a zero-filled gradient buffer and an add, and a 2-thread step's
//! threads wait on the graph's bookkeeping (measured in docs/results-log.md).
//!
//! The layers around the stack stay in candle's graph: the stack's output is a
//! leaf of the graph above it (final norm, pooling, head, loss), and the gradient
//! the tape hands down is pushed into the graph below it (positions, token rows)
//! by a second, small backward pass. Each gradient is the same sum of the same
//! terms as through candle's graph, so the numbers are the same to the bit
//! (tests/hand_backward.rs). What the tape does not cover (LayerNorm, SiLU,
//! QK-norm, attention dropout, kept attention weights, CUDA, f64) runs through
//! candle's graph, as does any pass that does not ask for the tape.

use super::block::Block;
use super::dropout::Mode;
use super::forward::Forward;
use super::linear::Linear;
use super::mask::bias_or_zeros;
use crate::kernels::{self, AttentionTape, Heads};
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use std::sync::Arc;

/// Whether this pass runs the blocks on the tape: a training pass that asked for
/// it ([`Forward::by_hand`]), on the fused path, through blocks the tape covers.
pub fn covers(blocks: &[Block], x: &Tensor, fwd: &Forward) -> bool {
    fwd.by_hand
        && fwd.mode.is_train()
        && !fwd.keep_attn
        && kernels::fused(x)
        && blocks.iter().all(|block| block.tape_view().is_some())
}

/// The stack's tape: its input with the graph below, its output as a leaf of
/// the graph above, and each block's kept values.
pub struct StackTape {
    input: Tensor,
    top: Var,
    blocks: Vec<BlockTape>,
}

/// rows (B·L, D) of a (B, L) batch, with candle's graph behind them, through
/// every block -> the output rows (B·L, D), a leaf, and the tape.
pub fn forward(
    blocks: &[Block],
    rows: &Tensor,
    batch: (usize, usize),
    bias: Option<&Tensor>,
    mode: &mut Mode,
) -> Result<(Tensor, StackTape)> {
    let bias = bias_or_zeros(bias, batch.1, rows)?;
    let mut x = rows.detach();
    let mut tapes = Vec::with_capacity(blocks.len());
    for block in blocks {
        let (y, tape) = BlockTape::forward(block, x, batch, &bias, mode)?;
        x = y;
        tapes.push(tape);
    }
    let top = Var::from_tensor(&x)?;
    let out = top.as_tensor().clone();
    let tape = StackTape {
        input: rows.clone(),
        top,
        blocks: tapes,
    };
    Ok((out, tape))
}

impl StackTape {
    /// After the backward pass of the graph above (`store` holds the gradient at
    /// the stack's output): every block parameter's gradient, then the graph below.
    pub fn backward(self, store: &mut GradStore) -> Result<()> {
        let Some(mut grad) = store.remove(self.top.as_tensor()) else {
            return Ok(()); // the loss does not depend on the blocks
        };
        for tape in self.blocks.into_iter().rev() {
            grad = tape.backward(&grad, store)?;
        }
        // d/dθ of sum(input · grad) is the gradient `grad` pushes below the stack.
        let below = (self.input * grad)?.sum_all()?.backward()?;
        store.extend(below)
    }
}

/// A parameter as the tape uses it: its value outside the graph, and the
/// tensor its gradient belongs to.
struct Param {
    value: Tensor,
    of: Tensor,
}

impl Param {
    fn new(of: &Tensor) -> Self {
        Self {
            value: of.detach(),
            of: of.clone(),
        }
    }
}

/// The q, k and v projections stacked into one (3D, D) weight and (3D) bias,
/// as the fused attention path runs them.
struct Qkv {
    weight: Tensor,
    bias: Tensor,
    of: [(Tensor, Tensor); 3],
}

impl Qkv {
    fn new(layers: [&Linear; 3]) -> Result<Self> {
        let of = layers.map(|l| (l.weight().clone(), l.bias().clone()));
        // The same wide layer as the fused attention path's, its values outside the graph.
        let stacked = Linear::stacked(&layers)?;
        Ok(Self {
            weight: stacked.weight().detach(), // (3D, D)
            bias: stacked.bias().detach(),     // (3D)
            of,
        })
    }

    /// The stacked gradients, split back into q's, k's and v's.
    fn insert(&self, dw: &Tensor, db: &Tensor, store: &mut GradStore) -> Result<()> {
        let d = dw.dim(0)? / 3;
        for (i, (w, b)) in self.of.iter().enumerate() {
            store.insert(w, dw.narrow(0, i * d, d)?);
            store.insert(b, db.narrow(0, i * d, d)?);
        }
        Ok(())
    }
}

/// One block's parameters, in the order of its forward pass.
struct Params {
    norm_attn: (Param, f64),
    qkv: Qkv,
    o: (Param, Param),
    norm_ffn: (Param, f64),
    up: (Param, Param),
    down: (Param, Param),
}

fn rms((weight, eps): (&Tensor, f64)) -> (Param, f64) {
    (Param::new(weight), eps)
}

fn linear(l: &Linear) -> (Param, Param) {
    (Param::new(l.weight()), Param::new(l.bias()))
}

/// What one block's backward needs, named as in `Block::forward`:
/// x -> normed -> qkv -> context -> a; x1 = x + drop(a);
/// x1 -> normed_ffn -> pre -> hidden -> f; y = x1 + drop(f).
struct BlockTape {
    params: Params,
    x: Tensor,
    normed: Tensor,
    attention: AttentionTape,
    context: Tensor,
    drop_attn: Option<Arc<Vec<f32>>>,
    x1: Tensor,
    normed_ffn: Tensor,
    /// Only the pre-activation: the backward recomputes GELU of it, one
    /// element-wise pass, instead of keeping a second (B·L, ffn) buffer per block
    /// (32 MiB at the default batch), which set the training's peak memory.
    pre: Tensor,
    drop_ffn: Option<Arc<Vec<f32>>>,
}

impl BlockTape {
    /// `Block::forward` on the fused path, every op the same, its values kept.
    fn forward(
        block: &Block,
        x: Tensor,
        (b, l): (usize, usize),
        bias: &Tensor,
        mode: &mut Mode,
    ) -> Result<(Tensor, Self)> {
        let Some(view) = block.tape_view() else {
            candle_core::bail!("the hand-written backward covers RMSNorm and GELU blocks only");
        };
        let attn = &view.attn;
        let params = Params {
            norm_attn: rms(view.norm_attn),
            qkv: Qkv::new(attn.qkv)?,
            o: linear(attn.o),
            norm_ffn: rms(view.norm_ffn),
            up: linear(view.up),
            down: linear(view.down),
        };
        let p = &params;
        let heads = Heads {
            b,
            l,
            h: attn.heads,
            dh: attn.d_head,
        };
        let scale = 1.0 / (attn.d_head as f64).sqrt();
        let normed = kernels::rms_norm(&x, &p.norm_attn.0.value, p.norm_attn.1)?;
        let qkv = kernels::linear(&normed, &p.qkv.weight, &p.qkv.bias)?; // (B·L, 3D)
        let (context, attention) =
            kernels::attention_keeping(&qkv, bias, heads, scale, attn.attn_fn)?; // (B·L, D)
        let a = kernels::linear(&context, &p.o.0.value, &p.o.1.value)?;
        let (x1, drop_attn) = mode.residual_keeping(&x, &a, view.dropout)?;
        let normed_ffn = kernels::rms_norm(&x1, &p.norm_ffn.0.value, p.norm_ffn.1)?;
        let (hidden, pre) =
            kernels::linear_gelu_keeping(&normed_ffn, &p.up.0.value, &p.up.1.value)?; // (B·L, ffn)
        let f = kernels::linear(&hidden, &p.down.0.value, &p.down.1.value)?;
        let (y, drop_ffn) = mode.residual_keeping(&x1, &f, view.dropout)?;
        let tape = Self {
            params,
            x,
            normed,
            attention,
            context,
            drop_attn,
            x1,
            normed_ffn,
            pre,
            drop_ffn,
        };
        Ok((y, tape))
    }

    /// The gradient at the block's output (B·L, D) -> the gradient at its input;
    /// each parameter's gradient into `store`.
    fn backward(self, dy: &Tensor, store: &mut GradStore) -> Result<Tensor> {
        let p = &self.params;
        let mut put = |param: &Param, grad: Tensor| store.insert(&param.of, grad);
        // y = x1 + drop(down(gelu(up(norm_ffn(x1))))). In a scope, and the
        // (B·L, ffn) buffers dropped as soon as they are spent: they set the
        // training's peak memory.
        let dx1 = {
            let df = branch(dy, &self.drop_ffn)?;
            let hidden = kernels::gelu(&self.pre)?; // the forward's values, bit for bit
            let (dh, dw, db) = kernels::linear_backward(&hidden, &p.down.0.value, &df)?;
            drop(hidden);
            put(&p.down.0, dw);
            put(&p.down.1, db);
            let dpre = kernels::gelu_backward(&self.pre, &dh)?; // (B·L, ffn)
            drop(dh);
            let (dn, dw, db) = kernels::linear_backward(&self.normed_ffn, &p.up.0.value, &dpre)?;
            drop(dpre);
            put(&p.up.0, dw);
            put(&p.up.1, db);
            let (dx1, dg) =
                kernels::rms_norm_backward(&self.x1, &p.norm_ffn.0.value, p.norm_ffn.1, &dn)?;
            put(&p.norm_ffn.0, dg);
            (dy + dx1)?
        };
        // x1 = x + drop(o(attention(qkv(norm_attn(x)))))
        let da = branch(&dx1, &self.drop_attn)?;
        let (dcontext, dw, db) = kernels::linear_backward(&self.context, &p.o.0.value, &da)?;
        put(&p.o.0, dw);
        put(&p.o.1, db);
        let dqkv = self.attention.backward(&dcontext)?; // (B·L, 3D)
        let (dn, dw, db) = kernels::linear_backward(&self.normed, &p.qkv.weight, &dqkv)?;
        let (dx, dg) =
            kernels::rms_norm_backward(&self.x, &p.norm_attn.0.value, p.norm_attn.1, &dn)?;
        put(&p.norm_attn.0, dg);
        p.qkv.insert(&dw, &db, store)?;
        dx1 + dx
    }
}

/// The gradient at a residual branch a from the gradient at x + drop(a).
fn branch(grad: &Tensor, scale: &Option<Arc<Vec<f32>>>) -> Result<Tensor> {
    match scale {
        Some(scale) => kernels::dropout_add_backward(grad, scale),
        None => Ok(grad.clone()),
    }
}
