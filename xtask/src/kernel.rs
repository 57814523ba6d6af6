//! The guest kernel: Debian's linux-source-6.12, configured from tinyconfig
//! plus scripts/kernel.config, built once into the cache under a key made
//! of the kernel version, the config fragment and the toolchain versions.

use crate::setup::{bindgen, KERNEL_RUSTC};
use crate::util::{cache_dir, cmd, output, repo_root, run, short_hash, step, timed, Result};
use std::path::{Path, PathBuf};

const SOURCE_TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";
const STAMP: &str = ".cakemt-built";

/// `make` in the kernel tree with the toolchain Rust support requires.
pub fn make(kdir: &Path) -> std::process::Command {
    let mut c = cmd("make");
    c.arg("-C")
        .arg(kdir)
        .arg("LLVM=1")
        .arg(format!("RUSTC={KERNEL_RUSTC}"))
        .arg(format!("BINDGEN={}", bindgen().display()))
        .arg("CLIPPY_DRIVER=/usr/bin/clippy-driver");
    c
}

fn fragment() -> PathBuf {
    repo_root().join("scripts/kernel.config")
}

/// Kernel version of the Debian source package, e.g. "6.12.95".
fn version() -> Result<String> {
    let v = output(cmd("dpkg-query").args(["-W", "-f", "${Version}", "linux-source-6.12"]))?;
    // "6.12.95-1~bpo12+1" -> "6.12.95"
    Ok(v.split(['-', '+', '~']).next().unwrap_or(&v).to_string())
}

/// The cache directory of the kernel matching this checkout; `$KDIR` wins.
pub fn dir() -> Result<PathBuf> {
    if let Some(k) = std::env::var_os("KDIR") {
        return Ok(PathBuf::from(k));
    }
    let mut key = std::fs::read(fragment())?;
    for tool in [
        output(cmd(KERNEL_RUSTC).arg("--version"))?,
        output(cmd(bindgen().to_str().unwrap_or("bindgen")).arg("--version"))?,
        output(cmd("clang").arg("--version"))?
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
            + "\n",
    ] {
        key.extend_from_slice(tool.as_bytes());
    }
    Ok(cache_dir()
        .join("kernel")
        .join(format!("linux-{}-{}", version()?, short_hash(&key)?)))
}

/// Builds the kernel unless the cache has it; returns its tree.
pub fn build() -> Result<PathBuf> {
    let kdir = dir()?;
    if kdir.join(STAMP).exists() || std::env::var_os("KDIR").is_some() {
        println!("==> kernel: using {}", kdir.display());
        return Ok(kdir);
    }
    step(&format!(
        "kernel: cold build into {} (about 11 minutes on 2 cores)",
        kdir.display()
    ));
    timed("kernel build", || {
        if !kdir.join("Makefile").exists() {
            let parent = kdir.parent().ok_or("bad cache path")?;
            std::fs::create_dir_all(parent)?;
            let tmp = parent.join("unpack.tmp");
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp)?;
            step(&format!("kernel: unpacking {SOURCE_TARBALL}"));
            run(cmd("tar")
                .arg("xJf")
                .arg(SOURCE_TARBALL)
                .arg("-C")
                .arg(&tmp))?;
            std::fs::rename(tmp.join("linux-source-6.12"), &kdir)?;
            std::fs::remove_dir(&tmp)?;
        }
        configure(&kdir)?;
        let jobs = std::thread::available_parallelism().map_or(2, |n| n.get() + 1);
        step(&format!("kernel: make -j{jobs}"));
        run(make(&kdir).arg(format!("-j{jobs}")))?;
        std::fs::write(kdir.join(STAMP), "")?;
        Ok(kdir.clone())
    })
}

/// tinyconfig + fragment, then checks that every option survived (a missing
/// dependency silently drops one).
fn configure(kdir: &Path) -> Result<()> {
    step("kernel: tinyconfig + scripts/kernel.config");
    run(make(kdir).arg("tinyconfig"))?;
    run(cmd("scripts/kconfig/merge_config.sh")
        .current_dir(kdir)
        .args(["-m", ".config"])
        .arg(fragment()))?;
    run(make(kdir).arg("olddefconfig"))?;
    let config = std::fs::read_to_string(kdir.join(".config"))?;
    let wanted = std::fs::read_to_string(fragment())?;
    let lost: Vec<&str> = wanted
        .lines()
        .filter(|l| l.starts_with("CONFIG_") && (l.ends_with("=y") || l.ends_with("=m")))
        .filter(|l| !config.lines().any(|c| c == *l))
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "kernel config lost options (missing dependencies?): {}",
            lost.join(" ")
        )
        .into());
    }
    run(make(kdir).arg("rustavailable"))
}
