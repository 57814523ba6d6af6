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
use super::shared_settings::{Shared, SharedSettings, SHARED_NONE};

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
        let excess =
            Rate::from_bytes_per_s(cfg.rate.saturating_sub(cfg.threshold)).bytes_in(cfg.time_ns);
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

/// A tin's own burst setting, which overrides the scheduler's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TinBurst {
    /// The scheduler's bursts, if the tin follows the default tin rate.
    Default,
    /// Never bursts.
    Off,
    /// Bursts of its own, whatever its rate.
    Own(BurstConfig),
}

/// Why a tin's burst setting was refused (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurstError {
    /// No such tin.
    NoTin,
    /// The burst rate is not above its threshold, or the time is 0.
    Invalid,
    /// [`TIN_BURSTS`] different bursts are in use by other tins already.
    Full,
}

/// Different bursts tins may have of their own at once: a few service
/// plans' worth. Tins with the same burst share one entry, so a table
/// this small serves any number of tins, and each tin needs a byte.
pub const TIN_BURSTS: usize = 16;

/// A tin's burst byte ([`Tin`](super::tin::Tin)'s `burst`): the
/// scheduler's, none, or an entry of the table of tins' own.
pub(crate) const TIN_BURST_DEFAULT: u8 = SHARED_NONE;
pub(crate) const TIN_BURST_OFF: u8 = u8::MAX;

/// A burst of the table: as configured, and as the data path uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnBurst {
    cfg: BurstConfig,
    burst: Option<Burst>,
}

impl OwnBurst {
    fn new(cfg: &BurstConfig) -> Self {
        OwnBurst {
            cfg: *cfg,
            burst: Burst::new(cfg),
        }
    }
}

/// One entry of the table of tins' own bursts.
pub type BurstEntry = Shared<OwnBurst>;

impl BurstEntry {
    /// A free entry.
    pub const FREE: BurstEntry = Shared::free(OwnBurst {
        cfg: BurstConfig {
            rate: 0,
            threshold: 0,
            time_ns: 0,
        },
        burst: None,
    });
}

/// The bursts tins have of their own, found by a tin's byte. Changed only
/// by configuration (O([`TIN_BURSTS`])), read per packet.
pub(crate) struct TinBursts<'a>(pub(crate) &'a mut [BurstEntry]);

impl TinBursts<'_> {
    /// The burst of byte `b` (None for default, off or a free entry).
    pub(crate) fn get(entries: &[BurstEntry], b: u8) -> Option<Burst> {
        SharedSettings::get(entries, b).and_then(|e| e.burst)
    }

    /// The setting byte `b` stands for.
    pub(crate) fn setting(entries: &[BurstEntry], b: u8) -> TinBurst {
        match b {
            TIN_BURST_OFF => TinBurst::Off,
            _ => match SharedSettings::get(entries, b) {
                Some(e) => TinBurst::Own(e.cfg),
                None => TinBurst::Default,
            },
        }
    }

    /// The byte a tin now holding `old` would hold for `new`, without
    /// changing anything (see [`SharedSettings::plan`]).
    pub(crate) fn plan(entries: &[BurstEntry], old: u8, new: &TinBurst) -> Result<u8, BurstError> {
        match new {
            TinBurst::Default => Ok(TIN_BURST_DEFAULT),
            TinBurst::Off => Ok(TIN_BURST_OFF),
            TinBurst::Own(cfg) if !cfg.is_valid() => Err(BurstError::Invalid),
            TinBurst::Own(cfg) => SharedSettings::plan(entries, old, &OwnBurst::new(cfg))
                .map_err(|_| BurstError::Full),
        }
    }

    /// Moves a tin from byte `old` to the byte [`plan`](Self::plan) gave
    /// for `new`; returns it.
    pub(crate) fn set(&mut self, old: u8, new: &TinBurst) -> Result<u8, BurstError> {
        let b = Self::plan(self.0, old, new)?;
        match new {
            TinBurst::Own(cfg) => SharedSettings(&mut *self.0)
                .set(old, OwnBurst::new(cfg))
                .map_err(|_| BurstError::Full),
            _ => {
                self.release(old);
                Ok(b)
            }
        }
    }

    /// One tin less uses byte `b`'s entry.
    pub(crate) fn release(&mut self, b: u8) {
        SharedSettings(&mut *self.0).release(b);
    }

    /// Tins using each entry, for checks.
    #[cfg(test)]
    pub(crate) fn users(&self) -> impl Iterator<Item = u32> + '_ {
        SharedSettings::users(self.0)
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

    fn own(rate: u64) -> TinBurst {
        TinBurst::Own(BurstConfig {
            rate,
            threshold: 1_000,
            time_ns: MS,
        })
    }

    #[test]
    fn tins_share_equal_bursts_and_give_entries_back() {
        let mut entries = [BurstEntry::FREE; 2];
        let mut t = TinBursts(&mut entries);
        // Three tins, two different bursts: two entries.
        let a = t.set(TIN_BURST_DEFAULT, &own(2_000)).unwrap();
        let b = t.set(TIN_BURST_DEFAULT, &own(2_000)).unwrap();
        let c = t.set(TIN_BURST_OFF, &own(3_000)).unwrap();
        assert_eq!((a, b), (1, 1));
        assert_eq!(c, 2);
        assert!(t.users().eq([2, 1]));
        // Full: a third burst is refused, and changes nothing.
        assert_eq!(
            TinBursts::plan(t.0, TIN_BURST_DEFAULT, &own(4_000)),
            Err(BurstError::Full)
        );
        // The only user of an entry may change it in place, even when full.
        assert_eq!(t.set(c, &own(4_000)), Ok(2));
        assert_eq!(TinBursts::setting(t.0, 2), own(4_000));
        // A shared entry is not changed under its other user: tin a
        // leaves it (to off), then b, the last user, may change it.
        assert_eq!(TinBursts::plan(t.0, b, &own(5_000)), Err(BurstError::Full));
        assert_eq!(t.set(a, &TinBurst::Off), Ok(TIN_BURST_OFF));
        assert_eq!(t.set(b, &own(5_000)), Ok(1));
        assert!(t.users().eq([1, 1]));
        // Back to the default: the entry is free again.
        assert_eq!(t.set(1, &TinBurst::Default), Ok(TIN_BURST_DEFAULT));
        assert!(t.users().eq([0, 1]));
        assert_eq!(TinBursts::get(t.0, 1), None);
        assert_eq!(TinBursts::setting(t.0, 1), TinBurst::Default);
        // An invalid burst is refused before anything else.
        assert_eq!(
            t.set(TIN_BURST_DEFAULT, &own(1_000)),
            Err(BurstError::Invalid)
        );
        assert!(t.users().eq([0, 1]));
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
