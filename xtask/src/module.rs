//! Builds cakemt.ko out of tree against the kernel in the cache (or `KDIR`),
//! with clippy as the Rust compiler wrapper, and refuses any warning, and
//! any call into Rust's panic machinery: a panic in a qdisc is a kernel BUG.

use crate::kernel;
use crate::util::{cmd, output, repo_root, step, tee, Result};
use std::path::{Path, PathBuf};

/// Builds the module against the kernel tree `kdir`.
pub fn build(kdir: &Path) -> Result<PathBuf> {
    let root = repo_root();
    step("module: make modules (CLIPPY=1, warnings are errors)");
    let (status, out) = tee(kernel::make(kdir)
        .arg(format!("M={}", root.display()))
        .arg("CLIPPY=1")
        .arg("modules"))?;
    if !status.success() {
        return Err("module build failed".into());
    }
    if out.contains("warning:") {
        return Err("module build printed warnings (see above)".into());
    }
    let ko = root.join("cakemt.ko");
    let undefined = output(cmd("nm").arg("-u").arg(&ko))?;
    let panics: Vec<&str> = undefined
        .lines()
        .filter(|l| l.contains("panicking"))
        .collect();
    if !panics.is_empty() {
        return Err(format!(
            "cakemt.ko can panic (find the callers with `objdump -dr src/cakemt.o`):\n{}",
            panics.join("\n")
        )
        .into());
    }
    Ok(ko)
}
