//! What a language model must predict, drawn per sequence.
//!
//! Encoder, masked LM (BERT, Devlin et al. 2019): a share `prob` of the real,
//! non-special tokens is chosen; of those 80% become [MASK], 10% a random token,
//! 10% stay; the model predicts the original token at each chosen position.
//! Decoder, next-token prediction: the input is left alone and the same share of
//! positions (never the last real one) predicts the token after it. The loss
//! reaches the vocabulary only at the chosen positions, so the decoder's costs no
//! more than the encoder's; under the causal mask any position is a fair question.

use crate::data::collate::collate_unlabelled;
use crate::model::{Arch, LmBatch};
use crate::util::rng::Rng;
use anyhow::Result;
use candle_core::{Device, Tensor};

/// What to mask with and what never to choose.
#[derive(Clone, Debug)]
pub struct MaskRule {
    pub arch: Arch,
    pub prob: f64,
    pub mask_id: u32,
    pub vocab_size: u32,
    /// [PAD], [CLS], [SEP] and the other specials: never chosen, never drawn.
    pub specials: Vec<u32>,
}

/// One sequence as the model reads it and, at each chosen position, the token
/// it must predict there.
#[derive(Clone, Debug, PartialEq)]
pub struct Masked {
    pub input: Vec<u32>,
    pub chosen: Vec<(usize, u32)>,
}

impl MaskRule {
    /// At least one position is chosen in a sequence that has a candidate, so
    /// every sequence adds to the loss.
    pub fn apply(&self, ids: &[u32], rng: &mut Rng) -> Masked {
        let candidates: Vec<usize> = match self.arch {
            Arch::Encoder => (0..ids.len())
                .filter(|&i| !self.specials.contains(&ids[i]))
                .collect(),
            // The last position has nothing after it.
            Arch::Decoder => (0..ids.len().saturating_sub(1)).collect(),
        };
        let mut picked: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|_| rng.uniform() < self.prob)
            .collect();
        if picked.is_empty() && !candidates.is_empty() {
            picked.push(candidates[rng.below(candidates.len())]);
        }
        match self.arch {
            Arch::Encoder => self.mask(ids, &picked, rng),
            Arch::Decoder => Masked {
                input: ids.to_vec(),
                chosen: picked.iter().map(|&i| (i, ids[i + 1])).collect(),
            },
        }
    }

    fn mask(&self, ids: &[u32], picked: &[usize], rng: &mut Rng) -> Masked {
        let mut input = ids.to_vec();
        for &i in picked {
            let r = rng.uniform();
            if r < 0.8 {
                input[i] = self.mask_id;
            } else if r < 0.9 {
                input[i] = self.random_token(rng);
            }
        }
        Masked {
            input,
            chosen: picked.iter().map(|&i| (i, ids[i])).collect(),
        }
    }

    fn random_token(&self, rng: &mut Rng) -> u32 {
        loop {
            let t = rng.below(self.vocab_size as usize) as u32;
            if !self.specials.contains(&t) {
                return t;
            }
        }
    }

    /// The sequences masked, padded into one batch, with the chosen positions
    /// as flat indices into its (B, L).
    pub fn batch(&self, seqs: &[&[u32]], rng: &mut Rng, device: &Device) -> Result<LmBatch> {
        let masked: Vec<Masked> = seqs.iter().map(|s| self.apply(s, rng)).collect();
        let inputs: Vec<&[u32]> = masked.iter().map(|m| m.input.as_slice()).collect();
        let batch = collate_unlabelled(&inputs, device)?;
        let len = batch.input_ids.dim(1)?;
        let (positions, targets): (Vec<u32>, Vec<u32>) = masked
            .iter()
            .enumerate()
            .flat_map(|(row, m)| {
                m.chosen
                    .iter()
                    .map(move |&(i, t)| ((row * len + i) as u32, t))
            })
            .unzip();
        let n = positions.len();
        Ok(LmBatch {
            batch,
            positions: Tensor::from_vec(positions, n, device)?,
            targets: Tensor::from_vec(targets, n, device)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLS: u32 = 101;
    const SEP: u32 = 102;
    const MASK: u32 = 103;

    fn rule(arch: Arch) -> MaskRule {
        MaskRule {
            arch,
            prob: 0.15,
            mask_id: MASK,
            vocab_size: 1000,
            specials: vec![0, 100, CLS, SEP, MASK],
        }
    }

    fn review(n: usize) -> Vec<u32> {
        let mut ids = vec![CLS];
        ids.extend((0..n as u32).map(|i| 1000 - 1 - i % 800));
        ids.push(SEP);
        ids
    }

    #[test]
    fn masked_lm_follows_bert_shares_and_never_picks_a_special() {
        let (rule, ids) = (rule(Arch::Encoder), review(200));
        let mut rng = Rng::new(7);
        let (mut chosen, mut masked, mut kept, mut real) = (0, 0, 0, 0);
        for _ in 0..500 {
            let m = rule.apply(&ids, &mut rng);
            real += ids.len() - 2;
            for &(i, target) in &m.chosen {
                assert!(i > 0 && i < ids.len() - 1, "a special token was chosen");
                assert_eq!(target, ids[i]);
                chosen += 1;
                masked += usize::from(m.input[i] == MASK);
                kept += usize::from(m.input[i] == ids[i]);
            }
            let picked: Vec<usize> = m.chosen.iter().map(|c| c.0).collect();
            for i in (0..ids.len()).filter(|i| !picked.contains(i)) {
                assert_eq!(m.input[i], ids[i], "an unchosen token changed");
            }
        }
        let share = |k: usize, of: usize| k as f64 / of as f64;
        assert!((share(chosen, real) - 0.15).abs() < 0.01);
        assert!((share(masked, chosen) - 0.8).abs() < 0.02);
        // 10% kept on purpose, plus the random draws that hit the same token.
        assert!((share(kept, chosen) - 0.1).abs() < 0.02);
    }

    #[test]
    fn next_token_targets_are_the_following_token_and_inputs_stay() {
        let (rule, ids) = (rule(Arch::Decoder), review(50));
        let m = rule.apply(&ids, &mut Rng::new(3));
        assert_eq!(m.input, ids);
        assert!(!m.chosen.is_empty());
        for &(i, target) in &m.chosen {
            assert!(i + 1 < ids.len());
            assert_eq!(target, ids[i + 1]);
        }
    }

    #[test]
    fn every_sequence_gets_a_question_and_the_batch_indexes_its_rows() {
        let rule = rule(Arch::Encoder);
        let (short, long) = (review(1), review(9));
        let seqs = [short.as_slice(), long.as_slice()];
        let lm = rule.batch(&seqs, &mut Rng::new(1), &Device::Cpu).unwrap();
        let positions = lm.positions.to_vec1::<u32>().unwrap();
        let targets = lm.targets.to_vec1::<u32>().unwrap();
        let len = long.len() as u32;
        assert!(positions.contains(&1), "the one-token review was not asked");
        for (&p, &t) in positions.iter().zip(&targets) {
            let (row, i) = ((p / len) as usize, (p % len) as usize);
            assert_eq!(seqs[row][i], t);
        }
    }
}
