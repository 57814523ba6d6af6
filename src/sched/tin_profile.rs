// SPDX-License-Identifier: GPL-2.0
//! A tin's own profile: what differs about one subscriber's path from the
//! rest. COBALT's rtt and target (a host behind a satellite backhaul needs
//! a longer interval than the qdisc's), and the framing of the host's
//! access line (the overhead, minimum unit and ATM or PTM cells of a DSL
//! line the qdisc's framing does not describe).
//!
//! Every field overrides one of the scheduler's on its own: a tin uses
//! the scheduler's value for any field its profile leaves out, and
//! follows later changes of it. The tin's framing prices its packets for
//! the tin's own shaper and band thresholds; the link shaper keeps
//! charging the scheduler's framing, because the link is the ISP's uplink
//! and the tin the subscriber's line.
//!
//! Profiles live in a [`SharedSettings`] table of [`TIN_PROFILES`]
//! entries; each entry also keeps the framing in force (its fields over
//! the scheduler's), re-derived when the scheduler's framing changes, so
//! the packet path reads it with one lookup.

use super::cobalt::CobaltConfig;
use super::overhead::{Framing, Overhead};
use super::shared_settings::{Shared, SharedSettings, TableFull, SHARED_NONE};

/// Different profiles tins may have at once: a few kinds of access line
/// and backhaul, in combination.
pub const TIN_PROFILES: usize = 32;

/// A tin's profile byte ([`Tin`](super::tin::Tin)'s `profile`): none.
pub(crate) const TIN_PROFILE_NONE: u8 = SHARED_NONE;

/// What a tin overrides; `None` fields are the scheduler's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TinProfile {
    /// COBALT's rtt and target.
    pub cobalt: Option<CobaltConfig>,
    /// Bytes added to each packet (and the MAC header taken off first, as
    /// a configured overhead does for the scheduler).
    pub overhead: Option<i32>,
    /// Least bytes charged for a packet.
    pub mpu: Option<u32>,
    /// Cell framing.
    pub framing: Option<Framing>,
}

impl TinProfile {
    /// Overrides nothing: the tin holds no entry.
    pub fn is_empty(&self) -> bool {
        *self == TinProfile::default()
    }

    /// Are the fields in the ranges the scheduler's own accept?
    pub fn is_valid(&self) -> bool {
        // The default framing is valid: only this profile's fields can fail.
        self.overhead_over(&Overhead::default()).is_valid()
    }

    /// Does it change how packets are priced?
    pub fn has_framing(&self) -> bool {
        self.overhead.is_some() || self.mpu.is_some() || self.framing.is_some()
    }

    /// The tin's COBALT settings over the scheduler's `base`.
    pub fn cobalt_over(&self, base: &CobaltConfig) -> CobaltConfig {
        self.cobalt.unwrap_or(*base)
    }

    /// The tin's framing over the scheduler's `base`.
    pub fn overhead_over(&self, base: &Overhead) -> Overhead {
        Overhead {
            overhead: self.overhead.unwrap_or(base.overhead),
            mpu: self.mpu.unwrap_or(base.mpu),
            framing: self.framing.unwrap_or(base.framing),
            strip_mac: self.overhead.is_some() || base.strip_mac,
        }
    }
}

/// A profile of the table, with the framing it puts in force.
#[derive(Debug, Clone, Copy)]
pub struct ProfileEntry {
    profile: TinProfile,
    /// `profile`'s framing over the scheduler's (see [`TinProfiles::rebase`]).
    overhead: Overhead,
}

/// Entries are the same profile by its fields alone: the framing in force
/// is derived from them.
impl PartialEq for ProfileEntry {
    fn eq(&self, other: &Self) -> bool {
        self.profile == other.profile
    }
}

/// One entry of the table of tins' profiles.
pub type ProfileSlot = Shared<ProfileEntry>;

impl ProfileSlot {
    /// A free entry.
    pub const FREE: ProfileSlot = Shared::free(ProfileEntry {
        profile: TinProfile {
            cobalt: None,
            overhead: None,
            mpu: None,
            framing: None,
        },
        overhead: Overhead {
            overhead: 0,
            mpu: 0,
            framing: Framing::None,
            strip_mac: false,
        },
    });
}

/// Why a profile was refused (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileError {
    /// No such tin.
    NoTin,
    /// A field is out of range.
    Invalid,
    /// [`TIN_PROFILES`] different profiles are held by other tins.
    Full,
}

impl From<TableFull> for ProfileError {
    fn from(_: TableFull) -> Self {
        ProfileError::Full
    }
}

/// The profiles tins have, found by a tin's byte. Changed only by
/// configuration (O([`TIN_PROFILES`])), read per packet.
pub(crate) struct TinProfiles<'a>(pub(crate) &'a mut [ProfileSlot]);

impl TinProfiles<'_> {
    /// The profile of byte `b` (empty for none).
    pub(crate) fn profile(entries: &[ProfileSlot], b: u8) -> TinProfile {
        SharedSettings::get(entries, b).map_or(TinProfile::default(), |e| e.profile)
    }

    /// The framing of byte `b`'s tins if they have one of their own.
    #[inline(always)]
    pub(crate) fn overhead(entries: &[ProfileSlot], b: u8) -> Option<&Overhead> {
        let e = SharedSettings::get(entries, b)?;
        e.profile.has_framing().then_some(&e.overhead)
    }

    /// The byte a tin holding `old` would hold for `new`, changing nothing.
    pub(crate) fn plan(
        entries: &[ProfileSlot],
        old: u8,
        new: &TinProfile,
    ) -> Result<u8, ProfileError> {
        if !new.is_valid() {
            return Err(ProfileError::Invalid);
        }
        if new.is_empty() {
            return Ok(TIN_PROFILE_NONE);
        }
        let probe = ProfileEntry {
            profile: *new,
            overhead: Overhead::default(),
        };
        Ok(SharedSettings::plan(entries, old, &probe)?)
    }

    /// Moves a tin from `old` to `new` over the scheduler's framing `base`;
    /// returns its byte.
    pub(crate) fn set(
        &mut self,
        old: u8,
        new: &TinProfile,
        base: &Overhead,
    ) -> Result<u8, ProfileError> {
        Self::plan(self.0, old, new)?;
        if new.is_empty() {
            self.release(old);
            return Ok(TIN_PROFILE_NONE);
        }
        let entry = ProfileEntry {
            profile: *new,
            overhead: new.overhead_over(base),
        };
        Ok(SharedSettings(&mut *self.0).set(old, entry)?)
    }

    /// One tin less holds byte `b`'s profile.
    pub(crate) fn release(&mut self, b: u8) {
        SharedSettings(&mut *self.0).release(b);
    }

    /// The scheduler's framing is now `base`: every profile's framing in
    /// force follows it.
    pub(crate) fn rebase(&mut self, base: &Overhead) {
        for e in SharedSettings(&mut *self.0).in_use_mut() {
            e.overhead = e.profile.overhead_over(base);
        }
    }
}
