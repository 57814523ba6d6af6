// SPDX-License-Identifier: GPL-2.0
//! The shared flow pool. CAKE gives every tin its own 1024-flow table
//! (~100 KiB); with thousands of tins that is a gigabyte, almost all of it
//! idle. Here all tins draw flow slots from one set-associative table keyed
//! by (tin, flow hash), and host slots (for dual/triple isolation) from a
//! second one keyed by (tin, host hash, direction). A tin holds slots only
//! while it has packets (its emptied flows whose AQM state is still decaying
//! are kept until then, as in CAKE), and gives them all back when its last
//! packet leaves, so an idle tin costs nothing here. A freed slot keeps
//! its key and its host slots as hints: a subscriber whose queue empties
//! after every packet takes the same slots back without a search.
//!
//! Lookup is CAKE's 8-way scheme: a slot already tagged with the key, else a
//! free way, else a collision into a busy way **of the same tin** (the two
//! flows then share a queue, as in CAKE). Ways owned by other tins are never
//! taken. A tin at its slot cap (CAKE's 1024 queues by default) takes no
//! free way either, so one subscriber opening endless flows cannot drain
//! the pool that the others share.
//!
//! No subscriber can starve another of flow state: besides the pool, every
//! tin owns one **reserved flow slot** (a second array indexed by tin, with
//! slot indices `flow_capacity() + tin`, so the rest of the code treats it
//! as any other slot). When the pool has no way for a new flow (all ways of
//! both candidate sets belong to other tins, or the tin is at its cap and
//! owns none of them) the flow takes the tin's reserved slot, or, if the
//! tin's reserved slot is busy, collides into it and shares its queue. So
//! a lookup always finds a slot for a tin that has a reserved one, and a
//! few subscribers with thousands of flows each can no longer deny every
//! other subscriber its first packet. The reserved slot is released like
//! any other (an idle tin holds no flow state).
//! Host slots follow the pool scheme; a flow that finds none (pool full)
//! is queued without host isolation rather than refused.
//!
//! Each key has two candidate sets; a new flow goes to the emptier one, so
//! a set overflows only if both are full (with one choice, a pool half full
//! already turns a few percent of new flows away from their sets).
//!
//! Memory: `flows × FlowTable::flow_slot_size() + flows / 8 + hosts ×
//! FlowTable::host_slot_size()` for the pool (both counts rounded up to a
//! multiple of 8 ways), plus `tins × FlowTable::reserved_slot_size() +
//! tins / 8` for the reserved slots (see [`FlowTable::memory_bytes`]), all
//! allocated once by [`FlowTable::new`].

use core::mem::size_of;

use crate::sched::alloc::{AllocError, SliceAlloc};
use crate::sched::cobalt::CobaltVars;
use crate::sched::packet::PacketQueue;

/// Ways per set, as in CAKE.
pub const SET_WAYS: u32 = 8;

/// "No slot" in u32 slot links.
pub(crate) const NONE: u32 = u32::MAX;

/// Which of a tin's flow lists a flow slot is on (CAKE's `CAKE_SET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowSet {
    /// Free: on no list, owned by no tin (its tin and tag remain as a
    /// hint so the same flow can take it back).
    None,
    /// Sparse, on the new-flows list.
    Sparse,
    /// Counted sparse but already moved to the old-flows (bulk) rotation.
    SparseWait,
    /// Bulk, on the old-flows list.
    Bulk,
    /// Empty, on the decaying list until its COBALT state rests.
    Decaying,
}

/// One flow's state.
#[derive(Debug)]
pub(crate) struct FlowSlot<Q> {
    /// The flow's packets.
    pub(crate) queue: Q,
    /// COBALT state.
    pub(crate) cvars: CobaltVars,
    /// Queued bytes (`Packet::len`).
    pub(crate) backlog: u32,
    /// Queued packets.
    pub(crate) packets: u32,
    /// DRR++ deficit, bytes (`Packet::adjusted_len`).
    pub(crate) deficit: i32,
    /// Next slot on the same tin list, or [`NONE`].
    pub(crate) next: u32,
    /// Previous slot on the same tin list, or [`NONE`].
    pub(crate) prev: u32,
    /// Source host slot, or [`NONE`] when not isolating sources. A free
    /// slot keeps the last one as a hint (checked before use) for its
    /// flow coming back.
    pub(crate) src_host: u32,
    /// Destination host slot, or [`NONE`]; a hint while free, as above.
    pub(crate) dst_host: u32,
    /// Next slot in the same fat-index bucket, or [`NONE`].
    fat_next: u32,
    /// Previous slot in the same fat-index bucket, or [`NONE`].
    fat_prev: u32,
    /// Fat-index bucket, or [`NO_BUCKET`] while the flow is empty.
    fat_bucket: u8,
    /// Which list the slot is on.
    pub(crate) set: FlowSet,
    /// The diffserv band whose lists the slot is on (set when a packet
    /// brings it onto one; 0 without bands).
    pub(crate) band: u8,
    /// Copy of the slot's key (see `FlowTable::keys`), so a tin's last
    /// flow is confirmed from the slot alone.
    key: u64,
    /// The slot is its key's first-choice way (for [`WayStats`]).
    first_choice: bool,
}

impl<Q: Default> FlowSlot<Q> {
    fn empty() -> Self {
        Self {
            queue: Q::default(),
            cvars: CobaltVars::default(),
            backlog: 0,
            packets: 0,
            deficit: 0,
            next: NONE,
            prev: NONE,
            src_host: NONE,
            dst_host: NONE,
            fat_next: NONE,
            fat_prev: NONE,
            fat_bucket: NO_BUCKET,
            set: FlowSet::None,
            band: 0,
            key: u64::MAX,
            first_choice: false,
        }
    }
}

/// One host's identity for host isolation; how many of its flows are
/// bulk is kept apart (`FlowTable::host_bulk`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HostSlot {
    tin: u32,
    tag: u32,
    /// Busy flow slots pointing here; the slot is free at zero.
    refs: u32,
    /// 0 = source host, 1 = destination host.
    dir: u8,
}

impl HostSlot {
    const EMPTY: Self = Self {
        tin: NONE,
        tag: 0,
        refs: 0,
        dir: 0,
    };
}

/// Per-tin hash statistics, like CAKE's `way_*` tin stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WayStats {
    /// Found in its first-choice way.
    pub directs: u32,
    /// Found in another way of its set, or found again after being freed.
    pub hits: u32,
    /// Took a free way.
    pub misses: u32,
    /// Shared a busy way of the same tin.
    pub collisions: u32,
    /// A flow got no host slot and goes without host isolation.
    pub host_overflows: u32,
}

/// A tin's intrusive list of flow slots (head and tail indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowList {
    pub(crate) head: u32,
    pub(crate) tail: u32,
}

impl Default for FlowList {
    fn default() -> Self {
        Self {
            head: NONE,
            tail: NONE,
        }
    }
}

impl FlowList {
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NONE
    }
}

/// Buckets of a fat index: flows with backlog in `[2^(b+6), 2^(b+7))`
/// bytes are in bucket `b`; the last bucket takes everything from 2 MiB.
pub(crate) const FAT_BUCKETS: usize = 16;
const NO_BUCKET: u8 = u8::MAX;
/// Flows of the top bucket compared when picking the fattest.
const FAT_SCAN: u32 = 8;

/// A tin's index of its non-empty flows by log2 of their backlog, so the
/// memory limit finds a fat flow in O(1) (CAKE keeps a heap over all flows
/// of all tins, which would not scale to thousands of tins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FatIndex {
    heads: [u32; FAT_BUCKETS],
    /// Bit `b` set iff bucket `b` is non-empty.
    mask: u16,
}

impl Default for FatIndex {
    fn default() -> Self {
        Self {
            heads: [NONE; FAT_BUCKETS],
            mask: 0,
        }
    }
}

fn fat_bucket(backlog: u32) -> u8 {
    if backlog == 0 {
        return NO_BUCKET;
    }
    let log2 = 31 - backlog.leading_zeros();
    log2.saturating_sub(6).min(FAT_BUCKETS as u32 - 1) as u8
}

/// The shared pool of flow and host slots for all tins of a scheduler.
pub struct FlowTable<Q: PacketQueue, A: SliceAlloc> {
    /// Per flow slot, its (tin, flow hash) key; a free slot keeps its last
    /// key so the same flow can take it back with its AQM state. Apart from
    /// the slots so that a set's 8 keys share one cache line.
    keys: A::Slice<u64>,
    /// Per set, bit `w` set iff way `w` is busy (its `set` is not `None`).
    busy: A::Slice<u8>,
    /// The pool's slots (`0..flow_capacity()`), then one reserved slot per
    /// tin (`flow_capacity() + tin`).
    flows: A::Slice<FlowSlot<Q>>,
    /// Bit `tin` set iff `tin`'s reserved slot is busy: a dense bitmap, so
    /// a lookup can tell whether a flow may live there without touching
    /// the slot.
    reserved_busy: A::Slice<u64>,
    hosts: A::Slice<HostSlot>,
    /// Per host slot, its bulk flows (CAKE's `*host_bulk_flow_count`):
    /// all that serving a flow reads of its hosts, so kept dense (2 bytes
    /// a host) where it mostly stays in cache.
    host_bulk: A::Slice<u16>,
    flow_sets: u32,
    host_sets: u32,
    /// Tins with a reserved slot (`0..reserved`).
    reserved: u32,
    flows_used: u32,
    reserved_used: u32,
    hosts_used: u32,
}

/// Spreads (tin, hash, salt) over the table: tins must not share sets
/// systematically, or one busy tin could crowd out a neighbour.
fn mix(tin: u32, hash: u32, salt: u32) -> u32 {
    let mut x = hash ^ tin.wrapping_mul(0x9E37_79B9) ^ salt;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7FEB_352D);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846C_A68B);
    x ^= x >> 16;
    x
}

/// A key's candidate sets (two, or one if the table has one set), each as
/// (set, first-choice way). Two choices, filling the emptier set, keep sets
/// from overflowing long before the pool is full (one choice at half
/// occupancy already refuses a few percent of new flows).
fn candidates(tin: u32, hash: u32, salt: u32, sets: u32) -> ([(u32, u32); 2], usize) {
    let reduce = |x: u32| ((u64::from(x) * u64::from(sets)) >> 32) as u32;
    let x1 = mix(tin, hash, salt);
    let x2 = mix(tin, hash, salt ^ SECOND_SALT);
    let (s1, mut s2) = (reduce(x1), reduce(x2));
    if s2 == s1 {
        s2 = if s1.saturating_add(1) < sets {
            s1 + 1
        } else {
            0
        };
    }
    let way = |x: u32| x & (SET_WAYS - 1);
    let n = if sets > 1 { 2 } else { 1 };
    ([(s1, way(x1)), (s2, way(x2))], n)
}

/// Slot index of way `i` (counted from the first choice `inner`) of `set`.
fn way_idx(set: u32, inner: u32, i: u32) -> u32 {
    set.saturating_mul(SET_WAYS)
        .saturating_add(inner.wrapping_add(i) & (SET_WAYS - 1))
}

fn flow_key(tin: u32, tag: u32) -> u64 {
    (u64::from(tin) << 32) | u64::from(tag)
}

/// Number of 8-way sets for `n` slots, rounded up, if indices fit in u32.
fn sets_for(n: u32) -> Option<u32> {
    let sets = n.div_ceil(SET_WAYS);
    sets.checked_mul(SET_WAYS).filter(|&s| s < NONE)?;
    Some(sets)
}

const FLOW_SALT: u32 = 0;
const SECOND_SALT: u32 = 0x2545_F491;
const SRC_SALT: u32 = 0x5352_4348;
const DST_SALT: u32 = 0x4453_5448;

impl<Q: PacketQueue, A: SliceAlloc> FlowTable<Q, A> {
    /// Allocates room for `flows` flow slots and `hosts` host slots in the
    /// shared pool (each rounded up to a multiple of [`SET_WAYS`]), and one
    /// reserved flow slot for each of the tins `0..tins`. `hosts` may be 0
    /// if no tin uses dual or triple isolation. This is the only
    /// allocation.
    ///
    /// Sizing: a tin holds one flow slot per flow that has packets queued or
    /// whose AQM state is still decaying, and gives them all back when it
    /// empties; so `flows` bounds the flows in progress across all tins at
    /// once, and `hosts` (for dual/triple isolation) up to twice that. Keep
    /// the pool well above the expected peak: with 8 ways, sets fill
    /// unevenly well before the pool is full (flows that find no way then
    /// go to their tin's reserved slot, sharing it).
    pub fn new(alloc: &mut A, flows: u32, hosts: u32, tins: u32) -> Result<Self, AllocError> {
        let flow_sets = sets_for(flows).ok_or(AllocError)?;
        let host_sets = sets_for(hosts).ok_or(AllocError)?;
        let pool = flow_sets.saturating_mul(SET_WAYS);
        // Every slot index, reserved ones included, must stay below NONE.
        pool.checked_add(tins)
            .filter(|&n| n < NONE)
            .ok_or(AllocError)?;
        let nflows = pool as usize;
        let nhosts = (host_sets as usize).saturating_mul(SET_WAYS as usize);
        let keys = alloc.alloc_slice(nflows, |_| u64::MAX)?;
        let busy = alloc.alloc_slice(flow_sets as usize, |_| 0u8)?;
        let flows =
            alloc.alloc_slice(nflows.saturating_add(tins as usize), |_| FlowSlot::empty())?;
        let reserved_busy = alloc.alloc_slice(tins.div_ceil(64) as usize, |_| 0u64)?;
        let hosts = alloc.alloc_slice(nhosts, |_| HostSlot::EMPTY)?;
        let host_bulk = alloc.alloc_slice(nhosts, |_| 0u16)?;
        Ok(Self {
            keys,
            busy,
            flows,
            reserved_busy,
            hosts,
            host_bulk,
            flow_sets,
            host_sets,
            reserved: tins,
            flows_used: 0,
            reserved_used: 0,
            hosts_used: 0,
        })
    }

    /// Bytes of the table: [`pool_bytes`](Self::pool_bytes) and the
    /// reserved slots with their busy bits.
    pub fn memory_bytes(&self) -> usize {
        self.pool_bytes().saturating_add(self.reserved_bytes())
    }

    /// Bytes of the shared pool: flow slots with their keys, the per-set
    /// busy bits, and host slots.
    pub fn pool_bytes(&self) -> usize {
        self.keys
            .len()
            .saturating_mul(Self::flow_slot_size())
            .saturating_add(self.busy.len())
            .saturating_add(self.hosts.len().saturating_mul(Self::host_slot_size()))
    }

    /// Bytes of the reserved slots (one per tin) and their busy bitmap.
    pub fn reserved_bytes(&self) -> usize {
        (self.reserved as usize)
            .saturating_mul(Self::reserved_slot_size())
            .saturating_add(self.reserved_busy.len().saturating_mul(size_of::<u64>()))
    }

    /// Size of one flow slot of the pool with its key, bytes (plus one
    /// byte per 8 slots of busy bits).
    pub const fn flow_slot_size() -> usize {
        size_of::<FlowSlot<Q>>() + size_of::<u64>()
    }

    /// Size of one tin's reserved flow slot, bytes (plus one bit of the
    /// busy bitmap; it needs no key array entry).
    pub const fn reserved_slot_size() -> usize {
        size_of::<FlowSlot<Q>>()
    }

    /// Size of one host slot, bytes.
    pub const fn host_slot_size() -> usize {
        size_of::<HostSlot>() + size_of::<u16>()
    }

    /// Flow slots in the shared pool (reserved slots not included).
    pub fn flow_capacity(&self) -> u32 {
        self.flow_sets.saturating_mul(SET_WAYS)
    }

    /// Tins with a reserved flow slot (`0..reserved_slots()`).
    pub fn reserved_slots(&self) -> u32 {
        self.reserved
    }

    /// Every flow slot, pool and reserved: slot indices are below this.
    pub fn slot_count(&self) -> u32 {
        self.flow_capacity().saturating_add(self.reserved)
    }

    /// Reserved slots busy now (also counted in
    /// [`flows_in_use`](Self::flows_in_use)).
    pub fn reserved_in_use(&self) -> u32 {
        self.reserved_used
    }

    /// Index of `tin`'s reserved slot, if it has one.
    fn reserved_idx(&self, tin: u32) -> Option<u32> {
        (tin < self.reserved).then(|| self.flow_capacity().saturating_add(tin))
    }

    /// Is `tin`'s reserved slot busy?
    fn reserved_is_busy(&self, tin: u32) -> bool {
        self.reserved_busy
            .get((tin / 64) as usize)
            .is_some_and(|w| w & (1u64 << (tin % 64)) != 0)
    }

    /// Host slots in the pool.
    pub fn host_capacity(&self) -> u32 {
        self.host_sets.saturating_mul(SET_WAYS)
    }

    /// Flow slots (reserved ones included) currently owned by some tin.
    pub fn flows_in_use(&self) -> u32 {
        self.flows_used
    }

    /// Host slots currently referenced by some flow.
    pub fn hosts_in_use(&self) -> u32 {
        self.hosts_used
    }

    /// Prefetches flow slot `idx`.
    pub(crate) fn prefetch_slot(&self, idx: u32) {
        if let Some(s) = self.flows.get(idx as usize) {
            A::prefetch(s);
        }
    }

    /// Prefetches what serving flow `idx` reads beyond its slot: the head
    /// packet and the host bulk counts that scale its quantum. Reads the slot,
    /// so call it once [`prefetch_slot`](Self::prefetch_slot) had time.
    pub(crate) fn prefetch_slot_data(&self, idx: u32) {
        let Some(s) = self.flows.get(idx as usize) else {
            return;
        };
        s.queue.prefetch_front();
        for h in [s.src_host, s.dst_host] {
            if let Some(bulk) = self.host_bulk.get(h as usize) {
                A::prefetch(bulk);
            }
        }
    }

    pub(crate) fn slot(&self, idx: u32) -> Option<&FlowSlot<Q>> {
        self.flows.get(idx as usize)
    }

    pub(crate) fn slot_mut(&mut self, idx: u32) -> Option<&mut FlowSlot<Q>> {
        self.flows.get_mut(idx as usize)
    }

    /// Finds the flow slot of (`tin`, `tag`), or claims one if `may_claim`
    /// (the tin is under its slot cap). `src`/`dst` are the host hashes when
    /// the tin isolates by that host. A claimed slot comes back with
    /// `set == None`: the caller puts it on a list.
    ///
    /// When the pool has no way for the flow, it goes to `tin`'s reserved
    /// slot (taking it if free, else sharing its queue); the `bool` is then
    /// true: a new flow used the reserved slot. `None` only if `tin` has no
    /// reserved slot (it is not below [`reserved_slots`](Self::reserved_slots))
    /// and the pool has no way for it.
    pub(crate) fn lookup(
        &mut self,
        tin: u32,
        tag: u32,
        src: Option<u32>,
        dst: Option<u32>,
        may_claim: bool,
        ways: &mut WayStats,
    ) -> Option<(u32, bool)> {
        let key = flow_key(tin, tag);
        let reserved = self.reserved_idx(tin);
        let reserved_busy = self.reserved_is_busy(tin);
        // A flow that went to the reserved slot lives there until it
        // empties: it must not get a second slot (and queue) in the pool.
        if let Some(r) = reserved.filter(|_| reserved_busy) {
            if self.flows.get(r as usize).is_some_and(|s| s.key == key) {
                ways.hits = ways.hits.wrapping_add(1);
                return Some((r, false));
            }
        }
        if let Some(idx) = self.lookup_pool(tin, tag, key, src, dst, may_claim, ways) {
            return Some((idx, false));
        }
        let r = reserved?;
        if reserved_busy {
            self.collide(r, key, src, dst, ways)?;
            ways.collisions = ways.collisions.wrapping_add(1);
        } else {
            let same_flow = self.flows.get(r as usize).is_some_and(|s| s.key == key);
            self.claim(r, key, src, dst, same_flow, ways)?;
            ways.misses = ways.misses.wrapping_add(1);
        }
        self.set_first_choice(r, false);
        Some((r, true))
    }

    /// [`lookup`](Self::lookup) in the shared pool alone: `None` if it has
    /// no way for this tin.
    #[allow(clippy::too_many_arguments)]
    fn lookup_pool(
        &mut self,
        tin: u32,
        tag: u32,
        key: u64,
        src: Option<u32>,
        dst: Option<u32>,
        may_claim: bool,
        ways: &mut WayStats,
    ) -> Option<u32> {
        if self.flow_sets == 0 {
            return None;
        }
        let (cands, n) = candidates(tin, tag, FLOW_SALT, self.flow_sets);
        let first_choice = way_idx(cands[0].0, cands[0].1, 0);
        // Our busy slot, else our freed one (stale key).
        let mut stale = NONE;
        for (c, &(set, inner)) in cands.iter().take(n).enumerate() {
            let busy = *self.busy.get(set as usize)?;
            for i in 0..SET_WAYS {
                let idx = way_idx(set, inner, i);
                if *self.keys.get(idx as usize)? != key {
                    continue;
                }
                if busy & (1 << (idx % SET_WAYS)) != 0 {
                    if c == 0 && i == 0 {
                        ways.directs = ways.directs.wrapping_add(1);
                    } else {
                        ways.hits = ways.hits.wrapping_add(1);
                    }
                    return Some(idx);
                }
                if stale == NONE {
                    stale = idx;
                }
            }
        }
        if may_claim {
            if stale != NONE {
                // Our old slot, free again: reclaim it with its AQM state.
                self.claim(stale, key, src, dst, true, ways)?;
                self.set_first_choice(stale, stale == first_choice);
                ways.hits = ways.hits.wrapping_add(1);
                return Some(stale);
            }
            // A free way of the emptier candidate set.
            let mut best = NONE;
            let mut best_free = 0;
            for &(set, inner) in cands.iter().take(n) {
                let busy = *self.busy.get(set as usize)?;
                let free = busy.count_zeros();
                if free > best_free {
                    best_free = free;
                    best = (0..SET_WAYS)
                        .map(|i| way_idx(set, inner, i))
                        .find(|idx| busy & (1 << (idx % SET_WAYS)) == 0)
                        .unwrap_or(NONE);
                }
            }
            if best != NONE {
                self.claim(best, key, src, dst, false, ways)?;
                self.set_first_choice(best, best == first_choice);
                ways.misses = ways.misses.wrapping_add(1);
                return Some(best);
            }
        }
        // Share a busy way of our own tin.
        for &(set, inner) in cands.iter().take(n) {
            let busy = *self.busy.get(set as usize)?;
            for i in 0..SET_WAYS {
                let idx = way_idx(set, inner, i);
                let owner = (*self.keys.get(idx as usize)? >> 32) as u32;
                if busy & (1 << (idx % SET_WAYS)) != 0 && owner == tin {
                    self.collide(idx, key, src, dst, ways)?;
                    self.set_first_choice(idx, idx == first_choice);
                    ways.collisions = ways.collisions.wrapping_add(1);
                    return Some(idx);
                }
            }
        }
        None
    }

    /// Slot `hint` if it is busy with the flow (`tin`, `tag`): what
    /// [`lookup`](Self::lookup) would find, from the slot alone. Most
    /// packets of a subscriber belong to the flow of its previous packet,
    /// so a tin remembers that slot and skips the set search (and the
    /// cache line of its keys) when it still matches. Counted in `ways` as
    /// the search would have counted it.
    pub(crate) fn find_hinted(
        &self,
        hint: u32,
        tin: u32,
        tag: u32,
        ways: &mut WayStats,
    ) -> Option<u32> {
        let s = self.flows.get(hint as usize)?;
        if s.key != flow_key(tin, tag) || s.set == FlowSet::None {
            return None;
        }
        if s.first_choice {
            ways.directs = ways.directs.wrapping_add(1);
        } else {
            ways.hits = ways.hits.wrapping_add(1);
        }
        Some(hint)
    }

    /// Takes back free pool slot `hint` for the flow (`tin`, `tag`) if it
    /// is still tagged with it, keeping its AQM state: the stale-key
    /// reclaim of [`lookup`](Self::lookup), from the slot alone. The
    /// caller promises that `tin` holds no slot (so no busy slot has the
    /// key, and `tin` is under its cap): a subscriber whose queue empties
    /// after each packet then gets its slot back without a set search.
    /// `None` (nothing changed) if the hint does not hold.
    pub(crate) fn reclaim_hinted(
        &mut self,
        hint: u32,
        tin: u32,
        tag: u32,
        src: Option<u32>,
        dst: Option<u32>,
        ways: &mut WayStats,
    ) -> Option<u32> {
        if hint >= self.flow_capacity() {
            return None;
        }
        let key = flow_key(tin, tag);
        let s = self.flows.get(hint as usize)?;
        if s.key != key || s.set != FlowSet::None {
            return None;
        }
        // Same key and slot as when it was claimed: `first_choice` holds.
        self.claim(hint, key, src, dst, true, ways)?;
        ways.hits = ways.hits.wrapping_add(1);
        Some(hint)
    }

    fn set_first_choice(&mut self, idx: u32, first: bool) {
        if let Some(s) = self.flows.get_mut(idx as usize) {
            s.first_choice = first;
        }
    }

    /// The (tin, flow hash) slot `idx` is tagged with.
    #[cfg(test)]
    pub(crate) fn slot_key(&self, idx: u32) -> Option<(u32, u32)> {
        let k = self.flows.get(idx as usize)?.key;
        Some(((k >> 32) as u32, k as u32))
    }

    /// Is `idx` a reserved slot (not one of the pool)?
    pub fn is_reserved(&self, idx: u32) -> bool {
        idx >= self.flow_capacity() && idx < self.slot_count()
    }

    fn set_busy(&mut self, idx: u32, busy: bool) {
        let pool = self.flow_capacity();
        if idx >= pool {
            let t = idx.wrapping_sub(pool);
            let Some(w) = self.reserved_busy.get_mut((t / 64) as usize) else {
                return;
            };
            let bit = 1u64 << (t % 64);
            let was = *w & bit != 0;
            if busy {
                *w |= bit;
            } else {
                *w &= !bit;
            }
            if busy && !was {
                self.reserved_used = self.reserved_used.saturating_add(1);
            } else if !busy && was {
                self.reserved_used = self.reserved_used.saturating_sub(1);
            }
            return;
        }
        if let Some(b) = self.busy.get_mut((idx / SET_WAYS) as usize) {
            let bit = 1u8 << (idx % SET_WAYS);
            if busy {
                *b |= bit;
            } else {
                *b &= !bit;
            }
        }
    }

    /// Takes free slot `idx` for (`tin`, `tag`).
    fn claim(
        &mut self,
        idx: u32,
        key: u64,
        src: Option<u32>,
        dst: Option<u32>,
        same_flow: bool,
        ways: &mut WayStats,
    ) -> Option<()> {
        let tin = (key >> 32) as u32;
        if idx < self.flow_capacity() {
            let k = self.keys.get_mut(idx as usize)?;
            if *k != key {
                *k = key;
            }
        } else {
            // Only `tin` itself may take its reserved slot.
            self.reserved_idx(tin).filter(|&r| r == idx)?;
        }
        // The flow's own slot comes back with its last host slots as hints.
        let hints = match self.flows.get(idx as usize) {
            Some(s) if same_flow => (s.src_host, s.dst_host),
            _ => (NONE, NONE),
        };
        let (sh, dh) = self.acquire_hosts(tin, src, dst, hints, ways);
        let Some(s) = self.flows.get_mut(idx as usize) else {
            self.release_host(sh);
            self.release_host(dh);
            return None;
        };
        if !same_flow {
            s.cvars = CobaltVars::default();
        }
        s.key = key;
        s.deficit = 0;
        s.next = NONE;
        s.prev = NONE;
        s.src_host = sh;
        s.dst_host = dh;
        self.set_busy(idx, true);
        self.flows_used = self.flows_used.saturating_add(1);
        Some(())
    }

    /// Retags busy slot `idx` (of the same tin) for another flow, moving its
    /// host references (and bulk counts) to the new flow's hosts. A
    /// reserved slot has no entry in `keys`: only the slot's copy changes.
    fn collide(
        &mut self,
        idx: u32,
        key: u64,
        src: Option<u32>,
        dst: Option<u32>,
        ways: &mut WayStats,
    ) -> Option<()> {
        let tin = (key >> 32) as u32;
        let s = self.flows.get(idx as usize)?;
        let (bulk, old_sh, old_dh) = (s.set == FlowSet::Bulk, s.src_host, s.dst_host);
        let (sh, dh) = self.acquire_hosts(tin, src, dst, (NONE, NONE), ways);
        if bulk {
            self.host_bulk(old_sh, false);
            self.host_bulk(old_dh, false);
            self.host_bulk(sh, true);
            self.host_bulk(dh, true);
        }
        self.release_host(old_sh);
        self.release_host(old_dh);
        if let Some(k) = self.keys.get_mut(idx as usize) {
            *k = key;
        }
        if let Some(s) = self.flows.get_mut(idx as usize) {
            s.src_host = sh;
            s.dst_host = dh;
            s.key = key;
        }
        Some(())
    }

    /// Returns busy slot `idx` (empty, off every list) to the pool. Its tag
    /// stays so the same flow can find it again.
    pub(crate) fn release(&mut self, idx: u32) {
        let Some(s) = self.flows.get_mut(idx as usize) else {
            return;
        };
        if s.set == FlowSet::None {
            return;
        }
        if s.set == FlowSet::Bulk {
            let (sh, dh) = (s.src_host, s.dst_host);
            self.host_bulk(sh, false);
            self.host_bulk(dh, false);
        }
        let Some(s) = self.flows.get_mut(idx as usize) else {
            return;
        };
        // The host slots stay in `src_host`/`dst_host` as hints.
        let (sh, dh) = (s.src_host, s.dst_host);
        s.set = FlowSet::None;
        s.next = NONE;
        s.prev = NONE;
        self.set_busy(idx, false);
        self.release_host(sh);
        self.release_host(dh);
        self.flows_used = self.flows_used.saturating_sub(1);
    }

    /// Host slots for a flow, tried first at `hints` (source, destination;
    /// [`NONE`] for none). A host that gets none ([`NONE`]) is not
    /// isolated (its flows count as load 1): losing host fairness for a
    /// while beats refusing the packet.
    fn acquire_hosts(
        &mut self,
        tin: u32,
        src: Option<u32>,
        dst: Option<u32>,
        hints: (u32, u32),
        ways: &mut WayStats,
    ) -> (u32, u32) {
        let mut get = |t: &mut Self, h: Option<u32>, dir: u8, hint: u32| {
            let h = h?;
            let got = t.acquire_host_hinted(tin, h, dir, hint);
            if got.is_none() {
                ways.host_overflows = ways.host_overflows.wrapping_add(1);
            }
            got
        };
        let sh = get(self, src, 0, hints.0).unwrap_or(NONE);
        let dh = get(self, dst, 1, hints.1).unwrap_or(NONE);
        (sh, dh)
    }

    /// [`acquire_host`](Self::acquire_host), without the search if host
    /// slot `hint` is tagged with (`tin`, `tag`, `dir`): a key has at most
    /// one such slot (a search finds a tagged one before it takes a free
    /// way), so that is the slot the search would return.
    fn acquire_host_hinted(&mut self, tin: u32, tag: u32, dir: u8, hint: u32) -> Option<u32> {
        if self
            .hosts
            .get(hint as usize)
            .is_some_and(|h| h.tin == tin && h.tag == tag && h.dir == dir)
        {
            return self.ref_host(hint);
        }
        self.acquire_host(tin, tag, dir)
    }

    /// A reference to the host slot of (`tin`, `tag`, `dir`): its own, else
    /// a free one, else one of the same tin and direction (hosts then share
    /// a bulk count, as colliding hosts do in CAKE).
    fn acquire_host(&mut self, tin: u32, tag: u32, dir: u8) -> Option<u32> {
        if self.host_sets == 0 {
            return None;
        }
        let salt = if dir == 0 { SRC_SALT } else { DST_SALT };
        let (cands, n) = candidates(tin, tag, salt, self.host_sets);
        let (mut mine, mut free, mut shared) = (NONE, NONE, NONE);
        let mut best_free = 0;
        for &(set, inner) in cands.iter().take(n) {
            let (mut set_free, mut nfree) = (NONE, 0u32);
            for i in 0..SET_WAYS {
                let idx = way_idx(set, inner, i);
                let h = self.hosts.get(idx as usize)?;
                let same = h.tin == tin && h.dir == dir;
                if same && h.tag == tag && (mine == NONE || h.refs != 0) {
                    mine = idx;
                }
                if h.refs == 0 {
                    nfree = nfree.saturating_add(1);
                    if set_free == NONE {
                        set_free = idx;
                    }
                } else if same && shared == NONE {
                    shared = idx;
                }
            }
            if nfree > best_free {
                best_free = nfree;
                free = set_free;
            }
        }
        if mine != NONE {
            return self.ref_host(mine);
        }
        if free != NONE {
            let h = self.hosts.get_mut(free as usize)?;
            *h = HostSlot {
                tin,
                tag,
                refs: 0,
                dir,
            };
            if let Some(b) = self.host_bulk.get_mut(free as usize) {
                *b = 0;
            }
            return self.ref_host(free);
        }
        if shared != NONE {
            return self.ref_host(shared);
        }
        None
    }

    fn ref_host(&mut self, idx: u32) -> Option<u32> {
        let h = self.hosts.get_mut(idx as usize)?;
        if h.refs == 0 {
            self.hosts_used = self.hosts_used.saturating_add(1);
        }
        h.refs = h.refs.saturating_add(1);
        Some(idx)
    }

    fn release_host(&mut self, idx: u32) {
        let Some(h) = self.hosts.get_mut(idx as usize) else {
            return;
        };
        if h.refs == 0 {
            return;
        }
        h.refs -= 1;
        if h.refs == 0 {
            self.hosts_used = self.hosts_used.saturating_sub(1);
            if let Some(b) = self.host_bulk.get_mut(idx as usize) {
                *b = 0;
            }
        }
    }

    /// Counts one more (`up`) or one fewer bulk flow on host slot `idx`.
    fn host_bulk(&mut self, idx: u32, up: bool) {
        if let Some(b) = self.host_bulk.get_mut(idx as usize) {
            *b = if up {
                b.saturating_add(1)
            } else {
                b.saturating_sub(1)
            };
        }
    }

    /// Flow `idx` became bulk (`up`) or stopped being bulk.
    pub(crate) fn flow_bulk(&mut self, idx: u32, up: bool) {
        let Some(s) = self.flows.get(idx as usize) else {
            return;
        };
        let (sh, dh) = (s.src_host, s.dst_host);
        self.host_bulk(sh, up);
        self.host_bulk(dh, up);
    }

    /// CAKE's host load of flow `idx`: the most bulk flows of its hosts, ≥ 1.
    pub(crate) fn host_load(&self, idx: u32) -> u32 {
        let Some(s) = self.flows.get(idx as usize) else {
            return 1;
        };
        let load = |h: u32| self.host_bulk.get(h as usize).map_or(0, |&b| u32::from(b));
        load(s.src_host).max(load(s.dst_host)).max(1)
    }

    /// Refiles flow `idx` in `fat` after its backlog changed. O(1).
    pub(crate) fn fat_update(&mut self, fat: &mut FatIndex, idx: u32) {
        let Some(s) = self.flows.get(idx as usize) else {
            return;
        };
        let want = fat_bucket(s.backlog);
        if want == s.fat_bucket {
            return;
        }
        self.fat_unlink(fat, idx);
        let Some(head) = fat.heads.get_mut(usize::from(want)) else {
            return;
        };
        let old_head = *head;
        *head = idx;
        fat.mask |= 1 << want;
        if let Some(h) = self.flows.get_mut(old_head as usize) {
            h.fat_prev = idx;
        }
        if let Some(s) = self.flows.get_mut(idx as usize) {
            s.fat_bucket = want;
            s.fat_next = old_head;
            s.fat_prev = NONE;
        }
    }

    /// Takes flow `idx` out of `fat` (no-op if not in it).
    pub(crate) fn fat_unlink(&mut self, fat: &mut FatIndex, idx: u32) {
        let Some(s) = self.flows.get_mut(idx as usize) else {
            return;
        };
        let (b, prev, next) = (s.fat_bucket, s.fat_prev, s.fat_next);
        s.fat_bucket = NO_BUCKET;
        s.fat_prev = NONE;
        s.fat_next = NONE;
        let Some(head) = fat.heads.get_mut(usize::from(b)) else {
            return;
        };
        match self.flows.get_mut(prev as usize) {
            Some(p) => p.fat_next = next,
            None => *head = next,
        }
        if *head == NONE {
            fat.mask &= !(1 << b);
        }
        if let Some(n) = self.flows.get_mut(next as usize) {
            n.fat_prev = prev;
        }
    }

    /// A fattest flow of `fat`: the largest of the first few flows of the
    /// top bucket, so at least half the size of the true fattest. O(1).
    pub(crate) fn fat_pick(&self, fat: &FatIndex) -> Option<u32> {
        if fat.mask == 0 {
            return None;
        }
        let top = 15 - fat.mask.leading_zeros() as usize;
        let mut idx = *fat.heads.get(top)?;
        let mut best = NONE;
        let mut best_backlog = 0;
        for _ in 0..FAT_SCAN {
            let Some(s) = self.flows.get(idx as usize) else {
                break;
            };
            if s.backlog > best_backlog {
                best = idx;
                best_backlog = s.backlog;
            }
            idx = s.fat_next;
        }
        (best != NONE).then_some(best)
    }

    /// Appends slot `idx` to `list`.
    pub(crate) fn push_tail(&mut self, list: &mut FlowList, idx: u32) {
        let tail = list.tail;
        let Some(s) = self.flows.get_mut(idx as usize) else {
            return;
        };
        s.prev = tail;
        s.next = NONE;
        match self.flows.get_mut(tail as usize) {
            Some(t) => t.next = idx,
            None => list.head = idx,
        }
        list.tail = idx;
    }

    /// Unlinks slot `idx` from `list` (it must be on it).
    pub(crate) fn unlink(&mut self, list: &mut FlowList, idx: u32) {
        let Some(s) = self.flows.get_mut(idx as usize) else {
            return;
        };
        let (prev, next) = (s.prev, s.next);
        s.prev = NONE;
        s.next = NONE;
        match self.flows.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => list.head = next,
        }
        match self.flows.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => list.tail = prev,
        }
    }
}

impl<Q: PacketQueue, A: SliceAlloc> FlowTable<Q, A> {
    /// Test check of a tin's fat index: links, bucket ids and mask agree;
    /// returns how many flows it holds.
    #[cfg(test)]
    pub(crate) fn assert_fat(&self, fat: &FatIndex, tin: u32) -> u32 {
        let mut n = 0;
        for (b, &head) in fat.heads.iter().enumerate() {
            assert_eq!(head != NONE, fat.mask & (1 << b) != 0, "mask bit {b}");
            let (mut idx, mut prev) = (head, NONE);
            while idx != NONE {
                let s = self.slot(idx).unwrap();
                assert_eq!(
                    (
                        self.slot_key(idx).unwrap().0,
                        usize::from(s.fat_bucket),
                        s.fat_prev
                    ),
                    (tin, b, prev)
                );
                assert!(s.backlog > 0);
                n += 1;
                assert!(n <= self.slot_count());
                prev = idx;
                idx = s.fat_next;
            }
        }
        n
    }

    /// Test check of table-wide invariants: the in-use counters match the
    /// slots, host reference and bulk counts match the flows pointing at
    /// them, and a free flow slot holds no packets.
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        let busy = self.flows.iter().filter(|s| s.set != FlowSet::None).count();
        assert_eq!(busy, self.flows_used as usize, "flows_in_use");
        let used = self.hosts.iter().filter(|h| h.refs != 0).count();
        assert_eq!(used, self.hosts_used as usize, "hosts_in_use");
        for (i, h) in self.hosts.iter().enumerate() {
            let i = i as u32;
            let refs = self
                .flows
                .iter()
                .filter(|s| s.set != FlowSet::None)
                .map(|s| u32::from(s.src_host == i) + u32::from(s.dst_host == i))
                .sum::<u32>();
            assert_eq!(refs, h.refs, "host {i} refs");
            let bulk = self
                .flows
                .iter()
                .filter(|s| s.set == FlowSet::Bulk)
                .map(|s| u32::from(s.src_host == i) + u32::from(s.dst_host == i))
                .sum::<u32>();
            assert_eq!(bulk, u32::from(self.host_bulk[i as usize]), "host {i} bulk");
        }
        for s in self.flows.iter().filter(|s| s.set == FlowSet::None) {
            assert!(s.queue.is_empty() && s.packets == 0 && s.backlog == 0);
        }
        let pool = self.flow_capacity() as usize;
        assert_eq!(self.flows.len(), pool + self.reserved as usize);
        for (i, s) in self.flows.iter().enumerate() {
            let bit = if i < pool {
                assert_eq!(self.keys[i], s.key, "key copy of slot {i}");
                u64::from(self.busy[i / SET_WAYS as usize] & (1 << (i % SET_WAYS as usize)))
            } else {
                let t = i - pool;
                if s.set != FlowSet::None {
                    assert_eq!((s.key >> 32) as usize, t, "reserved slot of another tin");
                }
                self.reserved_busy[t / 64] & (1 << (t % 64))
            };
            assert_eq!(bit != 0, s.set != FlowSet::None, "busy bit of slot {i}");
        }
        let reserved_busy = self.flows[pool..]
            .iter()
            .filter(|s| s.set != FlowSet::None)
            .count();
        assert_eq!(
            reserved_busy, self.reserved_used as usize,
            "reserved_in_use"
        );
        // A busy key is unique, reserved slots included.
        for (i, s) in self.flows.iter().enumerate() {
            if s.set != FlowSet::None {
                let dup = (0..self.flows.len())
                    .filter(|&j| j != i && self.flows[j].key == s.key)
                    .any(|j| self.flows[j].set != FlowSet::None);
                assert!(!dup, "slot {i} key duplicated");
            }
        }
        for s in self.flows.iter() {
            assert_eq!(s.fat_bucket, fat_bucket(s.backlog), "fat index stale");
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::sched::test_support::{HostAlloc, TestQueue};

    type Table = FlowTable<TestQueue, HostAlloc>;

    /// A pool alone, without reserved slots (so it can refuse).
    fn table(flows: u32, hosts: u32) -> Table {
        FlowTable::new(&mut HostAlloc::default(), flows, hosts, 0).unwrap()
    }

    impl Table {
        fn lookup_any(
            &mut self,
            tin: u32,
            tag: u32,
            src: Option<u32>,
            dst: Option<u32>,
            w: &mut WayStats,
        ) -> Option<u32> {
            self.lookup(tin, tag, src, dst, true, w).map(|(i, _)| i)
        }
    }

    /// Marks a claimed slot busy as the tin would.
    fn activate(t: &mut Table, idx: u32) {
        t.slot_mut(idx).unwrap().set = FlowSet::Sparse;
    }

    #[test]
    fn sizes_round_up_and_memory_is_bounded() {
        let t = table(10, 0);
        assert_eq!(t.flow_capacity(), 16);
        assert_eq!(t.host_capacity(), 0);
        assert_eq!(t.memory_bytes(), 16 * Table::flow_slot_size() + 2);
        let t = table(1024, 1024);
        assert_eq!(
            t.memory_bytes(),
            1024 * Table::flow_slot_size() + 1024 / 8 + 1024 * Table::host_slot_size()
        );
        assert!(FlowTable::<TestQueue, HostAlloc>::new(
            &mut HostAlloc {
                fail: true,
                bytes: 0
            },
            8,
            8,
            8
        )
        .is_err());
        assert!(
            FlowTable::<TestQueue, HostAlloc>::new(&mut HostAlloc::default(), u32::MAX, 0, 0)
                .is_err()
        );
        // Reserved slot indices must fit too.
        assert!(FlowTable::<TestQueue, HostAlloc>::new(
            &mut HostAlloc::default(),
            8,
            0,
            u32::MAX - 8
        )
        .is_err());
        // One reserved slot per tin, one bit each, and nothing else.
        let mut a = HostAlloc::default();
        let t = FlowTable::<TestQueue, HostAlloc>::new(&mut a, 64, 64, 100).unwrap();
        assert_eq!(t.slot_count(), 164);
        assert_eq!(
            t.reserved_bytes(),
            100 * Table::reserved_slot_size() + 2 * 8
        );
        assert_eq!(t.memory_bytes(), t.pool_bytes() + t.reserved_bytes());
        assert_eq!(t.memory_bytes(), a.bytes);
    }

    #[test]
    fn full_pool_falls_back_to_the_reserved_slot() {
        // One set of 8 ways, all taken by tin 1; tins 0..4 have reserved
        // slots.
        let mut t =
            FlowTable::<TestQueue, HostAlloc>::new(&mut HostAlloc::default(), 8, 8, 4).unwrap();
        let mut w = WayStats::default();
        for f in 0..8 {
            let (i, r) = t.lookup(1, f, None, None, true, &mut w).unwrap();
            assert!(!r && i < 8);
            activate(&mut t, i);
        }
        // Tin 2's first flow: the pool has no way, its reserved slot does.
        let mut w2 = WayStats::default();
        let (r2, used) = t.lookup(2, 5, Some(3), None, true, &mut w2).unwrap();
        assert!(used);
        assert_eq!(r2, 8 + 2);
        assert!(t.is_reserved(r2));
        activate(&mut t, r2);
        assert_eq!((t.reserved_in_use(), t.flows_in_use()), (1, 9));
        // Found again (it is not in the pool: no second slot).
        assert_eq!(
            t.lookup(2, 5, Some(3), None, true, &mut w2),
            Some((r2, false))
        );
        assert_eq!(t.find_hinted(r2, 2, 5, &mut w2), Some(r2));
        // A second new flow of tin 2 shares it.
        assert_eq!(
            t.lookup(2, 6, Some(3), None, true, &mut w2),
            Some((r2, true))
        );
        assert_eq!(w2.collisions, 1);
        assert_eq!(t.slot_key(r2), Some((2, 6)));
        // Even a freed pool way does not split a reserved flow in two.
        let i = t.lookup(1, 0, None, None, true, &mut w).unwrap().0;
        t.release(i);
        assert_eq!(
            t.lookup(2, 6, Some(3), None, true, &mut w2),
            Some((r2, false))
        );
        // Tin 1 at its cap (may not claim) but owning ways collides in the
        // pool, not in its reserved slot.
        let (c, used) = t.lookup(1, 99, None, None, false, &mut w).unwrap();
        assert!(!used && c < 8);
        t.assert_consistent();
        // Released like any other slot, and its flow may take it back.
        t.release(r2);
        assert_eq!((t.reserved_in_use(), t.flows_in_use()), (0, 7));
        t.assert_consistent();
        // No pool way free now? Tin 1's ways are 7 of 8: tin 3 takes the
        // free one; tin 2 again finds none only once it is taken.
        let (i3, used) = t.lookup(3, 1, None, None, true, &mut w).unwrap();
        assert!(!used && i3 < 8);
        activate(&mut t, i3);
        assert_eq!(t.lookup(2, 6, None, None, true, &mut w2), Some((r2, true)));
        // A tin without a reserved slot is still refused.
        assert_eq!(t.lookup(7, 1, None, None, true, &mut w), None);
        assert_eq!(t.reserved_slots(), 4);
    }

    #[test]
    fn same_key_same_slot_and_release_reuses() {
        let mut t = table(64, 0);
        let mut w = WayStats::default();
        let a = t.lookup_any(3, 77, None, None, &mut w).unwrap();
        activate(&mut t, a);
        assert_eq!(t.lookup_any(3, 77, None, None, &mut w), Some(a));
        assert_eq!(w.misses, 1);
        assert_eq!(w.directs + w.hits, 1);
        // Same hash, other tin: another slot.
        let b = t.lookup_any(4, 77, None, None, &mut w).unwrap();
        assert_ne!(a, b);
        activate(&mut t, b);
        assert_eq!(t.flows_in_use(), 2);
        t.release(a);
        t.release(b);
        assert_eq!(t.flows_in_use(), 0);
    }

    #[test]
    fn hint_finds_what_the_search_finds() {
        // 24 flows of 3 tins in a 32-slot pool: some in their first-choice
        // way, some not, some in their second set.
        let mut t = table(32, 0);
        let mut w = WayStats::default();
        let mut flows = std::vec::Vec::new();
        for tin in 0..3 {
            for tag in 0..8 {
                let idx = t.lookup_any(tin, tag, None, None, &mut w).unwrap();
                activate(&mut t, idx);
                flows.push((tin, tag, idx));
            }
        }
        for &(tin, tag, idx) in &flows {
            let (mut searched, mut hinted) = (WayStats::default(), WayStats::default());
            assert_eq!(t.lookup_any(tin, tag, None, None, &mut searched), Some(idx));
            assert_eq!(t.find_hinted(idx, tin, tag, &mut hinted), Some(idx));
            assert_eq!(searched, hinted, "tin {tin} tag {tag}");
            // Another flow's hint, or another tin's, is no hint.
            let mut none = WayStats::default();
            assert_eq!(t.find_hinted(idx, tin, tag + 100, &mut none), None);
            assert_eq!(t.find_hinted(idx, tin + 1, tag, &mut none), None);
            assert_eq!(t.find_hinted(NONE, tin, tag, &mut none), None);
            assert_eq!(none, WayStats::default());
        }
        // A freed slot is no hint, nor once another flow has it.
        let (tin, tag, idx) = flows[0];
        t.release(idx);
        assert_eq!(t.find_hinted(idx, tin, tag, &mut w), None);
        let mut full = table(8, 0);
        for f in 0..8 {
            let i = full.lookup_any(1, f, None, None, &mut w).unwrap();
            activate(&mut full, i);
        }
        let old = full.lookup_any(1, 0, None, None, &mut w).unwrap();
        full.release(old);
        let new = full.lookup_any(2, 9, None, None, &mut w).unwrap();
        activate(&mut full, new);
        assert_eq!(new, old);
        assert_eq!(full.find_hinted(old, 1, 0, &mut w), None);
        assert_eq!(full.find_hinted(new, 2, 9, &mut w), Some(new));
    }

    #[test]
    fn hinted_reclaim_finds_what_the_search_finds() {
        let mut t = table(64, 64);
        let mut w = WayStats::default();
        let a = t.lookup_any(3, 77, Some(5), Some(6), &mut w).unwrap();
        activate(&mut t, a);
        let (sh, dh) = (t.slot(a).unwrap().src_host, t.slot(a).unwrap().dst_host);
        t.release(a);
        assert_eq!((t.flows_in_use(), t.hosts_in_use()), (0, 0));
        // Not the flow's slot, or the flow's slot with another flow's
        // hosts: no shortcut, or the hosts' own slots.
        assert_eq!(t.reclaim_hinted(a, 3, 78, Some(5), Some(6), &mut w), None);
        assert_eq!(t.reclaim_hinted(a, 4, 77, Some(5), Some(6), &mut w), None);
        assert_eq!(
            t.reclaim_hinted(NONE, 3, 77, Some(5), Some(6), &mut w),
            None
        );
        assert_eq!(t.flows_in_use(), 0);
        let hits = w.hits;
        assert_eq!(
            t.reclaim_hinted(a, 3, 77, Some(5), Some(6), &mut w),
            Some(a)
        );
        assert_eq!(w.hits, hits + 1);
        activate(&mut t, a);
        let s = t.slot(a).unwrap();
        assert_eq!((s.src_host, s.dst_host), (sh, dh));
        assert_eq!((t.flows_in_use(), t.hosts_in_use()), (1, 2));
        t.assert_consistent();
        // A busy slot is no free slot to take back.
        assert_eq!(t.reclaim_hinted(a, 3, 77, Some(5), Some(6), &mut w), None);
        // Released again, and its source host's slot taken and left by
        // another tin's host: the hint fails, the search tags a slot anew.
        t.release(a);
        t.hosts[sh as usize] = HostSlot {
            tin: 9,
            tag: 5,
            refs: 0,
            dir: 0,
        };
        assert_eq!(
            t.reclaim_hinted(a, 3, 77, Some(5), Some(6), &mut w),
            Some(a)
        );
        activate(&mut t, a);
        let s = t.slot(a).unwrap();
        let h = t.hosts[s.src_host as usize];
        assert_eq!((h.tin, h.tag, h.dir, h.refs), (3, 5, 0, 1));
        assert_eq!(s.dst_host, dh);
        t.assert_consistent();
    }

    #[test]
    fn full_set_collides_within_tin_only() {
        // One set of 8 ways: every key maps to it.
        let mut t = table(8, 0);
        let mut w = WayStats::default();
        for f in 0..8 {
            let i = t.lookup_any(1, f, None, None, &mut w).unwrap();
            activate(&mut t, i);
        }
        assert_eq!(t.flows_in_use(), 8);
        // A 9th flow of the same tin shares a way.
        let i = t.lookup_any(1, 100, None, None, &mut w).unwrap();
        assert_eq!(w.collisions, 1);
        assert_eq!(t.slot_key(i), Some((1, 100)));
        assert_eq!(t.flows_in_use(), 8);
        // Another tin finds nothing: refused.
        assert_eq!(t.lookup_any(2, 5, None, None, &mut w), None);
        // Once a slot is freed, the other tin gets it.
        t.release(i);
        let j = t.lookup_any(2, 5, None, None, &mut w).unwrap();
        assert_eq!(j, i);
        assert_eq!(t.slot_key(j), Some((2, 5)));
    }

    #[test]
    fn two_choices_fill_the_pool_evenly() {
        // 60% of a 4096-slot pool, 12 flows in each of 200 tins: with one
        // candidate set per key some sets would overflow (about 2% of new
        // flows refused in this setting); with two, none do.
        let mut t = table(4096, 0);
        let mut w = WayStats::default();
        let mut refused = 0;
        for tin in 0..200 {
            for f in 0..12u32 {
                match t.lookup_any(tin, f.wrapping_mul(0x9E37_79B9), None, None, &mut w) {
                    Some(i) => activate(&mut t, i),
                    None => refused += 1,
                }
            }
        }
        assert_eq!(refused, 0);
        assert_eq!(w.collisions, 0);
        assert_eq!(t.flows_in_use(), 2400);
        t.assert_consistent();
    }

    #[test]
    fn empty_pool_refuses() {
        let mut t = table(0, 0);
        assert_eq!(
            t.lookup_any(0, 1, None, None, &mut WayStats::default()),
            None
        );
        // Host isolation without host slots still queues.
        let mut t = table(8, 0);
        let mut w = WayStats::default();
        assert!(t.lookup_any(0, 1, Some(9), None, &mut w).is_some());
        assert_eq!(w.host_overflows, 1);
    }

    #[test]
    fn hosts_are_refcounted_and_bulk_counted() {
        let mut t = table(64, 64);
        let mut w = WayStats::default();
        let a = t.lookup_any(1, 10, None, Some(500), &mut w).unwrap();
        activate(&mut t, a);
        let b = t.lookup_any(1, 11, None, Some(500), &mut w).unwrap();
        activate(&mut t, b);
        let c = t.lookup_any(1, 12, None, Some(600), &mut w).unwrap();
        activate(&mut t, c);
        assert_eq!(t.hosts_in_use(), 2);
        for i in [a, b] {
            t.slot_mut(i).unwrap().set = FlowSet::Bulk;
            t.flow_bulk(i, true);
        }
        assert_eq!(t.host_load(a), 2);
        assert_eq!(t.host_load(c), 1);
        t.release(a);
        assert_eq!(t.host_load(b), 1);
        t.release(b);
        t.release(c);
        assert_eq!(t.hosts_in_use(), 0);
        assert_eq!(t.flows_in_use(), 0);
    }

    #[test]
    fn host_pool_shared_within_tin_never_across() {
        // One set of 8 host slots, plenty of flow slots.
        let mut t = table(256, 8);
        let mut w = WayStats::default();
        for h in 0..8 {
            let i = t.lookup_any(1, h, Some(h), None, &mut w).unwrap();
            activate(&mut t, i);
        }
        assert_eq!(t.hosts_in_use(), 8);
        // Tin 1's ninth host shares a slot of tin 1 (counts merge).
        let i = t.lookup_any(1, 100, Some(100), None, &mut w).unwrap();
        activate(&mut t, i);
        assert_eq!(t.hosts_in_use(), 8);
        // Tin 2 cannot get a host slot: its flow goes without one.
        let i = t.lookup_any(2, 5, Some(5), None, &mut w).unwrap();
        activate(&mut t, i);
        assert_eq!(w.host_overflows, 1);
        assert_eq!(t.slot(i).unwrap().src_host, NONE);
        assert_eq!(t.host_load(i), 1);
        t.assert_consistent();
    }

    #[test]
    fn lists_link_and_unlink() {
        let mut t = table(16, 0);
        let mut l = FlowList::default();
        for i in 0..4 {
            t.push_tail(&mut l, i);
        }
        t.unlink(&mut l, 0);
        t.unlink(&mut l, 2);
        t.unlink(&mut l, 3);
        assert_eq!((l.head, l.tail), (1, 1));
        t.unlink(&mut l, 1);
        assert!(l.is_empty());
        assert_eq!(l.tail, NONE);
    }
}
