// SPDX-License-Identifier: GPL-2.0
//! Property tests over random operation sequences: the calendar against a
//! model, the scheduler's accounting and packet conservation, and freedom
//! from starvation.

#[path = "../host/mod.rs"]
mod host;
// `host` includes the core's test helpers, which name the core `crate::sched`.
use cakemt_sched::sched;

use std::collections::{BTreeMap, HashMap};

use cakemt_sched::sched::calendar::{Calendar, CalendarConfig};
use cakemt_sched::sched::packet::DropReason;
use cakemt_sched::sched::scheduler::{Dequeued, SchedConfig, Scheduler};
use host::{keys, SimPacket, SimQueue, VecAlloc};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum CalOp {
    Insert(u32, u64),
    Remove(u32),
    Pop(u64),
}

fn cal_op() -> impl Strategy<Value = CalOp> {
    prop_oneof![
        3 => (0u32..24, 0u32..40).prop_flat_map(|(t, bits)| (Just(t), 0u64..(1u64 << bits)))
            .prop_map(|(t, d)| CalOp::Insert(t, d)),
        1 => (0u32..24).prop_map(CalOp::Remove),
        3 => (0u32..36).prop_flat_map(|bits| 0u64..(1u64 << bits)).prop_map(CalOp::Pop),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The calendar hands out exactly the due tins, earliest slot first,
    /// and next_due never reports later than the earliest (exactly when
    /// nothing was removed).
    #[test]
    fn calendar_returns_due_tins_in_time_order(
        shift in 0u8..12,
        bits in 1u8..=12,
        ops in proptest::collection::vec(cal_op(), 1..300),
    ) {
        let mut c = Calendar::new(&mut VecAlloc::default(), 24, CalendarConfig { slot_shift: shift, level_bits: bits }).unwrap();
        let g = 1u64 << shift;
        let mut model: BTreeMap<u32, u64> = BTreeMap::new();
        let (mut now, mut cursor, mut removed) = (0u64, 0u64, false);
        for op in ops {
            match op {
                CalOp::Insert(t, d) => {
                    let due = now + d;
                    prop_assert!(c.insert(t, due));
                    removed |= model.insert(t, due.div_ceil(g).max(cursor)).is_some();
                }
                CalOp::Remove(t) => {
                    let had = model.remove(&t).is_some();
                    removed |= had;
                    prop_assert_eq!(c.remove(t), had);
                }
                CalOp::Pop(dt) => {
                    now += dt;
                    let target = now >> shift;
                    let min = model.values().min().copied();
                    match c.pop_due(now) {
                        Some(t) => {
                            let s = model.remove(&t);
                            prop_assert!(s.is_some(), "popped unknown tin {}", t);
                            prop_assert_eq!(s, min, "not the earliest");
                            prop_assert!(s.unwrap() <= target, "popped early");
                            cursor = s.unwrap();
                        }
                        None => {
                            prop_assert!(min.is_none_or(|m| m > target), "due tin missed");
                            cursor = cursor.max(target);
                        }
                    }
                }
            }
            prop_assert_eq!(c.len() as usize, model.len());
            let min = model.values().min().map(|s| s << shift);
            let nd = c.next_due();
            prop_assert_eq!(nd.is_some(), min.is_some());
            prop_assert!(nd <= min);
            if !removed {
                prop_assert_eq!(nd, min);
            }
        }
        // Everything left comes out, in order, by the end of time.
        let mut last = 0;
        while let Some(t) = c.pop_due(u64::MAX) {
            let s = model.remove(&t).unwrap();
            prop_assert!(s >= last);
            last = s;
        }
        prop_assert!(model.is_empty());
    }
}

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        tin: u32,
        flow: u32,
        len: u32,
        extra_mem: u32,
    },
    Dequeue {
        advance: u64,
    },
    Advance(u64),
    TinRate {
        tin: u32,
        rate: u64,
    },
    Weight {
        tin: u32,
        weight: u16,
    },
    LinkRate(u64),
    Reset,
}

const TINS: u32 = 12;

fn rate() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1_000u64..200_000, 200_000u64..2_000_000_000]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => (0..TINS + 1, 0u32..6, 1u32..3000, 0u32..2000)
            .prop_map(|(tin, flow, len, extra_mem)| Op::Enqueue { tin, flow, len, extra_mem }),
        40 => (0u64..3_000_000).prop_map(|advance| Op::Dequeue { advance }),
        4 => (0u64..200_000_000).prop_map(Op::Advance),
        6 => (0..TINS + 1, rate()).prop_map(|(tin, rate)| Op::TinRate { tin, rate }),
        3 => (0..TINS + 1, 0u16..20).prop_map(|(tin, weight)| Op::Weight { tin, weight }),
        3 => rate().prop_map(Op::LinkRate),
        1 => Just(Op::Reset),
    ]
}

/// Every packet handed back must be one that is queued, handed back once.
fn give_back(live: &mut HashMap<u64, u32>, p: &SimPacket) -> Result<(), TestCaseError> {
    prop_assert!(
        live.remove(&p.id).is_some(),
        "packet {} handed back twice or never queued",
        p.id
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// enqueued = dequeued + dropped + backlog per tin and in total, memory
    /// use matches the packets queued and stays within the limit, every
    /// backlogged tin is either eligible or waiting, and no packet is lost
    /// or duplicated (reset at the end hands back all that remain).
    #[test]
    fn accounting_and_conservation(ops in proptest::collection::vec(op(), 1..400), memlimit in 3_000u64..60_000) {
        let cfg = SchedConfig { tins: TINS, memlimit, flows: 64, hosts: 64, link_rate: 1_250_000, ..SchedConfig::default() };
        let mut s: Scheduler<SimQueue, VecAlloc> = Scheduler::new(&mut VecAlloc::default(), &cfg).unwrap();
        let mut live: HashMap<u64, u32> = HashMap::new();
        let (mut now, mut id) = (0u64, 0u64);
        for op in ops {
            let mut back: Vec<(SimPacket, DropReason)> = Vec::new();
            match op {
                Op::Enqueue { tin, flow, len, extra_mem } => {
                    id += 1;
                    let mut p = SimPacket::new(id, tin, flow, len);
                    p.mem = len.max(64) + extra_mem;
                    p.ect = id % 3 == 0;
                    live.insert(id, p.mem);
                    let r = s.enqueue(tin, p, keys(tin, flow), now, &mut |p, r| back.push((p, r)));
                    if tin >= TINS {
                        prop_assert_eq!(r, Err(DropReason::Reconfigure));
                    }
                    prop_assert!(s.mem_used() <= memlimit.max(u64::from(len.max(64) + extra_mem)));
                }
                Op::Dequeue { advance } => {
                    now += advance;
                    if let Dequeued::Packet(p) = s.dequeue(now, &mut |p, r| back.push((p, r))) {
                        give_back(&mut live, &p)?;
                    }
                }
                Op::Advance(dt) => now += dt,
                Op::TinRate { tin, rate } => prop_assert_eq!(s.set_tin_rate(tin, rate, now), tin < TINS),
                Op::Weight { tin, weight } => prop_assert_eq!(s.set_tin_weight(tin, weight), tin < TINS),
                Op::LinkRate(r) => s.set_link_rate(r, now),
                Op::Reset => s.reset(&mut |p, r| back.push((p, r))),
            }
            for (p, _) in &back {
                give_back(&mut live, p)?;
            }
            let t = *s.totals();
            prop_assert!(t.is_balanced(), "{:?}", t);
            prop_assert_eq!(t.backlog_packets, live.len() as u64);
            prop_assert_eq!(s.mem_used(), live.values().map(|&m| u64::from(m)).sum::<u64>());
            let (mut pk, mut by, mut active) = (0u64, 0u64, 0u32);
            for i in 0..TINS {
                let st = s.tin(i).unwrap().stats();
                prop_assert!(st.is_balanced(), "{:?}", st);
                pk += u64::from(st.backlog_packets);
                by += st.backlog_bytes;
                active += u32::from(st.backlog_packets > 0);
            }
            prop_assert_eq!((pk, by), (t.backlog_packets, t.backlog_bytes));
            prop_assert_eq!(s.eligible_tins() + s.waiting_tins(), active);
            prop_assert_eq!(s.next_wakeup().is_some(), active > 0);
        }
        let mut back = Vec::new();
        s.reset(&mut |p, r| back.push((p, r)));
        for (p, r) in &back {
            prop_assert_eq!(*r, DropReason::Reconfigure);
            give_back(&mut live, p)?;
        }
        prop_assert!(live.is_empty(), "{} packets lost", live.len());
        prop_assert_eq!(s.dequeue(now, &mut |_, _| panic!()), Dequeued::Empty);
    }

    /// Every backlogged tin is served within a bound derived from the DRR
    /// round and its own shaper, whatever the mix of rates and weights.
    #[test]
    fn no_starvation(
        tins in proptest::collection::vec((prop_oneof![Just(0u64), 125_000u64..125_000_000], 1u16..8), 1..40),
        link in 1_250_000u64..125_000_000,
    ) {
        let n = tins.len() as u32;
        let cfg = SchedConfig { tins: n, link_rate: link, memlimit: 1 << 30, ..SchedConfig::default() };
        let mut s: Scheduler<SimQueue, VecAlloc> = Scheduler::new(&mut VecAlloc::default(), &cfg).unwrap();
        let mut bound = 0u64;
        let mut slowest = u64::MAX;
        for (t, &(rate, weight)) in tins.iter().enumerate() {
            s.set_tin_rate(t as u32, rate, 0);
            s.set_tin_weight(t as u32, weight);
            bound += 1514 * u64::from(weight);
            if rate != 0 {
                slowest = slowest.min(rate);
            }
        }
        // One DRR round at link speed, plus one packet time at the slowest
        // tin rate, plus calendar slots and lag: generous by 2x.
        let bound = 2 * (bound * 1_000_000_000 / link + if slowest == u64::MAX { 0 } else { 1500 * 1_000_000_000 / slowest }) + 1_000_000;
        let (mut now, mut id) = (0u64, 0u64);
        let mut queued = vec![0u32; n as usize];
        let mut last_served = vec![0u64; n as usize];
        let end = 20 * bound;
        while now < end {
            for t in 0..n {
                while queued[t as usize] < 4 {
                    id += 1;
                    s.enqueue(t, SimPacket::new(id, t, 0, 1500), keys(t, 0), now, &mut |_, _| {}).unwrap();
                    queued[t as usize] += 1;
                }
            }
            let mut dropped = Vec::new();
            match s.dequeue(now, &mut |p, _| dropped.push(p.tin)) {
                Dequeued::Packet(p) => {
                    queued[p.tin as usize] -= 1;
                    let gap = now - last_served[p.tin as usize];
                    prop_assert!(gap <= bound, "tin {} waited {} ns (bound {})", p.tin, gap, bound);
                    last_served[p.tin as usize] = now;
                }
                Dequeued::WaitUntil(t) => now = t.max(now + 1),
                Dequeued::Empty => prop_assert!(false, "empty while backlogged"),
            }
            for t in dropped {
                queued[t as usize] -= 1;
            }
        }
        for (t, &last) in last_served.iter().enumerate() {
            prop_assert!(end - last <= bound, "tin {} starved", t);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A tin never exceeds its own rate, whatever the link, the weights or
    /// the arrival pattern: over any span between two of its departures,
    /// it sends at most rate x (span + the 1 ms catch-up allowance) plus
    /// the last packet.
    #[test]
    fn tin_caps_are_never_exceeded(
        tins in proptest::collection::vec((10_000u64..50_000_000, 1u16..5), 1..12),
        link in prop_oneof![Just(0u64), 100_000u64..200_000_000],
        bursts in proptest::collection::vec((0u64..20_000_000, 0u32..12, 1u32..20, 64u32..1500), 1..60),
    ) {
        let n = tins.len() as u32;
        let cfg = SchedConfig { tins: n, link_rate: link, memlimit: 1 << 30, ..SchedConfig::default() };
        let lag = cfg.max_lag_ns;
        let mut s: Scheduler<SimQueue, VecAlloc> = Scheduler::new(&mut VecAlloc::default(), &cfg).unwrap();
        for (t, &(rate, w)) in tins.iter().enumerate() {
            s.set_tin_rate(t as u32, rate, 0);
            s.set_tin_weight(t as u32, w);
        }
        let mut arrivals: Vec<(u64, u32, u32, u32)> = bursts.iter().map(|&(at, t, k, len)| (at, t % n, k, len)).collect();
        arrivals.sort();
        let mut departures: Vec<Vec<(u64, u32)>> = vec![Vec::new(); n as usize];
        let (mut now, mut id, mut next) = (0u64, 0u64, 0usize);
        for _ in 0..200_000 {
            while next < arrivals.len() && arrivals[next].0 <= now {
                let (_, t, k, len) = arrivals[next];
                for f in 0..k {
                    id += 1;
                    s.enqueue(t, SimPacket::new(id, t, f % 3, len), keys(t, f % 3), now, &mut |_, _| {}).unwrap();
                }
                next += 1;
            }
            let wake = arrivals.get(next).map_or(u64::MAX, |a| a.0);
            match s.dequeue(now, &mut |_, _| {}) {
                Dequeued::Packet(p) => departures[p.tin as usize].push((now, p.adjusted_len)),
                Dequeued::WaitUntil(t) => now = t.max(now + 1).min(wake),
                Dequeued::Empty if wake == u64::MAX => break,
                Dequeued::Empty => now = wake,
            }
        }
        for (t, d) in departures.iter().enumerate() {
            let rate = tins[t].0 as f64 / 1e9;
            for i in 0..d.len() {
                let mut sum = 0u64;
                for j in i..d.len() {
                    let allowed = rate * (d[j].0 - d[i].0 + lag) as f64 + f64::from(d[j].1);
                    prop_assert!(
                        (sum + u64::from(d[j].1)) as f64 <= allowed + 1.0,
                        "tin {} sent {} B in {} ns at {} B/s", t, sum + u64::from(d[j].1), d[j].0 - d[i].0, tins[t].0
                    );
                    sum += u64::from(d[j].1);
                }
            }
        }
    }
}
