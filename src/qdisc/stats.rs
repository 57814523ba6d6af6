// SPDX-License-Identifier: GPL-2.0
//! What `tc qdisc show` and `tc -s qdisc show` print: the configuration in
//! force, and a scheduler-wide summary (never a walk over the tins: every
//! figure is kept as it changes, so a dump costs the same at any size).

use super::auto_hosts::AutoCounters;
use super::config::Config;
use super::Cakemt;
use crate::glue::netlink::NlWriter;
use crate::glue::qdisc::Counters;
use crate::glue::uapi::*;
use crate::sched::scheduler::Totals;
use kernel::prelude::*;

/// The qdisc's statistics, copied under the lock.
pub(crate) struct QdiscStats {
    totals: Totals,
    mem_used: u64,
    memlimit: u64,
    active_tins: u32,
    waiting_tins: u32,
    flows_in_use: u32,
    flow_slots: u32,
    allocated: usize,
    unclassified: u64,
    misclassified: u64,
    throttled: u64,
    /// Automatic tins' counters, if they are on.
    auto: Option<AutoCounters>,
    /// The link rate in force (autorate's, if on), bytes/s.
    link_rate: u64,
    /// autorate's capacity estimate, if on.
    capacity: Option<u64>,
}

impl QdiscStats {
    pub(super) fn of(q: &Cakemt) -> Self {
        let mem = q.sched.memory_report();
        Self {
            totals: *q.sched.totals(),
            mem_used: q.sched.mem_used(),
            memlimit: q.sched.config().memlimit,
            active_tins: mem.active_tins,
            waiting_tins: q.sched.waiting_tins(),
            flows_in_use: mem.flows_in_use,
            flow_slots: mem.flow_slots,
            allocated: q
                .allocated
                .saturating_add(q.auto.as_ref().map_or(0, |a| a.bytes)),
            unclassified: q.select.unclassified,
            misclassified: q.select.misclassified,
            throttled: q.throttled,
            auto: q.auto.as_ref().map(|a| a.counters()),
            link_rate: q.sched.config().link_rate,
            capacity: q.autorate.as_ref().map(|a| a.estimate()),
        }
    }
}

/// `TCA_OPTIONS`: every setting, as in force (the default tin resolved).
pub(super) fn dump_config(c: &Config, out: &mut NlWriter) -> Result {
    out.put_u64(TCA_CAKEMT_BASE_RATE64, c.link_rate, TCA_CAKEMT_PAD)?;
    out.put_u32(TCA_CAKEMT_TINS, c.tins)?;
    out.put_u64(TCA_CAKEMT_TIN_RATE64, c.tin_rate, TCA_CAKEMT_PAD)?;
    out.put_u32(TCA_CAKEMT_DEFAULT_TIN, c.effective_default_tin())?;
    // Also when 0 ("off", "automatic"): a dump says everything in force.
    out.put_u32(TCA_CAKEMT_FWMARK, c.fwmark)?;
    out.put_u32(TCA_CAKEMT_MEMLIMIT, c.memlimit)?;
    c.cake.dump(out)?;
    c.auto.dump(out)?;
    out.put_u64(TCA_CAKEMT_BURST_RATE64, c.burst.rate, TCA_CAKEMT_PAD)?;
    out.put_u64(
        TCA_CAKEMT_BURST_THRESHOLD64,
        c.burst.threshold,
        TCA_CAKEMT_PAD,
    )?;
    out.put_u32(TCA_CAKEMT_BURST_TIME, c.burst.time_ms)
}

fn u32_sat(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// `TCA_STATS_APP`: the scheduler-wide summary.
pub(super) fn dump_stats(c: &Config, s: &QdiscStats, k: &Counters, out: &mut NlWriter) -> Result {
    let pad = TCA_CAKEMT_STATS_PAD;
    let t = &s.totals;
    out.put_u64(TCA_CAKEMT_STATS_BASE_RATE64, c.link_rate, pad)?;
    out.put_u64(TCA_CAKEMT_STATS_LINK_RATE64, s.link_rate, pad)?;
    if let Some(e) = s.capacity {
        out.put_u64(TCA_CAKEMT_STATS_CAPACITY_ESTIMATE64, e, pad)?;
    }
    out.put_u32(TCA_CAKEMT_STATS_MEMORY_LIMIT, u32_sat(s.memlimit))?;
    out.put_u32(TCA_CAKEMT_STATS_MEMORY_USED, u32_sat(s.mem_used))?;
    out.put_u64(TCA_CAKEMT_STATS_MEMORY_ALLOCATED, s.allocated as u64, pad)?;
    out.put_u64(TCA_CAKEMT_STATS_DROP_OVERLIMIT, t.overlimit_drops, pad)?;
    out.put_u64(TCA_CAKEMT_STATS_DROP_COBALT, t.cobalt_drops, pad)?;
    out.put_u64(TCA_CAKEMT_STATS_DROP_ACK, t.ack_drops, pad)?;
    out.put_u64(TCA_CAKEMT_STATS_ECN_MARKED, t.ecn_marks, pad)?;
    out.put_u64(TCA_CAKEMT_STATS_THROTTLED, s.throttled, pad)?;
    out.put_u32(TCA_CAKEMT_STATS_TINS, c.tins)?;
    out.put_u32(TCA_CAKEMT_STATS_ACTIVE_TINS, s.active_tins)?;
    out.put_u32(TCA_CAKEMT_STATS_WAITING_TINS, s.waiting_tins)?;
    out.put_u32(TCA_CAKEMT_STATS_FLOWS_IN_USE, s.flows_in_use)?;
    out.put_u32(TCA_CAKEMT_STATS_FLOW_SLOTS, s.flow_slots)?;
    out.put_u64(TCA_CAKEMT_STATS_UNCLASSIFIED, s.unclassified, pad)?;
    out.put_u64(TCA_CAKEMT_STATS_MISCLASSIFIED, s.misclassified, pad)?;
    out.put_u64(
        TCA_CAKEMT_STATS_RESERVED_SLOT_USES,
        t.reserved_slot_uses,
        pad,
    )?;
    out.put_u64(TCA_CAKEMT_STATS_RECEIVED, k.received, pad)?;
    out.put_u64(TCA_CAKEMT_STATS_STOLEN, k.stolen, pad)?;
    if let Some(a) = &s.auto {
        out.put_u32(TCA_CAKEMT_STATS_AUTO_POOL, a.pool)?;
        out.put_u32(TCA_CAKEMT_STATS_AUTO_HOSTS, a.hosts)?;
        out.put_u64(TCA_CAKEMT_STATS_AUTO_ADMITTED, a.admitted, pad)?;
        out.put_u64(TCA_CAKEMT_STATS_AUTO_RELEASED, a.released, pad)?;
        out.put_u64(TCA_CAKEMT_STATS_AUTO_REFUSED, a.refused, pad)?;
    }
    Ok(())
}
