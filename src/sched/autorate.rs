// SPDX-License-Identifier: GPL-2.0
//! CAKE's `autorate-ingress`: an estimate of the capacity of the link that
//! packets arrive over, for shaping an ingress (an ifb) whose upstream rate
//! varies, as a cable or cellular link's does. The link shaper then runs at
//! 15/16 of the estimate, so the queue stays here and not upstream.
//!
//! As sch_cake: an average of the gaps between arrivals, which rises fast
//! and falls slowly, so the short gaps inside a burst (an aggregate, a GRO
//! train) do not end a window; a gap longer than the average does, and the
//! window's bytes over its length are a sample of the capacity. The
//! estimate follows a higher sample fast (a quarter of the way) and a
//! lower one slowly (1/256): it is a peak, and reads bursty arrivals high.
//! Two differences from sch_cake. A window lasts at least 2 ms: sch_cake's
//! average gap starts at 0, so every gap inside the first burst ended a
//! window of its own, read as the line rate, and took seconds to decay.
//! And the link is re-rated at most every 250 ms, as sch_cake means to
//! (its hold-off time is never updated, so it re-rates after every window).

/// Longest gap between packets counted, ns: an idle link is not slow.
const MAX_GAP_NS: u64 = 1_000_000_000;
/// Shortest window that is a sample, ns.
const MIN_WINDOW_NS: u64 = 2_000_000;
/// Least time between two re-ratings of the link, ns.
const RERATE_NS: u64 = 250_000_000;

/// CAKE's `cake_ewma`: moves `avg` by a 2^-`shift` of the way to `sample`.
fn ewma(avg: u64, sample: u64, shift: u32) -> u64 {
    (avg - (avg >> shift)).saturating_add(sample >> shift)
}

/// `bytes` in `ns` (not 0) as bytes per second, without overflow (and
/// without a 128-bit division, which the kernel lacks).
fn per_second(bytes: u64, ns: u64) -> u64 {
    match bytes.checked_mul(1_000_000_000) {
        Some(b) => b / ns.max(1),
        // Exabytes in a window: microseconds are precise enough.
        None => (bytes / (ns / 1000).max(1)).saturating_mul(1_000_000),
    }
}

/// `x * 15 / 16` without overflow.
fn fifteen_sixteenths(x: u64) -> u64 {
    (x / 16) * 15 + (x % 16) * 15 / 16
}

/// The estimator's state (one per qdisc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityEstimate {
    last_packet: u64,
    avg_gap: u64,
    window_begin: u64,
    window_bytes: u64,
    /// The estimate, bytes/s.
    peak: u64,
    last_rerate: u64,
}

impl CapacityEstimate {
    /// Starts from `rate` bytes/s (the configured bandwidth, 0 if none) at
    /// `now` (ns).
    pub fn new(rate: u64, now: u64) -> Self {
        Self {
            last_packet: now,
            avg_gap: 0,
            window_begin: now,
            window_bytes: 0,
            peak: rate,
            last_rerate: now,
        }
    }

    /// The capacity estimate, bytes/s.
    pub fn estimate(&self) -> u64 {
        self.peak
    }

    /// A packet of `len` bytes arrived at `now`. Returns the link rate to
    /// shape at (15/16 of the estimate, never 0, which means unlimited)
    /// when it is time to re-rate the link. O(1).
    pub fn on_packet(&mut self, len: u32, now: u64) -> Option<u64> {
        self.window_bytes = self.window_bytes.saturating_add(u64::from(len));
        let gap = now.saturating_sub(self.last_packet).min(MAX_GAP_NS);
        let shift = if gap > self.avg_gap { 2 } else { 8 };
        self.avg_gap = ewma(self.avg_gap, gap, shift);
        self.last_packet = now;
        let window = now.saturating_sub(self.window_begin);
        if gap <= self.avg_gap || window < MIN_WINDOW_NS {
            return None;
        }
        // The window ends: its bytes over its length are a sample.
        let sample = per_second(self.window_bytes, window);
        let shift = if sample > self.peak { 2 } else { 8 };
        self.peak = ewma(self.peak, sample, shift);
        self.window_bytes = 0;
        self.window_begin = now;
        if now.saturating_sub(self.last_rerate) < RERATE_NS {
            return None;
        }
        let rate = fifteen_sixteenths(self.peak);
        if rate == 0 {
            return None;
        }
        self.last_rerate = now;
        Some(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `ms` milliseconds of `rate` bytes/s in trains of `train`
    /// back-to-back packets of 1500 bytes (1 us apart), a train every
    /// 1500 * train / rate seconds, give or take 2% (arrivals are never
    /// exactly regular; if they were, no gap would ever be above the
    /// average, in sch_cake too); returns the time after and the last
    /// re-rating.
    fn feed(
        e: &mut CapacityEstimate,
        start: u64,
        ms: u64,
        rate: u64,
        train: u64,
    ) -> (u64, Option<u64>) {
        let period = 1500 * train * 1_000_000_000 / rate;
        let (mut t, mut last, mut n) = (start, None, 0u64);
        while t < start + ms * 1_000_000 {
            for i in 0..train {
                if let Some(r) = e.on_packet(1500, t + i * 1000) {
                    last = Some(r);
                }
            }
            n += 1;
            t += if n % 2 == 0 {
                period * 102 / 100
            } else {
                period * 98 / 100
            };
        }
        (t, last)
    }

    #[test]
    fn converges_to_a_steady_arrival_rate() {
        for rate in [125_000u64, 1_250_000, 12_500_000, 125_000_000] {
            // From nothing it rises to the rate within 3%.
            let mut e = CapacityEstimate::new(0, 0);
            let (_, r) = feed(&mut e, 0, 10_000, rate, 1);
            let est = e.estimate();
            assert!(
                est.abs_diff(rate) * 100 <= rate * 3,
                "{rate} from 0: estimate {est}"
            );
            let r = r.expect("re-rated");
            assert!(
                r <= fifteen_sixteenths(est) * 103 / 100
                    && r * 103 / 100 >= fifteen_sixteenths(est)
            );
            // From twice the rate (the bandwidth configured too high) it
            // falls 1/256 of the way per window: at 83 packets a second,
            // 40 windows, most of the way in 10 s; at more, all of it.
            let mut e = CapacityEstimate::new(2 * rate, 0);
            feed(&mut e, 0, 10_000, rate, 1);
            let est = e.estimate();
            let slack = if rate < 1_000_000 { 25 } else { 3 };
            assert!(
                est >= rate * 97 / 100 && est <= rate * (100 + slack) / 100,
                "{rate} from twice: {est}"
            );
        }
    }

    #[test]
    fn trains_count_as_their_average_rate() {
        // Aggregates of 8 packets (a wifi or GRO train) still measure the
        // rate they arrive at on average, not the train's line rate.
        let rate = 2_500_000;
        let mut e = CapacityEstimate::new(0, 0);
        feed(&mut e, 0, 10_000, rate, 8);
        let est = e.estimate();
        assert!(est.abs_diff(rate) * 100 <= rate * 10, "estimate {est}");
    }

    #[test]
    fn follows_a_falling_and_a_rising_rate() {
        let mut e = CapacityEstimate::new(12_500_000, 0);
        let (t, _) = feed(&mut e, 0, 5_000, 12_500_000, 1);
        // A quarter of the rate: after 100 ms the estimate has fallen
        // less than a third of the way, after 3 s it is there.
        let (t, _) = feed(&mut e, t, 100, 3_125_000, 1);
        let early = e.estimate();
        assert!(early > 9_000_000, "after 100 ms at a quarter: {early}");
        let (t, _) = feed(&mut e, t, 3_000, 3_125_000, 1);
        assert!(
            e.estimate() * 100 <= 3_125_000 * 105,
            "after 3 s: {}",
            e.estimate()
        );
        // Back up: once the average gap has come down to the new gaps
        // (1/256 a packet: 150 ms here) windows end again, and the
        // estimate is there within a few of them.
        let (t, _) = feed(&mut e, t, 100, 12_500_000, 1);
        assert!(e.estimate() < 6_000_000, "100 ms back: {}", e.estimate());
        feed(&mut e, t, 200, 12_500_000, 1);
        assert!(
            e.estimate() * 100 >= 12_500_000 * 97,
            "300 ms back at the rate: {}",
            e.estimate()
        );
    }

    #[test]
    fn rerates_at_most_every_250_ms() {
        let mut e = CapacityEstimate::new(1_000_000, 0);
        let (mut t, mut rerates) = (0u64, 0u32);
        // One packet every 2 ms with a long gap every 10: many windows.
        for i in 0..2_000u64 {
            t += if i % 10 == 0 { 5_000_000 } else { 2_000_000 };
            if e.on_packet(1500, t).is_some() {
                rerates += 1;
            }
        }
        let max = (t / RERATE_NS) as u32;
        assert!(
            rerates >= 1 && rerates <= max,
            "{rerates} re-ratings in {t} ns"
        );
    }

    #[test]
    fn per_second_does_not_overflow() {
        assert_eq!(per_second(1500, 1_000_000), 1_500_000);
        // 1.8e16 bytes in a second, to the microsecond.
        assert_eq!(
            per_second(u64::MAX / 1000, 1_000_000_000),
            18_446_744_073_000_000
        );
        assert_eq!(per_second(u64::MAX, 1), u64::MAX);
    }

    #[test]
    fn never_asks_for_rate_zero() {
        let mut e = CapacityEstimate::new(0, 0);
        // Two packets at the same instant, then nothing measurable.
        assert_eq!(e.on_packet(0, 0), None);
        assert_eq!(e.on_packet(0, 0), None);
        for t in 1..100u64 {
            assert_ne!(e.on_packet(0, t * 300_000_000), Some(0));
        }
    }
}
