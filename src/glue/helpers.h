/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C side of cakemt's glue: the kernel's qdisc, sk_buff, classifier and
 * netlink helpers are mostly static inlines or macros, which Rust cannot
 * call. Each wrapper here is a few lines over the kernel helpers it names;
 * bindgen reads this header (with the kernel's own flags) to give Rust the
 * types and prototypes. Decisions are made on the Rust side.
 */
#ifndef CAKEMT_HELPERS_H
#define CAKEMT_HELPERS_H

#include <linux/skbuff.h>
#include <linux/ktime.h>
#include <net/netlink.h>
#include <net/pkt_sched.h>
#include <net/pkt_cls.h>
#include <net/sch_generic.h>
#include <net/inet_ecn.h>
#include <linux/pkt_sched_cakemt.h>

/* Sizes bindgen cannot evaluate from the uapi #defines. */
enum {
	CAKEMT_OPT_SLOTS = TCA_CAKEMT_MAX + 1,
	CAKEMT_CLASS_OPT_SLOTS = TCA_CAKEMT_CLASS_MAX + 1,
	CAKEMT_ERR_MSG_LEN = NETLINK_MAX_FMTMSG_LEN,
	CAKEMT_TIN_RATE_SIZE = sizeof(struct tc_cakemt_tin_rate),
	CAKEMT_PREFIX_SIZE = sizeof(struct tc_cakemt_prefix),
	CAKEMT_AF_INET = AF_INET,
	CAKEMT_AF_INET6 = AF_INET6,
	/* enqueue's answers when a filter action dropped or took the packet */
	CAKEMT_XMIT_BYPASS = NET_XMIT_SUCCESS | __NET_XMIT_BYPASS,
	CAKEMT_XMIT_STOLEN = NET_XMIT_SUCCESS | __NET_XMIT_STOLEN,
	/* errnos the kernel crate of 6.12 does not name */
	CAKEMT_EOPNOTSUPP = EOPNOTSUPP,
	CAKEMT_EMSGSIZE = EMSGSIZE,
};

/*
 * What cakemt keeps in qdisc_priv(). The watchdog holds an hrtimer and the
 * filter chain head is written by the classifier core, so neither may move:
 * they live here. The Rust state is in two separate allocations: `control`
 * (the configuration, touched only under RTNL) and `state` (the scheduler,
 * touched under the qdisc lock).
 */
struct cakemt_priv {
	struct qdisc_watchdog watchdog;
	struct tcf_proto __rcu *filter_list;
	struct tcf_block *block;
	void *control;
	void *state;
};

/* Per-packet scratch in qdisc_skb_cb(skb)->data (QDISC_CB_PRIV_LEN bytes). */
struct cakemt_skb_cb {
	u64 enqueue_time;
	u32 adjusted_len;
	u8 dscp;	/* read at enqueue, before wash; CAKEMT_DSCP_UNREAD if not */
};

/* cakemt_skb_cb.dscp of a packet whose DSCP was not read at enqueue. */
#define CAKEMT_DSCP_UNREAD 0xff

/* Hashes of a packet's flow and of its two hosts (see cakemt_skb_flow_keys). */
struct cakemt_flow_keys {
	u32 flow;
	u32 src_host;
	u32 dst_host;
};

/* A packet's addresses, network byte order (IPv4 in the first 4 bytes). */
struct cakemt_addrs {
	u8 src[16];
	u8 dst[16];
};

/* What the filters attached to the qdisc made of a packet. */
enum cakemt_cls_result {
	CAKEMT_CLS_NONE,	/* no filter, or none matched */
	CAKEMT_CLS_CLASS,	/* a filter named a class id */
	CAKEMT_CLS_SHOT,	/* an action dropped it */
	CAKEMT_CLS_STOLEN,	/* an action took it (stolen, queued, trap) */
};

struct cakemt_priv *cakemt_priv(struct Qdisc *sch);
u32 cakemt_qdisc_handle(const struct Qdisc *sch);
u64 cakemt_now_ns(void);
u32 cakemt_random_u32(void);
void *cakemt_kvcalloc(size_t n, size_t size);
void cakemt_kvfree(void *p);

/* sk_buff */
unsigned int cakemt_skb_len(const struct sk_buff *skb);
unsigned int cakemt_skb_truesize(const struct sk_buff *skb);
struct cakemt_skb_cb *cakemt_skb_cb(struct sk_buff *skb);
struct sk_buff *cakemt_skb_next(const struct sk_buff *skb);
void cakemt_skb_set_next(struct sk_buff *skb, struct sk_buff *next);
void cakemt_prefetch_range(const void *p, size_t len);
bool cakemt_skb_set_ce(struct sk_buff *skb);
void cakemt_skb_wash(struct sk_buff *skb);
u8 cakemt_skb_dscp(struct sk_buff *skb);
u32 cakemt_skb_priority(const struct sk_buff *skb);
u32 cakemt_skb_mark(const struct sk_buff *skb);
u32 cakemt_skb_network_offset(const struct sk_buff *skb);
bool cakemt_has_conntrack(void);
void cakemt_skb_flow_keys(struct sk_buff *skb, u32 seed, bool nat,
			  struct cakemt_flow_keys *out);
u32 cakemt_skb_addrs(const struct sk_buff *skb, bool nat,
		     struct cakemt_addrs *out);
u32 cakemt_skb_l3_bytes(const struct sk_buff *skb, u8 *buf, u32 len,
			u32 *l3_len);
bool cakemt_skb_gso_shape(const struct sk_buff *skb, u32 *segs, u32 *seg_len,
			  u32 *last_len);
bool cakemt_skb_is_gso(const struct sk_buff *skb);
struct sk_buff *cakemt_skb_gso_segment(struct sk_buff *skb);
void cakemt_skb_free(struct sk_buff *skb);
void cakemt_skb_consume(struct sk_buff *skb);

/* Qdisc accounting: the only places qlen, backlog and the stats move. */
void cakemt_qdisc_count_in(struct Qdisc *sch, const struct sk_buff *skb);
void cakemt_qdisc_count_out(struct Qdisc *sch, const struct sk_buff *skb);
void cakemt_qdisc_drop_queued(struct Qdisc *sch, struct sk_buff *skb,
			      struct sk_buff **to_free);
void cakemt_qdisc_drop_new(struct Qdisc *sch, struct sk_buff *skb,
			   struct sk_buff **to_free, bool count);
void cakemt_qdisc_overlimit(struct Qdisc *sch);
void cakemt_tree_reduce_backlog(struct Qdisc *sch, int n, int len);
struct sk_buff *cakemt_qdisc_peek(struct Qdisc *sch);
void cakemt_tree_lock(struct Qdisc *sch);
void cakemt_tree_unlock(struct Qdisc *sch);
void cakemt_watchdog_schedule(struct qdisc_watchdog *wd, u64 expires_ns);

/* Filters */
int cakemt_block_get(struct Qdisc *sch, struct netlink_ext_ack *extack);
void cakemt_block_put(struct Qdisc *sch);
struct tcf_block *cakemt_block(struct Qdisc *sch);
enum cakemt_cls_result cakemt_classify(struct Qdisc *sch, struct sk_buff *skb,
				       u32 *classid);

/* Classes */
void cakemt_walk(struct Qdisc *sch, struct qdisc_walker *arg, u32 classes);
void cakemt_class_set_handle(struct tcmsg *tcm, u32 classid);
int cakemt_class_dump_stats(struct gnet_dump *d, u64 bytes, u64 packets,
			    u32 drops, u32 overlimits, u32 qlen, u32 backlog);
struct nlattr *cakemt_tca_options(struct nlattr **tca);

/* Netlink */
int cakemt_parse_opts(struct nlattr **tb, struct nlattr *opt,
		      struct netlink_ext_ack *extack);
int cakemt_parse_class_opts(struct nlattr **tb, struct nlattr *opt,
			    struct netlink_ext_ack *extack);
void cakemt_set_err(struct netlink_ext_ack *extack, const char *msg,
		    const struct nlattr *attr);
u32 cakemt_nla_u32(const struct nlattr *nla);
s32 cakemt_nla_s32(const struct nlattr *nla);
u64 cakemt_nla_u64(const struct nlattr *nla);
const void *cakemt_nla_data(const struct nlattr *nla);
u32 cakemt_nla_len(const struct nlattr *nla);
struct nlattr *cakemt_nest_start(struct sk_buff *skb, int type);
int cakemt_nest_end(struct sk_buff *skb, struct nlattr *nest);
void cakemt_nest_cancel(struct sk_buff *skb, struct nlattr *nest);
int cakemt_put_u32(struct sk_buff *skb, int type, u32 value);
int cakemt_put_s32(struct sk_buff *skb, int type, s32 value);
int cakemt_put_u64(struct sk_buff *skb, int type, u64 value, int pad);
int cakemt_put_flag(struct sk_buff *skb, int type);
int cakemt_put_bytes(struct sk_buff *skb, int type, const void *data,
		     u32 len);
struct nlattr *cakemt_xstats_start(struct gnet_dump *d);
void cakemt_xstats_end(struct gnet_dump *d, struct nlattr *nest);
struct sk_buff *cakemt_xstats_skb(struct gnet_dump *d);

#endif /* CAKEMT_HELPERS_H */
