// SPDX-License-Identifier: GPL-2.0
//! The calendar against a model under random inserts, removals and reads
//! at random times and geometries: exactly the due tins, earliest slot
//! first, none early, none lost, `next_due` never late.
#![no_main]

#[path = "../../host/mod.rs"]
mod host;
// `host` includes the core's test helpers, which name the core `crate::sched`.
use cakemt_sched::sched;

use std::collections::BTreeMap;

use cakemt_sched::sched::calendar::{Calendar, CalendarConfig};
use host::VecAlloc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&geo, ops)) = data.split_first() else {
        return;
    };
    let shift = geo % 13;
    let bits = 1 + (geo >> 4) % 12;
    let mut c = Calendar::new(
        &mut VecAlloc::default(),
        32,
        CalendarConfig {
            slot_shift: shift,
            level_bits: bits,
        },
    )
    .unwrap();
    let g = 1u64 << shift;
    let mut model: BTreeMap<u32, u64> = BTreeMap::new();
    let (mut now, mut cursor) = (0u64, 0u64);
    for op in ops.chunks(6) {
        let [kind, t, rest @ ..] = op else {
            break;
        };
        let t = u32::from(*t % 32);
        let mut v = 0u64;
        for &b in rest {
            v = v << 8 | u64::from(b);
        }
        let v = v >> (v % 29);
        match kind % 3 {
            0 => {
                let due = now.saturating_add(v);
                assert!(c.insert(t, due));
                let cap = (u64::MAX >> shift) << shift;
                model.insert(t, due.min(cap).div_ceil(g).max(cursor));
            }
            1 => assert_eq!(c.remove(t), model.remove(&t).is_some()),
            _ => {
                now = now.saturating_add(v);
                let target = now >> shift;
                let min = model.values().min().copied();
                match c.pop_due(now) {
                    Some(t) => {
                        let s = model.remove(&t).expect("unknown tin");
                        assert_eq!(Some(s), min);
                        assert!(s <= target);
                        cursor = s;
                    }
                    None => {
                        assert!(min.is_none_or(|m| m > target));
                        cursor = cursor.max(target);
                    }
                }
            }
        }
        assert_eq!(c.len() as usize, model.len());
        let min = model
            .values()
            .min()
            .map(|s| s.checked_shl(u32::from(shift)).unwrap_or(u64::MAX));
        assert!(c.next_due() <= min);
        assert_eq!(c.next_due().is_some(), min.is_some());
    }
});
