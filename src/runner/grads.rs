//! A training step's gradients: candle's gradient store for every parameter but
//! the token table, whose gradient is kept as the rows one batch touched. The
//! blocks' gradients enter the same store from their tape (`model::tape`) when
//! the step ran them on it, between candle's backward pass and the table's rows.
//!
//! Through candle's graph the table's gradient is a (V, D) buffer (31 MB at the
//! default) zero-filled, copied, written in a few thousand rows, then read by the
//! clip and by AdamW: half a dozen dense passes per step over rows nearly all 0.
//! Here the batch's token embeddings are a leaf of the graph ([`TokenRows`]); the
//! gradient that reaches them is summed per distinct id ([`RowGrad`]) in the order
//! candle's `index_add` sums it, so every number downstream is the same.

use crate::model::tape::StackTape;
use anyhow::{Context, Result};
use candle_core::backprop::GradStore;
use candle_core::{Tensor, TensorId, Var};

/// The token table's rows for one batch's ids, (B, L, D), cut from the table:
/// the loss is differentiated against these rows, not against the table.
pub struct TokenRows {
    table: Tensor,
    ids: Tensor,
    rows: Var,
}

impl TokenRows {
    /// `rows` are the table's rows for `ids` (B, L) u32, as the model looks them up.
    pub fn new(table: &Tensor, ids: &Tensor, rows: &Tensor) -> Result<Self> {
        Ok(Self {
            table: table.clone(),
            ids: ids.clone(),
            rows: Var::from_tensor(rows)?, // a copy with no history: a leaf
        })
    }

    pub fn as_tensor(&self) -> &Tensor {
        self.rows.as_tensor()
    }

    /// The table's gradient from the rows' gradient in `store` (taken out of it).
    fn gradient(&self, store: &mut GradStore) -> Result<RowGrad> {
        let d = self.table.dim(1)?;
        let ids = self.ids.flatten_all()?.to_vec1::<u32>()?;
        let device = self.table.device();
        let Some(grad) = store.remove(self.rows.as_tensor()) else {
            // The loss does not depend on the tokens: nothing touched.
            return Ok(RowGrad {
                table: self.table.id(),
                ids: vec![],
                rows: Tensor::zeros((0, d), self.table.dtype(), device)?,
            });
        };
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let slots: Vec<u32> = ids
            .iter()
            .map(|id| distinct.partition_point(|d| d < id) as u32)
            .collect();
        // Summed in position order, as index_add into the dense table sums them.
        let rows = Tensor::zeros((distinct.len(), d), grad.dtype(), device)?.index_add(
            &Tensor::new(slots, device)?,
            &grad.reshape((ids.len(), d))?,
            0,
        )?; // (distinct ids, D)
        Ok(RowGrad {
            table: self.table.id(),
            ids: distinct,
            rows,
        })
    }
}

/// A (V, D) table's gradient as its non-zero rows: `rows[k]` is row `ids[k]`,
/// ids ascending, every other row 0.
pub struct RowGrad {
    table: TensorId,
    pub ids: Vec<u32>,
    /// (ids.len(), D)
    pub rows: Tensor,
}

impl RowGrad {
    /// The whole (V, D) gradient, for devices without the row kernels and for tests.
    pub fn dense(&self, table: &Tensor) -> Result<Tensor> {
        let ids = Tensor::new(self.ids.as_slice(), table.device())?;
        Ok(table.zeros_like()?.index_add(&ids, &self.rows, 0)?)
    }
}

/// One parameter's gradient, as [`Gradients::get`] gives it.
pub enum Grad<'a> {
    Dense(&'a Tensor),
    Rows(&'a RowGrad),
}

/// Every parameter's gradient after one backward pass.
pub struct Gradients {
    store: GradStore,
    table: Option<RowGrad>,
}

impl Gradients {
    /// Backward from `loss`; through the blocks by hand when they ran on a
    /// `tape`; with `rows`, the token table's gradient as rows.
    pub fn backward(
        loss: &Tensor,
        rows: Option<&TokenRows>,
        tape: Option<StackTape>,
    ) -> Result<Self> {
        let mut store = loss.backward().context("backward pass")?;
        if let Some(tape) = tape {
            tape.backward(&mut store)
                .context("backward pass through the blocks (by hand)")?;
        }
        let table = rows.map(|r| r.gradient(&mut store)).transpose()?;
        Ok(Self { store, table })
    }

    pub fn get(&self, param: &Tensor) -> Option<Grad<'_>> {
        match &self.table {
            Some(t) if t.table == param.id() => Some(Grad::Rows(t)),
            _ => self.store.get(param).map(Grad::Dense),
        }
    }

    /// `param`'s whole gradient, rows made dense (what the tests compare).
    pub fn dense(&self, param: &Tensor) -> Result<Option<Tensor>> {
        Ok(match self.get(param) {
            Some(Grad::Dense(g)) => Some(g.clone()),
            Some(Grad::Rows(r)) => Some(r.dense(param)?),
            None => None,
        })
    }

    /// Multiply `param`'s gradient by `scale` (the clip).
    pub fn scale(&mut self, param: &Tensor, scale: f64) -> Result<()> {
        match &mut self.table {
            Some(t) if t.table == param.id() => t.rows = (&t.rows * scale)?,
            _ => {
                if let Some(g) = self.store.remove(param) {
                    self.store.insert(param, (g * scale)?);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::collate::collate;
    use crate::model::{store::init_model, Config, Forward};
    use crate::runner::optim::{AdamW, AdamWConfig};
    use crate::runner::step::{cross_entropy, train_step, StepConfig};
    use crate::util::rng::Rng;
    use candle_core::{DType, Device};

    /// Every weight by name, in name order.
    fn weights(varmap: &candle_nn::VarMap) -> Vec<(String, Vec<f32>)> {
        let mut all: Vec<_> = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.flatten_all().unwrap().to_vec1().unwrap()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Steps on batches that touch different rows (a row touched, then not: its
    /// moments decay while its gradient is 0), clipped every step, with the table's
    /// gradient as rows (`train_step`) and dense through candle's graph: the same
    /// weights to the last bit. D = 32 keeps candle's norm sum in the same lanes.
    #[test]
    fn steps_with_the_table_gradient_as_rows_equal_the_dense_steps_bit_for_bit() {
        let config = Config {
            vocab_size: 40,
            d_model: 32,
            n_heads: 2,
            n_layers: 1,
            max_len: 8,
            ..Config::default()
        };
        let batches = [
            collate(&[&[1, 5, 9, 5, 2], &[1, 7, 2]], &[0, 1], &Device::Cpu).unwrap(),
            collate(&[&[1, 30, 31, 2], &[1, 9, 9, 9, 2]], &[1, 0], &Device::Cpu).unwrap(),
            collate(&[&[1, 12, 2]], &[1], &Device::Cpu).unwrap(),
        ];
        let step = StepConfig {
            lr: 1e-2,
            clip: 0.05,
        };
        let run = |rows: bool| {
            let (model, varmap) = init_model(&config, 3, DType::F32, &Device::Cpu).unwrap();
            let vars = varmap.data().lock().unwrap().clone();
            let mut optimizer = AdamW::new(&vars, AdamWConfig::default()).unwrap();
            let mut rng = Rng::new(9);
            for batch in &batches {
                if rows {
                    train_step(&model, &mut optimizer, batch, step, &mut rng).unwrap();
                    continue;
                }
                let fwd = Forward::train(&mut rng);
                let out = model
                    .forward(&batch.input_ids, &batch.attention_mask, fwd)
                    .unwrap();
                let (loss, _) = cross_entropy(&out.logits, &batch.labels).unwrap();
                let mut grads = Gradients::backward(&loss, None, None).unwrap();
                assert!(matches!(
                    grads.get(model.embedding_table()),
                    Some(Grad::Dense(_))
                ));
                let norm = optimizer.clip_grad_norm(&mut grads, step.clip).unwrap();
                assert!(norm > step.clip, "the clip never acted: norm {norm}");
                optimizer.update(&grads, step.lr).unwrap();
            }
            weights(&varmap)
        };
        let (with_rows, dense) = (run(true), run(false));
        let untouched = init_model(&config, 3, DType::F32, &Device::Cpu).unwrap().1;
        assert_ne!(with_rows, weights(&untouched), "the steps moved nothing");
        for ((name, a), (_, b)) in with_rows.iter().zip(&dense) {
            let differ = a
                .iter()
                .zip(b)
                .filter(|(x, y)| x.to_bits() != y.to_bits())
                .count();
            assert_eq!(differ, 0, "{name}: {differ} of {} values differ", a.len());
        }
    }

    /// Repeated ids sum into one row; the rows made dense are index_add's table.
    #[test]
    fn repeated_ids_sum_into_one_row() {
        let dev = Device::Cpu;
        let table = Var::zeros((6, 2), DType::F32, &dev).unwrap();
        let ids = Tensor::new(&[[4u32, 1, 4]], &dev).unwrap();
        let rows = TokenRows::new(
            table.as_tensor(),
            &ids,
            &Tensor::zeros((1, 3, 2), DType::F32, &dev).unwrap(),
        )
        .unwrap();
        let weights = Tensor::new(&[[[1f32, 2.], [3., 4.], [5., 6.]]], &dev).unwrap();
        let loss = (rows.as_tensor() * &weights).unwrap().sum_all().unwrap();
        let grads = Gradients::backward(&loss, Some(&rows), None).unwrap();
        let Some(Grad::Rows(r)) = grads.get(table.as_tensor()) else {
            panic!("the table's gradient is not rows");
        };
        assert_eq!(r.ids, [1, 4]);
        assert_eq!(r.rows.to_vec2::<f32>().unwrap(), [[3., 4.], [6., 8.]]);
        let dense = grads.dense(table.as_tensor()).unwrap().unwrap();
        let expected = [[0., 0.], [3., 4.], [0., 0.], [0., 0.], [6., 8.], [0., 0.]];
        assert_eq!(dense.to_vec2::<f32>().unwrap(), expected);
    }
}
