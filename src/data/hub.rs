//! Files from the Hugging Face Hub through hf-hub's sync API and the shared cache
//! (`HF_HOME`), so Python tools and xray reuse each other's downloads.

use anyhow::{anyhow, bail, Context, Result};
use hf_hub::api::sync::ApiBuilder;
use hf_hub::api::Progress;
use hf_hub::{Cache, Repo, RepoType};
use indicatif::ProgressBar;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// An unreachable endpoint must fail fast, not hang on a TCP connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// One file of one Hub repository.
#[derive(Clone, Debug)]
pub struct HubFile {
    pub repo: &'static str,
    pub kind: RepoType,
    pub path: String,
}

impl HubFile {
    pub fn dataset(repo: &'static str, path: impl Into<String>) -> Self {
        Self {
            repo,
            kind: RepoType::Dataset,
            path: path.into(),
        }
    }

    pub fn model(repo: &'static str, path: impl Into<String>) -> Self {
        Self {
            repo,
            kind: RepoType::Model,
            path: path.into(),
        }
    }

    fn repo(&self) -> Repo {
        Repo::new(self.repo.to_string(), self.kind)
    }

    fn describe(&self) -> String {
        format!("{} ({})", self.path, self.repo)
    }
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false" | "FALSE"))
}

fn endpoint() -> String {
    std::env::var("HF_ENDPOINT").unwrap_or_else(|_| DEFAULT_ENDPOINT.to_string())
}

/// The cached path of `file`, downloading it first when it is missing and we are online.
pub fn fetch(file: &HubFile) -> Result<PathBuf> {
    let cache = Cache::from_env();
    if let Some(path) = cache.repo(file.repo()).get(&file.path) {
        return Ok(path);
    }
    if offline() {
        bail!(
            "{} is not in the Hugging Face cache at {} and HF_HUB_OFFLINE is set: \
               unset HF_HUB_OFFLINE to download it, or point HF_HOME at a cache that holds it",
            file.describe(),
            cache.path().display()
        );
    }
    check_reachable(&endpoint())?;
    download(file)
}

/// Connect once with a timeout, so a dead network gives an error in seconds.
fn check_reachable(endpoint: &str) -> Result<()> {
    let url = endpoint.trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow!("HF_ENDPOINT {url} is not a URL"))?;
    let host_port = rest.split('/').next().unwrap_or(rest);
    let default_port = if scheme == "https" { 443 } else { 80 };
    let addr = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:{default_port}")
    };
    let unreachable = |why: String| {
        anyhow!(
            "cannot reach the Hugging Face Hub at {url} ({why}): \
        check the network or HF_ENDPOINT, or work offline with HF_HOME=<cache> HF_HUB_OFFLINE=1"
        )
    };
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .collect();
    let first = addrs
        .first()
        .ok_or_else(|| unreachable("no address".into()))?;
    TcpStream::connect_timeout(first, CONNECT_TIMEOUT).map_err(|e| unreachable(e.to_string()))?;
    Ok(())
}

fn download(file: &HubFile) -> Result<PathBuf> {
    let api = ApiBuilder::from_env()
        .with_progress(false)
        .with_retries(0)
        .build()?;
    let repo = api.repo(file.repo());
    let url = repo.url(&file.path);
    let progress = Bytes::new();
    let path = repo
        .download_with_progress(&file.path, progress.clone())
        .with_context(|| format!("downloading {url}"))?;
    progress.bar.finish_and_clear();
    // hf-hub renames whatever arrived into the cache: a short body must not stay there as complete.
    let got = std::fs::metadata(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let expected = progress.expected();
    if got != expected {
        let blob = std::fs::canonicalize(&path).ok();
        let _ = std::fs::remove_file(&path);
        if let Some(blob) = blob {
            let _ = std::fs::remove_file(blob);
        }
        bail!(
            "download of {url} was truncated: got {got} of {expected} bytes; \
             removed it from the cache, try again"
        );
    }
    Ok(path)
}

/// hf-hub's progress hook: an indicatif bar, and the size the server announced.
#[derive(Clone)]
struct Bytes {
    bar: ProgressBar,
    expected: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Bytes {
    fn new() -> Self {
        let bar = crate::util::progress::bar(
            0,
            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        );
        Self {
            bar,
            expected: Default::default(),
        }
    }

    fn expected(&self) -> u64 {
        self.expected.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Progress for Bytes {
    fn init(&mut self, size: usize, filename: &str) {
        self.expected
            .store(size as u64, std::sync::atomic::Ordering::Relaxed);
        self.bar.set_length(size as u64);
        self.bar.set_message(filename.to_string());
    }

    fn update(&mut self, size: usize) {
        self.bar.inc(size as u64);
    }

    fn finish(&mut self) {}
}
