// SPDX-License-Identifier: GPL-2.0
//! Automatic per-host tins (`auto dsthost|srchost`): a packet that no
//! filter, priority or fwmark placed goes to the tin its host holds in the
//! core's [`HostTable`], keyed by the host's exact masked address. This file
//! holds the settings (parsed from netlink, dumped back) and the table as
//! the qdisc runs it; the table is allocated with the configuration, outside
//! the qdisc lock, and the packet path only looks up and sweeps.

use super::config::Config;
use crate::glue::alloc::KernelAlloc;
use crate::glue::netlink::{Attr, ExtAck, NlWriter, Options};
use crate::glue::qdisc::random_u32;
use crate::glue::skb::SkBuff;
use crate::glue::uapi::*;
use crate::sched::host_table::{HostInfo, HostKey, HostTable, Pool, SWEEP_PER_PACKET};
use core::mem::offset_of;
use kernel::prelude::*;

/// Bytes of one `struct tc_cakemt_prefix`.
const PREFIX_SIZE: usize = core::mem::size_of::<tc_cakemt_prefix>();
const _: () = assert!(PREFIX_SIZE == CAKEMT_PREFIX_SIZE as usize);
const MAX_PREFIXES: usize = CAKEMT_AUTO_MAX_PREFIXES as usize;
/// Longest idle time accepted: a day, in ms.
const IDLE_MAX_MS: u32 = 86_400_000;

/// Which address is a packet's host.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum AutoMode {
    Off,
    DstHost,
    SrcHost,
}

/// The `auto` settings.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct AutoConfig {
    pub(crate) mode: AutoMode,
    pub(crate) mask4: u8,
    pub(crate) mask6: u8,
    /// A host with nothing queued keeps its tin this long after its last
    /// packet, ms.
    pub(crate) idle_ms: u32,
    /// Lowest tin given automatically, 1-based.
    pub(crate) first: u32,
    /// The ranges that get tins (none: every address).
    prefixes: [HostKey; MAX_PREFIXES],
    nprefixes: usize,
}

impl Default for AutoConfig {
    fn default() -> Self {
        Self {
            mode: AutoMode::Off,
            mask4: 32,
            // A subscriber's IPv6 /64 is one host.
            mask6: 64,
            // "A few minutes", as PCQ users expect idle addresses to linger.
            idle_ms: 180_000,
            first: 1,
            prefixes: [HostKey::ANY; MAX_PREFIXES],
            nprefixes: 0,
        }
    }
}

/// A u32 option within `range`, or an extack error naming `what`.
fn bounded(
    opts: &Options<'_>,
    kind: u32,
    range: core::ops::RangeInclusive<u32>,
    what: &str,
    ext: &mut ExtAck,
) -> Result<Option<u32>> {
    let Some(a) = opts.get(kind) else {
        return Ok(None);
    };
    let v = a.u32();
    if !range.contains(&v) {
        return Err(ext.invalid(
            Some(a),
            format_args!(
                "cakemt: {what} must be {}..{}, not {v}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(Some(v))
}

impl AutoConfig {
    /// Whether automatic tins are on.
    pub(crate) fn on(&self) -> bool {
        self.mode != AutoMode::Off
    }

    /// The address ranges that get tins.
    pub(crate) fn prefixes(&self) -> &[HostKey] {
        self.prefixes.get(..self.nprefixes).unwrap_or(&[])
    }

    /// The settings after `opts` (tins as the request leaves them).
    pub(crate) fn parse(&self, opts: &Options<'_>, tins: u32, ext: &mut ExtAck) -> Result<Self> {
        let mut c = *self;
        if let Some(a) = opts.get(TCA_CAKEMT_AUTO) {
            c.mode = match a.u32() {
                CAKEMT_AUTO_NONE => AutoMode::Off,
                CAKEMT_AUTO_DSTHOST => AutoMode::DstHost,
                CAKEMT_AUTO_SRCHOST => AutoMode::SrcHost,
                v => {
                    return Err(ext.invalid(
                        Some(a),
                        format_args!(
                            "cakemt: auto {v} is none of none (0), dsthost (1), srchost (2)"
                        ),
                    ))
                }
            };
        }
        if let Some(v) = bounded(opts, TCA_CAKEMT_AUTO_MASK4, 1..=32, "mask4", ext)? {
            c.mask4 = v as u8;
        }
        if let Some(v) = bounded(opts, TCA_CAKEMT_AUTO_MASK6, 1..=128, "mask6", ext)? {
            c.mask6 = v as u8;
        }
        if let Some(v) = bounded(
            opts,
            TCA_CAKEMT_AUTO_IDLE,
            1..=IDLE_MAX_MS,
            "auto-idle (ms)",
            ext,
        )? {
            c.idle_ms = v;
        }
        if let Some(v) = bounded(
            opts,
            TCA_CAKEMT_AUTO_FIRST,
            1..=CAKEMT_MAX_TINS,
            "auto-first",
            ext,
        )? {
            c.first = v;
        }
        if let Some(a) = opts.get(TCA_CAKEMT_AUTO_PREFIXES) {
            c.parse_prefixes(a, ext)?;
        }
        if c.on() && c.first > tins {
            let a = opts
                .get(TCA_CAKEMT_AUTO_FIRST)
                .or(opts.get(TCA_CAKEMT_TINS));
            return Err(ext.invalid(
                a,
                format_args!("cakemt: auto-first {} is past tins {tins}", c.first),
            ));
        }
        Ok(c)
    }

    /// Reads a `TCA_CAKEMT_AUTO_PREFIXES` array (empty: every address).
    fn parse_prefixes(&mut self, a: Attr<'_>, ext: &mut ExtAck) -> Result {
        let bytes = a.bytes();
        if bytes.len() % PREFIX_SIZE != 0 || bytes.len() / PREFIX_SIZE > MAX_PREFIXES {
            return Err(ext.invalid(
                Some(a),
                format_args!(
                    "cakemt: auto-prefix holds {} bytes, not up to {MAX_PREFIXES} whole {PREFIX_SIZE}-byte entries",
                    bytes.len()
                ),
            ));
        }
        let mut out = [HostKey::ANY; MAX_PREFIXES];
        let n = bytes.len() / PREFIX_SIZE;
        for (i, slot) in out.iter_mut().enumerate().take(n) {
            let start = i.saturating_mul(PREFIX_SIZE);
            let e = bytes
                .get(start..start.saturating_add(PREFIX_SIZE))
                .unwrap_or(&[]);
            let at = |o: usize| e.get(o).copied().unwrap_or(0);
            let family = at(offset_of!(tc_cakemt_prefix, family));
            let len = at(offset_of!(tc_cakemt_prefix, len));
            let pad = u16::from_ne_bytes([
                at(offset_of!(tc_cakemt_prefix, pad)),
                at(offset_of!(tc_cakemt_prefix, pad).saturating_add(1)),
            ]);
            let mut addr = [0u8; 16];
            let base = offset_of!(tc_cakemt_prefix, addr);
            for (j, b) in addr.iter_mut().enumerate() {
                *b = at(base.saturating_add(j));
            }
            let key = match u32::from(family) {
                CAKEMT_AF_INET if len <= 32 && pad == 0 => {
                    HostKey::v4([addr[0], addr[1], addr[2], addr[3]], len)
                }
                CAKEMT_AF_INET6 if len <= 128 && pad == 0 => HostKey::v6(addr, len),
                _ => {
                    return Err(ext.invalid(
                        Some(a),
                        format_args!(
                            "cakemt: auto-prefix entry {i}: family {family} length {len} pad {pad} is no IPv4 /0..32 or IPv6 /0..128 prefix"
                        ),
                    ))
                }
            };
            *slot = key;
        }
        self.prefixes = out;
        self.nprefixes = n;
        Ok(())
    }

    /// `TCA_OPTIONS`: every setting, also when off (a dump says all in force).
    pub(crate) fn dump(&self, out: &mut NlWriter) -> Result {
        let mode = match self.mode {
            AutoMode::Off => CAKEMT_AUTO_NONE,
            AutoMode::DstHost => CAKEMT_AUTO_DSTHOST,
            AutoMode::SrcHost => CAKEMT_AUTO_SRCHOST,
        };
        out.put_u32(TCA_CAKEMT_AUTO, mode)?;
        out.put_u32(TCA_CAKEMT_AUTO_MASK4, u32::from(self.mask4))?;
        out.put_u32(TCA_CAKEMT_AUTO_MASK6, u32::from(self.mask6))?;
        out.put_u32(TCA_CAKEMT_AUTO_IDLE, self.idle_ms)?;
        out.put_u32(TCA_CAKEMT_AUTO_FIRST, self.first)?;
        let mut buf = [0u8; MAX_PREFIXES * PREFIX_SIZE];
        let mut len: usize = 0;
        for k in self.prefixes() {
            let end = len.saturating_add(PREFIX_SIZE);
            if let Some(e) = buf.get_mut(len..end) {
                e.copy_from_slice(&prefix_bytes(k));
                len = end;
            }
        }
        out.put_bytes(TCA_CAKEMT_AUTO_PREFIXES, buf.get(..len).unwrap_or(&[]))
    }

    /// The pool of tins for `cfg` (0-based), without the default tin.
    fn pool(cfg: &Config) -> Pool {
        Pool {
            first: cfg.auto.first.saturating_sub(1),
            tins: cfg.tins,
            exclude: cfg.effective_default_tin().saturating_sub(1),
        }
    }
}

/// A host or prefix as `struct tc_cakemt_prefix` bytes.
pub(crate) fn prefix_bytes(k: &HostKey) -> [u8; PREFIX_SIZE] {
    let mut e = [0u8; PREFIX_SIZE];
    let family = if k.v6 {
        CAKEMT_AF_INET6
    } else {
        CAKEMT_AF_INET
    };
    if let Some(b) = e.get_mut(offset_of!(tc_cakemt_prefix, family)) {
        *b = family as u8;
    }
    if let Some(b) = e.get_mut(offset_of!(tc_cakemt_prefix, len)) {
        *b = k.len;
    }
    let base = offset_of!(tc_cakemt_prefix, addr);
    if let Some(dst) = e.get_mut(base..base.saturating_add(16)) {
        dst.copy_from_slice(&k.addr());
    }
    e
}

/// The host table as the qdisc runs it.
pub(crate) struct AutoHosts {
    table: HostTable<KernelAlloc>,
    /// Bytes the table takes.
    pub(crate) bytes: usize,
    cfg: AutoConfig,
}

/// How a configuration change affects the host table.
pub(crate) enum Rebuild {
    /// Keep the table (new idle time and prefixes applied in place).
    Keep,
    /// Replace it: `adopt` to keep the hosts whose tins remain.
    New {
        table: Option<KBox<AutoHosts>>,
        adopt: bool,
    },
}

impl AutoHosts {
    /// A table for `cfg`, or None if `cfg` has automatic tins off.
    pub(crate) fn build(cfg: &Config, ext: &mut ExtAck) -> Result<Option<KBox<Self>>> {
        if !cfg.auto.on() {
            return Ok(None);
        }
        let pool = AutoConfig::pool(cfg);
        let seed = (
            u64::from(random_u32()) << 32 | u64::from(random_u32()),
            u64::from(random_u32()) << 32 | u64::from(random_u32()),
        );
        let mut alloc = KernelAlloc::default();
        let idle = u64::from(cfg.auto.idle_ms).saturating_mul(1_000_000);
        let made = HostTable::new(&mut alloc, pool, idle, seed)
            .ok()
            .and_then(|table| {
                let bytes = alloc.bytes.saturating_add(core::mem::size_of::<Self>());
                let cfg = cfg.auto;
                KBox::new(Self { table, bytes, cfg }, GFP_KERNEL).ok()
            });
        match made {
            Some(t) => Ok(Some(t)),
            None => Err(ext.fail(
                ENOMEM,
                None,
                format_args!(
                    "cakemt: no memory for the host table of {} automatic tins",
                    pool.size()
                ),
            )),
        }
    }

    /// What changing `old` to `new` needs, the new table built here.
    pub(crate) fn rebuild(old: &Config, new: &Config, ext: &mut ExtAck) -> Result<Rebuild> {
        let (a, b) = (&old.auto, &new.auto);
        let keys_same = a.mode == b.mode && a.mask4 == b.mask4 && a.mask6 == b.mask6;
        let pool_same = AutoConfig::pool(old) == AutoConfig::pool(new);
        if keys_same && (pool_same || !b.on()) {
            return Ok(Rebuild::Keep);
        }
        Ok(Rebuild::New {
            table: Self::build(new, ext)?,
            adopt: keys_same,
        })
    }

    /// New idle time and prefixes; the hosts stay.
    pub(crate) fn update(&mut self, cfg: &AutoConfig) {
        self.table
            .set_idle(u64::from(cfg.idle_ms).saturating_mul(1_000_000));
        self.cfg = *cfg;
    }

    /// Takes over the hosts of `old` whose tins remain in the pool.
    pub(crate) fn adopt(&mut self, old: &Self) {
        self.table.adopt(&old.table);
    }

    /// Releases idle hosts a few slots further.
    pub(crate) fn sweep(&mut self, now: u64, busy: &dyn Fn(u32) -> bool) {
        self.table.sweep(now, SWEEP_PER_PACKET, busy);
    }

    /// The tin (0-based) of `skb`'s host (with `nat`, its address before
    /// NAT), if it is IP, in the prefixes, and has or can be given one.
    pub(crate) fn tin_for(
        &mut self,
        skb: &SkBuff,
        nat: bool,
        now: u64,
        busy: &dyn Fn(u32) -> bool,
    ) -> Option<u32> {
        let a = skb.addrs(nat)?;
        let addr = if self.cfg.mode == AutoMode::SrcHost {
            a.src
        } else {
            a.dst
        };
        let (full, host) = if a.v6 {
            (HostKey::v6(addr, 128), HostKey::v6(addr, self.cfg.mask6))
        } else {
            let v4 = [addr[0], addr[1], addr[2], addr[3]];
            (HostKey::v4(v4, 32), HostKey::v4(v4, self.cfg.mask4))
        };
        let prefixes = self.cfg.prefixes();
        if !prefixes.is_empty() && !prefixes.iter().any(|p| p.contains(&full)) {
            return None;
        }
        self.table.lookup(&host, now, busy)
    }

    /// The host holding tin `tin` (0-based).
    pub(crate) fn holder(&self, tin: u32) -> Option<HostInfo> {
        self.table.holder(tin)
    }

    /// Pool size, hosts, admitted, released, refused.
    pub(crate) fn counters(&self) -> AutoCounters {
        let c = self.table.counters();
        AutoCounters {
            pool: self.table.pool().size(),
            hosts: self.table.hosts(),
            admitted: c.admitted,
            released: c.released,
            refused: c.refused,
        }
    }
}

/// The automatic tins' counters, copied under the lock.
#[derive(Clone, Copy, Default)]
pub(crate) struct AutoCounters {
    pub(crate) pool: u32,
    pub(crate) hosts: u32,
    pub(crate) admitted: u64,
    pub(crate) released: u64,
    pub(crate) refused: u64,
}
