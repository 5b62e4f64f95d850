//! Text -> token ids: the bert-base-uncased vocabulary (no weights) or a WordPiece
//! vocabulary trained on the training split, then truncation to max_len.

use super::hub::{fetch, HubFile};
use ahash::{AHashMap, RandomState};
use anyhow::{anyhow, bail, Context, Result};
use compact_str::CompactString;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{
    AddedToken, NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString,
    PreTokenizer, Tokenizer,
};

pub const PAD: &str = "[PAD]";
const SPECIALS: [&str; 5] = [PAD, "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// google-bert/bert-base-uncased's vocabulary (its tokenizer.json, no weights).
pub const BERT: &str = "bert-base-uncased";

/// What `train`, `pretrain` and `fetch` use unless told otherwise.
pub const DEFAULT_TOKENIZER: &str = BERT;

#[derive(Clone, Debug, PartialEq)]
pub enum TokenizerSpec {
    /// google-bert/bert-base-uncased's tokenizer.json from the Hub cache.
    Bert,
    /// A WordPiece vocabulary of this size, trained on the training texts.
    WordPiece(usize),
    /// A tokenizer.json of the user's (e.g. from an earlier run), reused as it is.
    File(PathBuf),
}

impl std::str::FromStr for TokenizerSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.split_once(':') {
            None if s == BERT => Ok(TokenizerSpec::Bert),
            Some(("wordpiece", n)) => {
                let n: usize = n
                    .parse()
                    .map_err(|_| anyhow!("wordpiece:N needs a vocabulary size, got {n:?}"))?;
                if n < 100 {
                    bail!("wordpiece:{n} is too small a vocabulary; try wordpiece:8000 or more");
                }
                Ok(TokenizerSpec::WordPiece(n))
            }
            _ if s.ends_with(".json") => Ok(TokenizerSpec::File(PathBuf::from(s))),
            _ => bail!("unknown tokenizer {s:?}: use {BERT}, wordpiece:N or a tokenizer.json path"),
        }
    }
}

/// How to cut a text longer than max_len tokens.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Truncate {
    /// Keep the first max_len tokens.
    Head,
    /// Keep the first half and the last half: reviews often give their verdict at the end.
    HeadTail,
}

pub fn bert_tokenizer_file() -> HubFile {
    HubFile::model("google-bert/bert-base-uncased", "tokenizer.json")
}

/// The tokenizer a run uses; `train_texts` feed WordPiece training only.
pub fn build_tokenizer(spec: &TokenizerSpec, train_texts: &[String]) -> Result<Tokenizer> {
    let mut tokenizer = match spec {
        TokenizerSpec::Bert => load_tokenizer(&fetch(&bert_tokenizer_file())?)?,
        TokenizerSpec::WordPiece(size) => train_wordpiece(*size, train_texts)?,
        TokenizerSpec::File(path) => load_tokenizer(path)?,
    };
    tokenizer
        .with_truncation(None)
        .map_err(|e| anyhow!("{e}"))?;
    tokenizer.with_padding(None);
    if tokenizer.token_to_id(PAD) != Some(0) {
        bail!("the tokenizer must map {PAD} to id 0 (the collator pads with 0)");
    }
    Ok(tokenizer)
}

/// Each id as its vocabulary entry ("#id" for an id the vocabulary lacks).
pub fn tokens_of(tokenizer: &Tokenizer, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&id| {
            tokenizer
                .id_to_token(id)
                .unwrap_or_else(|| format!("#{id}"))
        })
        .collect()
}

pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    // tokenizers 0.23 panics (`expect("Helper")`) on some malformed "decoder"
    // objects instead of returning its error; a damaged file is still an error.
    std::panic::catch_unwind(|| Tokenizer::from_file(path))
        .unwrap_or_else(|_| Err("its decoder section is malformed".into()))
        .map_err(|e| anyhow!("loading tokenizer {}: {e}", path.display()))
}

pub fn save_tokenizer(tokenizer: &Tokenizer, path: &Path) -> Result<()> {
    let json = tokenizer
        .to_string(false)
        .map_err(|e| anyhow!("serialising tokenizer: {e}"))?;
    crate::util::fsutil::atomic_write(path, json.as_bytes())
}

/// A BERT-style tokenizer over a fixed word list (specials first, so [PAD] = 0):
/// deterministic, unlike a trained vocabulary, so tests can rebuild it exactly.
pub fn fixed_vocab_tokenizer(words: &[&str]) -> Result<Tokenizer> {
    let lines: Vec<&str> = SPECIALS.iter().chain(words).copied().collect();
    let vocab = WordPiece::read_bytes(lines.join("\n").as_bytes()).map_err(|e| anyhow!("{e}"))?;
    let model = WordPiece::builder()
        .vocab(vocab)
        .unk_token("[UNK]".into())
        .build()
        .map_err(|e| anyhow!("{e}"))?;
    let mut tokenizer = bert_style(model)?;
    add_bert_processor(&mut tokenizer)?;
    Ok(tokenizer)
}

/// Lowercasing BERT normalizer and pre-tokenizer around a WordPiece model.
fn bert_style(model: WordPiece) -> Result<Tokenizer> {
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(BertNormalizer::default()))
        .map_err(|e| anyhow!("{e}"))?;
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    Ok(tokenizer)
}

/// [CLS] text [SEP], with the ids this vocabulary gives them.
fn add_bert_processor(tokenizer: &mut Tokenizer) -> Result<()> {
    let id = |t: &str| {
        tokenizer
            .token_to_id(t)
            .with_context(|| format!("the vocabulary lacks {t}"))
    };
    let processor = BertProcessing::new(
        ("[SEP]".into(), id("[SEP]")?),
        ("[CLS]".into(), id("[CLS]")?),
    );
    tokenizer.with_post_processor(Some(processor));
    Ok(())
}

/// BERT-style WordPiece (lowercase, [CLS] text [SEP]) with the specials first, so [PAD] = 0.
/// The same texts give the same vocabulary in every run: the library's own `train`
/// counts words in a hash map seeded anew per process, and the order it meets them in
/// numbers the `##` pieces, which break ties between equally frequent merges.
fn train_wordpiece(vocab_size: usize, texts: &[String]) -> Result<Tokenizer> {
    let mut tokenizer = bert_style(WordPiece::default())?;
    let specials = SPECIALS
        .iter()
        .map(|s| AddedToken::from(s.to_string(), true))
        .collect();
    let trainer = BpeTrainer::builder()
        .vocab_size(vocab_size)
        .special_tokens(specials)
        .continuing_subword_prefix("##".into())
        .show_progress(false)
        .build();
    let mut bpe = BPE::default();
    let specials = trainer
        .do_train(&word_counts(&tokenizer, texts)?, &mut bpe)
        .map_err(|e| anyhow!("training WordPiece: {e}"))?;
    tokenizer
        .with_model(WordPiece::from_bpe(&bpe))
        .add_special_tokens(specials)
        .map_err(|e| anyhow!("adding the special tokens: {e}"))?;
    add_bert_processor(&mut tokenizer)?;
    Ok(tokenizer)
}

/// How often each word (as `tokenizer`'s normalizer and pre-tokenizer cut it) occurs in
/// `texts`, in a map whose iteration order depends on nothing but its contents: fixed
/// seeds, words inserted in sorted order.
fn word_counts(tokenizer: &Tokenizer, texts: &[String]) -> Result<AHashMap<CompactString, u64>> {
    let normalizer = tokenizer
        .get_normalizer()
        .context("a tokenizer without a normalizer")?;
    let pre_tokenizer =
        (tokenizer.get_pre_tokenizer()).context("a tokenizer without a pre-tokenizer")?;
    let words_of = |text: &String| -> Result<Vec<String>> {
        let mut normalized = NormalizedString::from(text.as_str());
        normalizer
            .normalize(&mut normalized)
            .map_err(|e| anyhow!("normalizing a text: {e}"))?;
        let mut pre = PreTokenizedString::from(normalized);
        pre_tokenizer
            .pre_tokenize(&mut pre)
            .map_err(|e| anyhow!("splitting a text into words: {e}"))?;
        Ok(pre
            .get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(word, _, _)| word.to_owned())
            .collect())
    };
    let per_text: Vec<Vec<String>> = texts.par_iter().map(words_of).collect::<Result<_>>()?;
    let mut sorted: BTreeMap<&str, u64> = BTreeMap::new();
    for word in per_text.iter().flatten() {
        *sorted.entry(word).or_default() += 1;
    }
    let seeded = RandomState::with_seeds(1, 2, 3, 4);
    let mut counts = HashMap::with_capacity_and_hasher(sorted.len(), seeded);
    counts.extend(sorted.into_iter().map(|(w, n)| (CompactString::from(w), n)));
    Ok(counts.into())
}

/// Token ids per text, truncated, and each text's length before truncation.
pub struct Encoded {
    pub ids: Vec<Vec<u32>>,
    pub full_lengths: Vec<usize>,
}

/// `text` with every HTML line break (`<br />`, `<br/>`, `<br>`, any case, IMDb
/// writes `<br /><br />` between paragraphs) replaced by a space: the tokenizer
/// would split one into "<", "br", "/", ">", four tokens of noise the model
/// attends to and the figures show.
pub fn strip_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        let tag = &rest[at..];
        match line_break_len(tag) {
            Some(len) => {
                out.push(' ');
                rest = &tag[len..];
            }
            None => {
                out.push('<');
                rest = &tag[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The length in bytes of the `<br …>` tag that `tag` starts with, if it does.
fn line_break_len(tag: &str) -> Option<usize> {
    let bytes = tag.as_bytes();
    if bytes.len() < 4 || !bytes[1..3].eq_ignore_ascii_case(b"br") {
        return None;
    }
    let mut k = 3;
    while k < bytes.len() && (bytes[k] == b' ' || bytes[k] == b'/') {
        k += 1;
    }
    (k < bytes.len() && bytes[k] == b'>').then_some(k + 1)
}

/// Texts per `encode_batch` call. A tokenizers `Encoding` keeps every token's
/// string, offsets and masks beside its id, about 100 bytes a token: IMDb's
/// 25,000 test reviews at once held about 0.7 GB that their ids fit in 30 MB.
const ENCODE_CHUNK: usize = 1024;

/// Encode in parallel, a chunk at a time, handing each text's ids to `each`
/// in order; the encodings are dropped chunk by chunk.
pub fn encode_each<T: AsRef<str>>(
    tokenizer: &Tokenizer,
    texts: &[T],
    add_special_tokens: bool,
    mut each: impl FnMut(&[u32]),
) -> Result<()> {
    for chunk in texts.chunks(ENCODE_CHUNK) {
        let inputs: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
        let encodings = tokenizer
            .encode_batch(inputs, add_special_tokens)
            .map_err(|e| anyhow!("tokenizing: {e}"))?;
        encodings.iter().for_each(|e| each(e.get_ids()));
    }
    Ok(())
}

/// Encode with specials, then cut to `max_len` keeping [CLS] first and [SEP] last.
pub fn encode(
    tokenizer: &Tokenizer,
    texts: &[String],
    max_len: usize,
    truncate: Truncate,
) -> Result<Encoded> {
    let mut encoded = Encoded {
        ids: Vec::with_capacity(texts.len()),
        full_lengths: Vec::with_capacity(texts.len()),
    };
    encode_each(tokenizer, texts, true, |ids| {
        encoded.full_lengths.push(ids.len());
        encoded.ids.push(truncate_ids(ids, max_len, truncate));
    })?;
    Ok(encoded)
}

pub fn truncate_ids(ids: &[u32], max_len: usize, truncate: Truncate) -> Vec<u32> {
    if ids.len() <= max_len {
        return ids.to_vec();
    }
    let head = match truncate {
        Truncate::Head => max_len - 1, // then the final [SEP]
        Truncate::HeadTail => max_len / 2,
    };
    let tail = max_len - head;
    ids[..head]
        .iter()
        .chain(&ids[ids.len() - tail..])
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_become_spaces_and_other_angle_brackets_stay() {
        assert_eq!(strip_markup("Great.<br /><br />Bad."), "Great.  Bad.");
        assert_eq!(strip_markup("a<BR>b<br/>c<br  / >d"), "a b c d");
        assert_eq!(
            strip_markup("1 < 2 <brother> <b>x</b> <br"),
            "1 < 2 <brother> <b>x</b> <br"
        );
        // A review with paragraphs tokenises without the tag's pieces.
        let tokenizer = fixed_vocab_tokenizer(&["great", "film", "<", "br", "/", ">"]).unwrap();
        let ids = |text: &str| tokenizer.encode(text, false).unwrap().get_tokens().to_vec();
        assert_eq!(
            ids("great<br /><br />film"),
            ["great", "<", "br", "/", ">", "<", "br", "/", ">", "film"]
        );
        assert_eq!(
            ids(&strip_markup("great<br /><br />film")),
            ["great", "film"]
        );
    }

    #[test]
    fn truncation_keeps_cls_first_and_sep_last() {
        let ids: Vec<u32> = (0..10).collect(); // 0 = [CLS] ... 9 = [SEP] here
        assert_eq!(truncate_ids(&ids, 4, Truncate::Head), vec![0, 1, 2, 9]);
        assert_eq!(truncate_ids(&ids, 4, Truncate::HeadTail), vec![0, 1, 8, 9]);
        assert_eq!(truncate_ids(&ids, 12, Truncate::Head), ids);
    }

    #[test]
    fn tokenizer_specs_parse_and_bad_ones_explain() {
        assert_eq!(
            "bert-base-uncased".parse::<TokenizerSpec>().unwrap(),
            TokenizerSpec::Bert
        );
        assert_eq!(
            "wordpiece:8000".parse::<TokenizerSpec>().unwrap(),
            TokenizerSpec::WordPiece(8000)
        );
        assert!("wordpiece:x"
            .parse::<TokenizerSpec>()
            .unwrap_err()
            .to_string()
            .contains("vocabulary size"));
        assert!("gpt2".parse::<TokenizerSpec>().is_err());
    }

    #[test]
    fn a_trained_vocabulary_is_the_same_every_time() {
        // Every word once: every merge of a pair ties with others, the case where the
        // library's trainer let its per-process hash order choose.
        let texts: Vec<String> = (0..400u32)
            .map(|i| {
                let word: String = (0..6)
                    .map(|k| char::from(b'a' + ((i * 7 + k * 13 + i / 5) % 26) as u8))
                    .collect();
                format!("{word} {}", &word[2..])
            })
            .collect();
        let vocab = || {
            let mut v: Vec<(String, u32)> = build_tokenizer(&TokenizerSpec::WordPiece(300), &texts)
                .unwrap()
                .get_vocab(true)
                .into_iter()
                .collect();
            v.sort();
            v
        };
        let first = vocab();
        assert!(first.len() > 100, "{} pieces", first.len());
        for _ in 0..4 {
            assert_eq!(vocab(), first);
        }
    }
}
