//! The `xray` binary: parse the command line, dispatch, print one clean error line.

use anyhow::Result;
use clap::Parser;
use xray::cli::{Cli, Command, Common, FetchCmd, ProfileCmd};
use xray::device::{select_device, set_threads};
use xray::profile::{model_for_profile, profile_forward, ProfileArgs};

fn main() {
    let cli = Cli::parse();
    if let Err(err) = try_main(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn try_main(cli: Cli) -> Result<()> {
    set_threads(cli.common.threads);
    match cli.command {
        Command::Fetch(cmd) => fetch(cmd),
        Command::Profile(cmd) => profile(cmd, &cli.common),
    }
}

fn fetch(cmd: FetchCmd) -> Result<()> {
    xray::fetch::fetch_dataset(&cmd.dataset, &cmd.tokenizer, cmd.max_len)?;
    Ok(())
}

fn profile(cmd: ProfileCmd, common: &Common) -> Result<()> {
    let device = select_device(common.device)?;
    let (model, config, params) = model_for_profile(cmd.run.as_deref(), &device)?;
    let args = ProfileArgs {
        seq_len: cmd.seq_len,
        batch_size: cmd.batch_size,
        steps: cmd.steps,
    };
    let report = profile_forward(&model, &config, params, &args, &device)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
