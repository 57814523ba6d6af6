// SPDX-License-Identifier: GPL-2.0
//! One tin (one subscriber host) as the scheduler keeps it: its packets and
//! flow queueing ([`TinQueue`], with the parameters derived from its rate),
//! its own shaper, whether its rate is its own or the scheduler-wide
//! default, its weight, and how often its shaper parked it. Where the tin
//! waits (eligible ring, calendar or nowhere when idle) is kept by those
//! structures, not here.

use super::shaper::{Rate, Shaper};
use super::tin_queue::{TinParams, TinQueue, TinStats};

/// A tin's state.
pub struct Tin {
    pub(crate) queue: TinQueue,
    pub(crate) params: TinParams,
    pub(crate) shaper: Shaper,
    /// Generation of the scheduler-wide settings `params` were derived
    /// from (link rate, COBALT, flow mode, ACK filter); refreshed lazily
    /// when the tin is next used.
    pub(crate) params_epoch: u32,
    pub(crate) weight: u16,
    /// The rate is the scheduler's default tin rate, and follows it.
    pub(crate) follows_default: bool,
    /// Burst meter ([`super::burst`]), ns.
    pub(crate) burst_meter: u64,
    /// The tin's burst setting: the scheduler's, none, or an entry of
    /// the scheduler's table of tins' own ([`super::burst::TinBursts`]).
    pub(crate) burst: u8,
    /// The tin's profile: none, or an entry of the scheduler's table of
    /// tins' own ([`super::tin_profile::TinProfiles`]).
    pub(crate) profile: u8,
}

impl Tin {
    /// An idle tin capped at `rate` bytes/s (0 = only the link limits it),
    /// following the scheduler's default rate.
    pub fn new(rate: u64, params: TinParams) -> Tin {
        Tin {
            queue: TinQueue::new(),
            params,
            shaper: Shaper::new(Rate::from_bytes_per_s(rate)),
            params_epoch: 0,
            weight: 1,
            follows_default: true,
            burst_meter: 0,
            burst: super::burst::TIN_BURST_DEFAULT,
            profile: super::tin_profile::TIN_PROFILE_NONE,
        }
    }

    /// The cap in force in bytes/s (0 = none of its own): its own rate, or
    /// the default tin rate if it follows that.
    pub fn rate(&self) -> u64 {
        self.shaper.rate().bytes_per_s()
    }

    /// Does the tin follow the scheduler's default tin rate
    /// ([`SchedConfig::default_tin_rate`](super::scheduler::SchedConfig::default_tin_rate))
    /// rather than a rate of its own?
    pub fn follows_default_rate(&self) -> bool {
        self.follows_default
    }

    /// DRR weight (at least 1).
    pub fn weight(&self) -> u16 {
        self.weight
    }

    /// When this tin's shaper lets its next packet go (ns).
    pub fn time_next(&self) -> u64 {
        self.shaper.time_next()
    }

    /// Times the tin was parked in the calendar waiting for its own shaper
    /// (wraps at 2^32, like CAKE's counters; kept in its [`TinStats`],
    /// whose padding it fills).
    pub fn throttled(&self) -> u32 {
        self.queue.stats().throttled
    }

    /// Counts one more wait for the tin's own shaper.
    pub(crate) fn count_throttle(&mut self) {
        let st = self.queue.stats_mut();
        st.throttled = st.throttled.wrapping_add(1);
    }

    /// Queueing parameters in force.
    pub fn params(&self) -> &TinParams {
        &self.params
    }

    /// Counters and gauges of the tin's queueing.
    pub fn stats(&self) -> &TinStats {
        self.queue.stats()
    }

    /// Queued bytes.
    pub fn backlog_bytes(&self) -> u64 {
        self.queue.backlog_bytes()
    }

    /// Queued packets.
    pub fn backlog_packets(&self) -> u32 {
        self.queue.backlog_packets()
    }
}
