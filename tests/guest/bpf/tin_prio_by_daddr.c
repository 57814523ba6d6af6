// SPDX-License-Identifier: GPL-2.0
/*
 * LibreQoS's way of choosing the subscriber: a program on the device's
 * clsact egress hook writes the class into skb->priority (major: the root
 * qdisc's handle 1:, minor: the tin) and the qdisc below takes it from
 * there, with no filter of its own. The mapping is tin_by_daddr.c's,
 * tin = (low 16 bits of the IPv4 destination) % TINS + 1, so the two
 * programs spread the same packets over the same tins. The benchmark runs
 * it on its own over noqueue too, to tell classification cost from
 * scheduling cost.
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

/* The root qdisc's handle major (1:). */
#define MAJOR 1

SEC("tc")
int tin_prio_by_daddr(struct __sk_buff *skb)
{
	__u32 daddr;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + __builtin_offsetof(struct iphdr, daddr),
			       &daddr, sizeof(daddr)) < 0)
		return TC_ACT_OK;
	skb->priority = (MAJOR << 16) | ((bpf_ntohl(daddr) & 0xFFFF) % TINS + 1);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
