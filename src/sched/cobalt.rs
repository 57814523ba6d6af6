// SPDX-License-Identifier: GPL-2.0
//! COBALT, CAKE's per-flow AQM: CoDel (drop or mark when the sojourn time of
//! a flow stays above `target` for an `interval`, then at a rate growing with
//! sqrt(count)) run side by side with BLUE (a drop probability raised on queue
//! overflow and lowered when the queue runs empty) for flows that ignore
//! CoDel's signals. Integer only: the control law uses a cached/Newton-step
//! reciprocal square root in Q0.32 fixed point, as `sch_cake.c` does.

use crate::sched::packet::Packet;

const NSEC_PER_USEC: u64 = 1_000;
const NSEC_PER_SEC: u64 = 1_000_000_000;

/// CAKE's round-trip-time presets (`tc ... cake <preset>`). The CoDel
/// interval is the rtt and the target one twentieth of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RttPreset {
    /// 100 µs: inside one data centre.
    Datacentre,
    /// 1 ms: a LAN.
    Lan,
    /// 10 ms: a metropolitan network.
    Metro,
    /// 30 ms: a regional network.
    Regional,
    /// 100 ms: the Internet at large (the default).
    Internet,
    /// 300 ms: across oceans.
    Oceanic,
    /// 1 s: geostationary satellite links.
    Satellite,
    /// 1000 s: effectively disables AQM.
    Interplanetary,
}

impl RttPreset {
    /// The preset's round-trip time in nanoseconds.
    pub const fn rtt_ns(self) -> u64 {
        let us = match self {
            RttPreset::Datacentre => 100,
            RttPreset::Lan => 1_000,
            RttPreset::Metro => 10_000,
            RttPreset::Regional => 30_000,
            RttPreset::Internet => 100_000,
            RttPreset::Oceanic => 300_000,
            RttPreset::Satellite => 1_000_000,
            RttPreset::Interplanetary => 1_000_000_000,
        };
        us * NSEC_PER_USEC
    }
}

/// The user's COBALT settings, before they are fitted to a tin's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CobaltConfig {
    /// Expected round-trip time (CoDel interval), nanoseconds.
    pub rtt_ns: u64,
    /// Acceptable standing queue delay (CoDel target), nanoseconds.
    pub target_ns: u64,
}

impl CobaltConfig {
    /// A preset: interval = rtt, target = rtt / 20 (as `tc` does).
    pub const fn preset(p: RttPreset) -> Self {
        Self::from_rtt(p.rtt_ns())
    }

    /// An explicit rtt; the target is rtt / 20 (at least 1 µs).
    pub const fn from_rtt(rtt_ns: u64) -> Self {
        let rtt_ns = if rtt_ns < NSEC_PER_USEC {
            NSEC_PER_USEC
        } else {
            rtt_ns
        };
        let target = rtt_ns / 20;
        Self::new(rtt_ns, target)
    }

    /// Explicit rtt and target (each at least 1 µs, CAKE's minimum).
    pub const fn new(rtt_ns: u64, target_ns: u64) -> Self {
        Self {
            rtt_ns: if rtt_ns < NSEC_PER_USEC {
                NSEC_PER_USEC
            } else {
                rtt_ns
            },
            target_ns: if target_ns < NSEC_PER_USEC {
                NSEC_PER_USEC
            } else {
                target_ns
            },
        }
    }
}

impl Default for CobaltConfig {
    fn default() -> Self {
        Self::preset(RttPreset::Internet)
    }
}

/// COBALT parameters of one tin, derived from [`CobaltConfig`] and the tin's
/// rate as `cake_set_rate` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CobaltParams {
    /// CoDel interval, nanoseconds.
    pub interval: u64,
    /// CoDel target (also BLUE's update period), nanoseconds.
    pub target: u64,
    /// Time to send one MTU at the tin's rate, nanoseconds (0 if unlimited).
    pub mtu_time: u64,
    /// BLUE increment of the drop probability, Q0.32.
    pub p_inc: u32,
    /// BLUE decrement of the drop probability, Q0.32.
    pub p_dec: u32,
}

impl CobaltParams {
    /// Fits `cfg` to a tin sending `rate` bytes/s (0 = unlimited) with
    /// packets up to `mtu` bytes: the target must allow 1.5 MTU times, or a
    /// slow tin would drop every packet; the interval grows with it.
    pub fn new(cfg: &CobaltConfig, rate: u64, mtu: u32) -> Self {
        Self::for_mtu_time(cfg, mtu_time_ns(rate, mtu))
    }

    /// Fits `cfg` to a class that takes `mtu_time` ns to send one MTU (0 =
    /// unlimited), as [`new`](Self::new) does from a rate.
    pub fn for_mtu_time(cfg: &CobaltConfig, mtu_time: u64) -> Self {
        let target = (mtu_time.saturating_mul(3) / 2).max(cfg.target_ns);
        let interval = cfg
            .rtt_ns
            .saturating_add(target)
            .saturating_sub(cfg.target_ns)
            .max(target.saturating_mul(2));
        Self {
            interval,
            target,
            mtu_time,
            p_inc: 1 << 24,
            p_dec: 1 << 20,
        }
    }
}

/// Nanoseconds to send `mtu` bytes at `rate` bytes/s, computed like CAKE's
/// `rate_ns >> rate_shft` so the result matches its rounding.
fn mtu_time_ns(rate: u64, mtu: u32) -> u64 {
    if rate == 0 {
        return 0;
    }
    const MIN_RATE: u64 = 64;
    let mut shift: u32 = 34;
    let mut rate_ns = (NSEC_PER_SEC << 34) / rate.max(MIN_RATE);
    // Bounded: at most 30 halvings bring a u64 under 2^34.
    while rate_ns >> 34 != 0 {
        rate_ns >>= 1;
        shift = shift.saturating_sub(1);
    }
    let t = (u128::from(mtu) * u128::from(rate_ns)).wrapping_shr(shift);
    u64::try_from(t).unwrap_or(u64::MAX)
}

/// Most control-law steps one packet may catch up on.
const MAX_CATCHUP_STEPS: u32 = 1024;

/// 1/sqrt(count) for small counts, Q0.32, from eight Newton steps (CAKE's
/// table): one Newton step is too coarse below 16.
const INV_SQRT_CACHE: [u32; 16] = [
    u32::MAX,
    u32::MAX,
    3037000500,
    2479700525,
    2147483647,
    1920767767,
    1753413056,
    1623345051,
    1518500250,
    1431655765,
    1358187914,
    1294981364,
    1239850263,
    1191209601,
    1147878294,
    1108955788,
];

/// Per-flow COBALT state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CobaltVars {
    /// CoDel's drop count (signals in the current dropping episode).
    count: u32,
    /// 1/sqrt(count), Q0.32.
    rec_inv_sqrt: u32,
    /// Next signal time while dropping, else an activity timeout.
    drop_next: u64,
    /// Last BLUE update.
    blue_timer: u64,
    /// BLUE drop probability, Q0.32.
    p_drop: u32,
    /// CoDel is in its dropping state.
    dropping: bool,
    /// The last packet looked at was ECN-marked.
    ecn_marked: bool,
}

impl Default for CobaltVars {
    /// CAKE zeroes `rec_inv_sqrt`, which makes a fresh flow's first episode
    /// signal one packet after crossing target; starting at 1.0 (as after any
    /// decay) waits one interval as CoDel intends.
    fn default() -> Self {
        Self {
            count: 0,
            rec_inv_sqrt: u32::MAX,
            drop_next: 0,
            blue_timer: 0,
            p_drop: 0,
            dropping: false,
            ecn_marked: false,
        }
    }
}

/// `a - b` as a signed time difference (ktime_sub).
fn diff(a: u64, b: u64) -> i64 {
    a.wrapping_sub(b) as i64
}

impl CobaltVars {
    /// BLUE drop probability, Q0.32 (0 = BLUE at rest).
    pub fn p_drop(&self) -> u32 {
        self.p_drop
    }

    /// CoDel's current drop count.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Did the last [`CobaltVars::should_drop`] mark the packet?
    pub fn ecn_marked(&self) -> bool {
        self.ecn_marked
    }

    /// Is the state at rest, so the flow may be forgotten? (CAKE keeps a
    /// flow on its decaying list until this holds.)
    pub fn at_rest(&self, now: u64) -> bool {
        self.p_drop == 0 && self.count == 0 && diff(now, self.drop_next) >= 0
    }

    fn invsqrt(&mut self) {
        match INV_SQRT_CACHE.get(self.count as usize) {
            Some(&v) => self.rec_inv_sqrt = v,
            None => self.newton_step(),
        }
    }

    /// new = (inv / 2) * (3 - count * inv^2), Q0.32.
    fn newton_step(&mut self) {
        let inv = u64::from(self.rec_inv_sqrt);
        let inv2 = (inv * inv) >> 32;
        let val = (3u64 << 32).wrapping_sub(u64::from(self.count).wrapping_mul(inv2));
        let val = ((val >> 2).wrapping_mul(inv)) >> (32 - 2 + 1);
        self.rec_inv_sqrt = val as u32;
    }

    /// t + interval / sqrt(count).
    fn control(t: u64, interval: u64, rec_inv_sqrt: u32) -> u64 {
        let step = (u128::from(interval) * u128::from(rec_inv_sqrt)) >> 32;
        t.wrapping_add(step as u64)
    }

    /// The flow overflowed (a packet was dropped from it for lack of room).
    /// Returns true if BLUE went from quiescent to active.
    pub fn queue_full(&mut self, p: &CobaltParams, now: u64) -> bool {
        let mut up = false;
        if diff(now, self.blue_timer) > p.target as i64 {
            up = self.p_drop == 0;
            self.p_drop = self.p_drop.saturating_add(p.p_inc);
            self.blue_timer = now;
        }
        self.dropping = true;
        self.drop_next = now;
        if self.count == 0 {
            self.count = 1;
        }
        up
    }

    /// The flow was serviced but found empty. Returns true if BLUE went from
    /// active to quiescent.
    pub fn queue_empty(&mut self, p: &CobaltParams, now: u64) -> bool {
        let mut down = false;
        if self.p_drop != 0 && diff(now, self.blue_timer) > p.target as i64 {
            // Below one step, CAKE clears the probability.
            self.p_drop = self.p_drop.saturating_sub(p.p_dec);
            self.blue_timer = now;
            down = self.p_drop == 0;
        }
        self.dropping = false;
        if self.count != 0 && diff(now, self.drop_next) >= 0 {
            self.count -= 1;
            self.invsqrt();
            self.drop_next = Self::control(self.drop_next, p.interval, self.rec_inv_sqrt);
        }
        down
    }

    /// Looks at a freshly dequeued packet: returns true to drop it. An
    /// ECN-capable packet is marked CE instead of dropped by CoDel; BLUE
    /// drops regardless (deliberately, as in CAKE). `bulk_flows` widens the
    /// target at low rates (CAKE passes it in ingress mode, else 0); `rand`
    /// is a uniformly random u32 for BLUE.
    pub fn should_drop<P: Packet>(
        &mut self,
        p: &CobaltParams,
        now: u64,
        pkt: &mut P,
        bulk_flows: u32,
        rand: u32,
    ) -> bool {
        let sojourn = now.saturating_sub(pkt.enqueue_time());
        let mut schedule = diff(now, self.drop_next);
        let over_target = sojourn > p.target
            && sojourn
                > p.mtu_time
                    .saturating_mul(u64::from(bulk_flows))
                    .saturating_mul(2)
            && sojourn > p.mtu_time.saturating_mul(4);
        let mut next_due = self.count != 0 && schedule >= 0;
        let mut drop = false;

        self.ecn_marked = false;

        if over_target {
            if !self.dropping {
                self.dropping = true;
                self.drop_next = Self::control(now, p.interval, self.rec_inv_sqrt);
            }
            if self.count == 0 {
                self.count = 1;
            }
        } else if self.dropping {
            self.dropping = false;
        }

        if next_due && self.dropping {
            self.ecn_marked = pkt.set_ce();
            drop = !self.ecn_marked;
            self.count = self.count.saturating_add(1);
            self.invsqrt();
            self.drop_next = Self::control(self.drop_next, p.interval, self.rec_inv_sqrt);
            schedule = diff(now, self.drop_next);
        } else {
            // Not signalling: back off the count for each control-law step
            // that passed. CAKE loops until caught up; the cap keeps one
            // dequeue bounded and the next one resumes the catch-up.
            let mut steps = 0u32;
            while next_due && steps < MAX_CATCHUP_STEPS {
                steps += 1;
                self.count = self.count.saturating_sub(1);
                self.invsqrt();
                self.drop_next = Self::control(self.drop_next, p.interval, self.rec_inv_sqrt);
                schedule = diff(now, self.drop_next);
                next_due = self.count != 0 && schedule >= 0;
            }
        }

        if self.p_drop != 0 && rand < self.p_drop {
            drop = true;
        }

        // drop_next doubles as an activity timeout while count is zero.
        if self.count == 0 {
            self.drop_next = now.wrapping_add(p.interval);
        } else if schedule > 0 && !drop {
            self.drop_next = now;
        }
        drop
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::sched::test_support::TestPacket;

    const MS: u64 = 1_000_000;

    fn params() -> CobaltParams {
        CobaltParams::new(&CobaltConfig::default(), 0, 1514)
    }

    #[test]
    fn presets_and_rate_fitting() {
        let c = CobaltConfig::preset(RttPreset::Internet);
        assert_eq!((c.rtt_ns, c.target_ns), (100 * MS, 5 * MS));
        let c = CobaltConfig::preset(RttPreset::Datacentre);
        assert_eq!((c.rtt_ns, c.target_ns), (100_000, 5_000));
        assert_eq!(RttPreset::Interplanetary.rtt_ns(), 1_000_000_000_000);
        // Unlimited: target and interval as configured.
        let p = params();
        assert_eq!((p.target, p.interval, p.mtu_time), (5 * MS, 100 * MS, 0));
        assert_eq!((p.p_inc, p.p_dec), (1 << 24, 1 << 20));
        // 1 Mbit/s: one 1514-byte packet takes ~12.1 ms, so target becomes
        // ~18.2 ms and the interval grows by the same amount.
        let p = CobaltParams::new(&CobaltConfig::default(), 125_000, 1514);
        assert!(p.mtu_time.abs_diff(12_112_000) < 10_000, "{}", p.mtu_time);
        assert_eq!(p.target, p.mtu_time * 3 / 2);
        assert_eq!(p.interval, 100 * MS + p.target - 5 * MS);
        // Extreme inputs do not panic.
        let p = CobaltParams::new(&CobaltConfig::new(u64::MAX, u64::MAX), 1, u32::MAX);
        assert!(p.target >= p.mtu_time / 2);
        let _ = CobaltParams::new(&CobaltConfig::new(0, 0), u64::MAX, 0);
    }

    #[test]
    fn inverse_sqrt_tracks_count() {
        let mut v = CobaltVars::default();
        // Walk count up with single Newton steps past the table, as COBALT
        // does, and compare with 1 / sqrt(count).
        for c in 1..2000u32 {
            v.count = c;
            v.invsqrt();
            if c >= 16 {
                // rec^2 * count should be 2^64 (within 2%).
                let r = u128::from(v.rec_inv_sqrt);
                let x = r * r * u128::from(c);
                let one = 1u128 << 64;
                assert!(x.abs_diff(one) < one / 50, "count {c}: {x}");
            }
        }
    }

    #[test]
    fn first_signal_one_interval_after_crossing_target() {
        let p = params();
        let mut v = CobaltVars::default();
        let mut signals = std::vec::Vec::new();
        // Sojourn grows 1 ms per ms up to a standing 10 ms; it crosses the
        // 5 ms target at 6 ms. A packet every ms.
        for t in (0..400).map(|i| i * MS) {
            let mut pkt = TestPacket::new(0, 1500);
            pkt.enqueue_time = t.saturating_sub(10 * MS);
            if v.should_drop(&p, t, &mut pkt, 0, u32::MAX) {
                signals.push(t);
            }
        }
        assert_eq!(signals.first(), Some(&(106 * MS)), "{signals:?}");
        // Control law: gaps shrink as interval / sqrt(count).
        assert_eq!(signals[1] - signals[0], 71 * MS);
        let gaps: std::vec::Vec<u64> = signals.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] <= g[0]), "{gaps:?}");
        assert!(v.count() as usize == signals.len() + 1);
    }

    #[test]
    fn marks_ecn_capable_instead_of_dropping() {
        let p = params();
        let mut v = CobaltVars::default();
        let (mut marks, mut drops) = (0, 0);
        for t in (0..300).map(|i| i * MS) {
            let mut pkt = TestPacket::new(0, 1500);
            pkt.ect = true;
            pkt.enqueue_time = t.saturating_sub(10 * MS);
            if v.should_drop(&p, t, &mut pkt, 0, u32::MAX) {
                drops += 1;
            }
            if pkt.ce {
                assert!(v.ecn_marked());
                marks += 1;
            }
        }
        assert!(marks >= 3, "{marks}");
        assert_eq!(drops, 0);
    }

    #[test]
    fn below_target_never_signals_and_count_decays() {
        let p = params();
        let mut v = CobaltVars::default();
        for t in (0..200).map(|i| i * MS) {
            let mut pkt = TestPacket::new(0, 1500);
            pkt.enqueue_time = t.saturating_sub(10 * MS);
            v.should_drop(&p, t, &mut pkt, 0, u32::MAX);
        }
        let c = v.count();
        assert!(c >= 2);
        // Queue drains below target: no more signals, count backs off.
        let mut t = 200 * MS;
        for _ in 0..2000 {
            t += MS;
            let mut pkt = TestPacket::new(0, 1500);
            pkt.enqueue_time = t - MS;
            assert!(!v.should_drop(&p, t, &mut pkt, 0, u32::MAX));
        }
        assert_eq!(v.count(), 0);
        assert!(v.at_rest(t + p.interval));
    }

    #[test]
    fn blue_rises_on_overflow_and_falls_when_empty() {
        let p = params();
        let mut v = CobaltVars::default();
        assert!(v.queue_full(&p, 10 * MS), "quiescent -> active");
        assert_eq!(v.p_drop(), 1 << 24);
        // Within one target of the last update: no change.
        assert!(!v.queue_full(&p, 12 * MS));
        assert_eq!(v.p_drop(), 1 << 24);
        let mut t = 10 * MS;
        for _ in 0..300 {
            t += 6 * MS;
            v.queue_full(&p, t);
        }
        assert_eq!(v.p_drop(), u32::MAX, "saturates");
        // BLUE drops regardless of ECN and sojourn.
        let mut pkt = TestPacket::new(0, 1500);
        pkt.ect = true;
        pkt.enqueue_time = t;
        assert!(v.should_drop(&p, t, &mut pkt, 0, 5));
        // Emptiness lowers it by 1/4096 per target.
        let before = v.p_drop();
        assert!(!v.queue_empty(&p, t + 6 * MS));
        assert_eq!(v.p_drop(), before - (1 << 20));
        let mut down = false;
        for _ in 0..5000 {
            t += 6 * MS;
            down |= v.queue_empty(&p, t);
        }
        assert!(down && v.p_drop() == 0);
    }
}
