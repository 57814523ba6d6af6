// SPDX-License-Identifier: GPL-2.0
//! Random operation sequences on a small scheduler: enqueue, dequeue, time
//! jumps, re-rating, default tin rate, weights, link rate, live COBALT /
//! flow mode / ACK filter / ingress changes, reset, and changing the
//! number of tins (a new scheduler taking over the old one). After every
//! step: the accounting identity per tin and in total, memory use equal to
//! the packets queued and within the limit (from the first enqueue after
//! a take-over), every backlogged tin eligible or waiting, scheduler-wide
//! counters covering the tins', and no packet lost, invented or handed
//! back twice.
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

/// Tins at the start; take-overs change it within 1..=MAX_TINS.
const TINS: u32 = 9;
const MAX_TINS: u32 = 12;

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

/// Per-tin counters the scheduler-wide totals sum up (COBALT drops, ACK
/// drops, ECN marks, reserved-slot uses, throttles) of tins `tins`.
fn counters(s: &Scheduler<SimQueue, VecAlloc>, tins: std::ops::Range<u32>) -> [u64; 5] {
    let mut sums = [0u64; 5];
    for tin in tins.filter_map(|t| s.tin(t)) {
        let st = tin.stats();
        for (sum, v) in sums.iter_mut().zip([
            st.cobalt_drops,
            st.ack_drops,
            st.ecn_marks,
            st.reserved_slot_uses,
            tin.throttled(),
        ]) {
            *sum += u64::from(v);
        }
    }
    sums
}

/// `removed`: the counters of tins removed by take-overs, which live on in
/// the totals only.
fn check(
    s: &Scheduler<SimQueue, VecAlloc>,
    live: &HashMap<u64, u32>,
    memlimit: Option<u64>,
    max_mem: u64,
    removed: &[u64; 5],
) {
    let t = s.totals();
    assert!(t.is_balanced(), "{t:?}");
    assert_eq!(t.backlog_packets, live.len() as u64);
    assert_eq!(
        s.mem_used(),
        live.values().map(|&m| u64::from(m)).sum::<u64>()
    );
    if let Some(limit) = memlimit {
        assert!(s.mem_used() <= limit.max(max_mem));
    }
    let mut active = 0;
    let (mut pk, mut by) = (0u64, 0u64);
    for i in 0..s.tin_count() {
        let st = s.tin(i).unwrap().stats();
        assert!(st.is_balanced(), "{st:?}");
        pk += u64::from(st.backlog_packets);
        by += st.backlog_bytes;
        active += u32::from(st.backlog_packets > 0);
    }
    assert_eq!((pk, by), (t.backlog_packets, t.backlog_bytes));
    assert_eq!(s.eligible_tins() + s.waiting_tins(), active);
    let sums = counters(s, 0..s.tin_count());
    let totals = [
        t.cobalt_drops,
        t.ack_drops,
        t.ecn_marks,
        t.reserved_slot_uses,
        t.tin_throttles,
    ];
    for ((total, sum), gone) in totals.iter().zip(sums).zip(removed) {
        assert_eq!(*total, sum + gone, "{t:?} {sums:?} {removed:?}");
    }
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
    // The memory limit holds after every enqueue, but a take-over moves
    // everything over it until the next one.
    let mut limit_holds = true;
    let mut removed = [0u64; 5];
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
        let tins = s.tin_count();
        match inp.u8() % 8 {
            0..=2 => {
                let tin = u32::from(inp.u8()) % (tins + 1);
                let flow = u32::from(inp.u8() % 8);
                let len = u32::from(inp.u16()) % 4000 + 1;
                id += 1;
                let mut p = SimPacket::new(id, tin, flow, len);
                // At least 64 bytes, as real packets (skb truesize) always are.
                p.mem = len.max(64) + u32::from(inp.u8()) * 8;
                p.ect = id % 2 == 0;
                max_mem = u64::from(p.mem);
                live.insert(id, p.mem);
                let r = s.enqueue(tin, p, keys(tin, flow), now, &mut |p, r| back.push((p, r)));
                match r {
                    Ok(e) => {
                        assert!(tin < tins);
                        limit_holds = true;
                        if e.own_flow_cut {
                            assert!(back.iter().any(|(_, r)| *r == DropReason::Overlimit));
                        }
                    }
                    Err(r) => {
                        assert!(tin >= tins, "refused: {r:?}");
                        assert_eq!(r, DropReason::Reconfigure);
                    }
                }
            }
            3 | 4 => {
                now = now.saturating_add(u64::from(inp.u32()));
                if let Dequeued::Packet(p) = s.dequeue(now, &mut |p, r| back.push((p, r))) {
                    assert!(live.remove(&p.id).is_some());
                }
            }
            5 => {
                let tin = u32::from(inp.u8()) % (tins + 1);
                match inp.u8() % 3 {
                    0 => {
                        let rate = inp.rate();
                        assert_eq!(s.set_tin_rate(tin, rate, now), tin < tins);
                    }
                    1 => assert_eq!(s.set_tin_rate_default(tin, now), tin < tins),
                    _ => s.set_default_tin_rate(inp.rate(), now),
                }
            }
            6 => {
                let tin = u32::from(inp.u8()) % (tins + 1);
                let w = inp.u16();
                assert_eq!(s.set_tin_weight(tin, w), tin < tins);
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
                6 => {
                    // A new tin count: everything moves into a new scheduler.
                    let n = u32::from(inp.u8()) % MAX_TINS + 1;
                    let default = u32::from(inp.u8()) % (n + 1);
                    let before = *s.totals();
                    let c = SchedConfig {
                        tins: n,
                        flows: 8 << (inp.u8() % 4),
                        ..*s.config()
                    };
                    let mut new: Scheduler<SimQueue, VecAlloc> =
                        Scheduler::new(&mut VecAlloc::default(), &c).unwrap();
                    let gone = counters(&s, n..s.tin_count());
                    let r = new.take_over(&mut s, default, &mut |p| keys(p.tin, p.flow), now);
                    if default < n {
                        assert!(r.is_ok());
                        for (r, g) in removed.iter_mut().zip(gone) {
                            *r += g;
                        }
                        // Moved whole (the move may use reserved slots).
                        let mut after = *new.totals();
                        assert!(after.reserved_slot_uses >= before.reserved_slot_uses);
                        after.reserved_slot_uses = before.reserved_slot_uses;
                        assert_eq!(after, before);
                        assert_eq!(s.totals().backlog_packets, 0);
                        assert_eq!(s.mem_used(), 0);
                        s = new;
                        limit_holds = false;
                    } else {
                        assert!(r.is_err());
                        assert_eq!(*s.totals(), before);
                    }
                }
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
        let limit = limit_holds.then_some(s.config().memlimit);
        check(&s, &live, limit, max_mem, &removed);
    }
    let mut back = Vec::new();
    s.reset(&mut |p, r| back.push((p, r)));
    for (p, r) in back {
        assert_eq!(r, DropReason::Reconfigure);
        assert!(live.remove(&p.id).is_some());
    }
    assert!(live.is_empty(), "{} packets lost", live.len());
});
