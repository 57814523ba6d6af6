//! Installs what building and testing cakemt needs on Debian 12, and does
//! nothing when it is all present. Sources and versions are the ones verified
//! in shared/TOOLCHAIN.md: kernel source and QEMU from bookworm-backports,
//! rustc-web (with its library source) from bookworm-security, netperf from
//! non-free, bindgen-cli from crates.io, virtme-ng, flent and pyroute2 from PyPI.

use crate::util::{cache_dir, cmd, run, step, succeeds, Result};
use std::path::PathBuf;

/// Pinned tool versions.
pub const BINDGEN_VERSION: &str = "0.73.2";
const VIRTME_NG_VERSION: &str = "1.42";
const FLENT_VERSION: &str = "2.3.0";
/// tdc's namespace plugin (the kernel's tc-testing) creates its namespaces
/// and devices with pyroute2; 0.7 is the API the 6.12 tree's plugin uses.
const PYROUTE2_VERSION: &str = "0.7.12";

/// The rustc the kernel is built with (Debian's rustc-web ships rust-src).
pub const KERNEL_RUSTC: &str = "/usr/bin/rustc";

const APT_SOURCES: &str = "/etc/apt/sources.list.d/cakemt.list";
const APT_SOURCES_TEXT: &str = "\
deb http://deb.debian.org/debian bookworm-backports main non-free
deb http://deb.debian.org/debian bookworm non-free
deb-src http://deb.debian.org/debian bookworm main
";

/// Packages from bookworm-backports.
const BACKPORTS: &[&str] = &["linux-source-6.12", "qemu-system-x86"];

/// Packages from the default suites.
const PACKAGES: &[&str] = &[
    // Rust for the kernel, with library source, clippy and rustfmt.
    "rustc-web",
    "rust-web-src",
    "rust-web-clippy",
    "rustfmt-web",
    // Kernel build.
    "clang",
    "lld",
    "llvm",
    "libelf-dev",
    "bc",
    "flex",
    "bison",
    "libssl-dev",
    "cpio",
    "dwarves",
    "kmod",
    // virtme-ng needs udev on the host; python venv for it and flent.
    "udev",
    "python3-venv",
    // iproute2 source and its build dependencies.
    "dpkg-dev",
    "libmnl-dev",
    "libcap-dev",
    "libbpf-dev",
    "pkg-config",
    // Traffic and measurement in the guest.
    "netperf",
    "iperf3",
    "fping",
    "irtt",
    "iputils-ping",
    "iproute2",
    // fwmark from an nftables map, in the guest tests.
    "nftables",
];

/// The Python virtual environment holding virtme-ng, flent and pyroute2.
pub fn venv() -> PathBuf {
    cache_dir().join("venv")
}

/// bindgen as installed by `cargo install` (not Debian's, which is too old).
pub fn bindgen() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    home.join("bin/bindgen")
}

pub fn ensure() -> Result<()> {
    step("set-up: checking packages and tools");
    apt()?;
    bindgen_cli()?;
    python_tools()?;
    udevd()?;
    println!("==> set-up complete");
    Ok(())
}

fn installed(pkg: &str) -> bool {
    cmd("dpkg-query")
        .args(["-W", "-f", "${Status}", pkg])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn apt() -> Result<()> {
    let missing_bp: Vec<&str> = BACKPORTS
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .collect();
    let missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !installed(p)).collect();
    if missing_bp.is_empty() && missing.is_empty() {
        return Ok(());
    }
    if std::fs::read_to_string(APT_SOURCES).ok().as_deref() != Some(APT_SOURCES_TEXT) {
        step(&format!("adding apt sources {APT_SOURCES}"));
        std::fs::write(APT_SOURCES, APT_SOURCES_TEXT)
            .map_err(|e| format!("cannot write {APT_SOURCES} (need root): {e}"))?;
    }
    step(&format!(
        "apt-get install {}",
        [missing_bp.clone(), missing.clone()].concat().join(" ")
    ));
    run(cmd("apt-get").args(["update", "-q"]))?;
    let install = |extra: &[&str], pkgs: &[&str]| -> Result<()> {
        if pkgs.is_empty() {
            return Ok(());
        }
        run(cmd("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q"])
            .args(extra)
            .args(pkgs))
        .map_err(|e| format!("cannot install {}: {e}", pkgs.join(" ")).into())
    };
    install(&["-t", "bookworm-backports"], &missing_bp)?;
    install(&[], &missing)
}

fn bindgen_cli() -> Result<()> {
    let bin = bindgen();
    let ok = cmd(bin.to_str().unwrap_or("bindgen"))
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(BINDGEN_VERSION));
    if ok {
        return Ok(());
    }
    step(&format!("cargo install bindgen-cli {BINDGEN_VERSION}"));
    run(cmd("cargo").args([
        "install",
        "--locked",
        "bindgen-cli",
        "--version",
        BINDGEN_VERSION,
    ]))
    .map_err(|e| format!("cannot install bindgen-cli {BINDGEN_VERSION}: {e}").into())
}

fn python_tools() -> Result<()> {
    let venv = venv();
    let pip_has = |pkg: &str, version: &str| {
        cmd(venv.join("bin/pip").to_str().unwrap_or("pip"))
            .args(["show", pkg])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {version}"))
            })
    };
    if pip_has("virtme-ng", VIRTME_NG_VERSION)
        && pip_has("flent", FLENT_VERSION)
        && pip_has("pyroute2", PYROUTE2_VERSION)
    {
        return Ok(());
    }
    step(&format!(
        "python venv {} with virtme-ng, flent and pyroute2",
        venv.display()
    ));
    if !venv.join("bin/pip").exists() {
        // Debian's python3 (not a pyenv one first on PATH): the guest runs
        // the venv's scripts with the host's interpreter.
        run(cmd("/usr/bin/python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(cmd(venv.join("bin/pip").to_str().unwrap_or("pip")).args([
        "install",
        "-q",
        &format!("virtme-ng=={VIRTME_NG_VERSION}"),
        &format!("flent=={FLENT_VERSION}"),
        &format!("pyroute2=={PYROUTE2_VERSION}"),
    ]))
    .map_err(|e| format!("cannot install virtme-ng/flent/pyroute2 from PyPI: {e}").into())
}

/// virtme-ng needs udevd on the host for /dev/virtio-ports in the guest.
fn udevd() -> Result<()> {
    if succeeds(cmd("pgrep").arg("-x").arg("systemd-udevd")) {
        return Ok(());
    }
    step("starting systemd-udevd (virtme-ng needs it)");
    run(cmd("/lib/systemd/systemd-udevd").arg("--daemon"))
}
