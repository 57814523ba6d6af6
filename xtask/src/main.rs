//! `cargo xtask`: builds and tests cakemt from a fresh Debian 12 machine.
//!
//! Every step is idempotent and cheap when its result is already there:
//! set-up installs only what is missing, the kernel is cached outside the
//! checkout keyed by version, config and toolchain, and tc by its patches.

mod guest;
mod kernel;
mod module;
mod setup;
mod tc;
mod util;

use std::process::ExitCode;
use util::{step, Result};

const USAGE: &str = "usage: cargo xtask <command>
  setup        install what the build and tests need (idempotent)
  kernel       build the guest kernel into the cache (prints its path)
  kdir         print the cached kernel tree (builds nothing)
  module       build cakemt.ko against KDIR (default: the cached kernel)
  tc           build the patched tc into the cache (prints its path)
  host-test    rustfmt, clippy and cargo test of the scheduling core
  guest-test   boot the kernel under virtme-ng and run tests/guest
  check        all of the above: what `make check` runs
  demo         thousands of tins, hosts in namespaces, traffic, rates";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::ensure(),
        Some("kernel") => kernel::build().map(|k| println!("{}", k.display())),
        Some("kdir") => kernel::dir().map(|k| println!("{}", k.display())),
        Some("module") => kernel::build().and_then(|k| module::build(&k)).map(|_| ()),
        Some("tc") => tc::build().map(|t| println!("{}", t.display())),
        Some("host-test") => host_test().map(|_| ()),
        Some("guest-test") => guest_test().map(|_| ()),
        Some("check") => check(),
        Some("demo") => demo(),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Counts of a test run.
#[derive(Default, Clone, Copy)]
struct Tally {
    passed: u64,
    failed: u64,
}

fn host_test() -> Result<Tally> {
    step("host tests: rustfmt, clippy, panic scan, cargo test");
    let root = util::repo_root();
    util::run(
        util::cmd("cargo")
            .args(["fmt", "--all", "--check"])
            .current_dir(&root),
    )?;
    util::run(
        util::cmd("cargo")
            .args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])
            .current_dir(&root),
    )?;
    // The module does not instantiate every generic path of the core yet:
    // scan them as the kernel would compile them for calls to panic.
    let panics = util::output(
        util::cmd("bash")
            .arg("tests/panicscan/scan.sh")
            .current_dir(&root),
    )?;
    if !panics.trim().is_empty() {
        return Err(format!("the scheduling core can panic:\n{panics}").into());
    }
    let out = util::run_tee(
        util::cmd("cargo")
            .args(["test", "--workspace"])
            .current_dir(&root),
    )?;
    let tally = util::cargo_tally(&out);
    println!(
        "host tests: {} passed, {} failed",
        tally.passed, tally.failed
    );
    Ok(tally)
}

fn guest_test() -> Result<Tally> {
    let kdir = kernel::build()?;
    let ko = module::build(&kdir)?;
    let tc = tc::build()?;
    guest::run_tests(&kdir, &ko, &tc)
}

fn check() -> Result<()> {
    setup::ensure()?;
    let host = host_test()?;
    let guest = guest_test()?;
    let passed = host.passed + guest.passed;
    let failed = host.failed + guest.failed;
    println!(
        "check: host {} passed, {} failed; guest {} passed, {} failed",
        host.passed, host.failed, guest.passed, guest.failed
    );
    println!("{passed} passed, {failed} failed");
    if failed != 0 {
        return Err("some tests failed".into());
    }
    Ok(())
}

fn demo() -> Result<()> {
    setup::ensure()?;
    let kdir = kernel::build()?;
    let ko = module::build(&kdir)?;
    let tc = tc::build()?;
    guest::run_script(&kdir, &ko, &tc, "scripts/demo.sh", &[])
}
