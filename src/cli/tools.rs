//! The tools around the runs: `profile`, `fetch`, `gain` and `video`.

use super::{Common, Root};
use crate::data::dataset::DatasetSpec;
use crate::data::tokenize::{TokenizerSpec, DEFAULT_TOKENIZER};
use crate::model::Config;
use crate::modes::profile::ProfileArgs;
use crate::util::usage::require_in;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ProfileCmd {
    /// Run folder whose model to profile (default: a freshly initialised default model).
    #[arg(long)]
    pub run: Option<PathBuf>,
    #[arg(long, default_value_t = ProfileArgs::default().seq_len)]
    pub seq_len: usize,
    #[arg(long, default_value_t = ProfileArgs::default().batch_size)]
    pub batch_size: usize,
    /// Timed steps, after 5 warm-up steps.
    #[arg(long, default_value_t = ProfileArgs::default().steps)]
    pub steps: usize,
    /// Time training steps (forward, backward, AdamW; 30% of each row padded) instead.
    #[arg(long)]
    pub train: bool,
    /// Profile each of these sequence lengths; draws figures/profile_seq_len.png.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub sweep: Vec<usize>,
    /// Accepted for the brief's command line; mixed precision is not implemented, so it is refused.
    #[arg(long)]
    pub amp: bool,
    #[command(flatten)]
    pub root: Root,
}

impl ProfileCmd {
    /// The checked request `profile::run` takes.
    pub fn request(
        &self,
        common: &Common,
    ) -> anyhow::Result<crate::modes::profile::ProfileRequest> {
        self.check()?;
        Ok(crate::modes::profile::ProfileRequest {
            run: self.run.clone(),
            args: ProfileArgs {
                seq_len: self.seq_len,
                batch_size: self.batch_size,
                steps: self.steps,
                train: self.train,
            },
            sweep: self.sweep.clone(),
            amp: self.amp,
            out: self.root.dir.clone(),
            device: common.device,
        })
    }

    fn check(&self) -> anyhow::Result<()> {
        use crate::model::config::{MAX_LEN_LIMIT, MIN_LEN};
        // Sequence lengths within the bounds of a model's --max-len.
        for (flag, n, (min, max)) in [
            ("--seq-len", self.seq_len, (MIN_LEN, MAX_LEN_LIMIT)),
            ("--batch-size", self.batch_size, (1, 4096)),
            ("--steps", self.steps, (1, 1_000_000)),
        ]
        .into_iter()
        .chain(
            self.sweep
                .iter()
                .map(|&n| ("--sweep", n, (MIN_LEN, MAX_LEN_LIMIT))),
        ) {
            require_in(flag, n, (min, max))?;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct FetchCmd {
    /// imdb or ag_news (honours HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE).
    #[arg(long)]
    pub dataset: DatasetSpec,
    /// bert-base-uncased, or wordpiece:N (trained at `train` time, nothing to fetch).
    #[arg(long, default_value = DEFAULT_TOKENIZER)]
    pub tokenizer: TokenizerSpec,
    /// Length (special tokens included) whose truncation share the summary reports.
    #[arg(long, default_value_t = Config::default().max_len)]
    pub max_len: usize,
}

#[derive(Debug, Args)]
pub struct GainCmd {
    /// Finished training runs (`xray train`, with or without --init).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub root: Root,
}

#[derive(Debug, Args)]
pub struct VideoCmd {
    /// The root the run wrote its figures/ and metrics/ into (`--out` of train and attn).
    #[arg(long = "from", visible_alias = "run", default_value = ".")]
    pub from: PathBuf,
    /// Language of the captions and the voice.
    #[arg(long, value_enum, default_value_t = crate::video::Lang::En)]
    pub lang: crate::video::Lang,
    /// Narrate the captions with espeak-ng; each slide lasts as long as its sentence.
    #[arg(long)]
    pub voice: bool,
    /// The MP4 to write (H.264 + AAC, 1280x720).
    #[arg(long, default_value = "video/xray.mp4")]
    pub out: PathBuf,
    /// Write the frames (PNG), the narration script and, with --voice, the narration
    /// to this folder instead of encoding: no ffmpeg needed.
    #[arg(long, value_name = "DIR")]
    pub frames_only: Option<PathBuf>,
    /// Show the PNG figures even when Chromium could browse figures/attn.html.
    #[arg(long)]
    pub no_browser: bool,
}

impl VideoCmd {
    pub fn options(&self) -> crate::video::VideoOptions {
        crate::video::VideoOptions {
            from: self.from.clone(),
            lang: self.lang,
            voice: self.voice,
            out: self.out.clone(),
            frames_only: self.frames_only.clone(),
            browse: !self.no_browser,
        }
    }
}
