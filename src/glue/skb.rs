// SPDX-License-Identifier: GPL-2.0
//! Owned `sk_buff` handles and an intrusive FIFO of them.
//!
//! A [`SkBuff`] owns one packet: dropping it frees the packet, handing it back
//! to the kernel is [`SkBuff::into_raw`]. [`SkbQueue`] links packets through
//! their own `next` pointer, so queueing never allocates.

use super::bindings as b;
use crate::sched::packet::{AckInfo, Packet, PacketQueue};
use core::mem::size_of;
use core::ptr::{self, NonNull};

/// An owned packet.
///
/// # Invariants
/// `self.0` points to a live `sk_buff` that nobody else references: the
/// qdisc received it in `enqueue` and has not yet returned or freed it.
pub(crate) struct SkBuff(NonNull<b::sk_buff>);

impl SkBuff {
    /// Takes ownership of a packet the kernel handed to the qdisc.
    ///
    /// # Safety
    /// `skb` must be a valid `sk_buff` whose ownership passes to the caller
    /// (as in `Qdisc_ops::enqueue`), not referenced elsewhere afterwards.
    pub(crate) unsafe fn from_raw(skb: NonNull<b::sk_buff>) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self(skb)
    }

    /// Gives ownership back to the kernel (returned from `dequeue`, or put on
    /// the `to_free` list by a helper).
    pub(crate) fn into_raw(self) -> *mut b::sk_buff {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    /// The raw pointer, for helpers that only look at the packet.
    pub(crate) fn as_ptr(&self) -> *mut b::sk_buff {
        self.0.as_ptr()
    }

    fn cb(&self) -> *mut b::cakemt_skb_cb {
        // SAFETY: `self.0` is a valid sk_buff (type invariant); the helper
        // returns a pointer into its qdisc control block, which the qdisc owns
        // while it holds the packet.
        unsafe { b::cakemt_skb_cb(self.0.as_ptr()) }
    }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: we own the packet (type invariant) and nobody uses it after.
        unsafe { b::cakemt_skb_free(self.0.as_ptr()) }
    }
}

impl Packet for SkBuff {
    fn len(&self) -> u32 {
        // SAFETY: valid sk_buff (type invariant); read-only.
        unsafe { b::cakemt_skb_len(self.0.as_ptr()) }
    }

    fn mem_size(&self) -> u32 {
        // SAFETY: valid sk_buff (type invariant); read-only.
        unsafe { b::cakemt_skb_truesize(self.0.as_ptr()) }
    }

    fn enqueue_time(&self) -> u64 {
        // SAFETY: `cb()` points into this packet's control block, which is
        // live and only touched through `&self`/`&mut self`.
        unsafe { (*self.cb()).enqueue_time }
    }

    fn set_enqueue_time(&mut self, ns: u64) {
        // SAFETY: as in `enqueue_time`; `&mut self` makes the write exclusive.
        unsafe { (*self.cb()).enqueue_time = ns }
    }

    fn adjusted_len(&self) -> u32 {
        // SAFETY: as in `enqueue_time`.
        unsafe { (*self.cb()).adjusted_len }
    }

    fn set_adjusted_len(&mut self, len: u32) {
        // SAFETY: as in `set_enqueue_time`.
        unsafe { (*self.cb()).adjusted_len = len }
    }

    fn set_ce(&mut self) -> bool {
        // SAFETY: we own the packet; INET_ECN_set_ce only rewrites its IP
        // header, which the qdisc may do while it holds the packet.
        unsafe { b::cakemt_skb_set_ce(self.0.as_ptr()) }
    }

    fn ack_info(&self) -> Option<AckInfo> {
        None
    }
}

/// A FIFO of owned packets linked through `sk_buff::next`.
///
/// # Invariants
/// `head` is null iff the queue is empty; then `tail` is null too. Otherwise
/// `head..=tail` are packets this queue owns, linked by `next`, and `tail`'s
/// `next` is null.
#[derive(Default)]
pub(crate) struct SkbQueue {
    head: *mut b::sk_buff,
    tail: *mut b::sk_buff,
}

impl PacketQueue for SkbQueue {
    type Packet = SkBuff;

    fn push_back(&mut self, pkt: SkBuff) {
        let p = pkt.into_raw();
        // SAFETY: `p` is a packet we now own; `tail`, if not null, is a packet
        // this queue owns (type invariant). Linking them keeps the invariant.
        unsafe {
            b::cakemt_skb_set_next(p, ptr::null_mut());
            if self.tail.is_null() {
                self.head = p;
            } else {
                b::cakemt_skb_set_next(self.tail, p);
            }
        }
        self.tail = p;
    }

    fn pop_front(&mut self) -> Option<SkBuff> {
        let head = NonNull::new(self.head)?;
        // SAFETY: `head` is owned by this queue (type invariant); unlinking it
        // transfers that ownership to the returned `SkBuff`.
        unsafe {
            self.head = b::cakemt_skb_next(head.as_ptr());
            b::cakemt_skb_set_next(head.as_ptr(), ptr::null_mut());
            if self.head.is_null() {
                self.tail = ptr::null_mut();
            }
            Some(SkBuff::from_raw(head))
        }
    }

    fn front(&self) -> Option<&SkBuff> {
        let head: *const *mut b::sk_buff = &self.head;
        if self.head.is_null() {
            return None;
        }
        // SAFETY: `SkBuff` is a non-null pointer with the same layout as the
        // non-null `*mut sk_buff` in `self.head`, which this queue owns; the
        // reference lives no longer than `&self`.
        Some(unsafe { &*head.cast::<SkBuff>() })
    }

    fn prefetch_front(&self) {
        if !self.head.is_null() {
            let head = self.head.cast::<core::ffi::c_void>().cast_const();
            // SAFETY: `prefetch_range` only hints the CPU and never faults;
            // `head` is a packet this queue owns (type invariant) anyway.
            unsafe { b::cakemt_prefetch_range(head, size_of::<b::sk_buff>()) };
        }
    }

    fn remove_first(
        &mut self,
        max_scan: usize,
        pred: &mut dyn FnMut(&SkBuff) -> bool,
    ) -> Option<SkBuff> {
        let mut prev: *mut b::sk_buff = ptr::null_mut();
        let mut cur = self.head;
        let mut scanned = 0;
        while let Some(c) = NonNull::new(cur) {
            if scanned == max_scan {
                break;
            }
            // Lend the packet to `pred` without giving up ownership.
            if pred(&core::mem::ManuallyDrop::new(SkBuff(c))) {
                // SAFETY: `c` is owned by this queue (type invariant), and so
                // is `prev` if not null: unlinking `c` keeps the list well
                // formed and moves ownership of `c` to the returned handle.
                unsafe {
                    let next = b::cakemt_skb_next(cur);
                    if prev.is_null() {
                        self.head = next;
                    } else {
                        b::cakemt_skb_set_next(prev, next);
                    }
                    if self.tail == cur {
                        self.tail = prev;
                    }
                    b::cakemt_skb_set_next(cur, ptr::null_mut());
                    return Some(SkBuff::from_raw(c));
                }
            }
            prev = cur;
            // SAFETY: `cur` is owned by this queue, so reading its link is fine.
            cur = unsafe { b::cakemt_skb_next(cur) };
            scanned += 1;
        }
        None
    }
}

impl Drop for SkbQueue {
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
    }
}
