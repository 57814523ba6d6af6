// SPDX-License-Identifier: GPL-2.0
//! Every tin is a class: `H:N` is tin N (1-based, as HTB users expect).
//! `tc class show` lists each tin's rate and weight, `tc -s class show` its
//! counters (CAKE's per-tin statistics and the tin's shaper), and
//! `tc class change ... classid H:N cakemt bandwidth RATE weight W` re-rates
//! one tin live without touching its packets.

use super::auto_hosts::prefix_bytes;
use super::config::Config;
use super::Cakemt;
use crate::glue::class::{ClassBasic, Classes};
use crate::glue::netlink::{ClassOptions, ExtAck, NlWriter};
use crate::glue::qdisc::now_ns;
use crate::glue::uapi::*;
use crate::sched::host_table::HostKey;
use crate::sched::tin_queue::TinStats;
use kernel::prelude::*;

/// A validated `tc class change`.
pub(crate) struct ClassChange {
    /// `Some(None)`: follow the qdisc's tin rate; `Some(Some(r))`: own rate.
    rate: Option<Option<u64>>,
    weight: Option<u16>,
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
}

fn ns_to_us(ns: u64) -> u32 {
    u32::try_from(ns / 1000).unwrap_or(u32::MAX)
}

impl Classes for Cakemt {
    type ClassChange = ClassChange;
    type ClassStats = TinSnapshot;

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
        Ok(ClassChange { rate, weight })
    }

    fn class_apply(&mut self, _ctrl: &Config, cl: u32, change: ClassChange) {
        let tin = cl.saturating_sub(1);
        let now = now_ns();
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
        Some(TinSnapshot {
            host,
            rate: t.rate(),
            follows_default: t.follows_default_rate(),
            weight: t.weight(),
            throttled: t.throttled(),
            stats: *t.stats(),
        })
    }

    fn class_dump(_ctrl: &Config, s: &TinSnapshot, out: &mut NlWriter) -> Result {
        out.put_u64(TCA_CAKEMT_CLASS_RATE64, s.rate, TCA_CAKEMT_CLASS_PAD)?;
        out.put_u32(TCA_CAKEMT_CLASS_WEIGHT, u32::from(s.weight))?;
        if s.follows_default {
            out.put_flag(TCA_CAKEMT_CLASS_RATE_DEFAULT)?;
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
            Ok(())
        })
        .map(|_| ())
    }
}
