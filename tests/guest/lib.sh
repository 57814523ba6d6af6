#!/bin/bash
# Helpers for the guest tests: the patched tc, module loading, network
# namespaces joined by veth pairs, bounded iperf3 runs, and checks that say
# what they expected.

: "${CAKEMT_KO:?CAKEMT_KO must name cakemt.ko}"
: "${TC:?TC must name the patched tc}"

tc_() { "$TC" "$@"; }

# fail MESSAGE: report and return non-zero (use as `... || fail "why"`).
fail() { echo "  FAIL: $*" >&2; return 1; }

# info MESSAGE: a figure or fact worth seeing in the log.
info() { echo "  $*"; }

load_module() {
	lsmod | grep -q '^cakemt ' || insmod "$CAKEMT_KO" || fail "insmod $CAKEMT_KO"
}

# Removes everything a test may have created, so tests do not interact.
cleanup() {
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	for dev in $(ip -o link show type dummy 2>/dev/null | awk -F': ' '{print $2}'); do
		ip link del "$dev" 2>/dev/null
	done
	sleep 0.2
	lsmod | grep -q '^cakemt ' && rmmod cakemt 2>/dev/null
	true
}

# veth_pair: namespaces "snd" (10.99.0.1) and "rcv" (10.99.0.2) joined by
# a veth pair; the sender's end is "veth0" in "snd".
veth_pair() {
	ip netns add snd && ip netns add rcv || return 1
	ip link add veth0 netns snd type veth peer name veth1 netns rcv || return 1
	ip -n snd addr add 10.99.0.1/24 dev veth0
	ip -n rcv addr add 10.99.0.2/24 dev veth1
	for ns in snd rcv; do ip -n "$ns" link set lo up; done
	ip -n snd link set veth0 up && ip -n rcv link set veth1 up
}

# goodput_mbit SECONDS: one TCP flow snd -> rcv for SECONDS (bounded), prints
# the receiver's goodput in Mbit/s.
goodput_mbit() {
	local secs=$1 json
	ip netns exec rcv timeout $((secs + 20)) iperf3 -s -1 -B 10.99.0.2 >/dev/null 2>&1 &
	sleep 0.5
	json=$(ip netns exec snd timeout $((secs + 15)) iperf3 -c 10.99.0.2 -t "$secs" -J) || {
		wait; return 1; }
	wait
	python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))' <<<"$json"
}

# within PCT MEASURED EXPECTED: is MEASURED within PCT % of EXPECTED?
within() {
	python3 -c 'import sys; p,m,e=map(float,sys.argv[1:]); sys.exit(0 if abs(m-e) <= e*p/100 else 1)' "$@"
}

# TCP goodput expected at a shaped RATE_MBIT: the shaper counts whole frames
# (1514 bytes for a 1500-byte MTU: IP + Ethernet header), of which 1448 are
# TCP payload (40 bytes of IP/TCP headers and 12 of timestamps).
expected_goodput() {
	python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) * 1448 / 1514))' "$1"
}
