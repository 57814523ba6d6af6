// SPDX-License-Identifier: GPL-2.0
//! Every tin is a class: `H:N` is tin N (1-based, as HTB users expect).
//! `tc class show` lists each tin's rate and weight, `tc -s class show` its
//! counters (CAKE's per-tin statistics and the tin's shaper), and
//! `tc class change ... classid H:N cakemt bandwidth RATE weight W` re-rates
//! one tin live without touching its packets; `burst RATE threshold RATE
//! time TIME` gives it bursts of its own, and `rtt TIME overhead N mpu N
//! atm` a profile of its own (a subscriber's backhaul and access line).

use super::auto_hosts::prefix_bytes;
use super::cake::{framing_of, framing_value, mpu_of, overhead_of, put_diffserv, us_of};
use super::config::{Config, BURST_TIME_DEFAULT_MS, BURST_TIME_MAX_MS};
use super::Cakemt;
use crate::glue::class::{ClassBasic, Classes};
use crate::glue::netlink::{ClassOptions, ExtAck, NlWriter};
use crate::glue::qdisc::now_ns;
use crate::glue::uapi::*;
use crate::sched::band::BandView;
use crate::sched::burst::{BurstConfig, BurstError, TinBurst, TIN_BURSTS};
use crate::sched::cobalt::CobaltConfig;
use crate::sched::diffserv::{DiffservMode, MAX_BANDS};
use crate::sched::host_table::HostKey;
use crate::sched::overhead::Framing;
use crate::sched::tin_profile::{ProfileError, TinProfile, TIN_PROFILES};
use crate::sched::tin_queue::TinStats;
use kernel::prelude::*;

/// A validated `tc class change`.
pub(crate) struct ClassChange {
    /// `Some(None)`: follow the qdisc's tin rate; `Some(Some(r))`: own rate.
    rate: Option<Option<u64>>,
    weight: Option<u16>,
    burst: Option<ClassBurst>,
    profile: ProfileChange,
}

/// A requested change of a tin's profile: `None` fields stay as they are,
/// `Some(None)` goes back to the qdisc's.
#[derive(Clone, Copy, Default, PartialEq)]
struct ProfileChange {
    cobalt: Option<Option<CobaltConfig>>,
    /// Overhead, mpu and cells back to the qdisc's, before the fields below.
    framing_default: bool,
    overhead: Option<i32>,
    mpu: Option<u32>,
    cells: Option<Framing>,
}

impl ProfileChange {
    /// The profile a tin holding `p` would hold after this change.
    fn over(&self, mut p: TinProfile) -> TinProfile {
        if let Some(c) = self.cobalt {
            p.cobalt = c;
        }
        if self.framing_default {
            (p.overhead, p.mpu, p.framing) = (None, None, None);
        }
        p.overhead = self.overhead.or(p.overhead);
        p.mpu = self.mpu.or(p.mpu);
        p.framing = self.cells.or(p.framing);
        p
    }
}

/// The profile options of a class change, checked on their own.
fn parse_profile(opts: &ClassOptions<'_>, ext: &mut ExtAck) -> Result<ProfileChange> {
    let rtt = opts.get(TCA_CAKEMT_CLASS_RTT);
    let target = opts.get(TCA_CAKEMT_CLASS_TARGET);
    let cobalt = match (opts.get(TCA_CAKEMT_CLASS_RTT_DEFAULT), rtt) {
        (Some(d), _) if rtt.is_some() || target.is_some() => {
            return Err(ext.invalid(
                Some(d),
                format_args!("cakemt: rtt default takes no rtt or target"),
            ))
        }
        (Some(_), _) => Some(None),
        (None, Some(r)) => {
            let rtt_us = us_of(r, "rtt", ext)?;
            let target_us = match target {
                Some(t) => us_of(t, "target", ext)?,
                None => (rtt_us / 20).max(1),
            };
            let us = |v: u32| u64::from(v).saturating_mul(1000);
            Some(Some(CobaltConfig::new(us(rtt_us), us(target_us))))
        }
        (None, None) => {
            if let Some(t) = target {
                return Err(ext.invalid(
                    Some(t),
                    format_args!("cakemt: a tin's target needs its rtt"),
                ));
            }
            None
        }
    };
    Ok(ProfileChange {
        cobalt,
        framing_default: opts.get(TCA_CAKEMT_CLASS_FRAMING_DEFAULT).is_some(),
        overhead: opts
            .get(TCA_CAKEMT_CLASS_OVERHEAD)
            .map(|a| overhead_of(a, ext))
            .transpose()?,
        mpu: opts
            .get(TCA_CAKEMT_CLASS_MPU)
            .map(|a| mpu_of(a, ext))
            .transpose()?,
        cells: opts
            .get(TCA_CAKEMT_CLASS_ATM)
            .map(|a| framing_of(a, ext))
            .transpose()?,
    })
}

/// A tin's burst as requested (the threshold 0: the tin's rate).
#[derive(Clone, Copy)]
enum ClassBurst {
    Default,
    Off,
    Own {
        rate: u64,
        threshold: u64,
        time_ms: u32,
    },
}

/// What only the tin's state could refuse.
pub(crate) enum ClassRefusal {
    /// The burst is not above its threshold.
    BurstNotAbove(BurstConfig),
    /// The table of tins' own bursts is full.
    BurstsFull,
    /// The table of tins' own profiles is full.
    ProfilesFull,
}

/// The burst options of a class change, checked on their own.
fn parse_burst(opts: &ClassOptions<'_>, ext: &mut ExtAck) -> Result<Option<ClassBurst>> {
    let rate = opts.get(TCA_CAKEMT_CLASS_BURST_RATE64);
    let threshold = opts.get(TCA_CAKEMT_CLASS_BURST_THRESHOLD64);
    let time = opts.get(TCA_CAKEMT_CLASS_BURST_TIME);
    if let Some(d) = opts.get(TCA_CAKEMT_CLASS_BURST_DEFAULT) {
        if rate.is_some() || threshold.is_some() || time.is_some() {
            return Err(ext.invalid(
                Some(d),
                format_args!("cakemt: burst default takes no rate, threshold or time"),
            ));
        }
        return Ok(Some(ClassBurst::Default));
    }
    let Some(r) = rate else {
        if let Some(a) = threshold.or(time) {
            return Err(ext.invalid(
                Some(a),
                format_args!("cakemt: a burst threshold or time needs a burst RATE"),
            ));
        }
        return Ok(None);
    };
    if r.u64() == 0 {
        if let Some(a) = threshold.or(time) {
            return Err(ext.invalid(
                Some(a),
                format_args!("cakemt: burst none takes no threshold or time"),
            ));
        }
        return Ok(Some(ClassBurst::Off));
    }
    let time_ms = match time {
        Some(a) if !(1..=BURST_TIME_MAX_MS).contains(&a.u32()) => {
            return Err(ext.invalid(
                Some(a),
                format_args!(
                    "cakemt: burst time must be 1..{BURST_TIME_MAX_MS} ms, not {}",
                    a.u32()
                ),
            ))
        }
        Some(a) => a.u32(),
        None => BURST_TIME_DEFAULT_MS,
    };
    Ok(Some(ClassBurst::Own {
        rate: r.u64(),
        threshold: threshold.map_or(0, |a| a.u64()),
        time_ms,
    }))
}

/// One tin, copied under the lock.
pub(crate) struct TinSnapshot {
    rate: u64,
    follows_default: bool,
    weight: u16,
    throttled: u32,
    stats: TinStats,
    /// The automatic host holding the tin, with ms since it was given it
    /// and since its last packet.
    host: Option<(HostKey, u64, u64)>,
    burst: TinBurst,
    profile: TinProfile,
    /// COBALT target and interval in force, ns.
    cobalt: (u64, u64),
    /// The tin's diffserv bands (`bands[..band_count]`; none with one).
    diffserv: DiffservMode,
    band_count: u8,
    bands: [BandView; MAX_BANDS],
}

fn ns_to_us(ns: u64) -> u32 {
    u32::try_from(ns / 1000).unwrap_or(u32::MAX)
}

/// One band's statistics, as CAKE's per-class ones (bands are CAKE's
/// diffserv classes, inside one tin here).
fn put_band(out: &mut NlWriter, b: &BandView) -> Result {
    let pad = TCA_CAKEMT_BAND_STATS_PAD;
    let st = &b.stats;
    out.put_u64(
        TCA_CAKEMT_BAND_STATS_THRESHOLD_RATE64,
        b.threshold_rate,
        pad,
    )?;
    out.put_u32(TCA_CAKEMT_BAND_STATS_TARGET_US, ns_to_us(b.target_ns))?;
    out.put_u32(TCA_CAKEMT_BAND_STATS_INTERVAL_US, ns_to_us(b.interval_ns))?;
    out.put_u32(TCA_CAKEMT_BAND_STATS_QUANTUM, u32::from(b.quantum))?;
    out.put_u64(TCA_CAKEMT_BAND_STATS_ENQUEUED_PACKETS, st.packets, pad)?;
    out.put_u64(TCA_CAKEMT_BAND_STATS_ENQUEUED_BYTES, st.bytes, pad)?;
    out.put_u64(TCA_CAKEMT_BAND_STATS_SENT_PACKETS, st.dequeued_packets, pad)?;
    out.put_u64(TCA_CAKEMT_BAND_STATS_SENT_BYTES, st.dequeued_bytes, pad)?;
    out.put_u64(
        TCA_CAKEMT_BAND_STATS_DROPPED_PACKETS,
        st.dropped_packets,
        pad,
    )?;
    out.put_u32(TCA_CAKEMT_BAND_STATS_ECN_MARKED, st.ecn_marks)?;
    out.put_u64(TCA_CAKEMT_BAND_STATS_BACKLOG_BYTES, st.backlog_bytes, pad)?;
    out.put_u32(TCA_CAKEMT_BAND_STATS_BACKLOG_PACKETS, st.backlog_packets)?;
    out.put_u32(TCA_CAKEMT_BAND_STATS_SPARSE_FLOWS, b.sparse_flows)?;
    out.put_u32(TCA_CAKEMT_BAND_STATS_BULK_FLOWS, b.bulk_flows)
}

impl Classes for Cakemt {
    type ClassChange = ClassChange;
    type ClassStats = TinSnapshot;
    type ClassRefusal = ClassRefusal;

    fn classes(ctrl: &Config) -> u32 {
        ctrl.tins
    }

    fn class_prepare(
        _ctrl: &Config,
        _cl: u32,
        opts: &ClassOptions<'_>,
        ext: &mut ExtAck,
    ) -> Result<ClassChange> {
        let own = opts.get(TCA_CAKEMT_CLASS_RATE64);
        let default = opts.get(TCA_CAKEMT_CLASS_RATE_DEFAULT);
        let rate = match (own, default) {
            (Some(a), Some(_)) => {
                return Err(ext.invalid(
                    Some(a),
                    format_args!("cakemt: bandwidth RATE and bandwidth default exclude each other"),
                ))
            }
            (Some(a), None) => Some(Some(a.u64())),
            (None, Some(_)) => Some(None),
            (None, None) => None,
        };
        let weight = match opts.get(TCA_CAKEMT_CLASS_WEIGHT) {
            Some(a) => {
                let w = a.u32();
                match u16::try_from(w) {
                    Ok(w) if w != 0 => Some(w),
                    _ => {
                        return Err(ext.invalid(
                            Some(a),
                            format_args!("cakemt: weight must be 1..65535, not {w}"),
                        ))
                    }
                }
            }
            None => None,
        };
        let burst = parse_burst(opts, ext)?;
        let profile = parse_profile(opts, ext)?;
        Ok(ClassChange {
            rate,
            weight,
            burst,
            profile,
        })
    }

    fn class_apply(
        &mut self,
        ctrl: &Config,
        cl: u32,
        change: ClassChange,
    ) -> core::result::Result<(), ClassRefusal> {
        let tin = cl.saturating_sub(1);
        let now = now_ns();
        // The burst is checked first, against the rate the tin will have
        // (its threshold by default), so a refusal changes nothing.
        let burst = match change.burst {
            None => None,
            Some(ClassBurst::Default) => Some(TinBurst::Default),
            Some(ClassBurst::Off) => Some(TinBurst::Off),
            Some(ClassBurst::Own {
                rate,
                threshold,
                time_ms,
            }) => {
                let tin_rate = match change.rate {
                    Some(Some(r)) => r,
                    Some(None) => ctrl.tin_rate,
                    None => self.sched.tin(tin).map_or(0, |t| t.rate()),
                };
                let threshold = if threshold == 0 { tin_rate } else { threshold };
                Some(TinBurst::Own(BurstConfig {
                    rate,
                    threshold,
                    time_ns: u64::from(time_ms).saturating_mul(1_000_000),
                }))
            }
        };
        if let Some(b) = &burst {
            match self.sched.check_tin_burst(tin, b) {
                Ok(()) | Err(BurstError::NoTin) => {}
                Err(BurstError::Full) => return Err(ClassRefusal::BurstsFull),
                // Not above its threshold: the time is at least 1 ms, and
                // only a burst of the tin's own can be invalid.
                Err(BurstError::Invalid) => {
                    if let TinBurst::Own(c) = b {
                        return Err(ClassRefusal::BurstNotAbove(*c));
                    }
                }
            }
        }
        // So is the profile: it can only find the table full (its fields
        // were checked in prepare).
        let profile = if change.profile == ProfileChange::default() {
            None
        } else {
            let p = change
                .profile
                .over(self.sched.tin_profile(tin).unwrap_or_default());
            if self.sched.check_tin_profile(tin, &p) == Err(ProfileError::Full) {
                return Err(ClassRefusal::ProfilesFull);
            }
            Some(p)
        };
        match change.rate {
            Some(Some(r)) => {
                self.sched.set_tin_rate(tin, r, now);
            }
            Some(None) => {
                self.sched.set_tin_rate_default(tin, now);
            }
            None => {}
        }
        if let Some(w) = change.weight {
            self.sched.set_tin_weight(tin, w);
        }
        if let Some(b) = burst {
            // Checked above, under the same lock: it cannot fail now.
            let _ = self.sched.set_tin_burst(tin, b);
        }
        if let Some(p) = profile {
            // Checked above too.
            let _ = self.sched.set_tin_profile(tin, &p);
        }
        Ok(())
    }

    fn class_refused(refusal: ClassRefusal, ext: &mut ExtAck) -> Error {
        match refusal {
            ClassRefusal::BurstNotAbove(b) => ext.invalid(
                None,
                format_args!(
                    "cakemt: burst rate {} B/s must be above its threshold {} B/s (the tin's bandwidth if none is given)",
                    b.rate, b.threshold
                ),
            ),
            ClassRefusal::ProfilesFull => ext.fail(
                ENOSPC,
                None,
                format_args!(
                    "cakemt: {TIN_PROFILES} different tin profiles are in use: take one of theirs or free one"
                ),
            ),
            ClassRefusal::BurstsFull => ext.fail(
                ENOSPC,
                None,
                format_args!(
                    "cakemt: {TIN_BURSTS} different tin bursts are in use: take one of theirs or free one"
                ),
            ),
        }
    }

    fn class_stats(&self, cl: u32) -> Option<TinSnapshot> {
        let tin = cl.checked_sub(1)?;
        let t = self.sched.tin(tin)?;
        let now = now_ns();
        let ms = |t: u64| now.saturating_sub(t) / 1_000_000;
        let host = self
            .auto
            .as_ref()
            .and_then(|a| a.holder(tin))
            .map(|h| (h.key, ms(h.since), ms(h.last)));
        let diffserv = self.sched.diffserv();
        let mut bands = [BandView::default(); MAX_BANDS];
        let mut band_count = 0;
        if diffserv.bands() > 1 {
            for (i, b) in (0..diffserv.bands()).zip(bands.iter_mut()) {
                let Some(v) = self.sched.band(tin, i) else {
                    break;
                };
                *b = v;
                band_count = i.saturating_add(1);
            }
        }
        Some(TinSnapshot {
            diffserv,
            band_count,
            bands,
            host,
            rate: t.rate(),
            follows_default: t.follows_default_rate(),
            weight: t.weight(),
            throttled: t.throttled(),
            stats: *t.stats(),
            burst: self.sched.tin_burst(tin).unwrap_or(TinBurst::Default),
            profile: self.sched.tin_profile(tin).unwrap_or_default(),
            cobalt: self
                .sched
                .cobalt_in_force(tin)
                .map_or((0, 0), |c| (c.target, c.interval)),
        })
    }

    fn class_dump(_ctrl: &Config, s: &TinSnapshot, out: &mut NlWriter) -> Result {
        out.put_u64(TCA_CAKEMT_CLASS_RATE64, s.rate, TCA_CAKEMT_CLASS_PAD)?;
        out.put_u32(TCA_CAKEMT_CLASS_WEIGHT, u32::from(s.weight))?;
        if s.follows_default {
            out.put_flag(TCA_CAKEMT_CLASS_RATE_DEFAULT)?;
        }
        let pad = TCA_CAKEMT_CLASS_PAD;
        match s.burst {
            TinBurst::Default => out.put_flag(TCA_CAKEMT_CLASS_BURST_DEFAULT)?,
            TinBurst::Off => out.put_u64(TCA_CAKEMT_CLASS_BURST_RATE64, 0, pad)?,
            TinBurst::Own(b) => {
                out.put_u64(TCA_CAKEMT_CLASS_BURST_RATE64, b.rate, pad)?;
                out.put_u64(TCA_CAKEMT_CLASS_BURST_THRESHOLD64, b.threshold, pad)?;
                let ms = u32::try_from(b.time_ns / 1_000_000).unwrap_or(u32::MAX);
                out.put_u32(TCA_CAKEMT_CLASS_BURST_TIME, ms)?;
            }
        }
        let p = &s.profile;
        if let Some(c) = &p.cobalt {
            out.put_u32(TCA_CAKEMT_CLASS_RTT, ns_to_us(c.rtt_ns))?;
            out.put_u32(TCA_CAKEMT_CLASS_TARGET, ns_to_us(c.target_ns))?;
        }
        if let Some(o) = p.overhead {
            out.put_s32(TCA_CAKEMT_CLASS_OVERHEAD, o)?;
        }
        if let Some(m) = p.mpu {
            out.put_u32(TCA_CAKEMT_CLASS_MPU, m)?;
        }
        if let Some(f) = p.framing {
            out.put_u32(TCA_CAKEMT_CLASS_ATM, framing_value(f))?;
        }
        Ok(())
    }

    fn class_basic(s: &TinSnapshot) -> ClassBasic {
        let st = &s.stats;
        ClassBasic {
            bytes: st.dequeued_bytes,
            packets: st.dequeued_packets,
            drops: st.dropped_packets as u32,
            overlimits: s.throttled,
            qlen: st.backlog_packets,
            backlog: u32::try_from(st.backlog_bytes).unwrap_or(u32::MAX),
        }
    }

    fn class_dump_stats(s: &TinSnapshot, out: &mut NlWriter) -> Result {
        let st = &s.stats;
        let pad = TCA_CAKEMT_TIN_STATS_PAD;
        out.nested(TCA_CAKEMT_STATS_TIN, |out| {
            out.put_u64(TCA_CAKEMT_TIN_STATS_RATE64, s.rate, pad)?;
            if s.follows_default {
                out.put_flag(TCA_CAKEMT_TIN_STATS_RATE_DEFAULT)?;
            }
            out.put_u32(TCA_CAKEMT_TIN_STATS_WEIGHT, u32::from(s.weight))?;
            out.put_u64(TCA_CAKEMT_TIN_STATS_ENQUEUED_PACKETS, st.packets, pad)?;
            out.put_u64(TCA_CAKEMT_TIN_STATS_SENT_PACKETS, st.dequeued_packets, pad)?;
            out.put_u64(TCA_CAKEMT_TIN_STATS_SENT_BYTES, st.dequeued_bytes, pad)?;
            out.put_u64(
                TCA_CAKEMT_TIN_STATS_DROPPED_PACKETS,
                st.dropped_packets,
                pad,
            )?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_DROP_COBALT, st.cobalt_drops)?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_DROP_ACK, st.ack_drops)?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_DROP_OVERLIMIT, st.overlimit_drops)?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_ECN_MARKED, st.ecn_marks)?;
            out.put_u64(TCA_CAKEMT_TIN_STATS_BACKLOG_BYTES, st.backlog_bytes, pad)?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_BACKLOG_PACKETS, st.backlog_packets)?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_SPARSE_FLOWS, st.sparse_flows)?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_BULK_FLOWS, st.bulk_flows)?;
            out.put_u32(
                TCA_CAKEMT_TIN_STATS_UNRESPONSIVE_FLOWS,
                st.unresponsive_flows,
            )?;
            out.put_u32(
                TCA_CAKEMT_TIN_STATS_PEAK_DELAY_US,
                ns_to_us(st.peak_delay_ns),
            )?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_AVG_DELAY_US, ns_to_us(st.avg_delay_ns))?;
            out.put_u32(
                TCA_CAKEMT_TIN_STATS_BASE_DELAY_US,
                ns_to_us(st.base_delay_ns),
            )?;
            out.put_u64(TCA_CAKEMT_TIN_STATS_THROTTLED, u64::from(s.throttled), pad)?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_MAX_SKBLEN, st.max_pkt_len)?;
            out.put_u32(
                TCA_CAKEMT_TIN_STATS_RESERVED_SLOT_USES,
                st.reserved_slot_uses,
            )?;
            if let Some((key, age, idle)) = &s.host {
                out.put_bytes(TCA_CAKEMT_TIN_STATS_AUTO_HOST, &prefix_bytes(key))?;
                out.put_u64(TCA_CAKEMT_TIN_STATS_AUTO_AGE_MS, *age, pad)?;
                out.put_u64(TCA_CAKEMT_TIN_STATS_AUTO_IDLE_MS, *idle, pad)?;
            }
            out.put_u32(TCA_CAKEMT_TIN_STATS_TARGET_US, ns_to_us(s.cobalt.0))?;
            out.put_u32(TCA_CAKEMT_TIN_STATS_INTERVAL_US, ns_to_us(s.cobalt.1))?;
            put_diffserv(out, TCA_CAKEMT_TIN_STATS_DIFFSERV_MODE, s.diffserv)?;
            let bands = s.bands.get(..usize::from(s.band_count)).unwrap_or(&[]);
            if bands.is_empty() {
                return Ok(());
            }
            out.nested(TCA_CAKEMT_TIN_STATS_BANDS, |out| {
                // Attribute N+1 is band N (type 0 means none).
                for (i, b) in (1..=MAX_BANDS as u32).zip(bands) {
                    out.nested(i, |out| put_band(out, b))?;
                }
                Ok(())
            })
            .map(|_| ())
        })
        .map(|_| ())
    }
}
