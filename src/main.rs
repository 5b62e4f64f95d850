//! The `xray` binary: parse the command line, dispatch to the mode's own module,
//! print one clean error line.

use anyhow::Result;
use clap::Parser;
use xray::cli::{Cli, Command};
use xray::util::usage::UsageError;

/// A bad option (SPEC: 2, as clap's own usage errors).
const EXIT_USAGE: i32 = 2;

fn main() {
    xray::util::alloc::keep_freed_memory();
    let cli = Cli::parse();
    match try_main(cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            let usage = err.downcast_ref::<UsageError>().is_some();
            std::process::exit(if usage { EXIT_USAGE } else { 1 });
        }
    }
}

fn try_main(cli: Cli) -> Result<i32> {
    cli.common.check()?;
    xray::util::device::set_threads(cli.common.threads);
    let common = &cli.common;
    match cli.command {
        Command::Fetch(cmd) => {
            xray::modes::fetch::fetch_dataset(&cmd.dataset, &cmd.tokenizer, cmd.max_len).map(|_| 0)
        }
        Command::Train(cmd) => xray::train::command::run(cmd.request(common)?),
        Command::Pretrain(cmd) => xray::pretrain::command::run(cmd.request(common)?),
        Command::Gain(cmd) => xray::modes::gain::run(&cmd.runs, &cmd.root.dir).map(|_| 0),
        Command::Eval(cmd) => xray::modes::eval::run(cmd.request(common)?).map(|_| 0),
        Command::Predict(cmd) => xray::modes::predict::run(cmd.request(common)?).map(|_| 0),
        Command::Attn(cmd) => xray::attn::command::run(cmd.request(common)?).map(|_| 0),
        Command::Inspect(cmd) => xray::modes::inspect::run(cmd.request(common)?).map(|_| 0),
        Command::Profile(cmd) => xray::modes::profile::run(cmd.request(common)?).map(|_| 0),
        Command::Video(cmd) => xray::video::run(&cmd.options()).map(|_| 0),
    }
}
