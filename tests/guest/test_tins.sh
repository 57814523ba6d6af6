#!/bin/bash
# Tins as classes, and how packets find them: filters, skb->priority,
# fwmark (skbedit and an nftables map), the default tin; class show and
# change; growing and shrinking the number of tins with packets queued;
# cakemt as a child of HTB and TBF; teardown with a backlog and an armed
# timer; bad input. Functional: these run on the debug kernel.

test_tin_selection_filters_priority_fwmark_default() {
	load_module && dummy_dev || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt tins 8 fwmark 0xf0 default-tin 7 || return 1
	# 1. A filter naming a class: .40 -> tin 5; .50 names tin 99 (past tins).
	tc_ filter add dev d0 parent 1: protocol ip prio 1 flower dst_ip 192.0.2.40 classid 1:5 || return 1
	tc_ filter add dev d0 parent 1: protocol ip prio 1 flower dst_ip 192.0.2.50 classid 1:99 || return 1
	# A filter's action drops .60.
	tc_ filter add dev d0 parent 1: protocol ip prio 1 flower dst_ip 192.0.2.60 action drop || return 1
	# 2. skb->priority: set by a filter action for .10, by the socket below.
	tc_ filter add dev d0 parent 1: protocol ip prio 2 flower dst_ip 192.0.2.10 \
		action skbedit priority 1:3 pipe action pass || return 1
	# 3. fwmark: skbedit for .20 (0x20 -> tin 2), an nftables map for .21.
	tc_ filter add dev d0 parent 1: protocol ip prio 2 flower dst_ip 192.0.2.20 \
		action skbedit mark 0x20 pipe action pass || return 1
	nft -f - <<'NFT' || { fail "nft"; return 1; }
table ip cakemt_test {
	chain out {
		type filter hook output priority 0; policy accept;
		meta mark set ip daddr map { 192.0.2.21 : 0x60 } counter
	}
}
NFT
	send_udp 192.0.2.40 5
	send_udp 192.0.2.50 5
	send_udp 192.0.2.60 5
	send_udp 192.0.2.10 5
	send_udp 192.0.2.20 5
	send_udp 192.0.2.21 5
	send_udp 192.0.2.31 5           # nothing -> default tin 7
	sleep 0.5
	nft delete table ip cakemt_test
	local got bad=0
	# Tins 5 (filter), 3 (priority), 2 (skbedit mark), 6 (nftables mark),
	# 7 (default: unclassified and misclassified).
	got=$(tins_key "" d0 packets 5 3 2 6 7)
	info "packets sent by tins 5 3 2 6 7: $got"
	[ "$got" = "5 5 5 5 10" ] || { fail "tins 5 3 2 6 7 sent $got packets, want 5 5 5 5 10"; bad=1; }
	got=$(qstat "" d0 misclassified unclassified drops)
	info "misclassified, unclassified, dropped: $got"
	[ "$got" = "5 5 5" ] || { fail "misclassified/unclassified/dropped $got, want 5 5 5"; bad=1; }
	[ $bad = 0 ] && balanced "" d0
}

test_class_show_and_change() {
	load_module && dummy_dev || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt bandwidth 100mbit tins 4 tin-bandwidth 20mbit || return 1
	local n err
	n=$(tin_count "" d0)
	[ "$n" = 4 ] || { fail "class show lists $n tins, not 4"; return 1; }
	info "$(tc_ class show dev d0 classid 1:2)"
	[ "$(tstat "" d0 2 bandwidth)" = 2500000 ] || { fail "tin 2 does not follow tin-bandwidth"; return 1; }
	tc_ class change dev d0 classid 1:2 cakemt bandwidth 80mbit weight 2 || return 1
	[ "$(tstat "" d0 2 bandwidth weight)" = "10000000 2" ] ||
		{ fail "class change: $(tc_ class show dev d0 classid 1:2)"; return 1; }
	# A new tin-bandwidth moves the tins that follow it, not tin 2.
	tc_ qdisc change dev d0 root cakemt tin-bandwidth 30mbit || return 1
	[ "$(tins_key "" d0 bandwidth 1 2)" = "3750000 10000000" ] ||
		{ fail "tin-bandwidth change: $(tc_ class show dev d0)"; return 1; }
	tc_ class change dev d0 classid 1:2 cakemt bandwidth default || return 1
	[ "$(tstat "" d0 2 bandwidth)" = 3750000 ] || { fail "bandwidth default did not follow"; return 1; }
	info "$(tc_ -s class show dev d0 classid 1:2 | tr '\n' ' ')"
	# What a tin cannot do, each refused with a message.
	# `change` of a class that does not exist is refused by the kernel
	# itself (ENOENT); `replace` reaches cakemt, which says why.
	tc_ class change dev d0 classid 1:9 cakemt bandwidth 1mbit 2>/dev/null && { fail "tin 9 of 4 changed"; return 1; }
	err=$(tc_ class replace dev d0 classid 1:9 cakemt bandwidth 1mbit 2>&1) && { fail "tin 9 of 4 replaced"; return 1; }
	info "class replace 1:9: $err"
	echo "$err" | grep -q 'no tin 9' || { fail "no message for tin 9: $err"; return 1; }
	err=$(tc_ qdisc add dev d0 parent 1:2 pfifo 2>&1) && { fail "a child qdisc was grafted"; return 1; }
	info "graft: $err"
	echo "$err" | grep -q 'hold no child qdisc' || { fail "no message for graft: $err"; return 1; }
	err=$(tc_ class del dev d0 classid 1:2 2>&1) && { fail "a tin was deleted"; return 1; }
	info "class del: $err"
	echo "$err" | grep -q 'cannot be deleted' || { fail "no message for class del: $err"; return 1; }
	err=$(tc_ filter add dev d0 parent 1:2 protocol ip matchall classid 1:1 2>&1) && { fail "filter on a tin"; return 1; }
	info "filter on a tin: $err"
}

test_tins_grow_and_shrink_keep_queued_packets() {
	load_module && dummy_dev || return 1
	# 1 kbit per tin: 40 datagrams of 142 bytes stay queued for 45 s.
	tc_ qdisc add dev d0 root handle 1: cakemt tins 8 tin-bandwidth 1kbit memlimit 4mb || return 1
	tc_ filter add dev d0 parent 1: protocol ip prio 1 flower dst_ip 192.0.2.50 classid 1:5 || return 1
	send_udp 192.0.2.50 40
	local q
	q=$(tstat "" d0 5 qlen)
	[ "$q" -ge 20 ] || { fail "tin 5 holds only $q packets"; return 1; }
	tc_ qdisc change dev d0 root cakemt tins 16 || return 1
	q=$(tstat "" d0 5 qlen)
	info "after tins 8 -> 16: tin 5 holds $q"
	[ "$q" -ge 10 ] || { fail "tin 5 lost its queue growing to 16 tins"; return 1; }
	accounted "" d0 40 || return 1
	tc_ qdisc change dev d0 root cakemt tins 4 || return 1
	q=$(tstat "" d0 4 qlen)
	info "after tins 16 -> 4: the default tin (4) holds $q"
	[ "$q" -ge 5 ] || { fail "tin 5's packets did not move to the default tin"; return 1; }
	[ "$(tin_count "" d0)" = 4 ] || { fail "not 4 tins after shrinking"; return 1; }
	accounted "" d0 40
}

# cakemt_under PARENT_SETUP...: traffic through cakemt as a child.
test_cakemt_as_child_of_htb_and_tbf() {
	local parent got
	load_module || return 1
	for parent in htb tbf; do
		veth_pair || return 1
		case $parent in
		htb)
			ip netns exec snd "$TC" qdisc add dev veth0 root handle 1: htb default 10 &&
			ip netns exec snd "$TC" class add dev veth0 parent 1: classid 1:10 htb rate 20mbit &&
			ip netns exec snd "$TC" qdisc add dev veth0 parent 1:10 handle 10: cakemt tins 2 tin-bandwidth 4mbit ;;
		tbf)
			ip netns exec snd "$TC" qdisc add dev veth0 root handle 1: tbf rate 20mbit burst 32kb latency 50ms &&
			ip netns exec snd "$TC" qdisc add dev veth0 parent 1: handle 10: cakemt tins 2 tin-bandwidth 4mbit ;;
		esac || { fail "$parent: setup"; return 1; }
		got=$(goodput_mbit 3) || { fail "$parent: no traffic through cakemt"; return 1; }
		info "cakemt (4mbit tin) under $parent: $got Mbit/s"
		le 0.01 "$got" && le "$got" 4.2 ||
			{ fail "$parent: $got Mbit/s through a 4mbit tin"; return 1; }
		balanced snd veth0 || return 1
		ip netns del snd; ip netns del rcv
	done
}

test_delete_with_backlog_and_armed_timer() {
	load_module && dummy_dev || return 1
	# 8 kbit: 200 datagrams of 142 bytes take 28 s to leave.
	tc_ qdisc add dev d0 root handle 1: cakemt tins 4 tin-bandwidth 8kbit || return 1
	send_udp 192.0.2.9 200
	local q; q=$(qstat "" d0 qlen)
	info "qlen $q when deleting"
	[ "$q" -gt 50 ] || { fail "no backlog to delete ($q)"; return 1; }
	tc_ qdisc del dev d0 root || { fail "del with backlog"; return 1; }
	tc_ qdisc add dev d0 root handle 1: cakemt tins 4 tin-bandwidth 8kbit || return 1
	send_udp 192.0.2.9 100
	tc_ qdisc replace dev d0 root handle 1: cakemt tins 2 || { fail "replace with backlog"; return 1; }
	rmmod cakemt 2>/dev/null && { fail "rmmod while in use"; return 1; }
	ip link del d0 || return 1
	rmmod cakemt || fail "rmmod after the device went"
}

test_bad_input_is_refused_and_changes_nothing() {
	load_module && dummy_dev || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt bandwidth 10mbit tins 8 tin-bandwidth 2mbit memlimit 1mb || return 1
	local before err case dir; dir=$(mktemp -d)
	before=$(tc_ qdisc show dev d0; tc_ class show dev d0)
	printf '1 5mbit\n9 1mbit\n' >"$dir/past"
	printf '1 5mbit\n2 fast\n' >"$dir/malformed"
	printf '1 5mbit 0\n' >"$dir/weight0"
	# Each: arguments, and a word the message must hold.
	while IFS='|' read -r case want; do
		# shellcheck disable=SC2086
		# (bash, not grep and head: a process start costs most of a
		# second on the debug kernel)
		err=$(tc_ $case 2>&1) && { fail "accepted: tc $case"; return 1; }
		info "tc $case: ${err%%$'\n'*}"
		[[ ${err,,} == *"${want,,}"* ]] || { fail "tc $case: message lacks '$want': $err"; return 1; }
	done <<EOF
qdisc change dev d0 root cakemt tins 0|tins
qdisc change dev d0 root cakemt tins 65536|tins
qdisc change dev d0 root cakemt default-tin 9|default-tin
qdisc change dev d0 root cakemt memlimit 100|memlimit
qdisc change dev d0 root cakemt bandwidth fast|bandwidth
qdisc change dev d0 root cakemt tin-bandwidth -1mbit|tin-bandwidth
qdisc change dev d0 root cakemt fwmark 0x1ffffffff|fwmark
qdisc change dev d0 root cakemt frobnicate|frobnicate
qdisc change dev d0 root cakemt rates $dir/past|no tin 9
qdisc change dev d0 root cakemt rates $dir/malformed|$dir/malformed:2
qdisc change dev d0 root cakemt rates $dir/weight0|weight
qdisc change dev d0 root cakemt rates $dir/missing|$dir/missing
class change dev d0 classid 1:3 cakemt weight 0|weight
class change dev d0 classid 1:3 cakemt weight 70000|weight
class change dev d0 classid 1:3 cakemt bandwidth 1mbit bandwidth default|bandwidth
class replace dev d0 classid 1:9 cakemt bandwidth 1mbit|no tin 9
class change dev d0 classid 1:9 cakemt bandwidth 1mbit|no such file
EOF
	[ "$before" = "$(tc_ qdisc show dev d0; tc_ class show dev d0)" ] ||
		{ fail "the qdisc changed: '$before' -> '$(tc_ qdisc show dev d0)'"; return 1; }
	# A failed add leaves no qdisc behind.
	tc_ qdisc del dev d0 root
	tc_ qdisc add dev d0 root cakemt tins 4 default-tin 5 2>/dev/null && { fail "add with default-tin 5 of 4"; return 1; }
	! tc_ qdisc show dev d0 | grep -q cakemt || fail "a failed add left a cakemt qdisc"
}
