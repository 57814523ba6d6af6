//! The patched tc: Debian 12's iproute2 6.1.0 source with the series in
//! iproute2-patch/ applied and cakemt's uapi header copied in, built into the
//! cache under a key made of the patches and the header.

use crate::util::{cache_dir, cmd, repo_root, run, short_hash, step, timed, Result};
use std::path::PathBuf;

const IPROUTE2_VERSION: &str = "6.1.0-3";
const UAPI_HEADER: &str = "src/uapi/linux/pkt_sched_cakemt.h";

fn patches() -> Result<Vec<PathBuf>> {
    let dir = repo_root().join("iproute2-patch");
    let series = std::fs::read_to_string(dir.join("series"))
        .map_err(|e| format!("iproute2-patch/series: {e}"))?;
    Ok(series
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| dir.join(l))
        .collect())
}

/// Builds tc unless the cache has it; returns the path of the binary.
pub fn build() -> Result<PathBuf> {
    let root = repo_root();
    let patches = patches()?;
    let mut key = IPROUTE2_VERSION.as_bytes().to_vec();
    for p in &patches {
        key.extend(std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    key.extend(std::fs::read(root.join(UAPI_HEADER))?);
    let dir = cache_dir()
        .join("tc")
        .join(format!("iproute2-{IPROUTE2_VERSION}-{}", short_hash(&key)?));
    let tc = dir.join("tc/tc");
    if tc.exists() {
        println!("==> tc: using {}", tc.display());
        return Ok(tc);
    }
    timed("tc build", || {
        step(&format!("tc: apt-get source iproute2={IPROUTE2_VERSION}"));
        let work = cache_dir().join("tc/fetch.tmp");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)?;
        run(cmd("apt-get")
            .args(["source", "-q", &format!("iproute2={IPROUTE2_VERSION}")])
            .current_dir(&work))
        .map_err(|e| format!("cannot fetch iproute2 source (deb-src for bookworm main?): {e}"))?;
        let src = std::fs::read_dir(&work)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.is_dir())
            .ok_or("apt-get source unpacked nothing")?;
        for p in &patches {
            step(&format!("tc: applying {}", p.display()));
            run(cmd("patch")
                .args(["-p1", "--forward", "--no-backup-if-mismatch", "-i"])
                .arg(p)
                .current_dir(&src))?;
        }
        std::fs::copy(
            root.join(UAPI_HEADER),
            src.join("include/uapi/linux/pkt_sched_cakemt.h"),
        )?;
        step("tc: configure && make SUBDIRS=\"lib tc\"");
        run(cmd("./configure").current_dir(&src))?;
        run(cmd("make")
            .args(["-j2", "SUBDIRS=lib tc"])
            .current_dir(&src))?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&src, &dir)?;
        let _ = std::fs::remove_dir_all(&work);
        Ok(tc.clone())
    })
}
