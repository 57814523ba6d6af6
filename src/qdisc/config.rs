// SPDX-License-Identifier: GPL-2.0
//! cakemt's configuration: what `tc qdisc add|change ... cakemt` may set,
//! validated from netlink before anything is applied. A request names only
//! what it changes; [`Request::parse`] checks it against the configuration
//! in force and gives the configuration that would result, so nothing is
//! touched unless all of it is valid.

use super::auto_hosts::AutoConfig;
use super::cake::CakeSettings;
use crate::glue::alloc::{KernelAlloc, KvSlice};
use crate::glue::netlink::{Attr, ExtAck, Options};
use crate::glue::uapi::*;
use crate::sched::alloc::SliceAlloc;
use crate::sched::burst::BurstConfig;
use crate::sched::scheduler::{SchedConfig, MAX_TINS};
use core::mem::{offset_of, size_of};
use kernel::prelude::*;

/// Smallest explicit memory limit: below one large packet's truesize every
/// packet would be dropped, which is never what an operator meant.
const MEMLIMIT_MIN: u32 = 4096;

// The contract and the core agree on the most tins there can be.
const _: () = assert!(MAX_TINS == CAKEMT_MAX_TINS);

/// Default memory limit floor, as CAKE's (4 MiB).
const MEMLIMIT_FLOOR: u32 = 4 << 20;

/// Bytes of one `struct tc_cakemt_tin_rate`.
const TIN_RATE_SIZE: usize = size_of::<tc_cakemt_tin_rate>();
const _: () = assert!(TIN_RATE_SIZE == CAKEMT_TIN_RATE_SIZE as usize);

/// The settings in force. Rates are bytes per second, 0 meaning "none".
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Config {
    /// Link rate (0 = unlimited).
    pub(crate) link_rate: u64,
    /// Number of tins (subscriber hosts), 1..=[`MAX_TINS`].
    pub(crate) tins: u32,
    /// Rate of every tin without one of its own (0 = only the link caps it).
    pub(crate) tin_rate: u64,
    /// Tin of unclassified packets as configured, 1-based; 0 = the last.
    pub(crate) default_tin: u32,
    /// fwmark mask (0 = fwmark not used).
    pub(crate) fwmark: u32,
    /// Memory limit as configured, 0 = automatic.
    pub(crate) memlimit: u32,
    /// CAKE's settings, the same for every tin.
    pub(crate) cake: CakeSettings,
    /// Automatic per-host tins.
    pub(crate) auto: AutoConfig,
    /// Bursts of the tins that follow `tin_rate`.
    pub(crate) burst: BurstSettings,
}

/// `burst RATE threshold RATE time TIME`, as configured.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BurstSettings {
    /// Bytes/s while bursting; 0 = no bursts.
    pub(crate) rate: u64,
    /// Bytes/s below which credit comes back; 0 = the tin rate.
    pub(crate) threshold: u64,
    /// Length of a full burst, ms.
    pub(crate) time_ms: u32,
}

/// Default burst time, ms.
pub(crate) const BURST_TIME_DEFAULT_MS: u32 = 10_000;
/// Longest burst time accepted: a day, in ms.
pub(crate) const BURST_TIME_MAX_MS: u32 = 86_400_000;

impl Default for Config {
    fn default() -> Self {
        Self {
            link_rate: 0,
            tins: 1,
            tin_rate: 0,
            default_tin: 0,
            fwmark: 0,
            memlimit: 0,
            cake: CakeSettings::default(),
            auto: AutoConfig::default(),
            burst: BurstSettings {
                rate: 0,
                threshold: 0,
                time_ms: BURST_TIME_DEFAULT_MS,
            },
        }
    }
}

impl Config {
    /// The default tin in force, 1-based.
    pub(crate) fn effective_default_tin(&self) -> u32 {
        if self.default_tin == 0 || self.default_tin > self.tins {
            self.tins
        } else {
            self.default_tin
        }
    }

    /// The memory limit in force: as configured, or like CAKE's default four
    /// 100 ms intervals of traffic at the link rate, at least 4 MiB.
    pub(crate) fn effective_memlimit(&self) -> u32 {
        if self.memlimit != 0 {
            return self.memlimit;
        }
        let four_intervals = self.link_rate / 1000 * 400;
        u32::try_from(four_intervals)
            .unwrap_or(u32::MAX)
            .max(MEMLIMIT_FLOOR)
    }

    /// The scheduling core's configuration for these settings.
    pub(crate) fn sched_config(&self) -> SchedConfig {
        SchedConfig {
            link_rate: self.link_rate,
            memlimit: u64::from(self.effective_memlimit()),
            default_tin_rate: self.tin_rate,
            overhead: self.cake.overhead,
            cobalt: self.cake.cobalt(),
            flow_mode: self.cake.flow_mode,
            ack_filter: self.cake.ack_filter,
            ingress: self.cake.ingress,
            burst: self.burst_config(),
            diffserv: self.cake.diffserv,
            ..SchedConfig::for_tins(self.tins)
        }
    }

    /// The core's burst settings (None: no bursts).
    pub(crate) fn burst_config(&self) -> Option<BurstConfig> {
        let b = &self.burst;
        let threshold = if b.threshold == 0 {
            self.tin_rate
        } else {
            b.threshold
        };
        (b.rate != 0).then_some(BurstConfig {
            rate: b.rate,
            threshold,
            time_ns: u64::from(b.time_ms).saturating_mul(1_000_000),
        })
    }
}

/// One entry of `TCA_CAKEMT_TIN_RATES`, checked.
#[derive(Clone, Copy, Default)]
pub(crate) struct TinRate {
    /// Tin, 0-based.
    pub(crate) tin: u32,
    /// Own rate (0 = none), unless `follow_default`.
    pub(crate) rate: u64,
    /// Follow the qdisc's tin rate instead of an own one.
    pub(crate) follow_default: bool,
    /// New weight, 0 = unchanged.
    pub(crate) weight: u16,
}

/// A validated request: the configuration it results in, and the per-tin
/// rates it carries (copied out of the message).
pub(crate) struct Request {
    /// The configuration after the request.
    pub(crate) config: Config,
    /// Per-tin rates and weights to apply after the rest.
    pub(crate) rates: KvSlice<TinRate>,
}

impl Request {
    /// Validates `opts` against `current` (None: a new qdisc, defaults). On
    /// error nothing is applied and `ext` says why, naming the keyword.
    pub(crate) fn parse(
        opts: &Options<'_>,
        current: Option<&Config>,
        ext: &mut ExtAck,
    ) -> Result<Self> {
        let mut c = current.copied().unwrap_or_default();
        if let Some(a) = opts.get(TCA_CAKEMT_BASE_RATE64) {
            c.link_rate = a.u64();
        }
        if let Some(a) = opts.get(TCA_CAKEMT_TIN_RATE64) {
            c.tin_rate = a.u64();
        }
        if let Some(a) = opts.get(TCA_CAKEMT_TINS) {
            let v = a.u32();
            if !(1..=MAX_TINS).contains(&v) {
                return Err(ext.invalid(
                    Some(a),
                    format_args!("cakemt: tins must be 1..{MAX_TINS}, not {v}"),
                ));
            }
            c.tins = v;
        }
        if let Some(a) = opts.get(TCA_CAKEMT_DEFAULT_TIN) {
            c.default_tin = a.u32();
        }
        if c.default_tin > c.tins {
            let a = opts
                .get(TCA_CAKEMT_DEFAULT_TIN)
                .or(opts.get(TCA_CAKEMT_TINS));
            return Err(ext.invalid(
                a,
                format_args!(
                    "cakemt: default-tin {} is past tins {}",
                    c.default_tin, c.tins
                ),
            ));
        }
        if let Some(a) = opts.get(TCA_CAKEMT_FWMARK) {
            c.fwmark = a.u32();
        }
        if let Some(a) = opts.get(TCA_CAKEMT_MEMLIMIT) {
            let v = a.u32();
            if v != 0 && v < MEMLIMIT_MIN {
                return Err(ext.invalid(
                    Some(a),
                    format_args!(
                        "cakemt: memlimit must be 0 (auto) or at least {MEMLIMIT_MIN} bytes"
                    ),
                ));
            }
            c.memlimit = v;
        }
        c.cake = c.cake.parse(opts, ext)?;
        c.auto = c.auto.parse(opts, c.tins, ext)?;
        c.parse_burst(opts, ext)?;
        let rates = match opts.get(TCA_CAKEMT_TIN_RATES) {
            Some(a) => parse_rates(a, c.tins, ext)?,
            None => no_rates(ext)?,
        };
        Ok(Self { config: c, rates })
    }
}

impl Config {
    /// The burst settings of `opts`, checked against the tin rate in force.
    fn parse_burst(&mut self, opts: &Options<'_>, ext: &mut ExtAck) -> Result {
        if let Some(a) = opts.get(TCA_CAKEMT_BURST_RATE64) {
            self.burst.rate = a.u64();
        }
        if let Some(a) = opts.get(TCA_CAKEMT_BURST_THRESHOLD64) {
            self.burst.threshold = a.u64();
        }
        if let Some(a) = opts.get(TCA_CAKEMT_BURST_TIME) {
            let v = a.u32();
            if !(1..=BURST_TIME_MAX_MS).contains(&v) {
                return Err(ext.invalid(
                    Some(a),
                    format_args!("cakemt: burst time must be 1..{BURST_TIME_MAX_MS} ms, not {v}"),
                ));
            }
            self.burst.time_ms = v;
        }
        match self.burst_config() {
            Some(b) if b.threshold == 0 || b.threshold >= b.rate => {
                let a = opts
                    .get(TCA_CAKEMT_BURST_THRESHOLD64)
                    .or(opts.get(TCA_CAKEMT_BURST_RATE64))
                    .or(opts.get(TCA_CAKEMT_TIN_RATE64));
                Err(ext.invalid(
                    a,
                    format_args!(
                        "cakemt: burst rate {} B/s must be above its threshold {} B/s (the tin-bandwidth if none is given)",
                        b.rate, b.threshold
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// An empty rates list.
fn no_rates(ext: &mut ExtAck) -> Result<KvSlice<TinRate>> {
    KernelAlloc::default()
        .alloc_slice(0, |_| TinRate::default())
        .map_err(|_| ext.fail(ENOMEM, None, format_args!("cakemt: no memory")))
}

/// Checks every entry of a `TCA_CAKEMT_TIN_RATES` array against `tins`
/// and copies them out.
fn parse_rates(a: Attr<'_>, tins: u32, ext: &mut ExtAck) -> Result<KvSlice<TinRate>> {
    let bytes = a.bytes();
    if bytes.is_empty() || bytes.len() % TIN_RATE_SIZE != 0 {
        return Err(ext.invalid(
            Some(a),
            format_args!(
                "cakemt: tin-rates holds {} bytes, not whole {TIN_RATE_SIZE}-byte entries",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / TIN_RATE_SIZE;
    let mut out = KernelAlloc::default()
        .alloc_slice(n, |_| TinRate::default())
        .map_err(|_| {
            ext.fail(
                ENOMEM,
                Some(a),
                format_args!("cakemt: no memory for {n} tin rates"),
            )
        })?;
    for (i, slot) in out.iter_mut().enumerate() {
        let at = i.saturating_mul(TIN_RATE_SIZE);
        let e = bytes
            .get(at..at.saturating_add(TIN_RATE_SIZE))
            .unwrap_or(&[]);
        let rate = read_u64(e, offset_of!(tc_cakemt_tin_rate, rate));
        let tin = read_u32(e, offset_of!(tc_cakemt_tin_rate, tin));
        let weight = read_u16(e, offset_of!(tc_cakemt_tin_rate, weight));
        let flags = read_u16(e, offset_of!(tc_cakemt_tin_rate, flags));
        if !(1..=tins).contains(&tin) {
            return Err(ext.invalid(
                Some(a),
                format_args!("cakemt: tin-rates entry {i}: no tin {tin} (tins {tins})"),
            ));
        }
        if u32::from(flags) & !CAKEMT_TIN_RATE_DEFAULT != 0 {
            return Err(ext.invalid(
                Some(a),
                format_args!("cakemt: tin-rates entry {i}: unknown flags {flags:#x}"),
            ));
        }
        *slot = TinRate {
            tin: tin.saturating_sub(1),
            rate,
            follow_default: u32::from(flags) & CAKEMT_TIN_RATE_DEFAULT != 0,
            weight,
        };
    }
    Ok(out)
}

// The entry's fields, at the offsets bindgen gives them, in native byte
// order as the C struct has them (a short read yields zeroes, never a panic).
fn read_u64(e: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(src) = e.get(at..at.saturating_add(8)) {
        v.copy_from_slice(src);
    }
    u64::from_ne_bytes(v)
}

fn read_u32(e: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(src) = e.get(at..at.saturating_add(4)) {
        v.copy_from_slice(src);
    }
    u32::from_ne_bytes(v)
}

fn read_u16(e: &[u8], at: usize) -> u16 {
    let mut v = [0u8; 2];
    if let Some(src) = e.get(at..at.saturating_add(2)) {
        v.copy_from_slice(src);
    }
    u16::from_ne_bytes(v)
}
