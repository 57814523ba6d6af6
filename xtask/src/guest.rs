//! Runs scripts inside a QEMU guest booted by virtme-ng on the cached
//! kernel. The guest sees the host's file system read-only, so the module,
//! tc and the test scripts are used in place.
//!
//! KVM is used when a short probe boot shows that it works; on machines
//! where it does not (these: the guest hangs or QEMU aborts), TCG.

use crate::setup::venv;
use crate::util::{cache_dir, cmd, repo_root, step, tee, Result};
use crate::Tally;
use std::path::Path;
use std::process::Command;

/// A guest that is not done by then is hung: give up rather than eat CI.
const GUEST_TIMEOUT_S: u32 = 1800;
const PROBE_TIMEOUT_S: u32 = 25;
const PROBE_WORD: &str = "cakemt-kvm-probe-ok";

fn vng(kdir: &Path, kvm: bool, timeout_s: u32, script: &str) -> Command {
    let mut c = cmd("timeout");
    c.arg("--kill-after=10")
        .arg(timeout_s.to_string())
        .arg(venv().join("bin/vng"))
        .arg("--run")
        .arg(kdir)
        .args(["--memory", "2G", "--cpus", "2"]);
    if !kvm {
        c.arg("--disable-kvm");
    }
    c.arg("--exec").arg(script).current_dir(repo_root());
    // vng and the guest's helpers are Python scripts of the venv.
    let path = std::env::var("PATH").unwrap_or_default();
    c.env("PATH", format!("{}:{path}", venv().join("bin").display()));
    c
}

/// Does KVM boot this kernel? Remembered per kernel tree in the cache.
fn kvm_works(kdir: &Path) -> bool {
    if !Path::new("/dev/kvm").exists() {
        return false;
    }
    let verdict_file = cache_dir().join(format!(
        "kvm-verdict-{}",
        kdir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    if let Ok(v) = std::fs::read_to_string(&verdict_file) {
        return v.trim() == "kvm";
    }
    step(&format!("guest: probing KVM ({PROBE_TIMEOUT_S} s at most)"));
    let ok = vng(kdir, true, PROBE_TIMEOUT_S, &format!("echo {PROBE_WORD}"))
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(PROBE_WORD));
    let verdict = if ok { "kvm" } else { "tcg" };
    println!(
        "==> guest: KVM {}",
        if ok {
            "works"
        } else {
            "does not work here: using TCG"
        }
    );
    let _ = std::fs::write(verdict_file, verdict);
    ok
}

/// Runs `script` (relative to the repository) in the guest with the module
/// and tc paths in its environment; returns its output and exit status.
fn boot(kdir: &Path, ko: &Path, tc: &Path, script: &str, args: &[&str]) -> Result<(bool, String)> {
    let kvm = kvm_works(kdir);
    let line = format!(
        "CAKEMT_KO={} TC={} FLENT={} bash {script} {}",
        ko.display(),
        tc.display(),
        venv().join("bin/flent").display(),
        args.join(" ")
    );
    step(&format!(
        "guest ({}): {line}",
        if kvm { "KVM" } else { "TCG" }
    ));
    let (status, out) = tee(&mut vng(kdir, kvm, GUEST_TIMEOUT_S, &line))?;
    Ok((status.success(), out))
}

/// Runs tests/guest in the guest and returns the tally its runner printed.
pub fn run_tests(kdir: &Path, ko: &Path, tc: &Path) -> Result<Tally> {
    let (ok, out) = boot(kdir, ko, tc, "tests/guest/run.sh", &[])?;
    let tally = out
        .lines()
        .rev()
        .find_map(parse_tally)
        .ok_or("the guest printed no `N passed, N failed` line (did it boot?)")?;
    if !ok && tally.failed == 0 {
        return Err("the guest test runner failed".into());
    }
    Ok(tally)
}

/// Runs a script in the guest; an error if it fails.
pub fn run_script(kdir: &Path, ko: &Path, tc: &Path, script: &str, args: &[&str]) -> Result<()> {
    let (ok, _) = boot(kdir, ko, tc, script, args)?;
    if !ok {
        return Err(format!("{script} failed in the guest").into());
    }
    Ok(())
}

/// "12 passed, 0 failed" -> Tally.
fn parse_tally(line: &str) -> Option<Tally> {
    let (p, f) = line.trim().split_once(", ")?;
    let passed = p.strip_suffix(" passed")?.parse().ok()?;
    let failed = f.strip_suffix(" failed")?.parse().ok()?;
    Some(Tally { passed, failed })
}
