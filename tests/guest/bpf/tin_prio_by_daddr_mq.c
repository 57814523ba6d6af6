// SPDX-License-Identifier: GPL-2.0
/*
 * LibreQoS's multi-queue layout: an mq root with one HTB per TX queue, the
 * subscribers split across the queues. LibreQoS steers each subscriber to
 * its CPU (XDP) and so to that CPU's queue; here one cls_bpf filter per
 * queue (not direct-action) claims the subscribers of its queue, writes
 * their class into skb->priority (major: that queue's HTB handle, QUEUE +
 * 1; minor: the tin of tin_prio_by_daddr.c), and its `skbedit
 * queue_mapping QUEUE` action sends them to that queue. A packet of any
 * other queue's subscriber is not this filter's (0: the next one runs).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef TINS
#define TINS 10000
#endif
#ifndef QUEUES
#define QUEUES 2
#endif
#ifndef QUEUE
#define QUEUE 0
#endif

SEC("tc")
int tin_prio_by_daddr_mq(struct __sk_buff *skb)
{
	__u32 daddr, tin;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + __builtin_offsetof(struct iphdr, daddr),
			       &daddr, sizeof(daddr)) < 0)
		return 0;
	tin = (bpf_ntohl(daddr) & 0xFFFF) % TINS + 1;
	if ((tin - 1) % QUEUES != QUEUE)
		return 0;
	skb->priority = ((QUEUE + 1) << 16) | tin;
	/* Matched: the filter's actions run. */
	return -1;
}

char _license[] SEC("license") = "GPL";
