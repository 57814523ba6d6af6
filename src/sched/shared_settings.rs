// SPDX-License-Identifier: GPL-2.0
//! A small table of settings that tins have of their own, shared by every
//! tin with the same one: a service plan's burst, a kind of access line.
//! Operators give thousands of tins a handful of distinct settings, so a
//! table of a few entries serves any number of tins, each holding one byte:
//! 0 for none (the scheduler's), `i + 1` for entry `i`. Bytes past the
//! table also mean none, so a user of the table may give some (such as
//! `u8::MAX`) a meaning of its own.
//!
//! The table is allocated with the scheduler; changing a tin's entry is
//! O(entries), with no allocation, and refused, changing nothing, when the
//! table holds that many other settings already.

/// A tin's byte for "none of its own".
pub(crate) const SHARED_NONE: u8 = 0;

/// One setting of the table and how many tins hold it (0: free).
#[derive(Debug, Clone, Copy)]
pub struct Shared<T> {
    value: T,
    users: u32,
}

impl<T: Copy> Shared<T> {
    /// A free entry; `value` is never read while it is free.
    pub const fn free(value: T) -> Self {
        Shared { value, users: 0 }
    }
}

/// The table is full of other settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

/// The entry of byte `b`, if `b` names one.
fn index(b: u8) -> Option<usize> {
    usize::from(b).checked_sub(1)
}

/// The byte of entry `i`.
fn byte(i: usize) -> Result<u8, TableFull> {
    u8::try_from(i + 1).map_err(|_| TableFull)
}

/// The table, for changes and lookups.
pub(crate) struct SharedSettings<'a, T>(pub(crate) &'a mut [Shared<T>]);

impl<T: Copy + PartialEq> SharedSettings<'_, T> {
    /// The setting byte `b` stands for (None: none, or a free entry).
    pub(crate) fn get(entries: &[Shared<T>], b: u8) -> Option<&T> {
        let e = entries.get(index(b)?)?;
        (e.users > 0).then_some(&e.value)
    }

    /// The byte a tin now holding `old` would hold for `new`, changing
    /// nothing: the entry that has `new` already, the tin's own entry if
    /// it is its only user (changed in place), or a free one.
    pub(crate) fn plan(entries: &[Shared<T>], old: u8, new: &T) -> Result<u8, TableFull> {
        if let Some(i) = entries.iter().position(|e| e.users > 0 && e.value == *new) {
            return byte(i);
        }
        if let Some(i) = index(old).filter(|&i| entries.get(i).is_some_and(|e| e.users == 1)) {
            return byte(i);
        }
        match entries.iter().position(|e| e.users == 0) {
            Some(i) => byte(i),
            None => Err(TableFull),
        }
    }

    /// Moves a tin from byte `old` to the byte [`plan`](Self::plan) gives
    /// for `new`, and returns it.
    pub(crate) fn set(&mut self, old: u8, new: T) -> Result<u8, TableFull> {
        let b = Self::plan(self.0, old, &new)?;
        if b != old {
            self.release(old);
        }
        if let Some(e) = index(b).and_then(|i| self.0.get_mut(i)) {
            // A free entry, one with `new` already, or the tin's own.
            e.value = new;
            if b != old {
                e.users = e.users.saturating_add(1);
            }
        }
        Ok(b)
    }

    /// One tin less holds byte `b`'s entry (none for other bytes).
    pub(crate) fn release(&mut self, b: u8) {
        if let Some(e) = index(b).and_then(|i| self.0.get_mut(i)) {
            e.users = e.users.saturating_sub(1);
        }
    }

    /// Every setting in use, to re-derive what depends on the scheduler's.
    pub(crate) fn in_use_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.0
            .iter_mut()
            .filter(|e| e.users > 0)
            .map(|e| &mut e.value)
    }

    /// Tins holding each entry, for checks.
    #[cfg(test)]
    pub(crate) fn users(entries: &[Shared<T>]) -> impl Iterator<Item = u32> + '_ {
        entries.iter().map(|e| e.users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_settings_share_an_entry_and_free_entries_are_reused() {
        let mut entries = [Shared::free(0u32); 2];
        let mut t = SharedSettings(&mut entries);
        // Three tins, two settings: two entries.
        let a = t.set(SHARED_NONE, 7).unwrap();
        let b = t.set(SHARED_NONE, 7).unwrap();
        let c = t.set(u8::MAX, 9).unwrap();
        assert_eq!((a, b, c), (1, 1, 2));
        assert!(SharedSettings::users(t.0).eq([2, 1]));
        // Full: a third setting is refused, and changes nothing.
        assert_eq!(SharedSettings::plan(t.0, SHARED_NONE, &5), Err(TableFull));
        assert!(SharedSettings::users(t.0).eq([2, 1]));
        // The only holder of an entry changes it in place, even when full.
        assert_eq!(t.set(c, 5), Ok(2));
        assert_eq!(SharedSettings::get(t.0, 2), Some(&5));
        // A shared entry is not changed under its other holder.
        assert_eq!(SharedSettings::plan(t.0, b, &6), Err(TableFull));
        t.release(a);
        assert_eq!(t.set(b, 6), Ok(1), "the last holder may change it");
        // Released by all: free, and read as none.
        t.release(1);
        assert!(SharedSettings::users(t.0).eq([0, 1]));
        assert_eq!(SharedSettings::get(t.0, 1), None);
        assert_eq!(SharedSettings::get(t.0, SHARED_NONE), None);
        assert_eq!(SharedSettings::get(t.0, u8::MAX), None);
        t.release(u8::MAX);
        assert!(
            SharedSettings::users(t.0).eq([0, 1]),
            "bytes past the table hold nothing"
        );
        for v in t.in_use_mut() {
            *v += 1;
        }
        assert_eq!(SharedSettings::get(t.0, 2), Some(&6));
    }
}
