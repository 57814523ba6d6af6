#!/bin/bash
# Configuring cakemt through the patched tc: add, show, change, replace,
# delete, JSON and statistics output, and bad input refused with a message
# and nothing changed.

# qdisc_json DEV KEY: the value of KEY in the cakemt qdisc's options.
qdisc_json() {
	tc_ -j qdisc show dev "$1" | python3 -c '
import json, sys
for q in json.load(sys.stdin):
    if q.get("kind") == "cakemt":
        print(q.get("options", {}).get(sys.argv[1], "absent"))' "$2"
}

test_add_show_change_delete() {
	load_module || return 1
	ip link add d0 type dummy && ip link set d0 up
	tc_ qdisc add dev d0 root handle 1: cakemt bandwidth 10mbit || fail "add" || return 1
	tc_ qdisc show dev d0 | grep -q 'cakemt 1: root .*bandwidth 10Mbit' ||
		fail "show: $(tc_ qdisc show dev d0)" || return 1
	[ "$(qdisc_json d0 bandwidth)" = 1250000 ] ||
		fail "json bandwidth $(qdisc_json d0 bandwidth), want 1250000 bytes/s" || return 1
	tc_ qdisc change dev d0 root cakemt bandwidth 50mbit memlimit 2mb || fail "change" || return 1
	[ "$(qdisc_json d0 bandwidth)" = 6250000 ] || fail "change did not set bandwidth" || return 1
	[ "$(qdisc_json d0 memlimit)" = 2097152 ] || fail "change did not set memlimit" || return 1
	# change sends only what it names: the memlimit stays.
	tc_ qdisc change dev d0 root cakemt unlimited || fail "change unlimited" || return 1
	tc_ qdisc show dev d0 | grep -q 'unlimited' || fail "unlimited not shown" || return 1
	[ "$(qdisc_json d0 memlimit)" = 2097152 ] || fail "memlimit lost by change" || return 1
	tc_ qdisc replace dev d0 root cakemt bandwidth 20mbit || fail "replace" || return 1
	[ "$(qdisc_json d0 bandwidth)" = 2500000 ] || fail "replace did not set bandwidth" || return 1
	tc_ qdisc del dev d0 root || fail "del" || return 1
	! tc_ qdisc show dev d0 | grep -q cakemt || fail "still there after del" || return 1
	# No options at all: unlimited, automatic memory limit.
	tc_ qdisc add dev d0 root cakemt || fail "add without options" || return 1
	[ "$(qdisc_json d0 bandwidth)" = 0 ] || fail "default bandwidth not unlimited" || return 1
	tc_ qdisc show dev d0 | grep -q 'cakemt .*unlimited' || fail "show: $(tc_ qdisc show dev d0)"
}

test_stats() {
	load_module || return 1
	ip link add d0 type dummy && ip link set d0 up
	ip addr add 192.0.2.1/24 dev d0
	tc_ qdisc add dev d0 root cakemt bandwidth 100mbit || return 1
	ping -c 5 -i 0.1 -W 1 192.0.2.2 >/dev/null 2>&1   # goes out of d0, no answer
	local out
	out=$(tc_ -s qdisc show dev d0)
	info "$(echo "$out" | tr '\n' ' ')"
	echo "$out" | grep -Eq 'Sent [1-9][0-9]* bytes [1-9][0-9]* pkt' || fail "no packets counted" || return 1
	echo "$out" | grep -q 'memory used' || fail "no xstats printed" || return 1
	tc_ -s -j qdisc show dev d0 | python3 -c '
import json, sys
q = [q for q in json.load(sys.stdin) if q["kind"] == "cakemt"][0]
assert q["packets"] >= 5, q
assert q["memory_limit"] == 12500000 * 4 // 10, q  # 4 x 100 ms at the rate
assert q["base_rate"] == 12500000, q' || fail "JSON stats wrong"
}

test_bad_input_changes_nothing() {
	load_module || return 1
	ip link add d0 type dummy && ip link set d0 up
	tc_ qdisc add dev d0 root cakemt bandwidth 10mbit memlimit 1mb || return 1
	local before after err
	before=$(tc_ qdisc show dev d0)
	err=$(tc_ qdisc change dev d0 root cakemt memlimit 100 2>&1) && fail "memlimit 100 accepted" && return 1
	echo "$err" | grep -q 'memlimit must be 0 (auto) or at least 4096 bytes' ||
		fail "no extack message: $err" || return 1
	info "kernel said: $(echo "$err" | head -1)"
	err=$(tc_ qdisc change dev d0 root cakemt bandwidth fast 2>&1) && fail "bandwidth fast accepted" && return 1
	info "tc said: $(echo "$err" | head -1)"
	err=$(tc_ qdisc change dev d0 root cakemt frobnicate 2>&1) && fail "unknown keyword accepted" && return 1
	info "tc said: $(echo "$err" | head -1)"
	after=$(tc_ qdisc show dev d0)
	[ "$before" = "$after" ] || fail "qdisc changed: '$before' -> '$after'" || return 1
	# A failed add leaves no qdisc behind.
	tc_ qdisc del dev d0 root
	tc_ qdisc add dev d0 root cakemt memlimit 10 2>/dev/null && fail "add with memlimit 10 accepted" && return 1
	! tc_ qdisc show dev d0 | grep -q cakemt || fail "failed add left a cakemt qdisc"
}
