// SPDX-License-Identifier: GPL-2.0
//! The automatic host table against what it promises: distinct hosts never
//! share a tin, a host keeps its tin while it is active (a packet within
//! `idle`, or packets queued), a host is refused only when every pool tin
//! is held, the counters balance, and the table never grows.

use super::host::VecAlloc;
use cakemt_sched::sched::host_table::{HostKey, HostTable, Pool, PROBE};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const IDLE: u64 = 100;

#[derive(Debug, Clone)]
enum Op {
    /// A packet of host `h` after `dt` ns.
    Packet(u8, u64),
    /// Tin `t` gets packets queued, or drains.
    Busy(u32, bool),
    Sweep(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..48, 0u64..60).prop_map(|(h, dt)| Op::Packet(h, dt)),
        1 => (0u32..24, any::<bool>()).prop_map(|(t, b)| Op::Busy(t, b)),
        1 => (0usize..40).prop_map(Op::Sweep),
    ]
}

/// Host `h`: IPv4 and IPv6 ones, some pairs joined by the mask.
fn key(h: u8) -> HostKey {
    if h % 2 == 0 {
        HostKey::v4([100, 64, 0, h], 31)
    } else {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[7] = h / 3;
        a[15] = h;
        HostKey::v6(a, 64)
    }
}

/// Who holds which tin, as the table says.
fn holders(t: &HostTable<VecAlloc>, tins: u32) -> BTreeMap<u32, HostKey> {
    (0..tins)
        .filter_map(|tin| t.holder(tin).map(|h| (tin, h.key)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn host_table_keeps_its_promises(
        first in 0u32..3,
        tins in 1u32..20,
        exclude in 0u32..20,
        seed in any::<(u64, u64)>(),
        ops in proptest::collection::vec(op(), 1..400),
    ) {
        let pool = Pool { first, tins, exclude };
        let mut t = HostTable::new(&mut VecAlloc::default(), pool, IDLE, seed).unwrap();
        let slots = t.slot_count();
        let mut busy = BTreeSet::new();
        let mut now = 0u64;
        // Model: each host's tin and last packet, while the table holds it.
        let mut held: BTreeMap<HostKey, (u32, u64)> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Packet(h, dt) => {
                    now += dt;
                    let k = key(h);
                    let active = held.get(&k).copied().filter(|&(tin, last)| {
                        now - last < IDLE || busy.contains(&tin)
                    });
                    let got = t.lookup(&k, now, &|tin| busy.contains(&tin));
                    if let Some((tin, _)) = active {
                        prop_assert_eq!(got, Some(tin), "an active host lost its tin");
                    }
                    match got {
                        Some(tin) => {
                            prop_assert!(pool.contains(tin), "tin {} is not in {:?}", tin, pool);
                            held.insert(k, (tin, now));
                        }
                        None => prop_assert_eq!(t.hosts(), pool.size(), "refused with tins free"),
                    }
                }
                Op::Busy(tin, b) => {
                    if b { busy.insert(tin); } else { busy.remove(&tin); }
                }
                Op::Sweep(n) => t.sweep(now, n, &|tin| busy.contains(&tin)),
            }
            // The table's view; hosts it released must have been idle.
            let h = holders(&t, tins);
            let mut seen = BTreeSet::new();
            for (tin, k) in &h {
                prop_assert!(seen.insert(*k), "{:?} holds two tins", k);
                prop_assert_eq!(held.get(k).map(|e| e.0), Some(*tin));
            }
            for (k, (tin, last)) in &held {
                let kept = h.get(tin) == Some(k);
                let active = now - last < IDLE || busy.contains(tin);
                prop_assert!(kept || !active, "active {:?} lost tin {}", k, tin);
            }
            held.retain(|k, (tin, _)| h.get(tin) == Some(k));
            prop_assert_eq!(held.len(), h.len());
            let c = t.counters();
            prop_assert_eq!(c.admitted - c.released, u64::from(t.hosts()));
            prop_assert_eq!(t.hosts() as usize, h.len());
            prop_assert_eq!(t.slot_count(), slots);
        }
    }

    /// Pools larger than the probe window: a spray of new addresses fills
    /// the pool and is refused after, the real hosts keep their tins.
    #[test]
    fn a_spray_cannot_evict_real_hosts(
        pool_size in (PROBE as u32)..600,
        seed in any::<(u64, u64)>(),
        spray in proptest::collection::vec(any::<u32>(), 1..3000),
    ) {
        let pool = Pool { first: 0, tins: pool_size + 1, exclude: pool_size };
        let mut t = HostTable::new(&mut VecAlloc::default(), pool, IDLE, seed).unwrap();
        let real: Vec<HostKey> = (0..10).map(|i| HostKey::v4([10, 0, 0, i], 32)).collect();
        let never = |_| false;
        let tins: Vec<Option<u32>> = real.iter().map(|k| t.lookup(k, 0, &never)).collect();
        prop_assert!(tins.iter().all(Option::is_some));
        for (n, a) in spray.iter().enumerate() {
            // Everyone is active: time stands still.
            let got = t.lookup(&HostKey::v4(a.to_be_bytes(), 32), 0, &never);
            if got.is_none() {
                prop_assert_eq!(t.hosts(), pool.size());
            }
            if n % 97 == 0 {
                for (k, tin) in real.iter().zip(&tins) {
                    prop_assert_eq!(t.lookup(k, 0, &never), *tin);
                }
            }
        }
    }
}
