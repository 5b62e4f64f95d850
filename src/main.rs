//! The `xray` binary: parse the command line, dispatch, print one clean error line.

use anyhow::Result;
use clap::Parser;
use std::sync::atomic::Ordering;
use xray::attn::faithfulness::comprehensiveness;
use xray::attn::{xray_attention, Choice};
use xray::cli::{
    AttnCmd, Cli, Command, Common, EvalCmd, FetchCmd, PredictCmd, ProfileCmd, TrainCmd,
};
use xray::device::{select_device, set_threads};
use xray::profile::{model_for_profile, profile, ProfileArgs};
use xray::saved_run::{resolve_run, SavedRun};
use xray::train::report::{default_run_name, RunFiles};
use xray::train::run::{self, Control, Outcome};

/// The shell's convention for "stopped by Ctrl-C".
const EXIT_INTERRUPTED: i32 = 130;

fn main() {
    xray::alloc::keep_freed_memory();
    let cli = Cli::parse();
    match try_main(cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(1);
        }
    }
}

fn try_main(cli: Cli) -> Result<i32> {
    set_threads(cli.common.threads);
    match cli.command {
        Command::Fetch(cmd) => fetch(cmd).map(|_| 0),
        Command::Train(cmd) => train(*cmd, &cli.common),
        Command::Eval(cmd) => eval(cmd, &cli.common).map(|_| 0),
        Command::Predict(cmd) => predict(cmd, &cli.common).map(|_| 0),
        Command::Attn(cmd) => attn(cmd, &cli.common).map(|_| 0),
        Command::Profile(cmd) => run_profile(cmd, &cli.common).map(|_| 0),
    }
}

fn fetch(cmd: FetchCmd) -> Result<()> {
    xray::fetch::fetch_dataset(&cmd.dataset, &cmd.tokenizer, cmd.max_len)?;
    Ok(())
}

fn train(cmd: TrainCmd, common: &Common) -> Result<i32> {
    let device = select_device(common.device)?;
    let control = Control {
        stop_after_steps: cmd.stop_after_steps,
        ..Control::default()
    };
    let flag = control.interrupt.clone();
    ctrlc::set_handler(move || {
        eprintln!("\ninterrupted: saving a checkpoint after this step (Ctrl-C again to abort without saving)");
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(EXIT_INTERRUPTED);
        }
    })?;
    let outcome = match (&cmd.resume, &cmd.dataset) {
        (Some(dir), _) => {
            let dir = resolve_run(dir.as_deref(), &cmd.out)?;
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            run::resume(&RunFiles::new(&cmd.out, &name), &device, &control)?
        }
        (None, Some(dataset)) => {
            let opts = cmd.options(dataset.clone());
            let name = cmd
                .name
                .clone()
                .unwrap_or_else(|| default_run_name(&dataset.name(), opts.model.arch));
            run::train(opts, &RunFiles::new(&cmd.out, &name), &device, &control)?
        }
        (None, None) => unreachable!("clap requires --dataset unless --resume"),
    };
    match outcome {
        Outcome::Finished(_) => Ok(0),
        Outcome::Interrupted(dir) => {
            eprintln!(
                "stopped; resume with: xray train --resume {}",
                dir.display()
            );
            Ok(EXIT_INTERRUPTED)
        }
    }
}

fn eval(cmd: EvalCmd, common: &Common) -> Result<()> {
    let device = select_device(common.device)?;
    let saved = SavedRun::open(&resolve_run(cmd.run.as_deref(), &cmd.out)?, &device)?;
    let data = match &cmd.data {
        Some(path) => saved.file(path)?,
        None => saved.split(&cmd.split)?,
    };
    let result = saved.evaluate(&data, &device)?;
    let report = serde_json::json!({
        "run": saved.dir,
        "data": cmd.data.as_ref().map_or(cmd.split.clone(), |p| p.display().to_string()),
        "examples": data.labels.len(),
        "loss": result.loss,
        "accuracy": result.scores.accuracy,
        "macro_f1": result.scores.macro_f1,
        "confusion": result.scores.confusion,
        "per_class": result.scores.per_class,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn predict(cmd: PredictCmd, common: &Common) -> Result<()> {
    let device = select_device(common.device)?;
    let saved = SavedRun::open(&resolve_run(cmd.run.as_deref(), &cmd.out)?, &device)?;
    let probs = saved.predict(&cmd.texts, &device)?;
    for (text, p) in cmd.texts.iter().zip(&probs) {
        let (best, prob) = p
            .iter()
            .enumerate()
            .fold((0, 0.0f32), |b, (i, &x)| if x > b.1 { (i, x) } else { b });
        let label = &saved.labels[best];
        if cmd.json {
            let all: serde_json::Map<String, serde_json::Value> = saved
                .labels
                .iter()
                .zip(p)
                .map(|(l, &x)| (l.clone(), serde_json::json!(x)))
                .collect();
            println!(
                "{}",
                serde_json::json!({ "text": text, "label": label, "probability": prob, "probabilities": all })
            );
        } else {
            let excerpt: String = text.chars().take(70).collect();
            println!(
                "{label:>10}  {prob:.3}  {excerpt}{}",
                if text.chars().count() > 70 { "…" } else { "" }
            );
        }
    }
    Ok(())
}

fn attn(cmd: AttnCmd, common: &Common) -> Result<()> {
    let device = select_device(common.device)?;
    let saved = SavedRun::open(&resolve_run(cmd.run.as_deref(), &cmd.out)?, &device)?;
    let choice = match (cmd.text.is_empty(), cmd.index.is_empty()) {
        (false, _) => Choice::Texts(cmd.text),
        (true, false) => Choice::Indices(cmd.index),
        (true, true) => Choice::Examples(cmd.example),
    };
    let output = xray_attention(
        &saved,
        &choice,
        &cmd.out.join("figures"),
        cmd.compare_causal,
        &device,
    )?;
    for path in &output.written {
        println!("wrote {}", path.display());
    }
    let figures = cmd.out.join("figures");
    if cmd.json {
        let path = figures.join("attn_examples.json");
        xray::fsutil::atomic_write(
            &path,
            &serde_json::to_vec(&serde_json::json!({ "examples": output.examples }))?,
        )?;
        println!("wrote {}", path.display());
    }
    if cmd.html {
        // The page needs the readable windows only; full matrices would make it tens of MB.
        let light: Vec<_> = output
            .examples
            .into_iter()
            .map(|e| xray::attn::ExampleRecord {
                layers: Vec::new(),
                ..e
            })
            .collect();
        let path = figures.join("attn.html");
        xray::viz::html::write_attention_page(&serde_json::json!({ "examples": light }), &path)?;
        println!("wrote {}", path.display());
    }
    if cmd.faithfulness > 0 {
        let f = comprehensiveness(&saved, &saved.split("val")?, cmd.faithfulness, &device)?;
        println!("faithfulness over {} validation examples, deleting the top {:.0}% of tokens: predicted-class \
                  probability drops by {:.4} (last-layer attention), {:.4} (rollout), {:.4} (random tokens)",
            f.examples, 100.0 * f.delete_frac, f.attention, f.rollout, f.random);
        let summaries = [
            saved.dir.join("run_summary.json"),
            cmd.out.join("metrics").join("run_summary.json"),
        ];
        record_in_run_summaries(&summaries, &saved.dir, &f)?;
        let json = serde_json::to_vec_pretty(&f)?;
        for path in [
            saved.dir.join("faithfulness.json"),
            cmd.out.join("metrics").join("faithfulness.json"),
        ] {
            xray::fsutil::atomic_write(&path, &json)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// Add the faithfulness figures to the run summaries that exist (the run's own, and metrics/ when it
/// describes the same run).
fn record_in_run_summaries(
    paths: &[std::path::PathBuf],
    run: &std::path::Path,
    f: &xray::attn::faithfulness::Faithfulness,
) -> Result<()> {
    for path in paths.iter().filter(|p| p.is_file()) {
        let text = std::fs::read_to_string(path)?;
        let mut summary: serde_json::Value = serde_json::from_str(&text)?;
        let same_run = summary["run"]
            .as_str()
            .and_then(|r| std::path::Path::new(r).canonicalize().ok())
            .as_deref()
            == Some(run);
        if let (true, Some(map)) = (same_run, summary.as_object_mut()) {
            map.insert("faithfulness".into(), serde_json::to_value(f)?);
            xray::fsutil::atomic_write(path, &serde_json::to_vec_pretty(&summary)?)?;
        }
    }
    Ok(())
}

fn run_profile(cmd: ProfileCmd, common: &Common) -> Result<()> {
    anyhow::ensure!(
        !cmd.amp,
        "--amp: mixed precision is not implemented yet; profile in f32 without --amp"
    );
    let device = select_device(common.device)?;
    let longest = cmd.sweep.iter().copied().max().unwrap_or(cmd.seq_len);
    let (model, varmap, config) = model_for_profile(cmd.run.as_deref(), longest, &device)?;
    let lengths = if cmd.sweep.is_empty() {
        vec![cmd.seq_len]
    } else {
        cmd.sweep.clone()
    };
    let mut reports = Vec::new();
    for seq_len in lengths {
        let args = ProfileArgs {
            seq_len,
            batch_size: cmd.batch_size,
            steps: cmd.steps,
            train: cmd.train,
        };
        let report = profile(&model, &varmap, &config, &args, &device)?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        reports.push(report);
    }
    if !cmd.sweep.is_empty() {
        let json = cmd.out.join("metrics").join("profile_sweep.json");
        xray::fsutil::atomic_write(&json, &serde_json::to_vec_pretty(&reports)?)?;
        let png = cmd.out.join("figures").join("profile_seq_len.png");
        std::fs::create_dir_all(cmd.out.join("figures"))?;
        xray::viz::sweep::draw_sweep(&reports, cmd.train, &png)?;
        eprintln!("wrote {} and {}", json.display(), png.display());
    }
    Ok(())
}
