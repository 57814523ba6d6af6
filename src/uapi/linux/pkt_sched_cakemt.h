/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * cakemt netlink contract: the attributes of TCA_OPTIONS and TCA_XSTATS for
 * the "cakemt" qdisc and its classes. The kernel module (through bindgen) and
 * the patched tc (copied into iproute2's include/uapi/linux/) both build from
 * this file, so it is the single source of truth. Append only: never
 * renumber.
 *
 * In cakemt a *tin* is one subscriber host (not a diffserv class as in
 * CAKE): it has its own rate cap and CAKE's flow queueing inside. Tins are
 * the qdisc's classes; class minor N (1-based) is tin N.
 */
#ifndef __LINUX_PKT_SCHED_CAKEMT_H
#define __LINUX_PKT_SCHED_CAKEMT_H

#include <linux/types.h>

/* Most tins one qdisc may have (class minors are 16 bits; 0 is the qdisc). */
#define CAKEMT_MAX_TINS 65535

/* TCA_OPTIONS of "tc qdisc ... cakemt" */
enum {
	TCA_CAKEMT_UNSPEC,
	TCA_CAKEMT_PAD,
	TCA_CAKEMT_BASE_RATE64,	/* u64: link rate, bytes per second; 0 = unlimited */
	TCA_CAKEMT_MEMLIMIT,	/* u32: bytes of queued packets allowed; 0 = default */
	TCA_CAKEMT_TINS,	/* u32: number of tins, 1..CAKEMT_MAX_TINS */
	TCA_CAKEMT_TIN_RATE64,	/* u64: rate of every tin without its own, bytes/s; 0 = none (only the link) */
	TCA_CAKEMT_DEFAULT_TIN,	/* u32: tin (1-based) of unclassified packets; 0 = the last tin */
	TCA_CAKEMT_FWMARK,	/* u32: mask; tin = (mark & mask) >> ctz(mask); 0 = off */
	TCA_CAKEMT_TIN_RATES,	/* binary: struct tc_cakemt_tin_rate[], applied atomically */
	/* CAKE's own settings, as TCA_CAKE_* means them (every tin uses them) */
	TCA_CAKEMT_OVERHEAD,	/* s32: bytes added to every packet, -64..256; also turns off "raw" */
	TCA_CAKEMT_RAW,		/* flag: packets as the kernel measured them (dump: raw is in force) */
	TCA_CAKEMT_MPU,		/* u32: least bytes charged for a packet, 0..256 */
	TCA_CAKEMT_ATM,		/* u32: cell framing, CAKEMT_ATM_* */
	TCA_CAKEMT_FLOW_MODE,	/* u32: flow isolation inside every tin, CAKEMT_FLOW_* */
	TCA_CAKEMT_ACK_FILTER,	/* u32: CAKEMT_ACK_* */
	TCA_CAKEMT_INGRESS,	/* u32: 1 = ingress (drops cost shaper time), 0 = egress */
	TCA_CAKEMT_SPLIT_GSO,	/* u32: CAKEMT_SPLIT_GSO_* */
	TCA_CAKEMT_RTT,		/* u32: COBALT interval, microseconds, at least 1 */
	TCA_CAKEMT_TARGET,	/* u32: COBALT target, microseconds, at least 1 */
	/* Automatic per-host tins: cakemt gives each host seen a tin by itself */
	TCA_CAKEMT_AUTO,	/* u32: CAKEMT_AUTO_*; default none */
	TCA_CAKEMT_AUTO_MASK4,	/* u32: IPv4 prefix length that is one host, 1..32; default 32 */
	TCA_CAKEMT_AUTO_MASK6,	/* u32: IPv6 prefix length that is one host, 1..128; default 64 */
	TCA_CAKEMT_AUTO_IDLE,	/* u32: ms a host with nothing queued keeps its tin, 1..86400000; default 180000 */
	TCA_CAKEMT_AUTO_FIRST,	/* u32: lowest tin (1-based) given automatically; lower ones are left for explicit placement; default 1 */
	TCA_CAKEMT_AUTO_PREFIXES,	/* binary: struct tc_cakemt_prefix[], the ranges that get automatic tins; empty = every address */
	/* Bursts of the tins that follow TCA_CAKEMT_TIN_RATE64 (PCQ's burst-rate, -threshold, -time) */
	TCA_CAKEMT_BURST_RATE64,	/* u64: rate while bursting, bytes/s; 0 = no bursts */
	TCA_CAKEMT_BURST_THRESHOLD64,	/* u64: rate below which credit comes back, bytes/s, below the burst rate */
	TCA_CAKEMT_BURST_TIME,	/* u32: ms a full burst lasts, 1..86400000 */
	TCA_CAKEMT_WASH,	/* u32: 1 = clear DSCP (keeping ECN) at enqueue, 0 = leave it; default 0 */
	TCA_CAKEMT_NAT,		/* u32: 1 = hosts and flows by IPv4 addresses before NAT (conntrack), 0 = as sent; default 0 */
	TCA_CAKEMT_DIFFSERV_MODE,	/* u32: CAKEMT_DIFFSERV_*, CAKE's classes as bands inside every tin; default besteffort */
	TCA_CAKEMT_AUTORATE,	/* u32: 1 = shape the link to 15/16 of its estimated capacity (CAKE's autorate-ingress), 0 = to BASE_RATE64; default 0 */
	__TCA_CAKEMT_MAX
};
#define TCA_CAKEMT_MAX (__TCA_CAKEMT_MAX - 1)

/*
 * TCA_CAKEMT_DIFFSERV_MODE: the values of CAKE_DIFFSERV_*. CAKE calls its
 * diffserv classes tins; in cakemt a tin is a host, and the classes are the
 * *bands* inside each tin: a packet's DSCP picks its band in its tin, each
 * band has CAKE's share of the tin's rate as its priority threshold. Band N
 * is CAKE's tin N (diffserv3: best effort 0, bulk 1, voice 2; tc prints
 * them in CAKE's order, bulk first).
 */
enum {
	CAKEMT_DIFFSERV_DIFFSERV3,	/* diffserv3 */
	CAKEMT_DIFFSERV_DIFFSERV4,	/* diffserv4 */
	CAKEMT_DIFFSERV_DIFFSERV8,	/* diffserv8 */
	CAKEMT_DIFFSERV_BESTEFFORT,	/* besteffort: one band, DSCP ignored */
	CAKEMT_DIFFSERV_PRECEDENCE,	/* precedence: eight bands by the IP precedence */
	__CAKEMT_DIFFSERV_MAX
};

/* TCA_CAKEMT_ATM: the values of CAKE_ATM_* */
enum {
	CAKEMT_ATM_NONE,	/* noatm */
	CAKEMT_ATM_ATM,		/* atm: 48 payload bytes per 53-byte cell */
	CAKEMT_ATM_PTM,		/* ptm: 64b/65b encoding */
	__CAKEMT_ATM_MAX
};

/* TCA_CAKEMT_FLOW_MODE: the values of CAKE_FLOW_* (without nat) */
enum {
	CAKEMT_FLOW_NONE,	/* flowblind */
	CAKEMT_FLOW_SRC_IP,	/* srchost */
	CAKEMT_FLOW_DST_IP,	/* dsthost */
	CAKEMT_FLOW_HOSTS,	/* hosts */
	CAKEMT_FLOW_FLOWS,	/* flows */
	CAKEMT_FLOW_DUAL_SRC,	/* dual-srchost */
	CAKEMT_FLOW_DUAL_DST,	/* dual-dsthost */
	CAKEMT_FLOW_TRIPLE,	/* triple-isolate */
	__CAKEMT_FLOW_MAX
};

/* TCA_CAKEMT_ACK_FILTER: the values of CAKE_ACK_* */
enum {
	CAKEMT_ACK_NONE,	/* no-ack-filter */
	CAKEMT_ACK_FILTER,	/* ack-filter */
	CAKEMT_ACK_AGGRESSIVE,	/* ack-filter-aggressive */
	__CAKEMT_ACK_MAX
};

/*
 * TCA_CAKEMT_SPLIT_GSO: 0 and 1 as CAKE's flag; cakemt's default is its own,
 * splitting only for tins (or a link) at or below 1 Gbit/s.
 */
enum {
	CAKEMT_SPLIT_GSO_NEVER,		/* no-split-gso */
	CAKEMT_SPLIT_GSO_ALWAYS,	/* split-gso */
	CAKEMT_SPLIT_GSO_AUTO,		/* auto-split-gso: at 1 Gbit/s or less */
	__CAKEMT_SPLIT_GSO_MAX
};

/*
 * TCA_CAKEMT_AUTO: which address of a packet is its host's. A packet that no
 * filter, priority or fwmark placed goes to the tin of that address, masked
 * with mask4 or mask6; a host seen first is given a free tin of the pool
 * (auto-first .. tins, without the default tin). With no free tin left it
 * shares the default tin until one is free; a host is never evicted while it
 * has packets queued or sent within auto-idle.
 */
enum {
	CAKEMT_AUTO_NONE,	/* no automatic tins */
	CAKEMT_AUTO_DSTHOST,	/* by destination address: downloads, on the subscriber side */
	CAKEMT_AUTO_SRCHOST,	/* by source address: uploads, on the upstream side */
	__CAKEMT_AUTO_MAX
};

/* Most entries of TCA_CAKEMT_AUTO_PREFIXES. */
#define CAKEMT_AUTO_MAX_PREFIXES 16

/* An address range (TCA_CAKEMT_AUTO_PREFIXES) or a host (its masked address). */
struct tc_cakemt_prefix {
	__u8	family;		/* AF_INET or AF_INET6 */
	__u8	len;		/* prefix length, 0..32 or 0..128 */
	__u16	pad;		/* 0 */
	__be32	addr[4];	/* network byte order; IPv4 in addr[0], the rest 0 */
};

/*
 * One entry of TCA_CAKEMT_TIN_RATES: the rate and weight of one tin. An
 * attribute holds at most 65535 bytes, so a request carries up to 4095
 * entries; tc splits a longer list into several requests.
 */
struct tc_cakemt_tin_rate {
	__u64	rate;	/* bytes per second; 0 = no cap of its own (only the link) */
	__u32	tin;	/* 1-based tin (class minor) */
	__u16	weight;	/* share of a congested link, 1..65535; 0 = unchanged */
	__u16	flags;	/* CAKEMT_TIN_RATE_* */
};

/* The tin follows TCA_CAKEMT_TIN_RATE64 (rate is ignored). */
#define CAKEMT_TIN_RATE_DEFAULT	0x1

/* TCA_OPTIONS of "tc class change ... classid H:N cakemt" (tin N) */
enum {
	TCA_CAKEMT_CLASS_UNSPEC,
	TCA_CAKEMT_CLASS_PAD,
	TCA_CAKEMT_CLASS_RATE64,	/* u64: the tin's own rate, bytes/s; 0 = none (only the link) */
	TCA_CAKEMT_CLASS_WEIGHT,	/* u32: share of a congested link, 1..65535 */
	TCA_CAKEMT_CLASS_RATE_DEFAULT,	/* flag: follow the qdisc's tin rate (dump: it does) */
	/* The tin's own burst, whatever its rate (else the qdisc's, if it follows the tin rate) */
	TCA_CAKEMT_CLASS_BURST_RATE64,	/* u64: bytes/s while bursting; 0 = this tin never bursts */
	TCA_CAKEMT_CLASS_BURST_THRESHOLD64,	/* u64: bytes/s; 0 or absent = the tin's rate after the change */
	TCA_CAKEMT_CLASS_BURST_TIME,	/* u32: ms, 1..86400000; absent = 10000 */
	TCA_CAKEMT_CLASS_BURST_DEFAULT,	/* flag: back to the qdisc's bursts (dump: the tin has them) */
	/*
	 * The tin's own COBALT times and framing, for a subscriber whose path
	 * differs from the rest (a satellite backhaul, a DSL line). Each is
	 * dumped only when the tin has it; absent, the tin uses the qdisc's.
	 * The tin's framing prices its packets for its own rate only: the
	 * link keeps charging them with the qdisc's framing.
	 */
	TCA_CAKEMT_CLASS_RTT,		/* u32: COBALT interval, microseconds, at least 1 */
	TCA_CAKEMT_CLASS_TARGET,	/* u32: COBALT target, microseconds, at least 1; needs RTT; absent = RTT / 20 */
	TCA_CAKEMT_CLASS_RTT_DEFAULT,	/* flag: back to the qdisc's rtt and target */
	TCA_CAKEMT_CLASS_OVERHEAD,	/* s32: bytes added to each of the tin's packets, -64..256 (the MAC header is taken off first, as at the qdisc) */
	TCA_CAKEMT_CLASS_MPU,		/* u32: least bytes charged for one of the tin's packets, 0..256 */
	TCA_CAKEMT_CLASS_ATM,		/* u32: the tin's cell framing, CAKEMT_ATM_* */
	TCA_CAKEMT_CLASS_FRAMING_DEFAULT,	/* flag: overhead, mpu and atm back to the qdisc's (applied before any of them in the same request) */
	__TCA_CAKEMT_CLASS_MAX
};
#define TCA_CAKEMT_CLASS_MAX (__TCA_CAKEMT_CLASS_MAX - 1)

/* TCA_XSTATS: nested attributes, so tc can print what it knows */
enum {
	TCA_CAKEMT_STATS_UNSPEC,
	TCA_CAKEMT_STATS_PAD,
	TCA_CAKEMT_STATS_BASE_RATE64,	/* u64: configured link rate, bytes/s */
	TCA_CAKEMT_STATS_MEMORY_LIMIT,	/* u32: effective memlimit, bytes */
	TCA_CAKEMT_STATS_MEMORY_USED,	/* u32: truesize of queued packets, bytes */
	TCA_CAKEMT_STATS_DROP_OVERLIMIT,	/* u64: packets dropped by memlimit */
	TCA_CAKEMT_STATS_THROTTLED,	/* u64: times the link shaper armed its timer */
	TCA_CAKEMT_STATS_TINS,		/* u32: tins configured */
	TCA_CAKEMT_STATS_ACTIVE_TINS,	/* u32: tins with packets queued */
	TCA_CAKEMT_STATS_WAITING_TINS,	/* u32: of those, waiting for their shaper */
	TCA_CAKEMT_STATS_FLOWS_IN_USE,	/* u32: flow slots held by tins */
	TCA_CAKEMT_STATS_FLOW_SLOTS,	/* u32: flow slots in the shared pool */
	TCA_CAKEMT_STATS_DROP_COBALT,	/* u64: packets dropped by COBALT */
	TCA_CAKEMT_STATS_DROP_ACK,	/* u64: ACKs dropped by the ACK filter */
	TCA_CAKEMT_STATS_ECN_MARKED,	/* u64: packets marked CE */
	TCA_CAKEMT_STATS_UNCLASSIFIED,	/* u64: packets no classifier placed: to the default tin */
	TCA_CAKEMT_STATS_MISCLASSIFIED,	/* u64: packets placed in a tin past "tins": to the default tin */
	TCA_CAKEMT_STATS_MEMORY_ALLOCATED,	/* u64: bytes the qdisc allocated for its tables */
	TCA_CAKEMT_STATS_TIN,		/* nested TCA_CAKEMT_TIN_STATS_*: a class dump (one tin) */
	TCA_CAKEMT_STATS_RESERVED_SLOT_USES,	/* u64: new flows placed in their tin's reserved slot */
	TCA_CAKEMT_STATS_RECEIVED,	/* u64: packets that entered enqueue (GSO segments counted) */
	TCA_CAKEMT_STATS_STOLEN,	/* u64: packets a filter action took (stolen, queued, trap) */
	TCA_CAKEMT_STATS_AUTO_POOL,	/* u32: tins automatic hosts may be given */
	TCA_CAKEMT_STATS_AUTO_HOSTS,	/* u32: hosts holding an automatic tin now */
	TCA_CAKEMT_STATS_AUTO_ADMITTED,	/* u64: hosts given a tin */
	TCA_CAKEMT_STATS_AUTO_RELEASED,	/* u64: hosts that gave theirs back, idle */
	TCA_CAKEMT_STATS_AUTO_REFUSED,	/* u64: packets of hosts without a tin, sent to the default tin (pool full) */
	TCA_CAKEMT_STATS_LINK_RATE64,	/* u64: link rate in force, bytes/s: BASE_RATE64, or autorate's */
	TCA_CAKEMT_STATS_CAPACITY_ESTIMATE64,	/* u64: autorate's estimate of the link's capacity, bytes/s (only with autorate) */
	__TCA_CAKEMT_STATS_MAX
};
#define TCA_CAKEMT_STATS_MAX (__TCA_CAKEMT_STATS_MAX - 1)

/* Inside TCA_CAKEMT_STATS_TIN: one tin's statistics */
enum {
	TCA_CAKEMT_TIN_STATS_UNSPEC,
	TCA_CAKEMT_TIN_STATS_PAD,
	TCA_CAKEMT_TIN_STATS_RATE64,		/* u64: cap in force, bytes/s; 0 = only the link */
	TCA_CAKEMT_TIN_STATS_WEIGHT,		/* u32 */
	TCA_CAKEMT_TIN_STATS_SENT_PACKETS,	/* u64 */
	TCA_CAKEMT_TIN_STATS_SENT_BYTES,	/* u64 */
	TCA_CAKEMT_TIN_STATS_DROPPED_PACKETS,	/* u64: after being queued, any reason */
	TCA_CAKEMT_TIN_STATS_DROP_COBALT,	/* u32 */
	TCA_CAKEMT_TIN_STATS_DROP_ACK,		/* u32 */
	TCA_CAKEMT_TIN_STATS_DROP_OVERLIMIT,	/* u32 */
	TCA_CAKEMT_TIN_STATS_ECN_MARKED,	/* u32 */
	TCA_CAKEMT_TIN_STATS_BACKLOG_BYTES,	/* u64 */
	TCA_CAKEMT_TIN_STATS_BACKLOG_PACKETS,	/* u32 */
	TCA_CAKEMT_TIN_STATS_SPARSE_FLOWS,	/* u32 */
	TCA_CAKEMT_TIN_STATS_BULK_FLOWS,	/* u32 */
	TCA_CAKEMT_TIN_STATS_UNRESPONSIVE_FLOWS,	/* u32 */
	TCA_CAKEMT_TIN_STATS_PEAK_DELAY_US,	/* u32 */
	TCA_CAKEMT_TIN_STATS_AVG_DELAY_US,	/* u32 */
	TCA_CAKEMT_TIN_STATS_BASE_DELAY_US,	/* u32 */
	TCA_CAKEMT_TIN_STATS_THROTTLED,		/* u64: times the tin waited for its shaper */
	TCA_CAKEMT_TIN_STATS_MAX_SKBLEN,	/* u32: largest packet seen, bytes */
	TCA_CAKEMT_TIN_STATS_ENQUEUED_PACKETS,	/* u64: packets accepted */
	TCA_CAKEMT_TIN_STATS_RATE_DEFAULT,	/* flag: the cap is the qdisc's tin rate */
	TCA_CAKEMT_TIN_STATS_RESERVED_SLOT_USES,	/* u32: new flows placed in the reserved slot */
	TCA_CAKEMT_TIN_STATS_AUTO_HOST,		/* binary struct tc_cakemt_prefix: the host holding this automatic tin */
	TCA_CAKEMT_TIN_STATS_AUTO_AGE_MS,	/* u64: ms since that host was given the tin */
	TCA_CAKEMT_TIN_STATS_AUTO_IDLE_MS,	/* u64: ms since its last packet */
	TCA_CAKEMT_TIN_STATS_DIFFSERV_MODE,	/* u32: CAKEMT_DIFFSERV_*, which names the bands */
	TCA_CAKEMT_TIN_STATS_BANDS,	/* nested: attribute N+1 is band N, nested TCA_CAKEMT_BAND_STATS_*; absent with one band */
	TCA_CAKEMT_TIN_STATS_TARGET_US,	/* u32: COBALT target in force, fitted to the tin's rate */
	TCA_CAKEMT_TIN_STATS_INTERVAL_US,	/* u32: COBALT interval in force */
	__TCA_CAKEMT_TIN_STATS_MAX
};
#define TCA_CAKEMT_TIN_STATS_MAX (__TCA_CAKEMT_TIN_STATS_MAX - 1)

/* Inside TCA_CAKEMT_TIN_STATS_BANDS: one band of one tin (CAKE's per-class statistics) */
enum {
	TCA_CAKEMT_BAND_STATS_UNSPEC,
	TCA_CAKEMT_BAND_STATS_PAD,
	TCA_CAKEMT_BAND_STATS_THRESHOLD_RATE64,	/* u64: bytes/s the band keeps its priority up to; 0 = nothing shapes the tin */
	TCA_CAKEMT_BAND_STATS_TARGET_US,	/* u32: COBALT target, fitted to the threshold */
	TCA_CAKEMT_BAND_STATS_INTERVAL_US,	/* u32: COBALT interval */
	TCA_CAKEMT_BAND_STATS_QUANTUM,		/* u32: DRR quantum among the bands when nothing shapes the tin */
	TCA_CAKEMT_BAND_STATS_ENQUEUED_PACKETS,	/* u64: packets accepted */
	TCA_CAKEMT_BAND_STATS_ENQUEUED_BYTES,	/* u64 */
	TCA_CAKEMT_BAND_STATS_SENT_PACKETS,	/* u64 */
	TCA_CAKEMT_BAND_STATS_SENT_BYTES,	/* u64 */
	TCA_CAKEMT_BAND_STATS_DROPPED_PACKETS,	/* u64: after being accepted, any reason */
	TCA_CAKEMT_BAND_STATS_ECN_MARKED,	/* u32 */
	TCA_CAKEMT_BAND_STATS_BACKLOG_BYTES,	/* u64 */
	TCA_CAKEMT_BAND_STATS_BACKLOG_PACKETS,	/* u32 */
	TCA_CAKEMT_BAND_STATS_SPARSE_FLOWS,	/* u32 */
	TCA_CAKEMT_BAND_STATS_BULK_FLOWS,	/* u32 */
	__TCA_CAKEMT_BAND_STATS_MAX
};
#define TCA_CAKEMT_BAND_STATS_MAX (__TCA_CAKEMT_BAND_STATS_MAX - 1)

#endif /* __LINUX_PKT_SCHED_CAKEMT_H */
