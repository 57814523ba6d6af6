// SPDX-License-Identifier: GPL-2.0
//! The deficit-style `time_next_packet` shaper of CAKE, used for the link and
//! for every tin.
//!
//! A shaper remembers when its next packet may leave. Sending a packet moves
//! that time forward by the packet's serialisation time at the configured
//! rate, so the rate holds over any number of packets without token-bucket
//! arithmetic. Time per byte is a fixed-point reciprocal (2^-32 ns units)
//! computed once per rate change with a u64 division, and the fractional
//! nanoseconds are carried from packet to packet, so small packets at 10 Gbit
//! are not rounded away. No floating point, no u128 division.

/// Nanoseconds per second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Fraction bits of [`Rate`]'s time per byte.
const FRAC_BITS: u32 = 32;

/// A byte rate and its reciprocal. Rate 0 means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    /// Bytes per second; 0 = unlimited.
    bytes_per_s: u64,
    /// Nanoseconds per byte in 2^-32 ns units, rounded up so the shaper
    /// never exceeds the rate; 0 = unlimited.
    ns_per_byte_fp: u64,
}

impl Rate {
    /// No limit at all.
    pub const UNLIMITED: Rate = Rate {
        bytes_per_s: 0,
        ns_per_byte_fp: 0,
    };

    /// A rate of `bytes_per_s` bytes per second (0 = unlimited).
    pub const fn from_bytes_per_s(bytes_per_s: u64) -> Rate {
        if bytes_per_s == 0 {
            return Rate::UNLIMITED;
        }
        // 1e9 << 32 < 2^62: the numerator fits in u64.
        let num = NSEC_PER_SEC << FRAC_BITS;
        let q = num / bytes_per_s;
        let ns_per_byte_fp = if num % bytes_per_s == 0 { q } else { q + 1 };
        Rate {
            bytes_per_s,
            ns_per_byte_fp,
        }
    }

    /// Bytes per second (0 = unlimited).
    pub const fn bytes_per_s(&self) -> u64 {
        self.bytes_per_s
    }

    /// Is this the unlimited rate?
    pub const fn is_unlimited(&self) -> bool {
        self.ns_per_byte_fp == 0
    }

    /// Serialisation time of `len` bytes, in 2^-32 ns units (saturating).
    fn duration_fp(&self, len: u64) -> u128 {
        // u64 x u64 always fits in u128.
        u128::from(len) * u128::from(self.ns_per_byte_fp)
    }

    /// Serialisation time of `len` bytes in whole nanoseconds, rounded down,
    /// saturating at `u64::MAX`.
    pub fn duration_ns(&self, len: u64) -> u64 {
        u64::try_from(self.duration_fp(len) >> FRAC_BITS).unwrap_or(u64::MAX)
    }

    /// Bytes this rate sends in `ns` nanoseconds (rounded down, saturating).
    pub fn bytes_in(&self, ns: u64) -> u64 {
        if self.is_unlimited() {
            return u64::MAX;
        }
        match ns.checked_mul(self.bytes_per_s) {
            Some(p) => p / NSEC_PER_SEC,
            // ns * rate >= 2^64 means ns >= 2^64 / rate: split the product.
            None => (ns / NSEC_PER_SEC)
                .saturating_mul(self.bytes_per_s)
                .saturating_add(
                    (ns % NSEC_PER_SEC).saturating_mul(self.bytes_per_s) / NSEC_PER_SEC,
                ),
        }
    }
}

/// One `time_next_packet` shaper.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shaper {
    /// Earliest time (ns) the next packet may start.
    next_ns: u64,
    /// Fractional part of `next_ns`, in 2^-32 ns.
    next_frac: u32,
    /// The rate being enforced.
    rate: Rate,
}

impl Shaper {
    /// An unlimited shaper (`rate` 0) or one enforcing `rate`, able to send
    /// at once.
    pub const fn new(rate: Rate) -> Shaper {
        Shaper {
            next_ns: 0,
            next_frac: 0,
            rate,
        }
    }

    /// The rate being enforced.
    pub const fn rate(&self) -> Rate {
        self.rate
    }

    /// Earliest time the next packet may start (meaningless if unlimited).
    pub const fn time_next(&self) -> u64 {
        self.next_ns
    }

    /// May a packet start at `now`?
    pub const fn allows(&self, now: u64) -> bool {
        self.rate.is_unlimited() || self.next_ns <= now
    }

    /// When a packet may next start: `None` if now (or unlimited).
    pub const fn wait_until(&self, now: u64) -> Option<u64> {
        if self.allows(now) {
            None
        } else {
            Some(self.next_ns)
        }
    }

    /// The shaped queue went from empty to backlogged at `now`: an idle
    /// period earns no credit (CAKE resets `time_next_packet` likewise).
    pub fn restart(&mut self, now: u64) {
        if self.next_ns < now {
            self.next_ns = now;
            self.next_frac = 0;
        }
    }

    /// Charges `len` bytes sent at `now`. While busy the schedule advances
    /// from the previous due time, not from `now`, so late wake-ups (timer
    /// slack, calendar slots) do not cost rate; `max_lag_ns` bounds how far
    /// behind `now` the schedule may fall, i.e. the burst a queue that was
    /// held back by others can later send.
    pub fn charge(&mut self, len: u32, now: u64, max_lag_ns: u64) {
        self.charge_at(self.rate, len, now, max_lag_ns);
    }

    /// [`Self::charge`] at `rate` instead of the shaper's own (a burst).
    pub fn charge_at(&mut self, rate: Rate, len: u32, now: u64, max_lag_ns: u64) {
        if rate.is_unlimited() {
            return;
        }
        let floor = now.saturating_sub(max_lag_ns);
        if self.next_ns < floor {
            self.next_ns = floor;
            self.next_frac = 0;
        }
        let t = (u128::from(self.next_ns) << FRAC_BITS)
            + u128::from(self.next_frac)
            + rate.duration_fp(u64::from(len));
        // Truncation to u32 keeps exactly the fraction bits.
        self.next_frac = t as u32;
        self.next_ns = u64::try_from(t >> FRAC_BITS).unwrap_or(u64::MAX);
    }

    /// Changes the rate at `now` without losing the time base: whatever
    /// the previous packets still owe (time until `time_next`) is converted
    /// to bytes at the old rate and re-priced at the new one. A packet in
    /// flight is thus neither forgiven nor charged twice.
    pub fn set_rate(&mut self, rate: Rate, now: u64) {
        let old = self.rate;
        self.rate = rate;
        if self.next_ns <= now || old.is_unlimited() {
            return;
        }
        if rate.is_unlimited() {
            self.next_ns = now;
            self.next_frac = 0;
            return;
        }
        let owed = old.bytes_in(self.next_ns - now).min(u64::from(u32::MAX));
        self.next_ns = now;
        self.next_frac = 0;
        // `owed` fits in u32 by the min above.
        self.charge(owed as u32, now, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_rounds_up() {
        let r = Rate::from_bytes_per_s(1_250_000_000); // 10 Gbit/s
        assert_eq!(r.duration_ns(1500), 1200);
        assert_eq!(r.duration_ns(1_250_000_000), NSEC_PER_SEC);
        let r = Rate::from_bytes_per_s(3);
        // 1/3 s per byte, rounded up: 3 bytes take at least a second.
        assert!(r.duration_ns(3) >= NSEC_PER_SEC);
        assert!(r.duration_ns(3) < NSEC_PER_SEC + 1);
        assert_eq!(
            Rate::from_bytes_per_s(1).duration_ns(u64::from(u32::MAX)),
            u64::from(u32::MAX) * NSEC_PER_SEC
        );
        assert!(Rate::from_bytes_per_s(0).is_unlimited());
        // The fastest rate still costs a little (rounded up, not to zero).
        assert!(!Rate::from_bytes_per_s(u64::MAX).is_unlimited());
        assert_eq!(Rate::from_bytes_per_s(u64::MAX).duration_ns(1 << 32), 1);
        assert_eq!(Rate::from_bytes_per_s(0).duration_ns(1 << 40), 0);
    }

    #[test]
    fn bytes_in_inverts_duration() {
        let r = Rate::from_bytes_per_s(125_000); // 1 Mbit/s
        assert_eq!(r.bytes_in(NSEC_PER_SEC), 125_000);
        assert_eq!(r.bytes_in(12_000_000), 1500);
        let fast = Rate::from_bytes_per_s(u64::MAX / 2);
        assert_eq!(fast.bytes_in(u64::MAX), u64::MAX);
        assert_eq!(Rate::UNLIMITED.bytes_in(1), u64::MAX);
    }

    #[test]
    fn small_packets_keep_fractions() {
        // 64-byte packets at 10 Gbit/s take 51.2 ns each: rounding each one
        // down would send 0.4% too fast, carrying the fraction does not.
        let mut s = Shaper::new(Rate::from_bytes_per_s(1_250_000_000));
        for _ in 0..1_000_000 {
            let now = s.time_next();
            s.charge(64, now, 0);
        }
        assert_eq!(s.time_next(), 51_200_000);
    }

    #[test]
    fn schedule_survives_late_wakeups_within_lag() {
        let mut s = Shaper::new(Rate::from_bytes_per_s(125_000));
        s.restart(1000);
        // Every wake-up is 50 us late; the schedule still advances by 12 ms.
        let mut now = 1000;
        for _ in 0..100 {
            assert!(s.allows(now));
            s.charge(1500, now, 1_000_000);
            now = s.time_next() + 50_000;
        }
        assert_eq!(s.time_next(), 1000 + 100 * 12_000_000);
    }

    #[test]
    fn lag_bounds_the_burst() {
        let mut s = Shaper::new(Rate::from_bytes_per_s(125_000));
        s.restart(0);
        s.charge(1500, 0, 1_000_000);
        // Held back for a second: only 1 ms of credit survives.
        let now = 1_000_000_000;
        s.charge(1500, now, 1_000_000);
        assert_eq!(s.time_next(), now - 1_000_000 + 12_000_000);
    }

    #[test]
    fn restart_forgets_idle_time_only() {
        let mut s = Shaper::new(Rate::from_bytes_per_s(1000));
        s.restart(5);
        assert_eq!(s.time_next(), 5);
        s.charge(1, 5, 0);
        assert_eq!(s.time_next(), 5 + 1_000_000);
        // Not yet due: restart must not shorten the wait.
        s.restart(10);
        assert_eq!(s.time_next(), 5 + 1_000_000);
        assert!(!s.allows(10));
        assert_eq!(s.wait_until(10), Some(1_000_005));
        assert_eq!(s.wait_until(1_000_005), None);
    }

    #[test]
    fn unlimited_never_waits() {
        let mut s = Shaper::new(Rate::UNLIMITED);
        s.charge(u32::MAX, 0, 0);
        assert!(s.allows(0));
        assert_eq!(s.wait_until(0), None);
    }

    #[test]
    fn rerate_reprices_what_is_owed() {
        let mut s = Shaper::new(Rate::from_bytes_per_s(125_000));
        s.restart(0);
        s.charge(1500, 0, 0); // due at 12 ms
                              // Half way through, the rate doubles: 750 bytes are still owed,
                              // which take 3 ms at the new rate.
        s.set_rate(Rate::from_bytes_per_s(250_000), 6_000_000);
        assert_eq!(s.time_next(), 9_000_000);
        // Halving the rate doubles the remaining wait.
        s.set_rate(Rate::from_bytes_per_s(125_000), 8_000_000);
        assert_eq!(s.time_next(), 10_000_000);
        // Unlimited forgives the rest; a limited rate after that starts fresh.
        s.set_rate(Rate::UNLIMITED, 9_000_000);
        assert!(s.allows(9_000_000));
        s.set_rate(Rate::from_bytes_per_s(125_000), 9_000_000);
        assert!(s.allows(9_000_000));
        // Re-rating a shaper that is already due changes nothing but the rate.
        s.set_rate(Rate::from_bytes_per_s(1), 9_000_001);
        assert!(s.allows(9_000_001));
        assert_eq!(s.rate().bytes_per_s(), 1);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let mut s = Shaper::new(Rate::from_bytes_per_s(1));
        s.restart(u64::MAX - 10);
        s.charge(u32::MAX, u64::MAX - 10, 0);
        assert_eq!(s.time_next(), u64::MAX);
        // Owed bytes are capped at u32::MAX, re-priced at 2 B/s.
        s.set_rate(Rate::from_bytes_per_s(2), 0);
        assert_eq!(s.time_next(), u64::from(u32::MAX) * (NSEC_PER_SEC / 2));
    }
}
