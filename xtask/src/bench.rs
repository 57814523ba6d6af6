//! `cargo xtask bench [--quick|--smoke|--flent] [--memory SIZE]`: the benchmark of
//! issue #15. Builds the lean kernel, the module and tc (cached), boots
//! one guest that runs tests/bench/guest/bench.sh (pktgen cost per packet,
//! kernel memory and reconfiguration time of every contender, then flent's
//! latency and fairness under load, all in that boot), and writes `bench/results/<UTC date-time>/`: the guest's output
//! (`guest.log`), its `BENCH {json}` lines (`bench.jsonl`), the run's facts
//! (`meta.json`), and what scripts/bench_report.py makes of them
//! (`results.md`, CSV, JSON, PNG plots).
//!
//! The guest's root is the host's file system read-only, so the figures
//! come back on its console; the one directory it may write is the
//! results directory, where flent leaves its data files. matplotlib is
//! installed into the project's venv here, not by `setup` (make check
//! does not need it).

use crate::guest::{self, Boot, Guest};
use crate::kernel::Flavour;
use crate::setup::{self, venv};
use crate::util::{cmd, output, repo_root, run, step, succeeds, Result};
use crate::{kernel_and_module, tc};
use std::time::Instant;

/// matplotlib for the plots (a release that supports Debian 12's Python 3.11).
const MATPLOTLIB_VERSION: &str = "3.10.8";

/// Guest memory: HTB+CAKE needs about 1.06 GB per 1,000 hosts and the
/// contenders of one host count exist side by side. 6G fits every
/// contender at 1,000 hosts and all but HTB+CAKE at 10,000 (about 10.6
/// GB alone; `--memory 16G` for that, where the host has it).
const DEFAULT_MEMORY: &str = "6G";

/// A full run is about half an hour under TCG; past this it is hung.
const BENCH_TIMEOUT_S: u32 = 5400;

const USAGE: &str = "usage: cargo xtask bench [--quick|--smoke|--flent] [--memory SIZE]
  (default: the full run; --quick: 10, 1,000 and 10,000 hosts in under 15 minutes;
   --smoke: 10 hosts, seconds; --flent: quick's flent tests alone;
   --memory: guest memory, default 6G)";

/// Parses the arguments, runs the benchmark, writes the results.
pub fn run_bench(args: &[String]) -> Result<()> {
    let mut mode = "full";
    let mut memory = DEFAULT_MEMORY.to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => mode = "quick",
            "--smoke" => mode = "smoke",
            "--flent" => mode = "flent",
            "--full" => mode = "full",
            "--memory" => memory = it.next().ok_or(USAGE)?.clone(),
            _ => return Err(USAGE.into()),
        }
    }
    if !memory.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("--memory {memory}: want a size such as 6G").into());
    }
    let command = std::iter::once("cargo xtask bench".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");

    setup::ensure()?;
    matplotlib()?;
    let (kdir, ko) = kernel_and_module(Flavour::Lean)?;
    let tc = tc::build()?;

    let stamp = output(cmd("date").args(["-u", "+%Y-%m-%dT%H%M%SZ %Y-%m-%d %H:%M:%S UTC"]))?;
    let (dir_name, started) = stamp
        .trim()
        .split_once(' ')
        .ok_or("date printed no stamp")?;
    let dir = repo_root().join("bench/results").join(dir_name);
    std::fs::create_dir_all(&dir)?;

    let g = Guest {
        flavour: Flavour::Lean,
        kdir: &kdir,
        ko: &ko,
        cpus: 2,
    };
    let how = Boot {
        memory: &memory,
        timeout_s: BENCH_TIMEOUT_S,
        rwdir: Some(&dir),
    };
    let accel = guest::accel(&kdir);
    let t0 = Instant::now();
    let dir_arg = dir.display().to_string();
    let (ok, out) = guest::boot(
        &g,
        how,
        &tc,
        "tests/bench/guest/bench.sh",
        &[mode, &dir_arg],
    )?;
    let wall_s = t0.elapsed().as_secs_f64();

    std::fs::write(dir.join("guest.log"), &out)?;
    let lines: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("BENCH "))
        .collect();
    if lines.is_empty() {
        return Err(format!(
            "the guest printed no BENCH line (did it boot?): see {}",
            dir.join("guest.log").display()
        )
        .into());
    }
    std::fs::write(dir.join("bench.jsonl"), lines.join("\n") + "\n")?;
    std::fs::write(
        dir.join("meta.json"),
        format!(
            "{{\"started\":\"{started}\",\"command\":\"{command}\",\"mode\":\"{mode}\",\
             \"guest_memory\":\"{memory}\",\"accel\":\"{accel}\",\"wall_s\":{wall_s:.1},\
             \"guest_ok\":{ok}}}\n"
        ),
    )?;
    step(&format!(
        "bench: guest run {wall_s:.0} s; report in {}",
        dir.display()
    ));
    run(
        cmd(venv().join("bin/python3").to_str().unwrap_or("python3"))
            .arg(repo_root().join("scripts/bench_report.py"))
            .arg(&dir),
    )?;
    if !ok {
        return Err(format!(
            "the benchmark reported failures (see {} and guest.log)",
            dir.join("results.md").display()
        )
        .into());
    }
    Ok(())
}

/// matplotlib in the venv, installed on first use.
fn matplotlib() -> Result<()> {
    let python = venv().join("bin/python3");
    if succeeds(cmd(python.to_str().unwrap_or("python3")).args(["-c", "import matplotlib"])) {
        return Ok(());
    }
    step(&format!(
        "pip install matplotlib {MATPLOTLIB_VERSION} into {} (the benchmark's plots)",
        venv().display()
    ));
    run(cmd(venv().join("bin/pip").to_str().unwrap_or("pip")).args([
        "install",
        "-q",
        &format!("matplotlib=={MATPLOTLIB_VERSION}"),
    ]))
    .map_err(|e| format!("cannot install matplotlib from PyPI: {e}").into())
}
