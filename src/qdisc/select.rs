// SPDX-License-Identifier: GPL-2.0
//! Which tin (subscriber host) a packet goes to. In this order:
//!
//! 1. a tc filter attached to the qdisc that names class `H:N` (H the
//!    qdisc's handle): tin N; its actions may also drop or take the packet;
//! 2. `skb->priority` whose major number is the qdisc's handle, minor N:
//!    tin N (what LibreQoS's classifier writes);
//! 3. `fwmark MASK`: tin `(mark & MASK) >> trailing_zeros(MASK)`, if not 0;
//! 4. with `auto dsthost|srchost`, the tin of the packet's host
//!    ([`super::auto_hosts`]);
//! 5. the default tin.
//!
//! Tins are 1-based here as class minors are; a number past `tins` goes to
//! the default tin and is counted as misclassified, a packet nothing placed
//! as unclassified.

use crate::glue::qdisc::{Classified, EnqueueCtx, Filtered};
use crate::glue::skb::SkBuff;

/// Major number bits of a class id or priority.
const MAJOR: u32 = 0xFFFF_0000;
/// Minor number bits.
const MINOR: u32 = 0x0000_FFFF;

/// The selection settings and their counters.
pub(crate) struct Selector {
    /// Number of tins.
    tins: u32,
    /// Default tin, 0-based.
    default_tin: u32,
    /// fwmark mask (0: off) and the shift that brings it down.
    fwmark: u32,
    fwmark_shift: u32,
    /// Packets nothing placed.
    pub(crate) unclassified: u64,
    /// Packets placed in a tin past `tins`.
    pub(crate) misclassified: u64,
}

impl Selector {
    /// For `tins` tins, default tin `default_tin` (1-based) and fwmark
    /// mask `fwmark`.
    pub(crate) fn new(tins: u32, default_tin: u32, fwmark: u32) -> Self {
        let mut s = Self {
            tins: 1,
            default_tin: 0,
            fwmark: 0,
            fwmark_shift: 0,
            unclassified: 0,
            misclassified: 0,
        };
        s.configure(tins, default_tin, fwmark);
        s
    }

    /// New settings; the counters stay.
    pub(crate) fn configure(&mut self, tins: u32, default_tin: u32, fwmark: u32) {
        self.tins = tins.max(1);
        self.default_tin = default_tin.clamp(1, self.tins).saturating_sub(1);
        self.fwmark = fwmark;
        self.fwmark_shift = if fwmark == 0 {
            0
        } else {
            fwmark.trailing_zeros()
        };
    }

    /// The tin (0-based) for class minor or mark value `n` (1-based).
    fn tin(&mut self, n: u32) -> u32 {
        if (1..=self.tins).contains(&n) {
            n.saturating_sub(1)
        } else {
            self.misclassified = self.misclassified.wrapping_add(1);
            self.default_tin
        }
    }

    /// The default tin for a packet nothing placed, counted.
    pub(crate) fn unplaced(&mut self) -> u32 {
        self.unclassified = self.unclassified.wrapping_add(1);
        self.default_tin
    }

    /// Where `skb` goes by filters, priority and fwmark (None: none of
    /// them placed it); `q` runs the filters.
    pub(crate) fn select(
        &mut self,
        q: &mut EnqueueCtx<'_>,
        skb: &mut SkBuff,
    ) -> Classified<Option<u32>> {
        let major = q.handle() & MAJOR;
        match q.filter(skb) {
            Filtered::Shot => return Classified::Shot,
            Filtered::Stolen => return Classified::Stolen,
            Filtered::Class(id) if id & MAJOR == major && id & MINOR != 0 => {
                return Classified::To(Some(self.tin(id & MINOR)));
            }
            Filtered::Class(id) if id != 0 => {
                // Another qdisc's class: not ours to honour.
                self.misclassified = self.misclassified.wrapping_add(1);
                return Classified::To(Some(self.default_tin));
            }
            // A filter that names no class (its actions may have set the
            // priority or mark), or none matched.
            Filtered::Class(_) | Filtered::Nothing => {}
        }
        let prio = skb.priority();
        if prio & MAJOR == major && prio & MINOR != 0 {
            return Classified::To(Some(self.tin(prio & MINOR)));
        }
        if self.fwmark != 0 {
            let v = (skb.mark() & self.fwmark)
                .checked_shr(self.fwmark_shift)
                .unwrap_or(0);
            if v != 0 {
                return Classified::To(Some(self.tin(v)));
            }
        }
        Classified::To(None)
    }
}
