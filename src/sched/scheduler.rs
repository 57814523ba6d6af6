// SPDX-License-Identifier: GPL-2.0
//! The scheduler: thousands of tins, each with a real rate cap, behind one
//! link shaper.
//!
//! A backlogged tin is in exactly one of two places: the DRR ring of
//! eligible tins (its shaper lets it send now) or the calendar (waiting for
//! its shaper). Dequeue wakes the tins that came due, lets the DRR ring pick
//! one, takes a packet from it (CAKE's flow queueing and COBALT, in
//! [`TinQueue`](super::tin_queue::TinQueue)), charges both shapers and, if
//! the tin must now wait, files it in the calendar. Every step is O(1) in
//! the number of tins. Unlike CAKE, where a tin over its rate still sends
//! when it is the earliest, a tin never exceeds its own rate: over any span
//! it sends at most rate x (span + `max_lag_ns`) plus one packet, the lag
//! letting a tin that other tins held back catch up a little (and absorbing
//! timer and calendar-slot lateness) without a lasting excess.
//!
//! Memory is bounded by `memlimit` (bytes of `Packet::mem_size`): over it,
//! packets are dropped from the fattest flow of an approximately fattest
//! tin (see [`memlimit`](super::memlimit)): one using more than a quarter
//! of the memory of the true fattest.

use super::ack_filter::AckFilterMode;
use super::alloc::{AllocError, SliceAlloc};
use super::calendar::{Calendar, CalendarConfig, CALENDAR_BYTES_PER_TIN};
use super::cobalt::CobaltConfig;
use super::flow_table::FlowTable;
use super::memlimit::{MemBuckets, MEM_BYTES_PER_TIN};
use super::overhead::Overhead;
use super::packet::{DropReason, FlowKeys, Packet, PacketQueue};
use super::shaper::{Rate, Shaper};
use super::tin::Tin;
use super::tin_drr::{TinDrr, TIN_DRR_BYTES_PER_TIN};
use super::tin_queue::{balanced, FlowMode, TinParams};

/// Most tins one configuration may have.
pub const MAX_TINS: u32 = 65_535;
/// Calendar tins moved to the DRR ring per dequeue at most. Each dequeue
/// parks at most one tin, so any bound above 1 keeps up.
const MAX_WAKE_PER_DEQUEUE: u32 = 16;
/// Tins found empty in one dequeue before giving up (defensive only).
const MAX_EMPTY_TINS: u32 = 64;
/// Packets dropped for the memory limit per enqueue at most: the limit
/// holds after every enqueue as long as no packet charges more memory than
/// this many of the smallest ones (`skb->truesize` is never below a few
/// hundred bytes, a packet never above ~256 KiB).
const MAX_OVERLIMIT_DROPS: u32 = 1024;

/// The scheduler's settings. Tin count, pool sizes, MTU, quantum, lag and
/// calendar are fixed when it is built; the link rate, memory limit,
/// overhead, COBALT, flow mode, ACK filter and ingress mode can be changed
/// later (the `set_*` methods), as can each tin's rate and weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedConfig {
    /// Number of tins, 1..=[`MAX_TINS`].
    pub tins: u32,
    /// Link rate, bytes/s (0 = unlimited).
    pub link_rate: u64,
    /// Overhead compensation for both the link and the tin shapers.
    pub overhead: Overhead,
    /// Memory limit, bytes of `Packet::mem_size` over all tins.
    pub memlimit: u64,
    /// Flow slots in the shared pool (all tins together).
    pub flows: u32,
    /// Host slots in the shared pool (dual/triple isolation).
    pub hosts: u32,
    /// Largest packet expected, bytes (COBALT's target floor).
    pub mtu: u32,
    /// COBALT settings for every tin.
    pub cobalt: CobaltConfig,
    /// Flow isolation inside every tin.
    pub flow_mode: FlowMode,
    /// ACK filtering inside every tin.
    pub ack_filter: AckFilterMode,
    /// CAKE's ingress mode, for shaping what was already received (on an
    /// ifb): packets dropped here crossed the bottleneck anyway, so they
    /// are charged to the shapers, and COBALT's target widens with the
    /// number of bulk flows at low rates.
    pub ingress: bool,
    /// DRR quantum between tins per unit of weight, bytes.
    pub quantum: u32,
    /// How far (ns) a busy shaper's schedule may fall behind the clock, so
    /// late wake-ups cost no rate; also bounds the catch-up burst.
    pub max_lag_ns: u64,
    /// Calendar geometry.
    pub calendar: CalendarConfig,
}

impl Default for SchedConfig {
    fn default() -> Self {
        SchedConfig {
            tins: 1,
            link_rate: 0,
            overhead: Overhead::default(),
            memlimit: 32 << 20,
            flows: 4096,
            hosts: 4096,
            mtu: 1514,
            cobalt: CobaltConfig::default(),
            flow_mode: FlowMode::default(),
            ack_filter: AckFilterMode::Off,
            ingress: false,
            quantum: 1514,
            max_lag_ns: 1_000_000,
            calendar: CalendarConfig::default(),
        }
    }
}

/// Why a scheduler could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// A field is out of range.
    Invalid,
    /// Memory could not be had.
    NoMemory,
}

impl From<AllocError> for ConfigError {
    fn from(_: AllocError) -> Self {
        ConfigError::NoMemory
    }
}

/// What [`Scheduler::dequeue`] gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Dequeued<P> {
    /// The next packet to send.
    Packet(P),
    /// Packets are queued but none may go before this time (ns): arm a
    /// timer. Rarely earlier than needed (see [`Calendar::next_due`]).
    WaitUntil(u64),
    /// Nothing is queued.
    Empty,
}

/// Scheduler-wide counters. At every step
/// `enqueued = dequeued + dropped + backlog`, in packets and in bytes
/// (`Packet::len`); refused packets were never enqueued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Packets accepted.
    pub enqueued_packets: u64,
    /// Bytes accepted.
    pub enqueued_bytes: u64,
    /// Packets handed out.
    pub dequeued_packets: u64,
    /// Bytes handed out.
    pub dequeued_bytes: u64,
    /// Accepted packets dropped since (COBALT, ACK filter, memory, reset).
    pub dropped_packets: u64,
    /// Bytes of `dropped_packets`.
    pub dropped_bytes: u64,
    /// Packets queued now.
    pub backlog_packets: u64,
    /// Bytes queued now.
    pub backlog_bytes: u64,
    /// Of `dropped_packets`, those dropped for the memory limit.
    pub overlimit_drops: u64,
    /// Packets refused at enqueue (no such tin, no flow slot).
    pub refused_packets: u64,
}

impl Totals {
    /// The accounting identity above holds, in packets and in bytes.
    pub fn is_balanced(&self) -> bool {
        balanced(
            self.enqueued_packets,
            self.dequeued_packets,
            self.dropped_packets,
            self.backlog_packets,
        ) && balanced(
            self.enqueued_bytes,
            self.dequeued_bytes,
            self.dropped_bytes,
            self.backlog_bytes,
        )
    }
}

/// Where the memory goes (for `tc` stats and the bench).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryReport {
    /// Bytes every tin costs, idle or not (its state and links).
    pub per_tin_bytes: usize,
    /// Bytes of the calendar's wheels.
    pub calendar_bytes: usize,
    /// Bytes of the shared flow and host pool.
    pub pool_bytes: usize,
    /// Bytes of one flow slot of the pool.
    pub flow_slot_bytes: usize,
    /// Bytes of one host slot of the pool.
    pub host_slot_bytes: usize,
    /// Flow slots held by tins now.
    pub flows_in_use: u32,
    /// Host slots held by tins now.
    pub hosts_in_use: u32,
    /// Tins with packets now.
    pub active_tins: u32,
}

/// The scheduling core.
pub struct Scheduler<Q: PacketQueue, A: SliceAlloc> {
    tins: A::Slice<Tin>,
    table: FlowTable<Q, A>,
    calendar: Calendar<A>,
    drr: TinDrr<A>,
    mem: MemBuckets<A>,
    link: Shaper,
    cfg: SchedConfig,
    totals: Totals,
    /// Bumped by every change of a setting tin parameters derive from;
    /// see [`Tin`]'s `params_epoch`.
    params_epoch: u32,
}

/// Books a packet the tin queueing dropped (it was accepted earlier).
fn account_drop<P: Packet, A: SliceAlloc>(
    totals: &mut Totals,
    mem: &mut MemBuckets<A>,
    tin: u32,
    p: &P,
) {
    let len = u64::from(p.len());
    totals.dropped_packets = totals.dropped_packets.saturating_add(1);
    totals.dropped_bytes = totals.dropped_bytes.saturating_add(len);
    totals.backlog_packets = totals.backlog_packets.saturating_sub(1);
    totals.backlog_bytes = totals.backlog_bytes.saturating_sub(len);
    mem.sub(tin, u64::from(p.mem_size()));
}

/// Tins ahead that [`Scheduler::prefetch_upcoming`] looks at.
const PREFETCH_DEPTH: usize = 3;
/// "No tin".
const NIL: u32 = u32::MAX;

impl<Q: PacketQueue, A: SliceAlloc> Scheduler<Q, A> {
    /// Builds a scheduler: all memory is taken here, from `alloc`.
    pub fn new(alloc: &mut A, cfg: &SchedConfig) -> Result<Self, ConfigError> {
        let cal = cfg.calendar;
        if cfg.tins == 0
            || cfg.tins > MAX_TINS
            || !cfg.overhead.is_valid()
            || cfg.quantum == 0
            || cal.slot_shift > 32
            || !(1..=12).contains(&cal.level_bits)
        {
            return Err(ConfigError::Invalid);
        }
        let params = tin_params(cfg, 0);
        let tins = alloc.alloc_slice(cfg.tins as usize, |_| Tin::new(0, params))?;
        let table = FlowTable::new(alloc, cfg.flows, cfg.hosts)?;
        let calendar = Calendar::new(alloc, cfg.tins, cfg.calendar)?;
        let drr = TinDrr::new(alloc, cfg.tins, cfg.quantum)?;
        let mem = MemBuckets::new(alloc, cfg.tins)?;
        Ok(Scheduler {
            tins,
            table,
            calendar,
            drr,
            mem,
            link: Shaper::new(Rate::from_bytes_per_s(cfg.link_rate)),
            cfg: *cfg,
            totals: Totals::default(),
            params_epoch: 0,
        })
    }

    /// Number of tins.
    pub fn tin_count(&self) -> u32 {
        self.cfg.tins
    }

    /// Tin `tin`, if it exists.
    pub fn tin(&self, tin: u32) -> Option<&Tin> {
        self.tins.get(tin as usize)
    }

    /// Scheduler-wide counters.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Bytes charged against the memory limit now.
    pub fn mem_used(&self) -> u64 {
        self.mem.total()
    }

    /// The configuration in force (rates as last set).
    pub fn config(&self) -> &SchedConfig {
        &self.cfg
    }

    /// Tins eligible to send now (on the DRR ring).
    pub fn eligible_tins(&self) -> u32 {
        self.drr.len()
    }

    /// Tins waiting for their shaper (in the calendar).
    pub fn waiting_tins(&self) -> u32 {
        self.calendar.len()
    }

    /// Queues `pkt` on `tin` at `now` (ns). On `Err` the packet itself went
    /// to `sink`: `tin` does not exist ([`DropReason::Reconfigure`]) or no
    /// flow slot was free. Other packets may go to `sink` either way (ACK
    /// filter, memory limit).
    pub fn enqueue(
        &mut self,
        tin: u32,
        mut pkt: Q::Packet,
        keys: FlowKeys,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Result<(), DropReason> {
        let Some(t) = self.tins.get_mut(tin as usize) else {
            self.totals.refused_packets = self.totals.refused_packets.saturating_add(1);
            sink(pkt, DropReason::Reconfigure);
            return Err(DropReason::Reconfigure);
        };
        let off = pkt.network_offset();
        let adj = match pkt.gso_shape() {
            Some(g) => self.cfg.overhead.adjusted_len_gso(g, off),
            None => self.cfg.overhead.adjusted_len(pkt.len(), off),
        };
        pkt.set_adjusted_len(adj);
        refresh_params(t, &self.cfg, self.params_epoch);
        let len = u64::from(pkt.len());
        let mem = u64::from(pkt.mem_size());
        let was_active = t.queue.is_backlogged();
        let link_idle = self.totals.backlog_packets == 0;

        let totals = &mut self.totals;
        let mb = &mut self.mem;
        let mut dropped_len = 0u32;
        let res = t.queue.enqueue(
            tin,
            &mut self.table,
            &t.params,
            pkt,
            keys,
            now,
            &mut |p, r| {
                account_drop(totals, mb, tin, &p);
                dropped_len = dropped_len.saturating_add(p.adjusted_len());
                sink(p, r);
            },
        );
        if self.cfg.ingress && dropped_len != 0 {
            let lag = self.cfg.max_lag_ns;
            charge_dropped(&mut t.shaper, &mut self.link, dropped_len, now, lag);
        }
        if let Err((p, r)) = res {
            self.totals.refused_packets = self.totals.refused_packets.saturating_add(1);
            sink(p, r);
            return Err(r);
        }
        let tt = &mut self.totals;
        tt.enqueued_packets = tt.enqueued_packets.saturating_add(1);
        tt.enqueued_bytes = tt.enqueued_bytes.saturating_add(len);
        tt.backlog_packets = tt.backlog_packets.saturating_add(1);
        tt.backlog_bytes = tt.backlog_bytes.saturating_add(len);
        self.mem.add(tin, mem);

        if link_idle {
            self.link.restart(now);
        }
        if !was_active && t.queue.is_backlogged() {
            t.shaper.restart(now);
            self.drr.forget_credit(tin);
            self.place(tin, now);
        }
        self.enforce_memlimit(now, sink);
        Ok(())
    }

    /// The next packet to send at `now` (ns), or when to ask again.
    pub fn dequeue(
        &mut self,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Dequeued<Q::Packet> {
        if self.totals.backlog_packets == 0 {
            return Dequeued::Empty;
        }
        if let Some(t) = self.link.wait_until(now) {
            return Dequeued::WaitUntil(t);
        }
        for _ in 0..MAX_WAKE_PER_DEQUEUE {
            let Some(t) = self.calendar.pop_due(now) else {
                break;
            };
            self.drr.push_back(t);
        }
        for _ in 0..MAX_EMPTY_TINS {
            let Some(tin) = self.drr.select() else {
                return match self.calendar.next_due() {
                    Some(d) => Dequeued::WaitUntil(d),
                    None => Dequeued::Empty,
                };
            };
            let Some(t) = self.tins.get_mut(tin as usize) else {
                self.drr.remove(tin);
                continue;
            };
            refresh_params(t, &self.cfg, self.params_epoch);
            let totals = &mut self.totals;
            let mb = &mut self.mem;
            let mut dropped_len = 0u32;
            let got = t
                .queue
                .dequeue(tin, &mut self.table, &t.params, now, &mut |p, r| {
                    account_drop(totals, mb, tin, &p);
                    dropped_len = dropped_len.saturating_add(p.adjusted_len());
                    sink(p, r);
                });
            if self.cfg.ingress && dropped_len != 0 {
                let lag = self.cfg.max_lag_ns;
                charge_dropped(&mut t.shaper, &mut self.link, dropped_len, now, lag);
                // And their turn, as CAKE charges the tin deficit.
                self.drr.charge(tin, dropped_len);
            }
            let Some(p) = got else {
                self.drr.remove(tin);
                self.drr.forget_credit(tin);
                continue;
            };
            let len = u64::from(p.len());
            let adj = p.adjusted_len();
            let tt = &mut self.totals;
            tt.dequeued_packets = tt.dequeued_packets.saturating_add(1);
            tt.dequeued_bytes = tt.dequeued_bytes.saturating_add(len);
            tt.backlog_packets = tt.backlog_packets.saturating_sub(1);
            tt.backlog_bytes = tt.backlog_bytes.saturating_sub(len);
            self.mem.sub(tin, u64::from(p.mem_size()));
            t.shaper.charge(adj, now, self.cfg.max_lag_ns);
            self.link.charge(adj, now, self.cfg.max_lag_ns);
            self.drr.charge(tin, adj);
            if !t.queue.is_backlogged() {
                self.drr.remove(tin);
                self.drr.forget_credit(tin);
            } else if !t.shaper.allows(now) {
                self.drr.remove(tin);
                self.calendar.insert(tin, t.shaper.time_next());
            }
            if self.drr.head() != Some(tin) || self.drr.deficit(tin) <= 0 {
                // `tin`'s turn is over: the pipeline moves one tin on.
                self.prefetch_upcoming(tin);
            }
            return Dequeued::Packet(p);
        }
        Dequeued::WaitUntil(now)
    }

    /// When a packet may next be dequeued (ns; at or before "now" if one
    /// may go at once), or `None` when nothing is queued. For the watchdog.
    pub fn next_wakeup(&self) -> Option<u64> {
        if self.totals.backlog_packets == 0 {
            return None;
        }
        let link = if self.link.rate().is_unlimited() {
            0
        } else {
            self.link.time_next()
        };
        if !self.drr.is_empty() {
            return Some(link);
        }
        Some(self.calendar.next_due().map_or(link, |d| d.max(link)))
    }

    /// Changes the link rate (bytes/s, 0 = unlimited) at `now`, keeping
    /// the time base (what the last packet owes is re-priced). Tins whose
    /// COBALT and quantum settings depend on the link rate (uncapped, or
    /// capped above it) take the new ones at their next enqueue or dequeue.
    pub fn set_link_rate(&mut self, rate: u64, now: u64) {
        self.cfg.link_rate = rate;
        self.settings_changed();
        self.link.set_rate(Rate::from_bytes_per_s(rate), now);
    }

    /// Changes COBALT's rtt and target for every tin (each fitted to its
    /// rate as at build time), from each tin's next enqueue or dequeue.
    /// Flows keep their AQM state; nothing queued is dropped.
    pub fn set_cobalt(&mut self, cobalt: CobaltConfig) {
        self.cfg.cobalt = cobalt;
        self.settings_changed();
    }

    /// Changes flow isolation for every tin: packets enqueued from now on
    /// are classified by `mode`. Flows already queued keep their slots and
    /// drain in order, so nothing is lost; a connection whose packets now
    /// fall into another queue may see them reordered once, as with
    /// CAKE's `tc qdisc change ... flows`.
    pub fn set_flow_mode(&mut self, mode: FlowMode) {
        self.cfg.flow_mode = mode;
        self.settings_changed();
    }

    /// Changes ACK filtering for every tin, for packets enqueued from now.
    pub fn set_ack_filter(&mut self, mode: AckFilterMode) {
        self.cfg.ack_filter = mode;
        self.settings_changed();
    }

    /// Turns ingress mode (see [`SchedConfig::ingress`]) on or off.
    pub fn set_ingress(&mut self, on: bool) {
        self.cfg.ingress = on;
        self.settings_changed();
    }

    /// Tin parameters derive from the configuration: mark them all stale.
    /// O(1): each tin rebuilds its own when next used (`refresh_params`).
    fn settings_changed(&mut self) {
        self.params_epoch = self.params_epoch.wrapping_add(1);
    }

    /// Changes the memory limit; a lower limit is enforced from the next
    /// enqueue on.
    pub fn set_memlimit(&mut self, bytes: u64) {
        self.cfg.memlimit = bytes;
    }

    /// Changes overhead compensation for packets enqueued from now on.
    /// Returns false (changing nothing) if it is out of range.
    pub fn set_overhead(&mut self, overhead: Overhead) -> bool {
        if !overhead.is_valid() {
            return false;
        }
        self.cfg.overhead = overhead;
        true
    }

    /// Changes `tin`'s cap (bytes/s, 0 = only the link) at `now`. Its
    /// packets stay queued in order; the wait its last packet still owes
    /// is re-priced. COBALT and the flow quantum follow the new rate (for
    /// an uncapped tin: the link rate). Returns false if `tin` does not
    /// exist.
    pub fn set_tin_rate(&mut self, tin: u32, rate: u64, now: u64) -> bool {
        let params = tin_params(&self.cfg, rate);
        let Some(t) = self.tins.get_mut(tin as usize) else {
            return false;
        };
        t.shaper.set_rate(Rate::from_bytes_per_s(rate), now);
        t.params = params;
        if t.queue.is_backlogged() {
            self.place(tin, now);
        }
        true
    }

    /// Sets `tin`'s DRR weight (0 is taken as 1): its share of a congested
    /// link is proportional to it. Returns false if `tin` does not exist.
    pub fn set_tin_weight(&mut self, tin: u32, weight: u16) -> bool {
        let Some(t) = self.tins.get_mut(tin as usize) else {
            return false;
        };
        t.weight = weight.max(1);
        self.drr.set_weight(tin, t.weight);
        true
    }

    /// Drops every queued packet to `sink` (as [`DropReason::Reconfigure`]).
    /// Costs O(backlogged tins + packets); rates, weights and shaper time
    /// bases are kept.
    pub fn reset(&mut self, sink: &mut dyn FnMut(Q::Packet, DropReason)) {
        for _ in 0..=self.cfg.tins {
            let Some(tin) = self.drr.pop_front().or_else(|| self.calendar.take_any()) else {
                break;
            };
            self.drr.forget_credit(tin);
            let Some(t) = self.tins.get_mut(tin as usize) else {
                continue;
            };
            let totals = &mut self.totals;
            let mb = &mut self.mem;
            t.queue.reset(tin, &mut self.table, &mut |p, r| {
                account_drop(totals, mb, tin, &p);
                sink(p, r);
            });
        }
    }

    /// Where the memory goes.
    pub fn memory_report(&self) -> MemoryReport {
        MemoryReport {
            per_tin_bytes: Self::bytes_per_tin(),
            calendar_bytes: self.calendar.wheel_bytes(),
            pool_bytes: self.table.memory_bytes(),
            flow_slot_bytes: FlowTable::<Q, A>::flow_slot_size(),
            host_slot_bytes: FlowTable::<Q, A>::host_slot_size(),
            flows_in_use: self.table.flows_in_use(),
            hosts_in_use: self.table.hosts_in_use(),
            active_tins: self.drr.len().saturating_add(self.calendar.len()),
        }
    }

    /// Bytes every tin costs: its [`Tin`] and its links in the calendar,
    /// the DRR ring and the memory buckets.
    pub const fn bytes_per_tin() -> usize {
        size_of::<Tin>() + CALENDAR_BYTES_PER_TIN + TIN_DRR_BYTES_PER_TIN + MEM_BYTES_PER_TIN
    }

    /// Starts loading what the next dequeues will read, once `served`
    /// has had its turn. With thousands of backlogged tins their state is
    /// not in cache, and serving a tin is a chain of dependent loads (tin,
    /// then its flow slot, then the packet and host counts): taken one at a
    /// time they would cost a memory latency each. So the chain is
    /// pipelined over the tins to be served next (the DRR ring, then the
    /// calendar's earliest), one stage per turn: the third is loaded with
    /// its ring, memory and calendar records, the flow slot of the second
    /// (its tin loaded a turn earlier), and the packet and host counts of
    /// the next (its slot loaded a turn earlier). Only hints: an order that
    /// changes in between costs a wasted load, nothing else.
    fn prefetch_upcoming(&self, served: u32) {
        let mut next = [NIL; PREFETCH_DEPTH];
        let mut n = 0;
        let mut on_ring = match self.drr.head() {
            Some(h) if h == served => self.drr.after(h),
            h => h,
        };
        while let (Some(t), Some(slot)) = (on_ring, next.get_mut(n)) {
            *slot = t;
            n = n.saturating_add(1);
            on_ring = self.drr.after(t);
        }
        if let Some(rest) = next.get_mut(n..) {
            self.calendar.upcoming(rest);
        }
        let [first, second, third] = next;
        if let Some(t) = self.tins.get(third as usize) {
            A::prefetch(t);
            self.drr.prefetch(third);
            self.mem.prefetch(third);
            if !self.calendar.is_empty() {
                // Tins are being shaped: this one may be parked too.
                self.calendar.prefetch(third);
            }
        }
        let flow = |t: u32| self.tins.get(t as usize).and_then(|t| t.queue.next_flow());
        if let Some(f) = flow(second) {
            self.table.prefetch_slot(f);
        }
        if let Some(f) = flow(first) {
            self.table.prefetch_slot_data(f);
        }
    }

    /// Puts backlogged `tin` where its shaper says: the DRR ring if it may
    /// send at `now`, else the calendar.
    fn place(&mut self, tin: u32, now: u64) {
        let Some(t) = self.tins.get(tin as usize) else {
            return;
        };
        if t.shaper.allows(now) {
            self.calendar.remove(tin);
            self.drr.push_back(tin);
        } else {
            self.drr.remove(tin);
            self.calendar.insert(tin, t.shaper.time_next());
        }
    }

    /// Drops from the fattest flow of an approximately fattest tin while
    /// over the memory limit.
    fn enforce_memlimit(&mut self, now: u64, sink: &mut dyn FnMut(Q::Packet, DropReason)) {
        for _ in 0..MAX_OVERLIMIT_DROPS {
            if self.mem.total() <= self.cfg.memlimit {
                return;
            }
            let Some(fat) = self.mem.fattest() else {
                return;
            };
            let Some(t) = self.tins.get_mut(fat as usize) else {
                return;
            };
            let Some(p) = t.queue.drop_fattest(fat, &mut self.table, &t.params, now) else {
                return;
            };
            account_drop(&mut self.totals, &mut self.mem, fat, &p);
            if self.cfg.ingress {
                let lag = self.cfg.max_lag_ns;
                charge_dropped(&mut t.shaper, &mut self.link, p.adjusted_len(), now, lag);
            }
            self.totals.overlimit_drops = self.totals.overlimit_drops.saturating_add(1);
            if !t.queue.is_backlogged() {
                self.drr.remove(fat);
                self.drr.forget_credit(fat);
                self.calendar.remove(fat);
            }
            sink(p, DropReason::Overlimit);
        }
    }
}

/// Ingress mode: packets dropped here already used the bottleneck
/// upstream, so they cost their tin and the link their time, as if sent
/// (`cake_advance_shaper` on a drop).
fn charge_dropped(tin: &mut Shaper, link: &mut Shaper, adjusted_len: u32, now: u64, lag: u64) {
    tin.charge(adjusted_len, now, lag);
    link.charge(adjusted_len, now, lag);
}

/// Rebuilds `t`'s parameters if scheduler-wide settings changed since they
/// were made (a tin idle through exactly 2^32 changes would miss one).
#[inline(always)]
fn refresh_params(t: &mut Tin, cfg: &SchedConfig, epoch: u32) {
    if t.params_epoch != epoch {
        rebuild_params(t, cfg, epoch);
    }
}

/// Kept out of line: it runs once per tin per settings change, and inlined
/// twice into the packet path it would only crowd it.
#[cold]
#[inline(never)]
fn rebuild_params(t: &mut Tin, cfg: &SchedConfig, epoch: u32) {
    t.params_epoch = epoch;
    t.params = tin_params(cfg, t.rate());
}

/// Queueing parameters for a tin capped at `rate` (0: the link rate).
fn tin_params(cfg: &SchedConfig, rate: u64) -> TinParams {
    let effective = match (rate, cfg.link_rate) {
        (0, l) => l,
        (r, 0) => r,
        (r, l) => r.min(l),
    };
    TinParams::new(
        effective,
        cfg.mtu,
        &cfg.cobalt,
        cfg.flow_mode,
        cfg.ack_filter,
    )
    .with_ingress(cfg.ingress)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::sched::test_support::{HostAlloc, TestPacket, TestQueue};
    use core::cell::RefCell;
    use std::vec::Vec;

    type Sched = Scheduler<TestQueue, HostAlloc>;

    fn sched(tins: u32, link_rate: u64) -> Sched {
        let cfg = SchedConfig {
            tins,
            link_rate,
            ..SchedConfig::default()
        };
        Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap()
    }

    fn pkt(id: u64, tin: u32, len: u32) -> TestPacket {
        let mut p = TestPacket::new(id, len);
        p.tag = tin;
        p
    }

    fn keys(flow: u32) -> FlowKeys {
        FlowKeys {
            flow_hash: flow,
            src_host_hash: 1,
            dst_host_hash: 2,
        }
    }

    /// When the calendar hands out a tin due at `t`: at the end of the
    /// slot `t` falls in.
    fn slot_end(t: u64) -> u64 {
        let slot = 1u64 << CalendarConfig::default().slot_shift;
        t.div_ceil(slot) * slot
    }

    fn check_accounting(s: &Sched) {
        let t = s.totals();
        assert!(t.is_balanced(), "{t:?}");
        let (mut pk, mut by) = (0u64, 0u64);
        for i in 0..s.tin_count() {
            let st = s.tin(i).unwrap().stats();
            assert!(st.is_balanced(), "{st:?}");
            pk += u64::from(st.backlog_packets);
            by += st.backlog_bytes;
        }
        assert_eq!((pk, by), (t.backlog_packets, t.backlog_bytes));
    }

    #[test]
    fn rejects_invalid_config() {
        for cfg in [
            SchedConfig {
                tins: 0,
                ..SchedConfig::default()
            },
            SchedConfig {
                tins: MAX_TINS + 1,
                ..SchedConfig::default()
            },
            SchedConfig {
                quantum: 0,
                ..SchedConfig::default()
            },
        ] {
            assert_eq!(
                Sched::new(&mut HostAlloc::default(), &cfg).err(),
                Some(ConfigError::Invalid)
            );
        }
        let mut failing = HostAlloc {
            fail: true,
            bytes: 0,
        };
        assert_eq!(
            Sched::new(&mut failing, &SchedConfig::default()).err(),
            Some(ConfigError::NoMemory)
        );
    }

    #[test]
    fn unlimited_passes_everything_through() {
        let mut s = sched(3, 0);
        let mut drops = Vec::new();
        let mut sink = |p: TestPacket, r| drops.push((p.id, r));
        assert_eq!(s.dequeue(0, &mut sink), Dequeued::Empty);
        assert_eq!(s.next_wakeup(), None);
        for i in 0..6 {
            s.enqueue(
                (i % 3) as u32,
                pkt(i, (i % 3) as u32, 100),
                keys(1),
                0,
                &mut sink,
            )
            .unwrap();
        }
        assert_eq!(s.next_wakeup(), Some(0));
        let mut got = Vec::new();
        while let Dequeued::Packet(p) = s.dequeue(0, &mut sink) {
            got.push(p.id);
        }
        got.sort();
        assert_eq!(got, [0, 1, 2, 3, 4, 5]);
        assert!(drops.is_empty());
        check_accounting(&s);
        assert_eq!(s.mem_used(), 0);
    }

    #[test]
    fn unknown_tin_is_refused() {
        let mut s = sched(2, 0);
        let mut drops = Vec::new();
        let r = s.enqueue(2, pkt(7, 2, 100), keys(1), 0, &mut |p, r| {
            drops.push((p.id, r))
        });
        assert_eq!(r, Err(DropReason::Reconfigure));
        assert_eq!(drops, [(7, DropReason::Reconfigure)]);
        assert_eq!(s.totals().refused_packets, 1);
        assert_eq!(s.totals().enqueued_packets, 0);
        check_accounting(&s);
    }

    #[test]
    fn tin_rate_is_a_cap() {
        let mut s = sched(2, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        assert!(s.set_tin_rate(0, 125_000, 0)); // 1 Mbit/s: 12 ms per 1500 B
        for i in 0..3 {
            s.enqueue(0, pkt(i, 0, 1500), keys(1), 0, &mut sink)
                .unwrap();
        }
        assert!(matches!(s.dequeue(0, &mut sink), Dequeued::Packet(_)));
        assert_eq!(s.waiting_tins(), 1);
        // Due at 12 ms, handed out at the end of the calendar slot.
        let due = slot_end(12_000_000);
        assert_eq!(s.dequeue(1_000, &mut sink), Dequeued::WaitUntil(due));
        assert_eq!(s.next_wakeup(), Some(due));
        // The uncapped tin is not held back by its neighbour.
        s.enqueue(1, pkt(9, 1, 1500), keys(1), 1_000, &mut sink)
            .unwrap();
        assert!(matches!(s.dequeue(1_000, &mut sink), Dequeued::Packet(p) if p.id == 9));
        assert!(matches!(s.dequeue(due, &mut sink), Dequeued::Packet(p) if p.id == 1));
        // The schedule advanced from 12 ms, not from the late wake-up.
        assert_eq!(
            s.dequeue(24_000_000, &mut sink),
            Dequeued::WaitUntil(slot_end(24_000_000))
        );
        assert!(
            matches!(s.dequeue(slot_end(24_000_000), &mut sink), Dequeued::Packet(p) if p.id == 2)
        );
        assert_eq!(s.dequeue(24_000_512, &mut sink), Dequeued::Empty);
        check_accounting(&s);
    }

    #[test]
    fn link_shaper_gates_all_tins() {
        let mut s = sched(4, 1_250_000); // 10 Mbit/s: 1.2 ms per 1500 B
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        for t in 0..4 {
            s.enqueue(t, pkt(u64::from(t), t, 1500), keys(1), 0, &mut sink)
                .unwrap();
        }
        assert!(matches!(s.dequeue(0, &mut sink), Dequeued::Packet(_)));
        assert_eq!(s.dequeue(0, &mut sink), Dequeued::WaitUntil(1_200_000));
        assert_eq!(s.next_wakeup(), Some(1_200_000));
        assert!(matches!(
            s.dequeue(1_200_000, &mut sink),
            Dequeued::Packet(_)
        ));
    }

    #[test]
    fn overhead_is_charged() {
        let cfg = SchedConfig {
            tins: 1,
            link_rate: 1_000_000,
            overhead: Overhead {
                overhead: 100,
                ..Overhead::default()
            },
            ..SchedConfig::default()
        };
        let mut s: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        s.enqueue(0, pkt(0, 0, 900), keys(1), 0, &mut sink).unwrap();
        s.enqueue(0, pkt(1, 0, 900), keys(1), 0, &mut sink).unwrap();
        let Dequeued::Packet(p) = s.dequeue(0, &mut sink) else {
            panic!()
        };
        assert_eq!(p.adjusted_len, 1000);
        // 1000 bytes at 1 MB/s: 1 ms.
        assert_eq!(s.dequeue(0, &mut sink), Dequeued::WaitUntil(1_000_000));
        assert!(!s.set_overhead(Overhead {
            overhead: 300,
            ..Overhead::default()
        }));
        assert!(s.set_overhead(Overhead::default()));
        s.enqueue(0, pkt(2, 0, 900), keys(1), 0, &mut sink).unwrap();
        let Dequeued::Packet(p) = s.dequeue(1_000_000, &mut sink) else {
            panic!()
        };
        assert_eq!(p.adjusted_len, 1000, "queued before the change");
        let Dequeued::Packet(p) = s.dequeue(2_000_000, &mut sink) else {
            panic!()
        };
        assert_eq!(p.adjusted_len, 900);
    }

    #[test]
    fn rerate_moves_a_waiting_tin_and_keeps_packets() {
        let mut s = sched(1, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        s.set_tin_rate(0, 1_000, 0); // 1.5 s per packet
        for i in 0..3 {
            s.enqueue(0, pkt(i, 0, 1500), keys(1), 0, &mut sink)
                .unwrap();
        }
        assert!(matches!(s.dequeue(0, &mut sink), Dequeued::Packet(p) if p.id == 0));
        assert_eq!(s.waiting_tins(), 1);
        // Unlimited: eligible at once, order kept.
        s.set_tin_rate(0, 0, 1_000);
        assert_eq!(s.waiting_tins(), 0);
        assert_eq!(s.eligible_tins(), 1);
        s.set_tin_rate(0, 1_000, 1_000);
        assert!(matches!(s.dequeue(1_000, &mut sink), Dequeued::Packet(p) if p.id == 1));
        assert_eq!(s.waiting_tins(), 1);
        // Slower: the remaining wait doubles from "now".
        s.set_tin_rate(0, 500, 1_000);
        assert_eq!(s.tin(0).unwrap().time_next(), 1_000 + 3_000_000_000);
        let due = slot_end(1_000 + 3_000_000_000);
        assert_eq!(s.next_wakeup(), Some(due));
        assert!(matches!(s.dequeue(due, &mut sink), Dequeued::Packet(p) if p.id == 2));
        assert!(!s.set_tin_rate(1, 5, 0));
        check_accounting(&s);
    }

    #[test]
    fn weights_split_a_congested_link() {
        let mut s = sched(2, 1_000_000);
        // COBALT may drop from the standing queues: only shares matter.
        let mut sink = |_: TestPacket, _| {};
        s.set_tin_weight(1, 3);
        assert_eq!(s.tin(1).unwrap().weight(), 3);
        assert!(!s.set_tin_weight(2, 3));
        let mut now = 0;
        let mut sent = [0u64; 2];
        let mut id = 0;
        for _ in 0..4000 {
            for t in 0..2u32 {
                while s.tin(t).unwrap().backlog_packets() < 4 {
                    id += 1;
                    s.enqueue(t, pkt(id, t, 1000), keys(1), now, &mut sink)
                        .unwrap();
                }
            }
            match s.dequeue(now, &mut sink) {
                Dequeued::Packet(p) => sent[p.tag as usize] += 1,
                Dequeued::WaitUntil(t) => now = t,
                Dequeued::Empty => unreachable!(),
            }
        }
        let share = sent[1] as f64 / (sent[0] + sent[1]) as f64;
        assert!((share - 0.75).abs() < 0.01, "{sent:?}");
    }

    #[test]
    fn memlimit_drops_from_the_fattest_tin() {
        let cfg = SchedConfig {
            tins: 3,
            memlimit: 10_000,
            ..SchedConfig::default()
        };
        let mut s: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
        let drops = RefCell::new(Vec::new());
        let mut sink = |p: TestPacket, r| drops.borrow_mut().push((p.tag, r));
        for i in 0..2 {
            s.enqueue(0, pkt(i, 0, 1000), keys(1), 0, &mut sink)
                .unwrap();
        }
        for i in 0..7 {
            s.enqueue(1, pkt(10 + i, 1, 1000), keys(1), 0, &mut sink)
                .unwrap();
        }
        assert!(drops.borrow().is_empty());
        for i in 0..3 {
            s.enqueue(2, pkt(20 + i, 2, 1000), keys(1), 0, &mut sink)
                .unwrap();
        }
        assert_eq!(
            *drops.borrow(),
            [(1, DropReason::Overlimit), (1, DropReason::Overlimit)]
        );
        assert_eq!(s.mem_used(), 10_000);
        assert_eq!(s.totals().overlimit_drops, 2);
        check_accounting(&s);
        // A lower limit bites at the next enqueue.
        s.set_memlimit(5_000);
        s.enqueue(0, pkt(30, 0, 1000), keys(1), 0, &mut sink)
            .unwrap();
        assert!(s.mem_used() <= 5_000);
        assert_eq!(s.totals().overlimit_drops, 8);
        check_accounting(&s);
    }

    #[test]
    fn reset_drains_everything() {
        let mut s = sched(4, 0);
        let drops = RefCell::new(Vec::new());
        let mut sink = |p: TestPacket, r| drops.borrow_mut().push((p.id, r));
        s.set_tin_rate(2, 1_000, 0);
        for i in 0..12 {
            let t = (i % 4) as u32;
            s.enqueue(t, pkt(i, t, 1500), keys(i as u32), 0, &mut sink)
                .unwrap();
        }
        let Dequeued::Packet(_) = s.dequeue(0, &mut sink) else {
            panic!()
        };
        let Dequeued::Packet(_) = s.dequeue(0, &mut sink) else {
            panic!()
        };
        s.reset(&mut sink);
        assert_eq!(drops.borrow().len(), 10);
        assert!(drops
            .borrow()
            .iter()
            .all(|d| d.1 == DropReason::Reconfigure));
        assert_eq!(s.dequeue(0, &mut sink), Dequeued::Empty);
        assert_eq!(
            (s.eligible_tins(), s.waiting_tins(), s.mem_used()),
            (0, 0, 0)
        );
        check_accounting(&s);
        // Usable afterwards.
        s.enqueue(1, pkt(99, 1, 100), keys(1), 5, &mut sink)
            .unwrap();
        assert!(matches!(s.dequeue(5, &mut sink), Dequeued::Packet(p) if p.id == 99));
    }

    #[test]
    fn uncapped_tins_follow_the_link_rate() {
        let mut s = sched(2, 125_000);
        let mut sink = |_: TestPacket, _| {};
        s.set_tin_rate(1, 50_000, 0);
        assert_eq!(s.tin(0).unwrap().params().rate(), 125_000);
        s.set_link_rate(12_500_000, 0);
        s.enqueue(0, pkt(1, 0, 100), keys(1), 0, &mut sink).unwrap();
        s.enqueue(1, pkt(2, 1, 100), keys(1), 0, &mut sink).unwrap();
        assert_eq!(s.tin(0).unwrap().params().rate(), 12_500_000);
        // A capped tin keeps its own rate's settings...
        assert_eq!(s.tin(1).unwrap().params().rate(), 50_000);
        // ...unless the link is now slower than its cap.
        s.set_link_rate(10_000, 0);
        s.enqueue(1, pkt(3, 1, 100), keys(1), 0, &mut sink).unwrap();
        assert_eq!(s.tin(1).unwrap().params().rate(), 10_000);
    }

    #[test]
    fn settings_change_live_and_lose_nothing() {
        let mut s = sched(2, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        for i in 0..6 {
            let t = (i % 2) as u32;
            s.enqueue(t, pkt(i, t, 500), keys(i as u32), 0, &mut sink)
                .unwrap();
        }
        let rtt = CobaltConfig::from_rtt(50_000_000);
        s.set_cobalt(rtt);
        s.set_ack_filter(AckFilterMode::Aggressive);
        s.set_flow_mode(FlowMode::DualDstHost);
        // Tin 0 takes them at its next dequeue, tin 1 at its next enqueue.
        assert!(matches!(s.dequeue(1, &mut sink), Dequeued::Packet(p) if p.tag == 0));
        s.enqueue(1, pkt(6, 1, 500), keys(9), 1, &mut sink).unwrap();
        for t in 0..2 {
            let p = s.tin(t).unwrap().params();
            assert_eq!(p.cobalt().interval, 50_000_000, "tin {t}");
            assert_eq!(p.ack_filter(), AckFilterMode::Aggressive);
            assert_eq!(p.flow_mode(), FlowMode::DualDstHost);
        }
        let mut out = 1;
        while let Dequeued::Packet(_) = s.dequeue(2, &mut sink) {
            out += 1;
        }
        assert_eq!(out, 7);
        check_accounting(&s);
    }

    #[test]
    fn flow_mode_change_applies_to_new_packets() {
        // Two flows, 1000 B packets, quantum 1514: flow 1 sends two, then
        // flow 2 (new, sparse) gets its turn before flow 1's third...
        let order = |s: &mut Sched, base: u64| {
            let mut sink = |_: TestPacket, _| {};
            for i in 0..3 {
                s.enqueue(0, pkt(base + i, 0, 1000), keys(1), 0, &mut sink)
                    .unwrap();
            }
            s.enqueue(0, pkt(base + 9, 0, 1000), keys(2), 0, &mut sink)
                .unwrap();
            let mut ids = Vec::new();
            while let Dequeued::Packet(p) = s.dequeue(0, &mut sink) {
                ids.push(p.id - base);
            }
            ids
        };
        let mut s = sched(1, 0);
        assert_eq!(order(&mut s, 0), [0, 1, 9, 2]);
        // ...but with no flow isolation the tin is one FIFO.
        s.set_flow_mode(FlowMode::FlowBlind);
        assert_eq!(order(&mut s, 100), [0, 1, 2, 9]);
        s.set_flow_mode(FlowMode::Flows);
        assert_eq!(order(&mut s, 200), [0, 1, 9, 2]);
        check_accounting(&s);
    }

    #[test]
    fn idle_tin_fits_in_2k() {
        assert!(Sched::bytes_per_tin() <= 2048, "{}", Sched::bytes_per_tin());
    }
}
