#!/bin/bash
# Loading and unloading the module, and the kernel's refusal to unload it
# while a cakemt qdisc exists.

test_insmod_rmmod() {
	insmod "$CAKEMT_KO" || fail "insmod" || return 1
	lsmod | grep -q '^cakemt ' || fail "cakemt not in lsmod" || return 1
	dmesg | grep -q 'cakemt: qdisc registered' || fail "no registration message" || return 1
	rmmod cakemt || fail "rmmod" || return 1
	! lsmod | grep -q '^cakemt ' || fail "still loaded after rmmod" || return 1
	insmod "$CAKEMT_KO" || fail "second insmod" || return 1
	rmmod cakemt || fail "second rmmod"
}

test_rmmod_refused_while_in_use() {
	load_module || return 1
	ip link add d0 type dummy && ip link set d0 up
	tc_ qdisc add dev d0 root cakemt bandwidth 10mbit || fail "qdisc add" || return 1
	if rmmod cakemt 2>/dev/null; then
		fail "rmmod succeeded while a cakemt qdisc exists"
		return 1
	fi
	lsmod | grep -q '^cakemt ' || fail "module gone after refused rmmod" || return 1
	tc_ qdisc del dev d0 root || fail "qdisc del" || return 1
	rmmod cakemt || fail "rmmod after qdisc del"
}
