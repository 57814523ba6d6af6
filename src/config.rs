// SPDX-License-Identifier: GPL-2.0
//! cakemt's configuration: what `tc qdisc add|change ... cakemt` may set,
//! validated from netlink before anything is applied.

use crate::glue::netlink::{ExtAck, Options};
use crate::glue::{TCA_CAKEMT_BASE_RATE64, TCA_CAKEMT_MEMLIMIT};
use kernel::c_str;
use kernel::prelude::*;

/// Smallest explicit memory limit: below one large packet's truesize every
/// packet would be dropped, which is never what an operator meant.
pub(crate) const MEMLIMIT_MIN: u32 = 4096;

/// Default memory limit floor, as CAKE's (4 MiB).
const MEMLIMIT_FLOOR: u32 = 4 << 20;

/// What one netlink message asked for; `None` leaves a setting as it is
/// (`change`) or at its default (`add`).
#[derive(Default)]
pub(crate) struct ConfigChange {
    /// Link rate in bytes per second, 0 = unlimited.
    pub(crate) rate: Option<u64>,
    /// Memory limit in bytes, 0 = automatic.
    pub(crate) memlimit: Option<u32>,
}

impl ConfigChange {
    /// Validates `TCA_OPTIONS`; on error nothing is applied and `ext` says why.
    pub(crate) fn parse(opts: &Options<'_>, ext: &mut ExtAck) -> Result<Self> {
        let mut change = Self::default();
        if let Some(a) = opts.get(TCA_CAKEMT_BASE_RATE64) {
            change.rate = Some(a.u64());
        }
        if let Some(a) = opts.get(TCA_CAKEMT_MEMLIMIT) {
            let v = a.u32();
            if v != 0 && v < MEMLIMIT_MIN {
                return Err(ext.invalid(
                    c_str!("cakemt: memlimit must be 0 (auto) or at least 4096 bytes"),
                    Some(a),
                ));
            }
            change.memlimit = Some(v);
        }
        Ok(change)
    }
}

/// The settings in force.
#[derive(Clone, Copy, Default)]
pub(crate) struct Config {
    /// Link rate in bytes per second, 0 = unlimited.
    pub(crate) rate: u64,
    /// Memory limit as configured, 0 = automatic.
    pub(crate) memlimit: u32,
}

impl Config {
    /// Applies the settings `change` carries.
    pub(crate) fn update(&mut self, change: &ConfigChange) {
        if let Some(r) = change.rate {
            self.rate = r;
        }
        if let Some(m) = change.memlimit {
            self.memlimit = m;
        }
    }

    /// The memory limit in force: as configured, or like CAKE's default four
    /// 100 ms intervals of traffic at the link rate, at least 4 MiB.
    pub(crate) fn effective_memlimit(&self) -> u32 {
        if self.memlimit != 0 {
            return self.memlimit;
        }
        let four_intervals = self.rate / 1000 * 400;
        u32::try_from(four_intervals)
            .unwrap_or(u32::MAX)
            .max(MEMLIMIT_FLOOR)
    }
}
