// SPDX-License-Identifier: GPL-2.0
//! Property tests over random operation sequences: the calendar against a
//! model, the scheduler's accounting and packet conservation, freedom
//! from starvation, tin caps, and changing the number of tins live
//! (`Scheduler::take_over`) under traffic.

mod diffserv;
#[path = "../host/mod.rs"]
mod host;
mod host_table;
// `host` includes the core's test helpers, which name the core `crate::sched`.
use cakemt_sched::sched;

use std::collections::{BTreeMap, HashMap};

use cakemt_sched::sched::burst::{BurstConfig, BurstError, TinBurst};
use cakemt_sched::sched::calendar::{Calendar, CalendarConfig};
use cakemt_sched::sched::packet::DropReason;
use cakemt_sched::sched::scheduler::{ConfigError, Dequeued, SchedConfig, Scheduler, Totals};
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

/// Operations of the live-resize test.
#[derive(Debug, Clone)]
enum LiveOp {
    Enqueue {
        tin: u32,
        flow: u32,
        len: u32,
    },
    Dequeue {
        advance: u64,
    },
    TinRate {
        tin: u32,
        rate: u64,
    },
    FollowDefault {
        tin: u32,
    },
    DefaultRate(u64),
    Weight {
        tin: u32,
        weight: u16,
    },
    Resize {
        tins: u32,
        default: u32,
        big_pool: bool,
    },
    /// A burst of the tin's own: 0 default, 1 off, else (kind + 1) kB/s.
    Burst {
        tin: u32,
        kind: u64,
    },
}

/// Subscribers of the live-resize test; the scheduler has 1..=this tins.
const SUBSCRIBERS: u32 = 10;

fn live_op() -> impl Strategy<Value = LiveOp> {
    prop_oneof![
        40 => (0..SUBSCRIBERS, 0u32..4, 40u32..1600)
            .prop_map(|(tin, flow, len)| LiveOp::Enqueue { tin, flow, len }),
        30 => (0u64..2_000_000).prop_map(|advance| LiveOp::Dequeue { advance }),
        4 => (0..SUBSCRIBERS, rate()).prop_map(|(tin, rate)| LiveOp::TinRate { tin, rate }),
        2 => (0..SUBSCRIBERS).prop_map(|tin| LiveOp::FollowDefault { tin }),
        2 => rate().prop_map(LiveOp::DefaultRate),
        2 => (0..SUBSCRIBERS, 1u16..5).prop_map(|(tin, weight)| LiveOp::Weight { tin, weight }),
        3 => (0..SUBSCRIBERS, 0u64..40).prop_map(|(tin, kind)| LiveOp::Burst { tin, kind }),
        6 => (1..=SUBSCRIBERS, 0..SUBSCRIBERS, proptest::bool::weighted(0.9))
            .prop_map(|(tins, default, big_pool)| LiveOp::Resize { tins, default, big_pool }),
    ]
}

type Sched = Scheduler<SimQueue, VecAlloc>;

/// The live-resize test's view of the world: the subscribers, which tin
/// each one's packets go to, and what must come out.
struct Live {
    s: Sched,
    /// Where subscribers without a tin of their own go.
    default: u32,
    /// Queued packets: id -> memory charged.
    live: HashMap<u64, u32>,
    /// Per (subscriber, flow): the last id that left.
    last: HashMap<(u32, u32), u64>,
    /// Per subscriber, a generation folded into its flow numbers: bumped
    /// when its packets start going to another tin than the one its queued
    /// packets are in, which may reorder them (as moving a host between
    /// tins does); within a generation order must hold.
    gen: [u32; SUBSCRIBERS as usize],
    /// A flow collided into another's slot: from then on a flow may be
    /// reordered without any fault (CAKE's collisions retag the shared
    /// slot, so the other flow's next packet may get a queue of its own),
    /// and order is no longer checked.
    collided: bool,
    /// Counters of removed tins (see `counters`), which live on in the
    /// scheduler-wide totals only.
    removed: [u64; 5],
    id: u64,
    now: u64,
}

/// Per-tin counters the scheduler-wide totals sum up: COBALT drops, ACK
/// drops, ECN marks, reserved-slot uses, throttles; of tins `tins`.
fn counters(s: &Sched, tins: core::ops::Range<u32>) -> [u64; 5] {
    let mut sums = [0u64; 5];
    for t in tins.filter_map(|t| s.tin(t)) {
        let st = t.stats();
        let v = [
            st.cobalt_drops,
            st.ack_drops,
            st.ecn_marks,
            st.reserved_slot_uses,
            t.throttled(),
        ];
        for (sum, v) in sums.iter_mut().zip(v) {
            *sum += u64::from(v);
        }
    }
    sums
}

/// Collisions counted by the tins of `s` (see `Live::collided`).
fn collisions(s: &Sched, tins: core::ops::Range<u32>) -> u64 {
    tins.filter_map(|t| s.tin(t))
        .map(|t| u64::from(t.stats().ways.collisions))
        .sum()
}

impl Live {
    fn route(&self, sub: u32) -> u32 {
        if sub < self.s.tin_count() {
            sub
        } else {
            self.default
        }
    }

    fn out(&mut self, p: &SimPacket, dequeued: bool) -> Result<(), TestCaseError> {
        give_back(&mut self.live, p)?;
        if dequeued {
            let prev = self.last.insert((p.tin, p.flow), p.id);
            prop_assert!(
                self.collided || prev.map_or(true, |l| l < p.id),
                "flow ({}, {:#x}) reordered: {} after {:?}",
                p.tin,
                p.flow,
                p.id,
                prev
            );
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let s = &self.s;
        let t = *s.totals();
        prop_assert!(t.is_balanced(), "{:?}", t);
        prop_assert_eq!(t.backlog_packets, self.live.len() as u64);
        prop_assert_eq!(
            s.mem_used(),
            self.live.values().map(|&m| u64::from(m)).sum::<u64>()
        );
        let (mut pk, mut by, mut active) = (0u64, 0u64, 0u32);
        for i in 0..s.tin_count() {
            let st = s.tin(i).unwrap().stats();
            prop_assert!(st.is_balanced(), "tin {}: {:?}", i, st);
            pk += u64::from(st.backlog_packets);
            by += st.backlog_bytes;
            active += u32::from(st.backlog_packets > 0);
        }
        prop_assert_eq!((pk, by), (t.backlog_packets, t.backlog_bytes));
        prop_assert_eq!(s.eligible_tins() + s.waiting_tins(), active);
        prop_assert_eq!(s.next_wakeup().is_some(), active > 0);
        prop_assert_eq!(t.refused_packets, 0);
        // Kept incrementally, they are what the tins count (and counted).
        let sums = counters(s, 0..s.tin_count());
        let want: Vec<u64> = sums.iter().zip(self.removed).map(|(a, b)| a + b).collect();
        prop_assert_eq!(
            vec![
                t.cobalt_drops,
                t.ack_drops,
                t.ecn_marks,
                t.reserved_slot_uses,
                t.tin_throttles
            ],
            want
        );
        Ok(())
    }
}

fn live_config(tins: u32, big_pool: bool, default_tin_rate: u64) -> SchedConfig {
    // A small pool, so that flows share slots and reserved slots are used,
    // or one where collisions are rare, so that order is checked.
    let slots = if big_pool { 1024 } else { 8 };
    SchedConfig {
        tins,
        flows: slots,
        hosts: slots,
        memlimit: 40_000,
        link_rate: 2_000_000,
        default_tin_rate,
        ..SchedConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random traffic, re-rating and weights, and random grow/shrink of the
    /// tin count through `take_over`: nothing is lost or duplicated, every
    /// flow's packets leave in order, the accounting identity holds per
    /// tin and in total across every change, settings and counters of the
    /// tins that stay carry over, the old scheduler is left empty, and
    /// afterwards everything still drains.
    #[test]
    fn live_resize_loses_and_reorders_nothing(
        ops in proptest::collection::vec(live_op(), 1..300),
        start in 1..=SUBSCRIBERS,
        start_big in proptest::bool::weighted(0.9),
    ) {
        let cfg = live_config(start, start_big, 0);
        let mut w = Live {
            s: Scheduler::new(&mut VecAlloc::default(), &cfg).unwrap(),
            default: 0,
            live: HashMap::new(),
            last: HashMap::new(),
            gen: [0; SUBSCRIBERS as usize],
            collided: false,
            removed: [0; 5],
            id: 0,
            now: 0,
        };
        let mut resizes = 0;
        for op in ops {
            let mut back: Vec<SimPacket> = Vec::new();
            let mut expect_collisions = collisions(&w.s, 0..w.s.tin_count());
            match op {
                LiveOp::Enqueue { tin: sub, flow, len } => {
                    w.id += 1;
                    // Flow numbers carry the generation (see `Live::gen`).
                    let flow = flow | w.gen[sub as usize] << 8;
                    let mut p = SimPacket::new(w.id, sub, flow, len);
                    p.mem = len + 200;
                    w.live.insert(w.id, p.mem);
                    let to = w.route(sub);
                    let r = w.s.enqueue(to, p, keys(sub, flow), w.now, &mut |p, _| back.push(p));
                    prop_assert!(r.is_ok(), "{:?}", r);
                    for p in &back {
                        w.out(p, false)?;
                    }
                    back.clear();
                    prop_assert!(w.s.mem_used() <= 40_000);
                }
                LiveOp::Dequeue { advance } => {
                    w.now += advance;
                    if let Dequeued::Packet(p) = w.s.dequeue(w.now, &mut |p, _| back.push(p)) {
                        w.out(&p, true)?;
                    }
                }
                LiveOp::TinRate { tin, rate } => {
                    prop_assert_eq!(w.s.set_tin_rate(tin, rate, w.now), tin < w.s.tin_count());
                }
                LiveOp::FollowDefault { tin } => {
                    prop_assert_eq!(w.s.set_tin_rate_default(tin, w.now), tin < w.s.tin_count());
                }
                LiveOp::DefaultRate(r) => {
                    w.s.set_default_tin_rate(r, w.now);
                    for t in 0..w.s.tin_count() {
                        let tin = w.s.tin(t).unwrap();
                        if tin.follows_default_rate() {
                            prop_assert_eq!(tin.rate(), r);
                        }
                    }
                }
                LiveOp::Weight { tin, weight } => {
                    prop_assert_eq!(w.s.set_tin_weight(tin, weight), tin < w.s.tin_count());
                }
                LiveOp::Burst { tin, kind } => {
                    // Many different bursts: the table fills, and a refusal
                    // changes nothing.
                    let b = match kind {
                        0 => TinBurst::Default,
                        1 => TinBurst::Off,
                        k => TinBurst::Own(BurstConfig { rate: k * 1000 + 1000, threshold: 1000, time_ns: 50_000_000 }),
                    };
                    let before = w.s.tin_burst(tin);
                    let checked = w.s.check_tin_burst(tin, &b);
                    let r = w.s.set_tin_burst(tin, b);
                    prop_assert_eq!(r, checked);
                    match r {
                        Ok(()) => prop_assert_eq!(w.s.tin_burst(tin), Some(b)),
                        Err(BurstError::NoTin) => prop_assert!(tin >= w.s.tin_count()),
                        Err(_) => prop_assert_eq!(w.s.tin_burst(tin), before),
                    }
                }
                LiveOp::Resize { tins, default, big_pool } => {
                    resizes += 1;
                    let default = default % tins;
                    let cfg = live_config(tins, big_pool, w.s.config().default_tin_rate);
                    let mut new: Sched = Scheduler::new(&mut VecAlloc::default(), &cfg).unwrap();
                    let old_count = w.s.tin_count();
                    let before = *w.s.totals();
                    // What the tins that stay had, and what moves into the
                    // default tin from the removed ones.
                    let kept: Vec<_> = (0..old_count.min(tins))
                        .map(|t| {
                            let tin = w.s.tin(t).unwrap();
                            (tin.rate(), tin.follows_default_rate(), tin.weight(), *tin.stats(), tin.throttled(), w.s.tin_burst(t))
                        })
                        .collect();
                    // Removed tins' collision counts are gone.
                    expect_collisions = collisions(&w.s, 0..old_count.min(tins));
                    for (r, c) in w.removed.iter_mut().zip(counters(&w.s, tins..old_count)) {
                        *r += c;
                    }
                    let incoming: u64 = (tins..old_count)
                        .map(|t| u64::from(w.s.tin(t).unwrap().backlog_packets()))
                        .sum();
                    // Where each subscriber's queued packets of its current
                    // generation will be.
                    let settled: Vec<u32> = (0..SUBSCRIBERS)
                        .map(|sub| {
                            let r = w.route(sub);
                            if r < tins { r } else { default }
                        })
                        .collect();
                    prop_assert_eq!(
                        new.take_over(&mut w.s, tins, &mut |p| keys(p.tin, p.flow), w.now),
                        Err(ConfigError::Invalid)
                    );
                    new.take_over(&mut w.s, default, &mut |p| keys(p.tin, p.flow), w.now).unwrap();
                    let mut old = std::mem::replace(&mut w.s, new);
                    w.default = default;
                    // The old scheduler is empty, idle and zeroed.
                    prop_assert_eq!(*old.totals(), Totals::default());
                    prop_assert_eq!(old.mem_used(), 0);
                    prop_assert_eq!(old.eligible_tins() + old.waiting_tins(), 0);
                    prop_assert_eq!(old.memory_report().flows_in_use, 0);
                    prop_assert_eq!(old.dequeue(w.now, &mut |_, _| panic!()), Dequeued::Empty);
                    // The totals moved whole (the move itself may send flows
                    // to reserved slots).
                    let mut after = *w.s.totals();
                    prop_assert!(after.reserved_slot_uses >= before.reserved_slot_uses);
                    after.reserved_slot_uses = before.reserved_slot_uses;
                    prop_assert_eq!(after, before);
                    for (t, &(rate, follows, weight, st, throttled, burst)) in kept.iter().enumerate() {
                        prop_assert_eq!(w.s.tin_burst(t as u32), burst);
                        let tin = w.s.tin(t as u32).unwrap();
                        let want = if follows { w.s.config().default_tin_rate } else { rate };
                        prop_assert_eq!(
                            (tin.rate(), tin.follows_default_rate(), tin.weight(), tin.throttled()),
                            (want, follows, weight, throttled)
                        );
                        let got = tin.stats();
                        let extra = if t as u32 == default { incoming } else { 0 };
                        prop_assert_eq!(got.packets, st.packets + extra);
                        prop_assert_eq!(got.dequeued_packets, st.dequeued_packets);
                        prop_assert_eq!(got.dropped_packets, st.dropped_packets);
                        prop_assert_eq!(got.cobalt_drops, st.cobalt_drops);
                        prop_assert_eq!(got.backlog_packets, st.backlog_packets + extra as u32);
                    }
                    for sub in 0..SUBSCRIBERS {
                        if settled[sub as usize] != w.route(sub) {
                            w.gen[sub as usize] += 1;
                        }
                    }
                    // The old one still works, empty as it is (its tins
                    // keep their settings, so its shapers may make it wait).
                    let mut p = SimPacket::new(u64::MAX, 0, 0, 100);
                    p.mem = 100;
                    old.enqueue(0, p, keys(0, 0), w.now, &mut |_, _| panic!()).unwrap();
                    let mut at = w.now;
                    let mut out = None;
                    for _ in 0..4 {
                        match old.dequeue(at, &mut |_, _| panic!()) {
                            Dequeued::Packet(p) => {
                                out = Some(p.id);
                                break;
                            }
                            Dequeued::WaitUntil(t) => at = t.max(at + 1),
                            Dequeued::Empty => break,
                        }
                    }
                    prop_assert_eq!(out, Some(u64::MAX));
                }
            }
            for p in &back {
                w.out(p, false)?;
            }
            w.check()?;
            w.collided |= collisions(&w.s, 0..w.s.tin_count()) > expect_collisions;
        }
        // Afterwards the scheduler still works: everything drains, in order.
        for _ in 0..100_000 {
            let mut back = Vec::new();
            let d = w.s.dequeue(w.now, &mut |p, _| back.push(p));
            for p in &back {
                w.out(p, false)?;
            }
            match d {
                Dequeued::Packet(p) => w.out(&p, true)?,
                Dequeued::WaitUntil(t) => w.now = t.max(w.now + 1),
                Dequeued::Empty => break,
            }
        }
        prop_assert!(w.live.is_empty(), "{} packets lost (after {} resizes)", w.live.len(), resizes);
        w.check()?;
        prop_assert_eq!(w.s.memory_report().flows_in_use, 0);
    }
}
