// SPDX-License-Identifier: GPL-2.0
//! Bursts, as MikroTik PCQ users know them: a tin (subscriber host) may send
//! faster than its rate, at the burst rate, for the burst time, and then
//! goes back to its rate; its credit comes back while it sends below the
//! threshold rate.
//!
//! The meter is one clock per tin, like a shaper's at the threshold rate:
//! every byte sent moves it on by its time at the threshold, and it never
//! falls behind `now` (idle time earns no more than a full allowance). The
//! tin is bursting while the clock is less than the allowance ahead of
//! `now`; the allowance is the time a burst at the burst rate takes to get
//! there, `time * (burst - threshold) / threshold`, so a host that was quiet
//! long enough bursts for exactly `time`. With the threshold at the tin's
//! rate, a host that keeps sending stays at its rate after the burst.

use super::shaper::Rate;

/// Burst settings, bytes per second and nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstConfig {
    /// Rate while bursting.
    pub rate: u64,
    /// Rate below which credit comes back.
    pub threshold: u64,
    /// How long a full burst lasts at `rate`.
    pub time_ns: u64,
}

impl BurstConfig {
    /// Is this a burst that can happen (a burst rate above a threshold)?
    pub fn is_valid(&self) -> bool {
        self.threshold > 0 && self.rate > self.threshold && self.time_ns > 0
    }
}

/// What the scheduler derives from [`BurstConfig`] once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// The burst rate.
    pub rate: Rate,
    threshold: Rate,
    /// How far ahead of `now` the meter may be while the tin bursts, ns.
    allowance_ns: u64,
}

impl Burst {
    /// The burst for `cfg`, if it is valid.
    pub fn new(cfg: &BurstConfig) -> Option<Burst> {
        if !cfg.is_valid() {
            return None;
        }
        let threshold = Rate::from_bytes_per_s(cfg.threshold);
        // Bytes the burst sends beyond the threshold in `time`, priced at
        // the threshold rate.
        let excess = Rate::from_bytes_per_s(cfg.rate - cfg.threshold).bytes_in(cfg.time_ns);
        Some(Burst {
            rate: Rate::from_bytes_per_s(cfg.rate),
            threshold,
            allowance_ns: threshold.duration_ns(excess),
        })
    }

    /// May a tin whose meter reads `meter` burst at `now`?
    pub fn allows(&self, meter: u64, now: u64) -> bool {
        meter.saturating_sub(now) < self.allowance_ns
    }

    /// The meter after `len` bytes sent at `now`.
    pub fn charge(&self, meter: u64, len: u32, now: u64) -> u64 {
        meter
            .max(now)
            .saturating_add(self.threshold.duration_ns(u64::from(len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_quiet_host_bursts_for_the_burst_time() {
        // 2 MB/s burst, 1 MB/s threshold, 100 ms: 1500-byte packets at
        // the burst rate go every 0.75 ms, and the burst ends at 100 ms.
        let b = Burst::new(&BurstConfig {
            rate: 2_000_000,
            threshold: 1_000_000,
            time_ns: 100 * MS,
        })
        .unwrap();
        let (mut meter, mut now, mut sent) = (0u64, 0u64, 0u64);
        while b.allows(meter, now) {
            meter = b.charge(meter, 1500, now);
            sent += 1500;
            now += b.rate.duration_ns(1500);
        }
        assert!((99 * MS..=101 * MS).contains(&now), "burst lasted {now} ns");
        assert!((198_000..=202_000).contains(&sent), "burst sent {sent}");
        // Credit comes back at the threshold: with the burst rate twice
        // the threshold, half the burst time quiet gives half a burst.
        now += 50 * MS;
        let start = now;
        while b.allows(meter, now) {
            meter = b.charge(meter, 1500, now);
            now += b.rate.duration_ns(1500);
        }
        let again = now - start;
        assert!(
            (49 * MS..=51 * MS).contains(&again),
            "second burst {again} ns"
        );
    }

    #[test]
    fn no_burst_without_a_rate_above_the_threshold() {
        let mut c = BurstConfig {
            rate: 1_000,
            threshold: 1_000,
            time_ns: MS,
        };
        assert_eq!(Burst::new(&c), None);
        c.rate = 2_000;
        c.time_ns = 0;
        assert_eq!(Burst::new(&c), None);
    }
}
