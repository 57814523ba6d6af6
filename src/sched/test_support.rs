// SPDX-License-Identifier: GPL-2.0
//! Host-only helpers for the core's tests: a plain packet struct, a
//! `VecDeque` packet queue and a `Vec`-backed [`SliceAlloc`]. The unit tests
//! use it as `crate::sched::test_support`; the simulator, property tests,
//! bench and fuzz targets include it through `tests/host/mod.rs`.

extern crate std;

use std::collections::{BTreeMap, VecDeque};
use std::vec::Vec;

use crate::sched::alloc::{AllocError, SliceAlloc};
use crate::sched::calendar::Calendar;
use crate::sched::packet::{AckInfo, Packet, PacketQueue};

/// A test packet: every field the core may read or write is visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestPacket {
    /// Caller's identifier (e.g. sequence number).
    pub(crate) id: u64,
    /// Caller's tag, e.g. which flow or tin it was sent to.
    pub(crate) tag: u32,
    pub(crate) len: u32,
    pub(crate) adjusted_len: u32,
    pub(crate) enqueue_time: u64,
    pub(crate) mem: u32,
    /// ECN-capable transport.
    pub(crate) ect: bool,
    /// Marked Congestion Experienced.
    pub(crate) ce: bool,
    pub(crate) ack: Option<AckInfo>,
    /// DSCP (picks the diffserv band).
    pub(crate) dscp: u8,
}

impl TestPacket {
    /// A non-ECT, non-ACK packet of `len` bytes (adjusted length = len).
    pub(crate) fn new(id: u64, len: u32) -> Self {
        Self {
            id,
            tag: 0,
            len,
            adjusted_len: len,
            enqueue_time: 0,
            mem: len,
            ect: false,
            ce: false,
            ack: None,
            dscp: 0,
        }
    }
}

impl Packet for TestPacket {
    fn len(&self) -> u32 {
        self.len
    }
    fn enqueue_time(&self) -> u64 {
        self.enqueue_time
    }
    fn set_enqueue_time(&mut self, ns: u64) {
        self.enqueue_time = ns;
    }
    fn adjusted_len(&self) -> u32 {
        self.adjusted_len
    }
    fn set_adjusted_len(&mut self, len: u32) {
        self.adjusted_len = len;
    }
    fn mem_size(&self) -> u32 {
        self.mem
    }
    fn set_ce(&mut self) -> bool {
        if self.ect {
            self.ce = true;
        }
        self.ect
    }
    fn ack_info(&self) -> Option<AckInfo> {
        self.ack
    }
    fn dscp(&self) -> u8 {
        self.dscp
    }
}

/// A `VecDeque` of packets (by default [`TestPacket`]s).
#[derive(Debug)]
pub(crate) struct TestQueue<P = TestPacket>(pub(crate) VecDeque<P>);

impl<P> Default for TestQueue<P> {
    fn default() -> Self {
        Self(VecDeque::new())
    }
}

impl<P: Packet> PacketQueue for TestQueue<P> {
    type Packet = P;

    fn push_back(&mut self, pkt: P) {
        self.0.push_back(pkt);
    }
    fn pop_front(&mut self) -> Option<P> {
        self.0.pop_front()
    }
    fn front(&self) -> Option<&P> {
        self.0.front()
    }
    fn remove_first(&mut self, max_scan: usize, pred: &mut dyn FnMut(&P) -> bool) -> Option<P> {
        let pos = self.0.iter().take(max_scan).position(pred)?;
        self.0.remove(pos)
    }
    fn prefetch_front(&self) {
        if let Some(p) = self.0.front() {
            prefetch(p);
        }
    }
}

/// Asks the CPU to load every cache line of `item` (x86-64 `prefetcht0`;
/// nothing elsewhere), as the kernel's `prefetch` does for the module.
#[allow(unsafe_code)]
pub(crate) fn prefetch<T: ?Sized>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = (item as *const T).cast::<i8>();
        let len = std::mem::size_of_val(item);
        // Every line the item spans: one prefetch per 64 bytes from its
        // start plus one at its last byte. The count depends only on the
        // type, so no branch depends on where the item lies.
        let last = len.saturating_sub(1);
        for k in 0..=len / 64 {
            // SAFETY: `prefetcht0` is a hint that never faults and writes
            // nothing; SSE, which the intrinsic is gated on, is part of the
            // x86-64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add((k * 64).min(last))) };
        }
        // SAFETY: as above.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(last)) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Backs [`SliceAlloc`] with `Vec`, counts the bytes handed out, and can be
/// told to fail.
#[derive(Debug, Default)]
pub(crate) struct HostAlloc {
    /// Fail every allocation.
    pub(crate) fail: bool,
    /// Bytes allocated so far.
    pub(crate) bytes: usize,
}

impl SliceAlloc for HostAlloc {
    type Slice<T> = Vec<T>;

    fn prefetch<T: ?Sized>(item: &T) {
        prefetch(item);
    }

    fn alloc_slice<T>(
        &mut self,
        len: usize,
        init: impl FnMut(usize) -> T,
    ) -> Result<Vec<T>, AllocError> {
        if self.fail {
            return Err(AllocError);
        }
        self.bytes += len * core::mem::size_of::<T>();
        Ok((0..len).map(init).collect())
    }
}

/// A reference model of [`Calendar`]: the slot each filed tin is due in
/// (due time rounded up to a slot, never before the slot last handed out).
/// Shared by the calendar's unit test and its fuzz target.
#[derive(Debug, Default)]
pub(crate) struct CalendarModel {
    shift: u8,
    slots: BTreeMap<u32, u64>,
    cursor: u64,
}

impl CalendarModel {
    /// A model of a calendar with slots of `1 << shift` ns.
    pub(crate) fn new(shift: u8) -> Self {
        Self {
            shift,
            ..Self::default()
        }
    }

    /// Mirrors `Calendar::insert(tin, due)`.
    pub(crate) fn insert(&mut self, tin: u32, due: u64) {
        let cap = (u64::MAX >> self.shift) << self.shift;
        let slot = due.min(cap).div_ceil(1 << self.shift).max(self.cursor);
        self.slots.insert(tin, slot);
    }

    /// Mirrors `Calendar::remove(tin)`: was it filed?
    pub(crate) fn remove(&mut self, tin: u32) -> bool {
        self.slots.remove(&tin).is_some()
    }

    /// Checks `c.pop_due(now)`: a tin of the earliest slot, none early.
    pub(crate) fn check_pop<A: SliceAlloc>(&mut self, c: &mut Calendar<A>, now: u64) {
        let target = now >> self.shift;
        let min = self.slots.values().min().copied();
        match c.pop_due(now) {
            Some(t) => {
                let s = self.slots.remove(&t).expect("unknown tin");
                assert_eq!(Some(s), min);
                assert!(s <= target);
                self.cursor = s;
            }
            None => {
                assert!(!min.is_some_and(|m| m <= target));
                self.cursor = self.cursor.max(target);
            }
        }
    }

    /// Checks the number of tins filed and that `next_due` is never later
    /// than the start of the earliest slot.
    pub(crate) fn check<A: SliceAlloc>(&self, c: &Calendar<A>) {
        assert_eq!(c.len() as usize, self.slots.len());
        let min = self
            .slots
            .values()
            .min()
            .map(|s| s.checked_shl(u32::from(self.shift)).unwrap_or(u64::MAX));
        assert_eq!(c.next_due().is_some(), min.is_some());
        assert!(c.next_due() <= min);
    }
}
