// SPDX-License-Identifier: GPL-2.0
//! Diffserv bands under random traffic with random DSCPs, rates (shaped
//! and unshaped tins), ingress mode, the memory limit, resets, and random
//! mode changes through `take_over`, and tins' own profiles (rtt and
//! framing, kept across mode changes): every band's accounting balances, the
//! bands together hold their tin's backlog and account for its history,
//! no packet is lost or duplicated, and a flow of one DSCP keeps its order.

use std::collections::HashMap;

use super::host::{keys, SimPacket, SimQueue, VecAlloc};
use super::{give_back, rate};
use cakemt_sched::sched::cobalt::CobaltConfig;
use cakemt_sched::sched::diffserv::DiffservMode;
use cakemt_sched::sched::overhead::{Framing, Overhead};
use cakemt_sched::sched::packet::DropReason;
use cakemt_sched::sched::scheduler::{Dequeued, SchedConfig, Scheduler};
use cakemt_sched::sched::tin_profile::TinProfile;
use proptest::prelude::*;

type Sched = Scheduler<SimQueue, VecAlloc>;

const TINS: u32 = 6;

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        tin: u32,
        flow: u32,
        len: u32,
        dscp: u8,
    },
    Dequeue {
        advance: u64,
    },
    TinRate {
        tin: u32,
        rate: u64,
    },
    LinkRate(u64),
    Ingress(bool),
    Profile {
        tin: u32,
        profile: TinProfile,
    },
    Overhead(i32),
    Mode {
        mode: DiffservMode,
        big_pool: bool,
    },
    Reset,
}

fn mode() -> impl Strategy<Value = DiffservMode> {
    (0u8..5).prop_map(|v| DiffservMode::from_cake_value(v).unwrap())
}

/// CAKE's codepoints mostly, any 6-bit value sometimes.
fn dscp() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(vec![0u8, 1, 2, 4, 8, 10, 16, 18, 24, 26, 32, 34, 40, 44, 46, 48, 56]),
        1 => 0u8..64,
    ]
}

/// A tin's own profile: some fields of it, in and out of range.
fn profile() -> impl Strategy<Value = TinProfile> {
    let cells = prop::sample::select(vec![Framing::None, Framing::Atm, Framing::Ptm]);
    (
        prop::option::of(prop_oneof![Just(1_000_000u64), 1_000u64..2_000_000_000]),
        prop::option::of(-70i32..260),
        prop::option::of(0u32..300),
        prop::option::of(cells),
    )
        .prop_map(|(rtt, overhead, mpu, framing)| TinProfile {
            cobalt: rtt.map(CobaltConfig::from_rtt),
            overhead,
            mpu,
            framing,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => (0..TINS, 0u32..4, 40u32..1600, dscp())
            .prop_map(|(tin, flow, len, dscp)| Op::Enqueue { tin, flow, len, dscp }),
        35 => (0u64..3_000_000).prop_map(|advance| Op::Dequeue { advance }),
        4 => (0..TINS, rate()).prop_map(|(tin, rate)| Op::TinRate { tin, rate }),
        2 => prop_oneof![Just(0u64), 100_000u64..5_000_000].prop_map(Op::LinkRate),
        1 => any::<bool>().prop_map(Op::Ingress),
        3 => (0..TINS, profile()).prop_map(|(tin, profile)| Op::Profile { tin, profile }),
        1 => (-64i32..=256).prop_map(Op::Overhead),
        4 => (mode(), proptest::bool::weighted(0.8))
            .prop_map(|(mode, big_pool)| Op::Mode { mode, big_pool }),
        1 => Just(Op::Reset),
    ]
}

fn config(mode: DiffservMode, big_pool: bool) -> SchedConfig {
    // A small pool makes flows share slots and use reserved ones.
    let slots = if big_pool { 1024 } else { 16 };
    SchedConfig {
        tins: TINS,
        flows: slots,
        hosts: slots,
        memlimit: 30_000,
        link_rate: 1_000_000,
        diffserv: mode,
        ..SchedConfig::default()
    }
}

/// What the bands of each tin have counted since they last started
/// afresh (a mode change): the tin's accepted packets not then queued,
/// dequeued, dropped and marked at that moment.
type Base = [(u64, u64, u64, u32); TINS as usize];

fn collisions(s: &Sched) -> u64 {
    (0..TINS)
        .map(|t| u64::from(s.tin(t).unwrap().stats().ways.collisions))
        .sum()
}

fn check(s: &Sched, live: &HashMap<u64, u32>, base: &Base) -> Result<(), TestCaseError> {
    let t = *s.totals();
    prop_assert!(t.is_balanced(), "{:?}", t);
    prop_assert_eq!(t.backlog_packets, live.len() as u64);
    let mode = s.diffserv();
    for tin in 0..TINS {
        let st = *s.tin(tin).unwrap().stats();
        prop_assert!(st.is_balanced(), "tin {}: {:?}", tin, st);
        let (mut pk, mut deq, mut drop, mut marks) = (0u64, 0u64, 0u64, 0u32);
        let (mut qp, mut qb) = (0u32, 0u64);
        for b in 0..mode.bands() {
            let bs = s.band_stats(tin, b).unwrap();
            prop_assert!(bs.is_balanced(), "tin {} band {}: {:?}", tin, b, bs);
            pk += bs.packets;
            deq += bs.dequeued_packets;
            drop += bs.dropped_packets;
            marks = marks.wrapping_add(bs.ecn_marks);
            qp += bs.backlog_packets;
            qb += bs.backlog_bytes;
        }
        prop_assert_eq!(s.band_stats(tin, mode.bands()), None);
        prop_assert_eq!((qp, qb), (st.backlog_packets, st.backlog_bytes));
        // One band is the tin itself, whatever came before.
        let (p0, d0, x0, m0) = if mode.bands() == 1 {
            (0, 0, 0, 0)
        } else {
            base[tin as usize]
        };
        prop_assert_eq!(
            (pk, deq, drop, marks),
            (
                st.packets - p0,
                st.dequeued_packets - d0,
                st.dropped_packets - x0,
                st.ecn_marks - m0
            ),
            "tin {} bands vs tin",
            tin
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn bands_balance_and_lose_nothing_across_mode_changes(
        ops in proptest::collection::vec(op(), 1..400),
        start in mode(),
        start_big in proptest::bool::weighted(0.8),
    ) {
        let mut s: Sched = Scheduler::new(&mut VecAlloc::default(), &config(start, start_big)).unwrap();
        let mut live: HashMap<u64, u32> = HashMap::new();
        // Per (tin, flow, dscp): the last id that left.
        let mut last: HashMap<(u32, u32), u64> = HashMap::new();
        let mut base: Base = [(0, 0, 0, 0); TINS as usize];
        let (mut now, mut id) = (0u64, 0u64);
        let mut collided = false;
        let mut changes = 0;
        for op in ops {
            let seen = collisions(&s);
            let mut back: Vec<(SimPacket, DropReason)> = Vec::new();
            match op {
                Op::Enqueue { tin, flow, len, dscp } => {
                    id += 1;
                    // One 5-tuple (the keys) in every DSCP, so its bands
                    // share a hash; the test tells them apart by `flow`.
                    let mut p = SimPacket::new(id, tin, flow | u32::from(dscp) << 8, len);
                    p.dscp = dscp;
                    p.mem = len + 100;
                    p.ect = id % 4 == 0;
                    live.insert(id, p.mem);
                    let r = s.enqueue(tin, p, keys(tin, flow), now, &mut |p, r| back.push((p, r)));
                    prop_assert!(r.is_ok(), "{:?}", r);
                    prop_assert!(s.mem_used() <= 30_000);
                }
                Op::Dequeue { advance } => {
                    now += advance;
                    if let Dequeued::Packet(p) = s.dequeue(now, &mut |p, r| back.push((p, r))) {
                        give_back(&mut live, &p)?;
                        let prev = last.insert((p.tin, p.flow), p.id);
                        prop_assert!(
                            collided || prev.map_or(true, |l| l < p.id),
                            "flow ({}, {:#x}) reordered", p.tin, p.flow
                        );
                    }
                }
                Op::TinRate { tin, rate } => prop_assert!(s.set_tin_rate(tin, rate, now)),
                Op::LinkRate(r) => s.set_link_rate(r, now),
                Op::Ingress(on) => s.set_ingress(on),
                Op::Profile { tin, profile } => {
                    let before = s.tin_profile(tin);
                    let r = s.set_tin_profile(tin, &profile);
                    // Six tins never fill the table: only a bad field refuses.
                    prop_assert_eq!(r.is_ok(), profile.is_valid(), "{:?}", r);
                    let want = if r.is_ok() { Some(profile) } else { before };
                    prop_assert_eq!(s.tin_profile(tin), want);
                }
                Op::Overhead(o) => {
                    let framing = Overhead { overhead: o, strip_mac: true, ..Overhead::default() };
                    prop_assert!(s.set_overhead(framing));
                }
                Op::Reset => s.reset(&mut |p, r| back.push((p, r))),
                Op::Mode { mode, big_pool } => {
                    changes += 1;
                    let cfg = SchedConfig { diffserv: mode, ..config(mode, big_pool) };
                    let cfg = SchedConfig { link_rate: s.config().link_rate, ingress: s.config().ingress, ..cfg };
                    let cfg = SchedConfig { overhead: s.config().overhead, ..cfg };
                    let mut new: Sched = Scheduler::new(&mut VecAlloc::default(), &cfg).unwrap();
                    let before = *s.totals();
                    let profiles: Vec<_> = (0..TINS).map(|t| s.tin_profile(t)).collect();
                    let same = mode == s.diffserv();
                    new.take_over(&mut s, 0, &mut |p| keys(p.tin, p.flow & 0xFF), now).unwrap();
                    s = new;
                    let kept: Vec<_> = (0..TINS).map(|t| s.tin_profile(t)).collect();
                    prop_assert_eq!(kept, profiles, "profiles lost in a mode change");
                    let mut after = *s.totals();
                    after.reserved_slot_uses = before.reserved_slot_uses;
                    prop_assert_eq!(after, before);
                    if !same {
                        for (tin, b) in base.iter_mut().enumerate() {
                            let st = s.tin(tin as u32).unwrap().stats();
                            *b = (
                                st.packets - u64::from(st.backlog_packets),
                                st.dequeued_packets,
                                st.dropped_packets,
                                st.ecn_marks,
                            );
                        }
                    }
                }
            }
            for (p, _) in &back {
                give_back(&mut live, p)?;
            }
            check(&s, &live, &base)?;
            collided |= collisions(&s) > seen;
        }
        // Everything still drains, in order, and every band ends empty.
        for _ in 0..200_000 {
            let mut back = Vec::new();
            let d = s.dequeue(now, &mut |p, r| back.push((p, r)));
            for (p, _) in &back {
                give_back(&mut live, p)?;
            }
            match d {
                Dequeued::Packet(p) => {
                    give_back(&mut live, &p)?;
                    let prev = last.insert((p.tin, p.flow), p.id);
                    prop_assert!(collided || prev.map_or(true, |l| l < p.id), "reordered at the end");
                }
                Dequeued::WaitUntil(t) => now = t.max(now + 1),
                Dequeued::Empty => break,
            }
        }
        prop_assert!(live.is_empty(), "{} packets lost after {} mode changes", live.len(), changes);
        check(&s, &live, &base)?;
        prop_assert_eq!(s.memory_report().flows_in_use, 0);
    }
}
