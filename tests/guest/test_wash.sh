#!/bin/bash
# CAKE's `wash`: cakemt clears the DSCP of what it sends, keeping the ECN
# bits, and filters still see the DSCP before it goes. Pings marked EF with
# ECT(1) (TOS 0xb9) cross a veth pair; nftables in the receiver counts them
# by DSCP and ECN. The control is the same qdisc with `nowash`, in the same
# test: the marking arrives.

# dscp_counts: "EF-with-ECT1 CS0-with-ECT1" pings counted in rcv.
dscp_counts() {
	ns rcv nft -j list chain ip wash_test in |
		jq -r '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | join(" ")'
}

test_wash_clears_dscp_and_keeps_ecn() {
	load_module && veth_pair || return 1
	ns rcv nft -f - <<'NFT' || { fail "nft"; return 1; }
table ip wash_test {
	chain in {
		type filter hook input priority 0; policy accept;
		icmp type echo-request ip dscp ef ip ecn ect1 counter
		icmp type echo-request ip dscp cs0 ip ecn ect1 counter
	}
}
NFT
	local got bad=0
	# A filter on the DSCP picks tin 2: it must see EF, washed or not.
	ns snd "$TC" qdisc add dev veth0 root handle 1: cakemt tins 2 default-tin 1 wash || return 1
	ns snd "$TC" filter add dev veth0 parent 1: protocol ip prio 1 flower ip_tos 0xb8/0xfc classid 1:2 || return 1
	ns snd ping -q -Q 0xb9 -c 5 -i 0.2 -W 2 10.99.0.2 >/dev/null || { fail "pings lost with wash"; bad=1; }
	got=$(dscp_counts)
	info "wash: arrived EF+ECT(1), CS0+ECT(1): $got; tin 2 sent $(tstat snd veth0 2 packets)"
	[ "$got" = "0 5" ] || { fail "with wash, $got (want 0 5)"; bad=1; }
	[ "$(tstat snd veth0 2 packets)" = 5 ] || { fail "the DSCP filter did not see EF"; bad=1; }
	balanced snd veth0 || bad=1
	# The control: nowash, a change of that keyword alone.
	ns snd "$TC" qdisc change dev veth0 root cakemt nowash || return 1
	ns snd ping -q -Q 0xb9 -c 5 -i 0.2 -W 2 10.99.0.2 >/dev/null || { fail "pings lost with nowash"; bad=1; }
	got=$(dscp_counts)
	info "nowash (control): $got"
	[ "$got" = "5 5" ] || { fail "with nowash, $got (want 5 5)"; bad=1; }
	[ $bad = 0 ] && balanced snd veth0
}
