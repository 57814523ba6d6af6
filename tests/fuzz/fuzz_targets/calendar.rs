// SPDX-License-Identifier: GPL-2.0
//! The calendar against a model under random inserts, removals and reads
//! at random times and geometries: exactly the due tins, earliest slot
//! first, none early, none lost, `next_due` never late.
#![no_main]

#[path = "../../host/mod.rs"]
mod host;
// `host` includes the core's test helpers, which name the core `crate::sched`.
use cakemt_sched::sched;

use cakemt_sched::sched::calendar::{Calendar, CalendarConfig};
use host::support::CalendarModel;
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
    let mut model = CalendarModel::new(shift);
    let mut now = 0u64;
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
                model.insert(t, due);
            }
            1 => assert_eq!(c.remove(t), model.remove(t)),
            _ => {
                now = now.saturating_add(v);
                model.check_pop(&mut c, now);
            }
        }
        model.check(&c);
    }
});
