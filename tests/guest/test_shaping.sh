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

check_rate() {
	local rate=$1 expected got control
	load_module || return 1
	expected=$(tcp_goodput "$rate")
	got=$(shaped_goodput cakemt "$rate") || fail "iperf3 through cakemt" || return 1
	control=$(shaped_goodput cake "$rate") || fail "iperf3 through cake" || return 1
	info "bandwidth ${rate}mbit: cakemt $got Mbit/s, cake $control Mbit/s, expected $expected Mbit/s"
	within 10 "$got" "$expected" || { fail "cakemt $got Mbit/s not within 10% of $expected"; return 1; }
	within 10 "$control" "$expected" || fail "cake (control) $control Mbit/s not within 10% of $expected"
}

test_rate_shaper_10mbit() { check_rate 10; }
test_rate_shaper_50mbit() { check_rate 50; }
