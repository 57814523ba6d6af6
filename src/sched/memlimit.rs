// SPDX-License-Identifier: GPL-2.0
//! Memory accounting per tin, and in O(1) the tin (approximately) slowest
//! to drain: the one the memory limit drops from.
//!
//! When the memory limit is exceeded CAKE drops from the fattest flow of
//! all. Among tins "fattest" would be the wrong measure: a flood spread
//! over thousands of tins holds one packet in each, and the tin of a real
//! subscriber whose TCP keeps a few milliseconds of queue at 50 Mbit/s
//! would always be the biggest, so the flood would take it every packet it
//! has. What matters is how long a tin's memory takes to drain at the
//! tin's own rate: 60 KB at 50 Mbit/s is 10 ms, one 768-byte packet at
//! 200 bit/s is 30 s. The tin chosen is the one whose backlog is slowest
//! to drain (memory / rate); at equal rates that is the fattest.
//!
//! With thousands of tins a heap or a scan is too dear per packet. Tins
//! are instead kept on lists bucketed by the bit length of memory / rate
//! (log2 buckets), with a bitmap of non-empty buckets, and the tin chosen
//! is the head of the highest bucket. A tin moves up as soon as its key
//! reaches the next power of two but down only once it falls below half
//! its bucket's floor, so a queue oscillating around a power of two does
//! not move at all. The price is the approximation: the tin chosen takes
//! more than a quarter of the time the true slowest takes (the rate is
//! taken by its bit length too, so within a factor of eight in all). Every
//! operation is O(1).

use super::alloc::{AllocError, SliceAlloc};

const NIL: u32 = u32::MAX;
/// Bucket `b` (1..=63) holds tins whose use has bit length `b` or `b - 1`
/// (the last one everything above); tins using nothing are on no list.
const BUCKETS: usize = 64;

/// Rates are taken by their bit length in bytes/s, capped here (2^32 B/s,
/// 34 Gbit/s): a tin this fast or unlimited counts its memory as is.
const RATE_BITS_MAX: u8 = 32;

/// A tin's use, its rate's bit length and bucket links, one record per tin.
#[derive(Clone, Copy)]
struct Entry {
    mem: u64,
    next: u32,
    prev: u32,
    bucket: u8,
    rate_bits: u8,
}

/// Bytes of per-tin state kept here.
pub const MEM_BYTES_PER_TIN: usize = core::mem::size_of::<Entry>();

/// Per-tin memory use and the log2 buckets.
pub struct MemBuckets<A: SliceAlloc> {
    entries: A::Slice<Entry>,
    heads: [u32; BUCKETS],
    /// Bit `b` set iff bucket `b` is non-empty.
    nonempty: u64,
    total: u64,
}

fn bit_length(mem: u64) -> u8 {
    // 0 for 0, else bit length, capped to the last bucket.
    ((64 - mem.leading_zeros()) as u8).min(BUCKETS as u8 - 1)
}

/// The bucket of `mem` bytes draining at 2^`rate_bits` bytes/s: the bit
/// length of mem / rate, shifted so that the fastest rate keeps `mem`'s.
fn key(mem: u64, rate_bits: u8) -> u8 {
    if mem == 0 {
        return 0;
    }
    let slower = RATE_BITS_MAX.saturating_sub(rate_bits);
    bit_length(mem)
        .saturating_add(slower)
        .min(BUCKETS as u8 - 1)
}

/// The bit length used for a drain rate of `bytes_per_s` (0: unlimited).
pub fn rate_bits(bytes_per_s: u64) -> u8 {
    if bytes_per_s == 0 {
        return RATE_BITS_MAX;
    }
    bit_length(bytes_per_s).clamp(1, RATE_BITS_MAX)
}

impl<A: SliceAlloc> MemBuckets<A> {
    /// All tins `0..tins` using nothing.
    pub fn new(alloc: &mut A, tins: u32) -> Result<Self, AllocError> {
        Ok(MemBuckets {
            entries: alloc.alloc_slice(tins as usize, |_| Entry {
                mem: 0,
                next: NIL,
                prev: NIL,
                bucket: 0,
                rate_bits: RATE_BITS_MAX,
            })?,
            heads: [NIL; BUCKETS],
            nonempty: 0,
            total: 0,
        })
    }

    /// Bytes used by all tins.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes used by `tin` (0 if out of range).
    pub fn of(&self, tin: u32) -> u64 {
        self.entries.get(tin as usize).map_or(0, |e| e.mem)
    }

    /// `tin` now uses `bytes` more.
    pub fn add(&mut self, tin: u32, bytes: u64) {
        let m = self.of(tin).saturating_add(bytes);
        self.set(tin, m);
    }

    /// Prefetches `tin`'s record.
    pub fn prefetch(&self, tin: u32) {
        if let Some(e) = self.entries.get(tin as usize) {
            A::prefetch(e);
        }
    }

    /// `tin` now uses `bytes` less (never below zero).
    pub fn sub(&mut self, tin: u32, bytes: u64) {
        let m = self.of(tin).saturating_sub(bytes);
        self.set(tin, m);
    }

    /// `tin` drains at `bytes_per_s` (0: unlimited) from now on; O(1), and
    /// nothing moves unless the rate's bit length changed.
    pub fn set_rate(&mut self, tin: u32, bytes_per_s: u64) {
        let rb = rate_bits(bytes_per_s);
        let Some(e) = self.entries.get_mut(tin as usize) else {
            return;
        };
        if e.rate_bits == rb {
            return;
        }
        e.rate_bits = rb;
        let (m, b) = (e.mem, e.bucket);
        self.unlink(tin, b);
        self.link(tin, key(m, rb));
    }

    /// A tin whose memory takes more than an eighth of the time to drain
    /// at its rate that the slowest tin's takes (at equal rates: one using
    /// more than a quarter of what the one using most uses), if any uses
    /// anything.
    pub fn fattest(&self) -> Option<u32> {
        if self.nonempty == 0 {
            return None;
        }
        let b = 63 - self.nonempty.leading_zeros() as usize;
        self.heads.get(b).copied().filter(|&t| t != NIL)
    }

    /// Forgets all usage; O(tins in use).
    pub fn clear(&mut self) {
        for b in 1..BUCKETS {
            for _ in 0..self.entries.len() {
                let t = self.heads[b];
                if t == NIL {
                    break;
                }
                self.set(t, 0);
            }
        }
        self.total = 0;
    }

    fn set(&mut self, tin: u32, m: u64) {
        let Some(e) = self.entries.get_mut(tin as usize) else {
            return;
        };
        let old = core::mem::replace(&mut e.mem, m);
        let b = e.bucket;
        let nb = key(m, e.rate_bits);
        self.total = self.total.saturating_sub(old).saturating_add(m);
        // Up at once, down only past the hysteresis, out when empty.
        if nb > b || (nb < b.saturating_sub(1)) || (m == 0 && b != 0) {
            self.unlink(tin, b);
            self.link(tin, nb);
        }
    }

    fn unlink(&mut self, tin: u32, b: u8) {
        if b == 0 {
            return;
        }
        let Some(&Entry { next, prev, .. }) = self.entries.get(tin as usize) else {
            return;
        };
        if let Some(p) = self.entries.get_mut(prev as usize) {
            p.next = next;
        } else if let Some(h) = self.heads.get_mut(b as usize) {
            *h = next;
            if next == NIL {
                self.nonempty &= !1u64.wrapping_shl(u32::from(b));
            }
        }
        if let Some(n) = self.entries.get_mut(next as usize) {
            n.prev = prev;
        }
    }

    fn link(&mut self, tin: u32, b: u8) {
        let head = self.heads.get(b as usize).copied().unwrap_or(NIL);
        let Some(e) = self.entries.get_mut(tin as usize) else {
            return;
        };
        e.bucket = b;
        if b == 0 {
            return;
        }
        e.next = head;
        e.prev = NIL;
        if let Some(h) = self.entries.get_mut(head as usize) {
            h.prev = tin;
        }
        if let Some(h) = self.heads.get_mut(b as usize) {
            *h = tin;
        }
        self.nonempty |= 1u64.wrapping_shl(u32::from(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_support::HostAlloc;

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(0), 0);
        assert_eq!(bit_length(1), 1);
        assert_eq!(bit_length(1023), 10);
        assert_eq!(bit_length(1024), 11);
        assert_eq!(bit_length(u64::MAX), 63);
    }

    #[test]
    fn fattest_within_factor_four() {
        let mut m = MemBuckets::new(&mut HostAlloc::default(), 8).unwrap();
        assert_eq!(m.fattest(), None);
        m.add(3, 1000);
        m.add(5, 1500);
        m.add(1, 900);
        // 1000 is in bucket 10 (512..1024), 1500 in bucket 11.
        assert_eq!(m.fattest(), Some(5));
        m.add(3, 1000); // 2000: bucket 11 with tin 5
        let f = m.fattest().unwrap();
        assert!(f == 3 || f == 5);
        assert!(4 * m.of(f) > 2000);
        // Oscillating around 2048 does not move tin 3 down and back.
        m.add(3, 100);
        m.sub(3, 100);
        assert_eq!(m.fattest(), Some(3));
        assert_eq!(m.total(), 2000 + 1500 + 900);
        m.sub(3, 2000);
        m.sub(5, 10_000);
        assert_eq!(m.fattest(), Some(1));
        assert_eq!(m.total(), 900);
        m.sub(1, 900);
        assert_eq!(m.fattest(), None);
        assert_eq!(m.total(), 0);
        m.add(99, 5); // out of range: ignored
        assert_eq!(m.total(), 0);
    }

    #[test]
    fn slowest_to_drain_goes_first() {
        let mut m = MemBuckets::new(&mut HostAlloc::default(), 4).unwrap();
        // Tin 0: 60 KB at 50 Mbit/s (10 ms); tin 1: one 768-byte packet at
        // 200 bit/s (30 s); tin 2: 768 bytes, unlimited.
        m.set_rate(0, 6_250_000);
        m.set_rate(1, 25);
        m.add(0, 60_000);
        m.add(1, 768);
        m.add(2, 768);
        assert_eq!(m.fattest(), Some(1));
        m.sub(1, 768);
        assert_eq!(m.fattest(), Some(0));
        // A rate change re-files the tin at once.
        m.set_rate(2, 25);
        assert_eq!(m.fattest(), Some(2));
        m.set_rate(2, 0);
        assert_eq!(m.fattest(), Some(0));
        assert_eq!(m.total(), 60_000 + 768);
        m.sub(0, 60_000);
        m.sub(2, 768);
        assert_eq!(m.fattest(), None);
    }

    #[test]
    fn many_tins_move_between_buckets() {
        let mut m = MemBuckets::new(&mut HostAlloc::default(), 64).unwrap();
        let mut model = [0u64; 64];
        let mut x = 12345u64;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = (x >> 58) as usize;
            let v = (x >> 20) & 0xffff;
            if x & 1 == 0 {
                m.add(t as u32, v);
                model[t] += v;
            } else {
                m.sub(t as u32, v);
                model[t] = model[t].saturating_sub(v);
            }
            let max = *model.iter().max().unwrap();
            match m.fattest() {
                None => assert_eq!(max, 0),
                Some(f) => assert!(4 * model[f as usize] > max),
            }
            assert_eq!(m.total(), model.iter().sum::<u64>());
        }
        m.clear();
        assert_eq!(m.fattest(), None);
        assert_eq!(m.total(), 0);
        assert_eq!(m.of(3), 0);
    }
}
