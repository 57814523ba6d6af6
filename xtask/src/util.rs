//! Small helpers: running commands with their output shown, paths, progress.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Errors are messages for the operator.
pub type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// Prints a progress line that stands out in long logs.
pub fn step(what: &str) {
    println!("==> {what}");
}

/// The checkout this xtask belongs to.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a subdirectory of the repository")
        .to_path_buf()
}

/// Where built artefacts shared between checkouts live
/// (`$CAKEMT_CACHE`, default `~/.cache/cakemt`).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CAKEMT_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/cakemt")
}

/// A command; shorthand for `Command::new`.
pub fn cmd(program: &str) -> Command {
    Command::new(program)
}

fn describe(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `c` with inherited output; an error if it fails.
pub fn run(c: &mut Command) -> Result<()> {
    let status = c
        .status()
        .map_err(|e| format!("cannot run `{}`: {e}", describe(c)))?;
    if !status.success() {
        return Err(format!("`{}` failed ({status})", describe(c)).into());
    }
    Ok(())
}

/// Runs `c` and returns its standard output (errors pass through).
pub fn output(c: &mut Command) -> Result<String> {
    let out = c
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", describe(c)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({})", describe(c), out.status).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `c`, printing its merged output as it comes and returning it too.
pub fn run_tee(c: &mut Command) -> Result<String> {
    let (status, text) = tee(c)?;
    if !status.success() {
        return Err(format!("`{}` failed ({status})", describe(c)).into());
    }
    Ok(text)
}

/// Like [`run_tee`], but returns the exit status instead of failing.
pub fn tee(c: &mut Command) -> Result<(std::process::ExitStatus, String)> {
    tee_prefixed(c, "")
}

/// [`tee`] with every printed line prefixed (which guest printed it).
pub fn tee_prefixed(c: &mut Command, prefix: &str) -> Result<(std::process::ExitStatus, String)> {
    let (reader, writer) = std::io::pipe()?;
    let mut child = c
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", describe(c)))?;
    // Drop our copies of the write end, or the read loop never ends.
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut text = String::new();
    for line in BufReader::new(reader).lines() {
        let line = line.unwrap_or_default();
        println!("{prefix}{line}");
        text.push_str(&line);
        text.push('\n');
    }
    Ok((child.wait()?, text))
}

/// Does `c` run and exit 0? (Output discarded.)
pub fn succeeds(c: &mut Command) -> bool {
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// First 12 hex digits of the SHA-256 of `data` (via coreutils' sha256sum).
pub fn short_hash(data: &[u8]) -> Result<String> {
    use std::io::Write;
    let mut child = cmd("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child.stdin.take().ok_or("no stdin")?.write_all(data)?;
    let mut out = String::new();
    child
        .stdout
        .take()
        .ok_or("no stdout")?
        .read_to_string(&mut out)?;
    child.wait()?;
    Ok(out.chars().take(12).collect())
}

/// Sums the `test result:` lines of cargo test output.
pub fn cargo_tally(out: &str) -> crate::Tally {
    let mut t = crate::Tally::default();
    for line in out.lines().filter(|l| l.starts_with("test result:")) {
        let num_before = |word: &str| -> u64 {
            line.split(';')
                .find(|part| part.trim_end().ends_with(word))
                .and_then(|part| part.split_whitespace().rev().nth(1)?.parse().ok())
                .unwrap_or(0)
        };
        t.passed += num_before("passed");
        t.failed += num_before("failed");
    }
    t
}

/// Measures how long `f` takes and reports it.
pub fn timed<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = Instant::now();
    let r = f()?;
    println!("==> {what}: {:.1} s", start.elapsed().as_secs_f64());
    Ok(r)
}
