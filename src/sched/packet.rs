// SPDX-License-Identifier: GPL-2.0
//! What the core needs to know about a packet, and how packets are queued.
//!
//! Packets are owned handles (`sk_buff` pointers in the kernel, boxed test
//! packets on the host). A flow's queue is a [`PacketQueue`] so the kernel
//! glue can link `sk_buff`s through their own `next` pointers: queueing a
//! packet never allocates.

use super::overhead::GsoShape;

/// Hashes the caller computed for a packet (the kernel uses its flow
/// dissector). The core derives flow and host placement from these alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowKeys {
    /// Hash of the 5-tuple (or whatever identifies a flow).
    pub flow_hash: u32,
    /// Hash of the source host address.
    pub src_host_hash: u32,
    /// Hash of the destination host address.
    pub dst_host_hash: u32,
}

/// Fields of a pure TCP ACK the ACK filter compares; `None` from
/// [`Packet::ack_info`] means "not a pure ACK, never filter".
/// [`tcp_ack::parse_ack`](super::tcp_ack::parse_ack) builds it from the
/// packet's headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckInfo {
    /// Identifies the TCP connection and direction (addresses and ports).
    pub conn_hash: u32,
    /// The cumulative acknowledgement number.
    pub ack_seq: u32,
    /// The advertised receive window as sent (unscaled: the scale is
    /// negotiated in the SYNs, which a qdisc does not see). The filter
    /// does not compare windows, as CAKE's does not.
    pub window: u32,
    /// TCP flags byte (ECE, CWR, URG ... change meaning and block filtering).
    pub flags: u8,
    /// The ACK carries SACK blocks; `sack_end` is the highest right edge.
    pub has_sack: bool,
    /// Highest SACK right edge (meaningful only if `has_sack`).
    pub sack_end: u32,
    /// May never be dropped by the filter: has TCP options other than
    /// timestamps, NOP, EOL and SACK, TCP's reserved header bits, or a
    /// D-SACK block.
    pub other_options: bool,
    /// The timestamps option (TSval, TSecr), if present and well formed.
    pub timestamps: Option<(u32, u32)>,
}

/// A packet handle the core can queue and inspect.
#[allow(clippy::len_without_is_empty)] // a packet is never "empty"
pub trait Packet: Sized {
    /// Length on the wire as the caller measured it (`qdisc_pkt_len`).
    fn len(&self) -> u32;

    /// Per-packet scratch the core stores with the packet: enqueue time in
    /// nanoseconds (kept in the skb's qdisc control block in the kernel).
    fn enqueue_time(&self) -> u64;
    /// See [`Packet::enqueue_time`].
    fn set_enqueue_time(&mut self, ns: u64);

    /// Length after overhead compensation, stored at enqueue.
    fn adjusted_len(&self) -> u32;
    /// See [`Packet::adjusted_len`].
    fn set_adjusted_len(&mut self, len: u32);

    /// Bytes charged against the memory limit (`skb->truesize` in the
    /// kernel); at least [`Packet::len`] on the host.
    fn mem_size(&self) -> u32;

    /// Marks the packet Congestion Experienced. Returns `false` if it is not
    /// ECN-capable (the core then drops it instead).
    fn set_ce(&mut self) -> bool;

    /// TCP pure-ACK fields for the ACK filter, if this is one.
    fn ack_info(&self) -> Option<AckInfo>;

    /// Bytes before the network header (the MAC header); overhead
    /// compensation may strip them. Default: 0.
    fn network_offset(&self) -> u32 {
        0
    }

    /// The packet's DSCP (the 6 bits above ECN in the IPv4 TOS or IPv6
    /// traffic class byte), which picks its diffserv band in its tin.
    /// Default: 0 (best effort), for packets without a DS field.
    fn dscp(&self) -> u8 {
        0
    }

    /// The segments of a GSO super-packet as they will be on the wire, so
    /// overhead is compensated per segment. Default: not a GSO packet.
    fn gso_shape(&self) -> Option<GsoShape> {
        None
    }
}

/// A FIFO of packets belonging to one flow. `Default` is the empty queue.
pub trait PacketQueue: Default {
    /// The packets it holds.
    type Packet: Packet;

    /// Appends at the tail.
    fn push_back(&mut self, pkt: Self::Packet);
    /// Removes from the head.
    fn pop_front(&mut self) -> Option<Self::Packet>;
    /// The head packet, if any.
    fn front(&self) -> Option<&Self::Packet>;
    /// Is the queue empty?
    fn is_empty(&self) -> bool {
        self.front().is_none()
    }
    /// Removes and returns the first packet (from the head) for which `pred`
    /// holds, looking at no more than `max_scan` packets. Used by the ACK
    /// filter, which is why the scan is bounded.
    fn remove_first(
        &mut self,
        max_scan: usize,
        pred: &mut dyn FnMut(&Self::Packet) -> bool,
    ) -> Option<Self::Packet>;
    /// Hint that the head packet will be read soon (see
    /// `SliceAlloc::prefetch`). The default does nothing.
    fn prefetch_front(&self) {}
}

/// Why the core gave a packet back to the caller to free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The memory limit was exceeded; dropped from the fattest flow.
    Overlimit,
    /// COBALT (CoDel or BLUE) decided to drop a packet that is not ECN-capable.
    Cobalt,
    /// The ACK filter removed an ACK made redundant by a newer one.
    AckFilter,
    /// Handed back by reconfiguration: the packet's tin does not exist
    /// (a refused enqueue), or `reset` flushed the queues.
    Reconfigure,
}
