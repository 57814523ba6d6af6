// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers over static-inline kernel helpers, for cakemt's Rust
 * glue. Kept deliberately dumb: every decision is made on the Rust side.
 */
#include <linux/prefetch.h>

#include "helpers.h"

static_assert(sizeof(struct cakemt_skb_cb) <= QDISC_CB_PRIV_LEN);

struct cakemt_priv *cakemt_priv(struct Qdisc *sch)
{
	return qdisc_priv(sch);
}

u64 cakemt_now_ns(void)
{
	return ktime_get_ns();
}

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

void cakemt_skb_free(struct sk_buff *skb)
{
	kfree_skb(skb);
}

void cakemt_qdisc_enqueued(struct Qdisc *sch, const struct sk_buff *skb)
{
	qdisc_qstats_backlog_inc(sch, skb);
	sch->q.qlen++;
}

void cakemt_qdisc_dequeued(struct Qdisc *sch, const struct sk_buff *skb)
{
	qdisc_qstats_backlog_dec(sch, skb);
	sch->q.qlen--;
	qdisc_bstats_update(sch, skb);
}

void cakemt_qdisc_overlimit(struct Qdisc *sch)
{
	qdisc_qstats_overlimit(sch);
}

int cakemt_qdisc_drop(struct sk_buff *skb, struct Qdisc *sch,
		      struct sk_buff **to_free)
{
	return qdisc_drop(skb, sch, to_free);
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

/* Strict: unknown attributes and wrong sizes are refused by the core. */
static const struct nla_policy cakemt_policy[TCA_CAKEMT_MAX + 1] = {
	[TCA_CAKEMT_BASE_RATE64]	= { .type = NLA_U64 },
	[TCA_CAKEMT_MEMLIMIT]		= { .type = NLA_U32 },
};

int cakemt_parse_opts(struct nlattr **tb, struct nlattr *opt,
		      struct netlink_ext_ack *extack)
{
	return nla_parse_nested(tb, TCA_CAKEMT_MAX, opt, cakemt_policy, extack);
}

void cakemt_set_err(struct netlink_ext_ack *extack, const char *msg,
		    const struct nlattr *attr)
{
	if (extack) {
		extack->_msg = msg;
		extack->bad_attr = attr;
	}
}

u32 cakemt_nla_u32(const struct nlattr *nla)
{
	return nla_get_u32(nla);
}

u64 cakemt_nla_u64(const struct nlattr *nla)
{
	return nla_get_u64(nla);
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

int cakemt_put_u64(struct sk_buff *skb, int type, u64 value, int pad)
{
	return nla_put_u64_64bit(skb, type, value, pad);
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
