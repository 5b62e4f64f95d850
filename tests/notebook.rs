//! notebooks/walkthrough.ipynb is a valid nbformat 4 notebook with a Python
//! kernel, and every `xray` command in it is one the CLI accepts: parsed by the
//! real clap definition, and its subcommand's `--help` runs.

use clap::Parser;
use serde_json::Value;
use std::process::Command;
use xray::cli::Cli;

fn notebook() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/notebooks/walkthrough.ipynb");
    let text = std::fs::read_to_string(path).expect("notebooks/walkthrough.ipynb");
    serde_json::from_str(&text).expect("the notebook is not valid JSON")
}

/// Shell words: whitespace-separated, double quotes group and are removed.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    assert!(!quoted, "unbalanced quotes in: {line}");
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The `!xray ...` lines of the code cells.
fn xray_commands(nb: &Value) -> Vec<Vec<String>> {
    let cells = nb["cells"].as_array().expect("cells");
    cells
        .iter()
        .filter(|c| c["cell_type"] == "code")
        .flat_map(|c| c["source"].as_array().expect("source lines").iter())
        .filter_map(|line| line.as_str()?.trim().strip_prefix("!xray "))
        .map(|rest| {
            let mut words = vec!["xray".to_string()];
            words.extend(shell_words(rest));
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
    for step in ["fetch", "train", "eval", "predict", "attn", "profile"] {
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
    let words = shell_words("xray train --dataset imdb --epoch 1");
    assert!(Cli::try_parse_from(&words).is_err());
}
