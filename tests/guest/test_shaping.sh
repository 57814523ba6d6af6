#!/bin/bash
# The link shaper: TCP goodput through cakemt on a veth pair, at rates a TCG
# guest carries, next to CAKE at the same rate in the same boot (control,
# asserted too). A live re-rate is tested with a backlogged tin in
# test_scale.sh.

# shaped_goodput QDISC RATE_MBIT: goodput (Mbit/s) of one 6 s flow through
# QDISC (cakemt or cake) shaping veth0 to RATE_MBIT.
shaped_goodput() {
	veth_pair || return 1
	ip netns exec snd "$TC" qdisc add dev veth0 root "$1" bandwidth "$2"mbit || return 1
	goodput_mbit 6
	ip netns del snd; ip netns del rcv
}

# shaper_round QDISC RATE_MBIT: a round (see `rounds`) of one flow
# through QDISC at RATE_MBIT, within 10% of what the rate carries.
shaper_round() {
	local got want
	want=$(tcp_goodput "$2")
	got=$(shaped_goodput "$1" "$2") || { fail "iperf3 through $1"; return 2; }
	info "bandwidth ${2}mbit: $1 $got Mbit/s, expected $want Mbit/s"
	within 10 "$got" "$want" && return 0
	fail "$1: $got Mbit/s not within 10% of $want"
	le "$got" "$want" && return 1
	return 2
}

# check_rate RATE_MBIT: cakemt's link shaper, and CAKE's as the control.
check_rate() {
	local rc=0
	load_module || return 1
	rounds cakemt shaper_round cakemt "$1" || rc=1
	rounds "cake (control)" shaper_round cake "$1" || rc=1
	return $rc
}

test_rate_shaper_10mbit() { check_rate 10; }
# The higher rate is 30 Mbit/s, not 50: a TCG guest carries about 45 Mbit/s
# through CAKE (../shared/TOOLCHAIN.md), and at 50 both qdiscs fell below
# the 10% bound together on a slow machine (43 Mbit/s each).
test_rate_shaper_30mbit() { check_rate 30; }
