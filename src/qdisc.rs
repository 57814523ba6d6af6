// SPDX-License-Identifier: GPL-2.0
//! The cakemt qdisc as the kernel sees it. At this stage: one FIFO with a
//! memory limit behind a link shaper (the scheduling core replaces the FIFO
//! next), with exact qlen/backlog/drop accounting.

use crate::config::{Config, ConfigChange};
use crate::glue::netlink::{ExtAck, NlWriter, Options};
use crate::glue::qdisc::{now_ns, DequeueCtx, EnqueueCtx, Qdisc, Verdict};
use crate::glue::skb::{SkBuff, SkbQueue};
use crate::glue::*;
use crate::sched::packet::{Packet, PacketQueue};
use crate::sched::shaper::{Rate, Shaper};
use kernel::prelude::*;

/// How far the link shaper's schedule may fall behind the clock while the
/// queue is busy (late timers cost no rate), as the scheduling core's default.
const MAX_LAG_NS: u64 = 1_000_000;

/// The qdisc's state, reached through `qdisc_priv`.
pub(crate) struct Cakemt {
    config: Config,
    queue: SkbQueue,
    /// Sum of `truesize` of queued packets, held against the memory limit.
    memory_used: u32,
    /// The link shaper.
    shaper: Shaper,
    /// Packets refused because the memory limit was reached.
    drop_overlimit: u64,
    /// Times dequeue found the shaper closed and armed the watchdog.
    throttled: u64,
}

impl Qdisc for Cakemt {
    const NAME: &'static [u8] = b"cakemt";
    type Config = ConfigChange;

    fn parse(opts: &Options<'_>, ext: &mut ExtAck) -> Result<ConfigChange> {
        ConfigChange::parse(opts, ext)
    }

    fn new(change: ConfigChange) -> Result<Self> {
        let mut config = Config::default();
        config.update(&change);
        Ok(Self {
            config,
            queue: SkbQueue::default(),
            memory_used: 0,
            shaper: Shaper::new(Rate::from_bytes_per_s(config.rate)),
            drop_overlimit: 0,
            throttled: 0,
        })
    }

    fn apply(&mut self, change: ConfigChange) {
        // Only settings change: the queue stays, and the shaper keeps its
        // time base, so a re-rate neither drops nor reorders anything.
        self.config.update(&change);
        if change.rate.is_some() {
            self.shaper
                .set_rate(Rate::from_bytes_per_s(self.config.rate), now_ns());
        }
    }

    fn enqueue(&mut self, sch: &mut EnqueueCtx<'_>, skb: SkBuff) -> Verdict {
        let size = skb.mem_size();
        let used = self.memory_used.saturating_add(size);
        if used > self.config.effective_memlimit() {
            self.drop_overlimit = self.drop_overlimit.wrapping_add(1);
            return sch.drop(skb);
        }
        if self.queue.is_empty() {
            // An idle link earns no credit: the shaper restarts from now.
            self.shaper.restart(now_ns());
        }
        self.memory_used = used;
        sch.enqueued(&skb);
        self.queue.push_back(skb);
        Verdict::Queued
    }

    fn dequeue(&mut self, sch: &mut DequeueCtx<'_>) -> Option<SkBuff> {
        let head_len = self.queue.front()?.len();
        let now = now_ns();
        if let Some(at) = self.shaper.wait_until(now) {
            self.throttled = self.throttled.wrapping_add(1);
            sch.overlimit();
            sch.wake_at(at);
            return None;
        }
        self.shaper.charge(head_len, now, MAX_LAG_NS);
        let skb = self.queue.pop_front()?;
        self.memory_used = self.memory_used.saturating_sub(skb.mem_size());
        sch.dequeued(&skb);
        Some(skb)
    }

    fn reset(&mut self) {
        self.queue = SkbQueue::default();
        self.memory_used = 0;
    }

    fn dump(&self, out: &mut NlWriter) -> Result {
        out.put_u64(TCA_CAKEMT_BASE_RATE64, self.config.rate, TCA_CAKEMT_PAD)?;
        if self.config.memlimit != 0 {
            out.put_u32(TCA_CAKEMT_MEMLIMIT, self.config.memlimit)?;
        }
        Ok(())
    }

    fn dump_stats(&self, out: &mut NlWriter) -> Result {
        out.put_u64(
            TCA_CAKEMT_STATS_BASE_RATE64,
            self.config.rate,
            TCA_CAKEMT_STATS_PAD,
        )?;
        out.put_u32(
            TCA_CAKEMT_STATS_MEMORY_LIMIT,
            self.config.effective_memlimit(),
        )?;
        out.put_u32(TCA_CAKEMT_STATS_MEMORY_USED, self.memory_used)?;
        out.put_u64(
            TCA_CAKEMT_STATS_DROP_OVERLIMIT,
            self.drop_overlimit,
            TCA_CAKEMT_STATS_PAD,
        )?;
        out.put_u64(
            TCA_CAKEMT_STATS_THROTTLED,
            self.throttled,
            TCA_CAKEMT_STATS_PAD,
        )?;
        Ok(())
    }
}
