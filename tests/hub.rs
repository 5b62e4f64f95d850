//! The real hf-hub download path against a loopback server that speaks the Hub's
//! `resolve` protocol, plus the offline and unreachable-endpoint errors.
//! One test function: the HF_* variables are process-wide.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use xray::data::hub::{fetch, HubFile};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const REPO: &str = "xray-test/tiny";

/// Serve `ok.bin` whole, `cut.bin` with half its body missing, anything else 404.
fn serve(body: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let mut range = String::new();
            reader.read_line(&mut request).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if line.to_ascii_lowercase().starts_with("range:") {
                    range = line[6..].trim().to_string();
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut stream = stream;
            let file = path.rsplit('/').next().unwrap_or("");
            if !path.starts_with(&format!("/datasets/{REPO}/resolve/main/"))
                || !["ok.bin", "cut.bin"].contains(&file)
            {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                continue;
            }
            let sent: &[u8] = if range == "bytes=0-0" {
                &body[..1]
            } else if file == "cut.bin" {
                &body[..body.len() / 2]
            } else {
                body
            };
            let head = format!(
                "HTTP/1.1 206 Partial Content\r\netag: \"{file}-etag\"\r\n\
                 x-repo-commit: {COMMIT}\r\n\
                 content-range: bytes 0-{}/{}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                sent.len() - 1,
                body.len(),
                sent.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(sent);
        }
    });
    format!("http://{addr}")
}

fn set_env(home: &std::path::Path, endpoint: Option<&str>, offline: bool) {
    std::env::set_var("HF_HOME", home);
    match endpoint {
        Some(e) => std::env::set_var("HF_ENDPOINT", e),
        None => std::env::remove_var("HF_ENDPOINT"),
    }
    if offline {
        std::env::set_var("HF_HUB_OFFLINE", "1");
    } else {
        std::env::remove_var("HF_HUB_OFFLINE");
    }
}

fn err(file: &HubFile) -> String {
    format!("{:#}", fetch(file).expect_err("fetch must fail"))
}

#[test]
fn hub_download_offline_and_unreachable_paths() {
    static BODY: [u8; 5000] = [7; 5000];
    let endpoint = serve(&BODY);
    let home = tempfile::tempdir().unwrap();
    let ok = HubFile::dataset(REPO, "ok.bin");

    // Online: the file lands in the cache, and a second fetch reads it from there.
    set_env(home.path(), Some(&endpoint), false);
    let path = fetch(&ok).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), BODY);
    assert!(path.starts_with(home.path().join("hub").join("datasets--xray-test--tiny")));

    // A 404 names the URL.
    let missing = err(&HubFile::dataset(REPO, "nope.bin"));
    assert!(
        missing.contains("resolve/main/nope.bin") && missing.contains("404"),
        "{missing}"
    );

    // A truncated body is refused and not left in the cache as if complete.
    let cut = HubFile::dataset(REPO, "cut.bin");
    let truncated = err(&cut);
    assert!(
        truncated.contains("truncated: got 2500 of 5000 bytes"),
        "{truncated}"
    );
    set_env(home.path(), Some(&endpoint), true);
    assert!(
        err(&cut).contains("not in the Hugging Face cache"),
        "the truncated file was cached"
    );

    // Offline, the cached file is still there; an empty cache says what to set.
    assert_eq!(fetch(&ok).unwrap(), path);
    let empty = tempfile::tempdir().unwrap();
    set_env(empty.path(), None, true);
    let offline = err(&ok);
    assert!(
        offline.contains("ok.bin (xray-test/tiny) is not in the Hugging Face cache")
            && offline.contains("HF_HUB_OFFLINE")
            && offline.contains("HF_HOME"),
        "{offline}"
    );

    // A dead endpoint fails fast with the variables to check.
    set_env(empty.path(), Some("http://127.0.0.1:9"), false);
    let start = Instant::now();
    let dead = err(&ok);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        dead.contains("cannot reach the Hugging Face Hub at http://127.0.0.1:9")
            && dead.contains("HF_ENDPOINT"),
        "{dead}"
    );
}
