// SPDX-License-Identifier: GPL-2.0
//! Everything inside one tin: CAKE's flow queueing for one subscriber.
//! Packets are hashed to flows (with CAKE's host isolation modes), flows are
//! served by DRR++ over new/old/decaying lists so sparse flows go first, each
//! flow is managed by COBALT, and the ACK filter runs at enqueue. The flow
//! state lives in the shared [`FlowTable`]; a [`TinQueue`] is only list heads,
//! counters and stats, so an idle tin is small and holds no flow slots (the
//! tin gives all its slots back whenever its last packet leaves).

use crate::sched::ack_filter::{self, AckFilterMode};
use crate::sched::alloc::SliceAlloc;
use crate::sched::cobalt::{CobaltConfig, CobaltParams};
use crate::sched::flow_table::{FlowList, FlowSet, FlowTable, WayStats, NONE};
use crate::sched::packet::{DropReason, FlowKeys, Packet, PacketQueue};

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

/// A tin's configuration as the queueing needs it. Cheap to rebuild: a tin
/// can be re-rated between any two calls without touching its packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TinParams {
    rate: u64,
    flow_quantum: u32,
    cobalt: CobaltParams,
    flow_mode: FlowMode,
    ack_filter: AckFilterMode,
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
        let flow_quantum = if rate == 0 {
            1514
        } else {
            (rate >> 12).clamp(300, 1514) as u32
        };
        Self {
            rate,
            flow_quantum,
            cobalt: CobaltParams::new(cobalt, rate, mtu),
            flow_mode,
            ack_filter,
        }
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
/// same in bytes. Refused packets were never enqueued and are counted apart.
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
    pub cobalt_drops: u64,
    /// Dropped by the ACK filter.
    pub ack_drops: u64,
    /// Dropped by `drop_fattest` (the memory limit).
    pub overlimit_drops: u64,
    /// Dropped by `reset`.
    pub reset_drops: u64,
    /// Refused at enqueue: no flow slot in the shared pool.
    pub refused: u64,
    /// Packets marked CE by COBALT.
    pub ecn_marks: u64,
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

/// The queueing state of one tin: list heads into the shared
/// [`FlowTable`], counters and a PRNG state. `Default` is an idle tin.
#[derive(Debug, Clone, Default)]
pub struct TinQueue {
    new: FlowList,
    old: FlowList,
    decaying: FlowList,
    rng: u32,
    stats: TinStats,
}

/// After this many DRR++ steps in one dequeue, the head flow is served
/// whatever its deficit: tiny host-scaled quanta must not loop for long.
const MAX_DRR_STEPS: u32 = 4096;

/// `cake_ewma`.
fn ewma(avg: u64, sample: u64, shift: u32) -> u64 {
    avg - (avg >> shift) + (sample >> shift)
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

    /// `cake_get_flow_quantum`: the tin's quantum divided by the flow's host
    /// load, dithered so the rounding error averages out.
    fn quantum<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &FlowTable<Q, A>,
        params: &TinParams,
        idx: u32,
    ) -> i32 {
        let load = table.host_load(idx);
        let div = 65535 / load.max(1);
        let dither = self.rand(tin) & 0xFFFF;
        let q = (params
            .flow_quantum
            .saturating_mul(div)
            .saturating_add(dither))
            >> 16;
        q.max(1) as i32
    }

    fn list_of(&mut self, set: FlowSet) -> Option<&mut FlowList> {
        match set {
            FlowSet::Sparse => Some(&mut self.new),
            FlowSet::SparseWait | FlowSet::Bulk => Some(&mut self.old),
            FlowSet::Decaying => Some(&mut self.decaying),
            FlowSet::None => None,
        }
    }

    /// Moves flow `idx` (on the list of `from`) to the tail of `to`'s list.
    fn move_flow<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        table: &mut FlowTable<Q, A>,
        idx: u32,
        from: FlowSet,
        to: FlowSet,
    ) {
        if let Some(l) = self.list_of(from) {
            table.unlink(l, idx);
        }
        if let Some(l) = self.list_of(to) {
            table.push_tail(l, idx);
        }
        if let Some(s) = table.slot_mut(idx) {
            s.set = to;
        }
    }

    /// Queues `pkt` (its `adjusted_len` already set by the caller) at time
    /// `now` (ns). An ACK the filter removes goes to `sink`. Fails, giving
    /// the packet back, only when the shared pool has no flow slot for it.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        mut pkt: Q::Packet,
        keys: FlowKeys,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Result<(), (Q::Packet, DropReason)> {
        let mode = params.flow_mode;
        let tag = mode.flow_hash(&keys);
        let src = mode.isolates_src().then_some(keys.src_host_hash);
        let dst = mode.isolates_dst().then_some(keys.dst_host_hash);
        let Some(idx) = table.lookup(tin, tag, src, dst, &mut self.stats.ways) else {
            self.stats.refused = self.stats.refused.saturating_add(1);
            return Err((pkt, DropReason::FlowPoolExhausted));
        };
        let len = pkt.len();
        pkt.set_enqueue_time(now);
        let ack = match params.ack_filter {
            AckFilterMode::Off => None,
            _ => pkt.ack_info(),
        };
        let Some(slot) = table.slot_mut(idx) else {
            return Err((pkt, DropReason::FlowPoolExhausted));
        };
        if let Some(ack) = ack {
            if let Some(old) = ack_filter::filter(&mut slot.queue, &ack, params.ack_filter) {
                let olen = old.len();
                slot.backlog = slot.backlog.saturating_sub(olen);
                slot.packets = slot.packets.saturating_sub(1);
                let st = &mut self.stats;
                st.backlog_bytes = st.backlog_bytes.saturating_sub(u64::from(olen));
                st.backlog_packets = st.backlog_packets.saturating_sub(1);
                st.ack_drops += 1;
                st.dropped_packets += 1;
                st.dropped_bytes += u64::from(olen);
                sink(old, DropReason::AckFilter);
            }
        }
        slot.queue.push_back(pkt);
        slot.backlog = slot.backlog.saturating_add(len);
        slot.packets = slot.packets.saturating_add(1);
        let set = slot.set;
        let blue_active = slot.cvars.p_drop() != 0;

        let st = &mut self.stats;
        st.packets += 1;
        st.bytes += u64::from(len);
        st.backlog_bytes += u64::from(len);
        st.backlog_packets = st.backlog_packets.saturating_add(1);
        st.max_pkt_len = st.max_pkt_len.max(len);

        match set {
            FlowSet::None | FlowSet::Decaying => {
                if set == FlowSet::None {
                    // A reclaimed slot may still carry BLUE state.
                    if blue_active {
                        st.unresponsive_flows += 1;
                    }
                } else {
                    st.decaying_flows = st.decaying_flows.saturating_sub(1);
                }
                self.stats.sparse_flows += 1;
                self.move_flow(table, idx, set, FlowSet::Sparse);
                let q = self.quantum(tin, table, params, idx);
                if let Some(s) = table.slot_mut(idx) {
                    s.deficit = q;
                }
            }
            FlowSet::SparseWait => {
                // Empty, counted sparse, already in the bulk rotation.
                st.sparse_flows = st.sparse_flows.saturating_sub(1);
                st.bulk_flows += 1;
                if let Some(s) = table.slot_mut(idx) {
                    s.set = FlowSet::Bulk;
                }
                table.flow_bulk(idx, true);
            }
            FlowSet::Sparse | FlowSet::Bulk => {}
        }
        Ok(())
    }

    /// Next packet of this tin at time `now` (ns) by DRR++ and COBALT, or
    /// `None` if the tin is empty. Packets COBALT drops go to `sink`.
    pub fn dequeue<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        now: u64,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) -> Option<Q::Packet> {
        let mut first_flow = true;
        let mut steps = 0u32;
        loop {
            if self.stats.sparse_flows == 0 && self.stats.bulk_flows == 0 {
                if self.stats.backlog_packets == 0 {
                    self.release_all(table);
                }
                return None;
            }
            // Decaying flows get one look per call so their state decays.
            let idx = if first_flow && !self.decaying.is_empty() {
                self.decaying.head
            } else if !self.new.is_empty() {
                self.new.head
            } else if !self.old.is_empty() {
                self.old.head
            } else {
                self.decaying.head
            };
            first_flow = false;
            let slot = table.slot(idx)?;
            let set = slot.set;
            steps = steps.saturating_add(1);

            if slot.deficit <= 0 && steps <= MAX_DRR_STEPS {
                let mut to = FlowSet::Bulk;
                match set {
                    FlowSet::Sparse if slot.packets != 0 => {
                        self.stats.sparse_flows -= 1;
                        self.stats.bulk_flows += 1;
                        table.flow_bulk(idx, true);
                    }
                    // Counted sparse until it has packets again.
                    FlowSet::Sparse => to = FlowSet::SparseWait,
                    FlowSet::Decaying => to = FlowSet::Decaying,
                    _ => to = set,
                }
                let q = self.quantum(tin, table, params, idx);
                if let Some(s) = table.slot_mut(idx) {
                    s.deficit = s.deficit.saturating_add(q);
                }
                self.move_flow(table, idx, set, to);
                continue;
            }

            // COBALT: drop until a packet passes or the flow is empty. Bounded
            // by the flow's queue length.
            loop {
                let slot = table.slot_mut(idx)?;
                let Some(mut pkt) = slot.queue.pop_front() else {
                    self.flow_emptied(table, params, idx, now);
                    break;
                };
                let len = pkt.len();
                slot.backlog = slot.backlog.saturating_sub(len);
                slot.packets = slot.packets.saturating_sub(1);
                let st = &mut self.stats;
                st.backlog_bytes = st.backlog_bytes.saturating_sub(u64::from(len));
                st.backlog_packets = st.backlog_packets.saturating_sub(1);
                let rand = self.rand(tin);
                let drop = slot
                    .cvars
                    .should_drop(&params.cobalt, now, &mut pkt, 0, rand);
                // The last packet of a flow is never dropped (only marked).
                if drop && slot.packets != 0 {
                    let st = &mut self.stats;
                    st.cobalt_drops += 1;
                    st.dropped_packets += 1;
                    st.dropped_bytes += u64::from(len);
                    sink(pkt, DropReason::Cobalt);
                    continue;
                }
                if slot.cvars.ecn_marked() {
                    self.stats.ecn_marks += 1;
                }
                slot.deficit = slot
                    .deficit
                    .saturating_sub(i32::try_from(pkt.adjusted_len()).unwrap_or(i32::MAX));
                let st = &mut self.stats;
                let delay = now.saturating_sub(pkt.enqueue_time());
                st.avg_delay_ns = ewma(st.avg_delay_ns, delay, 8);
                let shift = if delay > st.peak_delay_ns { 2 } else { 8 };
                st.peak_delay_ns = ewma(st.peak_delay_ns, delay, shift);
                let shift = if delay < st.base_delay_ns { 2 } else { 8 };
                st.base_delay_ns = ewma(st.base_delay_ns, delay, shift);
                st.dequeued_packets += 1;
                st.dequeued_bytes += u64::from(len);
                if st.backlog_packets == 0 {
                    self.release_all(table);
                }
                return Some(pkt);
            }
        }
    }

    /// DRR++ found flow `idx` empty: keep it on the decaying list until its
    /// COBALT state rests, else give the slot back.
    fn flow_emptied<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        idx: u32,
        now: u64,
    ) {
        let Some(slot) = table.slot_mut(idx) else {
            return;
        };
        let set = slot.set;
        if slot.cvars.queue_empty(&params.cobalt, now) {
            self.stats.unresponsive_flows = self.stats.unresponsive_flows.saturating_sub(1);
        }
        let at_rest = slot.cvars.at_rest(now);
        let st = &mut self.stats;
        match set {
            FlowSet::Sparse | FlowSet::SparseWait => {
                st.sparse_flows = st.sparse_flows.saturating_sub(1)
            }
            FlowSet::Bulk => st.bulk_flows = st.bulk_flows.saturating_sub(1),
            FlowSet::Decaying => st.decaying_flows = st.decaying_flows.saturating_sub(1),
            FlowSet::None => {}
        }
        if set == FlowSet::Bulk {
            table.flow_bulk(idx, false);
        }
        if at_rest {
            if let Some(l) = self.list_of(set) {
                table.unlink(l, idx);
            }
            // Already uncounted from bulk above: free it as a plain slot.
            if let Some(s) = table.slot_mut(idx) {
                s.set = FlowSet::Decaying;
            }
            table.release(idx);
        } else {
            self.stats.decaying_flows += 1;
            self.move_flow(table, idx, set, FlowSet::Decaying);
        }
    }

    /// Gives every flow slot of this (empty) tin back to the pool: an idle
    /// tin holds no flow state. Bounded by the pool size.
    fn release_all<Q: PacketQueue, A: SliceAlloc>(&mut self, table: &mut FlowTable<Q, A>) {
        let cap = table.flow_capacity();
        for list in [&mut self.new, &mut self.old, &mut self.decaying] {
            let mut idx = list.head;
            let mut n = 0u32;
            while idx != NONE && n <= cap {
                n += 1;
                let next = table.slot(idx).map_or(NONE, |s| s.next);
                table.release(idx);
                idx = next;
            }
            *list = FlowList::default();
        }
        let st = &mut self.stats;
        st.sparse_flows = 0;
        st.bulk_flows = 0;
        st.decaying_flows = 0;
        st.unresponsive_flows = 0;
    }

    /// Drops the head packet of this tin's fattest flow (most queued bytes),
    /// for the caller's memory limit, and returns it; BLUE is told the flow
    /// overflowed. Scans this tin's active flows only.
    pub fn drop_fattest<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        params: &TinParams,
        now: u64,
    ) -> Option<Q::Packet> {
        let _ = tin;
        let cap = table.flow_capacity();
        let mut best = NONE;
        let mut best_backlog = 0u32;
        for list in [&self.new, &self.old] {
            let mut idx = list.head;
            let mut n = 0u32;
            while idx != NONE && n <= cap {
                n += 1;
                let Some(s) = table.slot(idx) else { break };
                if s.backlog > best_backlog {
                    best = idx;
                    best_backlog = s.backlog;
                }
                idx = s.next;
            }
        }
        let slot = table.slot_mut(best)?;
        let pkt = slot.queue.pop_front()?;
        let len = pkt.len();
        slot.backlog = slot.backlog.saturating_sub(len);
        slot.packets = slot.packets.saturating_sub(1);
        let up = slot.cvars.queue_full(&params.cobalt, now);
        let st = &mut self.stats;
        if up {
            st.unresponsive_flows += 1;
        }
        st.backlog_bytes = st.backlog_bytes.saturating_sub(u64::from(len));
        st.backlog_packets = st.backlog_packets.saturating_sub(1);
        st.overlimit_drops += 1;
        st.dropped_packets += 1;
        st.dropped_bytes += u64::from(len);
        if st.backlog_packets == 0 {
            self.release_all(table);
        }
        Some(pkt)
    }

    /// Drops every queued packet to `sink` (as [`DropReason::Reconfigure`])
    /// and gives all flow slots back. Stats counters are kept.
    pub fn reset<Q: PacketQueue, A: SliceAlloc>(
        &mut self,
        tin: u32,
        table: &mut FlowTable<Q, A>,
        sink: &mut dyn FnMut(Q::Packet, DropReason),
    ) {
        let _ = tin;
        let cap = table.flow_capacity();
        for list in [&self.new, &self.old] {
            let mut idx = list.head;
            let mut n = 0u32;
            while idx != NONE && n <= cap {
                n += 1;
                let Some(s) = table.slot_mut(idx) else { break };
                // Bounded by the flow's queue length.
                while let Some(p) = s.queue.pop_front() {
                    let len = u64::from(p.len());
                    let st = &mut self.stats;
                    st.reset_drops += 1;
                    st.dropped_packets += 1;
                    st.dropped_bytes += len;
                    st.backlog_bytes = st.backlog_bytes.saturating_sub(len);
                    st.backlog_packets = st.backlog_packets.saturating_sub(1);
                    sink(p, DropReason::Reconfigure);
                }
                s.backlog = 0;
                s.packets = 0;
                idx = s.next;
            }
        }
        self.release_all(table);
    }
}
