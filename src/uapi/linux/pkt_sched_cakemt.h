/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * cakemt netlink contract: the attributes of TCA_OPTIONS and TCA_XSTATS for
 * the "cakemt" qdisc. The kernel module (through bindgen) and the patched tc
 * (copied into iproute2's include/uapi/linux/) both build from this file, so
 * it is the single source of truth. Append only: never renumber.
 */
#ifndef __LINUX_PKT_SCHED_CAKEMT_H
#define __LINUX_PKT_SCHED_CAKEMT_H

#include <linux/types.h>

/* TCA_OPTIONS of "tc qdisc ... cakemt" */
enum {
	TCA_CAKEMT_UNSPEC,
	TCA_CAKEMT_PAD,
	TCA_CAKEMT_BASE_RATE64,	/* u64: link rate, bytes per second; 0 = unlimited */
	TCA_CAKEMT_MEMLIMIT,	/* u32: bytes of queued packets allowed; 0 = default */
	__TCA_CAKEMT_MAX
};
#define TCA_CAKEMT_MAX (__TCA_CAKEMT_MAX - 1)

/* TCA_XSTATS: nested attributes, so tc can print what it knows */
enum {
	TCA_CAKEMT_STATS_UNSPEC,
	TCA_CAKEMT_STATS_PAD,
	TCA_CAKEMT_STATS_BASE_RATE64,	/* u64: configured link rate, bytes/s */
	TCA_CAKEMT_STATS_MEMORY_LIMIT,	/* u32: effective memlimit, bytes */
	TCA_CAKEMT_STATS_MEMORY_USED,	/* u32: truesize of queued packets, bytes */
	TCA_CAKEMT_STATS_DROP_OVERLIMIT,	/* u64: packets dropped by memlimit */
	TCA_CAKEMT_STATS_THROTTLED,	/* u64: times the shaper armed its timer */
	__TCA_CAKEMT_STATS_MAX
};
#define TCA_CAKEMT_STATS_MAX (__TCA_CAKEMT_STATS_MAX - 1)

#endif /* __LINUX_PKT_SCHED_CAKEMT_H */
