// SPDX-License-Identifier: GPL-2.0
/*
 * A tc classifier in the style of LibreQoS's: one program picks the
 * subscriber's class from the packet, here tin = (low 16 bits of the IPv4
 * destination) % TINS + 1, written as the class minor (cls_bpf in direct
 * action mode takes it from skb->tc_classid and the major from the filter's
 * classid). The guest tests use it to spread floods over 10,000 tins
 * without 10,000 filters.
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

SEC("tc")
int tin_by_daddr(struct __sk_buff *skb)
{
	__u32 daddr;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + __builtin_offsetof(struct iphdr, daddr),
			       &daddr, sizeof(daddr)) < 0)
		return TC_ACT_UNSPEC;
	skb->tc_classid = (bpf_ntohl(daddr) & 0xFFFF) % TINS + 1;
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
