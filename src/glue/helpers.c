// SPDX-License-Identifier: GPL-2.0
/*
 * Wrappers over static-inline kernel helpers, for cakemt's Rust glue. Kept
 * deliberately dumb: every decision is made on the Rust side.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/jhash.h>
#include <linux/mm.h>
#include <linux/prefetch.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <net/dsfield.h>
#include <net/flow_dissector.h>
#include <net/gso.h>
#include <net/netfilter/nf_conntrack_tuple.h>
#include <net/tcp.h>
#include <net/udp.h>

#include "helpers.h"

static_assert(sizeof(struct cakemt_skb_cb) <= QDISC_CB_PRIV_LEN);

struct cakemt_priv *cakemt_priv(struct Qdisc *sch)
{
	return qdisc_priv(sch);
}

u32 cakemt_qdisc_handle(const struct Qdisc *sch)
{
	return sch->handle;
}

u64 cakemt_now_ns(void)
{
	return ktime_get_ns();
}

u32 cakemt_random_u32(void)
{
	return get_random_u32();
}

/*
 * Configuration-time tables, quiet on failure (the caller reports ENOMEM).
 * Above the slab caches kmalloc hands out the next power of two in pages,
 * which for a table sized by the number of tins can waste almost half of
 * it (10,000 tins of diffserv4 bands: 3.5 MB asked, 4 MiB taken). Such a
 * table comes from vmalloc instead, which rounds to a page.
 */
void *cakemt_kvcalloc(size_t n, size_t size)
{
	size_t bytes;

	if (check_mul_overflow(n, size, &bytes))
		return NULL;
	if (bytes > KMALLOC_MAX_CACHE_SIZE &&
	    kmalloc_size_roundup(bytes) - bytes > bytes / 8)
		return __vmalloc(bytes, GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
	return kvcalloc(n, size, GFP_KERNEL | __GFP_NOWARN);
}

void cakemt_kvfree(void *p)
{
	kvfree(p);
}

/* ---- sk_buff ---- */

unsigned int cakemt_skb_len(const struct sk_buff *skb)
{
	return qdisc_pkt_len(skb);
}

unsigned int cakemt_skb_truesize(const struct sk_buff *skb)
{
	return skb->truesize;
}

struct cakemt_skb_cb *cakemt_skb_cb(struct sk_buff *skb)
{
	return (struct cakemt_skb_cb *)qdisc_skb_cb(skb)->data;
}

/* The scheduling core's prefetch hint (no-op where the arch has none). */
void cakemt_prefetch_range(const void *p, size_t len)
{
	prefetch_range((void *)p, len);
}

struct sk_buff *cakemt_skb_next(const struct sk_buff *skb)
{
	return skb->next;
}

void cakemt_skb_set_next(struct sk_buff *skb, struct sk_buff *next)
{
	skb->next = next;
}

bool cakemt_skb_set_ce(struct sk_buff *skb)
{
	return INET_ECN_set_ce(skb);
}

/*
 * CAKE's wash: clears the DSCP of an IPv4 or IPv6 packet, keeping its ECN
 * bits, unless it is clear already. A header that cannot be made
 * writable is left as it is (as CAKE does).
 */
void cakemt_skb_wash(struct sk_buff *skb)
{
	int off = skb_network_offset(skb);
	__be16 proto = skb_protocol(skb, true);
	int len;

	if (off < 0)
		return;
	if (proto == htons(ETH_P_IP)) {
		len = off + sizeof(struct iphdr);
		if (!pskb_may_pull(skb, len) || ip_hdr(skb)->version != 4 ||
		    !(ipv4_get_dsfield(ip_hdr(skb)) & ~INET_ECN_MASK))
			return;
		if (skb_try_make_writable(skb, len))
			return;
		ipv4_change_dsfield(ip_hdr(skb), INET_ECN_MASK, 0);
	} else if (proto == htons(ETH_P_IPV6)) {
		len = off + sizeof(struct ipv6hdr);
		if (!pskb_may_pull(skb, len) || ipv6_hdr(skb)->version != 6 ||
		    !(ipv6_get_dsfield(ipv6_hdr(skb)) & ~INET_ECN_MASK))
			return;
		if (skb_try_make_writable(skb, len))
			return;
		ipv6_change_dsfield(ipv6_hdr(skb), INET_ECN_MASK, 0);
	}
}

/*
 * The DSCP that picks a packet's band, as CAKE's cake_handle_diffserv reads
 * it: the DS field's upper six bits of IPv4 and IPv6, CS7 for ARP (network
 * control), 0 for anything else or a header that is not there.
 */
u8 cakemt_skb_dscp(struct sk_buff *skb)
{
	int off = skb_network_offset(skb);
	u8 ds[2], *h, tclass;

	if (off < 0)
		return 0;
	switch (skb_protocol(skb, true)) {
	case htons(ETH_P_IP):
		h = skb_header_pointer(skb, off, sizeof(ds), ds);
		if (!h || h[0] >> 4 != 4)
			return 0;
		return h[1] >> 2;
	case htons(ETH_P_IPV6):
		h = skb_header_pointer(skb, off, sizeof(ds), ds);
		if (!h || h[0] >> 4 != 6)
			return 0;
		/* The traffic class straddles the first two bytes. */
		tclass = (h[0] & 0x0f) << 4 | h[1] >> 4;
		return tclass >> 2;
	case htons(ETH_P_ARP):
		return 0x38;
	default:
		return 0;
	}
}

u32 cakemt_skb_priority(const struct sk_buff *skb)
{
	return skb->priority;
}

u32 cakemt_skb_mark(const struct sk_buff *skb)
{
	return skb->mark;
}

u32 cakemt_skb_network_offset(const struct sk_buff *skb)
{
	int off = skb_network_offset(skb);

	return off > 0 ? off : 0;
}

/*
 * One dissection gives the flow hash (the stack's own skb->hash when it has
 * an L4 one) and a hash of each host address. The host hashes use a seed of
 * the qdisc's own, so that nobody can aim addresses at one flow-pool set.
 * flow_hash_from_keys() reorders the addresses, so it runs last.
 */
/*
 * CAKE's nat: the IPv4 addresses (and ports, if @sport is given) the packet
 * has in its connection's tuple, that is before NAT on the way out. A
 * packet without a conntrack entry of its own (ingress, before de-NAT) is
 * looked up, and the reply tuple it finds is read the other way round.
 * Returns true if any of them differ from what was passed in.
 */
static bool cakemt_pre_nat(const struct sk_buff *skb, __be32 *src,
			   __be32 *dst, __be16 *sport, __be16 *dport)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	struct nf_conntrack_tuple t = {};
	bool rev = !skb->_nfct;
	__be32 s, d;
	bool changed;

	if (skb_protocol(skb, true) != htons(ETH_P_IP) ||
	    !nf_ct_get_tuple_skb(&t, skb))
		return false;
	s = rev ? t.dst.u3.ip : t.src.u3.ip;
	d = rev ? t.src.u3.ip : t.dst.u3.ip;
	changed = s != *src || d != *dst;
	*src = s;
	*dst = d;
	if (sport && (*sport || *dport)) {
		__be16 sp = rev ? t.dst.u.all : t.src.u.all;
		__be16 dp = rev ? t.src.u.all : t.dst.u.all;

		changed |= sp != *sport || dp != *dport;
		*sport = sp;
		*dport = dp;
	}
	return changed;
#else
	return false;
#endif
}

bool cakemt_has_conntrack(void)
{
	return IS_ENABLED(CONFIG_NF_CONNTRACK);
}

void cakemt_skb_flow_keys(struct sk_buff *skb, u32 seed, bool nat,
			  struct cakemt_flow_keys *out)
{
	struct flow_keys keys;
	bool own_hash = skb->l4_hash;

	skb_flow_dissect_flow_keys(skb, &keys,
				   FLOW_DISSECTOR_F_STOP_AT_FLOW_LABEL);
	/* the skb's hash is of the translated flow: not with new keys */
	if (nat && keys.control.addr_type == FLOW_DISSECTOR_KEY_IPV4_ADDRS &&
	    cakemt_pre_nat(skb, &keys.addrs.v4addrs.src,
			   &keys.addrs.v4addrs.dst, &keys.ports.src,
			   &keys.ports.dst))
		own_hash = false;
	switch (keys.control.addr_type) {
	case FLOW_DISSECTOR_KEY_IPV4_ADDRS:
		out->src_host = jhash_1word((__force u32)keys.addrs.v4addrs.src,
					    seed);
		out->dst_host = jhash_1word((__force u32)keys.addrs.v4addrs.dst,
					    seed);
		break;
	case FLOW_DISSECTOR_KEY_IPV6_ADDRS:
		out->src_host = jhash2(keys.addrs.v6addrs.src.s6_addr32, 4, seed);
		out->dst_host = jhash2(keys.addrs.v6addrs.dst.s6_addr32, 4, seed);
		break;
	default:
		out->src_host = 0;
		out->dst_host = 0;
	}
	out->flow = own_hash ? skb->hash : flow_hash_from_keys(&keys);
}

/*
 * The source and destination addresses of an IPv4 or IPv6 packet, read from
 * its network header (the automatic per-host tins' keys). Returns 4 or 6 for
 * the family, 0 when the packet is not IP or too short.
 */
u32 cakemt_skb_addrs(const struct sk_buff *skb, bool nat,
		     struct cakemt_addrs *out)
{
	int off = skb_network_offset(skb);
	__be16 proto = skb_protocol(skb, true);
	union {
		struct iphdr v4;
		struct ipv6hdr v6;
	} buf;
	const struct iphdr *ip;
	const struct ipv6hdr *ip6;

	memset(out, 0, sizeof(*out));
	if (off < 0)
		return 0;
	if (proto == htons(ETH_P_IP)) {
		ip = skb_header_pointer(skb, off, sizeof(*ip), &buf.v4);
		if (!ip || ip->version != 4)
			return 0;
		memcpy(out->src, &ip->saddr, 4);
		memcpy(out->dst, &ip->daddr, 4);
		if (nat) {
			__be32 s = ip->saddr, d = ip->daddr;

			cakemt_pre_nat(skb, &s, &d, NULL, NULL);
			memcpy(out->src, &s, 4);
			memcpy(out->dst, &d, 4);
		}
		return 4;
	}
	if (proto == htons(ETH_P_IPV6)) {
		ip6 = skb_header_pointer(skb, off, sizeof(*ip6), &buf.v6);
		if (!ip6 || ip6->version != 6)
			return 0;
		memcpy(out->src, &ip6->saddr, 16);
		memcpy(out->dst, &ip6->daddr, 16);
		return 6;
	}
	return 0;
}

/*
 * Copies up to @len bytes from the network header of an IPv4 or IPv6 packet
 * into @buf (for the ACK filter's parser); *@l3_len is the length from the
 * network header to the end. Returns the bytes copied (0: not IP).
 */
u32 cakemt_skb_l3_bytes(const struct sk_buff *skb, u8 *buf, u32 len,
			u32 *l3_len)
{
	int off = skb_network_offset(skb);
	__be16 proto = skb_protocol(skb, true);
	const void *p;

	*l3_len = 0;
	if ((proto != htons(ETH_P_IP) && proto != htons(ETH_P_IPV6)) ||
	    off < 0 || skb->len <= (unsigned int)off)
		return 0;
	*l3_len = skb->len - off;
	len = min(len, *l3_len);
	p = skb_header_pointer(skb, off, len, buf);
	if (!p)
		return 0;
	if (p != buf)
		memcpy(buf, p, len);
	return len;
}

/*
 * The segments a GSO packet will become on the wire: @segs of which all but
 * the last are @seg_len bytes long (one MSS plus headers). False if @skb is
 * not GSO.
 */
bool cakemt_skb_gso_shape(const struct sk_buff *skb, u32 *segs, u32 *seg_len,
			  u32 *last_len)
{
	const struct skb_shared_info *si = skb_shinfo(skb);
	unsigned int hdr, n;

	if (!si->gso_size)
		return false;
	hdr = skb_transport_offset(skb);
	if (si->gso_type & (SKB_GSO_TCPV4 | SKB_GSO_TCPV6)) {
		struct tcphdr buf;
		const struct tcphdr *th;

		th = skb_header_pointer(skb, hdr, sizeof(buf), &buf);
		if (th)
			hdr += __tcp_hdrlen(th);
	} else {
		hdr += sizeof(struct udphdr);
	}
	n = si->gso_segs;
	if ((si->gso_type & SKB_GSO_DODGY) || !n)
		n = skb->len > hdr ? DIV_ROUND_UP(skb->len - hdr, si->gso_size) : 1;
	n = max(n, 1U);
	*segs = n;
	*seg_len = si->gso_size + hdr;
	*last_len = skb->len > si->gso_size * (n - 1) ?
		    skb->len - si->gso_size * (n - 1) : *seg_len;
	return true;
}

bool cakemt_skb_is_gso(const struct sk_buff *skb)
{
	return skb_is_gso(skb);
}

/*
 * Splits a GSO packet into its segments (a list linked by ->next, each with
 * its qdisc length set), or NULL if that failed. The caller still owns @skb.
 */
struct sk_buff *cakemt_skb_gso_segment(struct sk_buff *skb)
{
	netdev_features_t features = netif_skb_features(skb);
	struct sk_buff *segs, *s;

	segs = skb_gso_segment(skb, features & ~NETIF_F_GSO_MASK);
	if (IS_ERR_OR_NULL(segs))
		return NULL;
	for (s = segs; s; s = s->next)
		qdisc_skb_cb(s)->pkt_len = s->len;
	return segs;
}

/* A packet the qdisc decided to drop (not the normal end of its life). */
void cakemt_skb_free(struct sk_buff *skb)
{
	kfree_skb_reason(skb, SKB_DROP_REASON_QDISC_DROP);
}

/* A packet that lives on in other forms (a GSO packet after segmenting). */
void cakemt_skb_consume(struct sk_buff *skb)
{
	consume_skb(skb);
}

/* ---- qdisc accounting ---- */

void cakemt_qdisc_count_in(struct Qdisc *sch, const struct sk_buff *skb)
{
	qdisc_qstats_backlog_inc(sch, skb);
	sch->q.qlen++;
}

void cakemt_qdisc_count_out(struct Qdisc *sch, const struct sk_buff *skb)
{
	qdisc_qstats_backlog_dec(sch, skb);
	sch->q.qlen--;
	qdisc_bstats_update(sch, skb);
}

/*
 * Drops a packet counted in qlen and backlog. In enqueue it goes on the
 * caller's @to_free list (freed after the qdisc lock is released), in
 * dequeue (@to_free NULL) it is freed at once, as sch_cake does.
 */
void cakemt_qdisc_drop_queued(struct Qdisc *sch, struct sk_buff *skb,
			      struct sk_buff **to_free)
{
	qdisc_qstats_backlog_dec(sch, skb);
	sch->q.qlen--;
	qdisc_qstats_drop(sch);
	if (to_free) {
		tcf_set_drop_reason(skb, SKB_DROP_REASON_QDISC_DROP);
		__qdisc_drop(skb, to_free);
	} else {
		kfree_skb_reason(skb, SKB_DROP_REASON_QDISC_DROP);
	}
}

/*
 * Drops a packet never counted in qlen. @count: it is a drop in the qdisc's
 * statistics (not for packets a filter action took over).
 */
void cakemt_qdisc_drop_new(struct Qdisc *sch, struct sk_buff *skb,
			   struct sk_buff **to_free, bool count)
{
	if (count)
		qdisc_qstats_drop(sch);
	__qdisc_drop(skb, to_free);
}

void cakemt_qdisc_overlimit(struct Qdisc *sch)
{
	qdisc_qstats_overlimit(sch);
}

void cakemt_tree_reduce_backlog(struct Qdisc *sch, int n, int len)
{
	qdisc_tree_reduce_backlog(sch, n, len);
}

struct sk_buff *cakemt_qdisc_peek(struct Qdisc *sch)
{
	return qdisc_peek_dequeued(sch);
}

void cakemt_tree_lock(struct Qdisc *sch)
{
	sch_tree_lock(sch);
}

void cakemt_tree_unlock(struct Qdisc *sch)
{
	sch_tree_unlock(sch);
}

void cakemt_watchdog_schedule(struct qdisc_watchdog *wd, u64 expires_ns)
{
	qdisc_watchdog_schedule_ns(wd, expires_ns);
}

/* ---- filters ---- */

int cakemt_block_get(struct Qdisc *sch, struct netlink_ext_ack *extack)
{
	struct cakemt_priv *p = qdisc_priv(sch);

	return tcf_block_get(&p->block, &p->filter_list, sch, extack);
}

void cakemt_block_put(struct Qdisc *sch)
{
	struct cakemt_priv *p = qdisc_priv(sch);

	tcf_block_put(p->block);
	p->block = NULL;
}

struct tcf_block *cakemt_block(struct Qdisc *sch)
{
	struct cakemt_priv *p = qdisc_priv(sch);

	return p->block;
}

/* Runs the filters attached to the qdisc, as sch_drr and sch_htb do. */
enum cakemt_cls_result cakemt_classify(struct Qdisc *sch, struct sk_buff *skb,
				       u32 *classid)
{
	struct cakemt_priv *p = qdisc_priv(sch);
	struct tcf_proto *fl = rcu_dereference_bh(p->filter_list);
	struct tcf_result res;
	int result;

	if (!fl)
		return CAKEMT_CLS_NONE;
	result = tcf_classify(skb, NULL, fl, &res, false);
	if (result < 0)
		return CAKEMT_CLS_NONE;
#ifdef CONFIG_NET_CLS_ACT
	switch (result) {
	case TC_ACT_QUEUED:
	case TC_ACT_STOLEN:
	case TC_ACT_TRAP:
		return CAKEMT_CLS_STOLEN;
	case TC_ACT_SHOT:
		return CAKEMT_CLS_SHOT;
	}
#endif
	*classid = res.classid;
	return CAKEMT_CLS_CLASS;
}

/* ---- classes ---- */

/*
 * Classes are 1..@classes. A dump resumed after a full message asks to skip
 * what it already has: start there rather than walking up to it.
 */
void cakemt_walk(struct Qdisc *sch, struct qdisc_walker *arg, u32 classes)
{
	u32 cl = 1;

	if (arg->stop)
		return;
	if (arg->count == 0 && arg->skip > 0) {
		arg->count = arg->skip;
		cl = (u32)arg->skip + 1;
	}
	for (; cl <= classes; cl++)
		if (!tc_qdisc_stats_dump(sch, cl, arg))
			return;
}

void cakemt_class_set_handle(struct tcmsg *tcm, u32 classid)
{
	tcm->tcm_parent = TC_H_ROOT;
	tcm->tcm_handle = classid;
	tcm->tcm_info = 0;
}

/* A tin's basic and queue statistics, as every class reports them. */
int cakemt_class_dump_stats(struct gnet_dump *d, u64 bytes, u64 packets,
			    u32 drops, u32 overlimits, u32 qlen, u32 backlog)
{
	struct gnet_stats_queue q = {
		.qlen = qlen,
		.backlog = backlog,
		.drops = drops,
		.overlimits = overlimits,
	};
	struct gnet_stats_basic_sync b;

	gnet_stats_basic_sync_init(&b);
	u64_stats_set(&b.bytes, bytes);
	u64_stats_set(&b.packets, packets);
	if (gnet_stats_copy_basic(d, NULL, &b, true) < 0 ||
	    gnet_stats_copy_queue(d, NULL, &q, qlen) < 0)
		return -1;
	return 0;
}

struct nlattr *cakemt_tca_options(struct nlattr **tca)
{
	return tca ? tca[TCA_OPTIONS] : NULL;
}

/* ---- netlink ---- */

/*
 * Strict: unknown attributes and wrong sizes are refused by the netlink
 * core. Ranges are checked on the Rust side, whose messages name the
 * keyword and the range.
 */
static const struct nla_policy cakemt_policy[TCA_CAKEMT_MAX + 1] = {
	[TCA_CAKEMT_BASE_RATE64]	= { .type = NLA_U64 },
	[TCA_CAKEMT_MEMLIMIT]		= { .type = NLA_U32 },
	[TCA_CAKEMT_TINS]		= { .type = NLA_U32 },
	[TCA_CAKEMT_TIN_RATE64]		= { .type = NLA_U64 },
	[TCA_CAKEMT_DEFAULT_TIN]	= { .type = NLA_U32 },
	[TCA_CAKEMT_FWMARK]		= { .type = NLA_U32 },
	[TCA_CAKEMT_TIN_RATES]		= { .type = NLA_BINARY },
	[TCA_CAKEMT_OVERHEAD]		= { .type = NLA_S32 },
	[TCA_CAKEMT_RAW]		= { .type = NLA_FLAG },
	[TCA_CAKEMT_MPU]		= { .type = NLA_U32 },
	[TCA_CAKEMT_ATM]		= { .type = NLA_U32 },
	[TCA_CAKEMT_FLOW_MODE]		= { .type = NLA_U32 },
	[TCA_CAKEMT_ACK_FILTER]		= { .type = NLA_U32 },
	[TCA_CAKEMT_INGRESS]		= { .type = NLA_U32 },
	[TCA_CAKEMT_SPLIT_GSO]		= { .type = NLA_U32 },
	[TCA_CAKEMT_WASH]		= { .type = NLA_U32 },
	[TCA_CAKEMT_NAT]		= { .type = NLA_U32 },
	[TCA_CAKEMT_DIFFSERV_MODE]	= { .type = NLA_U32 },
	[TCA_CAKEMT_AUTORATE]		= { .type = NLA_U32 },
	[TCA_CAKEMT_RTT]		= { .type = NLA_U32 },
	[TCA_CAKEMT_TARGET]		= { .type = NLA_U32 },
	[TCA_CAKEMT_AUTO]		= { .type = NLA_U32 },
	[TCA_CAKEMT_AUTO_MASK4]		= { .type = NLA_U32 },
	[TCA_CAKEMT_AUTO_MASK6]		= { .type = NLA_U32 },
	[TCA_CAKEMT_AUTO_IDLE]		= { .type = NLA_U32 },
	[TCA_CAKEMT_AUTO_FIRST]		= { .type = NLA_U32 },
	[TCA_CAKEMT_AUTO_PREFIXES]	= { .type = NLA_BINARY },
	[TCA_CAKEMT_BURST_RATE64]	= { .type = NLA_U64 },
	[TCA_CAKEMT_BURST_THRESHOLD64]	= { .type = NLA_U64 },
	[TCA_CAKEMT_BURST_TIME]		= { .type = NLA_U32 },
};

static const struct nla_policy cakemt_class_policy[TCA_CAKEMT_CLASS_MAX + 1] = {
	[TCA_CAKEMT_CLASS_RATE64]	= { .type = NLA_U64 },
	[TCA_CAKEMT_CLASS_WEIGHT]	= { .type = NLA_U32 },
	[TCA_CAKEMT_CLASS_RATE_DEFAULT]	= { .type = NLA_FLAG },
	[TCA_CAKEMT_CLASS_BURST_RATE64]	= { .type = NLA_U64 },
	[TCA_CAKEMT_CLASS_BURST_THRESHOLD64] = { .type = NLA_U64 },
	[TCA_CAKEMT_CLASS_BURST_TIME]	= { .type = NLA_U32 },
	[TCA_CAKEMT_CLASS_BURST_DEFAULT] = { .type = NLA_FLAG },
	[TCA_CAKEMT_CLASS_RTT]		= { .type = NLA_U32 },
	[TCA_CAKEMT_CLASS_TARGET]	= { .type = NLA_U32 },
	[TCA_CAKEMT_CLASS_RTT_DEFAULT]	= { .type = NLA_FLAG },
	[TCA_CAKEMT_CLASS_OVERHEAD]	= { .type = NLA_S32 },
	[TCA_CAKEMT_CLASS_MPU]		= { .type = NLA_U32 },
	[TCA_CAKEMT_CLASS_ATM]		= { .type = NLA_U32 },
	[TCA_CAKEMT_CLASS_FRAMING_DEFAULT] = { .type = NLA_FLAG },
};

int cakemt_parse_opts(struct nlattr **tb, struct nlattr *opt,
		      struct netlink_ext_ack *extack)
{
	return nla_parse_nested(tb, TCA_CAKEMT_MAX, opt, cakemt_policy, extack);
}

int cakemt_parse_class_opts(struct nlattr **tb, struct nlattr *opt,
			    struct netlink_ext_ack *extack)
{
	return nla_parse_nested(tb, TCA_CAKEMT_CLASS_MAX, opt,
				cakemt_class_policy, extack);
}

/* @msg is copied (at most NETLINK_MAX_FMTMSG_LEN - 1 bytes kept). */
void cakemt_set_err(struct netlink_ext_ack *extack, const char *msg,
		    const struct nlattr *attr)
{
	NL_SET_ERR_MSG_ATTR_FMT(extack, attr, "%s", msg);
}

u32 cakemt_nla_u32(const struct nlattr *nla)
{
	return nla_get_u32(nla);
}

s32 cakemt_nla_s32(const struct nlattr *nla)
{
	return nla_get_s32(nla);
}

u64 cakemt_nla_u64(const struct nlattr *nla)
{
	return nla_get_u64(nla);
}

const void *cakemt_nla_data(const struct nlattr *nla)
{
	return nla_data(nla);
}

u32 cakemt_nla_len(const struct nlattr *nla)
{
	return nla_len(nla);
}

struct nlattr *cakemt_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start_noflag(skb, type);
}

int cakemt_nest_end(struct sk_buff *skb, struct nlattr *nest)
{
	return nla_nest_end(skb, nest);
}

void cakemt_nest_cancel(struct sk_buff *skb, struct nlattr *nest)
{
	nla_nest_cancel(skb, nest);
}

int cakemt_put_u32(struct sk_buff *skb, int type, u32 value)
{
	return nla_put_u32(skb, type, value);
}

int cakemt_put_s32(struct sk_buff *skb, int type, s32 value)
{
	return nla_put_s32(skb, type, value);
}

int cakemt_put_u64(struct sk_buff *skb, int type, u64 value, int pad)
{
	return nla_put_u64_64bit(skb, type, value, pad);
}

int cakemt_put_bytes(struct sk_buff *skb, int type, const void *data,
		     u32 len)
{
	return nla_put(skb, type, len, data);
}

int cakemt_put_flag(struct sk_buff *skb, int type)
{
	return nla_put_flag(skb, type);
}

struct nlattr *cakemt_xstats_start(struct gnet_dump *d)
{
	return nla_nest_start_noflag(d->skb, TCA_STATS_APP);
}

void cakemt_xstats_end(struct gnet_dump *d, struct nlattr *nest)
{
	nla_nest_end(d->skb, nest);
}

struct sk_buff *cakemt_xstats_skb(struct gnet_dump *d)
{
	return d->skb;
}
