// SPDX-License-Identifier: GPL-2.0
//! CAKE's diffserv classes inside one tin. tc-cake calls its classes
//! "tins"; here a tin is a subscriber host, so the classes inside it are
//! **bands** (as in prio and ets): each tin has up to [`MAX_BANDS`] of
//! them. A packet's band is CAKE's table lookup of its DSCP; each band has
//! a threshold rate, a fraction of its tin's rate (`cake_config_*`), and
//! a DRR quantum for when nothing shapes the tin. The band with the higher
//! index has the higher priority, as CAKE's tin index. Band 0 always has
//! the tin's full rate as threshold.

/// Most bands a tin can have (CAKE's `CAKE_MAX_TINS`).
pub const MAX_BANDS: usize = 8;

/// How a tin's traffic is split into bands (`tc ... cake <mode>`), with
/// CAKE's `CAKE_DIFFSERV_*` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DiffservMode {
    /// Three bands: best effort, bulk (CS1, LE), voice (CS7, CS6, EF, VA,
    /// TOS4).
    Diffserv3,
    /// Four bands (LibreQoS's default leaf): best effort, bulk (CS1, LE),
    /// video (AF4x, AF3x, CS3, AF2x, TOS4, CS2), voice (CS7, CS6, EF, VA,
    /// CS5, CS4).
    Diffserv4,
    /// Eight bands: background (LE), high throughput (AF1x, TOS2, CS1),
    /// best effort, video (AF4x, AF3x, CS3), low-latency transactions
    /// (AF2x, TOS4), interactive shell (CS2), minimum latency (EF, VA,
    /// CS5, CS4), network control (CS6, CS7).
    Diffserv8,
    /// One band: DSCP is ignored (the core's default, its behaviour before
    /// bands existed).
    #[default]
    Besteffort,
    /// Eight bands by the IP precedence (the DSCP's top three bits).
    Precedence,
}

// Codepoints CAKE knows (RFC 4594, RFC 8622), as 6-bit DSCP values.
const LE: u8 = 1;
const TOS2: u8 = 2;
const TOS4: u8 = 4;
const CS1: u8 = 8;
const AF11: u8 = 10;
const AF12: u8 = 12;
const AF13: u8 = 14;
const CS2: u8 = 16;
const AF21: u8 = 18;
const AF22: u8 = 20;
const AF23: u8 = 22;
const CS3: u8 = 24;
const AF31: u8 = 26;
const AF32: u8 = 28;
const AF33: u8 = 30;
const CS4: u8 = 32;
const AF41: u8 = 34;
const AF42: u8 = 36;
const AF43: u8 = 38;
const CS5: u8 = 40;
const VA: u8 = 44;
const EF: u8 = 46;
const CS6: u8 = 48;
const CS7: u8 = 56;

/// A DSCP-to-band table: `default` for every codepoint, then each listed
/// codepoint to its band.
const fn table(default: u8, classes: &[(u8, &[u8])]) -> [u8; 64] {
    let mut t = [default; 64];
    let mut c = 0;
    while c < classes.len() {
        let (band, points) = classes[c];
        let mut p = 0;
        while p < points.len() {
            t[(points[p] & 63) as usize] = band;
            p += 1;
        }
        c += 1;
    }
    t
}

/// The precedence table: a codepoint's top three bits.
const fn precedence_table() -> [u8; 64] {
    let mut t = [0; 64];
    let mut d = 0;
    while d < 64 {
        t[d] = (d >> 3) as u8;
        d += 1;
    }
    t
}

const DIFFSERV3: [u8; 64] = table(0, &[(1, &[LE, CS1]), (2, &[TOS4, VA, EF, CS6, CS7])]);

const DIFFSERV4: [u8; 64] = table(
    0,
    &[
        (1, &[LE, CS1]),
        (
            2,
            &[
                TOS4, CS2, AF21, AF22, AF23, CS3, AF31, AF32, AF33, AF41, AF42, AF43,
            ],
        ),
        (3, &[CS4, CS5, VA, EF, CS6, CS7]),
    ],
);

const DIFFSERV8: [u8; 64] = table(
    2,
    &[
        (0, &[LE]),
        (1, &[TOS2, CS1, AF11, AF12, AF13]),
        (3, &[CS3, AF31, AF32, AF33, AF41, AF42, AF43]),
        (4, &[TOS4, AF21, AF22, AF23]),
        (5, &[CS2]),
        (6, &[CS4, CS5, VA, EF]),
        (7, &[CS6, CS7]),
    ],
);

const PRECEDENCE: [u8; 64] = precedence_table();

const BESTEFFORT: [u8; 64] = [0; 64];

/// `x * 7 / 8` rounded down, without overflow: CAKE's step between the
/// classes of precedence and diffserv8.
const fn seven_eighths(x: u64) -> u64 {
    (x / 8) * 7 + (x % 8) * 7 / 8
}

impl DiffservMode {
    /// CAKE's numeric value (`CAKE_DIFFSERV_*`).
    pub const fn cake_value(self) -> u8 {
        match self {
            DiffservMode::Diffserv3 => 0,
            DiffservMode::Diffserv4 => 1,
            DiffservMode::Diffserv8 => 2,
            DiffservMode::Besteffort => 3,
            DiffservMode::Precedence => 4,
        }
    }

    /// From CAKE's numeric value; `None` if out of range.
    pub const fn from_cake_value(v: u8) -> Option<Self> {
        Some(match v {
            0 => DiffservMode::Diffserv3,
            1 => DiffservMode::Diffserv4,
            2 => DiffservMode::Diffserv8,
            3 => DiffservMode::Besteffort,
            4 => DiffservMode::Precedence,
            _ => return None,
        })
    }

    /// Bands per tin (1..=[`MAX_BANDS`]).
    pub const fn bands(self) -> u8 {
        match self {
            DiffservMode::Besteffort => 1,
            DiffservMode::Diffserv3 => 3,
            DiffservMode::Diffserv4 => 4,
            DiffservMode::Diffserv8 | DiffservMode::Precedence => 8,
        }
    }

    const fn table(self) -> &'static [u8; 64] {
        match self {
            DiffservMode::Besteffort => &BESTEFFORT,
            DiffservMode::Diffserv3 => &DIFFSERV3,
            DiffservMode::Diffserv4 => &DIFFSERV4,
            DiffservMode::Diffserv8 => &DIFFSERV8,
            DiffservMode::Precedence => &PRECEDENCE,
        }
    }

    /// The band of a packet with DSCP `dscp` (its 6 bits; higher bits are
    /// ignored), as `cake_select_tin` looks it up.
    pub const fn band_of(self, dscp: u8) -> u8 {
        self.table()[(dscp & 63) as usize]
    }

    /// Threshold rate of `band` in a tin sent at `rate` bytes/s (0 when
    /// `rate` is 0): above it the band loses its priority. As CAKE's
    /// `cake_config_*`: diffserv3 1, 1/16, 1/4; diffserv4 1, 1/16, 1/2,
    /// 1/4; precedence and diffserv8 (7/8)^band; besteffort 1.
    pub const fn threshold(self, band: u8, rate: u64) -> u64 {
        match self {
            DiffservMode::Besteffort => rate,
            DiffservMode::Diffserv3 => match band {
                1 => rate >> 4,
                2 => rate >> 2,
                _ => rate,
            },
            DiffservMode::Diffserv4 => match band {
                1 => rate >> 4,
                2 => rate >> 1,
                3 => rate >> 2,
                _ => rate,
            },
            DiffservMode::Diffserv8 | DiffservMode::Precedence => {
                let mut r = rate;
                let mut b = 0;
                while b < band && b < MAX_BANDS as u8 {
                    r = seven_eighths(r);
                    b += 1;
                }
                r
            }
        }
    }

    /// A time at the tin's rate (`ns`) as the same bytes take at `band`'s
    /// threshold: the inverse of [`threshold`](Self::threshold)'s fraction
    /// (x16, x4, x2 or (8/7)^band), so no division is needed per packet.
    pub const fn at_threshold(self, band: u8, ns: u64) -> u64 {
        match self {
            DiffservMode::Besteffort => ns,
            DiffservMode::Diffserv3 => match band {
                1 => ns.saturating_mul(16),
                2 => ns.saturating_mul(4),
                _ => ns,
            },
            DiffservMode::Diffserv4 => match band {
                1 => ns.saturating_mul(16),
                2 => ns.saturating_mul(2),
                3 => ns.saturating_mul(4),
                _ => ns,
            },
            DiffservMode::Diffserv8 | DiffservMode::Precedence => {
                let mut t = ns;
                let mut b = 0;
                while b < band && b < MAX_BANDS as u8 {
                    t = t.saturating_add(t / 7);
                    b += 1;
                }
                t
            }
        }
    }

    /// DRR quantum of `band` (bytes per round) when nothing shapes the
    /// tin (CAKE's `tin_quantum`): diffserv3 1024, 64, 256; diffserv4
    /// 1024, 64, 512, 256; precedence and diffserv8 256 x (7/8)^band,
    /// at least 1; besteffort 65535.
    pub const fn quantum(self, band: u8) -> u16 {
        match self {
            DiffservMode::Besteffort => 65535,
            DiffservMode::Diffserv3 => match band {
                1 => 64,
                2 => 256,
                _ => 1024,
            },
            DiffservMode::Diffserv4 => match band {
                1 => 64,
                2 => 512,
                3 => 256,
                _ => 1024,
            },
            DiffservMode::Diffserv8 | DiffservMode::Precedence => {
                let q = self.threshold(band, 256);
                if q == 0 {
                    1
                } else {
                    q as u16
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Band of each codepoint as CAKE's `diffserv4[]` table has it.
    const CAKE_DIFFSERV4: [u8; 64] = [
        0, 1, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0,
        2, 0, 3, 0, 2, 0, 2, 0, 2, 0, 3, 0, 0, 0, 3, 0, 3, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0,
        0, 0, 0, 0,
    ];
    const CAKE_DIFFSERV3: [u8; 64] = [
        0, 1, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
        0, 0, 0, 0,
    ];
    const CAKE_DIFFSERV8: [u8; 64] = [
        2, 0, 1, 2, 4, 2, 2, 2, 1, 2, 1, 2, 1, 2, 1, 2, 5, 2, 4, 2, 4, 2, 4, 2, 3, 2, 3, 2, 3, 2,
        3, 2, 6, 2, 3, 2, 3, 2, 3, 2, 6, 2, 2, 2, 6, 2, 6, 2, 7, 2, 2, 2, 2, 2, 2, 2, 7, 2, 2, 2,
        2, 2, 2, 2,
    ];

    #[test]
    fn tables_match_cakes() {
        for d in 0..64u8 {
            let i = usize::from(d);
            assert_eq!(DiffservMode::Diffserv3.band_of(d), CAKE_DIFFSERV3[i], "{d}");
            assert_eq!(DiffservMode::Diffserv4.band_of(d), CAKE_DIFFSERV4[i], "{d}");
            assert_eq!(DiffservMode::Diffserv8.band_of(d), CAKE_DIFFSERV8[i], "{d}");
            assert_eq!(DiffservMode::Precedence.band_of(d), d >> 3, "{d}");
            assert_eq!(DiffservMode::Besteffort.band_of(d), 0);
        }
    }

    #[test]
    fn well_known_codepoints() {
        use DiffservMode::*;
        let (ef, cs1, af41, le, df) = (46, 8, 34, 1, 0);
        assert_eq!(Diffserv3.band_of(ef), 2, "EF is voice");
        assert_eq!(Diffserv4.band_of(ef), 3, "EF is voice");
        assert_eq!(Diffserv4.band_of(cs1), 1, "CS1 is bulk");
        assert_eq!(Diffserv3.band_of(cs1), 1, "CS1 is bulk");
        assert_eq!(Diffserv4.band_of(af41), 2, "AF41 is video");
        assert_eq!(Diffserv4.band_of(le), 1, "LE is bulk");
        assert_eq!(Diffserv4.band_of(df), 0);
        assert_eq!(Diffserv8.band_of(le), 0, "LE is background");
        assert_eq!(Diffserv8.band_of(df), 2);
        assert_eq!(Diffserv8.band_of(ef), 6);
        assert_eq!(Diffserv8.band_of(56), 7, "CS7 is network control");
        assert_eq!(Precedence.band_of(ef), 5);
        // Only the six DSCP bits count (a caller passing the TOS byte's
        // upper six bits shifted in would still be in range).
        assert_eq!(Diffserv4.band_of(ef | 0xC0), 3);
        for m in [Diffserv3, Diffserv4, Diffserv8, Besteffort, Precedence] {
            for d in 0..=255u8 {
                assert!(m.band_of(d) < m.bands());
            }
        }
    }

    #[test]
    fn cake_values_round_trip() {
        for v in 0..=255u8 {
            if let Some(m) = DiffservMode::from_cake_value(v) {
                assert_eq!(m.cake_value(), v);
            } else {
                assert!(v > 4);
            }
        }
        assert_eq!(DiffservMode::default().bands(), 1);
    }

    #[test]
    fn thresholds_and_quanta_are_cakes() {
        use DiffservMode::*;
        let r = 1_000_000u64;
        let t = |m: DiffservMode| (0..m.bands()).map(move |b| m.threshold(b, r));
        assert!(t(Diffserv4).eq([r, r / 16, r / 2, r / 4]));
        assert!(t(Diffserv3).eq([r, r / 16, r / 4]));
        assert!(t(Besteffort).eq([r]));
        let mut x = r;
        for b in 0..8 {
            assert_eq!(Diffserv8.threshold(b, r), x);
            assert_eq!(Precedence.threshold(b, r), x);
            x = (x * 7) >> 3;
        }
        let q = |m: DiffservMode| (0..m.bands()).map(move |b| m.quantum(b));
        assert!(q(Diffserv4).eq([1024, 64, 512, 256]));
        assert!(q(Diffserv3).eq([1024, 64, 256]));
        assert!(q(Besteffort).eq([65535]));
        assert!(q(Diffserv8).eq([256, 224, 196, 171, 149, 130, 113, 98]));
        assert_eq!(Diffserv8.threshold(7, u64::MAX), {
            let mut x = u64::MAX;
            for _ in 0..7 {
                x = seven_eighths(x);
            }
            x
        });
        assert_eq!(Diffserv4.threshold(3, 0), 0);
    }

    #[test]
    fn times_at_threshold_invert_the_fractions() {
        use DiffservMode::*;
        // 1,000,000 ns at 7,000,000,000 B/s is 7e15 bytes: at each band's
        // threshold they take 1e15 / threshold seconds.
        let (rate, ns) = (7_000_000_000u64, 1_000_000u64);
        for m in [Diffserv3, Diffserv4, Diffserv8, Besteffort, Precedence] {
            for b in 0..m.bands() {
                let want = ns as f64 * rate as f64 / m.threshold(b, rate) as f64;
                let got = m.at_threshold(b, ns) as f64;
                assert!(
                    (got / want - 1.0).abs() < 1e-5,
                    "{m:?} band {b}: {got} vs {want}"
                );
            }
        }
        assert_eq!(Diffserv4.at_threshold(1, u64::MAX), u64::MAX);
    }
}
