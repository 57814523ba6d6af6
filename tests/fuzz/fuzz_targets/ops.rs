// SPDX-License-Identifier: GPL-2.0
//! Random operation sequences on a small scheduler: enqueue, dequeue, time
//! jumps, re-rating, weights, link rate, live COBALT / flow mode / ACK
//! filter / ingress changes, reset. After every step: the
//! accounting identity per tin and in total, memory use equal to the
//! packets queued and within the limit, every backlogged tin eligible or
//! waiting, and no packet lost, invented or handed back twice.
#![no_main]

#[path = "../../host/mod.rs"]
mod host;
// `host` includes the core's test helpers, which name the core `crate::sched`.
use cakemt_sched::sched;

use std::collections::HashMap;

use cakemt_sched::sched::ack_filter::AckFilterMode;
use cakemt_sched::sched::cobalt::CobaltConfig;
use cakemt_sched::sched::packet::DropReason;
use cakemt_sched::sched::scheduler::{Dequeued, SchedConfig, Scheduler};
use cakemt_sched::sched::tin_queue::FlowMode;
use host::{keys, SimPacket, SimQueue, VecAlloc};
use libfuzzer_sys::fuzz_target;

const TINS: u32 = 9;

/// Reads little-endian integers off the input; zeros once exhausted.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | u16::from(self.u8()) << 8
    }
    fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | u32::from(self.u16()) << 16
    }
    fn rate(&mut self) -> u64 {
        match self.u8() % 4 {
            0 => 0,
            1 => u64::from(self.u16()) + 1,
            2 => u64::from(self.u32()),
            _ => u64::from(self.u32()) << 8,
        }
    }
}

fn check(s: &Scheduler<SimQueue, VecAlloc>, live: &HashMap<u64, u32>, memlimit: u64, max_mem: u64) {
    let t = s.totals();
    assert!(t.is_balanced(), "{t:?}");
    assert_eq!(t.backlog_packets, live.len() as u64);
    assert_eq!(
        s.mem_used(),
        live.values().map(|&m| u64::from(m)).sum::<u64>()
    );
    assert!(s.mem_used() <= memlimit.max(max_mem));
    let mut active = 0;
    let (mut pk, mut by) = (0u64, 0u64);
    for i in 0..TINS {
        let st = s.tin(i).unwrap().stats();
        assert!(st.is_balanced(), "{st:?}");
        pk += u64::from(st.backlog_packets);
        by += st.backlog_bytes;
        active += u32::from(st.backlog_packets > 0);
    }
    assert_eq!((pk, by), (t.backlog_packets, t.backlog_bytes));
    assert_eq!(s.eligible_tins() + s.waiting_tins(), active);
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let memlimit = 2_000 + u64::from(inp.u16()) * 4;
    let cfg = SchedConfig {
        tins: TINS,
        memlimit,
        flows: 32,
        hosts: 32,
        link_rate: inp.rate(),
        ..SchedConfig::default()
    };
    let mut s: Scheduler<SimQueue, VecAlloc> =
        Scheduler::new(&mut VecAlloc::default(), &cfg).unwrap();
    let mut live: HashMap<u64, u32> = HashMap::new();
    let (mut now, mut id) = (0u64, 0u64);
    for _ in 0..2_000 {
        if inp.0.is_empty() {
            break;
        }
        let mut back: Vec<(SimPacket, DropReason)> = Vec::new();
        let mut max_mem = 0;
        match inp.u8() % 8 {
            0..=2 => {
                let tin = u32::from(inp.u8()) % (TINS + 1);
                let flow = u32::from(inp.u8() % 8);
                let len = u32::from(inp.u16()) % 4000 + 1;
                id += 1;
                let mut p = SimPacket::new(id, tin, flow, len);
                // At least 64 bytes, as real packets (skb truesize) always are.
                p.mem = len.max(64) + u32::from(inp.u8()) * 8;
                p.ect = id % 2 == 0;
                max_mem = u64::from(p.mem);
                live.insert(id, p.mem);
                let _ = s.enqueue(tin, p, keys(tin, flow), now, &mut |p, r| back.push((p, r)));
            }
            3 | 4 => {
                now = now.saturating_add(u64::from(inp.u32()));
                if let Dequeued::Packet(p) = s.dequeue(now, &mut |p, r| back.push((p, r))) {
                    assert!(live.remove(&p.id).is_some());
                }
            }
            5 => {
                let tin = u32::from(inp.u8()) % (TINS + 1);
                let rate = inp.rate();
                assert_eq!(s.set_tin_rate(tin, rate, now), tin < TINS);
            }
            6 => {
                let tin = u32::from(inp.u8()) % (TINS + 1);
                let w = inp.u16();
                assert_eq!(s.set_tin_weight(tin, w), tin < TINS);
            }
            _ => match inp.u8() % 8 {
                0 => s.reset(&mut |p, r| back.push((p, r))),
                1 => s.set_link_rate(inp.rate(), now),
                2 => s.set_cobalt(CobaltConfig::from_rtt(u64::from(inp.u32()) * 1000)),
                3 => {
                    if let Some(m) = FlowMode::from_cake_value(inp.u8() % 8) {
                        s.set_flow_mode(m);
                    }
                }
                4 => s.set_ack_filter(match inp.u8() % 3 {
                    0 => AckFilterMode::Off,
                    1 => AckFilterMode::Conservative,
                    _ => AckFilterMode::Aggressive,
                }),
                5 => s.set_ingress(inp.u8() % 2 == 1),
                _ => now = now.saturating_add(u64::from(inp.u32()) << 16),
            },
        }
        for (p, _) in back {
            assert!(
                live.remove(&p.id).is_some(),
                "packet {} handed back twice",
                p.id
            );
        }
        check(&s, &live, memlimit, max_mem);
    }
    let mut back = Vec::new();
    s.reset(&mut |p, r| back.push((p, r)));
    for (p, r) in back {
        assert_eq!(r, DropReason::Reconfigure);
        assert!(live.remove(&p.id).is_some());
    }
    assert!(live.is_empty(), "{} packets lost", live.len());
});
