// SPDX-License-Identifier: GPL-2.0
//! CAKE's ACK filter: when a pure TCP ACK is enqueued, an older pure ACK of
//! the same connection still waiting in the flow's queue carries no
//! information the new one lacks, so it is dropped to save uplink airtime.
//! The safety rules follow `cake_ack_filter`: only pure ACKs with no flags
//! but ECE/CWR and no options but timestamps/SACK are candidates, never one
//! with a higher cumulative ACK or SACKing what the new one does not, and
//! never across a change of ECE/CWR. Conservative mode drops only when two
//! candidates are queued (so one redundant ACK stays for the ACK clock);
//! aggressive mode also drops a single candidate right before the new ACK.
//!
//! An old ACK whose TSval or TSecr is newer than the new one's is kept
//! (a new ACK without timestamps counts as 0, as in CAKE). [`AckInfo`]
//! carries only the highest SACK edge, so SACK coverage is judged on it: an
//! old ACK whose SACK reaches past the new one's (or which is a D-SACK,
//! below its own cumulative ACK) is kept.

use crate::sched::packet::{AckInfo, Packet, PacketQueue};

/// ACK filter mode (`tc ... cake ack-filter[-aggressive]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AckFilterMode {
    /// No filtering.
    #[default]
    Off,
    /// Drop an ACK only when a second redundant one is also queued.
    Conservative,
    /// Also drop a lone redundant ACK directly ahead of the new one.
    Aggressive,
}

/// Packets of a flow's queue the filter looks at, from the head.
pub const ACK_FILTER_MAX_SCAN: usize = 64;

const TCP_ACK: u8 = 0x10;
const TCP_SYN: u8 = 0x02;
const TCP_ECE: u8 = 0x40;
const TCP_CWR: u8 = 0x80;
const ECN_FLAGS: u8 = TCP_ECE | TCP_CWR;

/// Sequence number `a` is after `b` (mod 2^32).
fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

/// `old` is a pure ACK that may be dropped in favour of `new`: no flags
/// but ECE/CWR, no options but SACK and timestamps, and timestamps no
/// newer than `new`'s (`cake_tcph_may_drop`).
fn may_drop(old: &AckInfo, new: &AckInfo) -> bool {
    let stamps_ok = match old.timestamps {
        None => true,
        Some((tsval, tsecr)) => {
            let (new_val, new_ecr) = new.timestamps.unwrap_or((0, 0));
            !after(tsval, new_val) && !after(tsecr, new_ecr)
        }
    };
    (old.flags & !ECN_FLAGS) == TCP_ACK && !old.other_options && stamps_ok
}

/// Like `cake_tcph_sack_compare(old, new)`: negative if `old` SACKs
/// something `new` does not (never drop), zero if they SACK the same,
/// positive if `new` SACKs more.
fn sack_compare(old: &AckInfo, new: &AckInfo) -> i32 {
    match (old.has_sack, new.has_sack) {
        (false, false) => 0,
        (true, false) => -1,
        (false, true) => 1,
        (true, true) => {
            if !after(old.sack_end, old.ack_seq) || after(old.sack_end, new.sack_end) {
                -1
            } else if old.sack_end == new.sack_end {
                0
            } else {
                1
            }
        }
    }
}

/// `old` (queued) is made redundant by `new`, ignoring queue position.
fn redundant(old: &AckInfo, new: &AckInfo) -> bool {
    if !may_drop(old, new) || after(old.ack_seq, new.ack_seq) {
        return false;
    }
    let cmp = sack_compare(old, new);
    !(cmp < 0 || (old.ack_seq == new.ack_seq && cmp == 0))
}

/// Runs the filter for `new`, about to be appended to `queue` (which holds
/// the flow's older packets). Returns the ACK removed from `queue`, if any.
pub(crate) fn filter<Q: PacketQueue>(
    queue: &mut Q,
    new: &AckInfo,
    mode: AckFilterMode,
) -> Option<Q::Packet> {
    if mode == AckFilterMode::Off || (new.flags & (TCP_ACK | TCP_SYN)) != TCP_ACK {
        return None;
    }
    if queue.is_empty() {
        return None;
    }

    // Pass 1: find the oldest eligible ACK and whether a second one follows
    // it with the same ECE/CWR. Nothing is removed here.
    let mut elig: Option<(usize, u8)> = None;
    let mut two = false;
    let mut seen = 0usize;
    let _ = queue.remove_first(ACK_FILTER_MAX_SCAN, &mut |p: &Q::Packet| {
        let here = seen;
        // At most ACK_FILTER_MAX_SCAN calls: cannot wrap.
        seen = seen.wrapping_add(1);
        if two {
            return false;
        }
        let Some(old) = p.ack_info() else {
            return false;
        };
        if old.conn_hash != new.conn_hash {
            return false;
        }
        // ECE/CWR changed since the candidate: dropping it would lose that.
        if let Some((_, flags)) = elig {
            if old.flags & ECN_FLAGS != flags {
                elig = None;
            }
        }
        if !redundant(&old, new) {
            return false;
        }
        match elig {
            None => elig = Some((here, old.flags & ECN_FLAGS)),
            Some(_) => two = true,
        }
        false
    });

    let (target, flags) = elig?;
    let whole_queue = seen < ACK_FILTER_MAX_SCAN;
    let last = whole_queue && target.wrapping_add(1) == seen;
    let take = two || (mode == AckFilterMode::Aggressive && last && flags == new.flags & ECN_FLAGS);
    if !take {
        return None;
    }

    // Pass 2: remove the candidate by position.
    let mut i = 0usize;
    queue.remove_first(target.saturating_add(1), &mut |_p: &Q::Packet| {
        let hit = i == target;
        i = i.wrapping_add(1);
        hit
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_support::{TestPacket, TestQueue};

    fn ack(conn: u32, seq: u32) -> AckInfo {
        AckInfo {
            conn_hash: conn,
            ack_seq: seq,
            window: 1000,
            flags: TCP_ACK,
            ..AckInfo::default()
        }
    }

    fn queue_of(acks: &[Option<AckInfo>]) -> TestQueue {
        let mut q = TestQueue::default();
        for (i, a) in acks.iter().enumerate() {
            let mut p = TestPacket::new(i as u64, 60);
            p.ack = *a;
            q.push_back(p);
        }
        q
    }

    fn ids(q: &TestQueue) -> std::vec::Vec<u64> {
        q.0.iter().map(|p| p.id).collect()
    }

    extern crate std;

    #[test]
    fn conservative_needs_two_candidates() {
        let mut q = queue_of(&[Some(ack(1, 100))]);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Conservative).is_none());
        let mut q = queue_of(&[Some(ack(1, 100)), Some(ack(1, 150))]);
        let got = filter(&mut q, &ack(1, 200), AckFilterMode::Conservative).unwrap();
        assert_eq!(got.id, 0, "the oldest candidate goes");
        assert_eq!(ids(&q), [1]);
    }

    #[test]
    fn aggressive_drops_lone_adjacent_ack() {
        let mut q = queue_of(&[Some(ack(1, 100))]);
        let got = filter(&mut q, &ack(1, 200), AckFilterMode::Aggressive).unwrap();
        assert_eq!(got.id, 0);
        assert!(q.is_empty());
        // Not adjacent: a data packet sits between.
        let mut q = queue_of(&[Some(ack(1, 100)), None]);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Aggressive).is_none());
        assert_eq!(ids(&q), [0, 1]);
    }

    #[test]
    fn newer_timestamps_keep_the_old_ack() {
        let ts = |seq: u32, val: u32, ecr: u32| AckInfo {
            timestamps: Some((val, ecr)),
            ..ack(1, seq)
        };
        let agg = AckFilterMode::Aggressive;
        // Older TSval and TSecr: dropped.
        let mut q = queue_of(&[Some(ts(100, 5, 7))]);
        assert!(filter(&mut q, &ts(200, 6, 7), agg).is_some());
        // The queued ACK echoes a newer TSecr, or carries a newer TSval.
        for old in [ts(100, 5, 8), ts(100, 7, 7)] {
            let mut q = queue_of(&[Some(old)]);
            assert!(filter(&mut q, &ts(200, 6, 7), agg).is_none());
        }
        // A new ACK without timestamps counts as 0: a stamped one is kept.
        let mut q = queue_of(&[Some(ts(100, 5, 7))]);
        assert!(filter(&mut q, &ack(1, 200), agg).is_none());
        // Stamps compare modulo 2^32.
        let mut q = queue_of(&[Some(ts(100, u32::MAX, 7))]);
        assert!(filter(&mut q, &ts(200, 3, 7), agg).is_some());
    }

    #[test]
    fn off_never_filters() {
        let mut q = queue_of(&[Some(ack(1, 100)), Some(ack(1, 150))]);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Off).is_none());
        assert_eq!(q.0.len(), 2);
    }

    #[test]
    fn other_connection_or_newer_ack_kept() {
        let mut q = queue_of(&[Some(ack(2, 100)), Some(ack(2, 150))]);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Aggressive).is_none());
        // Queued ACKs acknowledge more than the new one (reordering).
        let mut q = queue_of(&[Some(ack(1, 300)), Some(ack(1, 350))]);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Aggressive).is_none());
        // Same cumulative ACK, no SACK news: a duplicate ACK is a signal.
        let mut q = queue_of(&[Some(ack(1, 200)), Some(ack(1, 200))]);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Conservative).is_none());
    }

    #[test]
    fn unsafe_flags_and_options_kept() {
        let mut fin = ack(1, 100);
        fin.flags |= 0x01;
        let mut opt = ack(1, 110);
        opt.other_options = true;
        let mut q = queue_of(&[Some(fin), Some(opt)]);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Aggressive).is_none());
        // A SYN-ACK does not trigger filtering.
        let mut q = queue_of(&[Some(ack(1, 100)), Some(ack(1, 150))]);
        let mut synack = ack(1, 200);
        synack.flags |= TCP_SYN;
        assert!(filter(&mut q, &synack, AckFilterMode::Aggressive).is_none());
    }

    #[test]
    fn sack_rules() {
        let mut sacked = ack(1, 100);
        sacked.has_sack = true;
        sacked.sack_end = 500;
        // New ACK without SACK would lose the SACK information.
        let mut q = queue_of(&[Some(sacked), Some(sacked)]);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Conservative).is_none());
        // New ACK SACKing further: old ones are redundant.
        let mut newer = ack(1, 100);
        newer.has_sack = true;
        newer.sack_end = 600;
        let mut q = queue_of(&[Some(sacked), Some(sacked)]);
        assert_eq!(
            filter(&mut q, &newer, AckFilterMode::Conservative).map(|p| p.id),
            Some(0)
        );
        // D-SACK (below the cumulative ACK) is never dropped.
        let mut dsack = ack(1, 100);
        dsack.has_sack = true;
        dsack.sack_end = 50;
        let mut q = queue_of(&[Some(dsack)]);
        assert!(filter(&mut q, &newer, AckFilterMode::Aggressive).is_none());
    }

    #[test]
    fn ecn_flag_change_resets_candidate() {
        let mut ece = ack(1, 120);
        ece.flags |= TCP_ECE;
        // 100 (no ECE), 120 (ECE), 150 (no ECE): no two consecutive
        // candidates share flags, so nothing goes in conservative mode.
        let mut q = queue_of(&[Some(ack(1, 100)), Some(ece), Some(ack(1, 150))]);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Conservative).is_none());
        // Aggressive: lone last candidate with matching flags goes.
        let got = filter(&mut q, &ack(1, 200), AckFilterMode::Aggressive).unwrap();
        assert_eq!(got.id, 2);
    }

    #[test]
    fn scan_is_bounded() {
        let mut v = std::vec::Vec::new();
        for _ in 0..ACK_FILTER_MAX_SCAN {
            v.push(None);
        }
        v.push(Some(ack(1, 100)));
        v.push(Some(ack(1, 110)));
        let mut q = queue_of(&v);
        assert!(filter(&mut q, &ack(1, 200), AckFilterMode::Aggressive).is_none());
        assert_eq!(q.0.len(), ACK_FILTER_MAX_SCAN + 2);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        /// Mostly pure ACKs of connection 0, some of connection 1, some
        /// with other flags, options or SACK; `None` is a data packet.
        fn ack_info(seqs: core::ops::Range<u32>) -> impl Strategy<Value = AckInfo> {
            let seqs2 = seqs.clone();
            (
                proptest::bool::weighted(0.8),
                seqs,
                prop_oneof![8 => Just(TCP_ACK), 1 => Just(TCP_ACK | TCP_ECE), 1 => any::<u8>()],
                proptest::bool::weighted(0.2),
                0..12u32,
                proptest::bool::weighted(0.05),
                proptest::option::weighted(0.5, (seqs2, 0..4u32)),
            )
                .prop_map(|(c0, seq, flags, has_sack, sack, other, ts)| AckInfo {
                    conn_hash: u32::from(!c0),
                    ack_seq: seq * 100,
                    window: 0,
                    flags,
                    has_sack,
                    sack_end: sack * 100,
                    other_options: other,
                    // TSval grows with the ACK number, TSecr independently.
                    timestamps: ts.map(|(v, e)| (v * 10, e)),
                })
        }

        fn info() -> impl Strategy<Value = Option<AckInfo>> {
            proptest::option::weighted(0.8, ack_info(0..8))
        }

        proptest! {
            #[test]
            fn removes_at_most_one_redundant_ack_and_keeps_order(
                queued in proptest::collection::vec(info(), 0..20),
                new in ack_info(4..10),
            ) {
                let mut got = [None, None, None];
                for (k, mode) in [AckFilterMode::Off, AckFilterMode::Conservative,
                                  AckFilterMode::Aggressive].into_iter().enumerate() {
                    let mut q = queue_of(&queued);
                    let removed = filter(&mut q, &new, mode);
                    let left = ids(&q);
                    match &removed {
                        None => prop_assert_eq!(left.len(), queued.len()),
                        Some(r) => {
                            let old = r.ack.unwrap();
                            prop_assert_eq!(old.conn_hash, new.conn_hash);
                            // Spelled out rather than via `redundant`.
                            prop_assert_eq!(old.flags & !(TCP_ECE | TCP_CWR), TCP_ACK);
                            prop_assert!(!old.other_options);
                            prop_assert!(old.ack_seq <= new.ack_seq);
                            prop_assert!(!old.has_sack || new.has_sack);
                            prop_assert!(old.ack_seq < new.ack_seq || old.has_sack != new.has_sack
                                || old.sack_end < new.sack_end);
                            if let Some((val, ecr)) = old.timestamps {
                                let (nval, necr) = new.timestamps.unwrap_or((0, 0));
                                prop_assert!(val <= nval && ecr <= necr);
                            }
                            prop_assert!(new.flags & (TCP_ACK | TCP_SYN) == TCP_ACK);
                            let mut expect: std::vec::Vec<u64> =
                                (0..queued.len() as u64).collect();
                            expect.retain(|&i| i != r.id);
                            prop_assert_eq!(left, expect);
                        }
                    }
                    got[k] = removed.map(|p| p.id);
                }
                prop_assert_eq!(got[0], None);
                // Aggressive drops whatever conservative drops.
                if got[1].is_some() {
                    prop_assert_eq!(got[1], got[2]);
                }
            }
        }
    }
}
