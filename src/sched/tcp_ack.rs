// SPDX-License-Identifier: GPL-2.0
//! TCP pure-ACK parsing for the ACK filter: builds the core's [`AckInfo`]
//! from the first bytes of a packet's network header, deciding what a
//! candidate is as `cake_get_tcphdr` and `cake_ack_filter` in `sch_cake.c`
//! do, in safe Rust over a byte slice (the kernel glue copies the bytes
//! with `skb_header_pointer`, [`HEADER_BYTES`] of them at most).
//!
//! A packet is described (`Some`) when it is:
//! - IPv4 (its IHL honoured, not a fragment) carrying TCP, or IPv6 with TCP
//!   as the next header directly (no extension headers), or IPv6 in IPv4
//!   (protocol 41, "6in4", which CAKE special-cases as a common way to get
//!   IPv6 at home); like CAKE, IPv4 in IPv6 is not followed;
//! - a TCP segment with ACK set and SYN clear (what may trigger the
//!   filter; flags such as FIN, RST, PSH, URG are reported and keep the
//!   packet itself from ever being dropped, see
//!   [`ack_filter`](super::ack_filter));
//! - without payload: the IP length fields say the segment is exactly its
//!   TCP header, and the packet (`l3_len` bytes from the network header
//!   on, as the caller measured it) holds at least that much; bytes past
//!   the IP length are link padding. CAKE lets a data segment trigger the
//!   filter too; here a data segment is never a candidate, so it neither
//!   triggers nor is dropped;
//! - with well-formed TCP options: every option inside the header, with a
//!   length of at least 2, timestamps exactly 10 bytes, SACK 2 + 8 x n
//!   bytes with blocks whose end is after their start, no option twice.
//!   Anything else there is malformed and the packet is not a candidate.
//!   Options other than NOP, EOL, timestamps and SACK set
//!   `other_options` (never dropped; CAKE also lets MD5 signatures pass,
//!   this parser does not), as do TCP's reserved header bits (CAKE
//!   requires them clear) and a D-SACK (a block starting below the
//!   cumulative ACK, which CAKE never drops).
//!
//! `conn_hash` mixes both addresses (the inner and outer ones for 6in4)
//! and both ports in order, so it tells connections and their two
//! directions apart. `sack_end` is the highest right edge of the SACK
//! blocks (mod 2^32). `window` is the raw 16-bit field: the scale is
//! negotiated in the SYNs, which a qdisc does not see; the filter does not
//! compare windows (nor does CAKE's).

use super::packet::AckInfo;

/// Most bytes of the network header [`parse_ack`] reads: an IPv4 header
/// with options (60), an inner IPv6 header (40, for 6in4) and a TCP
/// header with options (60). Fewer suffice for most packets: one whose
/// headers do not fit in what the caller copied is not a candidate.
pub const HEADER_BYTES: usize = 160;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_IPV6: u8 = 41;
const IPV4_MIN: usize = 20;
const IPV6_HDR: usize = 40;
const TCP_MIN: usize = 20;

const TCP_ACK: u8 = 0x10;
const TCP_SYN: u8 = 0x02;

const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_SACK: u8 = 5;
const OPT_TIMESTAMP: u8 = 8;
const TIMESTAMP_LEN: usize = 10;
const SACK_BLOCK: usize = 8;

/// The ACK filter's view of the TCP pure ACK starting at `l3`, the first
/// bytes of a packet's network header (IPv4 or IPv6, up to
/// [`HEADER_BYTES`] of them); `l3_len` is the packet's length from the
/// network header to its end. `None`: not a candidate (see the module
/// documentation). Pure: reads `l3` only, never panics.
pub fn parse_ack(l3: &[u8], l3_len: u32) -> Option<AckInfo> {
    match l3.first()? >> 4 {
        4 => ipv4(l3, l3_len),
        6 => ipv6(l3, l3_len, Conn::new(6)),
        _ => None,
    }
}

/// Big-endian u16 at `at`.
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// Big-endian u32 at `at`.
fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *s.first()?,
        *s.get(1)?,
        *s.get(2)?,
        *s.get(3)?,
    ]))
}

/// Sequence number `a` is after `b` (mod 2^32).
fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

/// A running hash of what identifies the connection and its direction
/// (murmur3's mixing steps: cheap, and every input bit reaches the result).
struct Conn(u32);

impl Conn {
    /// Starts a hash; `family` keeps IPv4 and IPv6 apart.
    fn new(family: u32) -> Self {
        Conn(family.wrapping_mul(0x9E37_79B9))
    }

    fn word(&mut self, w: u32) {
        let k = w
            .wrapping_mul(0xCC9E_2D51)
            .rotate_left(15)
            .wrapping_mul(0x1B87_3593);
        self.0 = (self.0 ^ k)
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xE654_6B64);
    }

    /// Mixes the 32-bit words of `b` (its length a multiple of 4).
    fn words(&mut self, b: &[u8]) {
        for c in b.chunks_exact(4) {
            let w = c.iter().fold(0u32, |w, &x| (w << 8) | u32::from(x));
            self.word(w);
        }
    }

    fn finish(self) -> u32 {
        let mut h = self.0;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85EB_CA6B);
        h ^= h >> 13;
        h = h.wrapping_mul(0xC2B2_AE35);
        h ^ (h >> 16)
    }
}

/// An IPv4 header at `b`, `len` bytes of packet from it.
fn ipv4(b: &[u8], len: u32) -> Option<AckInfo> {
    let ihl = usize::from(b.first()? & 0x0F) * 4;
    if ihl < IPV4_MIN {
        return None;
    }
    let hdr = b.get(..ihl)?;
    let total = usize::from(be16(hdr, 2)?);
    if total < ihl || total > len as usize {
        return None;
    }
    // More fragments, or not the first fragment.
    if be16(hdr, 6)? & 0x3FFF != 0 {
        return None;
    }
    let rest = b.get(ihl..)?;
    let rest_len = total.checked_sub(ihl)?;
    match *hdr.get(9)? {
        IPPROTO_TCP => {
            let mut conn = Conn::new(4);
            conn.words(hdr.get(12..20)?);
            tcp(rest, rest_len, conn)
        }
        IPPROTO_IPV6 if rest.first()? >> 4 == 6 => {
            let mut conn = Conn::new(46);
            conn.words(hdr.get(12..20)?);
            ipv6(rest, u32::try_from(rest_len).ok()?, conn)
        }
        _ => None,
    }
}

/// An IPv6 header at `b`, `len` bytes of packet from it; `conn` already
/// holds the outer addresses of a tunnel.
fn ipv6(b: &[u8], len: u32, mut conn: Conn) -> Option<AckInfo> {
    let hdr = b.get(..IPV6_HDR)?;
    if hdr.first()? >> 4 != 6 || *hdr.get(6)? != IPPROTO_TCP {
        return None;
    }
    let payload = usize::from(be16(hdr, 4)?);
    if IPV6_HDR.checked_add(payload)? > len as usize {
        return None;
    }
    conn.words(hdr.get(8..40)?);
    tcp(b.get(IPV6_HDR..)?, payload, conn)
}

/// A TCP header at `b`, the segment `seg_len` bytes long by the IP header.
fn tcp(b: &[u8], seg_len: usize, mut conn: Conn) -> Option<AckInfo> {
    let fixed = b.get(..TCP_MIN)?;
    let doff = usize::from(fixed.get(12)? >> 4) * 4;
    // A shorter header is malformed, a longer segment carries payload.
    if doff < TCP_MIN || seg_len != doff {
        return None;
    }
    let hdr = b.get(..doff)?;
    let flags = *fixed.get(13)?;
    if flags & (TCP_ACK | TCP_SYN) != TCP_ACK {
        return None;
    }
    conn.words(fixed.get(..4)?);
    let ack_seq = be32(fixed, 8)?;
    let mut info = AckInfo {
        conn_hash: conn.finish(),
        ack_seq,
        window: u32::from(be16(fixed, 14)?),
        flags,
        has_sack: false,
        sack_end: 0,
        // The reserved bits (and AccECN's AE): CAKE drops none with them.
        other_options: fixed.get(12)? & 0x0F != 0,
        timestamps: None,
    };
    options(hdr.get(TCP_MIN..)?, &mut info)?;
    Some(info)
}

/// Parses the TCP options `opts` into `info`; `None` if malformed.
fn options(opts: &[u8], info: &mut AckInfo) -> Option<()> {
    let mut at = 0usize;
    let mut sack_seen = false;
    // Each turn consumes at least one byte of at most 40.
    for _ in 0..opts.len() {
        let Some(&kind) = opts.get(at) else {
            break;
        };
        match kind {
            OPT_EOL => break,
            OPT_NOP => {
                at = at.checked_add(1)?;
                continue;
            }
            _ => {}
        }
        let len = usize::from(*opts.get(at.checked_add(1)?)?);
        let end = at.checked_add(len)?;
        if len < 2 || end > opts.len() {
            return None;
        }
        let body = opts.get(at.checked_add(2)?..end)?;
        match kind {
            OPT_TIMESTAMP => {
                if len != TIMESTAMP_LEN || info.timestamps.is_some() {
                    return None;
                }
                info.timestamps = Some((be32(body, 0)?, be32(body, 4)?));
            }
            OPT_SACK => {
                if body.len() % SACK_BLOCK != 0 || sack_seen {
                    return None;
                }
                sack_seen = true;
                for block in body.chunks_exact(SACK_BLOCK) {
                    let (start, edge) = (be32(block, 0)?, be32(block, 4)?);
                    if !after(edge, start) {
                        return None;
                    }
                    if after(info.ack_seq, start) {
                        // D-SACK: reports a duplicate; never dropped.
                        info.other_options = true;
                    }
                    if !info.has_sack || after(edge, info.sack_end) {
                        info.sack_end = edge;
                    }
                    info.has_sack = true;
                }
            }
            _ => info.other_options = true,
        }
        at = end;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    const ACK: u8 = 0x10;

    /// A TCP header from port 1000 to 80 with `flags`, ACK number `ack`,
    /// window 0x1234 and options `opts` (padded with EOLs to a multiple
    /// of 4 bytes).
    fn tcp_hdr(flags: u8, ack: u32, opts: &[u8]) -> Vec<u8> {
        let mut o = opts.to_vec();
        while o.len() % 4 != 0 {
            o.push(OPT_EOL);
        }
        let doff = (20 + o.len()) / 4;
        let mut h = std::vec![0u8; 20];
        h[0..2].copy_from_slice(&1000u16.to_be_bytes());
        h[2..4].copy_from_slice(&80u16.to_be_bytes());
        h[4..8].copy_from_slice(&7u32.to_be_bytes());
        h[8..12].copy_from_slice(&ack.to_be_bytes());
        h[12] = (doff as u8) << 4;
        h[13] = flags;
        h[14..16].copy_from_slice(&0x1234u16.to_be_bytes());
        h.extend(o);
        h
    }

    /// An IPv4 packet (header of `ihl` words) around `l4` plus `payload`
    /// bytes of data, from 10.0.0.1 to 10.0.0.2.
    fn v4(ihl: u8, proto: u8, l4: &[u8], payload: usize) -> Vec<u8> {
        let hl = usize::from(ihl) * 4;
        let mut p = std::vec![0u8; hl];
        p[0] = 0x40 | ihl;
        let total = (hl + l4.len() + payload) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[6] = 0x40; // don't fragment
        p[8] = 64;
        p[9] = proto;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p.extend_from_slice(l4);
        p.extend(std::iter::repeat(0xAA).take(payload));
        p
    }

    /// An IPv6 packet around `l4` plus `payload` bytes, next header `nh`.
    fn v6(nh: u8, l4: &[u8], payload: usize) -> Vec<u8> {
        let mut p = std::vec![0u8; 40];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&((l4.len() + payload) as u16).to_be_bytes());
        p[6] = nh;
        p[7] = 64;
        p[8] = 0x20;
        p[9] = 0x01;
        p[23] = 1;
        p[24] = 0x20;
        p[25] = 0x01;
        p[39] = 2;
        p.extend_from_slice(l4);
        p.extend(std::iter::repeat(0xAA).take(payload));
        p
    }

    fn parse(p: &[u8]) -> Option<AckInfo> {
        parse_ack(p, p.len() as u32)
    }

    fn ts(val: u32, ecr: u32) -> Vec<u8> {
        let mut o = std::vec![OPT_NOP, OPT_NOP, OPT_TIMESTAMP, 10];
        o.extend(val.to_be_bytes());
        o.extend(ecr.to_be_bytes());
        o
    }

    fn sack(blocks: &[(u32, u32)]) -> Vec<u8> {
        let mut o = std::vec![OPT_NOP, OPT_NOP, OPT_SACK, (2 + 8 * blocks.len()) as u8];
        for &(s, e) in blocks {
            o.extend(s.to_be_bytes());
            o.extend(e.to_be_bytes());
        }
        o
    }

    #[test]
    fn ipv4_pure_ack() {
        let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 5000, &[]), 0);
        let a = parse(&p).unwrap();
        assert_eq!(
            (
                a.ack_seq,
                a.window,
                a.flags,
                a.has_sack,
                a.other_options,
                a.timestamps
            ),
            (5000, 0x1234, ACK, false, false, None)
        );
        // IP options are skipped by the IHL.
        let q = v4(7, IPPROTO_TCP, &tcp_hdr(ACK, 5000, &[]), 0);
        assert_eq!(parse(&q), Some(a));
        // Link padding past the IP length is no payload.
        let mut padded = p.clone();
        padded.extend([0u8; 6]);
        assert_eq!(parse(&padded), Some(a));
        assert_eq!(parse_ack(&p, p.len() as u32 + 6), Some(a));
        // FIN/ACK, PSH/ACK, ECE: described, with their flags.
        for f in [ACK | 0x01, ACK | 0x08, ACK | 0x40] {
            let p = v4(5, IPPROTO_TCP, &tcp_hdr(f, 1, &[]), 0);
            assert_eq!(parse(&p).unwrap().flags, f);
        }
    }

    #[test]
    fn conn_hash_tells_connections_and_directions_apart() {
        let base = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, &[]), 0);
        let h = parse(&base).unwrap().conn_hash;
        // Same connection, other ACK number: same hash.
        let later = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 99, &[]), 0);
        assert_eq!(parse(&later).unwrap().conn_hash, h);
        let mut variants = Vec::new();
        // Reverse direction: addresses and ports swapped.
        let mut rev = base.clone();
        rev[12..16].copy_from_slice(&[10, 0, 0, 2]);
        rev[16..20].copy_from_slice(&[10, 0, 0, 1]);
        rev[20..22].copy_from_slice(&80u16.to_be_bytes());
        rev[22..24].copy_from_slice(&1000u16.to_be_bytes());
        variants.push(rev);
        for at in [15, 19, 21, 23] {
            let mut v = base.clone();
            v[at] ^= 1;
            variants.push(v);
        }
        for v in &variants {
            assert_ne!(parse(v).unwrap().conn_hash, h);
        }
    }

    #[test]
    fn timestamps_and_sack() {
        let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 5000, &ts(11, 22)), 0);
        let a = parse(&p).unwrap();
        assert_eq!(
            (a.timestamps, a.other_options, a.has_sack),
            (Some((11, 22)), false, false)
        );
        let mut o = ts(11, 22);
        o.extend(sack(&[(6000, 7000), (8000, 9000), (7000, 7500)]));
        let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 5000, &o), 0);
        let a = parse(&p).unwrap();
        assert_eq!(a.timestamps, Some((11, 22)));
        assert_eq!(
            (a.has_sack, a.sack_end, a.other_options),
            (true, 9000, false)
        );
        // The highest edge is found modulo 2^32.
        let p = v4(
            5,
            IPPROTO_TCP,
            &tcp_hdr(
                ACK,
                u32::MAX - 100,
                &sack(&[(u32::MAX - 50, u32::MAX - 10), (u32::MAX, 20)]),
            ),
            0,
        );
        assert_eq!(parse(&p).unwrap().sack_end, 20);
        // An empty SACK option is no SACK (as in CAKE).
        let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 5000, &sack(&[])), 0);
        assert!(!parse(&p).unwrap().has_sack);
        // D-SACK: below the cumulative ACK, never to be dropped.
        let p = v4(
            5,
            IPPROTO_TCP,
            &tcp_hdr(ACK, 5000, &sack(&[(4000, 4500)])),
            0,
        );
        let a = parse(&p).unwrap();
        assert!(a.has_sack && a.other_options);
    }

    #[test]
    fn other_options_and_reserved_bits() {
        // Window scale, MSS, SACK-permitted, MD5, an unknown kind.
        for o in [
            &[3u8, 3, 7][..],
            &[2, 4, 5, 0xB4],
            &[4, 2],
            &[19, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[254, 2],
        ] {
            let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, o), 0);
            let a = parse(&p).unwrap();
            assert!(a.other_options, "{o:?}");
        }
        // Options after EOL are padding.
        let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, &[OPT_EOL, 3, 3, 7]), 0);
        assert!(!parse(&p).unwrap().other_options);
        let mut p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, &[]), 0);
        p[20 + 12] |= 0x01;
        let a = parse(&p).unwrap();
        assert!(a.other_options);
    }

    #[test]
    fn malformed_options_are_no_candidates() {
        let bad: [&[u8]; 7] = [
            // No length byte (the padding after it is EOL, not a length).
            &[OPT_NOP, OPT_NOP, OPT_NOP, 3],
            // Length below 2.
            &[3, 1, 0, 0],
            // Past the header.
            &[3, 9, 0, 0],
            // Timestamps too short.
            &[OPT_TIMESTAMP, 8, 0, 0, 0, 0, 0, 0],
            // SACK not 2 + 8n bytes.
            &[OPT_SACK, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0],
            // An empty SACK block.
            &[OPT_SACK, 10, 0, 0, 0, 9, 0, 0, 0, 9],
            // A block ending before its start.
            &[OPT_SACK, 10, 0, 0, 0, 9, 0, 0, 0, 2],
        ];
        for o in bad {
            let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, o), 0);
            assert_eq!(parse(&p), None, "{o:?}");
        }
        // The same option twice.
        let mut twice = ts(1, 2);
        twice.extend(ts(3, 4));
        let mut two_sacks = sack(&[(10, 20)]);
        two_sacks.extend(sack(&[(30, 40)]));
        for o in [twice, two_sacks] {
            let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, &o), 0);
            assert_eq!(parse(&p), None, "{o:?}");
        }
        // A data offset below 5 words.
        let mut p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, &[]), 0);
        p[20 + 12] = 4 << 4;
        assert_eq!(parse(&p), None);
    }

    #[test]
    fn payload_syn_and_missing_ack_are_no_candidates() {
        let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, &[]), 1);
        assert_eq!(parse(&p), None, "one byte of data");
        let p = v6(IPPROTO_TCP, &tcp_hdr(ACK, 1, &ts(1, 2)), 100);
        assert_eq!(parse(&p), None, "IPv6 with data");
        for f in [0x02, 0x12, 0x00, 0x04, 0x01] {
            let p = v4(5, IPPROTO_TCP, &tcp_hdr(f, 1, &[]), 0);
            assert_eq!(parse(&p), None, "flags {f:#x}");
        }
        // A packet shorter than its IP length (the caller's l3_len).
        let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, &[]), 0);
        assert_eq!(parse_ack(&p, p.len() as u32 - 1), None);
        // UDP, and a zero IPv4 total length (as TSO leaves it).
        assert_eq!(parse(&v4(5, 17, &tcp_hdr(ACK, 1, &[]), 0)), None);
        let mut z = p.clone();
        z[2..4].copy_from_slice(&[0, 0]);
        assert_eq!(parse(&z), None);
    }

    #[test]
    fn fragments_are_no_candidates() {
        let p = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 1, &[]), 0);
        assert!(parse(&p).is_some());
        for frag in [[0x20u8, 0x00], [0x00, 0x01], [0x1F, 0xFF], [0x60, 0x10]] {
            let mut f = p.clone();
            f[6..8].copy_from_slice(&frag);
            assert_eq!(parse(&f), None, "{frag:?}");
        }
    }

    #[test]
    fn truncated_buffers_are_no_candidates() {
        let mut o = ts(1, 2);
        o.extend(sack(&[(10, 20)]));
        for p in [
            v4(6, IPPROTO_TCP, &tcp_hdr(ACK, 5, &o), 0),
            v6(IPPROTO_TCP, &tcp_hdr(ACK, 5, &o), 0),
            v4(
                5,
                IPPROTO_IPV6,
                &v6(IPPROTO_TCP, &tcp_hdr(ACK, 5, &o), 0),
                0,
            ),
        ] {
            let full = parse(&p).unwrap();
            for n in 0..p.len() {
                // The caller copied only n bytes of the whole packet.
                assert_eq!(parse_ack(&p[..n], p.len() as u32), None, "{n} bytes");
            }
            assert_eq!(parse_ack(&p, p.len() as u32), Some(full));
        }
        assert_eq!(parse_ack(&[], 0), None);
    }

    #[test]
    fn ipv6_and_6in4() {
        let l4 = tcp_hdr(ACK, 77, &ts(5, 6));
        let a = parse(&v6(IPPROTO_TCP, &l4, 0)).unwrap();
        assert_eq!((a.ack_seq, a.timestamps), (77, Some((5, 6))));
        // Extension headers (hop-by-hop here) are not followed, as in CAKE.
        assert_eq!(parse(&v6(0, &l4, 0)), None);
        // IPv6 in IPv4.
        let t = v4(5, IPPROTO_IPV6, &v6(IPPROTO_TCP, &l4, 0), 0);
        let b = parse(&t).unwrap();
        assert_eq!((b.ack_seq, b.timestamps), (77, Some((5, 6))));
        assert_ne!(b.conn_hash, a.conn_hash, "tunnelled: its own connection");
        // The inner packet must carry TCP directly, and be IPv6.
        assert_eq!(parse(&v4(5, IPPROTO_IPV6, &v6(17, &l4, 0), 0)), None);
        assert_eq!(
            parse(&v4(5, IPPROTO_IPV6, &v4(5, IPPROTO_TCP, &l4, 0), 0)),
            None
        );
        // IPv4 in IPv6 is not followed (as in CAKE).
        assert_eq!(parse(&v6(4, &v4(5, IPPROTO_TCP, &l4, 0), 0)), None);
        // The same connection over IPv4 hashes differently.
        let c = parse(&v4(5, IPPROTO_TCP, &l4, 0)).unwrap();
        assert_ne!(c.conn_hash, a.conn_hash);
        // Not IP at all.
        let mut x = v6(IPPROTO_TCP, &l4, 0);
        x[0] = 0x50;
        assert_eq!(parse(&x), None);
    }

    #[test]
    fn the_filter_drops_what_the_parser_describes() {
        use crate::sched::ack_filter::{filter, AckFilterMode};
        use crate::sched::packet::PacketQueue;
        use crate::sched::test_support::{TestPacket, TestQueue};
        let pkt = |id: u64, ack: u32, tsval: u32| {
            let l3 = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, ack, &ts(tsval, 9)), 0);
            let mut p = TestPacket::new(id, l3.len() as u32);
            p.ack = parse(&l3);
            p
        };
        let mut q = TestQueue::default();
        q.push_back(pkt(0, 100, 1));
        let new = pkt(1, 200, 2).ack.unwrap();
        let got = filter(&mut q, &new, AckFilterMode::Aggressive).unwrap();
        assert_eq!(got.id, 0);
        // A data segment is not described: it is kept and triggers nothing.
        let data = v4(5, IPPROTO_TCP, &tcp_hdr(ACK, 100, &[]), 10);
        assert_eq!(parse(&data), None);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            /// Any bytes and any length: no panic, and what is described
            /// comes from a buffer holding at least an IP and a TCP header.
            #[test]
            fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), len in any::<u32>()) {
                if parse_ack(&bytes, len).is_some() {
                    prop_assert!(bytes.len() >= IPV4_MIN + TCP_MIN);
                }
            }

            /// Valid ACKs with one byte changed: no panic, and a change of
            /// the ACK number alone is read back.
            #[test]
            fn mutated_acks(at in 0usize..84, val in any::<u8>(), six in any::<bool>()) {
                let l4 = tcp_hdr(ACK, 0x0102_0304, &ts(1, 2));
                let p = if six { v6(IPPROTO_TCP, &l4, 0) } else { v4(5, IPPROTO_TCP, &l4, 0) };
                let at = at % p.len();
                let mut m = p.clone();
                m[at] = val;
                let got = parse(&m);
                let ip = if six { 40 } else { 20 };
                if at == ip + 11 {
                    prop_assert_eq!(got.map(|a| a.ack_seq), Some(0x0102_0300 | u32::from(val)));
                }
            }
        }
    }
}
