//! Builds cakemt.ko out of tree against a kernel in the cache (or `KDIR`),
//! with clippy as the Rust compiler wrapper, and refuses any warning, and
//! any call into Rust's panic machinery: a panic in a qdisc is a kernel BUG.
//!
//! Each kernel gets its own build directory (`target/kmod/<kernel>/`, a copy
//! of `Kbuild` and `src/` refreshed file by file, so unchanged files keep
//! their timestamps and make rebuilds only what changed): the lean and the
//! debug kernel need differently compiled modules, and building both in
//! the checkout would rebuild everything at every switch.

use crate::kernel;
use crate::util::{cmd, output, repo_root, step, tee, Result};
use std::path::{Path, PathBuf};

/// Builds the module against the kernel tree `kdir`; returns the .ko.
pub fn build(kdir: &Path) -> Result<PathBuf> {
    let root = repo_root();
    let name = kdir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kernel".into());
    let out = root.join("target/kmod").join(&name);
    sync_sources(&root, &out)?;
    step(&format!(
        "module: make modules for {name} (CLIPPY=1, warnings are errors)"
    ));
    let (status, log) = tee(kernel::make(kdir)
        .arg(format!("M={}", out.display()))
        .arg("CLIPPY=1")
        .arg("modules"))?;
    if !status.success() {
        return Err("module build failed".into());
    }
    if log.contains("warning:") {
        return Err("module build printed warnings (see above)".into());
    }
    let ko = out.join("cakemt.ko");
    let undefined = output(cmd("nm").arg("-u").arg(&ko))?;
    let panics: Vec<&str> = undefined
        .lines()
        .filter(|l| l.contains("panicking"))
        .collect();
    if !panics.is_empty() {
        return Err(format!(
            "cakemt.ko can panic (find the callers with `objdump -dr {}`):\n{}",
            out.join("src/cakemt.o").display(),
            panics.join("\n")
        )
        .into());
    }
    Ok(ko)
}

/// Makes `out` hold `Kbuild` and every file under `src/` as in `root`,
/// writing only files whose content differs.
fn sync_sources(root: &Path, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)?;
    copy_if_changed(&root.join("Kbuild"), &out.join("Kbuild"))?;
    let mut dirs = vec![PathBuf::from("src")];
    while let Some(rel) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let rel_path = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                dirs.push(rel_path);
            } else if is_source(&rel_path) {
                copy_if_changed(&root.join(&rel_path), &out.join(&rel_path))?;
            }
        }
    }
    Ok(())
}

/// Files the module is built from (not build products a stray in-tree
/// build may have left).
fn is_source(p: &Path) -> bool {
    let name = p.file_name().unwrap_or_default().to_string_lossy();
    if name.starts_with('.') || name == "bindings_generated.rs" {
        return false;
    }
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("rs" | "c" | "h")
    )
}

fn copy_if_changed(from: &Path, to: &Path) -> Result<()> {
    let data = std::fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
    if std::fs::read(to).ok().as_deref() == Some(data.as_slice()) {
        return Ok(());
    }
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(to, data).map_err(|e| format!("{}: {e}", to.display()).into())
}
