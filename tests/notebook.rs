//! notebooks/walkthrough.ipynb is a valid nbformat 4 notebook with a Python
//! kernel, committed with its outputs; every `xray` command in it is one the CLI
//! accepts (parsed by the real clap definition), and every piece of source it
//! shows still exists. `.ci/run` also executes it top to bottom.

use clap::Parser;
use serde_json::Value;
use std::process::Command;
use xray::cli::Cli;

fn notebook() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/notebooks/walkthrough.ipynb");
    let text = std::fs::read_to_string(path).expect("notebooks/walkthrough.ipynb");
    serde_json::from_str(&text).expect("the notebook is not valid JSON")
}

/// The calls `name(...)` in the notebook's code cells, each as its arguments:
/// a string literal's text, or `None` for a Python name (a path the notebook
/// builds, such as RUN or OUT).
fn calls(nb: &Value, name: &str) -> Vec<Vec<Option<String>>> {
    let code: String = nb["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .filter(|c| c["cell_type"] == "code")
        .flat_map(|c| c["source"].as_array().expect("source lines"))
        .filter_map(Value::as_str)
        .collect();
    let open = format!("{name}(");
    let mut found = Vec::new();
    for (at, _) in code.match_indices(&open) {
        let before = code[..at].chars().last().unwrap_or(' ');
        if before.is_alphanumeric() || before == '_' || before == '.' {
            continue; // another function whose name ends in `name`
        }
        found.push(arguments(&code[at + open.len()..]));
    }
    found
}

/// The comma-separated arguments up to the call's closing parenthesis.
fn arguments(rest: &str) -> Vec<Option<String>> {
    let (mut args, mut arg, mut quoted, mut depth) = (Vec::new(), String::new(), false, 0);
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            ')' | ',' if !quoted => {
                let word = std::mem::take(&mut arg);
                let word = word.trim();
                if !word.is_empty() {
                    args.push(
                        word.strip_prefix('"')
                            .map(|w| w.trim_end_matches('"').to_string()),
                    );
                }
                if c == ')' {
                    return args;
                }
                continue;
            }
            _ => {}
        }
        arg.push(c);
    }
    panic!("unclosed call: {rest}")
}

/// The `xray(...)` and `xray_json(...)` commands, as command lines.
fn xray_commands(nb: &Value) -> Vec<Vec<String>> {
    ["xray", "xray_json"]
        .iter()
        .flat_map(|name| calls(nb, name))
        .map(|args| {
            let mut words = vec!["xray".to_string()];
            words.extend(
                args.into_iter()
                    .map(|a| a.unwrap_or_else(|| "target/notebook".into())),
            );
            words
        })
        .collect()
}

#[test]
fn the_notebook_is_nbformat_4_with_a_python_kernel() {
    let nb = notebook();
    assert_eq!(nb["nbformat"], 4);
    assert_eq!(nb["metadata"]["kernelspec"]["language"], "python");
    let cells = nb["cells"].as_array().expect("cells");
    assert!(cells.len() > 10, "only {} cells", cells.len());
    for cell in cells {
        let kind = cell["cell_type"].as_str().expect("cell_type");
        assert!(kind == "markdown" || kind == "code", "cell type {kind}");
        assert!(cell["source"].is_array(), "source of a {kind} cell");
        if kind == "code" {
            assert!(cell["outputs"].is_array() && cell.get("execution_count").is_some());
        }
    }
}

#[test]
fn every_xray_command_in_the_notebook_is_accepted_by_the_cli() {
    let commands = xray_commands(&notebook());
    let subcommands: Vec<&str> = commands.iter().map(|c| c[1].as_str()).collect();
    for step in ["fetch", "train", "inspect", "eval", "predict", "attn"] {
        assert!(
            subcommands.contains(&step),
            "no `xray {step}` in the notebook"
        );
    }
    for words in &commands {
        if let Err(err) = Cli::try_parse_from(words) {
            panic!("`{}` is rejected:\n{err}", words.join(" "));
        }
        let help = Command::new(env!("CARGO_BIN_EXE_xray"))
            .args([&words[1], "--help"])
            .output()
            .expect("run xray");
        assert!(help.status.success(), "xray {} --help failed", words[1]);
    }
}

#[test]
fn a_misspelt_flag_is_rejected_so_the_check_above_can_fail() {
    let nb: Value = serde_json::json!({"cells": [{"cell_type": "code", "source": [
        "xray(\"train\", \"--dataset\", \"imdb\", \"--epoch\", \"1\", \"--out\", OUT)"
    ]}]});
    let words = &xray_commands(&nb)[0];
    assert_eq!(
        words[..6],
        ["xray", "train", "--dataset", "imdb", "--epoch", "1"]
    );
    assert!(Cli::try_parse_from(words).is_err());
}

/// The block's code is shown from the source files at run time; every item the
/// notebook names must still be there, so the notebook cannot drift from the code.
#[test]
fn every_source_item_the_notebook_shows_exists() {
    let shown = calls(&notebook(), "show_rust");
    let files: Vec<String> = shown
        .iter()
        .map(|a| a[0].clone().expect("a literal path"))
        .collect();
    for file in [
        "attention.rs",
        "mask.rs",
        "ffn.rs",
        "norm.rs",
        "block.rs",
        "classifier.rs",
    ] {
        let path = format!("src/model/{file}");
        let shown_here = files.contains(&path)
            || (file == "norm.rs" && files.iter().any(|f| f.ends_with("rms_norm.rs")));
        assert!(shown_here, "the notebook shows nothing of {path}");
    }
    for args in &shown {
        let path = args[0].as_deref().expect("a literal path");
        let text =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        for needle in args[1..]
            .iter()
            .map(|n| n.as_deref().expect("a literal needle"))
        {
            assert!(text.contains(needle), "{path} no longer holds {needle:?}");
        }
    }
}

/// The committed notebook carries the outputs of a run top to bottom: every code
/// cell ran, in order, and none failed.
#[test]
fn the_committed_notebook_was_executed_without_errors() {
    let nb = notebook();
    let code: Vec<&Value> = nb["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .filter(|c| c["cell_type"] == "code")
        .collect();
    for (i, cell) in code.iter().enumerate() {
        assert_eq!(
            cell["execution_count"],
            i + 1,
            "code cell {i} not run in order"
        );
        let outputs = cell["outputs"].as_array().expect("outputs");
        assert!(!outputs.is_empty(), "code cell {i} has no output");
        assert!(
            outputs.iter().all(|o| o["output_type"] != "error"),
            "code cell {i} failed"
        );
    }
    let images = code
        .iter()
        .flat_map(|c| c["outputs"].as_array().unwrap())
        .filter(|o| {
            o["data"]["image/png"].is_string()
                || o["data"]["text/html"]
                    .to_string()
                    .contains("data:image/png")
        })
        .count();
    assert!(images >= 5, "only {images} figures inline");
}
