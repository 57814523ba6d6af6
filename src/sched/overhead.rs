// SPDX-License-Identifier: GPL-2.0
//! Overhead compensation: the length a packet really costs on the link.
//!
//! The shapers must charge what the bottleneck link carries, not what the
//! kernel measured: a fixed per-packet overhead (framing, possibly negative to
//! remove headers the link does not carry), a minimum packet unit, and the
//! cell framing of ATM (48 payload bytes per 53-byte cell) or PTM (64/65
//! encoding). This mirrors `cake_calc_overhead` in `sch_cake.c`, except that
//! results saturate instead of wrapping.

/// Cell framing of the bottleneck link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Framing {
    /// No cell framing (Ethernet, most links).
    #[default]
    None,
    /// ATM/AAL5: every started 48-byte payload costs a 53-byte cell (ADSL).
    Atm,
    /// PTM 64/65 encoding: one byte per started 64 bytes (VDSL2).
    Ptm,
}

/// Smallest per-packet overhead accepted (as tc-cake).
pub const OVERHEAD_MIN: i32 = -64;
/// Largest per-packet overhead accepted (as tc-cake).
pub const OVERHEAD_MAX: i32 = 256;
/// Largest minimum packet unit accepted (as tc-cake).
pub const MPU_MAX: u32 = 256;

/// Overhead compensation settings; the default charges packets as measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overhead {
    /// Bytes added to every packet, [`OVERHEAD_MIN`]..=[`OVERHEAD_MAX`].
    pub overhead: i32,
    /// Minimum packet unit: shorter packets are charged this many bytes
    /// (after `overhead`, before cell framing), 0..=[`MPU_MAX`].
    pub mpu: u32,
    /// Cell framing applied last.
    pub framing: Framing,
    /// Subtract the packet's network offset (its MAC header) first, because
    /// `overhead` already accounts for the link's own framing. CAKE does this
    /// whenever an overhead is configured.
    pub strip_mac: bool,
}

/// A GSO super-packet: `segs` segments, all but the last `seg_len` bytes long
/// (payload plus headers), the last `last_len` bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GsoShape {
    /// Number of segments (at least 1).
    pub segs: u32,
    /// Length of each segment but the last, headers included.
    pub seg_len: u32,
    /// Length of the last segment, headers included.
    pub last_len: u32,
}

impl Overhead {
    /// Are all fields within the ranges tc-cake accepts?
    pub fn is_valid(&self) -> bool {
        (OVERHEAD_MIN..=OVERHEAD_MAX).contains(&self.overhead) && self.mpu <= MPU_MAX
    }

    /// Length charged for one packet of `len` bytes whose network header
    /// starts `net_offset` bytes in. Never panics; saturates at `u32::MAX` and
    /// never goes below 0.
    pub fn adjusted_len(&self, len: u32, net_offset: u32) -> u32 {
        let len = if self.strip_mac {
            len.saturating_sub(net_offset)
        } else {
            len
        };
        // i64 holds any u32 plus any i32 without overflow.
        let len = (i64::from(len) + i64::from(self.overhead)).clamp(0, i64::from(u32::MAX));
        let len = u32::try_from(len).unwrap_or(u32::MAX).max(self.mpu);
        match self.framing {
            Framing::None => len,
            Framing::Atm => {
                let cells = len / 48 + u32::from(len % 48 != 0);
                cells.saturating_mul(53)
            }
            Framing::Ptm => len.saturating_add(len / 64 + u32::from(len % 64 != 0)),
        }
    }

    /// Length charged for a GSO super-packet: each segment is compensated
    /// on its own, as it will be on the wire (`cake_overhead`).
    pub fn adjusted_len_gso(&self, gso: GsoShape, net_offset: u32) -> u32 {
        let full = self.adjusted_len(gso.seg_len, net_offset);
        let last = self.adjusted_len(gso.last_len, net_offset);
        full.saturating_mul(gso.segs.saturating_sub(1))
            .saturating_add(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oh(overhead: i32, mpu: u32, framing: Framing, strip_mac: bool) -> Overhead {
        Overhead {
            overhead,
            mpu,
            framing,
            strip_mac,
        }
    }

    #[test]
    fn default_is_identity() {
        let o = Overhead::default();
        for len in [0, 1, 60, 1514, 65535, u32::MAX] {
            assert_eq!(o.adjusted_len(len, 14), len);
        }
    }

    #[test]
    fn positive_and_negative_overhead() {
        assert_eq!(oh(18, 0, Framing::None, false).adjusted_len(1500, 14), 1518);
        // "ethernet" keyword in tc-cake: overhead 38 with the MAC header stripped.
        assert_eq!(oh(38, 0, Framing::None, true).adjusted_len(1514, 14), 1538);
        assert_eq!(oh(-64, 0, Framing::None, false).adjusted_len(1500, 0), 1436);
        // Never below zero (CAKE would wrap to ~4 GiB here).
        assert_eq!(oh(-64, 0, Framing::None, false).adjusted_len(40, 0), 0);
        assert_eq!(oh(-64, 0, Framing::None, true).adjusted_len(10, 14), 0);
        assert_eq!(
            oh(256, 0, Framing::None, false).adjusted_len(u32::MAX, 0),
            u32::MAX
        );
    }

    #[test]
    fn mpu_applies_after_overhead() {
        let o = oh(4, 64, Framing::None, false);
        assert_eq!(o.adjusted_len(40, 0), 64);
        assert_eq!(o.adjusted_len(60, 0), 64);
        assert_eq!(o.adjusted_len(61, 0), 65);
    }

    #[test]
    fn atm_cells() {
        let o = oh(0, 0, Framing::Atm, false);
        assert_eq!(o.adjusted_len(0, 0), 0);
        assert_eq!(o.adjusted_len(1, 0), 53);
        assert_eq!(o.adjusted_len(48, 0), 53);
        assert_eq!(o.adjusted_len(49, 0), 106);
        // 1500 + 10 (pppoa-vcmux) = 1510 -> 32 cells = 1696 bytes.
        assert_eq!(oh(10, 0, Framing::Atm, false).adjusted_len(1500, 0), 1696);
        // mpu before cells: 40 + 8 -> mpu 96 -> 2 cells.
        assert_eq!(oh(8, 96, Framing::Atm, false).adjusted_len(40, 0), 106);
        assert_eq!(o.adjusted_len(u32::MAX, 0), u32::MAX);
    }

    #[test]
    fn ptm_64_65() {
        let o = oh(0, 0, Framing::Ptm, false);
        assert_eq!(o.adjusted_len(0, 0), 0);
        assert_eq!(o.adjusted_len(1, 0), 2);
        assert_eq!(o.adjusted_len(64, 0), 65);
        assert_eq!(o.adjusted_len(65, 0), 67);
        // bridged-ptm: overhead 22 -> 1522 -> 1522 + 24 = 1546.
        assert_eq!(oh(22, 0, Framing::Ptm, false).adjusted_len(1500, 0), 1546);
        assert_eq!(o.adjusted_len(u32::MAX, 0), u32::MAX);
    }

    #[test]
    fn gso_segments_compensated_separately() {
        let o = oh(10, 0, Framing::Atm, false);
        let gso = GsoShape {
            segs: 3,
            seg_len: 1500,
            last_len: 100,
        };
        // 2 * 1696 + ceil(110 / 48) * 53 = 3392 + 159.
        assert_eq!(o.adjusted_len_gso(gso, 0), 3551);
        let one = GsoShape {
            segs: 1,
            seg_len: 1500,
            last_len: 1500,
        };
        assert_eq!(o.adjusted_len_gso(one, 0), 1696);
        let zero = GsoShape {
            segs: 0,
            seg_len: 1500,
            last_len: 700,
        };
        assert_eq!(o.adjusted_len_gso(zero, 0), o.adjusted_len(700, 0));
    }

    #[test]
    fn validity_ranges() {
        assert!(oh(-64, 256, Framing::Ptm, true).is_valid());
        assert!(!oh(-65, 0, Framing::None, false).is_valid());
        assert!(!oh(257, 0, Framing::None, false).is_valid());
        assert!(!oh(0, 257, Framing::None, false).is_valid());
    }
}
