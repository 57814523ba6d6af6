//! Builds cakemt.ko out of tree against the kernel in the cache (or `KDIR`),
//! with clippy as the Rust compiler wrapper, and refuses any warning.

use crate::kernel;
use crate::util::{repo_root, step, tee, Result};
use std::path::PathBuf;

pub fn build() -> Result<PathBuf> {
    let kdir = kernel::build()?;
    let root = repo_root();
    step("module: make modules (CLIPPY=1, warnings are errors)");
    let (status, out) = tee(kernel::make(&kdir)
        .arg(format!("M={}", root.display()))
        .arg("CLIPPY=1")
        .arg("modules"))?;
    if !status.success() {
        return Err("module build failed".into());
    }
    if out.contains("warning:") {
        return Err("module build printed warnings (see above)".into());
    }
    Ok(root.join("cakemt.ko"))
}
