/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C side of cakemt's glue: the kernel's qdisc, sk_buff and netlink helpers
 * are mostly static inlines or macros, which Rust cannot call. Each wrapper
 * here is one line over the kernel helper it names; bindgen reads this
 * header (with the kernel's own flags) to give Rust the types and prototypes.
 */
#ifndef CAKEMT_HELPERS_H
#define CAKEMT_HELPERS_H

#include <linux/skbuff.h>
#include <linux/ktime.h>
#include <net/netlink.h>
#include <net/pkt_sched.h>
#include <net/sch_generic.h>
#include <net/inet_ecn.h>
#include <linux/pkt_sched_cakemt.h>

/* Sizes bindgen cannot evaluate from the uapi #defines. */
enum {
	CAKEMT_OPT_SLOTS = TCA_CAKEMT_MAX + 1,
};

/* What cakemt keeps in qdisc_priv(): the watchdog must not move (it holds an
 * hrtimer), so it lives here; the Rust state is a separate allocation. */
struct cakemt_priv {
	struct qdisc_watchdog watchdog;
	void *state;
};

/* Per-packet scratch in qdisc_skb_cb(skb)->data (QDISC_CB_PRIV_LEN bytes). */
struct cakemt_skb_cb {
	u64 enqueue_time;
	u32 adjusted_len;
};

struct cakemt_priv *cakemt_priv(struct Qdisc *sch);
u64 cakemt_now_ns(void);

/* sk_buff */
unsigned int cakemt_skb_len(const struct sk_buff *skb);
unsigned int cakemt_skb_truesize(const struct sk_buff *skb);
struct cakemt_skb_cb *cakemt_skb_cb(struct sk_buff *skb);
struct sk_buff *cakemt_skb_next(const struct sk_buff *skb);
void cakemt_skb_set_next(struct sk_buff *skb, struct sk_buff *next);
void cakemt_prefetch_range(const void *p, size_t len);
bool cakemt_skb_set_ce(struct sk_buff *skb);
void cakemt_skb_free(struct sk_buff *skb);

/* Qdisc accounting and locking */
void cakemt_qdisc_enqueued(struct Qdisc *sch, const struct sk_buff *skb);
void cakemt_qdisc_dequeued(struct Qdisc *sch, const struct sk_buff *skb);
void cakemt_qdisc_overlimit(struct Qdisc *sch);
int cakemt_qdisc_drop(struct sk_buff *skb, struct Qdisc *sch,
		      struct sk_buff **to_free);
struct sk_buff *cakemt_qdisc_peek(struct Qdisc *sch);
void cakemt_tree_lock(struct Qdisc *sch);
void cakemt_tree_unlock(struct Qdisc *sch);
void cakemt_watchdog_schedule(struct qdisc_watchdog *wd, u64 expires_ns);

/* Netlink */
int cakemt_parse_opts(struct nlattr **tb, struct nlattr *opt,
		      struct netlink_ext_ack *extack);
void cakemt_set_err(struct netlink_ext_ack *extack, const char *msg,
		    const struct nlattr *attr);
u32 cakemt_nla_u32(const struct nlattr *nla);
u64 cakemt_nla_u64(const struct nlattr *nla);
struct nlattr *cakemt_nest_start(struct sk_buff *skb, int type);
int cakemt_nest_end(struct sk_buff *skb, struct nlattr *nest);
void cakemt_nest_cancel(struct sk_buff *skb, struct nlattr *nest);
int cakemt_put_u32(struct sk_buff *skb, int type, u32 value);
int cakemt_put_u64(struct sk_buff *skb, int type, u64 value, int pad);
struct nlattr *cakemt_xstats_start(struct gnet_dump *d);
void cakemt_xstats_end(struct gnet_dump *d, struct nlattr *nest);
struct sk_buff *cakemt_xstats_skb(struct gnet_dump *d);

#endif /* CAKEMT_HELPERS_H */
