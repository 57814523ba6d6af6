// SPDX-License-Identifier: GPL-2.0
//! Automatic per-host tins: which tin (subscriber host) each host address
//! holds, for `auto dsthost|srchost`.
//!
//! The key is the exact masked address (a subscriber's IPv6 /64, or an IPv4
//! /32 or /30), so two hosts never share a tin while a tin is free; the hash
//! only chooses where the key is stored. The table is open addressing with
//! linear probing inside a window of [`PROBE`] slots, sized from the pool at
//! configuration time to at least four slots per tin, and seeded per qdisc
//! so nobody can aim addresses at one window: a lookup touches at most
//! [`PROBE`] slots, whatever the traffic, and never allocates.
//!
//! A host keeps its tin while it has packets queued or sent one within
//! `idle`; only then is it released, by the sweep that every packet advances
//! a few slots, or by a newcomer whose window it sits in. With no free tin a
//! new host is refused (the caller sends it to the default tin) and active
//! hosts are never evicted, so a flood of new addresses costs the flood
//! itself the overflow tin and nobody else anything.

use super::alloc::{AllocError, SliceAlloc};

/// Slots a key may be stored away from its hash's slot (the probe window).
pub const PROBE: usize = 16;
/// Slots the sweep looks at per packet.
pub const SWEEP_PER_PACKET: usize = 2;
/// Least slots per pool tin (load at most 1/4, so windows are rarely full).
const SLOTS_PER_TIN: usize = 4;

/// No slot (in `holder`).
const NONE: u32 = u32::MAX;

/// A host's masked address: IPv4 in the low 32 bits, or IPv6.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub struct HostKey {
    /// The address with its host bits cleared, big-endian as a number, in
    /// two halves (a u128 would align the table's slots to 16 bytes).
    hi: u64,
    lo: u64,
    /// IPv6 (else IPv4).
    pub v6: bool,
    /// The prefix length it was masked to.
    pub len: u8,
}

impl HostKey {
    /// 0.0.0.0/0: every IPv4 address.
    pub const ANY: HostKey = HostKey {
        hi: 0,
        lo: 0,
        v6: false,
        len: 0,
    };

    fn from_bits(bits: u128, v6: bool, len: u8) -> Self {
        Self {
            hi: (bits >> 64) as u64,
            lo: bits as u64,
            v6,
            len,
        }
    }

    /// The address as one number.
    fn bits(&self) -> u128 {
        u128::from(self.hi) << 64 | u128::from(self.lo)
    }

    /// The IPv4 host of `addr` (network byte order) under a `/len` mask.
    pub fn v4(addr: [u8; 4], len: u8) -> Self {
        let len = len.min(32);
        let a = u32::from_be_bytes(addr);
        let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        Self::from_bits(u128::from(a & m), false, len)
    }

    /// The IPv6 host of `addr` (network byte order) under a `/len` mask.
    pub fn v6(addr: [u8; 16], len: u8) -> Self {
        let len = len.min(128);
        let a = u128::from_be_bytes(addr);
        let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        Self::from_bits(a & m, true, len)
    }

    /// The address bytes, network byte order (IPv4 in the first four).
    pub fn addr(&self) -> [u8; 16] {
        if self.v6 {
            self.bits().to_be_bytes()
        } else {
            let mut out = [0u8; 16];
            // The low 32 bits hold the IPv4 address.
            let v4 = (self.lo as u32).to_be_bytes();
            out[..4].copy_from_slice(&v4);
            out
        }
    }

    /// Whether `self`, taken as a prefix, contains the host `other` (same
    /// family, `other` at least as long, equal in `self`'s bits).
    pub fn contains(&self, other: &HostKey) -> bool {
        if self.v6 != other.v6 || other.len < self.len {
            return false;
        }
        let width: u32 = if self.v6 { 128 } else { 32 };
        let drop = width.saturating_sub(u32::from(self.len));
        let lhs = self.bits().checked_shr(drop).unwrap_or(0);
        let rhs = other.bits().checked_shr(drop).unwrap_or(0);
        lhs == rhs
    }
}

/// What the table keeps about a host, as dumps show it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HostInfo {
    /// The host's masked address.
    pub key: HostKey,
    /// When it was given its tin, ns.
    pub since: u64,
    /// Its last packet, ns.
    pub last: u64,
}

/// One slot of the table.
#[derive(Clone, Copy)]
struct Slot {
    state: State,
    key: HostKey,
    tin: u32,
    since: u64,
    last: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Never used since the last clean-up: a lookup may stop here.
    Empty,
    /// Freed: a lookup must look past it, an insert may reuse it.
    Tomb,
    Held,
}

const EMPTY: Slot = Slot {
    state: State::Empty,
    key: HostKey::ANY,
    tin: 0,
    since: 0,
    last: 0,
};

/// Which tins automatic hosts may hold: `first..tins` (0-based) without
/// `exclude` (the default tin, the overflow of everything else).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pool {
    /// Lowest tin of the pool.
    pub first: u32,
    /// Tins in all (the pool ends below).
    pub tins: u32,
    /// A tin inside that is not in the pool.
    pub exclude: u32,
}

impl Pool {
    /// Whether tin `t` is in the pool.
    pub fn contains(&self, t: u32) -> bool {
        (self.first..self.tins).contains(&t) && t != self.exclude
    }

    /// How many tins the pool holds.
    pub fn size(&self) -> u32 {
        let span = self.tins.saturating_sub(self.first);
        if (self.first..self.tins).contains(&self.exclude) {
            span.saturating_sub(1)
        } else {
            span
        }
    }
}

/// Counters an operator reads.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct HostCounters {
    /// Hosts given a tin.
    pub admitted: u64,
    /// Hosts that gave theirs back, idle.
    pub released: u64,
    /// Packets of hosts that found no tin (sent to the default tin).
    pub refused: u64,
}

/// The table of hosts and their tins.
pub struct HostTable<A: SliceAlloc> {
    /// Four per pool tin, at least [`PROBE`].
    slots: A::Slice<Slot>,
    /// Free pool tins; the next one given is `free[free_len - 1]`.
    free: A::Slice<u32>,
    free_len: usize,
    /// Per tin: the slot of the host holding it, or [`NONE`].
    holder: A::Slice<u32>,
    pool: Pool,
    seed: (u64, u64),
    /// Host idle time after which it gives its tin back, ns.
    idle: u64,
    /// Next slot the sweep looks at.
    cursor: usize,
    hosts: u32,
    counters: HostCounters,
}

impl<A: SliceAlloc> HostTable<A> {
    /// A table for `pool` (of `tins` tins in all), hosts released after
    /// `idle` ns, hashing seeded with `seed`.
    pub fn new(alloc: &mut A, pool: Pool, idle: u64, seed: (u64, u64)) -> Result<Self, AllocError> {
        let len = Self::slots_for(pool);
        let slots = alloc.alloc_slice(len, |_| EMPTY)?;
        let free = alloc.alloc_slice(pool.size() as usize, |_| 0)?;
        let holder = alloc.alloc_slice(pool.tins as usize, |_| NONE)?;
        let mut t = Self {
            slots,
            free,
            free_len: 0,
            holder,
            pool,
            seed,
            idle,
            cursor: 0,
            hosts: 0,
            counters: HostCounters::default(),
        };
        t.refill_free();
        Ok(t)
    }

    fn slots_for(pool: Pool) -> usize {
        (pool.size() as usize)
            .saturating_mul(SLOTS_PER_TIN)
            .max(PROBE)
    }

    /// Slot `i + d`, wrapping around the end (`d` at most [`PROBE`]).
    fn at(&self, i: usize, d: usize) -> usize {
        let j = i.wrapping_add(d);
        if j >= self.slots.len() {
            j.wrapping_sub(self.slots.len())
        } else {
            j
        }
    }

    /// The slot before `i`, wrapping around the start.
    fn before(&self, i: usize) -> usize {
        if i == 0 {
            self.slots.len().saturating_sub(1)
        } else {
            i - 1
        }
    }

    /// Bytes a table for `pool` takes (as [`Self::new`] allocates).
    pub fn bytes_for(pool: Pool) -> usize {
        Self::slots_for(pool)
            .saturating_mul(core::mem::size_of::<Slot>())
            .saturating_add((pool.size() as usize).saturating_mul(4))
            .saturating_add((pool.tins as usize).saturating_mul(4))
    }

    /// Rebuilds the free stack from `holder`: lowest tin given first.
    fn refill_free(&mut self) {
        let mut n = 0;
        for t in (0..self.pool.tins).rev() {
            let held = self.holder.get(t as usize).is_some_and(|&s| s != NONE);
            if self.pool.contains(t) && !held {
                if let Some(f) = self.free.get_mut(n) {
                    *f = t;
                    n += 1;
                }
            }
        }
        self.free_len = n;
    }

    /// The pool it serves.
    pub fn pool(&self) -> Pool {
        self.pool
    }

    /// Hosts holding a tin now.
    pub fn hosts(&self) -> u32 {
        self.hosts
    }

    /// The counters.
    pub fn counters(&self) -> HostCounters {
        self.counters
    }

    /// Number of slots (for tests and memory reports).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// New idle time; hosts keep their tins.
    pub fn set_idle(&mut self, idle: u64) {
        self.idle = idle;
    }

    /// The host holding tin `tin`, if an automatic one does.
    pub fn holder(&self, tin: u32) -> Option<HostInfo> {
        let s = *self.holder.get(tin as usize)?;
        let slot = self.slots.get(s as usize)?;
        (slot.state == State::Held && slot.tin == tin).then_some(HostInfo {
            key: slot.key,
            since: slot.since,
            last: slot.last,
        })
    }

    /// SipHash-1-3 of the key under the table's seed.
    fn hash(&self, k: &HostKey) -> usize {
        let (k0, k1) = self.seed;
        let mut v = [
            k0 ^ 0x736f_6d65_7073_6575,
            k1 ^ 0x646f_7261_6e64_6f6d,
            k0 ^ 0x6c79_6765_6e65_7261,
            k1 ^ 0x7465_6462_7974_6573,
        ];
        let words = [k.hi, k.lo, u64::from(k.v6) << 8 | u64::from(k.len)];
        for m in words {
            v[3] ^= m;
            sip_round(&mut v);
            v[0] ^= m;
        }
        v[2] ^= 0xff;
        for _ in 0..3 {
            sip_round(&mut v);
        }
        let h = v[0] ^ v[1] ^ v[2] ^ v[3];
        // The hash scaled to the table's length (no modulo, any length).
        ((u128::from(h) * self.slots.len() as u128) >> 64) as usize
    }

    /// Whether the host in `slot` may be released now.
    fn releasable(&self, slot: &Slot, now: u64, busy: &dyn Fn(u32) -> bool) -> bool {
        slot.state == State::Held && now.saturating_sub(slot.last) >= self.idle && !busy(slot.tin)
    }

    /// Frees slot `i` and its tin.
    fn release(&mut self, i: usize) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if slot.state != State::Held {
            return;
        }
        slot.state = State::Tomb;
        let tin = slot.tin;
        if let Some(h) = self.holder.get_mut(tin as usize) {
            *h = NONE;
        }
        if let Some(f) = self.free.get_mut(self.free_len) {
            *f = tin;
            self.free_len += 1;
        }
        self.hosts = self.hosts.saturating_sub(1);
        self.counters.released = self.counters.released.wrapping_add(1);
        // A tomb followed by an empty slot ends no probe: make it empty, and
        // the tombs before it, so windows do not fill with tombs.
        let mut j = i;
        for _ in 0..PROBE {
            let next = self.at(j, 1);
            let next_empty = self
                .slots
                .get(next)
                .is_some_and(|s| s.state == State::Empty);
            match self.slots.get_mut(j) {
                Some(s) if s.state == State::Tomb && next_empty => s.state = State::Empty,
                _ => break,
            }
            j = self.before(j);
        }
    }

    /// Looks at the next `budget` slots and releases the idle hosts there.
    pub fn sweep(&mut self, now: u64, budget: usize, busy: &dyn Fn(u32) -> bool) {
        for _ in 0..budget {
            let i = self.cursor;
            self.cursor = self.at(i, 1);
            let idle = self
                .slots
                .get(i)
                .is_some_and(|s| self.releasable(s, now, busy));
            if idle {
                self.release(i);
            }
        }
    }

    /// The tin of host `key` at time `now`, giving it one if it has none;
    /// `None` if it has none and none can be given (pool exhausted, or its
    /// window full of active hosts). `busy(tin)`: the tin has packets queued.
    /// A refused host first makes the sweep look at [`PROBE`] more slots,
    /// so an exhausted pool finds its idle hosts quickly.
    pub fn lookup(&mut self, key: &HostKey, now: u64, busy: &dyn Fn(u32) -> bool) -> Option<u32> {
        if let Some(t) = self.find_or_admit(key, now, busy) {
            return Some(t);
        }
        let released = self.counters.released;
        self.sweep(now, PROBE, busy);
        if self.counters.released != released {
            if let Some(t) = self.find_or_admit(key, now, busy) {
                return Some(t);
            }
        }
        self.counters.refused = self.counters.refused.wrapping_add(1);
        None
    }

    /// [`Self::lookup`] without the extra sweep and the refusal count.
    fn find_or_admit(
        &mut self,
        key: &HostKey,
        now: u64,
        busy: &dyn Fn(u32) -> bool,
    ) -> Option<u32> {
        let home = self.hash(key);
        // The first reusable slot of the window, and the first idle host.
        let mut free_slot = None;
        let mut idle_slot = None;
        for d in 0..PROBE {
            let i = self.at(home, d);
            let Some(s) = self.slots.get(i) else {
                break;
            };
            match s.state {
                State::Held if s.key == *key => {
                    let tin = s.tin;
                    if let Some(s) = self.slots.get_mut(i) {
                        s.last = now;
                    }
                    return Some(tin);
                }
                State::Held => {
                    if idle_slot.is_none() && self.releasable(s, now, busy) {
                        idle_slot = Some((d, i));
                    }
                }
                State::Tomb => {
                    free_slot = free_slot.or(Some((d, i)));
                }
                State::Empty => {
                    free_slot = free_slot.or(Some((d, i)));
                    break;
                }
            }
        }
        // A newcomer may take an idle host's place in its window, or its tin
        // when the pool is out of tins; never an active host's. Of a freed
        // slot and an idle host's, it takes the one earlier in the window,
        // so that no empty slot can come between its hash and itself.
        let slot = match (free_slot, idle_slot) {
            (Some((df, f)), Some((di, i))) if self.free_len == 0 => {
                self.release(i);
                if df < di {
                    f
                } else {
                    i
                }
            }
            (Some((_, f)), _) => f,
            (None, Some((_, i))) => {
                self.release(i);
                i
            }
            (None, None) => return None,
        };
        if self.free_len == 0 {
            return None;
        }
        self.free_len -= 1;
        let tin = *self.free.get(self.free_len)?;
        let s = self.slots.get_mut(slot)?;
        *s = Slot {
            state: State::Held,
            key: *key,
            tin,
            since: now,
            last: now,
        };
        if let Some(h) = self.holder.get_mut(tin as usize) {
            *h = slot as u32;
        }
        self.hosts = self.hosts.saturating_add(1);
        self.counters.admitted = self.counters.admitted.wrapping_add(1);
        Some(tin)
    }

    /// Takes over the hosts of `old` (a table for other tins or another
    /// pool) whose tins are in this pool; counters carry over. Hosts that
    /// do not fit are forgotten (their packets stay queued in their tins).
    pub fn adopt(&mut self, old: &Self) {
        self.counters = old.counters;
        self.cursor = 0;
        for s in old.slots.iter().filter(|s| s.state == State::Held) {
            if !self.pool.contains(s.tin) {
                continue;
            }
            let home = self.hash(&s.key);
            for d in 0..PROBE {
                let i = self.at(home, d);
                let Some(slot) = self.slots.get_mut(i) else {
                    break;
                };
                if slot.state == State::Empty {
                    *slot = *s;
                    if let Some(h) = self.holder.get_mut(s.tin as usize) {
                        *h = i as u32;
                    }
                    self.hosts = self.hosts.saturating_add(1);
                    break;
                }
            }
        }
        self.refill_free();
    }
}

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use crate::sched::test_support::HostAlloc;
    use std::vec::Vec;

    const IDLE: u64 = 1_000;

    fn table(first: u32, tins: u32, exclude: u32) -> HostTable<HostAlloc> {
        let pool = Pool {
            first,
            tins,
            exclude,
        };
        HostTable::new(&mut HostAlloc::default(), pool, IDLE, (7, 11)).unwrap()
    }

    fn v4(last: u8) -> HostKey {
        HostKey::v4([10, 0, 0, last], 32)
    }

    #[test]
    fn a_slot_is_48_bytes() {
        // 10,000 tins: 40,000 slots, 1.9 MB.
        assert_eq!(core::mem::size_of::<Slot>(), 48);
    }

    #[test]
    fn masks_and_prefixes() {
        assert_eq!(
            HostKey::v4([10, 0, 0, 5], 30),
            HostKey::v4([10, 0, 0, 6], 30)
        );
        assert_ne!(
            HostKey::v4([10, 0, 0, 3], 30),
            HostKey::v4([10, 0, 0, 4], 30)
        );
        let a: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9];
        let mut b = a;
        b[15] = 1;
        assert_eq!(HostKey::v6(a, 64), HostKey::v6(b, 64));
        assert_ne!(HostKey::v6(a, 128), HostKey::v6(b, 128));
        assert_eq!(
            HostKey::v4([192, 168, 1, 200], 24).addr()[..4],
            [192, 168, 1, 0]
        );
        let net = HostKey::v4([100, 64, 0, 0], 10);
        assert!(net.contains(&HostKey::v4([100, 127, 1, 1], 32)));
        assert!(!net.contains(&HostKey::v4([100, 128, 0, 0], 32)));
        assert!(!net.contains(&HostKey::v6(a, 64)));
        assert!(HostKey::v4([0, 0, 0, 0], 0).contains(&v4(1)));
    }

    #[test]
    fn hosts_get_distinct_tins_lowest_first_and_keep_them() {
        let mut t = table(0, 4, 3);
        let busy = |_| false;
        assert_eq!(t.lookup(&v4(1), 0, &busy), Some(0));
        assert_eq!(t.lookup(&v4(2), 0, &busy), Some(1));
        assert_eq!(t.lookup(&v4(1), 10, &busy), Some(0));
        assert_eq!(t.lookup(&v4(3), 10, &busy), Some(2));
        // The default tin (3) is not in the pool: the fourth host is refused.
        assert_eq!(t.lookup(&v4(4), 10, &busy), None);
        assert_eq!(t.counters().refused, 1);
        assert_eq!(t.holder(1).map(|h| h.key), Some(v4(2)));
        assert_eq!(t.holder(3), None);
    }

    #[test]
    fn idle_hosts_give_back_busy_ones_never() {
        let mut t = table(0, 2, 5);
        assert_eq!(t.lookup(&v4(1), 0, &|_| false), Some(0));
        assert_eq!(t.lookup(&v4(2), 0, &|_| false), Some(1));
        // Both idle long enough, but tin 0 still has packets queued: the
        // newcomer takes tin 1 only.
        let busy = |t| t == 0;
        assert_eq!(t.lookup(&v4(3), IDLE, &busy), Some(1));
        assert_eq!(t.lookup(&v4(4), IDLE, &busy), None);
        assert_eq!(t.lookup(&v4(1), IDLE, &busy), Some(0));
        // The sweep releases idle hosts by itself.
        let n = t.slot_count();
        t.sweep(3 * IDLE, n, &|_| false);
        assert_eq!(t.hosts(), 0);
        assert_eq!(t.counters().released, 3);
        assert!(matches!(
            t.lookup(&v4(9), 3 * IDLE, &|_| false),
            Some(0 | 1)
        ));
    }

    #[test]
    fn adopt_keeps_the_hosts_whose_tins_remain() {
        let mut old = table(0, 8, 7);
        for h in 0..6 {
            assert_eq!(old.lookup(&v4(h), 0, &|_| false), Some(u32::from(h)));
        }
        let mut new = table(0, 4, 3);
        new.adopt(&old);
        assert_eq!(new.hosts(), 3);
        assert_eq!(new.lookup(&v4(2), 1, &|_| false), Some(2));
        assert_eq!(new.lookup(&v4(5), 1, &|_| false), None);
        assert_eq!(new.counters().admitted, 6);
    }

    #[test]
    fn a_spray_never_evicts_and_stays_in_the_table() {
        let mut t = table(1, 101, 0);
        let slots = t.slot_count();
        let busy = |_| false;
        let real: Vec<HostKey> = (0..10).map(|i| HostKey::v4([10, 1, 0, i], 32)).collect();
        let tins: Vec<_> = real.iter().map(|k| t.lookup(k, 0, &busy)).collect();
        let mut x = 0x1234_5678u32;
        for n in 0..100_000u64 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            t.lookup(&HostKey::v4(x.to_be_bytes(), 32), n / 1000, &busy);
            if n % 500 == 0 {
                for (k, tin) in real.iter().zip(&tins) {
                    assert_eq!(t.lookup(k, n / 1000, &busy), *tin);
                }
            }
        }
        assert_eq!(t.slot_count(), slots);
        assert!(t.hosts() <= 100);
    }
}
