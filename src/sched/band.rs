// SPDX-License-Identifier: GPL-2.0
//! One diffserv band of a tin (see [`diffserv`](super::diffserv)): what
//! CAKE keeps per class (`cake_tin_data`) apart from the flows themselves,
//! which stay in the shared flow table. A band has its own DRR++ lists and
//! sparse/bulk counts, its threshold time (CAKE's per-class
//! `time_next_packet`, advanced at the band's threshold rate), its DRR
//! deficit for when nothing shapes the tin, and its counters.
//!
//! The scheduler keeps two arrays of `tins x bands`, allocated only when
//! the mode has more than one band: [`BandTurn`]s, what choosing a band
//! reads, and [`Band`]s, the lists and counters of the band served. A
//! besteffort tin keeps its lists in its
//! [`TinQueue`](super::tin_queue::TinQueue), as before bands existed, and
//! costs nothing here.
//!
//! Choosing a band is CAKE's "choose a class to work on": shaped, the
//! highest band whose threshold time has come, else the band whose time
//! comes first; unshaped, DRR over the bands with CAKE's quanta. Either way
//! it looks at no more than the tin's bands. Band thresholds only order a
//! tin's bands: they never delay the tin (its own shaper does that).

use super::diffserv::DiffservMode;
use super::flow_table::{FlowList, FlowSet};
use super::tin_queue::balanced;

/// DRR++ lists of one band (or of a besteffort tin).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FlowLists {
    /// Sparse (new) flows.
    pub(crate) new: FlowList,
    /// Bulk (old) flows, and sparse flows waiting for packets.
    pub(crate) old: FlowList,
    /// Empty flows whose COBALT state is still decaying.
    pub(crate) decaying: FlowList,
}

impl FlowLists {
    /// The list a flow of `set` is on.
    pub(crate) fn of(&mut self, set: FlowSet) -> Option<&mut FlowList> {
        match set {
            FlowSet::Sparse => Some(&mut self.new),
            FlowSet::SparseWait | FlowSet::Bulk => Some(&mut self.old),
            FlowSet::Decaying => Some(&mut self.decaying),
            FlowSet::None => None,
        }
    }
}

/// A band's counters (CAKE's per-class stats). Packets and bytes use
/// `Packet::len`; at every step `packets = dequeued_packets +
/// dropped_packets + backlog_packets`, and the same in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BandStats {
    /// Packets accepted into the band.
    pub packets: u64,
    /// Bytes accepted into the band.
    pub bytes: u64,
    /// Packets sent from the band.
    pub dequeued_packets: u64,
    /// Bytes sent from the band.
    pub dequeued_bytes: u64,
    /// Accepted packets dropped since, for any reason.
    pub dropped_packets: u64,
    /// Bytes of `dropped_packets`.
    pub dropped_bytes: u64,
    /// Queued bytes.
    pub backlog_bytes: u64,
    /// Queued packets.
    pub backlog_packets: u32,
    /// Packets marked CE by COBALT (wraps, like CAKE's).
    pub ecn_marks: u32,
}

impl BandStats {
    /// The accounting identity above holds, in packets and in bytes.
    pub fn is_balanced(&self) -> bool {
        balanced(
            self.packets,
            self.dequeued_packets,
            self.dropped_packets,
            u64::from(self.backlog_packets),
        ) && balanced(
            self.bytes,
            self.dequeued_bytes,
            self.dropped_bytes,
            self.backlog_bytes,
        )
    }

    /// These counters without the gauges (backlog), to carry a band's
    /// history over to a new scheduler whose requeue rebuilds the gauges.
    pub(crate) fn counters(&self) -> BandStats {
        BandStats {
            backlog_bytes: 0,
            backlog_packets: 0,
            ..*self
        }
    }

    pub(crate) fn accept(&mut self, len: u32) {
        self.packets = self.packets.wrapping_add(1);
        self.bytes = self.bytes.wrapping_add(u64::from(len));
    }

    pub(crate) fn queue(&mut self, len: u32) {
        self.backlog_packets = self.backlog_packets.saturating_add(1);
        self.backlog_bytes = self.backlog_bytes.wrapping_add(u64::from(len));
    }

    pub(crate) fn unqueue(&mut self, len: u32) {
        self.backlog_packets = self.backlog_packets.saturating_sub(1);
        self.backlog_bytes = self.backlog_bytes.saturating_sub(u64::from(len));
    }

    pub(crate) fn sent(&mut self, len: u32) {
        self.unqueue(len);
        self.dequeued_packets = self.dequeued_packets.wrapping_add(1);
        self.dequeued_bytes = self.dequeued_bytes.wrapping_add(u64::from(len));
    }

    pub(crate) fn dropped(&mut self, len: u32) {
        self.unqueue(len);
        self.dropped_packets = self.dropped_packets.wrapping_add(1);
        self.dropped_bytes = self.dropped_bytes.wrapping_add(u64::from(len));
    }
}

/// A band of a tin as CAKE's per-class statistics show it, for dumps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BandView {
    /// Its counters.
    pub stats: BandStats,
    /// Threshold rate, bytes/s: the band keeps its priority up to it (0:
    /// nothing shapes the tin, bands share by `quantum`).
    pub threshold_rate: u64,
    /// COBALT target fitted to the threshold rate, ns.
    pub target_ns: u64,
    /// COBALT interval fitted to the threshold rate, ns.
    pub interval_ns: u64,
    /// DRR quantum when nothing shapes the tin (CAKE's `tin_quantum`).
    pub quantum: u16,
    /// Flows on the sparse rotation.
    pub sparse_flows: u32,
    /// Flows on the bulk rotation.
    pub bulk_flows: u32,
}

/// A band's lists and counters. `Default` is an idle band.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Band {
    pub(crate) lists: FlowLists,
    pub(crate) stats: BandStats,
}

impl Band {
    /// The band's counters and gauges.
    pub fn stats(&self) -> &BandStats {
        &self.stats
    }
}

/// What choosing a band reads of it, kept apart from its [`Band`] so a
/// tin's choice reads its bands' few bytes together (16 a band: the four
/// of diffserv4 in one cache line). `Default` is an idle band.
///
/// The flow counts fit 16 bits: a tin holds at most
/// [`DEFAULT_MAX_FLOWS`](super::tin_queue::DEFAULT_MAX_FLOWS) + 1 flow
/// slots, and a band no more than its tin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BandTurn {
    /// When the band is next within its threshold rate (ns).
    pub(crate) time_next: u64,
    /// DRR deficit over the bands when nothing shapes the tin, bytes.
    pub(crate) deficit: i32,
    /// Flows on the sparse rotation (or waiting, counted sparse).
    pub(crate) sparse_flows: u16,
    /// Flows on the bulk rotation.
    pub(crate) bulk_flows: u16,
}

// A band's flows are the tin's at most: the counts cannot wrap.
const _: () = assert!(super::tin_queue::DEFAULT_MAX_FLOWS < u16::MAX as u32);

impl BandTurn {
    /// Has flows with packets to serve (or counted as such).
    pub(crate) fn has_flows(&self) -> bool {
        self.sparse_flows != 0 || self.bulk_flows != 0
    }

    /// When the band is next within its threshold rate (ns).
    pub fn time_next(&self) -> u64 {
        self.time_next
    }

    /// A packet arrives while the band holds none (`backlog` packets): a
    /// threshold time in the past earns no credit (CAKE's "ensure shaper
    /// state isn't stale").
    pub(crate) fn wake(&mut self, backlog: u32, now: u64) {
        if backlog == 0 && self.time_next < now {
            self.time_next = now;
        }
    }

    /// `cake_advance_shaper` for the band: `dur` ns at its threshold rate
    /// for the packet just sent. Behind the clock it catches up one packet
    /// at a time, as in CAKE, but from no further back than `max_lag` ns
    /// (the scheduler's, as its shapers have): a band that went without
    /// its share for long, or whose tin was unshaped for a while, keeps its
    /// priority for a bounded burst, not for as long as it lagged.
    pub(crate) fn charge(&mut self, dur: u64, now: u64, max_lag: u64) {
        self.time_next = self.time_next.max(now.saturating_sub(max_lag));
        let end = now.saturating_add(dur);
        if self.time_next < now {
            self.time_next = self.time_next.saturating_add(dur);
        } else if self.time_next < end {
            self.time_next = end;
        }
    }
}

/// Shaped choice: the highest band with flows whose threshold time has
/// come, else the band with flows whose time comes first (on a tie the
/// higher band, as CAKE's scan keeps the last of equals). `None` if no
/// band has flows.
pub(crate) fn select_shaped(bands: &[BandTurn], now: u64) -> Option<u8> {
    let mut due = None;
    let mut first: Option<(u8, u64)> = None;
    let mut i = 0u8;
    for b in bands {
        let this = i;
        // A tin has at most MAX_BANDS bands: `i` never wraps.
        i = i.wrapping_add(1);
        if !b.has_flows() {
            continue;
        }
        let i = this;
        if b.time_next <= now {
            due = Some(i);
        } else if first.map_or(true, |(_, t)| b.time_next <= t) {
            first = Some((i, b.time_next));
        }
    }
    due.or(first.map(|(i, _)| i))
}

/// The band the unshaped choice will most likely make from `cur`, without
/// changing anything (for prefetching): the first with flows and credit,
/// else the first with flows.
pub(crate) fn peek_drr(bands: &[BandTurn], cur: u8) -> Option<u8> {
    let n = bands.len();
    let from = usize::from(cur).min(n);
    let order = || {
        bands
            .iter()
            .enumerate()
            .skip(from)
            .chain(bands.iter().enumerate().take(from))
    };
    let pick = order()
        .find(|(_, b)| b.has_flows() && b.deficit >= 0)
        .or_else(|| order().find(|(_, b)| b.has_flows()));
    // A tin has at most MAX_BANDS bands: the index fits.
    pick.map(|(i, _)| i as u8)
}

/// Passes over the bands the unshaped choice makes at most. A band's
/// deficit is at least minus one packet (64 KiB GSO), so with CAKE's
/// smallest quantum (64) it is positive again after 1024 passes.
const MAX_DRR_PASSES: u32 = 1026;

/// Unshaped choice, CAKE's DRR over the bands: from band `cur`, the first
/// band with flows and a non-negative deficit, topping deficits up by the
/// band's quantum as it goes. `cur` is where the next choice starts.
/// `None` if no band has flows.
pub(crate) fn select_drr(bands: &mut [BandTurn], cur: &mut u8, mode: DiffservMode) -> Option<u8> {
    let n = u8::try_from(bands.len()).unwrap_or(u8::MAX);
    if n == 0 {
        return None;
    }
    if *cur >= n {
        *cur = 0;
    }
    let mut wrapped = false;
    let mut empty = true;
    let steps = MAX_DRR_PASSES.saturating_mul(u32::from(n));
    for _ in 0..steps {
        let b = bands.get_mut(usize::from(*cur))?;
        if b.deficit >= 0 && b.has_flows() {
            return Some(*cur);
        }
        if b.deficit <= 0 {
            b.deficit = b.deficit.saturating_add(i32::from(mode.quantum(*cur)));
        }
        if b.has_flows() {
            empty = false;
        }
        *cur = cur.saturating_add(1);
        if *cur >= n {
            *cur = 0;
            if wrapped {
                if empty {
                    return None;
                }
            } else {
                wrapped = true;
            }
        }
    }
    // Unreachable by the bound above; serve whoever has flows.
    bands.iter().position(BandTurn::has_flows).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(flows: bool, time_next: u64) -> BandTurn {
        BandTurn {
            sparse_flows: u16::from(flows),
            time_next,
            ..BandTurn::default()
        }
    }

    #[test]
    fn shaped_choice_is_priority_then_earliest() {
        let now = 1000;
        // Bands 0 and 2 due: the higher one.
        let b = [
            band(true, 10),
            band(true, 2000),
            band(true, 999),
            band(false, 0),
        ];
        assert_eq!(select_shaped(&b, now), Some(2));
        // None due: the earliest, the higher on a tie.
        let b = [
            band(true, 1500),
            band(true, 1200),
            band(true, 1200),
            band(true, 3000),
        ];
        assert_eq!(select_shaped(&b, now), Some(2));
        // A due band beats any earlier-looking one below it.
        let b = [band(true, 0), band(true, 1001)];
        assert_eq!(select_shaped(&b, now), Some(0));
        let b = [band(false, 0), band(false, 0)];
        assert_eq!(select_shaped(&b, now), None);
    }

    #[test]
    fn charge_catches_up_and_never_runs_ahead_of_now_plus_dur() {
        let mut b = band(true, 100);
        b.charge(50, 1000, 10_000);
        assert_eq!(b.time_next, 150, "behind the clock: one packet on");
        b.charge(50, 1000, 300);
        assert_eq!(b.time_next, 750, "from no further back than the lag");
        b.time_next = 1010;
        b.charge(50, 1000, 300);
        assert_eq!(b.time_next, 1050);
        b.time_next = 5000;
        b.charge(50, 1000, 300);
        assert_eq!(b.time_next, 5000, "far ahead: CAKE leaves it");
        b.wake(1, 6000);
        assert_eq!(b.time_next, 5000, "a band with packets keeps its time");
        b.wake(0, 6000);
        assert_eq!(b.time_next, 6000, "an empty band earns no credit");
    }

    #[test]
    fn drr_choice_follows_quanta() {
        let mode = DiffservMode::Diffserv4;
        let mut bands = [band(true, 0), band(true, 0), band(false, 0), band(false, 0)];
        let mut cur = 0;
        let mut sent = [0u32; 4];
        for _ in 0..10_000 {
            let b = select_drr(&mut bands, &mut cur, mode).unwrap();
            sent[usize::from(b)] += 1;
            bands[usize::from(b)].deficit -= 100;
        }
        // Quanta 1024 and 64: band 1 gets 1/17 of the turns.
        let share = f64::from(sent[1]) / 10_000.0;
        assert!((share - 1.0 / 17.0).abs() < 0.005, "{sent:?}");
        let mut idle = [band(false, 0); 4];
        assert_eq!(select_drr(&mut idle, &mut cur, mode), None);
    }
}
