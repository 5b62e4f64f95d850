//! Progress bars for long work: rate and ETA on a terminal, nothing in a pipe or log.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// A spinner with `message` and the time it has run, for work of unknown length.
pub fn spinner(message: String) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
            .expect("valid progress template"),
    );
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A bar over `len` units; `template` is indicatif's (`{bar}`, `{eta}`, `{msg}`...).
pub fn bar(len: u64, template: &str) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template(template).expect("valid progress template"));
    bar
}
