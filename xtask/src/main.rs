//! `cargo xtask`: builds and tests cakemt from a fresh Debian 12 machine.
//!
//! Every step is idempotent and cheap when its result is already there:
//! set-up installs only what is missing, the kernel is cached outside the
//! checkout keyed by version, config and toolchain, and tc by its patches.

mod bench;
mod guest;
mod kernel;
mod module;
mod setup;
mod tc;
mod util;

use kernel::Flavour;
use std::path::PathBuf;
use std::process::ExitCode;
use util::{step, Result};

const USAGE: &str = "usage: cargo xtask <command>
  setup        install what the build and tests need (idempotent)
  kernel [debug]    build the lean (or debug) guest kernel into the cache, print its path
  kdir [debug]      print the cached kernel tree (builds nothing)
  module [debug]    build cakemt.ko against KDIR (default: the cached kernel), print its path
  tc                build the patched tc into the cache (prints its path)
  host-test         rustfmt, clippy and cargo test of the scheduling core
  guest-test [FILTER]
                    rate tests on the lean kernel, functional tests on the debug
                    kernel (FILTER: only tests whose name contains it)
  check             all of the above: what `make check` runs
  demo              thousands of tins, hosts in namespaces, traffic, rates
  bench [--quick|--smoke] [--memory SIZE]
                    pktgen cost, memory and reconfiguration time of cakemt next to
                    CAKE, HTB+fq_codel and HTB+CAKE in one guest: bench/results/";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flavour = match args.get(1).map(String::as_str) {
        Some("debug") => Flavour::Debug,
        _ => Flavour::Lean,
    };
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::ensure(),
        Some("kernel") => kernel::build(flavour).map(|k| println!("{}", k.display())),
        Some("kdir") => kernel::dir(flavour).map(|k| println!("{}", k.display())),
        Some("module") => kernel::build(flavour)
            .and_then(|k| module::build(&k))
            .map(|ko| println!("{}", ko.display())),
        Some("tc") => tc::build().map(|t| println!("{}", t.display())),
        Some("host-test") => host_test().map(|_| ()),
        Some("guest-test") => guest_test(args.get(1).map_or("", String::as_str)).map(|_| ()),
        Some("check") => check(),
        Some("demo") => demo(),
        Some("bench") => bench::run_bench(&args[1..]),
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
    // The module crate is Kbuild's, not cargo's: rustfmt follows its `mod`
    // declarations from the crate root.
    util::run(
        util::cmd("rustfmt")
            .args(["--edition", "2021", "--check", "src/cakemt.rs"])
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

/// A kernel of `flavour` (built if the cache lacks it) and the module for it.
fn kernel_and_module(flavour: Flavour) -> Result<(PathBuf, PathBuf)> {
    let kdir = kernel::build(flavour)?;
    let ko = module::build(&kdir)?;
    Ok((kdir, ko))
}

/// Rate measurements (and tdc) on the lean kernel, then the functional tests on the
/// debug kernel (both kernels and modules are built first, so a build error
/// shows before any guest time is spent). One guest after the other, each
/// with both cores: side by side with one vCPU each was slower in all (a
/// 1-vCPU debug guest spent over 15 minutes in udev's coldplug alone, and
/// a 1-vCPU lean guest beside it carried too little for the rate tests).
fn guest_test(filter: &str) -> Result<Tally> {
    let (lean_kdir, lean_ko) = kernel_and_module(Flavour::Lean)?;
    let (debug_kdir, debug_ko) = kernel_and_module(Flavour::Debug)?;
    let tc = tc::build()?;
    let mut total = Tally::default();
    for (flavour, kdir, ko, which) in [
        (Flavour::Lean, &lean_kdir, &lean_ko, "rates"),
        (Flavour::Debug, &debug_kdir, &debug_ko, "functional"),
    ] {
        let g = guest::Guest {
            flavour,
            kdir,
            ko,
            cpus: 2,
        };
        let t = util::timed(&format!("guest tests ({} kernel)", flavour.name()), || {
            guest::run_tests(&g, &tc, &format!("{which} {filter}"))
        })?;
        total.passed += t.passed;
        total.failed += t.failed;
    }
    Ok(total)
}

fn check() -> Result<()> {
    setup::ensure()?;
    let host = host_test()?;
    let guest = guest_test("")?;
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
    let (kdir, ko) = kernel_and_module(Flavour::Lean)?;
    let tc = tc::build()?;
    let g = guest::Guest {
        flavour: Flavour::Lean,
        kdir: &kdir,
        ko: &ko,
        cpus: 2,
    };
    guest::run_script(&g, &tc, "scripts/demo.sh", &[])
}
