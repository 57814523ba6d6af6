#!/bin/bash
# The link shaper: TCP goodput through cakemt on a veth pair, at rates a TCG
# guest carries, next to CAKE at the same rate in the same boot (control).

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
	expected=$(expected_goodput "$rate")
	got=$(shaped_goodput cakemt "$rate") || fail "iperf3 through cakemt" || return 1
	control=$(shaped_goodput cake "$rate") || fail "iperf3 through cake" || return 1
	info "bandwidth ${rate}mbit: cakemt $got Mbit/s, cake $control Mbit/s, expected $expected Mbit/s"
	within 10 "$got" "$expected" || fail "cakemt $got Mbit/s not within 10% of $expected"
}

test_shaper_10mbit() { check_rate 10; }
test_shaper_50mbit() { check_rate 50; }

test_rerate_under_load_drops_nothing() {
	load_module || return 1
	veth_pair || return 1
	ip netns exec snd "$TC" qdisc add dev veth0 root cakemt bandwidth 10mbit || return 1
	ip netns exec rcv timeout 30 iperf3 -s -1 -B 10.99.0.2 >/dev/null 2>&1 &
	sleep 0.5
	ip netns exec snd timeout 25 iperf3 -c 10.99.0.2 -t 6 >/dev/null 2>&1 &
	sleep 2
	local d1 d2
	d1=$(ip netns exec snd "$TC" -s -j qdisc show dev veth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["drops"])')
	ip netns exec snd "$TC" qdisc change dev veth0 root cakemt bandwidth 20mbit || return 1
	ip netns exec snd "$TC" qdisc change dev veth0 root cakemt bandwidth 5mbit || return 1
	d2=$(ip netns exec snd "$TC" -s -j qdisc show dev veth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["drops"])')
	wait
	info "drops before re-rate $d1, after $d2"
	[ "$d1" = "$d2" ] || fail "re-rate dropped packets ($d1 -> $d2)"
}
