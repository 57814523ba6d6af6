// SPDX-License-Identifier: GPL-2.0
//! Deficit round robin over the eligible tins (backlogged, shaper open).
//!
//! Eligible tins sit on one intrusive ring (u32 links in per-tin arrays).
//! The head tin sends while its byte deficit is positive; when spent, it
//! earns its quantum (base quantum x weight) and moves to the tail. Equal
//! weights thus share a congested link max-min fairly, unequal ones in
//! proportion to their weights.
//!
//! Every operation is O(1): a tin joining the ring is credited its quantum
//! at once if it has none (it waits a full round at the tail anyway), and
//! the base quantum grows to the largest packet charged, so every tin but
//! the head always has a positive deficit and `select` rotates at most once.
//! A tin's debt is kept when it leaves the ring and repaid later.

use super::alloc::{AllocError, SliceAlloc};

const NIL: u32 = u32::MAX;

/// Rotations one [`TinDrr::select`] may make before serving the head tin
/// anyway (on credit). Defensive: one rotation always suffices.
const MAX_ROTATIONS: u32 = 32;

/// Bytes of per-tin state kept here.
pub const TIN_DRR_BYTES_PER_TIN: usize = core::mem::size_of::<Link>();

/// A tin's ring links, deficit and weight: one small record per tin.
#[derive(Clone, Copy)]
struct Link {
    next: u32,
    prev: u32,
    /// Bytes the tin may still send this round.
    deficit: i32,
    weight: u16,
}

/// The ring of eligible tins and their deficits.
pub struct TinDrr<A: SliceAlloc> {
    links: A::Slice<Link>,
    /// Quantum per unit of weight: the configured one or the largest
    /// packet charged so far, whichever is larger.
    base: u32,
    head: u32,
    tail: u32,
    len: u32,
}

impl<A: SliceAlloc> TinDrr<A> {
    /// An empty ring for tins `0..tins`, each of weight 1, with quantum
    /// `quantum` bytes per unit of weight.
    pub fn new(alloc: &mut A, tins: u32, quantum: u32) -> Result<Self, AllocError> {
        let n = tins as usize;
        Ok(TinDrr {
            links: alloc.alloc_slice(n, |_| Link {
                next: NIL,
                prev: NIL,
                deficit: 0,
                weight: 1,
            })?,
            base: quantum.max(1),
            head: NIL,
            tail: NIL,
            len: 0,
        })
    }

    /// Tins on the ring.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Is the ring empty?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Is `tin` on the ring?
    pub fn contains(&self, tin: u32) -> bool {
        tin != NIL
            && (self.head == tin || self.links.get(tin as usize).is_some_and(|l| l.prev != NIL))
    }

    /// `tin`'s deficit in bytes (0 if out of range).
    pub fn deficit(&self, tin: u32) -> i32 {
        self.links.get(tin as usize).map_or(0, |l| l.deficit)
    }

    /// `tin`'s quantum in bytes (0 if out of range).
    pub fn quantum(&self, tin: u32) -> u32 {
        self.links
            .get(tin as usize)
            .map_or(0, |l| self.base.saturating_mul(u32::from(l.weight)))
    }

    /// Sets `tin`'s weight (0 is taken as 1).
    pub fn set_weight(&mut self, tin: u32, weight: u16) {
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.weight = weight.max(1);
        }
    }

    /// Adds one quantum to `tin`'s deficit.
    fn credit(&mut self, tin: u32) {
        let q = i32::try_from(self.quantum(tin)).unwrap_or(i32::MAX);
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.deficit = l.deficit.saturating_add(q);
        }
    }

    /// Appends `tin` (if in range and not already on the ring), crediting
    /// it a quantum if it has no credit.
    pub fn push_back(&mut self, tin: u32) {
        if tin as usize >= self.links.len() || self.contains(tin) {
            return;
        }
        if self.deficit(tin) <= 0 {
            self.credit(tin);
        }
        self.link_tail(tin);
    }

    fn link_tail(&mut self, tin: u32) {
        let tail = self.tail;
        self.set_prev(tin, tail);
        self.set_next(tin, NIL);
        if tail == NIL {
            self.head = tin;
        } else {
            self.set_next(tail, tin);
        }
        self.tail = tin;
        self.len = self.len.saturating_add(1);
    }

    /// Takes `tin` off the ring; returns whether it was on it.
    pub fn remove(&mut self, tin: u32) -> bool {
        if !self.contains(tin) {
            return false;
        }
        let i = tin as usize;
        let Some(&Link { next, prev, .. }) = self.links.get(i) else {
            return false;
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.set_next(prev, next);
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.set_prev(next, prev);
        }
        self.set_next(tin, NIL);
        self.set_prev(tin, NIL);
        self.len = self.len.saturating_sub(1);
        true
    }

    /// The tin to serve next: the head once its deficit is positive,
    /// rotating spent tins to the tail with a fresh quantum.
    pub fn select(&mut self) -> Option<u32> {
        for _ in 0..MAX_ROTATIONS {
            let h = self.head;
            if self.links.get(h as usize)?.deficit > 0 {
                return Some(h);
            }
            self.credit(h);
            if self.len > 1 {
                self.remove(h);
                self.link_tail(h);
            }
        }
        (self.head != NIL).then_some(self.head)
    }

    /// Charges `len` bytes sent by `tin`; a packet longer than the base
    /// quantum raises it, so one round always pays any packet.
    pub fn charge(&mut self, tin: u32, len: u32) {
        self.base = self.base.max(len);
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.deficit = l
                .deficit
                .saturating_sub(i32::try_from(len).unwrap_or(i32::MAX));
        }
    }

    /// `tin` ran out of packets: unused credit is not banked (debt is).
    pub fn forget_credit(&mut self, tin: u32) {
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.deficit = l.deficit.min(0);
        }
    }

    /// The tin [`select`](Self::select) looks at first.
    pub fn head(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// The tin after `tin` on the ring, if any.
    pub fn after(&self, tin: u32) -> Option<u32> {
        // Only a tin on the ring has a `next` (`remove` clears it).
        let next = self.links.get(tin as usize)?.next;
        (next != NIL).then_some(next)
    }

    /// Prefetches `tin`'s ring links and deficit.
    pub fn prefetch(&self, tin: u32) {
        if let Some(l) = self.links.get(tin as usize) {
            A::prefetch(l);
        }
    }

    /// Takes the head tin off the ring.
    pub fn pop_front(&mut self) -> Option<u32> {
        let h = self.head;
        self.remove(h).then_some(h)
    }

    fn set_next(&mut self, tin: u32, v: u32) {
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.next = v;
        }
    }

    fn set_prev(&mut self, tin: u32, v: u32) {
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.prev = v;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::sched::test_support::HostAlloc;
    use std::vec::Vec;

    fn drr(tins: u32, q: u32) -> TinDrr<HostAlloc> {
        TinDrr::new(&mut HostAlloc::default(), tins, q).unwrap()
    }

    #[test]
    fn head_and_after_walk_the_ring() {
        let mut d = drr(5, 100);
        assert_eq!(d.head(), None);
        for t in [3, 1, 4] {
            d.push_back(t);
        }
        assert_eq!(d.head(), Some(3));
        assert_eq!(d.after(3), Some(1));
        assert_eq!(d.after(1), Some(4));
        assert_eq!(d.after(4), None);
        assert_eq!(d.after(0), None);
        assert_eq!(d.after(99), None);
        d.remove(1);
        assert_eq!(d.after(3), Some(4));
        assert_eq!(d.after(1), None);
    }

    #[test]
    fn ring_links() {
        let mut d = drr(4, 100);
        d.push_back(2);
        d.push_back(0);
        d.push_back(2);
        d.push_back(9);
        assert_eq!(d.len(), 2);
        assert!(d.contains(0) && d.contains(2) && !d.contains(1) && !d.contains(9));
        assert!(d.remove(2));
        assert!(!d.remove(2));
        d.push_back(3);
        d.push_back(1);
        assert!(d.remove(3));
        assert_eq!(d.pop_front(), Some(0));
        assert_eq!(d.pop_front(), Some(1));
        assert_eq!(d.pop_front(), None);
        assert!(d.is_empty());
    }

    /// Serves `rounds` packets of `len` bytes from always-backlogged tins.
    fn serve(d: &mut TinDrr<HostAlloc>, len: u32, packets: usize) -> Vec<u64> {
        let mut bytes = std::vec![0u64; 4];
        for _ in 0..packets {
            let t = d.select().unwrap();
            d.charge(t, len);
            bytes[t as usize] += u64::from(len);
        }
        bytes
    }

    #[test]
    fn equal_weights_equal_bytes() {
        let mut d = drr(4, 1514);
        for t in 0..4 {
            d.push_back(t);
        }
        let b = serve(&mut d, 1000, 40_000);
        for t in 0..4 {
            assert!(b[t].abs_diff(10_000_000) <= 2 * 1514, "{b:?}");
        }
    }

    #[test]
    fn weights_scale_shares() {
        let mut d = drr(4, 1514);
        for (t, w) in [(0, 1), (1, 2), (2, 5)] {
            d.set_weight(t, w);
            d.push_back(t);
        }
        let b = serve(&mut d, 1500, 80_000);
        let total: u64 = b.iter().sum();
        for (t, w) in [(0, 1u64), (1, 2), (2, 5)] {
            let want = total * w / 8;
            assert!(b[t].abs_diff(want) <= 8 * 1514, "{b:?}");
        }
    }

    #[test]
    fn oversized_packets_raise_the_quantum() {
        // Tin 0 sends 64 KB GSO packets, tin 1 1500-byte ones: bytes stay
        // equal and select() never needs more than one rotation.
        let mut d = drr(2, 1514);
        d.push_back(0);
        d.push_back(1);
        let mut bytes = [0u64; 2];
        for _ in 0..20_000 {
            let t = d.select().unwrap();
            let len = if t == 0 { 65_536 } else { 1500 };
            d.charge(t, len);
            bytes[t as usize] += u64::from(len);
            // Everyone but the head has credit.
            let other = 1 - t;
            assert!(d.deficit(other) > 0);
        }
        assert_eq!(d.quantum(1), 65_536);
        assert!(bytes[0].abs_diff(bytes[1]) <= 2 * 65_536, "{bytes:?}");
    }

    #[test]
    fn credit_not_banked_debt_kept() {
        let mut d = drr(2, 1000);
        d.push_back(0);
        assert_eq!(d.deficit(0), 1000);
        assert_eq!(d.select(), Some(0));
        d.forget_credit(0);
        assert_eq!(d.deficit(0), 0);
        d.charge(0, 300);
        d.forget_credit(0);
        assert_eq!(d.deficit(0), -300);
        assert_eq!(d.quantum(0), 1000);
        d.set_weight(0, 0);
        assert_eq!(d.quantum(0), 1000);
        d.set_weight(0, 3);
        assert_eq!(d.quantum(0), 3000);
        assert_eq!(d.quantum(7), 0);
    }
}
