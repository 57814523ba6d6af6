//! The guest kernels: Debian's linux-source-6.12, configured from tinyconfig
//! plus config fragments, each built once into the cache under a key made of
//! the kernel version, its fragments and the toolchain versions.
//!
//! Two flavours: the lean kernel (`scripts/kernel.config`) carries the rate
//! measurements, where timing matters; the debug kernel (the lean fragment
//! plus `scripts/kernel-debug.config`: KASAN, kmemleak, lockdep, ...) runs
//! the functional tests, so the kernel itself judges the module.

use crate::setup::{bindgen, KERNEL_RUSTC};
use crate::util::{cache_dir, cmd, output, repo_root, run, short_hash, step, timed, Result};
use std::path::{Path, PathBuf};

const SOURCE_TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";
const STAMP: &str = ".cakemt-built";

/// Which guest kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavour {
    /// tinyconfig + scripts/kernel.config.
    Lean,
    /// The lean kernel plus the debugging options of scripts/kernel-debug.config.
    Debug,
}

impl Flavour {
    /// Its name in the cache and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Lean => "lean",
            Flavour::Debug => "debug",
        }
    }

    /// Config fragments, merged in this order over tinyconfig.
    fn fragments(self) -> Vec<PathBuf> {
        let dir = repo_root().join("scripts");
        let mut f = vec![dir.join("kernel.config")];
        if self == Flavour::Debug {
            f.push(dir.join("kernel-debug.config"));
        }
        f
    }

    /// Rough cold build time on 2 cores, for the progress line.
    fn build_minutes(self) -> u32 {
        match self {
            Flavour::Lean => 11,
            Flavour::Debug => 14,
        }
    }
}

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

/// Kernel version of the Debian source package, e.g. "6.12.95".
fn version() -> Result<String> {
    let v = output(cmd("dpkg-query").args(["-W", "-f", "${Version}", "linux-source-6.12"]))?;
    // "6.12.95-1~bpo12+1" -> "6.12.95"
    Ok(v.split(['-', '+', '~']).next().unwrap_or(&v).to_string())
}

/// The cache directory of the `flavour` kernel matching this checkout;
/// `$KDIR` wins for the lean one (an operator's own tree).
pub fn dir(flavour: Flavour) -> Result<PathBuf> {
    if flavour == Flavour::Lean {
        if let Some(k) = std::env::var_os("KDIR") {
            return Ok(PathBuf::from(k));
        }
    }
    let mut key = Vec::new();
    for f in flavour.fragments() {
        key.extend(std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?);
    }
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
    let suffix = match flavour {
        Flavour::Lean => String::new(),
        Flavour::Debug => "-debug".to_string(),
    };
    Ok(cache_dir().join("kernel").join(format!(
        "linux-{}{suffix}-{}",
        version()?,
        short_hash(&key)?
    )))
}

/// Builds the `flavour` kernel unless the cache has it; returns its tree.
pub fn build(flavour: Flavour) -> Result<PathBuf> {
    let kdir = dir(flavour)?;
    let external = flavour == Flavour::Lean && std::env::var_os("KDIR").is_some();
    if kdir.join(STAMP).exists() || external {
        println!("==> kernel ({}): using {}", flavour.name(), kdir.display());
        return Ok(kdir);
    }
    step(&format!(
        "kernel ({}): cold build into {} (about {} minutes on 2 cores)",
        flavour.name(),
        kdir.display(),
        flavour.build_minutes()
    ));
    timed(&format!("kernel build ({})", flavour.name()), || {
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
        configure(&kdir, flavour)?;
        let jobs = std::thread::available_parallelism().map_or(2, |n| n.get() + 1);
        step(&format!("kernel: make -j{jobs}"));
        run(make(&kdir).arg(format!("-j{jobs}")))?;
        std::fs::write(kdir.join(STAMP), "")?;
        Ok(kdir.clone())
    })
}

/// tinyconfig + fragments, then checks that every option survived (a
/// missing dependency silently drops one).
fn configure(kdir: &Path, flavour: Flavour) -> Result<()> {
    let fragments = flavour.fragments();
    step(&format!(
        "kernel: tinyconfig + {}",
        fragments
            .iter()
            .map(|f| f.file_name().unwrap_or_default().to_string_lossy())
            .collect::<Vec<_>>()
            .join(" + ")
    ));
    run(make(kdir).arg("tinyconfig"))?;
    run(cmd("scripts/kconfig/merge_config.sh")
        .current_dir(kdir)
        .args(["-m", ".config"])
        .args(&fragments))?;
    run(make(kdir).arg("olddefconfig"))?;
    let config = std::fs::read_to_string(kdir.join(".config"))?;
    let mut lost = Vec::new();
    for f in &fragments {
        let wanted = std::fs::read_to_string(f)?;
        lost.extend(
            wanted
                .lines()
                .filter(|l| l.starts_with("CONFIG_") && (l.ends_with("=y") || l.ends_with("=m")))
                .filter(|l| !config.lines().any(|c| c == *l))
                .map(str::to_string),
        );
    }
    if !lost.is_empty() {
        return Err(format!(
            "kernel config lost options (missing dependencies?): {}",
            lost.join(" ")
        )
        .into());
    }
    run(make(kdir).arg("rustavailable"))
}
