// SPDX-License-Identifier: GPL-2.0
//! Everything inside one tin: CAKE's flow queueing for one subscriber.
//! Packets are hashed to flows (with CAKE's host isolation modes), flows are
//! served by DRR++ over new/old/decaying lists so sparse flows go first, each
//! flow is managed by COBALT, and the ACK filter runs at enqueue. The flow
//! state lives in the shared [`FlowTable`]; a [`TinQueue`] is only list heads,
//! counters and stats, so an idle tin is small and holds no flow slots (the
//! tin gives all its slots back whenever its last packet leaves). A packet
//! is never refused: a flow the pool has no way for goes to the tin's
//! reserved slot. For a live change of the tin count the scheduler drains
//! a tin's packets flow by flow and requeues them elsewhere.
//!
//! With diffserv ([`Bands`]), the flows of a tin are split into bands by
//! their packets' DSCP, each band with its own DRR++ lists (kept in the
//! scheduler's band array), COBALT parameters and flow quantum fitted to
//! its threshold rate; a dequeue first chooses the band as CAKE chooses a
//! class (see [`band`](super::band)), then serves it as above. A flow is
//! one (tin, band): the band salts its flow and host tags in the shared
//! table, and its slot remembers the band.

use crate::sched::ack_filter::{self, AckFilterMode};
use crate::sched::alloc::SliceAlloc;
use crate::sched::band::{peek_drr, select_drr, select_shaped, Band, BandTurn, FlowLists};
use crate::sched::cobalt::{CobaltConfig, CobaltParams};
use crate::sched::diffserv::{DiffservMode, MAX_BANDS};
use crate::sched::flow_table::{FatIndex, FlowList, FlowSet, FlowTable, WayStats, NONE};
use crate::sched::packet::{DropReason, FlowKeys, Packet, PacketQueue};
use crate::sched::shaper::Rate;

/// How packets are grouped into flows (`tc ... cake <mode>`); values and
/// semantics of CAKE's `CAKE_FLOW_*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FlowMode {
    /// One queue for the whole tin.
    FlowBlind,
    /// One flow per source host.
    SrcHost,
    /// One flow per destination host.
    DstHost,
    /// One flow per source/destination host pair.
    Hosts,
    /// One flow per 5-tuple, no host fairness.
    Flows,
    /// Per-flow queues, fair first across source hosts.
    DualSrcHost,
    /// Per-flow queues, fair first across destination hosts.
    DualDstHost,
    /// Per-flow queues, fair across both source and destination hosts.
    #[default]
    TripleIsolate,
}

const FLOW_SRC_IP: u8 = 1;
const FLOW_DST_IP: u8 = 2;
const FLOW_FLOWS: u8 = 4;

impl FlowMode {
    /// CAKE's numeric value (`CAKE_FLOW_NONE` ... `CAKE_FLOW_TRIPLE`).
    pub const fn cake_value(self) -> u8 {
        match self {
            FlowMode::FlowBlind => 0,
            FlowMode::SrcHost => 1,
            FlowMode::DstHost => 2,
            FlowMode::Hosts => 3,
            FlowMode::Flows => 4,
            FlowMode::DualSrcHost => 5,
            FlowMode::DualDstHost => 6,
            FlowMode::TripleIsolate => 7,
        }
    }

    /// From CAKE's numeric value; `None` if out of range.
    pub const fn from_cake_value(v: u8) -> Option<Self> {
        Some(match v {
            0 => FlowMode::FlowBlind,
            1 => FlowMode::SrcHost,
            2 => FlowMode::DstHost,
            3 => FlowMode::Hosts,
            4 => FlowMode::Flows,
            5 => FlowMode::DualSrcHost,
            6 => FlowMode::DualDstHost,
            7 => FlowMode::TripleIsolate,
            _ => return None,
        })
    }

    /// Flow hash as `cake_hash` builds it: the 5-tuple hash, or without
    /// per-flow queues the xor of the selected host hashes.
    fn flow_hash(self, k: &FlowKeys) -> u32 {
        let bits = self.cake_value();
        if bits & FLOW_FLOWS != 0 {
            return k.flow_hash;
        }
        let mut h = 0;
        if bits & FLOW_SRC_IP != 0 {
            h ^= k.src_host_hash;
        }
        if bits & FLOW_DST_IP != 0 {
            h ^= k.dst_host_hash;
        }
        h
    }

    /// Shares bandwidth fairly among source hosts first (dual-src, triple).
    fn isolates_src(self) -> bool {
        let b = self.cake_value();
        b & (FLOW_FLOWS | FLOW_SRC_IP) == FLOW_FLOWS | FLOW_SRC_IP
    }

    /// Shares bandwidth fairly among destination hosts first.
    fn isolates_dst(self) -> bool {
        let b = self.cake_value();
        b & (FLOW_FLOWS | FLOW_DST_IP) == FLOW_FLOWS | FLOW_DST_IP
    }
}

/// Default cap on a tin's flow slots: CAKE's queues per tin.
pub const DEFAULT_MAX_FLOWS: u32 = 1024;

/// A tin's configuration as the queueing needs it. Cheap to rebuild: a tin
/// can be re-rated between any two calls without touching its packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TinParams {
    rate: u64,
    flow_quantum: u32,
    max_flows: u32,
    cobalt: CobaltParams,
    flow_mode: FlowMode,
    ack_filter: AckFilterMode,
    ingress: bool,
}

impl TinParams {
    /// For a tin sending `rate` bytes/s (0 = unlimited) with packets up to
    /// `mtu` bytes. The flow quantum is `clamp(rate >> 12, 300, 1514)` (1514
    /// when unlimited) and COBALT's target covers 1.5 MTU times, as in CAKE.
    pub fn new(
        rate: u64,
        mtu: u32,
        cobalt: &CobaltConfig,
        flow_mode: FlowMode,
        ack_filter: AckFilterMode,
    ) -> Self {
        Self {
            rate,
            flow_quantum: flow_quantum_for(rate),
            max_flows: DEFAULT_MAX_FLOWS,
            cobalt: CobaltParams::new(cobalt, rate, mtu),
            flow_mode,
            ack_filter,
            ingress: false,
        }
    }

    /// CAKE's ingress mode: COBALT's target widens with the tin's bulk
    /// flows at low rates, and a flow is charged for what COBALT drops
    /// (the scheduler charges the shapers).
    pub fn with_ingress(mut self, on: bool) -> Self {
        self.ingress = on;
        self
    }

    /// Ingress mode.
    pub fn ingress(&self) -> bool {
        self.ingress
    }

    /// Caps the flow slots the tin may hold in the shared pool (default
    /// [`DEFAULT_MAX_FLOWS`]; 0 is taken as 1). At the cap, new flows share
    /// the tin's own slots, never take free ones; a tin at its cap owning
    /// no way a new flow could share puts it in its reserved slot, so a tin
    /// holds at most `max_flows + 1` slots.
    pub fn with_max_flows(mut self, max_flows: u32) -> Self {
        self.max_flows = max_flows.max(1);
        self
    }

    /// Most flow slots the tin may hold in the shared pool.
    pub fn max_flows(&self) -> u32 {
        self.max_flows
    }

    /// The tin rate, bytes/s (0 = unlimited).
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// DRR++ quantum per flow before host scaling, bytes.
    pub fn flow_quantum(&self) -> u32 {
        self.flow_quantum
    }

    /// COBALT parameters.
    pub fn cobalt(&self) -> &CobaltParams {
        &self.cobalt
    }

    /// Flow grouping mode.
    pub fn flow_mode(&self) -> FlowMode {
        self.flow_mode
    }

    /// ACK filter mode.
    pub fn ack_filter(&self) -> AckFilterMode {
        self.ack_filter
    }
}

/// A tin's counters and gauges (CAKE's per-tin stats and more). Packets and
/// bytes use `Packet::len`. At every step:
/// `packets = dequeued_packets + dropped_packets + backlog_packets`, and the
/// same in bytes. Enqueue never refuses a packet for lack of flow state
/// (see [`TinQueue::enqueue`]). The per-reason counters are u32 and wrap,
/// like CAKE's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TinStats {
    /// Packets accepted by `enqueue`.
    pub packets: u64,
    /// Bytes accepted by `enqueue`.
    pub bytes: u64,
    /// Packets handed out by `dequeue`.
    pub dequeued_packets: u64,
    /// Bytes handed out by `dequeue`.
    pub dequeued_bytes: u64,
    /// Accepted packets dropped since, for any reason.
    pub dropped_packets: u64,
    /// Bytes of `dropped_packets`.
    pub dropped_bytes: u64,
    /// Dropped by COBALT.
    pub cobalt_drops: u32,
    /// Dropped by the ACK filter.
    pub ack_drops: u32,
    /// Dropped by `drop_fattest` (the memory limit).
    pub overlimit_drops: u32,
    /// Dropped by `reset`.
    pub reset_drops: u32,
    /// New flows that took (or shared) the tin's reserved flow slot because
    /// the shared pool had no way for them.
    pub reserved_slot_uses: u32,
    /// Packets marked CE by COBALT.
    pub ecn_marks: u32,
    /// Times the scheduler parked the tin in its calendar to wait for the
    /// tin's own shaper ([`Tin::throttled`](super::tin::Tin::throttled)).
    pub throttled: u32,
    /// Queued bytes.
    pub backlog_bytes: u64,
    /// Queued packets.
    pub backlog_packets: u32,
    /// Flows on the sparse (new) rotation.
    pub sparse_flows: u32,
    /// Flows on the bulk (old) rotation.
    pub bulk_flows: u32,
    /// Empty flows whose COBALT state is still decaying.
    pub decaying_flows: u32,
    /// Flows whose BLUE drop probability is non-zero.
    pub unresponsive_flows: u32,
    /// Largest packet seen, bytes.
    pub max_pkt_len: u32,
    /// Moving average of queueing delay, ns (EWMA 1/256).
    pub avg_delay_ns: u64,
    /// Peak-tracking delay average, ns (fast up, slow down).
    pub peak_delay_ns: u64,
    /// Base-tracking delay average, ns (fast down, slow up).
    pub base_delay_ns: u64,
    /// Set-associative hash statistics.
    pub ways: WayStats,
}

impl TinStats {
    /// Adds `from`'s cumulative counters (not its gauges: backlog and flow
    /// counts follow the packets) to these, and takes its delay averages
    /// and largest packet: `from` is the same tin's history, carried over
    /// by `Scheduler::take_over`.
    pub(crate) fn carry_counters(&mut self, from: &TinStats) {
        self.packets = self.packets.wrapping_add(from.packets);
        self.bytes = self.bytes.wrapping_add(from.bytes);
        self.dequeued_packets = self.dequeued_packets.wrapping_add(from.dequeued_packets);
        self.dequeued_bytes = self.dequeued_bytes.wrapping_add(from.dequeued_bytes);
        self.dropped_packets = self.dropped_packets.wrapping_add(from.dropped_packets);
        self.dropped_bytes = self.dropped_bytes.wrapping_add(from.dropped_bytes);
        self.cobalt_drops = self.cobalt_drops.wrapping_add(from.cobalt_drops);
        self.ack_drops = self.ack_drops.wrapping_add(from.ack_drops);
        self.overlimit_drops = self.overlimit_drops.wrapping_add(from.overlimit_drops);
        self.reset_drops = self.reset_drops.wrapping_add(from.reset_drops);
        self.ecn_marks = self.ecn_marks.wrapping_add(from.ecn_marks);
        self.throttled = self.throttled.wrapping_add(from.throttled);
        self.reserved_slot_uses = self
            .reserved_slot_uses
            .wrapping_add(from.reserved_slot_uses);
        self.max_pkt_len = self.max_pkt_len.max(from.max_pkt_len);
        self.avg_delay_ns = from.avg_delay_ns;
        self.peak_delay_ns = from.peak_delay_ns;
        self.base_delay_ns = from.base_delay_ns;
        let (w, f) = (&mut self.ways, &from.ways);
        w.directs = w.directs.wrapping_add(f.directs);
        w.hits = w.hits.wrapping_add(f.hits);
        w.misses = w.misses.wrapping_add(f.misses);
        w.collisions = w.collisions.wrapping_add(f.collisions);
        w.host_overflows = w.host_overflows.wrapping_add(f.host_overflows);
    }

    /// The accounting identity above holds, in packets and in bytes.
    pub fn is_balanced(&self) -> bool {
        balanced(
            self.packets,
            self.dequeued_packets,
            self.dropped_packets,
            u64::from(self.backlog_packets),
        ) && balanced(
            self.bytes,
            self.dequeued_bytes,
            self.dropped_bytes,
            self.backlog_bytes,
        )
    }
}

/// Did everything that `entered` leave (`sent`, `dropped`) or stay
/// (`queued`)? Overflowing sums count as unbalanced.
pub(crate) fn balanced(entered: u64, sent: u64, dropped: u64, queued: u64) -> bool {
    sent.checked_add(dropped)
        .and_then(|s| s.checked_add(queued))
        .is_some_and(|total| total == entered)
}

/// A tin's bands as the scheduler hands them to the tin's queueing: the
/// diffserv mode, this tin's entries of the scheduler's band arrays (none
/// in besteffort: the tin's own lists then serve its one band), the
/// scheduler's COBALT settings, and the rate that sends the tin
/// ([`TinParams::rate`] as a [`Rate`]), which the bands' thresholds are
/// fractions of.
pub struct Bands<'a> {
    mode: DiffservMode,
    turns: &'a mut [BandTurn],
    state: &'a mut [Band],
    cobalt: CobaltConfig,
    rate: Rate,
    /// How far a band's threshold time may lag the clock (ns).
    max_lag: u64,
}

impl<'a> Bands<'a> {
    /// `turns` and `state` hold one entry per band of `mode` each (none
    /// for a one-band mode); `cobalt` is the scheduler's, `rate` the tin's.
    pub fn new(
        mode: DiffservMode,
        turns: &'a mut [BandTurn],
        state: &'a mut [Band],
        cobalt: CobaltConfig,
        rate: Rate,
    ) -> Self {
        // Both or neither: a band is its turn and its lists.
        let n = turns.len().min(state.len());
        let turns = turns.get_mut(..n).unwrap_or(&mut []);
        let state = state.get_mut(..n).unwrap_or(&mut []);
        Self {
            mode,
            turns,
            state,
            cobalt,
            rate,
            max_lag: 0,
        }
    }

    /// Lets a band's threshold time lag the clock by up to `ns` (default
    /// 0); the scheduler passes its `max_lag_ns`.
    pub fn with_max_lag(mut self, ns: u64) -> Self {
        self.max_lag = ns;
        self
    }

    /// One band, DSCP ignored: the tin's queueing as before bands. Built
    /// from constants only: the besteffort packet path builds one per call.
    #[inline(always)]
    pub fn besteffort() -> Bands<'static> {
        const UNUSED: CobaltConfig = CobaltConfig::new(0, 0);
        Bands {
            mode: DiffservMode::Besteffort,
            turns: &mut [],
            state: &mut [],
            cobalt: UNUSED,
            rate: Rate::UNLIMITED,
            max_lag: 0,
        }
    }

    /// The band a packet with `dscp` goes to, as an index into `state`
    /// (always 0 without band state).
    fn band_for(&self, dscp: u8) -> u8 {
        if self.state.is_empty() {
            return 0;
        }
        index_in(self.state, self.mode.band_of(dscp))
    }

    /// Band `b`'s turn and lists and counters, if it has band state.
    fn band(&mut self, b: u8) -> Option<(&mut BandTurn, &mut Band)> {
        let i = usize::from(b);
        Some((self.turns.get_mut(i)?, self.state.get_mut(i)?))
    }

    /// The flow quantum of band `b` (band 0's is the tin's).
    fn flow_quantum(&self, params: &TinParams, b: u8) -> u32 {
        if b == 0 {
            return params.flow_quantum;
        }
        flow_quantum_for(self.mode.threshold(b, params.rate))
    }

    /// What band `b` runs on, fitted to its threshold rate as
    /// `cake_set_rate` fits each class (band 0's is the tin's own), from
    /// the tin's MTU time scaled to the threshold: no division per packet.
    fn params(&self, params: &TinParams, b: u8) -> BandParams {
        if b == 0 {
            return BandParams {
                cobalt: params.cobalt,
                flow_quantum: params.flow_quantum,
            };
        }
        BandParams {
            cobalt: band_cobalt(self.mode, &self.cobalt, params, b),
            flow_quantum: flow_quantum_for(self.mode.threshold(b, params.rate)),
        }
    }

    /// How long `len` bytes keep band `b` over its threshold rate (ns).
    fn threshold_time(&self, b: u8, len: u32) -> u64 {
        let at_tin_rate = self.rate.duration_ns(u64::from(len));
        self.mode.at_threshold(b, at_tin_rate)
    }
}

/// COBALT parameters of band `b` of a tin with `params` in `mode`, as
/// `cake_set_rate` fits them to the band's threshold rate (band 0's are
/// the tin's): the tin's MTU time scaled to the threshold, so no division.
pub fn band_cobalt(
    mode: DiffservMode,
    cobalt: &CobaltConfig,
    params: &TinParams,
    b: u8,
) -> CobaltParams {
    if b == 0 {
        return params.cobalt;
    }
    let mtu_time = mode.at_threshold(b, params.cobalt.mtu_time);
    CobaltParams::for_mtu_time(cobalt, mtu_time)
}

/// `b` if `state` has that band, else 0 (a defensive default: bands come
/// from the mode's own table).
fn index_in(state: &[Band], b: u8) -> u8 {
    if usize::from(b) < state.len() {
        b
    } else {
        0
    }
}

/// Spreads a flow's bands over the flow table: the same 5-tuple in two
/// bands is two flows, as in CAKE, where every class has its own queues.
/// Band 0 keeps the tag as it was.
fn band_tag(tag: u32, b: u8) -> u32 {
    tag ^ u32::from(b).wrapping_mul(0x9E37_79B9)
}

/// CAKE's flow quantum for a class sent at `rate` bytes/s.
fn flow_quantum_for(rate: u64) -> u32 {
    if rate == 0 {
        1514
    } else {
        (rate >> 12).clamp(300, 1514) as u32
    }
}

/// One band's queueing parameters.
struct BandParams {
    cobalt: CobaltParams,
    flow_quantum: u32,
}

/// The queueing state of one tin: list heads into the shared
/// [`FlowTable`], counters and a PRNG state. `Default` is an idle tin.
#[derive(Debug, Clone, Default)]
pub struct TinQueue {
    /// The DRR++ lists of a besteffort tin (with bands, each band has its
    /// own in the scheduler's band array and these stay empty).
    lists: FlowLists,
    /// Non-empty flows by backlog, for `drop_fattest`.
    fat: FatIndex,
    rng: u32,
    /// Slot of the flow the last packet went to (a hint, checked before
    /// use, so any value is safe).
    last_flow: u32,
    /// The band the unshaped DRR over bands looks at first.
    cur_band: u8,
    stats: TinStats,
}

/// After this many DRR++ steps in one dequeue, the head flow is served
/// whatever its deficit: tiny host-scaled quanta must not loop for long.
const MAX_DRR_STEPS: u32 = 4096;

/// `cake_ewma`.
fn ewma(avg: u64, sample: u64, shift: u32) -> u64 {
    let part = |v: u64| v.checked_shr(shift).unwrap_or(0);
    // `part(avg) <= avg`, so the subtraction cannot wrap.
    avg.wrapping_sub(part(avg)).saturating_add(part(sample))
}

// The packet path comes in two instances, `BANDED` or not, so that a
// besteffort tin runs the code it ran before bands, with no band lookups.

/// The DRR++ lists of band `b`: its own with band state, else the tin's.
#[inline(always)]
fn lists_of<'a, const BANDED: bool>(
    own: &'a mut FlowLists,
    state: &'a mut [Band],
    b: u8,
) -> &'a mut FlowLists {
    if !BANDED {
        return own;
    }
    match state.get_mut(usize::from(b)) {
        Some(band) => &mut band.lists,
        None => own,
    }
}

/// Band `b`'s turn, if `BANDED` and it has one.
#[inline(always)]
fn turn_of<const BANDED: bool>(turns: &mut [BandTurn], b: u8) -> Option<&mut BandTurn> {
    if BANDED {
        turns.get_mut(usize::from(b))
    } else {
        None
    }
}

/// Band `b`'s lists and counters, if `BANDED` and it has them.
#[inline(always)]
fn band_of<const BANDED: bool>(state: &mut [Band], b: u8) -> Option<&mut Band> {
    if BANDED {
        state.get_mut(usize::from(b))
    } else {
        None
    }
}

impl TinQueue {
    /// An idle tin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queued bytes (`Packet::len`).
    pub fn backlog_bytes(&self) -> u64 {
        self.stats.backlog_bytes
    }

    /// Queued packets.
    pub fn backlog_packets(&self) -> u32 {
        self.stats.backlog_packets
    }

    /// Has packets to send.
    pub fn is_backlogged(&self) -> bool {
        self.stats.backlog_packets != 0
    }

    /// Flow slots this tin holds in the shared pool.
    pub fn flows_held(&self) -> u32 {
        let st = &self.stats;
        st.sparse_flows
            .saturating_add(st.bulk_flows)
            .saturating_add(st.decaying_flows)
    }

    /// The flow the next `dequeue` will most likely serve (the sparse,
    /// else the bulk rotation's head), for prefetching. Besteffort tins
    /// only: a tin with bands keeps its lists elsewhere.
    pub(crate) fn next_flow(&self) -> Option<u32> {
        let idx = if self.lists.new.head != NONE {
            self.lists.new.head
        } else {
            self.lists.old.head
        };
        (idx != NONE).then_some(idx)
    }

    /// With bands: the flow the next `dequeue` at `now` will most likely
    /// serve, from the band it will likely choose, for prefetching.
    pub(crate) fn next_banded_flow(
        &self,
        turns: &[BandTurn],
        state: &[Band],
        shaped: bool,
        now: u64,
    ) -> Option<u32> {
        let b = if shaped {
            select_shaped(turns, now)
        } else {
            peek_drr(turns, self.cur_band)
        }?;
        let lists = &state.get(usize::from(b))?.lists;
        let idx = if lists.new.head != NONE {
            lists.new.head
        } else {
            lists.old.head
        };
        (idx != NONE).then_some(idx)
    }

    /// Counters and gauges.
    pub fn stats(&self) -> &TinStats {
        &self.stats
    }

    /// xorshift32, seeded per tin: BLUE and quantum dithering only need
    /// cheap, roughly uniform bits.
    fn rand(&mut self, tin: u32) -> u32 {
        let mut x = self.rng;
        if x == 0 {
            x = tin.wrapping_mul(0x9E37_79B9) | 1;
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }

    /// `cake_get_flow_quantum`: the band's flow quantum divided by the
    /// flow's host load, dithered so the rounding error averages out.
    fn quantum<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &FlowTable<Q, A>,
        flow_quantum: u32,
        idx: u32,
    ) -> i32 {
        let load = table.host_load(idx);
        let div = 65535 / load.max(1);
        let dither = self.rand(tin) & 0xFFFF;
        let q = (flow_quantum.saturating_mul(div).saturating_add(dither)) >> 16;
        q.max(1) as i32
    }

    /// Moves flow `idx` (on the list of `from`) to the tail of `to`'s list
    /// of its band.
    fn move_flow<const BANDED: bool, Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        table: &mut FlowTable<Q, A>,
        state: &mut [Band],
        idx: u32,
        from: FlowSet,
        to: FlowSet,
    ) {
        let b = table.slot(idx).map_or(0, |s| s.band);
        let lists = lists_of::<BANDED>(&mut self.lists, state, b);
        if let Some(l) = lists.of(from) {
            table.unlink(l, idx);
        }
        if let Some(l) = lists.of(to) {
            table.push_tail(l, idx);
        }
        if let Some(s) = table.slot_mut(idx) {
            s.set = to;
        }
    }

    /// The flow slot for a packet with `keys` in band `b`: the tin's last
    /// flow if it matches (busy, or free again while the tin is idle),
    /// else a lookup in the shared pool, else the tin's reserved slot
    /// (counted in [`TinStats::reserved_slot_uses`]). `None` only if `tin`
    /// has no reserved slot in `table`.
    #[inline(always)]
    fn slot_for<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        keys: &FlowKeys,
        b: u8,
    ) -> Option<u32> {
        let mode = params.flow_mode;
        let tag = band_tag(mode.flow_hash(keys), b);
        let ways = &mut self.stats.ways;
        if let Some(idx) = table.find_hinted(self.last_flow, tin, tag, ways) {
            return Some(idx);
        }
        // Hosts are counted per band too, as CAKE counts them per class:
        // a host's bulk flows in one band do not shrink its quantum in
        // another.
        let src = mode
            .isolates_src()
            .then_some(band_tag(keys.src_host_hash, b));
        let dst = mode
            .isolates_dst()
            .then_some(band_tag(keys.dst_host_hash, b));
        let held = self.flows_held();
        let ways = &mut self.stats.ways;
        // An idle tin's last flow coming back (a subscriber sending one
        // packet at a time) takes its old slot again if still free.
        if held == 0 {
            if let Some(idx) = table.reclaim_hinted(self.last_flow, tin, tag, src, dst, ways) {
                return Some(idx);
            }
        }
        let may_claim = held < params.max_flows;
        let (idx, reserved) = table.lookup(tin, tag, src, dst, may_claim, ways)?;
        if reserved {
            let st = &mut self.stats;
            st.reserved_slot_uses = st.reserved_slot_uses.wrapping_add(1);
        }
        self.last_flow = idx;
        Some(idx)
    }

    /// Queues `pkt` (its `adjusted_len` already set by the caller) at time
    /// `now` (ns) and returns the flow slot it went to. An ACK the filter
    /// removes goes to `sink`. One band: see
    /// [`enqueue_banded`](Self::enqueue_banded).
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        pkt: Q::Packet,
        keys: FlowKeys,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Result<u32, Q::Packet> {
        let mut bands = Bands::besteffort();
        self.enqueue_in::<false, Q, A>(tin, table, params, &mut bands, pkt, keys, now, sink)
    }

    /// [`enqueue`](Self::enqueue) into the band of the packet's DSCP
    /// ([`Packet::dscp`]) among `bands`.
    ///
    /// Never refused for lack of flow state: a flow the shared pool has no
    /// way for (every way of its sets busy with other tins, or the tin at
    /// its cap, [`TinParams::with_max_flows`], owning none of them) takes
    /// the tin's reserved slot, or shares it (and then the band of the
    /// flow already there, as flows colliding in a way share a queue).
    /// The packet comes back (`Err`) only if `tin` has no reserved slot in
    /// `table` (it is not below [`FlowTable::reserved_slots`]), which the
    /// scheduler never lets happen.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue_banded<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        bands: &mut Bands<'_>,
        pkt: Q::Packet,
        keys: FlowKeys,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Result<u32, Q::Packet> {
        if bands.state.is_empty() {
            return self.enqueue(tin, table, params, pkt, keys, now, sink);
        }
        self.enqueue_in::<true, Q, A>(tin, table, params, bands, pkt, keys, now, sink)
    }

    /// [`enqueue_banded`](Self::enqueue_banded), its `BANDED` or
    /// besteffort instance.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn enqueue_in<const BANDED: bool, Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        bands: &mut Bands<'_>,
        mut pkt: Q::Packet,
        keys: FlowKeys,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Result<u32, Q::Packet> {
        let b = if BANDED {
            bands.band_for(pkt.dscp())
        } else {
            0
        };
        let Some(idx) = self.slot_for(tin, table, params, &keys, b) else {
            return Err(pkt);
        };
        let len = pkt.len();
        pkt.set_enqueue_time(now);
        let ack = match params.ack_filter {
            AckFilterMode::Off => None,
            _ => pkt.ack_info(),
        };
        let Some(slot) = table.slot_mut(idx) else {
            return Err(pkt);
        };
        if let Some(ack) = ack {
            if let Some(old) = ack_filter::filter(&mut slot.queue, &ack, params.ack_filter) {
                let olen = old.len();
                slot.backlog = slot.backlog.saturating_sub(olen);
                slot.packets = slot.packets.saturating_sub(1);
                if let Some(band) = band_of::<BANDED>(bands.state, slot.band) {
                    band.stats.dropped(olen);
                }
                let st = &mut self.stats;
                st.backlog_bytes = st.backlog_bytes.saturating_sub(u64::from(olen));
                st.backlog_packets = st.backlog_packets.saturating_sub(1);
                st.ack_drops = st.ack_drops.wrapping_add(1);
                st.dropped_packets = st.dropped_packets.wrapping_add(1);
                st.dropped_bytes = st.dropped_bytes.wrapping_add(u64::from(olen));
                sink(old, DropReason::AckFilter);
            }
        }
        let st = &mut self.stats;
        st.packets = st.packets.wrapping_add(1);
        st.bytes = st.bytes.wrapping_add(u64::from(len));
        self.append::<BANDED, Q, A>(tin, table, params, bands, idx, b, pkt, now);
        Ok(idx)
    }

    /// Appends `pkt` to flow slot `idx` (found by `slot_for` for band `b`),
    /// putting a flow that was not queued on its band's sparse list. A
    /// slot not queued takes band `b`; a busy one keeps its own. Counts it
    /// in the backlog and as accepted by its band, not as accepted by the
    /// tin (the caller does).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn append<const BANDED: bool, Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        bands: &mut Bands<'_>,
        idx: u32,
        b: u8,
        pkt: Q::Packet,
        now: u64,
    ) {
        let len = pkt.len();
        let Some(slot) = table.slot_mut(idx) else {
            return;
        };
        let set = slot.set;
        let b = if BANDED {
            if set == FlowSet::None {
                slot.band = b;
            }
            let b = index_in(bands.state, slot.band);
            slot.band = b;
            b
        } else {
            0
        };
        slot.queue.push_back(pkt);
        slot.backlog = slot.backlog.saturating_add(len);
        slot.packets = slot.packets.saturating_add(1);
        let blue_active = slot.cvars.p_drop() != 0;
        table.fat_update(&mut self.fat, idx);

        let mut band = if BANDED { bands.band(b) } else { None };
        if let Some((turn, band)) = band.as_mut() {
            turn.wake(band.stats.backlog_packets, now);
            band.stats.queue(len);
            band.stats.accept(len);
        }
        let st = &mut self.stats;
        st.backlog_bytes = st.backlog_bytes.wrapping_add(u64::from(len));
        st.backlog_packets = st.backlog_packets.saturating_add(1);
        st.max_pkt_len = st.max_pkt_len.max(len);

        match set {
            FlowSet::None | FlowSet::Decaying => {
                if set == FlowSet::None {
                    // A reclaimed slot may still carry BLUE state.
                    if blue_active {
                        st.unresponsive_flows = st.unresponsive_flows.wrapping_add(1);
                    }
                } else {
                    st.decaying_flows = st.decaying_flows.saturating_sub(1);
                }
                st.sparse_flows = st.sparse_flows.wrapping_add(1);
                if let Some((turn, _)) = band {
                    turn.sparse_flows = turn.sparse_flows.wrapping_add(1);
                }
                self.move_flow::<BANDED, Q, A>(table, bands.state, idx, set, FlowSet::Sparse);
                let fq = if BANDED {
                    bands.flow_quantum(params, b)
                } else {
                    params.flow_quantum
                };
                let q = self.quantum(tin, table, fq, idx);
                if let Some(s) = table.slot_mut(idx) {
                    s.deficit = q;
                }
            }
            FlowSet::SparseWait => {
                // Empty, counted sparse, already in the bulk rotation.
                st.sparse_flows = st.sparse_flows.saturating_sub(1);
                st.bulk_flows = st.bulk_flows.wrapping_add(1);
                if let Some((turn, _)) = band {
                    turn.sparse_flows = turn.sparse_flows.saturating_sub(1);
                    turn.bulk_flows = turn.bulk_flows.wrapping_add(1);
                }
                if let Some(s) = table.slot_mut(idx) {
                    s.set = FlowSet::Bulk;
                }
                table.flow_bulk(idx, true);
            }
            FlowSet::Sparse | FlowSet::Bulk => {}
        }
    }

    /// Queues a packet moved from another scheduler (see
    /// `Scheduler::take_over`): like [`enqueue`](Self::enqueue), but the
    /// packet keeps its enqueue time and adjusted length, the ACK filter
    /// does not run, and it is counted in the backlog only, and as
    /// accepted by its band: the caller carries the tin's cumulative
    /// counters over (and the bands', less what was queued). Gives the
    /// packet back only if `tin` has no reserved slot in `table`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn requeue<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        bands: &mut Bands<'_>,
        pkt: Q::Packet,
        keys: &FlowKeys,
        now: u64,
    ) -> Result<(), Q::Packet> {
        let b = bands.band_for(pkt.dscp());
        let Some(idx) = self.slot_for(tin, table, params, keys, b) else {
            return Err(pkt);
        };
        if table.slot(idx).is_none() {
            return Err(pkt);
        }
        if bands.state.is_empty() {
            self.append::<false, Q, A>(tin, table, params, bands, idx, b, pkt, now);
        } else {
            self.append::<true, Q, A>(tin, table, params, bands, idx, b, pkt, now);
        }
        Ok(())
    }

    /// Hands every queued packet to `out`, flow by flow, each flow's in
    /// order, and gives all flow slots back (COBALT state included): the
    /// tin is left idle. The backlog gauges (the bands' in `state` too)
    /// return to zero; the cumulative counters are left as they were,
    /// neither dequeued nor dropped (the caller moves the packets and the
    /// counters elsewhere). O(packets + flow slots held).
    pub(crate) fn drain<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        table: &mut FlowTable<Q, A>,
        bands: &mut Bands<'_>,
        out: &mut dyn FnMut(Q::Packet),
    ) {
        let cap = table.slot_count();
        let own = core::iter::once(&self.lists);
        for lists in own.chain(bands.state.iter().map(|b| &b.lists)) {
            for list in [&lists.new, &lists.old] {
                let mut idx = list.head;
                // u64: counts at most `cap + 1 <= 2^32` steps, so it cannot wrap.
                let mut n = 0u64;
                while idx != NONE && n <= u64::from(cap) {
                    n = n.wrapping_add(1);
                    let Some(s) = table.slot_mut(idx) else { break };
                    // Bounded by the flow's queue length.
                    while let Some(p) = s.queue.pop_front() {
                        out(p);
                    }
                    s.backlog = 0;
                    s.packets = 0;
                    let next = s.next;
                    table.fat_unlink(&mut self.fat, idx);
                    idx = next;
                }
            }
        }
        for band in bands.state.iter_mut() {
            band.stats.backlog_bytes = 0;
            band.stats.backlog_packets = 0;
        }
        let st = &mut self.stats;
        st.backlog_bytes = 0;
        st.backlog_packets = 0;
        self.release_all(table, bands);
    }

    /// Mutable counters, for the scheduler's take-over.
    pub(crate) fn stats_mut(&mut self) -> &mut TinStats {
        &mut self.stats
    }

    /// Next packet of this tin at time `now` (ns) by DRR++ and COBALT, or
    /// `None` if the tin is empty. Packets COBALT drops go to `sink`. One
    /// band: see [`dequeue_banded`](Self::dequeue_banded).
    pub fn dequeue<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Option<Q::Packet> {
        let mut bands = Bands::besteffort();
        let (cobalt, fq) = (&params.cobalt, params.flow_quantum);
        self.serve::<false, Q, A>(tin, table, params, &mut bands, 0, cobalt, fq, now, sink)
            .0
    }

    /// [`dequeue`](Self::dequeue) from the band CAKE would choose: with a
    /// rate ([`TinParams::rate`]), the highest band within its threshold
    /// rate, else the band that comes within it first; without, DRR over
    /// the bands. A band that only drops (or finds its flows empty) makes
    /// way for the next choice, as in CAKE.
    pub fn dequeue_banded<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        bands: &mut Bands<'_>,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Option<Q::Packet> {
        if bands.state.is_empty() {
            return self.dequeue(tin, table, params, now, sink);
        }
        // Each choice that yields nothing has emptied a band's lists of
        // flows with packets, so there are at most as many as bands.
        for _ in 0..=bands.state.len() {
            let st = &self.stats;
            if st.sparse_flows == 0 && st.bulk_flows == 0 {
                if st.backlog_packets == 0 {
                    self.release_all(table, bands);
                }
                return None;
            }
            let b = if params.rate != 0 {
                select_shaped(bands.turns, now)
            } else {
                select_drr(bands.turns, &mut self.cur_band, bands.mode)
            }?;
            let bp = bands.params(params, b);
            let (cobalt, fq) = (&bp.cobalt, bp.flow_quantum);
            let (got, dropped) =
                self.serve::<true, Q, A>(tin, table, params, bands, b, cobalt, fq, now, sink);
            let charged = dropped.saturating_add(got.as_ref().map_or(0, |p| p.adjusted_len()));
            let dur = bands.threshold_time(b, charged);
            let max_lag = bands.max_lag;
            if let Some(turn) = bands.turns.get_mut(usize::from(b)) {
                if params.rate != 0 {
                    turn.charge(dur, now, max_lag);
                } else {
                    let c = i32::try_from(charged).unwrap_or(i32::MAX);
                    turn.deficit = turn.deficit.saturating_sub(c);
                }
            }
            if got.is_some() {
                return got;
            }
        }
        None
    }

    /// DRR++ and COBALT over band `b`'s flows: the band's next packet, or
    /// `None` if it has none to give, with the adjusted bytes COBALT
    /// dropped that count as sent (ingress mode).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn serve<const BANDED: bool, Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        bands: &mut Bands<'_>,
        b: u8,
        cobalt: &CobaltParams,
        flow_quantum: u32,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> (Option<Q::Packet>, u32) {
        let mut charged = 0u32;
        let mut first_flow = true;
        let mut steps = 0u32;
        // Past MAX_DRR_STEPS every step serves or retires a flow of the
        // new/old lists, so this bound is never reached.
        let bound = MAX_DRR_STEPS
            .saturating_add(table.slot_count())
            .saturating_add(2);
        for _ in 0..bound {
            let (sparse, bulk) = match turn_of::<BANDED>(bands.turns, b) {
                Some(turn) => (u32::from(turn.sparse_flows), u32::from(turn.bulk_flows)),
                None => (self.stats.sparse_flows, self.stats.bulk_flows),
            };
            if sparse == 0 && bulk == 0 {
                if self.stats.backlog_packets == 0 {
                    self.release_all(table, bands);
                }
                return (None, charged);
            }
            let lists = lists_of::<BANDED>(&mut self.lists, bands.state, b);
            // Decaying flows get one look per call so their state decays.
            let idx = if first_flow && !lists.decaying.is_empty() {
                lists.decaying.head
            } else if !lists.new.is_empty() {
                lists.new.head
            } else if !lists.old.is_empty() {
                lists.old.head
            } else {
                lists.decaying.head
            };
            first_flow = false;
            let Some(slot) = table.slot(idx) else {
                return (None, charged);
            };
            let set = slot.set;
            steps = steps.saturating_add(1);

            if slot.deficit <= 0 && steps <= MAX_DRR_STEPS {
                let mut to = FlowSet::Bulk;
                match set {
                    FlowSet::Sparse if slot.packets != 0 => {
                        let st = &mut self.stats;
                        st.sparse_flows = st.sparse_flows.saturating_sub(1);
                        st.bulk_flows = st.bulk_flows.wrapping_add(1);
                        if let Some(turn) = turn_of::<BANDED>(bands.turns, b) {
                            turn.sparse_flows = turn.sparse_flows.saturating_sub(1);
                            turn.bulk_flows = turn.bulk_flows.wrapping_add(1);
                        }
                        table.flow_bulk(idx, true);
                    }
                    // Counted sparse until it has packets again.
                    FlowSet::Sparse => to = FlowSet::SparseWait,
                    FlowSet::Decaying => to = FlowSet::Decaying,
                    _ => to = set,
                }
                let q = self.quantum(tin, table, flow_quantum, idx);
                if let Some(s) = table.slot_mut(idx) {
                    s.deficit = s.deficit.saturating_add(q);
                }
                self.move_flow::<BANDED, Q, A>(table, bands.state, idx, set, to);
                continue;
            }

            // COBALT: drop until a packet passes or the flow is empty. Bounded
            // by the flow's queue length.
            loop {
                let Some(slot) = table.slot_mut(idx) else {
                    return (None, charged);
                };
                let Some(mut pkt) = slot.queue.pop_front() else {
                    self.flow_emptied::<BANDED, Q, A>(table, bands, cobalt, idx, now);
                    break;
                };
                let len = pkt.len();
                slot.backlog = slot.backlog.saturating_sub(len);
                slot.packets = slot.packets.saturating_sub(1);
                let st = &mut self.stats;
                st.backlog_bytes = st.backlog_bytes.saturating_sub(u64::from(len));
                st.backlog_packets = st.backlog_packets.saturating_sub(1);
                let rand = self.rand(tin);
                let bulk = match (params.ingress, turn_of::<BANDED>(bands.turns, b)) {
                    (false, _) => 0,
                    (true, Some(turn)) => u32::from(turn.bulk_flows),
                    (true, None) => self.stats.bulk_flows,
                };
                let band = band_of::<BANDED>(bands.state, b);
                let drop = slot.cvars.should_drop(cobalt, now, &mut pkt, bulk, rand);
                // The last packet of a flow is never dropped (only marked).
                if drop && slot.packets != 0 {
                    if params.ingress {
                        // It crossed the bottleneck anyway: it used the
                        // flow's turn as if sent.
                        let adj = i32::try_from(pkt.adjusted_len()).unwrap_or(i32::MAX);
                        slot.deficit = slot.deficit.saturating_sub(adj);
                        charged = charged.saturating_add(pkt.adjusted_len());
                    }
                    if let Some(band) = band {
                        band.stats.dropped(len);
                    }
                    let st = &mut self.stats;
                    st.cobalt_drops = st.cobalt_drops.wrapping_add(1);
                    st.dropped_packets = st.dropped_packets.wrapping_add(1);
                    st.dropped_bytes = st.dropped_bytes.wrapping_add(u64::from(len));
                    sink(pkt, DropReason::Cobalt);
                    table.fat_update(&mut self.fat, idx);
                    continue;
                }
                let marked = slot.cvars.ecn_marked();
                if marked {
                    self.stats.ecn_marks = self.stats.ecn_marks.wrapping_add(1);
                }
                if let Some(band) = band {
                    band.stats.sent(len);
                    if marked {
                        band.stats.ecn_marks = band.stats.ecn_marks.wrapping_add(1);
                    }
                }
                slot.deficit = slot
                    .deficit
                    .saturating_sub(i32::try_from(pkt.adjusted_len()).unwrap_or(i32::MAX));
                table.fat_update(&mut self.fat, idx);
                let st = &mut self.stats;
                let delay = now.saturating_sub(pkt.enqueue_time());
                st.avg_delay_ns = ewma(st.avg_delay_ns, delay, 8);
                let shift = if delay > st.peak_delay_ns { 2 } else { 8 };
                st.peak_delay_ns = ewma(st.peak_delay_ns, delay, shift);
                let shift = if delay < st.base_delay_ns { 2 } else { 8 };
                st.base_delay_ns = ewma(st.base_delay_ns, delay, shift);
                st.dequeued_packets = st.dequeued_packets.wrapping_add(1);
                st.dequeued_bytes = st.dequeued_bytes.wrapping_add(u64::from(len));
                if st.backlog_packets == 0 {
                    self.release_all(table, bands);
                }
                return (Some(pkt), charged);
            }
        }
        (None, charged)
    }

    /// DRR++ found flow `idx` empty: keep it on its band's decaying list
    /// until its COBALT state (parameters `cobalt`) rests, else give the
    /// slot back.
    fn flow_emptied<const BANDED: bool, Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        table: &mut FlowTable<Q, A>,
        bands: &mut Bands<'_>,
        cobalt: &CobaltParams,
        idx: u32,
        now: u64,
    ) {
        let Some(slot) = table.slot_mut(idx) else {
            return;
        };
        let set = slot.set;
        let b = slot.band;
        if slot.cvars.queue_empty(cobalt, now) {
            self.stats.unresponsive_flows = self.stats.unresponsive_flows.saturating_sub(1);
        }
        let at_rest = slot.cvars.at_rest(now);
        let st = &mut self.stats;
        let turn = turn_of::<BANDED>(bands.turns, b);
        match set {
            FlowSet::Sparse | FlowSet::SparseWait => {
                st.sparse_flows = st.sparse_flows.saturating_sub(1);
                if let Some(turn) = turn {
                    turn.sparse_flows = turn.sparse_flows.saturating_sub(1);
                }
            }
            FlowSet::Bulk => {
                st.bulk_flows = st.bulk_flows.saturating_sub(1);
                if let Some(turn) = turn {
                    turn.bulk_flows = turn.bulk_flows.saturating_sub(1);
                }
            }
            FlowSet::Decaying => st.decaying_flows = st.decaying_flows.saturating_sub(1),
            FlowSet::None => {}
        }
        if set == FlowSet::Bulk {
            table.flow_bulk(idx, false);
        }
        if at_rest {
            if let Some(l) = lists_of::<BANDED>(&mut self.lists, bands.state, b).of(set) {
                table.unlink(l, idx);
            }
            // Already uncounted from bulk above: free it as a plain slot.
            if let Some(s) = table.slot_mut(idx) {
                s.set = FlowSet::Decaying;
            }
            table.release(idx);
        } else {
            self.stats.decaying_flows = self.stats.decaying_flows.wrapping_add(1);
            self.move_flow::<BANDED, Q, A>(table, bands.state, idx, set, FlowSet::Decaying);
        }
    }

    /// Gives every flow slot of this (empty) tin back to the pool: an idle
    /// tin holds no flow state. Bounded by the pool size.
    fn release_all<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        table: &mut FlowTable<Q, A>,
        bands: &mut Bands<'_>,
    ) {
        let cap = table.slot_count();
        let own = core::iter::once(&mut self.lists);
        for lists in own.chain(bands.state.iter_mut().map(|b| &mut b.lists)) {
            for list in [&mut lists.new, &mut lists.old, &mut lists.decaying] {
                let mut idx = list.head;
                // u64: counts at most `cap + 1 <= 2^32` steps, so it cannot wrap.
                let mut n = 0u64;
                while idx != NONE && n <= u64::from(cap) {
                    n = n.wrapping_add(1);
                    let next = table.slot(idx).map_or(NONE, |s| s.next);
                    table.release(idx);
                    idx = next;
                }
                *list = FlowList::default();
            }
        }
        for turn in bands.turns.iter_mut() {
            turn.sparse_flows = 0;
            turn.bulk_flows = 0;
        }
        self.fat = FatIndex::default();
        let st = &mut self.stats;
        st.sparse_flows = 0;
        st.bulk_flows = 0;
        st.decaying_flows = 0;
        st.unresponsive_flows = 0;
    }

    /// Drops the head packet of this tin's fattest flow, for the caller's
    /// memory limit, and returns it with the flow slot it came from (what
    /// [`enqueue`](Self::enqueue) returned for that flow's packets); BLUE
    /// is told the flow overflowed. O(1): the flow comes from a log2 index
    /// of backlogs, so it holds at least half as many bytes as the fattest
    /// (CAKE's heap is exact but global). One band: see
    /// [`drop_fattest_banded`](Self::drop_fattest_banded).
    pub fn drop_fattest<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        now: u64,
    ) -> Option<(Q::Packet, u32)> {
        let mut bands = Bands::besteffort();
        self.drop_fattest_banded(tin, table, params, &mut bands, now)
    }

    /// [`drop_fattest`](Self::drop_fattest) over all of `bands`: the
    /// fattest flow of the tin, whichever band it is in.
    pub fn drop_fattest_banded<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        bands: &mut Bands<'_>,
        now: u64,
    ) -> Option<(Q::Packet, u32)> {
        let _ = tin;
        let best = table.fat_pick(&self.fat)?;
        let b = table.slot(best)?.band;
        let bp = bands.params(params, b);
        let slot = table.slot_mut(best)?;
        let pkt = slot.queue.pop_front()?;
        let len = pkt.len();
        slot.backlog = slot.backlog.saturating_sub(len);
        slot.packets = slot.packets.saturating_sub(1);
        let up = slot.cvars.queue_full(&bp.cobalt, now);
        table.fat_update(&mut self.fat, best);
        if let Some(band) = bands.state.get_mut(usize::from(b)) {
            band.stats.dropped(len);
        }
        let st = &mut self.stats;
        if up {
            st.unresponsive_flows = st.unresponsive_flows.wrapping_add(1);
        }
        st.backlog_bytes = st.backlog_bytes.saturating_sub(u64::from(len));
        st.backlog_packets = st.backlog_packets.saturating_sub(1);
        st.overlimit_drops = st.overlimit_drops.wrapping_add(1);
        st.dropped_packets = st.dropped_packets.wrapping_add(1);
        st.dropped_bytes = st.dropped_bytes.wrapping_add(u64::from(len));
        if st.backlog_packets == 0 {
            self.release_all(table, bands);
        }
        Some((pkt, best))
    }

    /// Drops every queued packet to `sink` (as [`DropReason::Reconfigure`])
    /// and gives all flow slots back. Stats counters are kept.
    pub fn reset<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) {
        self.reset_banded(tin, table, &mut Bands::besteffort(), sink);
    }

    /// [`reset`](Self::reset) of a tin with `bands`.
    pub fn reset_banded<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        bands: &mut Bands<'_>,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) {
        let _ = tin;
        let cap = table.slot_count();
        let heads: [u32; 2 * (MAX_BANDS + 1)] = {
            let mut h = [NONE; 2 * (MAX_BANDS + 1)];
            let own = core::iter::once(&self.lists);
            let all = own.chain(bands.state.iter().map(|b| &b.lists));
            let heads = all.flat_map(|l| [l.new.head, l.old.head]);
            for (slot, head) in h.iter_mut().zip(heads) {
                *slot = head;
            }
            h
        };
        for head in heads {
            let mut idx = head;
            // u64: counts at most `cap + 1 <= 2^32` steps, so it cannot wrap.
            let mut n = 0u64;
            while idx != NONE && n <= u64::from(cap) {
                n = n.wrapping_add(1);
                let Some(s) = table.slot_mut(idx) else { break };
                let mut band = bands.state.get_mut(usize::from(s.band));
                // Bounded by the flow's queue length.
                while let Some(p) = s.queue.pop_front() {
                    let len = p.len();
                    if let Some(band) = band.as_deref_mut() {
                        band.stats.dropped(len);
                    }
                    let len = u64::from(len);
                    let st = &mut self.stats;
                    st.reset_drops = st.reset_drops.wrapping_add(1);
                    st.dropped_packets = st.dropped_packets.wrapping_add(1);
                    st.dropped_bytes = st.dropped_bytes.wrapping_add(len);
                    st.backlog_bytes = st.backlog_bytes.saturating_sub(len);
                    st.backlog_packets = st.backlog_packets.saturating_sub(1);
                    sink(p, DropReason::Reconfigure);
                }
                s.backlog = 0;
                s.packets = 0;
                let next = s.next;
                table.fat_unlink(&mut self.fat, idx);
                idx = next;
            }
        }
        self.release_all(table, bands);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::*;
    use crate::sched::test_support::{HostAlloc, TestPacket, TestQueue};

    type Table = FlowTable<TestQueue, HostAlloc>;

    const MS: u64 = 1_000_000;

    /// Tins these tests use have reserved slots (`0..TEST_TINS`).
    const TEST_TINS: u32 = 8;

    fn table(flows: u32, hosts: u32) -> Table {
        FlowTable::new(&mut HostAlloc::default(), flows, hosts, TEST_TINS).unwrap()
    }

    fn params(rate: u64, mode: FlowMode) -> TinParams {
        TinParams::new(
            rate,
            1514,
            &CobaltConfig::default(),
            mode,
            AckFilterMode::Off,
        )
    }

    fn keys(flow: u32, src: u32, dst: u32) -> FlowKeys {
        FlowKeys {
            flow_hash: flow,
            src_host_hash: src,
            dst_host_hash: dst,
        }
    }

    fn pkt(id: u64, tag: u32, len: u32) -> TestPacket {
        let mut p = TestPacket::new(id, len);
        p.tag = tag;
        p
    }

    /// Drops collected by the sink.
    type Drops = Vec<(TestPacket, DropReason)>;

    /// Checks list membership, counters and the accounting identity of
    /// `tin`, and that no slot of `tin` is busy off its lists.
    fn assert_tin(q: &TinQueue, tin: u32, t: &Table) {
        let st = &q.stats;
        let (mut sparse, mut bulk, mut decaying) = (0, 0, 0);
        let (mut bytes, mut pkts, mut on_lists) = (0u64, 0u32, 0usize);
        let mut nonempty = 0u32;
        for (list, allowed) in [
            (&q.lists.new, &[FlowSet::Sparse][..]),
            (&q.lists.old, &[FlowSet::SparseWait, FlowSet::Bulk][..]),
            (&q.lists.decaying, &[FlowSet::Decaying][..]),
        ] {
            let mut idx = list.head;
            let mut prev = NONE;
            while idx != NONE {
                let s = t.slot(idx).unwrap();
                assert!(allowed.contains(&s.set), "slot {idx} {:?}", s.set);
                assert_eq!(t.slot_key(idx).unwrap().0, tin);
                assert_eq!(s.prev, prev);
                match s.set {
                    FlowSet::Sparse | FlowSet::SparseWait => sparse += 1,
                    FlowSet::Bulk => bulk += 1,
                    _ => decaying += 1,
                }
                assert_eq!(s.packets as usize, s.queue.0.len());
                let qb: u64 = s.queue.0.iter().map(|p| u64::from(p.len)).sum();
                assert_eq!(u64::from(s.backlog), qb);
                bytes += qb;
                pkts += s.packets;
                nonempty += u32::from(s.packets != 0);
                on_lists += 1;
                prev = idx;
                idx = s.next;
            }
            assert_eq!(list.tail, prev);
        }
        assert_eq!((st.sparse_flows, st.bulk_flows), (sparse, bulk));
        assert_eq!(t.assert_fat(&q.fat, tin), nonempty, "fat index members");
        assert_eq!(st.decaying_flows, decaying);
        assert_eq!((st.backlog_bytes, st.backlog_packets), (bytes, pkts));
        let busy = (0..t.slot_count())
            .filter(|&i| {
                let s = t.slot(i).unwrap();
                t.slot_key(i).unwrap().0 == tin && s.set != FlowSet::None
            })
            .count();
        assert_eq!(busy, on_lists);
        assert!(st.is_balanced(), "{st:?}");
        if st.backlog_packets == 0 {
            assert_eq!(on_lists, 0, "an idle tin holds no flow slots");
        }
    }

    #[test]
    fn balance_check_sees_a_missing_packet() {
        let mut st = TinStats::default();
        assert!(st.is_balanced());
        st.packets = 1;
        st.bytes = 100;
        assert!(!st.is_balanced());
        st.backlog_packets = 1;
        assert!(!st.is_balanced(), "bytes still unaccounted");
        st.backlog_bytes = 100;
        assert!(st.is_balanced());
    }

    #[test]
    fn idle_tin_is_small() {
        assert!(
            core::mem::size_of::<TinQueue>() <= 256,
            "{}",
            core::mem::size_of::<TinQueue>()
        );
    }

    #[test]
    fn quantum_from_rate() {
        let q = |rate| params(rate, FlowMode::Flows).flow_quantum();
        assert_eq!(q(0), 1514);
        assert_eq!(q(125_000), 300);
        assert_eq!(q(1_000_000 * 4), 976);
        assert_eq!(q(125_000_000), 1514);
    }

    #[test]
    fn fifo_within_a_flow_and_slots_released_when_idle() {
        let mut t = table(64, 0);
        let p = params(0, FlowMode::Flows);
        let mut q = TinQueue::new();
        let mut drops = Drops::new();
        for i in 0..10 {
            q.enqueue(
                0,
                &mut t,
                &p,
                pkt(i, 1, 100),
                keys(1, 0, 0),
                0,
                &mut |p, r| drops.push((p, r)),
            )
            .unwrap();
        }
        assert_eq!((q.backlog_packets(), q.backlog_bytes()), (10, 1000));
        assert_eq!(t.flows_in_use(), 1);
        for i in 0..10 {
            let got = q.dequeue(0, &mut t, &p, 0, &mut |p, r| drops.push((p, r)));
            assert_eq!(got.map(|p| p.id), Some(i));
            assert_tin(&q, 0, &t);
        }
        assert!(q
            .dequeue(0, &mut t, &p, 0, &mut |p, r| drops.push((p, r)))
            .is_none());
        assert!(drops.is_empty());
        assert_eq!(t.flows_in_use(), 0);
        t.assert_consistent();
    }

    #[test]
    fn sparse_flow_jumps_bulk_backlog() {
        let mut t = table(256, 0);
        let p = params(0, FlowMode::Flows);
        let mut q = TinQueue::new();
        let mut sink = |_p: TestPacket, _r: DropReason| panic!("no drops expected");
        let mut id = 0;
        for f in 0..4 {
            for _ in 0..20 {
                id += 1;
                q.enqueue(0, &mut t, &p, pkt(id, f, 1500), keys(f, 0, 0), 0, &mut sink)
                    .unwrap();
            }
        }
        // Each new flow sends two 1500-byte packets on its first quantum,
        // then joins the bulk rotation (flow 3 on its next visit).
        for _ in 0..8 {
            q.dequeue(0, &mut t, &p, 0, &mut sink).unwrap();
        }
        assert_eq!((q.stats().sparse_flows, q.stats().bulk_flows), (1, 3));
        q.enqueue(
            0,
            &mut t,
            &p,
            pkt(999, 99, 100),
            keys(99, 0, 0),
            0,
            &mut sink,
        )
        .unwrap();
        assert_eq!(q.stats().sparse_flows, 2);
        let got = q.dequeue(0, &mut t, &p, 0, &mut sink).unwrap();
        assert_eq!(got.id, 999, "the new sparse flow goes first");
        assert_tin(&q, 0, &t);
    }

    #[test]
    fn sparse_flow_latency_stays_low_under_bulk_load() {
        // 10 Mbit/s; four bulk flows keep 50 packets each queued; a sparse
        // flow sends 100 bytes every 20 ms. Its packets wait at most about
        // one bulk packet's transmission (1.2 ms), never behind the backlog.
        let rate = 1_250_000u64;
        let mut t = table(256, 0);
        let p = params(rate, FlowMode::Flows);
        let mut q = TinQueue::new();
        let mut drops = 0u32;
        let mut now = 0u64;
        // Starts once the bulk flows are established (at 0 all are new).
        let mut next_sparse = 100 * MS;
        let mut worst = 0u64;
        let mut sparse_seen = 0;
        let mut queued = [0u32; 4];
        while now < 2_000 * MS {
            for (f, n) in queued.iter_mut().enumerate() {
                while *n < 50 {
                    let k = keys(f as u32, 0, 0);
                    q.enqueue(
                        0,
                        &mut t,
                        &p,
                        pkt(0, f as u32, 1500),
                        k,
                        now,
                        &mut |_, _| {},
                    )
                    .unwrap();
                    *n += 1;
                }
            }
            if now >= next_sparse {
                q.enqueue(
                    0,
                    &mut t,
                    &p,
                    pkt(1, 99, 100),
                    keys(99, 0, 0),
                    now,
                    &mut |_, _| {},
                )
                .unwrap();
                next_sparse += 20 * MS;
            }
            let out = q
                .dequeue(0, &mut t, &p, now, &mut |pk, _| {
                    queued[pk.tag as usize] -= 1;
                    drops += 1;
                })
                .unwrap();
            if out.tag == 99 {
                worst = worst.max(now - out.enqueue_time);
                sparse_seen += 1;
            } else {
                queued[out.tag as usize] -= 1;
            }
            now += u64::from(out.len) * 1_000_000_000 / rate;
        }
        assert_eq!(sparse_seen, 95);
        assert!(worst <= 1_300_000, "worst sparse sojourn {worst} ns");
        // Meanwhile the bulk flows' standing queue is far longer.
        assert!(q.stats().peak_delay_ns > 20 * MS, "{:?}", q.stats());
        assert_tin(&q, 0, &t);
    }

    #[test]
    fn re_rating_keeps_queued_packets_in_order() {
        let mut t = table(64, 64);
        let mut q = TinQueue::new();
        let slow = params(125_000, FlowMode::TripleIsolate);
        let fast = params(0, FlowMode::TripleIsolate);
        let mut sink = |_p: TestPacket, _r: DropReason| panic!("no drops expected");
        for i in 0..30u64 {
            let f = (i % 3) as u32;
            q.enqueue(
                0,
                &mut t,
                &slow,
                pkt(i, f, 700),
                keys(f, 1, 2),
                0,
                &mut sink,
            )
            .unwrap();
        }
        let mut last = [None::<u64>; 3];
        let mut n = 0;
        for i in 0..30 {
            let p = if i % 2 == 0 { &fast } else { &slow };
            let out = q.dequeue(0, &mut t, p, 0, &mut sink).unwrap();
            let f = out.tag as usize;
            assert!(last[f].is_none_or(|l| l < out.id), "order within flow {f}");
            last[f] = Some(out.id);
            n += 1;
        }
        assert_eq!(n, 30);
        assert!(!q.is_backlogged());
        assert_eq!(t.flows_in_use(), 0);
    }

    /// Keeps every (flow, src, dst, len) source backlogged and returns the
    /// bytes each one got over `total` dequeued bytes.
    fn share(mode: FlowMode, sources: &[(u32, u32, u32, u32)], total: u64) -> Vec<u64> {
        let mut t = table(1024, 256);
        let p = params(0, mode);
        let mut q = TinQueue::new();
        let mut sink = |_p: TestPacket, _r: DropReason| panic!("no drops expected");
        let mut got = std::vec![0u64; sources.len()];
        let mut queued = std::vec![0u32; sources.len()];
        let mut id = 0;
        let mut sent = 0;
        while sent < total {
            for (i, &(f, s, d, len)) in sources.iter().enumerate() {
                while queued[i] < 8 {
                    id += 1;
                    q.enqueue(
                        0,
                        &mut t,
                        &p,
                        pkt(id, i as u32, len),
                        keys(f, s, d),
                        0,
                        &mut sink,
                    )
                    .unwrap();
                    queued[i] += 1;
                }
            }
            let out = q.dequeue(0, &mut t, &p, 0, &mut sink).unwrap();
            got[out.tag as usize] += u64::from(out.len);
            queued[out.tag as usize] -= 1;
            sent += u64::from(out.len);
        }
        assert_tin(&q, 0, &t);
        t.assert_consistent();
        got
    }

    fn within(a: u64, b: u64, pct: u64) -> bool {
        a.abs_diff(b) * 100 <= b * pct
    }

    #[test]
    fn backlogged_flows_get_equal_bytes() {
        let got = share(
            FlowMode::Flows,
            &[
                (1, 0, 0, 1500),
                (2, 0, 0, 1000),
                (3, 0, 0, 300),
                (4, 0, 0, 64),
            ],
            4_000_000,
        );
        let mean = got.iter().sum::<u64>() / 4;
        for g in &got {
            assert!(within(*g, mean, 3), "{got:?}");
        }
    }

    #[test]
    fn dual_dsthost_shares_by_host_first() {
        // Host 10 has 8 flows, host 20 one: equal host shares.
        let mut src: Vec<(u32, u32, u32, u32)> = (0..8).map(|f| (f, 1, 10, 1500)).collect();
        src.push((100, 1, 20, 1500));
        let got = share(FlowMode::DualDstHost, &src, 6_000_000);
        let a: u64 = got[..8].iter().sum();
        assert!(within(a, got[8], 5), "{got:?}");
        // Plain flow fairness gives the 8-flow host 8/9 instead.
        let got = share(FlowMode::Flows, &src, 6_000_000);
        let a: u64 = got[..8].iter().sum();
        assert!(within(a, 8 * got[8], 5), "{got:?}");
    }

    #[test]
    fn dual_srchost_and_triple_share_by_host() {
        let mut src: Vec<(u32, u32, u32, u32)> = (0..8).map(|f| (f, 10, 1, 1500)).collect();
        src.push((100, 20, 1, 1500));
        let got = share(FlowMode::DualSrcHost, &src, 6_000_000);
        let a: u64 = got[..8].iter().sum();
        assert!(within(a, got[8], 5), "{got:?}");
        // Dual-dsthost ignores sources: all 9 flows share one destination.
        let got = share(FlowMode::DualDstHost, &src, 6_000_000);
        let a: u64 = got[..8].iter().sum();
        assert!(within(a, 8 * got[8], 5), "{got:?}");
        // Triple isolation: the quantum follows the busier of a flow's two
        // hosts. All nine flows share destination 1, so here it is per flow.
        let got = share(FlowMode::TripleIsolate, &src, 6_000_000);
        let a: u64 = got[..8].iter().sum();
        assert!(within(a, 8 * got[8], 5), "{got:?}");
        // With distinct destinations the sources get equal shares.
        for (i, s) in src.iter_mut().enumerate() {
            s.2 = 100 + i as u32;
        }
        let got = share(FlowMode::TripleIsolate, &src, 6_000_000);
        let a: u64 = got[..8].iter().sum();
        assert!(within(a, got[8], 5), "{got:?}");
    }

    #[test]
    fn tiny_host_scaled_quanta_still_serve_every_packet() {
        // 300 bulk flows to one host at 1 Mbit/s: the per-flow quantum is
        // ~1 byte, so DRR++ alone would need ~450k steps per packet; the
        // step cap serves the head flow instead.
        let mut t = table(512, 8);
        let p = params(125_000, FlowMode::DualDstHost);
        let mut q = TinQueue::new();
        let mut sink = |_p: TestPacket, _r: DropReason| panic!("no drops expected");
        for round in 0..2u64 {
            for f in 0..300u32 {
                let pk = pkt(round, f, 1500);
                q.enqueue(0, &mut t, &p, pk, keys(f, 1, 7), 0, &mut sink)
                    .unwrap();
            }
        }
        let mut n = 0;
        while q.is_backlogged() {
            assert!(q.dequeue(0, &mut t, &p, 0, &mut sink).is_some());
            n += 1;
        }
        assert_eq!(n, 600);
        assert_tin(&q, 0, &t);
        assert_eq!(t.flows_in_use(), 0);
    }

    #[test]
    fn host_modes_merge_flows() {
        let mut t = table(64, 0);
        let mut q = TinQueue::new();
        let mut sink = |_p: TestPacket, _r: DropReason| {};
        for (mode, expect) in [
            (FlowMode::FlowBlind, 1),
            (FlowMode::SrcHost, 2),
            (FlowMode::DstHost, 3),
            (FlowMode::Hosts, 4),
            (FlowMode::Flows, 5),
        ] {
            let p = params(0, mode);
            // Five flows over two sources and three destinations, four
            // distinct (src, dst) pairs.
            for (f, s, d) in [(1, 1, 1), (2, 1, 2), (3, 2, 3), (4, 2, 1), (5, 2, 1)] {
                q.enqueue(
                    0,
                    &mut t,
                    &p,
                    pkt(0, 0, 100),
                    keys(f, s, d << 8),
                    0,
                    &mut sink,
                )
                .unwrap();
            }
            assert_eq!(t.flows_in_use(), expect, "{mode:?}");
            q.reset(0, &mut t, &mut sink);
            assert_eq!(t.flows_in_use(), 0);
        }
        for v in 0..8 {
            assert_eq!(FlowMode::from_cake_value(v).unwrap().cake_value(), v);
        }
        assert!(FlowMode::from_cake_value(8).is_none());
    }

    #[test]
    fn pool_exhaustion_never_refuses_a_tin_its_first_packet() {
        let mut t = table(8, 0);
        let p = params(0, FlowMode::Flows);
        let mut q0 = TinQueue::new();
        let mut q1 = TinQueue::new();
        let mut sink = |_p: TestPacket, _r: DropReason| panic!("no drops expected");
        for f in 0..8 {
            let idx = q0
                .enqueue(
                    0,
                    &mut t,
                    &p,
                    pkt(f.into(), f, 100),
                    keys(f, 0, 0),
                    0,
                    &mut sink,
                )
                .unwrap();
            assert!(!t.is_reserved(idx));
        }
        // Tin 0's ninth flow shares one of its own slots.
        q0.enqueue(0, &mut t, &p, pkt(8, 8, 100), keys(8, 0, 0), 0, &mut sink)
            .unwrap();
        assert_eq!(q0.stats().ways.collisions, 1);
        assert_eq!(q0.stats().reserved_slot_uses, 0);
        // Tin 1 finds no way in the pool: its reserved slot takes the flow,
        // and a second flow shares it.
        let r = q1
            .enqueue(1, &mut t, &p, pkt(9, 9, 100), keys(9, 0, 0), 0, &mut sink)
            .unwrap();
        assert!(t.is_reserved(r));
        let r2 = q1
            .enqueue(
                1,
                &mut t,
                &p,
                pkt(10, 10, 100),
                keys(10, 0, 0),
                0,
                &mut sink,
            )
            .unwrap();
        assert_eq!(r2, r);
        let r3 = q1
            .enqueue(
                1,
                &mut t,
                &p,
                pkt(11, 10, 100),
                keys(10, 0, 0),
                0,
                &mut sink,
            )
            .unwrap();
        assert_eq!(r3, r);
        assert_eq!(q1.stats().reserved_slot_uses, 2, "two new flows, one not");
        assert_eq!(q1.stats().packets, 3);
        assert_eq!(t.reserved_in_use(), 1);
        assert_tin(&q0, 0, &t);
        assert_tin(&q1, 1, &t);
        t.assert_consistent();
        // Tin 1 drains and gives its reserved slot back like any other.
        let mut ids = Vec::new();
        while let Some(pk) = q1.dequeue(1, &mut t, &p, 0, &mut sink) {
            ids.push(pk.id);
        }
        assert_eq!(ids, [9, 10, 11]);
        assert_eq!(t.reserved_in_use(), 0);
        assert_eq!(q1.flows_held(), 0);
        assert_tin(&q1, 1, &t);
        // Drain tin 0: its slots return and tin 1 gets a pool way.
        let mut n = 0;
        while q0.dequeue(0, &mut t, &p, 0, &mut sink).is_some() {
            n += 1;
        }
        assert_eq!(n, 9);
        assert_eq!(t.flows_in_use(), 0);
        let idx = q1
            .enqueue(1, &mut t, &p, pkt(12, 9, 100), keys(9, 0, 0), 0, &mut sink)
            .unwrap();
        assert!(!t.is_reserved(idx));
        assert_tin(&q1, 1, &t);
        t.assert_consistent();
        // A tin without a reserved slot (a caller error) gets its packet
        // back rather than a slot of another tin.
        let mut full = table(8, 0);
        let mut qa = TinQueue::new();
        for f in 0..8 {
            qa.enqueue(
                0,
                &mut full,
                &p,
                pkt(0, 0, 100),
                keys(f, 0, 0),
                0,
                &mut sink,
            )
            .unwrap();
        }
        let mut qx = TinQueue::new();
        let back = qx
            .enqueue(
                TEST_TINS,
                &mut full,
                &p,
                pkt(77, 0, 100),
                keys(1, 0, 0),
                0,
                &mut sink,
            )
            .unwrap_err();
        assert_eq!(back.id, 77);
        assert_eq!(qx.stats().packets, 0);
    }

    #[test]
    fn slot_cap_keeps_one_tin_from_draining_the_pool() {
        let mut t = table(256, 0);
        let p = params(0, FlowMode::Flows).with_max_flows(16);
        let mut q0 = TinQueue::new();
        let mut sink = |_p: TestPacket, _r: DropReason| {};
        for f in 0..1000u32 {
            q0.enqueue(0, &mut t, &p, pkt(0, 0, 100), keys(f, 0, 0), 0, &mut sink)
                .unwrap();
        }
        // 16 pool slots at most, and its reserved slot for flows whose sets
        // hold none of its 16.
        assert!(
            t.flows_in_use() - t.reserved_in_use() <= 16,
            "the cap holds"
        );
        assert!(q0.flows_held() <= 17);
        assert_eq!(q0.backlog_packets(), 1000, "nothing refused");
        assert!(
            q0.stats().ways.collisions > 0 && q0.stats().reserved_slot_uses > 0,
            "{:?}",
            q0.stats()
        );
        assert_tin(&q0, 0, &t);
        // Others still find room in the pool.
        let mut q1 = TinQueue::new();
        for f in 0..16u32 {
            let idx = q1
                .enqueue(1, &mut t, &p, pkt(0, 1, 100), keys(f, 0, 0), 0, &mut sink)
                .unwrap();
            assert!(!t.is_reserved(idx));
        }
        assert_eq!(q1.stats().reserved_slot_uses, 0);
        assert_tin(&q1, 1, &t);
        t.assert_consistent();
    }

    #[test]
    fn drop_fattest_takes_from_longest_flow_and_feeds_blue() {
        let mut t = table(64, 0);
        let p = params(0, FlowMode::Flows);
        let mut q = TinQueue::new();
        let mut sink = |_p: TestPacket, _r: DropReason| {};
        for (f, n) in [(1u32, 3u64), (2, 10), (3, 5)] {
            for i in 0..n {
                q.enqueue(0, &mut t, &p, pkt(i, f, 500), keys(f, 0, 0), 0, &mut sink)
                    .unwrap();
            }
        }
        let (got, slot) = q.drop_fattest(0, &mut t, &p, 10 * MS).unwrap();
        assert_eq!(t.slot_key(slot), Some((0, 2)), "the slot it came from");
        assert_eq!((got.tag, got.id), (2, 0), "head of the fattest flow");
        assert_eq!(q.stats().overlimit_drops, 1);
        assert_eq!(q.stats().unresponsive_flows, 1, "BLUE armed");
        assert_tin(&q, 0, &t);
        // Drain by drop_fattest alone: slots come back.
        while q.drop_fattest(0, &mut t, &p, 10 * MS).is_some() {}
        assert_eq!(q.backlog_packets(), 0);
        assert_eq!(t.flows_in_use(), 0);
        assert_tin(&q, 0, &t);
        t.assert_consistent();
    }

    #[test]
    fn blue_drops_unresponsive_flow_on_repeated_overflow() {
        let mut t = table(64, 0);
        let p = params(0, FlowMode::Flows);
        let mut q = TinQueue::new();
        let mut drops = Drops::new();
        let mut now = 0;
        let mut id = 0;
        // 40 packets in, a memory limit of 20 enforced by drop_fattest, one
        // packet out, every 10 ms: the queue keeps overflowing.
        for _ in 0..200 {
            now += 10 * MS;
            for _ in 0..40 {
                id += 1;
                let mut pk = pkt(id, 1, 1000);
                pk.ect = true;
                q.enqueue(0, &mut t, &p, pk, keys(1, 0, 0), now, &mut |p, r| {
                    drops.push((p, r))
                })
                .unwrap();
            }
            while q.backlog_packets() > 20 {
                q.drop_fattest(0, &mut t, &p, now).unwrap();
            }
            q.dequeue(0, &mut t, &p, now, &mut |p, r| drops.push((p, r)));
        }
        assert_eq!(q.stats().unresponsive_flows, 1);
        // BLUE drops at dequeue even though every packet is ECN-capable.
        assert!(q.stats().cobalt_drops > 10, "{:?}", q.stats());
        assert!(drops.iter().all(|d| d.1 == DropReason::Cobalt));
        assert_tin(&q, 0, &t);
    }

    /// A window-based, ACK-clocked TCP-like source (Reno-ish: slow start,
    /// +1 packet per window of ACKs, halve on a mark or loss, at most once
    /// per round trip). ACK clocking matters: without it a queue that marks
    /// but does not drop could never drain.
    #[derive(Default)]
    struct Reno {
        cwnd: u64,
        acked: u64,
        inflight: u64,
        slow_start: bool,
        last_cut: u64,
    }

    /// Runs `flows` Reno flows with a 50 ms base rtt through one tin at
    /// `rate` bytes/s for `secs` seconds. Returns (stats, mean sojourn ns and
    /// bytes delivered, both over the second half).
    fn reno_run(rate: u64, flows: usize, ect: bool, secs: u64) -> (TinStats, u64, u64) {
        use std::collections::VecDeque;
        let rtt = 50 * MS;
        let len = 1500u32;
        let mut t = table(256, 0);
        let p = params(rate, FlowMode::Flows);
        let mut q = TinQueue::new();
        let mut srcs: Vec<Reno> = (0..flows)
            .map(|_| Reno {
                cwnd: 4,
                slow_start: true,
                ..Reno::default()
            })
            .collect();
        // Feedback reaching the sender: (time, flow, congestion signal, lost).
        let mut acks: VecDeque<(u64, usize, bool, bool)> = VecDeque::new();
        let tx = u64::from(len) * 1_000_000_000 / rate;
        let mut next_tx = 0u64;
        let end = secs * 1_000 * MS;
        let (mut delay_sum, mut delay_n, mut bytes) = (0u64, 0u64, 0u64);
        let mut id = 0u64;
        let mut now = 0u64;
        while now < end {
            // Senders fill their windows.
            for (f, s) in srcs.iter_mut().enumerate() {
                while s.inflight < s.cwnd {
                    id += 1;
                    let mut pk = pkt(id, f as u32, len);
                    pk.ect = ect;
                    let k = keys(f as u32, 0, 0);
                    q.enqueue(0, &mut t, &p, pk, k, now, &mut |_, _| {
                        panic!("enqueue drop")
                    })
                    .unwrap();
                    s.inflight += 1;
                }
            }
            if q.is_backlogged() && next_tx <= now {
                let mut lost = Vec::new();
                let out = q.dequeue(0, &mut t, &p, now, &mut |pk, _| lost.push(pk.tag));
                for f in lost {
                    acks.push_back((now + rtt, f as usize, true, true));
                }
                if let Some(pk) = out {
                    acks.push_back((now + rtt, pk.tag as usize, pk.ce, false));
                    if now > end / 2 {
                        delay_sum += now - pk.enqueue_time;
                        delay_n += 1;
                        bytes += u64::from(pk.len);
                    }
                }
                next_tx = now + tx;
            }
            while let Some(&(at, f, signal, _lost)) = acks.front() {
                if at > now {
                    break;
                }
                acks.pop_front();
                let s = &mut srcs[f];
                s.inflight -= 1;
                if signal {
                    if now >= s.last_cut + rtt {
                        s.cwnd = (s.cwnd / 2).max(2);
                        s.last_cut = now;
                        s.slow_start = false;
                    }
                } else if s.slow_start {
                    s.cwnd += 1;
                } else {
                    s.acked += 1;
                    if s.acked >= s.cwnd {
                        s.acked = 0;
                        s.cwnd += 1;
                    }
                }
            }
            let next_ack = acks.front().map_or(u64::MAX, |a| a.0);
            let next_link = if q.is_backlogged() {
                next_tx.max(now)
            } else {
                u64::MAX
            };
            now = next_ack.min(next_link);
            if now == u64::MAX {
                break;
            }
        }
        assert_tin(&q, 0, &t);
        (*q.stats(), delay_sum / delay_n.max(1), bytes)
    }

    #[test]
    fn cobalt_holds_delay_near_target_under_overload() {
        let rate = 1_250_000; // 10 Mbit/s
        let (st, delay, bytes) = reno_run(rate, 4, false, 20);
        let target = params(rate, FlowMode::Flows).cobalt().target;
        assert!(st.cobalt_drops > 0 && st.ecn_marks == 0, "{st:?}");
        assert!(
            delay < 2 * target,
            "mean sojourn {delay} ns, target {target}"
        );
        // The link stays busy (second half: 10 s).
        assert!(bytes * 100 >= rate * 10 * 85, "{bytes}");
    }

    #[test]
    fn cobalt_marks_ecn_flows_instead_of_dropping() {
        let rate = 1_250_000;
        let (st, delay, bytes) = reno_run(rate, 4, true, 20);
        let target = params(rate, FlowMode::Flows).cobalt().target;
        assert!(st.ecn_marks > 0 && st.cobalt_drops == 0, "{st:?}");
        assert!(
            delay < 2 * target,
            "mean sojourn {delay} ns, target {target}"
        );
        assert!(bytes * 100 >= rate * 10 * 85, "{bytes}");
    }

    fn ack(conn: u32, seq: u32) -> crate::sched::packet::AckInfo {
        crate::sched::packet::AckInfo {
            conn_hash: conn,
            ack_seq: seq,
            flags: 0x10,
            ..Default::default()
        }
    }

    #[test]
    fn ack_filter_at_enqueue() {
        let mut t = table(64, 0);
        let p = TinParams::new(
            0,
            1514,
            &CobaltConfig::default(),
            FlowMode::Flows,
            AckFilterMode::Conservative,
        );
        let mut q = TinQueue::new();
        let mut drops = Drops::new();
        for (i, seq) in [100u32, 200, 300, 400].into_iter().enumerate() {
            let mut pk = pkt(i as u64, 1, 60);
            pk.ack = Some(ack(7, seq));
            q.enqueue(0, &mut t, &p, pk, keys(1, 0, 0), 0, &mut |p, r| {
                drops.push((p, r))
            })
            .unwrap();
            assert_tin(&q, 0, &t);
        }
        let ids: Vec<(u64, DropReason)> = drops.iter().map(|d| (d.0.id, d.1)).collect();
        assert_eq!(
            ids,
            [(0, DropReason::AckFilter), (1, DropReason::AckFilter)]
        );
        assert_eq!(q.stats().ack_drops, 2);
        assert_eq!(q.backlog_packets(), 2);
        // Off: nothing filtered.
        let off = params(0, FlowMode::Flows);
        let mut q2 = TinQueue::new();
        for seq in [100u32, 200, 300] {
            let mut pk = pkt(0, 1, 60);
            pk.ack = Some(ack(7, seq));
            q2.enqueue(1, &mut t, &off, pk, keys(1, 0, 0), 0, &mut |_, _| panic!())
                .unwrap();
        }
        assert_eq!(q2.backlog_packets(), 3);
    }

    #[test]
    fn reset_drops_everything_and_frees_slots() {
        let mut t = table(64, 64);
        let p = params(0, FlowMode::TripleIsolate);
        let mut q = TinQueue::new();
        let mut drops = Drops::new();
        for i in 0..50u32 {
            q.enqueue(
                3,
                &mut t,
                &p,
                pkt(i.into(), 0, 100 + i),
                keys(i % 7, i % 3, i % 5),
                0,
                &mut |p, r| drops.push((p, r)),
            )
            .unwrap();
        }
        assert!(t.hosts_in_use() > 0);
        q.reset(3, &mut t, &mut |p, r| drops.push((p, r)));
        assert_eq!(drops.len(), 50);
        assert!(drops.iter().all(|d| d.1 == DropReason::Reconfigure));
        assert_eq!(q.stats().reset_drops, 50);
        assert_eq!((t.flows_in_use(), t.hosts_in_use()), (0, 0));
        assert_tin(&q, 3, &t);
        t.assert_consistent();
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Enqueue {
                tin: usize,
                flow: u32,
                src: u32,
                dst: u32,
                len: u32,
                ect: bool,
                ack: Option<u32>,
            },
            Dequeue(usize),
            DropFattest(usize),
            Reset(usize),
            Advance(u64),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                6 => (0..3usize, 0..12u32, 0..3u32, 0..3u32, 40..1600u32, any::<bool>(),
                      proptest::option::of(0..6u32))
                    .prop_map(|(tin, flow, src, dst, len, ect, ack)| Op::Enqueue {
                        tin, flow, src, dst, len, ect, ack
                    }),
                4 => (0..3usize).prop_map(Op::Dequeue),
                1 => (0..3usize).prop_map(Op::DropFattest),
                1 => (0..3usize).prop_map(Op::Reset),
                2 => (0..40u64).prop_map(|ms| Op::Advance(ms * MS)),
            ]
        }

        /// Per-tin packets the test saw leave: dequeued, via the sink, or
        /// returned by drop_fattest.
        #[derive(Default, Debug)]
        struct Seen {
            accepted: u64,
            dequeued: u64,
            dropped: u64,
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn accounting_holds_and_slots_never_leak(
                ops in proptest::collection::vec(op(), 1..300)
            ) {
                // A small pool shared by three differently configured tins,
                // so collisions and exhaustion happen (and reserved slots
                // are used).
                let mut t = table(16, 8);
                let cfg = CobaltConfig::preset(crate::sched::cobalt::RttPreset::Lan);
                let params = [
                    TinParams::new(1_000_000, 1514, &cfg, FlowMode::TripleIsolate,
                                   AckFilterMode::Aggressive),
                    TinParams::new(0, 1514, &cfg, FlowMode::DualDstHost,
                                   AckFilterMode::Conservative),
                    TinParams::new(125_000, 1514, &cfg, FlowMode::Flows, AckFilterMode::Off)
                        .with_max_flows(4),
                ];
                let mut tins = [TinQueue::new(), TinQueue::new(), TinQueue::new()];
                let mut seen: [Seen; 3] = Default::default();
                let mut now = 0u64;
                let mut id = 0u64;
                for op in ops {
                    match op {
                        Op::Enqueue { tin, flow, src, dst, len, ect, ack } => {
                            id += 1;
                            let mut pk = pkt(id, tin as u32, len);
                            pk.ect = ect;
                            pk.ack = ack.map(|s| super::ack(flow, s * 100));
                            let k = keys(flow, src, dst);
                            let mut dropped = 0;
                            let r = tins[tin].enqueue(tin as u32, &mut t, &params[tin], pk, k,
                                                      now, &mut |_, _| dropped += 1);
                            seen[tin].dropped += dropped;
                            match r {
                                Ok(idx) => {
                                    seen[tin].accepted += 1;
                                    prop_assert_eq!(t.slot_key(idx).map(|k| k.0), Some(tin as u32));
                                }
                                Err(p) => prop_assert!(false, "packet {} refused", p.id),
                            }
                        }
                        Op::Dequeue(tin) => {
                            let mut dropped = 0;
                            let got = tins[tin].dequeue(tin as u32, &mut t, &params[tin], now,
                                                        &mut |_, _| dropped += 1);
                            seen[tin].dropped += dropped;
                            if let Some(p) = got {
                                prop_assert_eq!(p.tag, tin as u32);
                                seen[tin].dequeued += 1;
                            }
                        }
                        Op::DropFattest(tin) => {
                            let backlogs = |t: &Table| -> Vec<u32> {
                                (0..t.slot_count())
                                    .map(|i| (t.slot_key(i).unwrap().0, t.slot(i).unwrap().backlog))
                                    .map(|(o, b)| if o == tin as u32 { b } else { 0 })
                                    .collect()
                            };
                            let before = backlogs(&t);
                            let max = before.iter().copied().max().unwrap_or(0);
                            if tins[tin].drop_fattest(tin as u32, &mut t, &params[tin], now)
                                .is_some()
                            {
                                seen[tin].dropped += 1;
                                // The victim held at least half the fattest's bytes.
                                let after = backlogs(&t);
                                let victim = (0..before.len())
                                    .find(|&i| after[i] < before[i])
                                    .unwrap();
                                prop_assert!(before[victim] * 2 >= max);
                            } else {
                                prop_assert_eq!(max, 0);
                            }
                        }
                        Op::Reset(tin) => {
                            let mut dropped = 0;
                            tins[tin].reset(tin as u32, &mut t, &mut |_, _| dropped += 1);
                            seen[tin].dropped += dropped;
                        }
                        Op::Advance(dt) => now += dt,
                    }
                    for (i, q) in tins.iter().enumerate() {
                        assert_tin(q, i as u32, &t);
                        // The cap, plus the reserved slot.
                        prop_assert!(q.flows_held() <= params[i].max_flows() + 1);
                        let st = q.stats();
                        prop_assert_eq!(st.packets, seen[i].accepted);
                        prop_assert_eq!(st.dequeued_packets, seen[i].dequeued);
                        prop_assert_eq!(st.dropped_packets, seen[i].dropped);
                    }
                    t.assert_consistent();
                }
                // Every queued packet comes out (no flow is stranded) and the
                // drained tins hold no slots.
                for (i, q) in tins.iter_mut().enumerate() {
                    let mut n = 0u64;
                    let before = u64::from(q.backlog_packets());
                    let mut dropped = 0u64;
                    while q.dequeue(i as u32, &mut t, &params[i], now, &mut |_, _| dropped += 1)
                        .is_some()
                    {
                        n += 1;
                        prop_assert!(n <= before);
                    }
                    prop_assert_eq!(n + dropped, before);
                    assert_tin(q, i as u32, &t);
                }
                prop_assert_eq!((t.flows_in_use(), t.hosts_in_use()), (0, 0));
                t.assert_consistent();
            }
        }
    }
}
