// SPDX-License-Identifier: GPL-2.0
//! Calendar queue of tins waiting for their shaper: a hierarchical timing
//! wheel whose empty slots are skipped with find-first-set bitmaps.
//!
//! Time is cut into slots of `2^slot_shift` ns; a tin due at `t` is filed in
//! slot `ceil(t / slot)`, so it is never handed out early. Level 0 has
//! `2^level_bits` slots covering the block of slots the cursor (the last time
//! the wheel was read) is in; level `i` has as many buckets, each covering a
//! whole block of level `i - 1`, within the cursor's block of level `i + 1`
//! (Varghese & Lauck's hierarchical wheel). Tins further away than the top
//! level wait on an overflow list. When the cursor enters a bucket, its tins
//! cascade down one level; each tin therefore moves at most once per level.
//!
//! Finding the next non-empty slot or bucket reads two bitmap words (a
//! summary word over up to 64 words of slot bits), as in Eiffel's FFS
//! queues. Because every level is aligned to its parent's bucket, searches
//! never wrap around. Links live in per-tin arrays (u32 indices); nothing
//! allocates after [`Calendar::new`] and nothing scans all tins. The only
//! linear walk is over the overflow list, when the cursor crosses into a new
//! top-level bucket (every 2^(slot_shift + 3 * level_bits) ns, 19.5 hours
//! with the defaults) or when the wheel is otherwise empty.

// Shift amounts are below 64 by construction (slot_shift <= 32, level
// shifts <= 3 x 12): shifts are written `wrapping_sh*` so the kernel build,
// which has overflow checks, keeps no panic path for them.

use super::alloc::{AllocError, SliceAlloc};

/// "No tin" in the intrusive links.
const NIL: u32 = u32::MAX;
/// Number of wheel levels below the overflow list.
const LEVELS: usize = 3;
/// `loc` of a tin on the overflow list.
const LOC_OVERFLOW: u32 = (LEVELS as u32) << 16;

/// Geometry of a [`Calendar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarConfig {
    /// A slot lasts `2^slot_shift` ns (0..=32).
    pub slot_shift: u8,
    /// Each level has `2^level_bits` slots (1..=12: two bitmap words find
    /// any slot).
    pub level_bits: u8,
}

impl Default for CalendarConfig {
    /// 1.024 us slots, 4096 per level: level 0 spans 4.2 ms, level 1
    /// 17 s, level 2 19.5 hours.
    fn default() -> Self {
        CalendarConfig {
            slot_shift: 10,
            level_bits: 12,
        }
    }
}

/// One wheel level: a FIFO list per slot plus the bitmaps that find the
/// first non-empty slot.
struct Level<A: SliceAlloc> {
    head: A::Slice<u32>,
    tail: A::Slice<u32>,
    /// Lower bound of the slot numbers filed in each bucket (levels >= 1;
    /// exact unless the earliest tin was removed): lets `next_due` report
    /// a far wake-up precisely without cascading.
    min: A::Slice<u64>,
    /// Bit `i` set iff slot `i` is non-empty.
    words: A::Slice<u64>,
    /// Bit `w` set iff `words[w]` is non-zero.
    summary: u64,
}

impl<A: SliceAlloc> Level<A> {
    fn new(alloc: &mut A, slots: usize, with_min: bool) -> Result<Self, AllocError> {
        Ok(Level {
            head: alloc.alloc_slice(slots, |_| NIL)?,
            tail: alloc.alloc_slice(slots, |_| NIL)?,
            min: alloc.alloc_slice(if with_min { slots } else { 0 }, |_| u64::MAX)?,
            words: alloc.alloc_slice(slots.div_ceil(64), |_| 0)?,
            summary: 0,
        })
    }

    /// First non-empty slot with index `>= from`.
    fn find_from(&self, from: usize) -> Option<usize> {
        let w = from / 64;
        let word = *self.words.get(w)?;
        let here = word & (u64::MAX << (from % 64));
        if here != 0 {
            return Some(w.wrapping_mul(64) | here.trailing_zeros() as usize);
        }
        let above = self.summary
            & u64::MAX
                .checked_shl((w as u32).saturating_add(1))
                .unwrap_or(0);
        if above == 0 {
            return None;
        }
        let w = above.trailing_zeros() as usize;
        let word = *self.words.get(w)?;
        Some(w.wrapping_mul(64) | word.trailing_zeros() as usize)
    }

    fn mark(&mut self, idx: usize) {
        if let Some(word) = self.words.get_mut(idx / 64) {
            *word |= 1 << (idx % 64);
            self.summary |= 1u64.wrapping_shl((idx / 64) as u32);
        }
    }

    fn unmark(&mut self, idx: usize) {
        if let Some(word) = self.words.get_mut(idx / 64) {
            *word &= !(1 << (idx % 64));
            if *word == 0 {
                self.summary &= !1u64.wrapping_shl((idx / 64) as u32);
            }
        }
        if let Some(m) = self.min.get_mut(idx) {
            *m = u64::MAX;
        }
    }
}

/// A FIFO list head for the overflow list.
#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// A tin's links, kept together so filing a tin touches one cache line.
#[derive(Clone, Copy)]
struct Link {
    /// Slot number the tin is due in.
    slot: u64,
    next: u32,
    prev: u32,
    /// Where the tin is: `level << 16 | index`, [`LOC_OVERFLOW`] or `NIL`.
    loc: u32,
}

const UNLINKED: Link = Link {
    slot: 0,
    next: NIL,
    prev: NIL,
    loc: NIL,
};

/// Bytes of per-tin links a [`Calendar`] keeps.
pub const CALENDAR_BYTES_PER_TIN: usize = core::mem::size_of::<Link>();

/// Timing wheel of tin indices keyed by due time in ns.
pub struct Calendar<A: SliceAlloc> {
    links: A::Slice<Link>,
    levels: [Level<A>; LEVELS],
    overflow: List,
    /// Lower bound of the slots on the overflow list.
    overflow_min: u64,
    /// Slot of the last read; no filed tin is due before it.
    cursor: u64,
    slot_shift: u32,
    bits: u32,
    len: u32,
}

impl<A: SliceAlloc> Calendar<A> {
    /// An empty calendar for tins `0..tins`. Fails on an invalid geometry
    /// or if memory cannot be had.
    pub fn new(alloc: &mut A, tins: u32, config: CalendarConfig) -> Result<Self, AllocError> {
        if config.slot_shift > 32 || !(1..=12).contains(&config.level_bits) || tins == NIL {
            return Err(AllocError);
        }
        let n = tins as usize;
        let slots = 1usize.wrapping_shl(u32::from(config.level_bits));
        let l0 = Level::new(alloc, slots, false)?;
        let l1 = Level::new(alloc, slots, true)?;
        let l2 = Level::new(alloc, slots, true)?;
        Ok(Calendar {
            links: alloc.alloc_slice(n, |_| UNLINKED)?,
            levels: [l0, l1, l2],
            overflow: List {
                head: NIL,
                tail: NIL,
            },
            overflow_min: u64::MAX,
            cursor: 0,
            slot_shift: u32::from(config.slot_shift),
            bits: u32::from(config.level_bits),
            len: 0,
        })
    }

    /// Number of tins filed.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Is no tin filed?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Is `tin` filed?
    pub fn contains(&self, tin: u32) -> bool {
        self.links.get(tin as usize).is_some_and(|l| l.loc != NIL)
    }

    /// The time (ns) `tin` will be handed out at, if filed: its due time
    /// rounded up to a slot boundary, or the last read time if it was filed
    /// already overdue.
    pub fn due_of(&self, tin: u32) -> Option<u64> {
        if !self.contains(tin) {
            return None;
        }
        self.links.get(tin as usize).map(|l| self.slot_time(l.slot))
    }

    /// Files `tin` to be handed out at `due` (ns); a tin already filed is
    /// moved. Returns false (and does nothing) if `tin` is out of range.
    pub fn insert(&mut self, tin: u32, due: u64) -> bool {
        if tin as usize >= self.links.len() {
            return false;
        }
        self.remove(tin);
        // Capping keeps ceil() and slot_time() within u64: a tin due in the
        // last slot before 2^64 ns (year 2554) may leave < 1 slot early.
        let sh = self.slot_shift;
        let g = 1u64.wrapping_shl(sh);
        let due = due.min(u64::MAX.wrapping_shr(sh).wrapping_shl(sh));
        let s = due
            .wrapping_shr(sh)
            .saturating_add(u64::from(due & g.wrapping_sub(1) != 0));
        self.file(tin, s.max(self.cursor));
        self.len = self.len.saturating_add(1);
        true
    }

    /// Fills `out` with the filed tins that come due first, in order, as
    /// far as level 0 reaches (a few ms), and returns how many it wrote.
    /// For prefetching: costs at most `out.len()` slot searches and link
    /// steps.
    pub fn upcoming(&self, out: &mut [u32]) -> usize {
        if self.len == 0 {
            return 0;
        }
        let level = &self.levels[0];
        let mut from = (self.cursor & self.mask()) as usize;
        let mut n = 0;
        for _ in 0..out.len() {
            let Some(i) = level.find_from(from) else {
                break;
            };
            let mut tin = level.head.get(i).copied().unwrap_or(NIL);
            while tin != NIL {
                let Some(slot) = out.get_mut(n) else {
                    return n;
                };
                *slot = tin;
                n = n.saturating_add(1);
                tin = self.links.get(tin as usize).map_or(NIL, |l| l.next);
            }
            from = i.saturating_add(1);
        }
        n
    }

    /// Prefetches `tin`'s links.
    pub fn prefetch(&self, tin: u32) {
        if let Some(l) = self.links.get(tin as usize) {
            A::prefetch(l);
        }
    }

    /// Takes `tin` off the calendar; returns whether it was filed.
    pub fn remove(&mut self, tin: u32) -> bool {
        if !self.contains(tin) {
            return false;
        }
        self.unlink(tin);
        self.len = self.len.saturating_sub(1);
        true
    }

    /// Hands out one tin due at or before `now`: the one filed in the
    /// earliest slot (FIFO within a slot), or `None` if none is due.
    pub fn pop_due(&mut self, now: u64) -> Option<u32> {
        let target = now.wrapping_shr(self.slot_shift);
        if self.len == 0 || target < self.cursor {
            return None;
        }
        // Each round either answers or cascades one level down.
        for _ in 0..LEVELS + 2 {
            let mask = self.mask();
            let block = self.cursor & !mask;
            if let Some(i) = self.levels[0].find_from((self.cursor & mask) as usize) {
                let s = block | i as u64;
                if s > target {
                    // Same block as the cursor: nothing to cascade.
                    self.cursor = target;
                    return None;
                }
                self.cursor = s;
                let tin = self.levels[0].head.get(i).copied()?;
                self.unlink(tin);
                self.len = self.len.saturating_sub(1);
                return Some(tin);
            }
            if let Some((_, _, first)) = self.first_bucket() {
                if first > target {
                    self.advance(target);
                    return None;
                }
                self.advance(first);
                continue;
            }
            // Only the overflow list is left.
            if self.overflow_min > target {
                self.advance(target);
                return None;
            }
            let m = self.overflow_exact_min();
            self.overflow_min = m;
            if m > target {
                self.advance(target);
                return None;
            }
            self.advance(m);
        }
        None
    }

    /// When the next tin becomes due (ns), if any is filed. Exact unless
    /// the earliest tin beyond level 0 was removed, in which case this is
    /// an earlier bound (the caller wakes, finds nothing due, asks again).
    pub fn next_due(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        if let Some(i) = self.levels[0].find_from((self.cursor & mask) as usize) {
            return Some(self.slot_time((self.cursor & !mask) | i as u64));
        }
        if let Some((_, _, first)) = self.first_bucket() {
            return Some(self.slot_time(first));
        }
        Some(self.slot_time(self.overflow_min.max(self.cursor)))
    }

    /// Takes some filed tin off the calendar, whatever its due time, without
    /// moving the cursor (for draining on reset).
    pub fn take_any(&mut self) -> Option<u32> {
        let mut tin = self.overflow.head;
        for lvl in (0..LEVELS).rev() {
            if let Some(i) = self.levels[lvl].find_from(0) {
                tin = self.levels[lvl].head.get(i).copied().unwrap_or(NIL);
            }
        }
        if tin == NIL {
            return None;
        }
        self.remove(tin).then_some(tin)
    }

    /// Bytes of the wheels, excluding the per-tin links.
    pub fn wheel_bytes(&self) -> usize {
        self.levels
            .iter()
            .map(|l| {
                let words = l.head.len().saturating_add(l.tail.len());
                let longs = l.min.len().saturating_add(l.words.len());
                words
                    .saturating_mul(4)
                    .saturating_add(longs.saturating_mul(8))
            })
            .fold(0, usize::saturating_add)
    }

    /// Empties the calendar in O(filed tins + bitmap words).
    pub fn clear(&mut self) {
        for lvl in 0..LEVELS {
            for _ in 0..=self.links.len() {
                let Some(i) = self.levels[lvl].find_from(0) else {
                    break;
                };
                let head = self.detach_bucket(lvl, i);
                self.reset_list(head);
            }
        }
        self.reset_list(self.overflow.head);
        self.overflow = List {
            head: NIL,
            tail: NIL,
        };
        self.overflow_min = u64::MAX;
        self.len = 0;
    }

    fn mask(&self) -> u64 {
        1u64.wrapping_shl(self.bits).wrapping_sub(1)
    }

    fn slot_time(&self, s: u64) -> u64 {
        s.checked_shl(self.slot_shift)
            .filter(|&t| t.wrapping_shr(self.slot_shift) == s)
            .unwrap_or(u64::MAX)
    }

    /// Bucket number of slot `s` at level `lvl` (`lvl == LEVELS`: the top).
    fn key(&self, s: u64, lvl: usize) -> u64 {
        s.wrapping_shr(self.bits.wrapping_mul(lvl as u32))
    }

    /// Lowest non-empty bucket of levels >= 1: (level, index, earliest slot
    /// bound). Lower levels always hold earlier tins than higher ones.
    fn first_bucket(&self) -> Option<(usize, usize, u64)> {
        let mask = self.mask();
        for lvl in 1..LEVELS {
            // The cursor's own bucket is always empty at levels >= 1.
            let from = (self.key(self.cursor, lvl) & mask) as usize + 1;
            if let Some(i) = self.levels[lvl].find_from(from) {
                let shift = self.bits.wrapping_mul(lvl as u32);
                let parent = self.key(self.cursor, lvl + 1).wrapping_shl(self.bits);
                let start = (parent | i as u64).wrapping_shl(shift);
                let bound = self.levels[lvl].min.get(i).copied().unwrap_or(start);
                return Some((lvl, i, start.max(bound)));
            }
        }
        None
    }

    /// Files `tin` (not linked anywhere) in slot `s >= cursor`: at the
    /// lowest level whose parent bucket the cursor shares, else overflow.
    fn file(&mut self, tin: u32, s: u64) {
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.slot = s;
        }
        for lvl in 0..LEVELS {
            if self.key(s, lvl + 1) == self.key(self.cursor, lvl + 1) {
                let idx = (self.key(s, lvl) & self.mask()) as usize;
                self.push_back(lvl, idx, tin);
                if let Some(m) = self.levels[lvl].min.get_mut(idx) {
                    *m = (*m).min(s);
                }
                return;
            }
        }
        let tail = self.overflow.tail;
        self.link_after(tail, tin, LOC_OVERFLOW);
        if tail == NIL {
            self.overflow.head = tin;
        }
        self.overflow.tail = tin;
        self.overflow_min = self.overflow_min.min(s);
    }

    fn push_back(&mut self, lvl: usize, idx: usize, tin: u32) {
        let Some(&tail) = self.levels.get(lvl).and_then(|l| l.tail.get(idx)) else {
            return;
        };
        self.link_after(tail, tin, ((lvl as u32) << 16) | idx as u32);
        let Some(level) = self.levels.get_mut(lvl) else {
            return;
        };
        if tail == NIL {
            if let Some(h) = level.head.get_mut(idx) {
                *h = tin;
            }
            level.mark(idx);
        }
        if let Some(t) = level.tail.get_mut(idx) {
            *t = tin;
        }
    }

    /// Sets `tin`'s links to follow `tail` (NIL: first) and its location.
    fn link_after(&mut self, tail: u32, tin: u32, loc: u32) {
        if let Some(l) = self.links.get_mut(tail as usize) {
            l.next = tin;
        }
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.prev = tail;
        }
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.next = NIL;
        }
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.loc = loc;
        }
    }

    fn reset_links(&mut self, tin: u32) {
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.next = NIL;
        }
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.prev = NIL;
        }
        if let Some(l) = self.links.get_mut(tin as usize) {
            l.loc = NIL;
        }
    }

    /// Unlinks a filed tin from its list (`len` unchanged).
    fn unlink(&mut self, tin: u32) {
        let i = tin as usize;
        let Some(&Link {
            loc, next, prev, ..
        }) = self.links.get(i)
        else {
            return;
        };
        if let Some(l) = self.links.get_mut(prev as usize) {
            l.next = next;
        }
        if let Some(l) = self.links.get_mut(next as usize) {
            l.prev = prev;
        }
        let lvl = (loc >> 16) as usize;
        let idx = (loc & 0xffff) as usize;
        if let Some(level) = self.levels.get_mut(lvl) {
            if prev == NIL {
                if let Some(h) = level.head.get_mut(idx) {
                    *h = next;
                }
            }
            if next == NIL {
                if let Some(t) = level.tail.get_mut(idx) {
                    *t = prev;
                }
            }
            if prev == NIL && next == NIL {
                level.unmark(idx);
            }
        } else if loc == LOC_OVERFLOW {
            if prev == NIL {
                self.overflow.head = next;
            }
            if next == NIL {
                self.overflow.tail = prev;
            }
            if prev == NIL && next == NIL {
                self.overflow_min = u64::MAX;
            }
        }
        self.reset_links(tin);
    }

    /// Unlinks every tin of the list starting at `head`.
    fn reset_list(&mut self, head: u32) {
        let mut t = head;
        for _ in 0..self.links.len() {
            if t == NIL {
                break;
            }
            let next = self.links.get(t as usize).map_or(NIL, |l| l.next);
            self.reset_links(t);
            t = next;
        }
    }

    /// Empties bucket `idx` of level `lvl`, returning its list's head. The
    /// members keep their links until they are re-filed or reset.
    fn detach_bucket(&mut self, lvl: usize, idx: usize) -> u32 {
        let Some(level) = self.levels.get_mut(lvl) else {
            return NIL;
        };
        let Some(head) = level.head.get_mut(idx).map(|h| core::mem::replace(h, NIL)) else {
            return NIL;
        };
        if let Some(t) = level.tail.get_mut(idx) {
            *t = NIL;
        }
        level.unmark(idx);
        head
    }

    /// Re-files every tin of a detached list under the current cursor.
    /// A cascade walks thousands of tins whose links are scattered in
    /// memory, so each step asks for the next tin's links before filing
    /// this one.
    fn refile(&mut self, head: u32) {
        let mut t = head;
        for _ in 0..self.links.len() {
            if t == NIL {
                break;
            }
            let next = self.links.get(t as usize).map_or(NIL, |l| l.next);
            self.prefetch(next);
            let s = self.links.get(t as usize).map_or(self.cursor, |l| l.slot);
            self.file(t, s.max(self.cursor));
            t = next;
        }
    }

    /// Moves the cursor forward to slot `t`. No filed tin may be due before
    /// `t`. Buckets the cursor enters cascade down, top level first, so a
    /// tin cascaded into a lower level's entered bucket moves on in turn.
    fn advance(&mut self, t: u64) {
        let old = self.cursor;
        if t <= old {
            return;
        }
        self.cursor = t;
        if self.key(t, LEVELS) != self.key(old, LEVELS) && self.overflow.head != NIL {
            let head = self.overflow.head;
            self.overflow = List {
                head: NIL,
                tail: NIL,
            };
            self.overflow_min = u64::MAX;
            self.refile(head);
        }
        for lvl in (1..LEVELS).rev() {
            let idx = (self.key(t, lvl) & self.mask()) as usize;
            if self.levels[lvl].head.get(idx).is_some_and(|&h| h != NIL) {
                let head = self.detach_bucket(lvl, idx);
                self.refile(head);
            }
        }
    }

    /// Exact earliest slot on the overflow list (walks it).
    fn overflow_exact_min(&self) -> u64 {
        let mut m = u64::MAX;
        let mut t = self.overflow.head;
        for _ in 0..self.links.len() {
            if t == NIL {
                break;
            }
            m = m.min(self.links.get(t as usize).map_or(u64::MAX, |l| l.slot));
            t = self.links.get(t as usize).map_or(NIL, |l| l.next);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::sched::test_support::{CalendarModel, HostAlloc};
    use std::vec::Vec;

    fn cal(tins: u32, slot_shift: u8, level_bits: u8) -> Calendar<HostAlloc> {
        Calendar::new(
            &mut HostAlloc::default(),
            tins,
            CalendarConfig {
                slot_shift,
                level_bits,
            },
        )
        .unwrap()
    }

    fn drain(c: &mut Calendar<HostAlloc>, now: u64) -> Vec<u32> {
        let mut v = Vec::new();
        while let Some(t) = c.pop_due(now) {
            v.push(t);
        }
        v
    }

    #[test]
    fn rejects_bad_geometry() {
        for (s, b) in [(33, 12), (10, 0), (10, 13)] {
            assert!(Calendar::new(
                &mut HostAlloc::default(),
                4,
                CalendarConfig {
                    slot_shift: s,
                    level_bits: b
                }
            )
            .is_err());
        }
        assert!(Calendar::new(
            &mut HostAlloc::default(),
            u32::MAX,
            CalendarConfig::default()
        )
        .is_err());
    }

    #[test]
    fn rounds_up_to_slot_and_never_early() {
        let mut c = cal(4, 10, 12);
        assert!(c.insert(0, 1025));
        assert_eq!(c.due_of(0), Some(2048));
        assert_eq!(c.next_due(), Some(2048));
        assert_eq!(c.pop_due(2047), None);
        assert_eq!(c.pop_due(2048), Some(0));
        assert!(c.is_empty());
        assert_eq!(c.next_due(), None);
        assert!(!c.insert(4, 0));
    }

    #[test]
    fn time_order_and_fifo_within_slot() {
        let mut c = cal(8, 0, 12);
        for (t, due) in [(0, 50), (1, 10), (2, 50), (3, 30), (4, 10)] {
            c.insert(t, due);
        }
        assert_eq!(c.next_due(), Some(10));
        assert_eq!(drain(&mut c, 40), [1, 4, 3]);
        assert_eq!(c.next_due(), Some(50));
        assert_eq!(drain(&mut c, 100), [0, 2]);
    }

    #[test]
    fn far_times_cascade_exactly() {
        // Level 0 spans 4096 ns, level 1 16.7 ms, level 2 68.7 s.
        let mut c = cal(6, 0, 12);
        let dues = [
            5_000,
            3_000_000_000,
            70_000_000_000,
            4_095,
            1 << 40,
            20_000_000,
        ];
        for (t, &d) in dues.iter().enumerate() {
            c.insert(t as u32, d);
        }
        let mut order: Vec<(u64, u32)> = dues
            .iter()
            .enumerate()
            .map(|(t, &d)| (d, t as u32))
            .collect();
        order.sort();
        for (d, t) in order {
            assert_eq!(c.next_due(), Some(d));
            assert_eq!(c.pop_due(d - 1), None);
            assert_eq!(c.pop_due(d), Some(t));
        }
        assert!(c.is_empty());
    }

    #[test]
    fn overdue_insert_is_due_at_once() {
        let mut c = cal(3, 4, 4);
        c.insert(0, 1_000);
        assert_eq!(c.pop_due(5_000), Some(0));
        c.insert(1, 10);
        assert_eq!(c.next_due(), Some(1_008));
        assert_eq!(c.pop_due(5_000), Some(1));
    }

    #[test]
    fn remove_and_move() {
        let mut c = cal(4, 0, 2);
        c.insert(0, 100);
        c.insert(1, 5);
        c.insert(2, 1_000_000);
        assert!(c.remove(1));
        assert!(!c.remove(1));
        assert!(!c.contains(1));
        c.insert(0, 3); // moved
        assert_eq!(c.len(), 2);
        assert_eq!(drain(&mut c, 1_000_000), [0, 2]);
    }

    #[test]
    fn next_due_is_lower_bound_after_removal() {
        let mut c = cal(3, 0, 12);
        c.insert(0, 10_000);
        c.insert(1, 12_000);
        c.remove(0);
        let nd = c.next_due().unwrap();
        assert!(nd <= 12_000);
        assert_eq!(
            c.pop_due(nd),
            None.or(if nd == 12_000 { Some(1) } else { None })
        );
        assert_eq!(c.next_due(), Some(12_000));
        assert_eq!(c.pop_due(12_000), Some(1));
    }

    #[test]
    fn huge_times_do_not_overflow() {
        let mut c = cal(2, 10, 12);
        c.insert(0, u64::MAX);
        c.insert(1, u64::MAX - (1 << 20));
        assert_eq!(c.pop_due(u64::MAX - (1 << 21)), None);
        assert_eq!(drain(&mut c, u64::MAX), [1, 0]);
    }

    #[test]
    fn take_any_drains_without_moving_time() {
        let mut c = cal(6, 0, 2);
        for t in 0..6 {
            c.insert(t, 1 << (6 * t));
        }
        let mut got = Vec::new();
        while let Some(t) = c.take_any() {
            got.push(t);
        }
        got.sort();
        assert_eq!(got, [0, 1, 2, 3, 4, 5]);
        assert!(c.is_empty());
        c.insert(2, 3);
        assert_eq!(c.pop_due(2), None);
        assert_eq!(c.pop_due(3), Some(2));
    }

    #[test]
    fn clear_empties_everything() {
        let mut c = cal(5, 0, 2);
        for t in 0..5 {
            c.insert(t, 1 << (8 * t));
        }
        c.clear();
        assert!(c.is_empty());
        assert_eq!(c.next_due(), None);
        for t in 0..5 {
            assert!(!c.contains(t));
        }
        c.insert(3, 7);
        assert_eq!(drain(&mut c, u64::MAX), [3]);
    }

    /// Small wheels (4 slots per level) force every path: cascades,
    /// overflow refiling and far jumps. Compared against a model.
    #[test]
    fn matches_model_on_pseudo_random_ops() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for bits in [1u8, 2, 3] {
            let mut c = cal(16, 2, bits);
            let mut model = CalendarModel::new(2);
            let mut now = 0u64;
            for _ in 0..20_000 {
                let r = rnd();
                match r % 4 {
                    0 | 1 => {
                        let t = (rnd() % 16) as u32;
                        let due = now + (rnd() % (1 << (rnd() % 24)));
                        c.insert(t, due);
                        model.insert(t, due);
                    }
                    2 => {
                        let t = (rnd() % 16) as u32;
                        assert_eq!(c.remove(t), model.remove(t));
                    }
                    _ => {
                        now += rnd() % (1 << (rnd() % 20));
                        model.check_pop(&mut c, now);
                    }
                }
                model.check(&c);
            }
        }
    }

    #[test]
    fn upcoming_is_the_start_of_the_pop_order() {
        // 64 slots of 4 ns at level 0: dues from 0 to ~1000 ns spread over
        // level 0 and level 1; several tins share slots.
        let mut c = cal(200, 2, 6);
        let mut seed = 0x2545_F491_u64;
        for t in 0..200u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            c.insert(t, seed % 1000);
        }
        let mut all = [NIL; 200];
        let n = c.upcoming(&mut all);
        assert!(n > 10 && n < 200, "level 0 holds some, not all: {n}");
        let mut few = [NIL; 5];
        assert_eq!(c.upcoming(&mut few), 5);
        assert_eq!(few[..], all[..5]);
        assert_eq!(c.upcoming(&mut []), 0);
        let popped = drain(&mut c, u64::MAX);
        assert_eq!(popped[..n], all[..n]);
        assert_eq!(c.upcoming(&mut few), 0);
    }
}
