// SPDX-License-Identifier: GPL-2.0
//! The scheduler: thousands of tins, each with a real rate cap, behind one
//! link shaper.
//!
//! A backlogged tin is in exactly one of two places: the DRR ring of
//! eligible tins (its shaper lets it send now) or the calendar (waiting for
//! its shaper). Dequeue wakes the tins that came due, lets the DRR ring pick
//! one, takes a packet from it (CAKE's flow queueing and COBALT, in
//! [`TinQueue`]), charges both shapers and, if
//! the tin must now wait, files it in the calendar. Every step is O(1) in
//! the number of tins. Unlike CAKE, where a tin over its rate still sends
//! when it is the earliest, a tin never exceeds its own rate: over any span
//! it sends at most rate x (span + `max_lag_ns`) plus one packet, the lag
//! letting a tin that other tins held back catch up a little (and absorbing
//! timer and calendar-slot lateness) without a lasting excess.
//!
//! Memory is bounded by `memlimit` (bytes of `Packet::mem_size`): over it,
//! packets are dropped from the fattest flow of the tin whose memory is
//! (approximately) slowest to drain at the tin's rate (see
//! [`memlimit`](super::memlimit)), so that a flood spread over many slow
//! tins cannot take the queue of a fast one that holds more bytes.
//!
//! Enqueue never refuses a packet of an existing tin: every tin owns a
//! reserved flow slot besides the shared pool (see
//! [`flow_table`](super::flow_table)). Every tin follows the default tin
//! rate unless given its own. Scheduler-wide counters ([`Totals`]) are
//! kept incrementally, so reading them never walks the tins. Changing the
//! number of tins is done by building a new scheduler (all allocation
//! outside the qdisc lock) and moving everything into it with
//! [`Scheduler::take_over`].
//!
//! Inside every tin, CAKE's diffserv classes ([`SchedConfig::diffserv`]),
//! called bands here since a tin is a host: a packet's DSCP
//! ([`Packet::dscp`]) picks its band, and the tin's dequeue chooses among
//! its bands by CAKE's priority-then-threshold rule, thresholds being
//! fractions of the tin's rate. Bands only order a tin's packets: the
//! tin's shaper and the DRR between tins are as without them. Per-band
//! counters per tin: [`Scheduler::band_stats`]. A new mode, like a new tin
//! count, is a new scheduler that takes the old one over: its packets move
//! into the new mode's bands, in order per flow.

use super::ack_filter::AckFilterMode;
use super::alloc::{AllocError, SliceAlloc};
use super::band::{Band, BandStats, BandTurn, BandView};
use super::burst::{
    Burst, BurstConfig, BurstEntry, BurstError, TinBurst, TinBursts, TIN_BURSTS, TIN_BURST_DEFAULT,
};
use super::calendar::{Calendar, CalendarConfig, CALENDAR_BYTES_PER_TIN};
use super::cobalt::{CobaltConfig, CobaltParams};
use super::diffserv::DiffservMode;
use super::flow_table::{FlowTable, SET_WAYS};
use super::memlimit::{MemBuckets, MEM_BYTES_PER_TIN};
use super::overhead::Overhead;
use super::packet::{DropReason, FlowKeys, Packet, PacketQueue};
use super::shaper::{Rate, Shaper};
use super::tin::Tin;
use super::tin_drr::{TinDrr, TIN_DRR_BYTES_PER_TIN};
use super::tin_profile::{
    ProfileError, ProfileSlot, TinProfile, TinProfiles, TIN_PROFILES, TIN_PROFILE_NONE,
};
use super::tin_queue::{balanced, band_cobalt, Bands, FlowMode, TinParams, TinQueue};

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
/// calendar are fixed when it is built (a new tin count: build a new
/// scheduler and [`Scheduler::take_over`] the old one); the link rate,
/// default tin rate, memory limit, overhead, COBALT, flow mode, ACK filter
/// and ingress mode can be changed later (the `set_*` methods), as can
/// each tin's rate and weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedConfig {
    /// Number of tins, 1..=[`MAX_TINS`].
    pub tins: u32,
    /// Link rate, bytes/s (0 = unlimited).
    pub link_rate: u64,
    /// Rate of every tin not given one of its own, bytes/s (0 = none: only
    /// the link caps such a tin). "50 Mbit for every host".
    pub default_tin_rate: u64,
    /// Overhead compensation for both the link and the tin shapers.
    pub overhead: Overhead,
    /// Memory limit, bytes of `Packet::mem_size` over all tins.
    pub memlimit: u64,
    /// Flow slots in the shared pool (all tins together; each tin also has
    /// a reserved slot of its own). See [`pool_slots_for`] for a sizing.
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
    /// late wake-ups cost no rate; also bounds the catch-up burst. CAKE
    /// bounds neither; 5 ms (COBALT's default target, a burst a queue may
    /// hold anyway) covers the softirq and timer lateness of a loaded
    /// router: at 1 ms, a guest's late wake-ups cost 3.5% of the rate.
    pub max_lag_ns: u64,
    /// Calendar geometry.
    pub calendar: CalendarConfig,
    /// Bursts of the tins that follow the default tin rate (None: none).
    pub burst: Option<BurstConfig>,
    /// Diffserv bands inside every tin (default: besteffort, one band).
    /// Fixed when the scheduler is built: a new mode is a new scheduler
    /// that [`Scheduler::take_over`]s the old one.
    pub diffserv: DiffservMode,
}

impl Default for SchedConfig {
    fn default() -> Self {
        SchedConfig {
            tins: 1,
            link_rate: 0,
            default_tin_rate: 0,
            overhead: Overhead::default(),
            memlimit: 32 << 20,
            flows: pool_slots_for(1),
            hosts: pool_slots_for(1),
            mtu: 1514,
            cobalt: CobaltConfig::default(),
            flow_mode: FlowMode::default(),
            ack_filter: AckFilterMode::Off,
            ingress: false,
            quantum: 1514,
            max_lag_ns: 5_000_000,
            calendar: CalendarConfig::default(),
            burst: None,
            diffserv: DiffservMode::Besteffort,
        }
    }
}

impl SchedConfig {
    /// The default configuration for `tins` tins, with the shared pool
    /// sized by [`pool_slots_for`].
    pub fn for_tins(tins: u32) -> SchedConfig {
        SchedConfig {
            tins,
            flows: pool_slots_for(tins),
            hosts: pool_slots_for(tins),
            ..SchedConfig::default()
        }
    }
}

/// Minimum size of the shared pool: CAKE's 1024 queues of one tin, four
/// times over.
pub const MIN_POOL_SLOTS: u32 = 4096;
/// Pool slots per tin beyond [`MIN_POOL_SLOTS`].
pub const POOL_SLOTS_PER_TIN: u32 = 4;

/// Flow (and host) slots of the shared pool for `tins` tins:
/// `max(4096, 4 x tins)`, rounded up to a multiple of the table's 8 ways.
///
/// Four slots per tin hold the flows in progress of every subscriber at
/// once with room to spare (an active subscriber has a few flows queued at
/// any instant; a tin that empties gives its slots back), and the 4096
/// floor gives a few busy tins room for CAKE's 1024 flows each. Beyond
/// that, flows share slots within their tin, and a tin whose sets are all
/// taken by others uses its reserved slot, so no tin is ever refused.
///
/// Memory this implies per tin (host build, see
/// [`Scheduler::memory_report`]; the kernel's packet queue, two pointers,
/// makes its flow slots smaller): [`Scheduler::bytes_per_tin`] (536 bytes:
/// the tin, its links and its reserved flow slot) plus 4 flow slots (120
/// bytes each) and 4 host slots (18 bytes each) of the pool, about 1.1 KB
/// a tin with the calendar's wheels: 10,000 tins take 11,052,912 bytes
/// (10.5 MiB) in all, 65,535 tins 71,510,248 bytes (68.2 MiB).
pub const fn pool_slots_for(tins: u32) -> u32 {
    let per_tin = tins.saturating_mul(POOL_SLOTS_PER_TIN);
    let n = if per_tin > MIN_POOL_SLOTS {
        per_tin
    } else {
        MIN_POOL_SLOTS
    };
    // Round up to whole sets (SET_WAYS is a power of two); no arithmetic
    // that could overflow, inlined or not.
    n.saturating_add(SET_WAYS - 1) & !(SET_WAYS - 1)
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

/// What [`Scheduler::enqueue`] reports for an accepted packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// The memory limit, enforced after queueing the packet, dropped from
    /// the packet's own flow (same tin, same flow slot; possibly the packet
    /// itself). CAKE then returns `NET_XMIT_CN` rather than
    /// `NET_XMIT_SUCCESS` (the end of `cake_enqueue`), telling a local
    /// sender to back off.
    pub own_flow_cut: bool,
}

/// Scheduler-wide counters, all kept incrementally (reading them never
/// walks the tins). At every step `enqueued = dequeued + dropped +
/// backlog`, in packets and in bytes (`Packet::len`); refused packets were
/// never enqueued.
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
    /// Of `dropped_packets`, those dropped by COBALT.
    pub cobalt_drops: u64,
    /// Of `dropped_packets`, those dropped by the ACK filter.
    pub ack_drops: u64,
    /// Packets COBALT marked CE instead of dropping.
    pub ecn_marks: u64,
    /// New flows that took (or shared) their tin's reserved flow slot
    /// because the shared pool had no way for them: the tins'
    /// [`TinStats::reserved_slot_uses`](super::tin_queue::TinStats)
    /// summed, those of tins removed by [`Scheduler::take_over`] included.
    pub reserved_slot_uses: u64,
    /// Times a tin was parked in the calendar waiting for its own shaper:
    /// the tins' [`Tin::throttled`] summed, removed tins' included.
    pub tin_throttles: u64,
    /// Packets refused at enqueue: no such tin.
    pub refused_packets: u64,
}

impl Totals {
    /// Adds `other`'s counters to these (for [`Scheduler::take_over`]).
    fn absorb(&mut self, other: &Totals) {
        let add = |a: &mut u64, b: u64| *a = a.saturating_add(b);
        add(&mut self.enqueued_packets, other.enqueued_packets);
        add(&mut self.enqueued_bytes, other.enqueued_bytes);
        add(&mut self.dequeued_packets, other.dequeued_packets);
        add(&mut self.dequeued_bytes, other.dequeued_bytes);
        add(&mut self.dropped_packets, other.dropped_packets);
        add(&mut self.dropped_bytes, other.dropped_bytes);
        add(&mut self.backlog_packets, other.backlog_packets);
        add(&mut self.backlog_bytes, other.backlog_bytes);
        add(&mut self.overlimit_drops, other.overlimit_drops);
        add(&mut self.cobalt_drops, other.cobalt_drops);
        add(&mut self.ack_drops, other.ack_drops);
        add(&mut self.ecn_marks, other.ecn_marks);
        add(&mut self.reserved_slot_uses, other.reserved_slot_uses);
        add(&mut self.tin_throttles, other.tin_throttles);
        add(&mut self.refused_packets, other.refused_packets);
    }

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
    /// Bytes every tin costs, idle or not: its state, its links and its
    /// reserved flow slot ([`Scheduler::bytes_per_tin`]), and its bands.
    pub per_tin_bytes: usize,
    /// Of `per_tin_bytes`, the tin's diffserv bands (0 with one band).
    pub band_bytes_per_tin: usize,
    /// Bytes of the calendar's wheels.
    pub calendar_bytes: usize,
    /// Bytes of the shared flow and host pool, and of the reserved slots'
    /// busy bitmap (one bit a tin).
    pub pool_bytes: usize,
    /// Bytes of the tables of bursts and profiles tins have of their own.
    pub burst_bytes: usize,
    /// Everything the scheduler allocated: `tins x per_tin_bytes +
    /// calendar_bytes + pool_bytes + burst_bytes`.
    pub total_bytes: usize,
    /// Bytes of one flow slot of the pool.
    pub flow_slot_bytes: usize,
    /// Bytes of one host slot of the pool.
    pub host_slot_bytes: usize,
    /// Flow slots in the shared pool.
    pub flow_slots: u32,
    /// Host slots in the shared pool.
    pub host_slots: u32,
    /// Flow slots held by tins now, reserved ones included.
    pub flows_in_use: u32,
    /// Of `flows_in_use`, reserved slots.
    pub reserved_in_use: u32,
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
    /// `cfg.burst` as the data path uses it.
    burst: Option<Burst>,
    /// Bursts tins have of their own.
    bursts: A::Slice<BurstEntry>,
    /// Every tin's diffserv bands, `cfg.diffserv.bands()` a tin, tin by
    /// tin; empty with one band (a besteffort tin's lists are its own).
    bands: A::Slice<Band>,
    /// What choosing among them reads, laid out as `bands`.
    band_turns: A::Slice<BandTurn>,
    /// Profiles tins have of their own (rtt, framing).
    profiles: A::Slice<ProfileSlot>,
}

/// Band state entries a tin has in `mode`.
const fn bands_per_tin(mode: DiffservMode) -> usize {
    match mode.bands() {
        1 => 0,
        n => n as usize,
    }
}

/// Tin `tin`'s entries of the band array (`n` a tin); empty if none.
fn band_state<T>(bands: &mut [T], n: usize, tin: u32) -> &mut [T] {
    let start = (tin as usize).saturating_mul(n);
    bands
        .get_mut(start..start.saturating_add(n))
        .unwrap_or(&mut [])
}

/// Books a packet the tin queueing dropped (it was accepted earlier).
fn account_drop<P: Packet, A: SliceAlloc>(
    totals: &mut Totals,
    mem: &mut MemBuckets<A>,
    tin: u32,
    p: &P,
    why: DropReason,
) {
    let len = u64::from(p.len());
    totals.dropped_packets = totals.dropped_packets.saturating_add(1);
    totals.dropped_bytes = totals.dropped_bytes.saturating_add(len);
    totals.backlog_packets = totals.backlog_packets.saturating_sub(1);
    totals.backlog_bytes = totals.backlog_bytes.saturating_sub(len);
    let by_reason = match why {
        DropReason::Cobalt => Some(&mut totals.cobalt_drops),
        DropReason::AckFilter => Some(&mut totals.ack_drops),
        DropReason::Overlimit => Some(&mut totals.overlimit_drops),
        // Reset has no counter of its own.
        DropReason::Reconfigure => None,
    };
    if let Some(c) = by_reason {
        *c = c.saturating_add(1);
    }
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
        let rate = cfg.default_tin_rate;
        let params = tin_params(cfg, &TinProfile::default(), rate);
        let tins = alloc.alloc_slice(cfg.tins as usize, |_| Tin::new(rate, params))?;
        let table = FlowTable::new(alloc, cfg.flows, cfg.hosts, cfg.tins)?;
        let calendar = Calendar::new(alloc, cfg.tins, cfg.calendar)?;
        let drr = TinDrr::new(alloc, cfg.tins, cfg.quantum)?;
        let mem = MemBuckets::new(alloc, cfg.tins)?;
        let bursts = alloc.alloc_slice(TIN_BURSTS, |_| BurstEntry::FREE)?;
        let band_count = (cfg.tins as usize).saturating_mul(bands_per_tin(cfg.diffserv));
        let bands = alloc.alloc_slice(band_count, |_| Band::default())?;
        let band_turns = alloc.alloc_slice(band_count, |_| BandTurn::default())?;
        let profiles = alloc.alloc_slice(TIN_PROFILES, |_| ProfileSlot::FREE)?;
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
            burst: cfg.burst.as_ref().and_then(Burst::new),
            bursts,
            bands,
            band_turns,
            profiles,
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

    /// The diffserv mode of every tin.
    pub fn diffserv(&self) -> DiffservMode {
        self.cfg.diffserv
    }

    /// Counters of band `band` of tin `tin` (bands count from 0 up to
    /// `diffserv().bands()`, the higher the more priority, as CAKE's
    /// classes), if both exist. With one band they are the tin's own.
    pub fn band_stats(&self, tin: u32, band: u8) -> Option<BandStats> {
        let n = bands_per_tin(self.cfg.diffserv);
        if n == 0 {
            let st = self.tins.get(tin as usize)?.stats();
            return (band == 0).then_some(BandStats {
                packets: st.packets,
                bytes: st.bytes,
                dequeued_packets: st.dequeued_packets,
                dequeued_bytes: st.dequeued_bytes,
                dropped_packets: st.dropped_packets,
                dropped_bytes: st.dropped_bytes,
                backlog_bytes: st.backlog_bytes,
                backlog_packets: st.backlog_packets,
                ecn_marks: st.ecn_marks,
            });
        }
        if usize::from(band) >= n {
            return None;
        }
        let i = (tin as usize)
            .saturating_mul(n)
            .saturating_add(usize::from(band));
        self.bands.get(i).map(|b| *b.stats())
    }

    /// Band `band` of tin `tin` as CAKE's per-class statistics show it:
    /// its counters, threshold rate, COBALT target and interval, quantum
    /// and flows. O(1), for dumps.
    pub fn band(&self, tin: u32, band: u8) -> Option<BandView> {
        let stats = self.band_stats(tin, band)?;
        let t = self.tins.get(tin as usize)?;
        let mode = self.cfg.diffserv;
        // As the tin's next packet will find them.
        let profile = TinProfiles::profile(&self.profiles, t.profile);
        let params = tin_params(&self.cfg, &profile, t.rate());
        let tin_cobalt = profile.cobalt_over(&self.cfg.cobalt);
        let cobalt = band_cobalt(mode, &tin_cobalt, &params, band);
        let (sparse_flows, bulk_flows) = match bands_per_tin(mode) {
            0 => (t.stats().sparse_flows, t.stats().bulk_flows),
            n => {
                let i = (tin as usize)
                    .saturating_mul(n)
                    .saturating_add(usize::from(band));
                let turn = self.band_turns.get(i)?;
                (u32::from(turn.sparse_flows), u32::from(turn.bulk_flows))
            }
        };
        Some(BandView {
            stats,
            threshold_rate: mode.threshold(band, params.rate()),
            target_ns: cobalt.target,
            interval_ns: cobalt.interval,
            quantum: mode.quantum(band),
            sparse_flows,
            bulk_flows,
        })
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
    /// to `sink`: `tin` does not exist ([`DropReason::Reconfigure`]); an
    /// existing tin never refuses a packet (every tin has a reserved flow
    /// slot for when the shared pool has no way for a new flow). Other
    /// packets may go to `sink` either way (ACK filter, memory limit); on
    /// `Ok`, [`Enqueued::own_flow_cut`] says whether the memory limit cut
    /// into this packet's own flow (the kernel's `NET_XMIT_CN`).
    pub fn enqueue(
        &mut self,
        tin: u32,
        mut pkt: Q::Packet,
        keys: FlowKeys,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Result<Enqueued, DropReason> {
        let Some(t) = self.tins.get_mut(tin as usize) else {
            self.totals.refused_packets = self.totals.refused_packets.saturating_add(1);
            sink(pkt, DropReason::Reconfigure);
            return Err(DropReason::Reconfigure);
        };
        let framing =
            TinProfiles::overhead(&self.profiles, t.profile).unwrap_or(&self.cfg.overhead);
        let adj = priced(framing, &pkt);
        pkt.set_adjusted_len(adj);
        refresh_params(t, &self.cfg, &self.profiles, self.params_epoch);
        let len = u64::from(pkt.len());
        let mem = u64::from(pkt.mem_size());
        let was_active = t.queue.is_backlogged();
        let link_idle = self.totals.backlog_packets == 0;
        let reserved_before = t.queue.stats().reserved_slot_uses;

        let own_framing = TinProfiles::overhead(&self.profiles, t.profile).is_some();
        let link_framing = &self.cfg.overhead;
        let totals = &mut self.totals;
        let mb = &mut self.mem;
        let mut dropped = DropCost::default();
        let mut on_drop = |p: Q::Packet, r| {
            account_drop(totals, mb, tin, &p, r);
            dropped.add(&p, link_framing, own_framing);
            sink(p, r);
        };
        let table = &mut self.table;
        let res = if bands_per_tin(self.cfg.diffserv) == 0 {
            t.queue
                .enqueue(tin, table, &t.params, pkt, keys, now, &mut on_drop)
        } else {
            let (turns, state) = (&mut self.band_turns, &mut self.bands);
            let mut bands = bands_of(
                &self.cfg,
                &self.profiles,
                (turns, state),
                tin,
                t,
                &self.link,
            );
            let p = &t.params;
            t.queue
                .enqueue_banded(tin, table, p, &mut bands, pkt, keys, now, &mut on_drop)
        };
        if self.cfg.ingress && dropped != DropCost::default() {
            let lag = self.cfg.max_lag_ns;
            dropped.charge(&mut t.shaper, &mut self.link, now, lag);
        }
        let slot = match res {
            Ok(slot) => slot,
            Err(p) => {
                // Unreachable: the table has a reserved slot for every tin.
                self.totals.refused_packets = self.totals.refused_packets.saturating_add(1);
                sink(p, DropReason::Reconfigure);
                return Err(DropReason::Reconfigure);
            }
        };
        let reserved = t
            .queue
            .stats()
            .reserved_slot_uses
            .wrapping_sub(reserved_before);
        let tt = &mut self.totals;
        tt.enqueued_packets = tt.enqueued_packets.saturating_add(1);
        tt.enqueued_bytes = tt.enqueued_bytes.saturating_add(len);
        tt.backlog_packets = tt.backlog_packets.saturating_add(1);
        tt.backlog_bytes = tt.backlog_bytes.saturating_add(len);
        tt.reserved_slot_uses = tt.reserved_slot_uses.saturating_add(u64::from(reserved));
        // The memory limit ranks tins by how long their memory takes to
        // drain at their rate: the tin's cap, else the link's.
        let drain = match t.shaper.rate().bytes_per_s() {
            0 => self.link.rate().bytes_per_s(),
            r => r,
        };
        self.mem.set_rate(tin, drain);
        self.mem.add(tin, mem);

        if link_idle {
            self.link.restart(now);
        }
        if !was_active && t.queue.is_backlogged() {
            t.shaper.restart(now);
            self.drr.forget_credit(tin);
            self.place(tin, now);
        }
        let own_flow_cut = self.enforce_memlimit(now, sink, tin, slot);
        Ok(Enqueued { own_flow_cut })
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
            refresh_params(t, &self.cfg, &self.profiles, self.params_epoch);
            let own_framing = TinProfiles::overhead(&self.profiles, t.profile).is_some();
            let link_framing = &self.cfg.overhead;
            let totals = &mut self.totals;
            let mb = &mut self.mem;
            let mut dropped = DropCost::default();
            let marks_before = t.queue.stats().ecn_marks;
            let mut on_drop = |p: Q::Packet, r| {
                account_drop(totals, mb, tin, &p, r);
                dropped.add(&p, link_framing, own_framing);
                sink(p, r);
            };
            let table = &mut self.table;
            let got = if bands_per_tin(self.cfg.diffserv) == 0 {
                t.queue.dequeue(tin, table, &t.params, now, &mut on_drop)
            } else {
                let (turns, state) = (&mut self.band_turns, &mut self.bands);
                let mut bands = bands_of(
                    &self.cfg,
                    &self.profiles,
                    (turns, state),
                    tin,
                    t,
                    &self.link,
                );
                let p = &t.params;
                t.queue
                    .dequeue_banded(tin, table, p, &mut bands, now, &mut on_drop)
            };
            let marks = t.queue.stats().ecn_marks.wrapping_sub(marks_before);
            self.totals.ecn_marks = self.totals.ecn_marks.saturating_add(u64::from(marks));
            if self.cfg.ingress && dropped != DropCost::default() {
                let lag = self.cfg.max_lag_ns;
                dropped.charge(&mut t.shaper, &mut self.link, now, lag);
                // And their turn, as CAKE charges the tin deficit.
                self.drr.charge(tin, dropped.link);
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
            // A tin with a burst of its own, or one that follows the
            // default rate, may burst above its rate.
            let burst = match t.burst {
                TIN_BURST_DEFAULT => self.burst.filter(|_| t.follows_default),
                b => TinBursts::get(&self.bursts, b),
            };
            match burst {
                Some(b) if b.rate.bytes_per_s() > t.rate() && t.rate() != 0 => {
                    if b.allows(t.burst_meter, now) {
                        t.shaper.charge_at(b.rate, adj, now, self.cfg.max_lag_ns);
                    } else {
                        t.shaper.charge(adj, now, self.cfg.max_lag_ns);
                    }
                    t.burst_meter = b.charge(t.burst_meter, adj, now);
                }
                _ => t.shaper.charge(adj, now, self.cfg.max_lag_ns),
            }
            // The link and the tins' shares of it count in the link's
            // framing.
            let link_adj = link_len(&self.cfg.overhead, own_framing, &p);
            self.link.charge(link_adj, now, self.cfg.max_lag_ns);
            self.drr.charge(tin, link_adj);
            if !t.queue.is_backlogged() {
                self.drr.remove(tin);
                self.drr.forget_credit(tin);
            } else if !t.shaper.allows(now) {
                self.drr.remove(tin);
                self.calendar.insert(tin, t.shaper.time_next());
                t.count_throttle();
                let tt = &mut self.totals;
                tt.tin_throttles = tt.tin_throttles.saturating_add(1);
            }
            if self.drr.head() != Some(tin) || self.drr.deficit(tin) <= 0 {
                // `tin`'s turn is over: the pipeline moves one tin on.
                self.prefetch_upcoming(tin, now);
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
        TinProfiles(&mut self.profiles).rebase(&overhead);
        true
    }

    /// `tin`'s profile (empty: none of its own), if the tin exists.
    pub fn tin_profile(&self, tin: u32) -> Option<TinProfile> {
        let t = self.tins.get(tin as usize)?;
        Some(TinProfiles::profile(&self.profiles, t.profile))
    }

    /// `tin`'s COBALT parameters as its next packet will find them (an
    /// idle tin's [`Tin::params`] wait for that packet to follow a
    /// change of the scheduler's settings), if the tin exists.
    pub fn cobalt_in_force(&self, tin: u32) -> Option<CobaltParams> {
        let t = self.tins.get(tin as usize)?;
        let profile = TinProfiles::profile(&self.profiles, t.profile);
        Some(*tin_params(&self.cfg, &profile, t.rate()).cobalt())
    }

    /// The framing `tin`'s packets are priced with for its own shaper, if
    /// the tin exists.
    pub fn tin_overhead(&self, tin: u32) -> Option<Overhead> {
        let t = self.tins.get(tin as usize)?;
        Some(*TinProfiles::overhead(&self.profiles, t.profile).unwrap_or(&self.cfg.overhead))
    }

    /// Would [`set_tin_profile`](Self::set_tin_profile) take `profile` for
    /// `tin`? Changes nothing.
    pub fn check_tin_profile(&self, tin: u32, profile: &TinProfile) -> Result<(), ProfileError> {
        let t = self.tins.get(tin as usize).ok_or(ProfileError::NoTin)?;
        TinProfiles::plan(&self.profiles, t.profile, profile).map(|_| ())
    }

    /// Gives `tin` `profile` (empty: back to the scheduler's settings).
    /// COBALT and band thresholds take its rtt at once; its framing prices
    /// packets enqueued from now on (queued ones keep their price). Its
    /// flows keep their AQM state and nothing queued moves. O([`TIN_PROFILES`]),
    /// no allocation; refused, changing nothing, if a field is out of range
    /// or the table holds [`TIN_PROFILES`] other profiles already.
    pub fn set_tin_profile(&mut self, tin: u32, profile: &TinProfile) -> Result<(), ProfileError> {
        let t = self.tins.get_mut(tin as usize).ok_or(ProfileError::NoTin)?;
        t.profile = TinProfiles(&mut self.profiles).set(t.profile, profile, &self.cfg.overhead)?;
        t.params = tin_params(&self.cfg, profile, t.rate());
        t.params_epoch = self.params_epoch;
        Ok(())
    }

    /// Gives `tin` a cap of its own (bytes/s, 0 = only the link caps it)
    /// at `now`: it no longer follows the default tin rate. Its packets
    /// stay queued in order; the wait its last packet still owes is
    /// re-priced. COBALT and the flow quantum follow the new rate (for an
    /// uncapped tin: the link rate). Returns false if `tin` does not exist.
    pub fn set_tin_rate(&mut self, tin: u32, rate: u64, now: u64) -> bool {
        let Some(t) = self.tins.get_mut(tin as usize) else {
            return false;
        };
        t.follows_default = false;
        self.apply_tin_rate(tin, rate, now);
        true
    }

    /// Makes `tin` follow the default tin rate again
    /// ([`SchedConfig::default_tin_rate`]) from `now`, as
    /// [`set_tin_rate`](Self::set_tin_rate) would set it. Returns false if
    /// `tin` does not exist.
    pub fn set_tin_rate_default(&mut self, tin: u32, now: u64) -> bool {
        let Some(t) = self.tins.get_mut(tin as usize) else {
            return false;
        };
        t.follows_default = true;
        self.apply_tin_rate(tin, self.cfg.default_tin_rate, now);
        true
    }

    /// New burst settings (None: no bursts); the tins' meters keep their
    /// readings, so a change neither grants nor takes credit.
    pub fn set_burst(&mut self, burst: Option<BurstConfig>) {
        self.cfg.burst = burst;
        self.burst = burst.as_ref().and_then(Burst::new);
    }

    /// `tin`'s burst setting, if the tin exists.
    pub fn tin_burst(&self, tin: u32) -> Option<TinBurst> {
        let t = self.tins.get(tin as usize)?;
        Some(TinBursts::setting(&self.bursts, t.burst))
    }

    /// Would [`set_tin_burst`](Self::set_tin_burst) take `burst` for
    /// `tin`? Changes nothing.
    pub fn check_tin_burst(&self, tin: u32, burst: &TinBurst) -> Result<(), BurstError> {
        let t = self.tins.get(tin as usize).ok_or(BurstError::NoTin)?;
        TinBursts::plan(&self.bursts, t.burst, burst).map(|_| ())
    }

    /// Gives `tin` a burst setting of its own (or back the scheduler's).
    /// Its meter keeps its reading. O([`TIN_BURSTS`]), no allocation;
    /// refused, changing nothing, if the burst is not valid or the table
    /// holds [`TIN_BURSTS`] other bursts already.
    pub fn set_tin_burst(&mut self, tin: u32, burst: TinBurst) -> Result<(), BurstError> {
        let t = self.tins.get_mut(tin as usize).ok_or(BurstError::NoTin)?;
        t.burst = TinBursts(&mut self.bursts).set(t.burst, &burst)?;
        Ok(())
    }

    /// Changes the default tin rate (bytes/s, 0 = none: only the link caps
    /// those tins) at `now`, re-rating every tin that follows it as
    /// [`set_tin_rate`](Self::set_tin_rate) would, and no other. O(tins)
    /// for this rare configuration change; no queued packet is touched,
    /// dropped or reordered.
    pub fn set_default_tin_rate(&mut self, rate: u64, now: u64) {
        self.cfg.default_tin_rate = rate;
        for tin in 0..self.cfg.tins {
            if self
                .tins
                .get(tin as usize)
                .is_some_and(|t| t.follows_default && t.rate() != rate)
            {
                self.apply_tin_rate(tin, rate, now);
            }
        }
    }

    /// Re-rates `tin` (see [`set_tin_rate`](Self::set_tin_rate)) without
    /// changing whether it follows the default. The rate it already has
    /// leaves its shaper alone (re-pricing would round).
    fn apply_tin_rate(&mut self, tin: u32, rate: u64, now: u64) {
        let epoch = self.params_epoch;
        let Some(t) = self.tins.get_mut(tin as usize) else {
            return;
        };
        let params = tin_params(
            &self.cfg,
            &TinProfiles::profile(&self.profiles, t.profile),
            rate,
        );
        if t.shaper.rate().bytes_per_s() != rate {
            t.shaper.set_rate(Rate::from_bytes_per_s(rate), now);
        }
        t.params = params;
        t.params_epoch = epoch;
        if t.queue.is_backlogged() {
            self.place(tin, now);
        }
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
            let (turns, state) = (&mut self.band_turns, &mut self.bands);
            let mut bands = bands_of(
                &self.cfg,
                &self.profiles,
                (turns, state),
                tin,
                t,
                &self.link,
            );
            t.queue
                .reset_banded(tin, &mut self.table, &mut bands, &mut |p, r| {
                    account_drop(totals, mb, tin, &p, r);
                    sink(p, r);
                });
        }
    }

    /// Moves everything out of `old` into this scheduler at `now`: the way
    /// to change the number of tins live. Build `self` first (all
    /// allocation happens there, outside the qdisc lock) with the new
    /// configuration, then call this under the lock.
    ///
    /// - Every queued packet of `old` moves to the same tin here if it
    ///   exists, else to `default_tin`, each flow's packets in order (as
    ///   long as a flow occupied one slot in `old`, which it always does
    ///   except for flows queued across a flow-mode change). Its flow is
    ///   found again with `keys` under this scheduler's flow mode. It keeps
    ///   its enqueue time and adjusted length. Nothing is dropped, not even
    ///   over the memory limit: that is enforced from the next enqueue on.
    /// - Tins in both keep their settings (own rate or following the
    ///   default, which is this scheduler's
    ///   [`SchedConfig::default_tin_rate`]; weight), their shaper's time
    ///   base (a tin that owed time still owes it, re-priced if its rate
    ///   changes) and their cumulative counters
    ///   ([`TinStats`](super::tin_queue::TinStats), throttle count). The
    ///   link shaper keeps its time base too, at this scheduler's link
    ///   rate. Scheduler-wide settings are this scheduler's.
    /// - Scheduler-wide [`Totals`] are added to this scheduler's, so the
    ///   accounting identity keeps holding (`reserved_slot_uses` also
    ///   counts flows the move itself puts in reserved slots). Packets
    ///   moved into `default_tin` from removed tins count as accepted by
    ///   it, so its own identity holds too; the counters of removed tins
    ///   live on only in the totals.
    /// - Lost: COBALT state, DRR++ deficits and sparse/bulk status of the
    ///   flows (moved flows start as new flows) and the tins' DRR credit.
    ///
    /// `old` is left empty and idle, its counters zeroed (they moved); its
    /// settings stay. Fails, changing nothing, if `default_tin` does not
    /// exist here. O(queued packets + tins + flow slots held).
    pub fn take_over(
        &mut self,
        old: &mut Scheduler<Q, A>,
        default_tin: u32,
        keys: &mut dyn FnMut(&Q::Packet) -> FlowKeys,
        now: u64,
    ) -> Result<(), ConfigError> {
        if default_tin >= self.cfg.tins {
            return Err(ConfigError::Invalid);
        }
        self.totals.absorb(&old.totals);
        old.totals = Totals::default();
        self.link = old.link;
        if self.link.rate().bytes_per_s() != self.cfg.link_rate {
            self.link
                .set_rate(Rate::from_bytes_per_s(self.cfg.link_rate), now);
        }
        let epoch = self.params_epoch;
        // The tins' own bursts and profiles come along (profiles' framing
        // re-derived over this scheduler's); removed tins let go of theirs.
        for (e, oe) in self.bursts.iter_mut().zip(old.bursts.iter()) {
            *e = *oe;
        }
        for (e, oe) in self.profiles.iter_mut().zip(old.profiles.iter()) {
            *e = *oe;
        }
        TinProfiles(&mut self.profiles).rebase(&self.cfg.overhead);
        // Tins in index order: `default_tin` (a tin of both if `old` had
        // it) has its settings before removed tins' packets reach it.
        for tin in 0..old.cfg.tins {
            let Some(ot) = old.tins.get_mut(tin as usize) else {
                continue;
            };
            let kept = tin < self.cfg.tins;
            let dest = if kept { tin } else { default_tin };
            let Some(t) = self.tins.get_mut(dest as usize) else {
                continue;
            };
            let moving = ot.queue.is_backlogged();
            if kept {
                t.follows_default = ot.follows_default;
                let rate = if ot.follows_default {
                    self.cfg.default_tin_rate
                } else {
                    ot.rate()
                };
                t.shaper = ot.shaper;
                t.burst_meter = ot.burst_meter;
                t.burst = ot.burst;
                t.profile = ot.profile;
                if t.shaper.rate().bytes_per_s() != rate {
                    t.shaper.set_rate(Rate::from_bytes_per_s(rate), now);
                }
                let profile = TinProfiles::profile(&self.profiles, t.profile);
                t.params = tin_params(&self.cfg, &profile, rate);
                t.params_epoch = epoch;
                t.weight = ot.weight;
                self.drr.set_weight(tin, ot.weight);
                // The throttle count with the other counters.
                t.queue.stats_mut().carry_counters(ot.queue.stats());
            } else {
                refresh_params(t, &self.cfg, &self.profiles, epoch);
                TinBursts(&mut self.bursts).release(ot.burst);
                TinProfiles(&mut self.profiles).release(ot.profile);
            }
            if moving && !t.queue.is_backlogged() && !kept {
                // Idle until now: an idle period earns no credit.
                t.shaper.restart(now);
            }
            let (mut n, mut bytes) = (0u64, 0u64);
            let reserved_before = t.queue.stats().reserved_slot_uses;
            let (on, nn) = (
                bands_per_tin(old.cfg.diffserv),
                bands_per_tin(self.cfg.diffserv),
            );
            let old_state = band_state(&mut old.bands, on, tin);
            let old_turns = band_state(&mut old.band_turns, on, tin);
            let new_state = band_state(&mut self.bands, nn, dest);
            let new_turns = band_state(&mut self.band_turns, nn, dest);
            if kept && old.cfg.diffserv == self.cfg.diffserv {
                // The same bands: they keep their history and threshold
                // times. What is queued counts as accepted again, by the
                // band the requeue puts it in.
                for (nb, ob) in new_state.iter_mut().zip(old_state.iter()) {
                    let mut st = ob.stats.counters();
                    st.packets = st.packets.wrapping_sub(u64::from(ob.stats.backlog_packets));
                    st.bytes = st.bytes.wrapping_sub(ob.stats.backlog_bytes);
                    nb.stats = st;
                }
                for (nt, ot) in new_turns.iter_mut().zip(old_turns.iter()) {
                    nt.time_next = ot.time_next;
                }
            }
            let rate = sending_rate(&t.shaper, &self.link);
            let mut bands = Bands::new(
                self.cfg.diffserv,
                new_turns,
                new_state,
                self.cfg.cobalt,
                rate,
            );
            // Draining charges nothing: no rate needed.
            let unlimited = Rate::UNLIMITED;
            let mut old_bands = Bands::new(
                old.cfg.diffserv,
                old_turns,
                old_state,
                old.cfg.cobalt,
                unlimited,
            );
            let table = &mut self.table;
            let mem = &mut self.mem;
            let totals = &mut self.totals;
            // Also gives an idle tin's (decaying) flow slots back.
            ot.queue.drain(&mut old.table, &mut old_bands, &mut |p| {
                let k = keys(&p);
                let (len, m) = (u64::from(p.len()), u64::from(p.mem_size()));
                match t
                    .queue
                    .requeue(dest, table, &t.params, &mut bands, p, &k, now)
                {
                    Ok(()) => {
                        n = n.wrapping_add(1);
                        bytes = bytes.wrapping_add(len);
                        mem.add(dest, m);
                    }
                    Err(p) => {
                        // Unreachable: every tin here has a reserved flow
                        // slot. Were it not, the packet would be freed
                        // (dropping its handle) and booked as dropped.
                        totals.dropped_packets = totals.dropped_packets.saturating_add(1);
                        totals.dropped_bytes = totals.dropped_bytes.saturating_add(len);
                        totals.backlog_packets = totals.backlog_packets.saturating_sub(1);
                        totals.backlog_bytes = totals.backlog_bytes.saturating_sub(len);
                        drop(p);
                    }
                }
            });
            let st = t.queue.stats_mut();
            if !kept {
                // Packets entering the default tin.
                st.packets = st.packets.wrapping_add(n);
                st.bytes = st.bytes.wrapping_add(bytes);
            }
            // Flows the move itself sent to a reserved slot.
            let reserved = st.reserved_slot_uses.wrapping_sub(reserved_before);
            let tt = &mut self.totals;
            tt.reserved_slot_uses = tt.reserved_slot_uses.saturating_add(u64::from(reserved));
            ot.queue = TinQueue::new();
            for b in band_state(&mut old.bands, on, tin) {
                *b = Band::default();
            }
            for b in band_state(&mut old.band_turns, on, tin) {
                *b = BandTurn::default();
            }
        }
        // `old` is idle now: empty its ring, calendar and memory buckets.
        for _ in 0..=old.cfg.tins {
            let Some(tin) = old.drr.pop_front() else {
                break;
            };
            old.drr.forget_credit(tin);
        }
        old.calendar.clear();
        old.mem.clear();
        // File every tin that has packets where its shaper says (a tin
        // that waited in `old` is no new throttle).
        for tin in 0..self.cfg.tins {
            if self
                .tins
                .get(tin as usize)
                .is_some_and(|t| t.queue.is_backlogged())
            {
                self.file(tin, now);
            }
        }
        Ok(())
    }

    /// Where the memory goes. O(1).
    pub fn memory_report(&self) -> MemoryReport {
        let band_bytes_per_tin = bands_per_tin(self.cfg.diffserv)
            .saturating_mul(size_of::<Band>() + size_of::<BandTurn>());
        let per_tin_bytes = Self::bytes_per_tin().saturating_add(band_bytes_per_tin);
        let calendar_bytes = self.calendar.wheel_bytes();
        // The reserved slots themselves are in `per_tin_bytes`.
        let pool_bytes = self.table.memory_bytes().saturating_sub(
            (self.cfg.tins as usize).saturating_mul(FlowTable::<Q, A>::reserved_slot_size()),
        );
        let own_bytes = size_of_val(&*self.bursts).saturating_add(size_of_val(&*self.profiles));
        MemoryReport {
            per_tin_bytes,
            band_bytes_per_tin,
            calendar_bytes,
            pool_bytes,
            burst_bytes: own_bytes,
            total_bytes: (self.cfg.tins as usize)
                .saturating_mul(per_tin_bytes)
                .saturating_add(calendar_bytes)
                .saturating_add(pool_bytes)
                .saturating_add(own_bytes),
            flow_slot_bytes: FlowTable::<Q, A>::flow_slot_size(),
            host_slot_bytes: FlowTable::<Q, A>::host_slot_size(),
            flow_slots: self.table.flow_capacity(),
            host_slots: self.table.host_capacity(),
            flows_in_use: self.table.flows_in_use(),
            reserved_in_use: self.table.reserved_in_use(),
            hosts_in_use: self.table.hosts_in_use(),
            active_tins: self.drr.len().saturating_add(self.calendar.len()),
        }
    }

    /// Bytes every tin costs: its [`Tin`], its links in the calendar, the
    /// DRR ring and the memory buckets, and its reserved flow slot.
    pub const fn bytes_per_tin() -> usize {
        size_of::<Tin>()
            + CALENDAR_BYTES_PER_TIN
            + TIN_DRR_BYTES_PER_TIN
            + MEM_BYTES_PER_TIN
            + FlowTable::<Q, A>::reserved_slot_size()
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
    fn prefetch_upcoming(&self, served: u32, now: u64) {
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
            let n = bands_per_tin(self.cfg.diffserv);
            let start = (third as usize).saturating_mul(n);
            // What choosing its band reads; the band served is known only
            // then.
            if let Some(turns) = self.band_turns.get(start..start.saturating_add(n)) {
                if !turns.is_empty() {
                    A::prefetch(turns);
                }
            }
            self.drr.prefetch(third);
            self.mem.prefetch(third);
            if !self.calendar.is_empty() {
                // Tins are being shaped: this one may be parked too.
                self.calendar.prefetch(third);
            }
        }
        let n = bands_per_tin(self.cfg.diffserv);
        if n == 0 {
            let flow = |t: u32| self.tins.get(t as usize).and_then(|t| t.queue.next_flow());
            if let Some(f) = flow(second) {
                self.table.prefetch_slot(f);
            }
            if let Some(f) = flow(first) {
                self.table.prefetch_slot_data(f);
            }
            return;
        }
        // With bands the chain has one more link (the tin's turns, then its
        // bands, then a flow): the second's bands (its turns were loaded a
        // turn earlier), and the slot of the flow the first will likely
        // serve, from the band it will likely choose (its bands were loaded
        // a turn earlier).
        let range = |t: u32| {
            let start = (t as usize).saturating_mul(n);
            start..start.saturating_add(n)
        };
        if let Some(bands) = self.bands.get(range(second)) {
            if !bands.is_empty() {
                A::prefetch(bands);
            }
        }
        let first_flow = (|| {
            let tin = self.tins.get(first as usize)?;
            let turns = self.band_turns.get(range(first))?;
            let state = self.bands.get(range(first))?;
            let shaped = tin.params().rate() != 0;
            tin.queue.next_banded_flow(turns, state, shaped, now)
        })();
        if let Some(f) = first_flow {
            self.table.prefetch_slot(f);
        }
    }

    /// Puts backlogged `tin` where its shaper says: the DRR ring if it may
    /// send at `now`, else the calendar (counted as a throttle unless it
    /// was there already).
    fn place(&mut self, tin: u32, now: u64) {
        if self.file(tin, now) {
            if let Some(t) = self.tins.get_mut(tin as usize) {
                t.count_throttle();
            }
            let tt = &mut self.totals;
            tt.tin_throttles = tt.tin_throttles.saturating_add(1);
        }
    }

    /// [`place`](Self::place) without counting; returns whether `tin` went
    /// to the calendar from elsewhere.
    fn file(&mut self, tin: u32, now: u64) -> bool {
        let Some(t) = self.tins.get(tin as usize) else {
            return false;
        };
        if t.shaper.allows(now) {
            self.calendar.remove(tin);
            self.drr.push_back(tin);
            false
        } else {
            self.drr.remove(tin);
            let newly_parked = !self.calendar.contains(tin);
            self.calendar.insert(tin, t.shaper.time_next());
            newly_parked
        }
    }

    /// Drops from the fattest flow of an approximately fattest tin while
    /// over the memory limit. Returns whether it dropped from flow slot
    /// `own_slot` of tin `own_tin` (the flow just enqueued to, as CAKE's
    /// `same_flow`).
    fn enforce_memlimit(
        &mut self,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
        own_tin: u32,
        own_slot: u32,
    ) -> bool {
        let mut own_cut = false;
        for _ in 0..MAX_OVERLIMIT_DROPS {
            if self.mem.total() <= self.cfg.memlimit {
                break;
            }
            let Some(fat) = self.mem.fattest() else {
                break;
            };
            let Some(t) = self.tins.get_mut(fat as usize) else {
                break;
            };
            let (turns, state) = (&mut self.band_turns, &mut self.bands);
            let mut bands = bands_of(
                &self.cfg,
                &self.profiles,
                (turns, state),
                fat,
                t,
                &self.link,
            );
            let Some((p, slot)) =
                t.queue
                    .drop_fattest_banded(fat, &mut self.table, &t.params, &mut bands, now)
            else {
                break;
            };
            own_cut |= fat == own_tin && slot == own_slot;
            account_drop(
                &mut self.totals,
                &mut self.mem,
                fat,
                &p,
                DropReason::Overlimit,
            );
            if self.cfg.ingress {
                let lag = self.cfg.max_lag_ns;
                let own = TinProfiles::overhead(&self.profiles, t.profile).is_some();
                let mut cost = DropCost::default();
                cost.add(&p, &self.cfg.overhead, own);
                cost.charge(&mut t.shaper, &mut self.link, now, lag);
            }
            if !t.queue.is_backlogged() {
                self.drr.remove(fat);
                self.drr.forget_credit(fat);
                self.calendar.remove(fat);
            }
            sink(p, DropReason::Overlimit);
        }
        own_cut
    }
}

/// Ingress mode: packets dropped here already used the bottleneck
/// upstream, so they cost their tin and the link their time, as if sent
/// (`cake_advance_shaper` on a drop): the tin in its framing (their
/// adjusted length), the link in the scheduler's (see [`link_len`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct DropCost {
    tin: u32,
    link: u32,
}

impl DropCost {
    /// Adds packet `p` of a tin with a framing of its own or not.
    fn add<P: Packet>(&mut self, p: &P, link_framing: &Overhead, own_framing: bool) {
        self.tin = self.tin.saturating_add(p.adjusted_len());
        self.link = self
            .link
            .saturating_add(link_len(link_framing, own_framing, p));
    }

    /// Charges the tin's shaper and the link's.
    fn charge(&self, tin: &mut Shaper, link: &mut Shaper, now: u64, lag: u64) {
        tin.charge(self.tin, now, lag);
        link.charge(self.link, now, lag);
    }
}

/// The rate that sends a tin: its own cap or the link's, the slower one
/// (the rate its [`TinParams`] derive from, see [`tin_params`]).
fn sending_rate(tin: &Shaper, link: &Shaper) -> Rate {
    let (t, l) = (tin.rate(), link.rate());
    if t.is_unlimited() || (!l.is_unlimited() && l.bytes_per_s() < t.bytes_per_s()) {
        l
    } else {
        t
    }
}

/// Tin `tin`'s bands in `turns` and `state` (the scheduler's arrays), as
/// its queueing takes them; none (besteffort) in a one-band mode.
#[inline(always)]
fn bands_of<'a>(
    cfg: &SchedConfig,
    profiles: &[ProfileSlot],
    (turns, state): (&'a mut [BandTurn], &'a mut [Band]),
    tin: u32,
    t: &Tin,
    link: &Shaper,
) -> Bands<'a> {
    let n = bands_per_tin(cfg.diffserv);
    if n == 0 {
        return Bands::besteffort();
    }
    let rate = sending_rate(&t.shaper, link);
    let turns = band_state(turns, n, tin);
    let state = band_state(state, n, tin);
    let cobalt = tin_cobalt(cfg, profiles, t.profile);
    Bands::new(cfg.diffserv, turns, state, cobalt, rate).with_max_lag(cfg.max_lag_ns)
}

/// The COBALT settings of a tin holding profile byte `profile`.
#[inline(always)]
fn tin_cobalt(cfg: &SchedConfig, profiles: &[ProfileSlot], profile: u8) -> CobaltConfig {
    if profile == TIN_PROFILE_NONE {
        cfg.cobalt
    } else {
        TinProfiles::profile(profiles, profile).cobalt_over(&cfg.cobalt)
    }
}

/// What `p` costs priced with `framing`.
#[inline(always)]
fn priced<P: Packet>(framing: &Overhead, p: &P) -> u32 {
    let off = p.network_offset();
    match p.gso_shape() {
        Some(g) => framing.adjusted_len_gso(g, off),
        None => framing.adjusted_len(p.len(), off),
    }
}

/// What `p` costs the link: its adjusted length, unless its tin has a
/// framing of its own (`own_framing`), which prices it for the tin only;
/// the link charges `framing`, the scheduler's.
#[inline(always)]
fn link_len<P: Packet>(framing: &Overhead, own_framing: bool, p: &P) -> u32 {
    if own_framing {
        priced(framing, p)
    } else {
        p.adjusted_len()
    }
}

/// Rebuilds `t`'s parameters if scheduler-wide settings changed since they
/// were made (a tin idle through exactly 2^32 changes would miss one).
#[inline(always)]
fn refresh_params(t: &mut Tin, cfg: &SchedConfig, profiles: &[ProfileSlot], epoch: u32) {
    if t.params_epoch != epoch {
        rebuild_params(t, cfg, profiles, epoch);
    }
}

/// Kept out of line: it runs once per tin per settings change, and inlined
/// twice into the packet path it would only crowd it.
#[cold]
#[inline(never)]
fn rebuild_params(t: &mut Tin, cfg: &SchedConfig, profiles: &[ProfileSlot], epoch: u32) {
    t.params_epoch = epoch;
    let profile = TinProfiles::profile(profiles, t.profile);
    t.params = tin_params(cfg, &profile, t.rate());
}

/// Queueing parameters for a tin with `profile` capped at `rate` (0: the
/// link rate).
fn tin_params(cfg: &SchedConfig, profile: &TinProfile, rate: u64) -> TinParams {
    let effective = match (rate, cfg.link_rate) {
        (0, l) => l,
        (r, 0) => r,
        (r, l) => r.min(l),
    };
    TinParams::new(
        effective,
        cfg.mtu,
        &profile.cobalt_over(&cfg.cobalt),
        cfg.flow_mode,
        cfg.ack_filter,
    )
    .with_ingress(cfg.ingress)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::sched::shared_settings::SharedSettings;
    use crate::sched::test_support::{HostAlloc, TestPacket, TestQueue};
    use crate::sched::tin_queue::TinStats;
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
    fn the_same_rate_again_keeps_the_schedule() {
        let mut s = sched(1, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        s.set_tin_rate(0, 3_000, 0); // 1/3 ms a byte: re-pricing rounds
        for i in 0..2 {
            s.enqueue(0, pkt(i, 0, 1500), keys(1), 0, &mut sink)
                .unwrap();
        }
        assert!(matches!(s.dequeue(0, &mut sink), Dequeued::Packet(_)));
        let due = s.tin(0).unwrap().time_next();
        for now in 1..100 {
            assert!(s.set_tin_rate(0, 3_000, now * 1_000));
        }
        assert_eq!(s.tin(0).unwrap().time_next(), due);
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

    #[test]
    fn tin_state_stays_within_368_bytes() {
        // Every tin's state is prefetched whole before it is served, so
        // with thousands of backlogged tins its size is memory traffic
        // per packet: 352 bytes (5.5 cache lines) before the burst meter,
        // 360 with it, 368 with the profile byte (its small fields had no
        // room left), still inside 6 lines; keep it from growing
        // unnoticed.
        assert!(size_of::<Tin>() <= 368, "{}", size_of::<Tin>());
    }

    #[test]
    fn pool_sizing_and_memory_for_10000_tins() {
        assert_eq!(pool_slots_for(0), 4096);
        assert_eq!(pool_slots_for(1), 4096);
        assert_eq!(pool_slots_for(1024), 4096);
        assert_eq!(pool_slots_for(1025), 4104, "4100 rounded up to whole sets");
        assert_eq!(pool_slots_for(10_000), 40_000);
        assert_eq!(pool_slots_for(MAX_TINS), 262_144);
        assert_eq!(pool_slots_for(u32::MAX) % SET_WAYS, 0);
        let cfg = SchedConfig::for_tins(10_000);
        assert_eq!((cfg.tins, cfg.flows, cfg.hosts), (10_000, 40_000, 40_000));
        let mut alloc = HostAlloc::default();
        let s: Sched = Scheduler::new(&mut alloc, &cfg).unwrap();
        let m = s.memory_report();
        // The report accounts for every byte allocated.
        assert_eq!(m.total_bytes, alloc.bytes);
        assert_eq!((m.flow_slots, m.host_slots), (40_000, 40_000));
        assert!(m.total_bytes < 16 << 20, "{m:?}");
        // A tin's share: its own state and reserved slot, 4 flow and 4
        // host slots of the pool, its share of the calendar wheels (the
        // figure in `pool_slots_for`'s documentation).
        assert_eq!(m.total_bytes, 11_135_216);
    }

    #[test]
    fn full_pool_never_refuses_a_tin() {
        // One set of 8 ways, taken by tin 0's flows: tins 1 and 2 get
        // their reserved slots, and give them back when idle.
        let cfg = SchedConfig {
            tins: 3,
            flows: 8,
            hosts: 8,
            ..SchedConfig::default()
        };
        let mut s: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        for f in 0..12 {
            s.enqueue(0, pkt(f.into(), 0, 100), keys(f), 0, &mut sink)
                .unwrap();
        }
        // Tin 0's flows beyond 8 share its own ways.
        assert_eq!(s.memory_report().reserved_in_use, 0);
        assert_eq!(s.tin(0).unwrap().stats().ways.collisions, 4);
        for t in 1..3 {
            for f in 0..3 {
                let id = u64::from(t * 100 + f);
                s.enqueue(t, pkt(id, t, 100), keys(f), 0, &mut sink)
                    .unwrap();
            }
            // One new flow took the reserved slot, two more shared it.
            assert_eq!(s.tin(t).unwrap().stats().reserved_slot_uses, 3);
        }
        let m = s.memory_report();
        assert_eq!((m.flows_in_use, m.reserved_in_use), (8 + 2, 2));
        let uses: u64 = (0..3)
            .map(|t| u64::from(s.tin(t).unwrap().stats().reserved_slot_uses))
            .sum();
        assert_eq!(s.totals().reserved_slot_uses, uses);
        assert_eq!(s.totals().refused_packets, 0);
        check_accounting(&s);
        let mut out = 0;
        while let Dequeued::Packet(_) = s.dequeue(0, &mut sink) {
            out += 1;
        }
        assert_eq!(out, 18);
        let m = s.memory_report();
        assert_eq!(
            (m.flows_in_use, m.reserved_in_use),
            (0, 0),
            "idle: no flow state"
        );
        check_accounting(&s);
    }

    #[test]
    fn enqueue_reports_cuts_into_the_own_flow() {
        let cfg = SchedConfig {
            tins: 2,
            memlimit: 5_000,
            ..SchedConfig::default()
        };
        let mut s: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
        let drops = RefCell::new(Vec::new());
        let mut sink = |p: TestPacket, r| drops.borrow_mut().push((p.id, r));
        // Tin 1 holds 4000 bytes in flow 7.
        for i in 0..4 {
            let e = s.enqueue(1, pkt(i, 1, 1000), keys(7), 0, &mut sink);
            assert_eq!(
                e,
                Ok(Enqueued {
                    own_flow_cut: false
                })
            );
        }
        // Tin 0's packet goes over the limit; the fattest flow is tin 1's.
        let e = s.enqueue(0, pkt(10, 0, 1500), keys(7), 0, &mut sink);
        assert_eq!(
            e,
            Ok(Enqueued {
                own_flow_cut: false
            })
        );
        assert_eq!(*drops.borrow(), [(0, DropReason::Overlimit)]);
        // Tin 1's own flow is the fattest: the cut is in its own flow.
        let e = s.enqueue(1, pkt(4, 1, 1000), keys(7), 0, &mut sink);
        assert_eq!(e, Ok(Enqueued { own_flow_cut: true }));
        assert_eq!(drops.borrow().last(), Some(&(1, DropReason::Overlimit)));
        // Another flow of the same tin is not its own flow.
        drops.borrow_mut().clear();
        let e = s.enqueue(1, pkt(5, 1, 600), keys(8), 0, &mut sink);
        assert_eq!(
            e,
            Ok(Enqueued {
                own_flow_cut: false
            })
        );
        assert_eq!(*drops.borrow(), [(2, DropReason::Overlimit)]);
        // A packet bigger than everything queued may cut itself.
        let cfg = SchedConfig {
            tins: 1,
            memlimit: 4_096,
            ..SchedConfig::default()
        };
        let mut s2: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
        drops.borrow_mut().clear();
        let e = s2.enqueue(0, pkt(1, 0, 5000), keys(1), 0, &mut sink);
        assert_eq!(e, Ok(Enqueued { own_flow_cut: true }));
        assert_eq!(*drops.borrow(), [(1, DropReason::Overlimit)]);
        check_accounting(&s);
        check_accounting(&s2);
    }

    /// The scheduler-wide counters equal the sums over the tins.
    fn check_totals(s: &Sched) {
        let t = s.totals();
        let sum = |f: &dyn Fn(&TinStats) -> u32| -> u64 {
            (0..s.tin_count())
                .map(|i| u64::from(f(s.tin(i).unwrap().stats())))
                .sum()
        };
        assert_eq!(t.cobalt_drops, sum(&|st| st.cobalt_drops));
        assert_eq!(t.ack_drops, sum(&|st| st.ack_drops));
        assert_eq!(t.overlimit_drops, sum(&|st| st.overlimit_drops));
        assert_eq!(t.ecn_marks, sum(&|st| st.ecn_marks));
        assert_eq!(t.reserved_slot_uses, sum(&|st| st.reserved_slot_uses));
        let throttles: u64 = (0..s.tin_count())
            .map(|i| u64::from(s.tin(i).unwrap().throttled()))
            .sum();
        assert_eq!(t.tin_throttles, throttles);
    }

    #[test]
    fn totals_are_kept_without_walking_tins() {
        let mut s = sched(3, 0);
        s.set_cobalt(CobaltConfig::preset(crate::sched::cobalt::RttPreset::Lan));
        s.set_ack_filter(AckFilterMode::Aggressive);
        // Tin 0: a standing queue of non-ECT packets (COBALT drops), tin 1
        // the same ECN-capable (marks), both capped (throttles); tin 2 ACKs.
        s.set_tin_rate(0, 1_000_000, 0);
        s.set_tin_rate(1, 1_000_000, 0);
        let mut sink = |_: TestPacket, _| {};
        let mut now = 0;
        let mut id = 0;
        for _ in 0..3000 {
            for t in 0..2u32 {
                while s.tin(t).unwrap().backlog_packets() < 30 {
                    id += 1;
                    let mut p = pkt(id, t, 1000);
                    p.ect = t == 1;
                    s.enqueue(t, p, keys(1), now, &mut sink).unwrap();
                }
            }
            id += 1;
            let mut a = pkt(id, 2, 60);
            a.ack = Some(crate::sched::packet::AckInfo {
                conn_hash: 1,
                ack_seq: id as u32,
                flags: 0x10,
                ..Default::default()
            });
            s.enqueue(2, a, keys(1), now, &mut sink).unwrap();
            match s.dequeue(now, &mut sink) {
                Dequeued::WaitUntil(t) => now = t,
                Dequeued::Packet(_) => now += 100_000,
                Dequeued::Empty => {}
            }
        }
        let t = *s.totals();
        assert!(
            t.cobalt_drops > 0 && t.ecn_marks > 0 && t.ack_drops > 0,
            "{t:?}"
        );
        assert!(t.tin_throttles > 0 && s.tin(0).unwrap().throttled() > 0);
        check_totals(&s);
        check_accounting(&s);
    }

    #[test]
    fn default_tin_rate_is_followed_until_overridden() {
        let cfg = SchedConfig {
            tins: 3,
            default_tin_rate: 125_000,
            ..SchedConfig::default()
        };
        let mut s: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        for t in 0..3 {
            assert!(s.tin(t).unwrap().follows_default_rate());
            assert_eq!(s.tin(t).unwrap().rate(), 125_000);
        }
        assert!(s.set_tin_rate(1, 1_000, 0));
        assert!(!s.tin(1).unwrap().follows_default_rate());
        // An own rate of 0 (only the link caps it) is not the default.
        assert!(s.set_tin_rate(2, 0, 0));
        assert!(!s.tin(2).unwrap().follows_default_rate());
        for i in 0..3 {
            for t in 0..3 {
                let id = u64::from(t) * 10 + i;
                s.enqueue(t, pkt(id, t, 1500), keys(1), 0, &mut sink)
                    .unwrap();
            }
        }
        let mut got: Vec<u64> = Vec::new();
        for _ in 0..3 {
            if let Dequeued::Packet(p) = s.dequeue(0, &mut sink) {
                got.push(p.id);
            }
        }
        // Tin 0 waits 12 ms for its next packet, tin 1 1.5 s.
        assert_eq!(s.waiting_tins(), 2);
        assert_eq!(s.tin(0).unwrap().time_next(), 12_000_000);
        // Re-rating the default moves tin 0 only (a quarter of its wait
        // is left at 4x the rate).
        s.set_default_tin_rate(500_000, 6_000_000);
        assert_eq!(s.config().default_tin_rate, 500_000);
        assert_eq!(s.tin(0).unwrap().rate(), 500_000);
        assert_eq!(s.tin(0).unwrap().time_next(), 6_000_000 + 1_500_000);
        assert_eq!(s.tin(1).unwrap().rate(), 1_000);
        assert_eq!(s.tin(2).unwrap().rate(), 0);
        assert_eq!(s.tin(0).unwrap().params().rate(), 500_000);
        // The same rate again, own or default, changes nothing.
        let due = s.tin(0).unwrap().time_next();
        assert!(s.set_tin_rate_default(0, 6_000_100));
        s.set_default_tin_rate(500_000, 6_000_200);
        assert_eq!(s.tin(0).unwrap().time_next(), due);
        assert!(s.tin(0).unwrap().follows_default_rate());
        // Tin 1 follows the default again.
        assert!(s.set_tin_rate_default(1, 6_000_000));
        assert!(s.tin(1).unwrap().follows_default_rate());
        assert_eq!(s.tin(1).unwrap().rate(), 500_000);
        assert!(!s.set_tin_rate_default(3, 0));
        // Nothing dropped or reordered.
        let mut now = 6_000_000;
        loop {
            match s.dequeue(now, &mut sink) {
                Dequeued::Packet(p) => got.push(p.id),
                Dequeued::WaitUntil(t) => now = t,
                Dequeued::Empty => break,
            }
        }
        assert_eq!(got.len(), 9);
        for t in 0..3 {
            let ids: Vec<u64> = got.iter().copied().filter(|id| id / 10 == t).collect();
            assert_eq!(ids, [t * 10, t * 10 + 1, t * 10 + 2]);
        }
        check_accounting(&s);
    }

    /// Flow of a take-over test packet: ids are `tin * 1000 + flow * 100 +
    /// seq`, and the keys follow the flow, whatever tin the packet is in.
    fn flow_of(p: &TestPacket) -> u32 {
        (p.id / 100) as u32
    }

    #[test]
    fn take_over_moves_everything_and_keeps_settings() {
        let cfg = SchedConfig {
            tins: 4,
            default_tin_rate: 1_000_000,
            memlimit: 1 << 20,
            ..SchedConfig::default()
        };
        let mut old: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        old.set_tin_rate(0, 125_000, 0);
        old.set_tin_weight(0, 3);
        for t in 0..4u32 {
            for f in 0..3u64 {
                for seq in 0..5u64 {
                    let id = u64::from(t) * 1000 + f * 100 + seq;
                    let p = pkt(id, t, 1000);
                    old.enqueue(t, p, keys((id / 100) as u32), 0, &mut sink)
                        .unwrap();
                }
            }
        }
        // Some history: a packet of each tin out, so tin 0 owes 8 ms.
        for _ in 0..4 {
            let Dequeued::Packet(_) = old.dequeue(0, &mut sink) else {
                panic!()
            };
        }
        let before = *old.totals();
        let tin0 = *old.tin(0).unwrap().stats();
        let owed = old.tin(0).unwrap().time_next();
        assert_eq!(owed, 8_000_000);
        // Shrink to 2 tins, removed tins' packets to tin 1, a tighter
        // memory limit that the move itself does not enforce.
        let small = SchedConfig {
            tins: 2,
            memlimit: 20_000,
            ..cfg
        };
        let mut s: Sched = Scheduler::new(&mut HostAlloc::default(), &small).unwrap();
        let mut k = |p: &TestPacket| keys(flow_of(p));
        assert_eq!(
            s.take_over(&mut old, 2, &mut k, 1_000),
            Err(ConfigError::Invalid)
        );
        assert_eq!(old.totals(), &before, "a failed take-over changes nothing");
        s.take_over(&mut old, 1, &mut k, 1_000).unwrap();
        // Everything moved, nothing lost, the identity holds.
        assert_eq!(s.totals(), &before);
        assert_eq!(s.totals().backlog_packets, 56);
        assert_eq!(s.mem_used(), 56_000);
        check_accounting(&s);
        // `old` is empty and idle, its counters gone with the packets.
        assert_eq!(old.totals(), &Totals::default());
        assert_eq!(
            (old.mem_used(), old.eligible_tins(), old.waiting_tins()),
            (0, 0, 0)
        );
        assert_eq!(old.memory_report().flows_in_use, 0);
        assert_eq!(old.dequeue(1_000, &mut sink), Dequeued::Empty);
        check_accounting(&old);
        // Settings and counters of tin 0 carried over, its debt too.
        let t0 = s.tin(0).unwrap();
        assert_eq!(
            (t0.rate(), t0.weight(), t0.follows_default_rate()),
            (125_000, 3, false)
        );
        assert_eq!(t0.time_next(), owed);
        assert_eq!(t0.stats().packets, tin0.packets);
        assert_eq!(t0.stats().dequeued_packets, 1);
        let t1 = s.tin(1).unwrap();
        assert!(t1.follows_default_rate());
        // Tin 1: its own 15 packets, and tins 2 and 3's 14 queued each.
        assert_eq!(t1.stats().packets, 15 + 28);
        assert_eq!(t1.backlog_packets(), 14 + 28);
        assert_eq!(s.waiting_tins() + s.eligible_tins(), 2);
        // The limit bites at the next enqueue.
        let e = s.enqueue(0, pkt(9_999, 0, 1000), keys(99), 1_000, &mut sink_ok());
        assert!(e.is_ok());
        assert!(s.mem_used() <= 20_000);
        check_accounting(&s);
        // Everything comes out, each flow in order.
        let mut last: std::collections::BTreeMap<u32, u64> = Default::default();
        let mut now = 1_000;
        let mut n = 0;
        loop {
            match s.dequeue(now, &mut |_, _| {}) {
                Dequeued::Packet(p) => {
                    let prev = last.insert(flow_of(&p), p.id);
                    assert!(
                        prev.map_or(true, |l| l < p.id),
                        "flow {} reordered",
                        flow_of(&p)
                    );
                    n += 1;
                }
                Dequeued::WaitUntil(t) => now = t,
                Dequeued::Empty => break,
            }
        }
        assert!(n > 0);
        check_accounting(&s);
        assert_eq!(s.memory_report().flows_in_use, 0);
    }

    fn sink_ok() -> impl FnMut(TestPacket, DropReason) {
        |_, r| assert_eq!(r, DropReason::Overlimit)
    }

    #[test]
    fn take_over_keeps_kept_tins_bursts_and_frees_removed_ones() {
        let cfg = SchedConfig {
            tins: 4,
            ..SchedConfig::default()
        };
        let b = |rate| {
            TinBurst::Own(BurstConfig {
                rate,
                threshold: 1_000,
                time_ns: 1_000_000,
            })
        };
        let mut old: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
        old.set_tin_burst(0, b(2_000)).unwrap();
        old.set_tin_burst(1, TinBurst::Off).unwrap();
        old.set_tin_burst(2, b(2_000)).unwrap();
        old.set_tin_burst(3, b(3_000)).unwrap();
        let small = SchedConfig { tins: 2, ..cfg };
        let mut s: Sched = Scheduler::new(&mut HostAlloc::default(), &small).unwrap();
        s.take_over(&mut old, 0, &mut |p| keys(p.tag), 0).unwrap();
        assert_eq!(s.tin_burst(0), Some(b(2_000)));
        assert_eq!(s.tin_burst(1), Some(TinBurst::Off));
        // Tin 2 shared tin 0's entry; tin 3's entry is free again.
        assert!(TinBursts(&mut s.bursts)
            .users()
            .eq([1, 0].into_iter().chain([0; TIN_BURSTS - 2])));
        assert_eq!(s.check_tin_burst(1, &b(9_000)), Ok(()));
        assert_eq!(s.check_tin_burst(2, &b(9_000)), Err(BurstError::NoTin));
    }

    fn framing(overhead: Option<i32>, mpu: Option<u32>) -> TinProfile {
        TinProfile {
            overhead,
            mpu,
            ..TinProfile::default()
        }
    }

    #[test]
    fn a_tins_framing_prices_it_and_the_link_keeps_the_qdiscs() {
        let mut s = sched(2, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        // Two tins at 1 MB/s; tin 0's line adds 100 bytes a packet.
        s.set_tin_rate(0, 1_000_000, 0);
        s.set_tin_rate(1, 1_000_000, 0);
        s.set_tin_profile(0, &framing(Some(100), None)).unwrap();
        for t in 0..2 {
            for i in 0..2 {
                s.enqueue(t, pkt(i, t, 900), keys(1), 0, &mut sink).unwrap();
            }
        }
        let mut lens = Vec::new();
        for _ in 0..2 {
            let Dequeued::Packet(p) = s.dequeue(0, &mut sink) else {
                panic!()
            };
            lens.push((p.tag, p.adjusted_len));
        }
        lens.sort();
        assert_eq!(lens, [(0, 1000), (1, 900)]);
        // 1000 bytes at 1 MB/s is 1 ms for tin 0, 900 is 0.9 ms for tin 1.
        assert_eq!(s.tin(0).unwrap().time_next(), 1_000_000);
        assert_eq!(s.tin(1).unwrap().time_next(), 900_000);
        let mut s2 = sched(1, 1_000_000);
        // Uncapped, on a 1 MB/s link with no framing of its own: the link
        // charges the 900 bytes it carries, not the tin's 1000.
        s2.set_tin_profile(0, &framing(Some(100), None)).unwrap();
        for i in 0..2 {
            s2.enqueue(0, pkt(i, 0, 900), keys(1), 0, &mut sink)
                .unwrap();
        }
        assert!(matches!(s2.dequeue(0, &mut sink), Dequeued::Packet(p) if p.adjusted_len == 1000));
        assert_eq!(s2.dequeue(0, &mut sink), Dequeued::WaitUntil(900_000));
        check_accounting(&s2);
    }

    #[test]
    fn a_tins_framing_follows_the_fields_it_leaves_to_the_qdisc() {
        let mut s = sched(2, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        s.set_tin_profile(1, &framing(None, Some(200))).unwrap();
        assert!(s.set_overhead(Overhead {
            overhead: 50,
            ..Overhead::default()
        }));
        let own = s.tin_overhead(1).unwrap();
        assert_eq!((own.overhead, own.mpu), (50, 200));
        assert_eq!(s.tin_overhead(0).unwrap().mpu, 0);
        for (i, len) in [100, 300].into_iter().enumerate() {
            s.enqueue(1, pkt(i as u64, 1, len), keys(1), 0, &mut sink)
                .unwrap();
            s.enqueue(0, pkt(9 + i as u64, 0, len), keys(1), 0, &mut sink)
                .unwrap();
        }
        let mut lens = Vec::new();
        while let Dequeued::Packet(p) = s.dequeue(0, &mut sink) {
            lens.push((p.tag, p.len, p.adjusted_len));
        }
        lens.sort();
        // Tin 1: mpu 200 over the qdisc's 50; tin 0: the qdisc's alone.
        assert_eq!(
            lens,
            [(0, 100, 150), (0, 300, 350), (1, 100, 200), (1, 300, 350)]
        );
        // Back to none: the qdisc's framing again, the entry freed.
        s.set_tin_profile(1, &TinProfile::default()).unwrap();
        assert_eq!(s.tin_overhead(1).unwrap().mpu, 0);
        assert!(SharedSettings::users(&s.profiles).all(|u| u == 0));
        check_accounting(&s);
    }

    #[test]
    fn a_tins_rtt_sets_its_cobalt_and_its_bands() {
        let mut s = diffserv(2, DiffservMode::Diffserv4, 0);
        s.set_tin_rate(0, 1_250_000, 0);
        s.set_tin_rate(1, 1_250_000, 0);
        let sat = TinProfile {
            cobalt: Some(CobaltConfig::from_rtt(600_000_000)),
            ..TinProfile::default()
        };
        s.set_tin_profile(0, &sat).unwrap();
        let (own, qdisc) = (
            s.tin(0).unwrap().params().cobalt(),
            s.tin(1).unwrap().params().cobalt(),
        );
        assert_eq!(own.target, 30_000_000, "rtt / 20");
        assert!(own.interval >= 600_000_000, "{own:?}");
        assert_eq!(qdisc.target, CobaltConfig::default().target_ns);
        // Each band fits the tin's rtt to its threshold, as the tin's own.
        for b in 0..4 {
            let (o, q) = (s.band(0, b).unwrap(), s.band(1, b).unwrap());
            assert!(o.interval_ns > q.interval_ns, "band {b}: {o:?} {q:?}");
            assert!(o.target_ns >= 30_000_000, "band {b}: {o:?}");
        }
        // A qdisc-wide rtt change leaves the tin's own alone; an idle
        // tin's shows it before its next packet.
        s.set_cobalt(CobaltConfig::from_rtt(10_000_000));
        assert_eq!(s.cobalt_in_force(1).unwrap().target, 1_816_800);
        assert_eq!(s.cobalt_in_force(0).unwrap().target, 30_000_000);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        for t in 0..2 {
            s.enqueue(t, pkt(u64::from(t), t, 100), keys(1), 0, &mut sink)
                .unwrap();
        }
        assert_eq!(s.tin(0).unwrap().params().cobalt().target, 30_000_000);
        // 0.5 ms, raised to 1.5 MTU times at 1.25 MB/s.
        assert_eq!(s.tin(1).unwrap().params().cobalt().target, 1_816_800);
    }

    #[test]
    fn tin_profiles_share_entries_and_refuse_the_one_too_many() {
        let tins = TIN_PROFILES as u32 + 2;
        let mut s = sched(tins, 0);
        for t in 0..TIN_PROFILES as u32 {
            s.set_tin_profile(t, &framing(Some(t as i32), None))
                .unwrap();
        }
        // Full of other profiles: refused, and nothing changes.
        let extra = framing(Some(-5), None);
        assert_eq!(
            s.check_tin_profile(tins - 1, &extra),
            Err(ProfileError::Full)
        );
        assert_eq!(s.set_tin_profile(tins - 1, &extra), Err(ProfileError::Full));
        assert_eq!(s.tin_profile(tins - 1), Some(TinProfile::default()));
        // An equal one shares; the only holder changes its own in place.
        s.set_tin_profile(tins - 1, &framing(Some(3), None))
            .unwrap();
        s.set_tin_profile(0, &extra).unwrap();
        assert_eq!(s.tin_profile(0), Some(extra));
        assert_eq!(s.tin_profile(3), Some(framing(Some(3), None)));
        // Out of range: refused first.
        let bad = framing(Some(300), Some(300));
        assert_eq!(
            s.set_tin_profile(tins - 2, &bad),
            Err(ProfileError::Invalid)
        );
        assert_eq!(s.set_tin_profile(tins, &extra), Err(ProfileError::NoTin));
        assert_eq!(
            SharedSettings::users(&s.profiles)
                .map(u64::from)
                .sum::<u64>(),
            u64::from(tins) - 1
        );
    }

    #[test]
    fn take_over_keeps_kept_tins_profiles_and_frees_removed_ones() {
        let mut old = sched(4, 0);
        let dsl = framing(Some(44), None);
        old.set_tin_profile(0, &dsl).unwrap();
        old.set_tin_profile(3, &framing(Some(8), None)).unwrap();
        let mut s = sched(2, 0);
        s.set_overhead(Overhead {
            mpu: 64,
            ..Overhead::default()
        });
        s.take_over(&mut old, 0, &mut |p| keys(p.tag), 0).unwrap();
        assert_eq!(s.tin_profile(0), Some(dsl));
        let o = s.tin_overhead(0).unwrap();
        assert_eq!(
            (o.overhead, o.mpu),
            (44, 64),
            "over the new qdisc's framing"
        );
        assert!(
            SharedSettings::users(&s.profiles).eq([1, 0].into_iter().chain([0; TIN_PROFILES - 2]))
        );
    }

    #[test]
    fn take_over_grows_and_keeps_the_default_rate_followers() {
        let cfg = SchedConfig {
            tins: 2,
            default_tin_rate: 125_000,
            ..SchedConfig::default()
        };
        let mut old: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        old.set_tin_rate(1, 250_000, 0);
        old.set_link_rate(12_500_000, 0);
        for t in 0..2u32 {
            for seq in 0..3u64 {
                let id = u64::from(t) * 1000 + seq;
                old.enqueue(t, pkt(id, t, 1500), keys(t), 0, &mut sink)
                    .unwrap();
            }
        }
        let Dequeued::Packet(_) = old.dequeue(0, &mut sink) else {
            panic!()
        };
        let link_next = old.link.time_next();
        // Grow to 5 tins with a new default rate: followers take it, the
        // tin with its own rate keeps it, the new tins follow.
        let big = SchedConfig {
            tins: 5,
            default_tin_rate: 500_000,
            link_rate: 12_500_000,
            ..cfg
        };
        let mut s: Sched = Scheduler::new(&mut HostAlloc::default(), &big).unwrap();
        s.take_over(&mut old, 0, &mut |p| keys(p.tag), 10).unwrap();
        assert_eq!(s.link.time_next(), link_next, "link time base kept");
        assert_eq!(s.tin(0).unwrap().rate(), 500_000);
        assert!(s.tin(0).unwrap().follows_default_rate());
        assert_eq!(s.tin(1).unwrap().rate(), 250_000);
        for t in 2..5 {
            assert_eq!(s.tin(t).unwrap().rate(), 500_000);
        }
        assert_eq!(s.totals().backlog_packets, 5);
        check_accounting(&s);
        check_totals(&s);
        // Still works: new tins take packets, all leave.
        s.enqueue(4, pkt(4_000, 4, 100), keys(4), 10, &mut sink)
            .unwrap();
        let mut now = 10;
        let mut n = 0;
        loop {
            match s.dequeue(now, &mut sink) {
                Dequeued::Packet(_) => n += 1,
                Dequeued::WaitUntil(t) => now = t,
                Dequeued::Empty => break,
            }
        }
        assert_eq!(n, 6);
        check_accounting(&s);
    }

    fn diffserv(tins: u32, mode: DiffservMode, link_rate: u64) -> Sched {
        let cfg = SchedConfig {
            tins,
            link_rate,
            diffserv: mode,
            ..SchedConfig::default()
        };
        Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap()
    }

    fn dscp_pkt(id: u64, tin: u32, len: u32, dscp: u8) -> TestPacket {
        let mut p = pkt(id, tin, len);
        p.dscp = dscp;
        p
    }

    /// Every band balances, and the bands together hold the tin's backlog;
    /// `same_history`: they also account for every packet the tin took.
    fn check_bands(s: &Sched, same_history: bool) {
        check_accounting(s);
        let n = s.diffserv().bands();
        for tin in 0..s.tin_count() {
            let st = s.tin(tin).unwrap().stats();
            let mut sum = BandStats::default();
            for b in 0..n {
                let bs = s.band_stats(tin, b).unwrap();
                assert!(bs.is_balanced(), "tin {tin} band {b}: {bs:?}");
                sum.packets += bs.packets;
                sum.dequeued_packets += bs.dequeued_packets;
                sum.dropped_packets += bs.dropped_packets;
                sum.backlog_packets += bs.backlog_packets;
                sum.backlog_bytes += bs.backlog_bytes;
                sum.ecn_marks += bs.ecn_marks;
            }
            assert_eq!(s.band_stats(tin, n), None);
            assert_eq!(
                (sum.backlog_packets, sum.backlog_bytes),
                (st.backlog_packets, st.backlog_bytes)
            );
            if same_history {
                assert_eq!(
                    (sum.packets, sum.dequeued_packets, sum.dropped_packets),
                    (st.packets, st.dequeued_packets, st.dropped_packets)
                );
                assert_eq!(sum.ecn_marks, st.ecn_marks);
            }
        }
    }

    #[test]
    fn besteffort_has_one_band_the_tins_own() {
        let mut s = sched(2, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        for i in 0..10 {
            s.enqueue(1, dscp_pkt(i, 1, 100, 46), keys(3), 0, &mut sink)
                .unwrap();
        }
        let Dequeued::Packet(_) = s.dequeue(0, &mut sink) else {
            panic!()
        };
        let b = s.band_stats(1, 0).unwrap();
        assert_eq!(
            (b.packets, b.dequeued_packets, b.backlog_packets),
            (10, 1, 9)
        );
        assert_eq!(s.band_stats(1, 1), None);
        assert_eq!(s.band_stats(2, 0), None);
        assert_eq!(s.memory_report().band_bytes_per_tin, 0);
        check_bands(&s, true);
    }

    #[test]
    fn bands_count_their_own_packets() {
        let mut s = diffserv(2, DiffservMode::Diffserv4, 0);
        s.set_tin_rate(0, 1_000_000, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        // DF, CS1, AF41, EF: bands 0, 1, 2, 3; 1 + 2 + 3 + 4 packets.
        let mut id = 0;
        for (k, dscp) in [0u8, 8, 34, 46].into_iter().enumerate() {
            for _ in 0..=k {
                id += 1;
                s.enqueue(0, dscp_pkt(id, 0, 100, dscp), keys(7), 0, &mut sink)
                    .unwrap();
            }
        }
        for (b, n) in (0..4).zip(1..) {
            let st = s.band_stats(0, b).unwrap();
            assert_eq!(
                (st.packets, st.backlog_packets, st.bytes),
                (n, n as u32, 100 * n)
            );
        }
        check_bands(&s, true);
        // One flow hash, four bands: four flows, as in CAKE.
        assert_eq!(s.memory_report().flows_in_use, 4);
        let mut now = 0;
        while s.totals().backlog_packets != 0 {
            match s.dequeue(now, &mut sink) {
                Dequeued::Packet(_) => check_bands(&s, true),
                Dequeued::WaitUntil(t) => now = t,
                Dequeued::Empty => panic!("packets left"),
            }
        }
        check_bands(&s, true);
        assert_eq!(s.memory_report().flows_in_use, 0);
    }

    #[test]
    fn a_band_within_its_threshold_goes_first() {
        // 1 MB/s: the voice band's threshold is 250 kB/s, so a packet
        // every 4 ms stays within it and never waits behind best effort.
        let mut s = diffserv(1, DiffservMode::Diffserv4, 0);
        s.set_tin_rate(0, 1_000_000, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        for i in 0..40 {
            s.enqueue(0, dscp_pkt(i, 0, 1000, 0), keys(1), 0, &mut sink)
                .unwrap();
        }
        let mut now = 0;
        let mut id = 100;
        let mut voice_delays = Vec::new();
        let mut next_voice = 0;
        for _ in 0..100 {
            if now >= next_voice {
                id += 1;
                s.enqueue(0, dscp_pkt(id, 0, 100, 46), keys(2), now, &mut sink)
                    .unwrap();
                next_voice += 4_000_000;
            }
            match s.dequeue(now, &mut sink) {
                Dequeued::Packet(p) if p.dscp == 46 => voice_delays.push(now - p.enqueue_time),
                Dequeued::Packet(_) => {}
                Dequeued::WaitUntil(t) => now = t,
                Dequeued::Empty => break,
            }
        }
        assert!(voice_delays.len() >= 4, "{voice_delays:?}");
        // At most the one 1000-byte packet in service (1 ms) ahead.
        assert!(
            voice_delays.iter().all(|&d| d <= 1_000_000),
            "{voice_delays:?}"
        );
        check_bands(&s, true);
    }

    #[test]
    fn unshaped_tins_share_bands_by_cakes_quanta() {
        // Nothing shapes the tin: DRR over the bands, quanta 1024 (best
        // effort) and 64 (bulk): bulk gets 64/1088 of the bytes.
        let mut s = diffserv(1, DiffservMode::Diffserv4, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        for i in 0..2000 {
            let dscp = if i % 2 == 0 { 0 } else { 8 };
            s.enqueue(
                0,
                dscp_pkt(i, 0, 500, dscp),
                keys(dscp.into()),
                0,
                &mut sink,
            )
            .unwrap();
        }
        let mut bulk = 0;
        for _ in 0..1000 {
            let Dequeued::Packet(p) = s.dequeue(0, &mut sink) else {
                panic!()
            };
            bulk += u32::from(p.dscp == 8);
        }
        let share = f64::from(bulk) / 1000.0;
        assert!((share - 64.0 / 1088.0).abs() < 0.01, "bulk share {share}");
        check_bands(&s, true);
    }

    #[test]
    fn a_mode_change_moves_every_packet_into_the_new_bands() {
        let mut old = diffserv(3, DiffservMode::Diffserv8, 0);
        old.set_tin_rate(1, 2_000_000, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        let dscps = [0u8, 1, 8, 10, 18, 34, 46, 48];
        let mut id = 0;
        for t in 0..3 {
            for (f, &d) in dscps.iter().enumerate() {
                for _ in 0..4 {
                    id += 1;
                    let p = dscp_pkt(id, t * 100 + f as u32, 300, d);
                    old.enqueue(t, p, keys(t * 100 + f as u32), 0, &mut sink)
                        .unwrap();
                }
            }
        }
        for _ in 0..10 {
            let Dequeued::Packet(_) = old.dequeue(0, &mut sink) else {
                panic!()
            };
        }
        check_bands(&old, true);
        let before = old.band_stats(1, 6).unwrap();
        for mode in [
            DiffservMode::Diffserv8,
            DiffservMode::Diffserv4,
            DiffservMode::Besteffort,
            DiffservMode::Diffserv3,
        ] {
            let cfg = SchedConfig {
                diffserv: mode,
                ..*old.config()
            };
            let mut s: Sched = Scheduler::new(&mut HostAlloc::default(), &cfg).unwrap();
            let queued = old.totals().backlog_packets;
            s.take_over(&mut old, 0, &mut |p| keys(p.tag), 0).unwrap();
            assert_eq!(s.totals().backlog_packets, queued);
            check_bands(&s, mode == DiffservMode::Diffserv8);
            if mode == DiffservMode::Diffserv8 {
                // The same bands keep their history.
                let after = s.band_stats(1, 6).unwrap();
                assert_eq!(after.dequeued_packets, before.dequeued_packets);
                assert_eq!(after.packets, before.packets);
            }
            for t in 0..3 {
                for b in 0..mode.bands() {
                    let want: u32 =
                        dscps.iter().filter(|&&d| mode.band_of(d) == b).count() as u32 * 4;
                    let got = s.band_stats(t, b).unwrap().backlog_packets;
                    assert!(got <= want, "tin {t} band {b}: {got} > {want}");
                }
            }
            old = s;
        }
        // Everything drains, each flow in order.
        let mut last = std::collections::HashMap::new();
        let mut now = 0;
        loop {
            match old.dequeue(now, &mut sink) {
                Dequeued::Packet(p) => {
                    let prev = last.insert(p.tag, p.id);
                    assert!(prev < Some(p.id), "flow {} reordered", p.tag);
                }
                Dequeued::WaitUntil(t) => now = t,
                Dequeued::Empty => break,
            }
        }
        check_bands(&old, false);
        assert_eq!(old.totals().backlog_packets, 0);
    }

    #[test]
    fn a_band_shows_its_threshold_and_cobalt_fitted_to_it() {
        // 1 Mbit/s tin in diffserv4: bulk's threshold is 62.5 kbit/s,
        // where a 1514-byte packet takes 194 ms, so COBALT's target is
        // 1.5 times that (CAKE's cake_set_rate), the interval twice it.
        let mut s = diffserv(2, DiffservMode::Diffserv4, 0);
        s.set_tin_rate(1, 125_000, 0);
        let mut sink = |_: TestPacket, _| panic!("no drop expected");
        s.enqueue(1, dscp_pkt(1, 1, 100, 8), keys(1), 0, &mut sink)
            .unwrap();
        let bulk = s.band(1, 1).unwrap();
        assert_eq!(bulk.threshold_rate, 125_000 / 16);
        assert_eq!(bulk.quantum, 64);
        assert_eq!((bulk.sparse_flows, bulk.stats.backlog_packets), (1, 1));
        let mtu_time = 1514 * 1_000_000_000 / (125_000 / 16);
        assert!(
            bulk.target_ns.abs_diff(mtu_time * 3 / 2) < 20_000,
            "{bulk:?}"
        );
        assert_eq!(bulk.interval_ns, 2 * bulk.target_ns);
        let be = s.band(1, 0).unwrap();
        assert_eq!(be.threshold_rate, 125_000);
        let voice = s.band(1, 3).unwrap();
        assert_eq!(voice.threshold_rate, 125_000 / 4);
        assert!(voice.target_ns < bulk.target_ns && be.target_ns < voice.target_ns);
        // An uncapped tin on an unlimited link: no thresholds, the
        // configured target, CAKE's quanta.
        let free = s.band(0, 2).unwrap();
        assert_eq!((free.threshold_rate, free.quantum), (0, 512));
        assert_eq!(free.target_ns, CobaltConfig::default().target_ns);
        assert_eq!(s.band(1, 4), None);
        assert_eq!(s.band(2, 0), None);
        let s1 = sched(1, 0);
        let one = s1.band(0, 0).unwrap();
        assert_eq!((one.quantum, one.threshold_rate), (65535, 0));
        // A new tin rate re-derives the thresholds, queued packets or not.
        s.set_tin_rate(1, 1_250_000, 0);
        let bulk = s.band(1, 1).unwrap();
        assert_eq!(bulk.threshold_rate, 1_250_000 / 16);
        assert_eq!(bulk.stats.backlog_packets, 1);
        // A tin without a cap of its own takes them from the link.
        s.set_link_rate(2_000_000, 0);
        assert_eq!(s.band(0, 2).unwrap().threshold_rate, 1_000_000);
        assert_eq!(s.band(1, 2).unwrap().threshold_rate, 625_000);
    }

    #[test]
    fn memory_per_tin_with_bands() {
        assert!(size_of::<Band>() <= 88, "{}", size_of::<Band>());
        assert!(size_of::<BandTurn>() <= 16, "{}", size_of::<BandTurn>());
        let mut totals = Vec::new();
        for mode in [
            DiffservMode::Besteffort,
            DiffservMode::Diffserv3,
            DiffservMode::Diffserv4,
            DiffservMode::Diffserv8,
        ] {
            let cfg = SchedConfig {
                diffserv: mode,
                ..SchedConfig::for_tins(10_000)
            };
            let mut alloc = HostAlloc::default();
            let s: Sched = Scheduler::new(&mut alloc, &cfg).unwrap();
            let m = s.memory_report();
            assert_eq!(m.total_bytes, alloc.bytes);
            let bands = usize::from(mode.bands());
            let want = if bands == 1 {
                0
            } else {
                bands * (size_of::<Band>() + size_of::<BandTurn>())
            };
            assert_eq!(m.band_bytes_per_tin, want);
            assert_eq!(m.per_tin_bytes, Sched::bytes_per_tin() + want);
            std::eprintln!(
                "{mode:?}: {} bytes a tin, {} in all",
                m.per_tin_bytes,
                m.total_bytes
            );
            totals.push(m.total_bytes);
        }
        // Besteffort costs what it did before bands; diffserv4 keeps
        // 10,000 tins within 16 MiB.
        assert_eq!(totals[0], 11_135_216);
        assert!(totals[2] <= 16 << 20, "{totals:?}");
    }
}
