// SPDX-License-Identifier: GPL-2.0
//! CAKE's own settings, which every tin applies alike: overhead
//! compensation (`overhead`, `mpu`, `atm`/`ptm`, `raw`), flow isolation,
//! nat, the ACK filter, ingress mode, GSO splitting, wash, the diffserv
//! bands inside every tin, COBALT's rtt and target, and autorate-ingress.
//! Their netlink values mean what `TCA_CAKE_*` means to sch_cake, except
//! that a value out of range is refused rather than masked or clamped. All
//! of them change live in O(1) (the core's setters re-derive every tin's
//! parameters when it is next used, and none touches a queued packet),
//! except the diffserv mode: its bands are tables of their own, so a new
//! mode builds a new scheduler outside the lock and moves what is queued
//! into it, as a new number of tins does.

use super::Sched;
use crate::glue::netlink::{Attr, ExtAck, NlWriter, Options};
use crate::glue::skb::SkBuff;
use crate::glue::uapi::*;
use crate::sched::ack_filter::AckFilterMode;
use crate::sched::cobalt::CobaltConfig;
use crate::sched::diffserv::DiffservMode;
use crate::sched::overhead::{Framing, Overhead, MPU_MAX, OVERHEAD_MAX, OVERHEAD_MIN};
use crate::sched::tin_queue::FlowMode;
use kernel::prelude::*;

/// GSO packets are split into their segments when the tin or the link is
/// at most this fast in [`SplitGso::Auto`] (bytes/s; 1 Gbit/s): a 64 KB
/// burst would hold a 10 Mbit subscriber's queue for 50 ms, while above
/// it splitting costs more than it gains.
const SPLIT_GSO_RATE: u64 = 125_000_000;

/// CAKE's default rtt ("internet"): 100 ms, the target a twentieth of it.
const DEFAULT_RTT_US: u32 = 100_000;
const DEFAULT_TARGET_US: u32 = 5_000;

/// When GSO super-packets are split into their segments.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitGso {
    /// Never (`no-split-gso`).
    Never,
    /// Always (`split-gso`, CAKE's default).
    Always,
    /// When the tin or the link is at or below 1 Gbit/s (cakemt's default).
    Auto,
}

impl SplitGso {
    /// Should a GSO packet for a tin capped at `tin_rate` on a link of
    /// `link_rate` be split (bytes/s, 0 = uncapped)?
    pub(crate) fn splits(self, link_rate: u64, tin_rate: u64) -> bool {
        let slow = |rate: u64| rate != 0 && rate <= SPLIT_GSO_RATE;
        match self {
            SplitGso::Never => false,
            SplitGso::Always => true,
            SplitGso::Auto => slow(link_rate) || slow(tin_rate),
        }
    }
}

/// An enumerated setting: its attribute and what each of its values means.
/// One table serves parsing and dumping, so the two cannot disagree.
struct Modes<T: 'static> {
    kind: u32,
    /// The setting, and its values in tc's words, for error messages.
    what: &'static str,
    words: &'static str,
    table: &'static [(u32, T)],
}

impl<T: Copy + PartialEq> Modes<T> {
    /// The value `opts` gives, if any; one outside the table is refused.
    fn parse(&self, opts: &Options<'_>, ext: &mut ExtAck) -> Result<Option<T>> {
        opts.get(self.kind).map(|a| self.of(a, ext)).transpose()
    }

    /// The value attribute `a` gives; one outside the table is refused.
    fn of(&self, a: Attr<'_>, ext: &mut ExtAck) -> Result<T> {
        let v = a.u32();
        match self.table.iter().find(|e| e.0 == v) {
            Some(e) => Ok(e.1),
            None => Err(ext.invalid(
                Some(a),
                format_args!("cakemt: {} {v} is none of {}", self.what, self.words),
            )),
        }
    }

    fn value(&self, m: T) -> u32 {
        self.table.iter().find(|e| e.1 == m).map_or(0, |e| e.0)
    }

    fn put(&self, out: &mut NlWriter, m: T) -> Result {
        out.put_u32(self.kind, self.value(m))
    }
}

const ATM: Modes<Framing> = Modes {
    kind: TCA_CAKEMT_ATM,
    what: "atm mode",
    words: "noatm (0), atm (1), ptm (2)",
    table: &[
        (CAKEMT_ATM_NONE, Framing::None),
        (CAKEMT_ATM_ATM, Framing::Atm),
        (CAKEMT_ATM_PTM, Framing::Ptm),
    ],
};

const FLOW_MODE: Modes<FlowMode> = Modes {
    kind: TCA_CAKEMT_FLOW_MODE,
    what: "flow mode",
    words: "flowblind (0) .. triple-isolate (7)",
    table: &[
        (CAKEMT_FLOW_NONE, FlowMode::FlowBlind),
        (CAKEMT_FLOW_SRC_IP, FlowMode::SrcHost),
        (CAKEMT_FLOW_DST_IP, FlowMode::DstHost),
        (CAKEMT_FLOW_HOSTS, FlowMode::Hosts),
        (CAKEMT_FLOW_FLOWS, FlowMode::Flows),
        (CAKEMT_FLOW_DUAL_SRC, FlowMode::DualSrcHost),
        (CAKEMT_FLOW_DUAL_DST, FlowMode::DualDstHost),
        (CAKEMT_FLOW_TRIPLE, FlowMode::TripleIsolate),
    ],
};

const ACK_FILTER: Modes<AckFilterMode> = Modes {
    kind: TCA_CAKEMT_ACK_FILTER,
    what: "ack-filter mode",
    words: "no-ack-filter (0), ack-filter (1), ack-filter-aggressive (2)",
    table: &[
        (CAKEMT_ACK_NONE, AckFilterMode::Off),
        (CAKEMT_ACK_FILTER, AckFilterMode::Conservative),
        (CAKEMT_ACK_AGGRESSIVE, AckFilterMode::Aggressive),
    ],
};

const INGRESS: Modes<bool> = Modes {
    kind: TCA_CAKEMT_INGRESS,
    what: "ingress",
    words: "egress (0), ingress (1)",
    table: &[(0, false), (1, true)],
};

const NAT: Modes<bool> = Modes {
    kind: TCA_CAKEMT_NAT,
    what: "nat",
    words: "nonat (0), nat (1)",
    table: &[(0, false), (1, true)],
};

const AUTORATE: Modes<bool> = Modes {
    kind: TCA_CAKEMT_AUTORATE,
    what: "autorate",
    words: "off (0), autorate-ingress (1)",
    table: &[(0, false), (1, true)],
};

const WASH: Modes<bool> = Modes {
    kind: TCA_CAKEMT_WASH,
    what: "wash",
    words: "nowash (0), wash (1)",
    table: &[(0, false), (1, true)],
};

const SPLIT_GSO: Modes<SplitGso> = Modes {
    kind: TCA_CAKEMT_SPLIT_GSO,
    what: "split-gso mode",
    words: "no-split-gso (0), split-gso (1), auto-split-gso (2)",
    table: &[
        (CAKEMT_SPLIT_GSO_NEVER, SplitGso::Never),
        (CAKEMT_SPLIT_GSO_ALWAYS, SplitGso::Always),
        (CAKEMT_SPLIT_GSO_AUTO, SplitGso::Auto),
    ],
};

const DIFFSERV: Modes<DiffservMode> = Modes {
    kind: TCA_CAKEMT_DIFFSERV_MODE,
    what: "diffserv mode",
    // An extack message holds 80 bytes: the ends of the range only.
    words: "diffserv3 (0) .. precedence (4)",
    table: &[
        (CAKEMT_DIFFSERV_DIFFSERV3, DiffservMode::Diffserv3),
        (CAKEMT_DIFFSERV_DIFFSERV4, DiffservMode::Diffserv4),
        (CAKEMT_DIFFSERV_DIFFSERV8, DiffservMode::Diffserv8),
        (CAKEMT_DIFFSERV_BESTEFFORT, DiffservMode::Besteffort),
        (CAKEMT_DIFFSERV_PRECEDENCE, DiffservMode::Precedence),
    ],
};

/// Writes `m` as its `CAKEMT_DIFFSERV_*` value, as attribute `kind`.
pub(crate) fn put_diffserv(out: &mut NlWriter, kind: u32, m: DiffservMode) -> Result {
    out.put_u32(kind, DIFFSERV.value(m))
}

/// The settings in force.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct CakeSettings {
    /// Overhead compensation; `strip_mac` is CAKE's "not raw".
    pub(crate) overhead: Overhead,
    /// Flow isolation inside every tin.
    pub(crate) flow_mode: FlowMode,
    /// ACK filter inside every tin.
    pub(crate) ack_filter: AckFilterMode,
    /// CAKE's ingress mode.
    pub(crate) ingress: bool,
    /// When GSO packets are split.
    pub(crate) split_gso: SplitGso,
    /// CAKE's wash: clear DSCP (keeping ECN) of every packet at enqueue.
    pub(crate) wash: bool,
    /// CAKE's nat: hosts and flows by their addresses before NAT.
    pub(crate) nat: bool,
    /// CAKE's diffserv classes, as bands inside every tin. The default is
    /// besteffort, not CAKE's diffserv3: at an ISP's edge the DSCP is
    /// whatever the sender or a transit network set, and bands cost every
    /// tin memory and every packet time.
    pub(crate) diffserv: DiffservMode,
    /// CAKE's autorate-ingress: the link is shaped to 15/16 of its
    /// estimated capacity, starting from the configured bandwidth.
    pub(crate) autorate: bool,
    /// COBALT's interval, microseconds (at least 1).
    pub(crate) rtt_us: u32,
    /// COBALT's target, microseconds (at least 1).
    pub(crate) target_us: u32,
}

impl Default for CakeSettings {
    fn default() -> Self {
        Self {
            overhead: Overhead::default(),
            flow_mode: FlowMode::default(),
            ack_filter: AckFilterMode::Off,
            ingress: false,
            split_gso: SplitGso::Auto,
            wash: false,
            nat: false,
            diffserv: DiffservMode::Besteffort,
            autorate: false,
            rtt_us: DEFAULT_RTT_US,
            target_us: DEFAULT_TARGET_US,
        }
    }
}

/// Reads a time in microseconds, at least 1.
fn parse_us(opts: &Options<'_>, kind: u32, ext: &mut ExtAck, what: &str) -> Result<Option<u32>> {
    opts.get(kind).map(|a| us_of(a, what, ext)).transpose()
}

/// A time in microseconds, at least 1 (CAKE's minimum), for `what`.
pub(crate) fn us_of(a: Attr<'_>, what: &str, ext: &mut ExtAck) -> Result<u32> {
    match a.u32() {
        0 => Err(ext.invalid(
            Some(a),
            format_args!("cakemt: {what} must be at least 1 us, not 0"),
        )),
        v => Ok(v),
    }
}

/// A per-packet overhead, in the range tc-cake accepts.
pub(crate) fn overhead_of(a: Attr<'_>, ext: &mut ExtAck) -> Result<i32> {
    let v = a.s32();
    if !(OVERHEAD_MIN..=OVERHEAD_MAX).contains(&v) {
        return Err(ext.invalid(
            Some(a),
            format_args!("cakemt: overhead must be {OVERHEAD_MIN}..{OVERHEAD_MAX}, not {v}"),
        ));
    }
    Ok(v)
}

/// A minimum packet unit, in the range tc-cake accepts.
pub(crate) fn mpu_of(a: Attr<'_>, ext: &mut ExtAck) -> Result<u32> {
    let v = a.u32();
    if v > MPU_MAX {
        return Err(ext.invalid(
            Some(a),
            format_args!("cakemt: mpu must be 0..{MPU_MAX}, not {v}"),
        ));
    }
    Ok(v)
}

/// Cell framing, `CAKEMT_ATM_*`.
pub(crate) fn framing_of(a: Attr<'_>, ext: &mut ExtAck) -> Result<Framing> {
    ATM.of(a, ext)
}

/// `f` as `CAKEMT_ATM_*`, for dumps.
pub(crate) fn framing_value(f: Framing) -> u32 {
    ATM.value(f)
}

impl CakeSettings {
    /// The settings after the attributes of `opts` that concern them, or
    /// an error (naming the keyword) if one is out of range.
    pub(crate) fn parse(&self, opts: &Options<'_>, ext: &mut ExtAck) -> Result<Self> {
        let mut c = *self;
        // As sch_cake: an overhead also means "not raw", and raw wins when
        // both are sent.
        if let Some(a) = opts.get(TCA_CAKEMT_OVERHEAD) {
            c.overhead.overhead = overhead_of(a, ext)?;
            c.overhead.strip_mac = true;
        }
        if opts.get(TCA_CAKEMT_RAW).is_some() {
            c.overhead.strip_mac = false;
        }
        if let Some(a) = opts.get(TCA_CAKEMT_MPU) {
            c.overhead.mpu = mpu_of(a, ext)?;
        }
        if let Some(m) = ATM.parse(opts, ext)? {
            c.overhead.framing = m;
        }
        if let Some(m) = FLOW_MODE.parse(opts, ext)? {
            c.flow_mode = m;
        }
        if let Some(m) = ACK_FILTER.parse(opts, ext)? {
            c.ack_filter = m;
        }
        if let Some(m) = INGRESS.parse(opts, ext)? {
            c.ingress = m;
        }
        if let Some(m) = SPLIT_GSO.parse(opts, ext)? {
            c.split_gso = m;
        }
        if let Some(m) = WASH.parse(opts, ext)? {
            c.wash = m;
        }
        if let Some(m) = NAT.parse(opts, ext)? {
            if m && !SkBuff::conntrack_available() {
                return Err(ext.fail(
                    crate::glue::eopnotsupp(),
                    opts.get(TCA_CAKEMT_NAT),
                    format_args!("cakemt: nat needs conntrack, which this kernel lacks"),
                ));
            }
            c.nat = m;
        }
        if let Some(m) = DIFFSERV.parse(opts, ext)? {
            c.diffserv = m;
        }
        if let Some(m) = AUTORATE.parse(opts, ext)? {
            c.autorate = m;
        }
        if let Some(v) = parse_us(opts, TCA_CAKEMT_RTT, ext, "rtt")? {
            c.rtt_us = v;
        }
        if let Some(v) = parse_us(opts, TCA_CAKEMT_TARGET, ext, "target")? {
            c.target_us = v;
        }
        if !c.overhead.is_valid() {
            // Cannot happen (each field was checked), but the core would
            // refuse it: say so rather than build a scheduler that fails.
            return Err(ext.invalid(None, format_args!("cakemt: overhead settings out of range")));
        }
        Ok(c)
    }

    /// COBALT's settings as the core takes them.
    pub(crate) fn cobalt(&self) -> CobaltConfig {
        CobaltConfig::new(
            u64::from(self.rtt_us).saturating_mul(1000),
            u64::from(self.target_us).saturating_mul(1000),
        )
    }

    /// Hands what differs from `old` to the scheduler (under the lock;
    /// each setter is O(1) and leaves queued packets where they are).
    pub(crate) fn apply(&self, old: &Self, sched: &mut Sched) {
        if self.overhead != old.overhead {
            // Valid: checked by `parse`.
            sched.set_overhead(self.overhead);
        }
        if self.flow_mode != old.flow_mode {
            sched.set_flow_mode(self.flow_mode);
        }
        if self.ack_filter != old.ack_filter {
            sched.set_ack_filter(self.ack_filter);
        }
        if self.ingress != old.ingress {
            sched.set_ingress(self.ingress);
        }
        if self.rtt_us != old.rtt_us || self.target_us != old.target_us {
            sched.set_cobalt(self.cobalt());
        }
    }

    /// Writes every setting into a dump, as sch_cake does (`RAW` only when
    /// raw is in force).
    pub(crate) fn dump(&self, out: &mut NlWriter) -> Result {
        let o = &self.overhead;
        out.put_s32(TCA_CAKEMT_OVERHEAD, o.overhead)?;
        if !o.strip_mac {
            out.put_flag(TCA_CAKEMT_RAW)?;
        }
        out.put_u32(TCA_CAKEMT_MPU, o.mpu)?;
        ATM.put(out, o.framing)?;
        FLOW_MODE.put(out, self.flow_mode)?;
        ACK_FILTER.put(out, self.ack_filter)?;
        INGRESS.put(out, self.ingress)?;
        SPLIT_GSO.put(out, self.split_gso)?;
        WASH.put(out, self.wash)?;
        NAT.put(out, self.nat)?;
        DIFFSERV.put(out, self.diffserv)?;
        AUTORATE.put(out, self.autorate)?;
        out.put_u32(TCA_CAKEMT_RTT, self.rtt_us)?;
        out.put_u32(TCA_CAKEMT_TARGET, self.target_us)?;
        Ok(())
    }
}
