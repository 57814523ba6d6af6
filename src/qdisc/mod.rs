// SPDX-License-Identifier: GPL-2.0
//! The cakemt qdisc as the kernel sees it: every subscriber host has a tin
//! (its own rate cap, CAKE's flow queueing and COBALT inside), tins are
//! chosen by tc filters, `skb->priority` or fwmark ([`select`]), and they
//! are the qdisc's classes ([`classes`]). The data path is the scheduling
//! core's [`Scheduler`]; this file feeds it packets and time and turns its
//! answers into the kernel's (drops through the adapter, which keeps qlen
//! and backlog; the watchdog at the next wake-up).
//!
//! Configuration ([`config`]) is validated and its memory allocated before
//! the qdisc lock is taken; changing the number of tins (or the diffserv
//! bands inside them) builds a new scheduler and moves every queued packet
//! into it under the lock, so nothing queued is lost by any change.

mod auto_hosts;
mod cake;
mod classes;
pub(crate) mod config;
mod select;
mod stats;

use crate::glue::alloc::KernelAlloc;
use crate::glue::netlink::{ExtAck, NlWriter, Options};
use crate::glue::qdisc::{
    now_ns, random_u32, Classified, Counters, DequeueCtx, EnqueueCtx, Qdisc, ResetCtx, Verdict,
};
use crate::glue::skb::{SkBuff, SkbQueue};
use crate::sched::autorate::CapacityEstimate;
use crate::sched::packet::Packet;
use crate::sched::scheduler::{ConfigError, Dequeued, Scheduler};
use auto_hosts::{AutoHosts, Rebuild};
use cake::SplitGso;
use config::{Config, Request, TinRate};
use kernel::prelude::*;
use select::Selector;

/// The scheduling core as the kernel runs it.
type Sched = Scheduler<SkbQueue, KernelAlloc>;

/// Fruitless dequeues with nothing to wait for that are believed before
/// the core is taken to be broken (it never should be).
const STALL_RETRIES: u32 = 8;
/// What the watchdog waits after that, instead of spinning.
const STALL_BACKOFF_NS: u64 = 1_000_000;

/// The qdisc's state, behind the adapter (under the qdisc lock).
pub(crate) struct Cakemt {
    sched: Sched,
    /// Bytes the scheduler's tables take.
    allocated: usize,
    select: Selector,
    /// The automatic per-host tins, when on.
    auto: Option<KBox<AutoHosts>>,
    /// When GSO packets are split (a copy of the setting for the data path).
    split_gso: SplitGso,
    /// Clear DSCP at enqueue (a copy of the setting for the data path).
    wash: bool,
    /// Hosts and flows by pre-NAT addresses (a copy for the data path).
    nat: bool,
    /// The link's capacity estimate, with autorate-ingress.
    autorate: Option<CapacityEstimate>,
    /// Seed of the host hashes (per qdisc, so they cannot be aimed at).
    seed: u32,
    /// Times dequeue had to wait for a shaper and armed the watchdog.
    throttled: u64,
    /// Consecutive dequeues the core answered "wait until now".
    stalls: u32,
    /// The broken-invariant warning was printed.
    warned: bool,
}

/// A prepared `tc qdisc change`.
pub(crate) struct Change {
    request: Request,
    /// A scheduler for a new number of tins or new bands, built outside
    /// the lock; after `apply` it holds the old, emptied one, freed outside
    /// the lock.
    sched: Option<(Sched, usize)>,
    /// A new host table (or none), built outside the lock; after `apply`
    /// it holds the old one, freed outside the lock.
    auto: Rebuild,
}

/// Builds the scheduler for `cfg`, with an extack message on failure.
fn build_sched(cfg: &Config, ext: &mut ExtAck) -> Result<(Sched, usize)> {
    let mut alloc = KernelAlloc::default();
    match Scheduler::new(&mut alloc, &cfg.sched_config()) {
        Ok(s) => Ok((s, alloc.bytes)),
        Err(ConfigError::NoMemory) => Err(ext.fail(
            ENOMEM,
            None,
            format_args!("cakemt: no memory for {} tins", cfg.tins),
        )),
        Err(ConfigError::Invalid) => Err(ext.invalid(
            None,
            format_args!("cakemt: the scheduler refused {} tins", cfg.tins),
        )),
    }
}

impl Cakemt {
    /// Applies per-tin rates and weights (tins checked by the parser).
    fn apply_rates(&mut self, rates: &[TinRate], now: u64) {
        for r in rates {
            if r.follow_default {
                self.sched.set_tin_rate_default(r.tin, now);
            } else {
                self.sched.set_tin_rate(r.tin, r.rate, now);
            }
            if r.weight != 0 {
                self.sched.set_tin_weight(r.tin, r.weight);
            }
        }
    }

    /// The core answered "wait until now" again: believe it a few times,
    /// then warn once and back off, so a broken invariant never becomes a
    /// busy loop of timer interrupts.
    fn stall(&mut self, now: u64) -> u64 {
        self.stalls = self.stalls.saturating_add(1);
        if self.stalls <= STALL_RETRIES {
            return now;
        }
        if !self.warned {
            self.warned = true;
            pr_warn!(
                "cakemt: internal error: packets queued but none due; backing off {} us\n",
                STALL_BACKOFF_NS / 1000
            );
        }
        now.saturating_add(STALL_BACKOFF_NS)
    }
}

impl Qdisc for Cakemt {
    const NAME: &'static [u8] = b"cakemt";
    type Control = Config;
    type Change = Change;
    type Class = u32;
    type Stats = stats::QdiscStats;

    fn init(opts: &Options<'_>, ext: &mut ExtAck) -> Result<(Config, Self)> {
        let Request { config, rates } = Request::parse(opts, None, ext)?;
        let (sched, allocated) = build_sched(&config, ext)?;
        let auto = AutoHosts::build(&config, ext)?;
        let mut q = Self {
            sched,
            allocated,
            select: Selector::new(config.tins, config.effective_default_tin(), config.fwmark),
            auto,
            split_gso: config.cake.split_gso,
            wash: config.cake.wash,
            nat: config.cake.nat,
            autorate: config
                .cake
                .autorate
                .then(|| CapacityEstimate::new(config.link_rate, now_ns())),
            seed: random_u32(),
            throttled: 0,
            stalls: 0,
            warned: false,
        };
        q.apply_rates(&rates, now_ns());
        Ok((config, q))
    }

    fn prepare(ctrl: &Config, opts: &Options<'_>, ext: &mut ExtAck) -> Result<Change> {
        let request = Request::parse(opts, Some(ctrl), ext)?;
        // New tins or new bands need new tables.
        let sched = if request.config.tins != ctrl.tins
            || request.config.cake.diffserv != ctrl.cake.diffserv
        {
            Some(build_sched(&request.config, ext)?)
        } else {
            None
        };
        let auto = AutoHosts::rebuild(ctrl, &request.config, ext)?;
        Ok(Change {
            request,
            sched,
            auto,
        })
    }

    fn apply(&mut self, ctrl: &mut Config, change: &mut Change) {
        let now = now_ns();
        let mut new = change.request.config;
        if let Some((sched, allocated)) = change.sched.as_mut() {
            // Every queued packet moves to the same tin, or the default
            // one if its tin is gone; settings and counters carry over.
            let seed = self.seed;
            let default = new.effective_default_tin().saturating_sub(1);
            let nat = new.cake.nat;
            let keys = &mut |p: &SkBuff| p.flow_keys(seed, nat);
            if sched.take_over(&mut self.sched, default, keys, now).is_ok() {
                core::mem::swap(&mut self.sched, sched);
                core::mem::swap(&mut self.allocated, allocated);
            } else {
                // Cannot happen (the parser checked the default tin), but
                // if it did, the tins and their bands stay as they were.
                new.tins = ctrl.tins;
                new.default_tin = ctrl.default_tin;
                new.cake.diffserv = ctrl.cake.diffserv;
            }
        }
        if new.link_rate != ctrl.link_rate {
            self.sched.set_link_rate(new.link_rate, now);
        }
        // autorate starts again from a bandwidth given; turned off, the
        // link goes back to the configured rate.
        if !new.cake.autorate {
            if self.autorate.take().is_some() {
                self.sched.set_link_rate(new.link_rate, now);
            }
        } else if self.autorate.is_none() || new.link_rate != ctrl.link_rate {
            self.autorate = Some(CapacityEstimate::new(new.link_rate, now));
        }
        if new.tin_rate != ctrl.tin_rate {
            self.sched.set_default_tin_rate(new.tin_rate, now);
        }
        if new.burst_config() != ctrl.burst_config() {
            self.sched.set_burst(new.burst_config());
        }
        self.sched.set_memlimit(u64::from(new.effective_memlimit()));
        // A new scheduler was built with the new settings already; setting
        // them again is harmless.
        new.cake.apply(&ctrl.cake, &mut self.sched);
        self.split_gso = new.cake.split_gso;
        self.wash = new.cake.wash;
        self.nat = new.cake.nat;
        self.select
            .configure(new.tins, new.effective_default_tin(), new.fwmark);
        self.apply_rates(&change.request.rates, now);
        match &mut change.auto {
            Rebuild::Keep => {}
            Rebuild::New { table, adopt } => {
                if let (true, Some(new), Some(old)) = (*adopt, table.as_mut(), self.auto.as_ref()) {
                    new.adopt(old);
                }
                core::mem::swap(&mut self.auto, table);
            }
        }
        if let Some(a) = self.auto.as_mut() {
            a.update(&new.auto);
        }
        *ctrl = new;
    }

    fn classify(&mut self, q: &mut EnqueueCtx<'_>, skb: &mut SkBuff) -> Classified<u32> {
        let placed = self.select.select(q, skb);
        let Some(auto) = self.auto.as_mut() else {
            return match placed {
                Classified::To(t) => Classified::To(t.unwrap_or_else(|| self.select.unplaced())),
                Classified::Shot => Classified::Shot,
                Classified::Stolen => Classified::Stolen,
            };
        };
        // A host may give its tin back only with nothing queued in it.
        let sched = &self.sched;
        let busy = |t: u32| sched.tin(t).is_some_and(|t| t.backlog_packets() > 0);
        let now = now_ns();
        auto.sweep(now, &busy);
        match placed {
            Classified::To(Some(t)) => Classified::To(t),
            Classified::To(None) => match auto.tin_for(skb, self.nat, now, &busy) {
                Some(t) => Classified::To(t),
                None => Classified::To(self.select.unplaced()),
            },
            Classified::Shot => Classified::Shot,
            Classified::Stolen => Classified::Stolen,
        }
    }

    fn split_gso(&self, tin: u32) -> bool {
        let tin_rate = self.sched.tin(tin).map_or(0, |t| t.rate());
        self.split_gso
            .splits(self.sched.config().link_rate, tin_rate)
    }

    fn enqueue(&mut self, q: &mut EnqueueCtx<'_>, tin: u32, mut skb: SkBuff) -> Verdict {
        // The band's DSCP first: as CAKE, wash clears it only on the wire.
        skb.keep_dscp(self.sched.diffserv().bands() > 1);
        // After classification, so that filters still see the DSCP.
        if self.wash {
            skb.wash();
        }
        let keys = skb.flow_keys(self.seed, self.nat);
        let (now, len) = (now_ns(), skb.len());
        let verdict = match self
            .sched
            .enqueue(tin, skb, keys, now, &mut |p, _| q.drop_queued(p))
        {
            Ok(e) if e.own_flow_cut => Verdict::QueuedOwnFlowCut,
            Ok(_) => Verdict::Queued,
            Err(_) => Verdict::Dropped,
        };
        // Every arrival counts: the estimate is of what the link brings.
        if let Some(rate) = self.autorate.as_mut().and_then(|a| a.on_packet(len, now)) {
            self.sched.set_link_rate(rate, now);
        }
        verdict
    }

    fn dequeue(&mut self, q: &mut DequeueCtx<'_>) -> Option<SkBuff> {
        let now = now_ns();
        match self.sched.dequeue(now, &mut |p, _| q.drop_queued(p)) {
            Dequeued::Packet(p) => {
                self.stalls = 0;
                Some(p)
            }
            Dequeued::WaitUntil(t) => {
                let at = if t > now {
                    self.stalls = 0;
                    t
                } else {
                    self.stall(now)
                };
                self.throttled = self.throttled.wrapping_add(1);
                q.overlimit();
                q.wake_at(at);
                None
            }
            Dequeued::Empty => None,
        }
    }

    fn reset(&mut self, q: &mut ResetCtx<'_>) {
        self.sched.reset(&mut |p, _| q.drop(p));
    }

    fn dump(ctrl: &Config, out: &mut NlWriter) -> Result {
        stats::dump_config(ctrl, out)
    }

    fn stats(&self) -> stats::QdiscStats {
        stats::QdiscStats::of(self)
    }

    fn dump_stats(
        ctrl: &Config,
        s: &stats::QdiscStats,
        counters: &Counters,
        out: &mut NlWriter,
    ) -> Result {
        stats::dump_stats(ctrl, s, counters, out)
    }
}
