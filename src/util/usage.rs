//! Usage errors: an option out of range is the user's to fix, and main exits
//! with 2 for it, as clap does for the errors it catches itself. Every layer
//! that checks an option raises them from here, below the command line.

/// An option out of range, with what to do about it.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Ok when `ok`, else a UsageError saying `message`.
pub fn require(ok: bool, message: impl FnOnce() -> String) -> anyhow::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(UsageError(message()).into())
    }
}

/// Ok when `flag`'s value `n` lies in `min..=max`, else "FLAG N: use MIN to MAX".
pub fn require_in(flag: &str, n: usize, (min, max): (usize, usize)) -> anyhow::Result<()> {
    require((min..=max).contains(&n), || {
        format!("{flag} {n}: use {min} to {max}")
    })
}
