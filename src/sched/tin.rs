// SPDX-License-Identifier: GPL-2.0
//! One tin as the scheduler keeps it: its packets and flow queueing
//! ([`TinQueue`], with the parameters derived from its rate), its own
//! shaper and its weight. Where the tin waits (eligible ring, calendar or
//! nowhere when idle) is kept by those structures, not here.

use super::shaper::{Rate, Shaper};
use super::tin_queue::{TinParams, TinQueue, TinStats};

/// A tin's state.
pub struct Tin {
    pub(crate) queue: TinQueue,
    pub(crate) params: TinParams,
    pub(crate) shaper: Shaper,
    pub(crate) weight: u16,
    /// Generation of the scheduler-wide settings `params` were derived
    /// from (link rate, COBALT, flow mode, ACK filter); refreshed lazily
    /// when the tin is next used.
    pub(crate) params_epoch: u32,
}

impl Tin {
    /// An idle tin capped at `rate` bytes/s (0 = only the link limits it).
    pub fn new(rate: u64, params: TinParams) -> Tin {
        Tin {
            queue: TinQueue::new(),
            params,
            shaper: Shaper::new(Rate::from_bytes_per_s(rate)),
            weight: 1,
            params_epoch: 0,
        }
    }

    /// The configured cap in bytes/s (0 = none of its own).
    pub fn rate(&self) -> u64 {
        self.shaper.rate().bytes_per_s()
    }

    /// DRR weight (at least 1).
    pub fn weight(&self) -> u16 {
        self.weight
    }

    /// When this tin's shaper lets its next packet go (ns).
    pub fn time_next(&self) -> u64 {
        self.shaper.time_next()
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
