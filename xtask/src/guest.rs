//! Runs scripts inside a QEMU guest booted by virtme-ng on the cached
//! kernel. The guest sees the host's file system read-only (but for one
//! directory a boot may name), so the module, tc and the test scripts are
//! used in place.
//!
//! KVM is used when a short probe boot shows that it works; on machines
//! where it does not (these: the guest hangs or QEMU aborts), TCG.
//!
//! Tests run in two boots: rate measurements on the lean kernel, everything
//! else on the debug kernel, where KASAN, lockdep, kmemleak and friends
//! judge the module; the runner checks dmesg after every test either way.

use crate::kernel::Flavour;
use crate::setup::venv;
use crate::util::{cache_dir, cmd, repo_root, step, tee_prefixed, Result};
use crate::Tally;
use std::path::Path;
use std::process::Command;

/// A guest that is not done by then is hung: give up rather than eat CI.
const GUEST_TIMEOUT_S: u32 = 2700;
/// Memory of the test and demo guests (the benchmark asks for its own).
const GUEST_MEMORY: &str = "2G";
const PROBE_TIMEOUT_S: u32 = 25;
const PROBE_WORD: &str = "cakemt-kvm-probe-ok";

/// Kernel command line additions of the debug kernel. SLUB debugging is
/// built in but not switched on (`slub_debug=`): generic KASAN already
/// catches what its red zones and poisoning would (out-of-bounds, use after
/// free, with a quarantine), and on the kmalloc caches alone it made the
/// TCG boot 385 s instead of 215 s. An operator chasing a slab bug can add
/// `slub_debug=FZPU` here.
const DEBUG_CMDLINE: &str = "";

/// The guest's root is the host's file system over 9p, which virtme-ng
/// mounts uncached: every exec reads the binary and its libraries through
/// virtio again. The host side does not change while the guest runs, so
/// page-cache it (`cache=loose`; the kernel takes the last `rootflags=`):
/// measured under TCG, 50 execs of /bin/true 8.0 s -> 3.9 s, 20 of `ip`
/// 9.1 s -> 3.4 s, the boot 73 s -> 52 s. 9p is forced so that a host with
/// virtiofsd does not get these 9p options on a virtiofs root.
const ROOT_CMDLINE: &str =
    "rootflags=version=9p2000.L,trans=virtio,access=any,msize=524288,cache=loose";

/// How a guest is booted besides its kernel: its memory, how long it may
/// run, and the one host directory it may write.
#[derive(Clone, Copy)]
pub struct Boot<'a> {
    /// `vng --memory`, e.g. "2G".
    pub memory: &'a str,
    /// Seconds before the guest is taken for hung and killed.
    pub timeout_s: u32,
    /// `vng --rwdir`: a directory the guest may write (the benchmark's
    /// results); everything else stays read-only.
    pub rwdir: Option<&'a Path>,
}

/// What the tests and the demo boot with.
const TEST_BOOT: Boot<'static> = Boot {
    memory: GUEST_MEMORY,
    timeout_s: GUEST_TIMEOUT_S,
    rwdir: None,
};

fn vng(kdir: &Path, kvm: bool, boot: Boot<'_>, script: &str, cmdline: &str, cpus: u32) -> Command {
    let mut c = cmd("timeout");
    c.arg("--kill-after=10")
        .arg(boot.timeout_s.to_string())
        .arg(venv().join("bin/vng"))
        .arg("--run")
        .arg(kdir)
        .arg("--memory")
        .arg(boot.memory)
        .arg("--cpus")
        .arg(cpus.to_string());
    if !kvm {
        c.arg("--disable-kvm");
    }
    if let Some(d) = boot.rwdir {
        c.arg(format!("--rwdir={}", d.display()));
    }
    c.arg("--force-9p").arg("--append").arg(ROOT_CMDLINE);
    if !cmdline.is_empty() {
        c.arg("--append").arg(cmdline);
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
    let probe = Boot {
        memory: GUEST_MEMORY,
        timeout_s: PROBE_TIMEOUT_S,
        rwdir: None,
    };
    let ok = vng(kdir, true, probe, &format!("echo {PROBE_WORD}"), "", 1)
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

/// A kernel to boot and the module built for it.
pub struct Guest<'a> {
    /// Which kernel.
    pub flavour: Flavour,
    /// Its build tree.
    pub kdir: &'a Path,
    /// cakemt.ko built against it.
    pub ko: &'a Path,
    /// Virtual CPUs (1 each when two guests share the machine's 2 cores).
    pub cpus: u32,
}

/// "KVM" or "TCG": how guests of the kernel tree `kdir` run here.
pub fn accel(kdir: &Path) -> &'static str {
    if kvm_works(kdir) {
        "KVM"
    } else {
        "TCG"
    }
}

/// Runs `script` (relative to the repository) in a guest booted as `how`
/// says, with the module and tc paths in its environment; returns whether
/// it exited 0 and everything it printed (the benchmark's figures are in
/// it).
pub fn boot(
    g: &Guest<'_>,
    how: Boot<'_>,
    tc: &Path,
    script: &str,
    args: &[&str],
) -> Result<(bool, String)> {
    let kvm = kvm_works(g.kdir);
    // The fuzzer's bounds (NLFUZZ_MESSAGES, NLFUZZ_SECONDS, NLFUZZ_SEED)
    // pass through, for runs beyond make check's.
    let fuzz: String = std::env::vars()
        .filter(|(k, v)| k.starts_with("NLFUZZ_") && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|(k, v)| format!("{k}={v} "))
        .collect();
    let line = format!(
        "{fuzz}CAKEMT_KERNEL={} KDIR={} CAKEMT_KO={} TC={} FLENT={} VENV={} bash {script} {}",
        g.flavour.name(),
        g.kdir.display(),
        g.ko.display(),
        tc.display(),
        venv().join("bin/flent").display(),
        venv().display(),
        args.join(" ")
    );
    step(&format!(
        "guest ({}, {} kernel, {} CPU, {}): {line}",
        if kvm { "KVM" } else { "TCG" },
        g.flavour.name(),
        g.cpus,
        how.memory
    ));
    let cmdline = match g.flavour {
        Flavour::Lean => "",
        Flavour::Debug => DEBUG_CMDLINE,
    };
    let prefix = format!("[{}] ", g.flavour.name());
    let mut c = vng(g.kdir, kvm, how, &line, cmdline, g.cpus);
    let (status, out) = tee_prefixed(&mut c, &prefix)?;
    Ok((status.success(), out))
}

/// Runs tests/guest in the guest (`which`: the runner's selection, see
/// tests/guest/run.sh) and returns the tally its runner printed.
pub fn run_tests(g: &Guest<'_>, tc: &Path, which: &str) -> Result<Tally> {
    let (ok, out) = boot(g, TEST_BOOT, tc, "tests/guest/run.sh", &[which])?;
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
pub fn run_script(g: &Guest<'_>, tc: &Path, script: &str, args: &[&str]) -> Result<()> {
    let (ok, _) = boot(g, TEST_BOOT, tc, script, args)?;
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
