// SPDX-License-Identifier: GPL-2.0
//! Host stand-ins for what the kernel glue provides: a `Vec`-backed
//! allocator and a `VecDeque` packet queue (the core's own unit-test
//! helpers), and a packet type that knows its tin and flow. Shared by the
//! simulator, the property tests, the bench and the fuzz targets
//! (`#[path]`-included; their crate root must `use cakemt_sched::sched;`).
#![allow(dead_code)]

#[path = "../../src/sched/test_support.rs"]
pub(crate) mod support;

pub(crate) use support::{HostAlloc as VecAlloc, TestQueue};

use cakemt_sched::sched::packet::{AckInfo, Packet};

/// A simulated packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPacket {
    /// Unique id.
    pub id: u64,
    /// Tin it was sent to.
    pub tin: u32,
    /// Flow within the tin (the caller's numbering).
    pub flow: u32,
    /// Wire length.
    pub len: u32,
    /// Set by the scheduler.
    pub adjusted_len: u32,
    /// Set by the scheduler.
    pub enqueue_time: u64,
    /// Bytes charged to the memory limit.
    pub mem: u32,
    /// ECN-capable.
    pub ect: bool,
    /// Marked CE.
    pub ce: bool,
    /// DSCP (picks the diffserv band).
    pub dscp: u8,
}

impl SimPacket {
    /// A non-ECT packet.
    pub fn new(id: u64, tin: u32, flow: u32, len: u32) -> Self {
        SimPacket {
            id,
            tin,
            flow,
            len,
            adjusted_len: len,
            enqueue_time: 0,
            mem: len,
            ect: false,
            ce: false,
            dscp: 0,
        }
    }
}

impl Packet for SimPacket {
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
        self.ce |= self.ect;
        self.ect
    }
    fn ack_info(&self) -> Option<AckInfo> {
        None
    }
    fn dscp(&self) -> u8 {
        self.dscp
    }
}

/// A flow's FIFO.
pub type SimQueue = TestQueue<SimPacket>;

/// Keys for flow `flow` of tin `tin` (distinct hashes per flow and host).
pub fn keys(tin: u32, flow: u32) -> cakemt_sched::sched::packet::FlowKeys {
    let h = |x: u32| x.wrapping_mul(0x9E37_79B9).rotate_left(13) ^ 0x5bd1_e995;
    cakemt_sched::sched::packet::FlowKeys {
        flow_hash: h(tin ^ h(flow)),
        src_host_hash: h(flow % 3 + 7),
        dst_host_hash: h(tin + 1000),
    }
}

/// xorshift64*: deterministic randomness without dependencies.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
