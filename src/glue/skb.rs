// SPDX-License-Identifier: GPL-2.0
//! Owned `sk_buff` handles, an intrusive FIFO of them, and what the core
//! reads from a packet: flow keys from the flow dissector, ECN marking, the
//! TCP header for the ACK filter, the shape of a GSO packet.
//!
//! A [`SkBuff`] owns one packet: dropping it frees the packet, handing it back
//! to the kernel is [`SkBuff::into_raw`]. [`SkbQueue`] links packets through
//! their own `next` pointer, so queueing never allocates.

use super::bindings as b;
use crate::sched::overhead::GsoShape;
use crate::sched::packet::{AckInfo, FlowKeys, Packet, PacketQueue};
use crate::sched::tcp_ack;
use core::mem::size_of;
use core::ptr::{self, NonNull};

/// Bytes of the network header the ACK filter's parser looks at: as many
/// as the parser can use (IP headers with options, 6in4, TCP options).
const ACK_HEADER_BYTES: usize = tcp_ack::HEADER_BYTES;

/// A packet's addresses, network byte order (IPv4 in the first 4 bytes).
pub(crate) struct Addrs {
    pub(crate) v6: bool,
    pub(crate) src: [u8; 16],
    pub(crate) dst: [u8; 16],
}

/// An owned packet.
///
/// # Invariants
/// `self.0` points to a live `sk_buff` that nobody else references: the
/// qdisc received it in `enqueue` and has not yet returned or freed it.
/// `#[repr(transparent)]` over a non-null pointer, so a `*mut sk_buff` the
/// qdisc owns may be viewed as a `&SkBuff` (see [`SkbQueue::front`]).
#[repr(transparent)]
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

    /// `skb->priority` (a filter action may have set it).
    pub(crate) fn priority(&self) -> u32 {
        // SAFETY: valid sk_buff (type invariant); read-only.
        unsafe { b::cakemt_skb_priority(self.0.as_ptr()) }
    }

    /// `skb->mark` (the firewall's fwmark).
    pub(crate) fn mark(&self) -> u32 {
        // SAFETY: valid sk_buff (type invariant); read-only.
        unsafe { b::cakemt_skb_mark(self.0.as_ptr()) }
    }

    /// Is this a GSO super-packet?
    pub(crate) fn is_gso(&self) -> bool {
        // SAFETY: valid sk_buff (type invariant); read-only.
        unsafe { b::cakemt_skb_is_gso(self.0.as_ptr()) }
    }

    /// The flow's and the hosts' hashes, host hashes seeded with `seed`.
    pub(crate) fn flow_keys(&self, seed: u32, nat: bool) -> FlowKeys {
        let mut k = b::cakemt_flow_keys::default();
        // SAFETY: valid sk_buff (type invariant); the dissector and the
        // conntrack lookup only read the packet; `k` is a valid output.
        unsafe { b::cakemt_skb_flow_keys(self.0.as_ptr(), seed, nat, &mut k) };
        FlowKeys {
            flow_hash: k.flow,
            src_host_hash: k.src_host,
            dst_host_hash: k.dst_host,
        }
    }

    /// Whether the kernel has conntrack, which `nat` needs.
    pub(crate) fn conntrack_available() -> bool {
        // SAFETY: reads a compile-time constant.
        unsafe { b::cakemt_has_conntrack() }
    }

    /// Clears the packet's DSCP, keeping ECN (CAKE's `wash`).
    pub(crate) fn wash(&mut self) {
        // SAFETY: valid sk_buff (type invariant) that the qdisc holds; the
        // helper pulls and makes writable the IP header before it rewrites
        // its DS field, as CAKE does at enqueue.
        unsafe { b::cakemt_skb_wash(self.0.as_ptr()) }
    }

    /// Keeps the packet's DSCP for its band: read now, before `wash` may
    /// clear it, when `banded` (bands look at it); else marked unread, so
    /// that a later change to a banded mode reads the header then.
    pub(crate) fn keep_dscp(&mut self, banded: bool) {
        let dscp = if banded {
            // SAFETY: valid sk_buff (type invariant); the helper only
            // reads the packet, through skb_header_pointer.
            unsafe { b::cakemt_skb_dscp(self.0.as_ptr()) }
        } else {
            b::CAKEMT_DSCP_UNREAD as u8
        };
        // SAFETY: `cb()` points into this packet's control block, which the
        // qdisc owns while it holds the packet; `&mut self` makes the write
        // exclusive.
        unsafe { (*self.cb()).dscp = dscp }
    }

    /// The packet's source and destination addresses, if it is IP (with
    /// `nat`, an IPv4 packet's from before NAT, as conntrack has them).
    pub(crate) fn addrs(&self, nat: bool) -> Option<Addrs> {
        let mut a = b::cakemt_addrs::default();
        // SAFETY: valid sk_buff (type invariant); the helper only reads the
        // packet, through skb_header_pointer, and conntrack, and writes `a`.
        let family = unsafe { b::cakemt_skb_addrs(self.0.as_ptr(), nat, &mut a) };
        let v6 = match family {
            4 => false,
            6 => true,
            _ => return None,
        };
        Some(Addrs {
            v6,
            src: a.src,
            dst: a.dst,
        })
    }

    /// Splits a GSO packet into its segments. On success the segments are
    /// returned and this packet is consumed; on failure it is given back.
    pub(crate) fn segment(self) -> Result<Segments, SkBuff> {
        // SAFETY: valid sk_buff (type invariant), which we own; the helper
        // does not free it.
        let segs = unsafe { b::cakemt_skb_gso_segment(self.0.as_ptr()) };
        if segs.is_null() {
            return Err(self);
        }
        // SAFETY: the original lives on only as its segments, which took
        // what they need of it.
        unsafe { b::cakemt_skb_consume(self.into_raw()) };
        // INVARIANT: a fresh list of packets nobody else references.
        Ok(Segments(segs))
    }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: we own the packet (type invariant) and nobody uses it after.
        unsafe { b::cakemt_skb_free(self.0.as_ptr()) }
    }
}

/// The segments of a split GSO packet, handed out one by one.
///
/// # Invariants
/// `self.0` is null or the head of a list (linked by `next`) of packets
/// this value owns.
pub(crate) struct Segments(*mut b::sk_buff);

impl Iterator for Segments {
    type Item = SkBuff;

    fn next(&mut self) -> Option<SkBuff> {
        let head = NonNull::new(self.0)?;
        // SAFETY: `head` is owned by this list (type invariant); unlinking it
        // moves its ownership to the returned handle.
        unsafe {
            self.0 = b::cakemt_skb_next(head.as_ptr());
            b::cakemt_skb_set_next(head.as_ptr(), ptr::null_mut());
            Some(SkBuff::from_raw(head))
        }
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        for _ in self.by_ref() {}
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
        // header (making it writable first), which the qdisc may do while it
        // holds the packet.
        unsafe { b::cakemt_skb_set_ce(self.0.as_ptr()) }
    }

    fn ack_info(&self) -> Option<AckInfo> {
        let mut buf = [0u8; ACK_HEADER_BYTES];
        let mut l3_len = 0u32;
        // SAFETY: valid sk_buff (type invariant), read-only; the helper
        // writes at most `buf.len()` bytes into `buf`.
        let got = unsafe {
            b::cakemt_skb_l3_bytes(
                self.0.as_ptr(),
                buf.as_mut_ptr(),
                buf.len() as u32,
                &mut l3_len,
            )
        };
        tcp_ack::parse_ack(buf.get(..got as usize)?, l3_len)
    }

    fn dscp(&self) -> u8 {
        // SAFETY: as in `enqueue_time`.
        let kept = unsafe { (*self.cb()).dscp };
        if kept != b::CAKEMT_DSCP_UNREAD as u8 {
            return kept;
        }
        // SAFETY: valid sk_buff (type invariant); the helper only reads.
        unsafe { b::cakemt_skb_dscp(self.0.as_ptr()) }
    }

    fn network_offset(&self) -> u32 {
        // SAFETY: valid sk_buff (type invariant); read-only.
        unsafe { b::cakemt_skb_network_offset(self.0.as_ptr()) }
    }

    fn gso_shape(&self) -> Option<GsoShape> {
        let (mut segs, mut seg_len, mut last_len) = (0, 0, 0);
        // SAFETY: valid sk_buff (type invariant); read-only; the outputs
        // are valid u32s.
        let gso = unsafe {
            b::cakemt_skb_gso_shape(self.0.as_ptr(), &mut segs, &mut seg_len, &mut last_len)
        };
        gso.then_some(GsoShape {
            segs,
            seg_len,
            last_len,
        })
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
        if self.head.is_null() {
            return None;
        }
        let head: *const *mut b::sk_buff = &self.head;
        // SAFETY: `SkBuff` is `#[repr(transparent)]` over a non-null
        // `*mut sk_buff`, and `self.head` is a non-null packet this queue
        // owns (type invariant); the reference lives no longer than `&self`,
        // during which the queue cannot change.
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
