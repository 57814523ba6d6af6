#!/bin/bash
# Exact accounting: a UDP burst far above a small memory limit through a slow
# link. Every packet the qdisc sent arrives, every other one is counted as a
# drop with its reason, what entered is what left, and once drained nothing
# is left in backlog or memory.

test_memlimit_drops_are_counted_exactly() {
	load_module && veth_pair || return 1
	# 200 kbit/s: 25 datagrams a second leave, fewer than the slowest
	# sender here (bash on the debug kernel) puts in.
	ns snd "$TC" qdisc add dev veth0 root cakemt bandwidth 200kbit memlimit 16kb || return 1
	local rx0 rx1 before j tries=0
	rx0=$(ns rcv cat /sys/class/net/veth1/statistics/rx_packets)
	# 2000 datagrams of 1000 bytes as fast as the socket takes them.
	ns snd bash -c 'for ((i = 0; i < 2000; i++)); do printf "%01000d" 0 >/dev/udp/10.99.0.2/9; done 2>/dev/null'
	sleep 3   # drain: 16 KB at 200 kbit/s takes under a second
	# Other traffic (neighbour discovery) may cross at any moment: take the
	# receiver's count between two identical qdisc snapshots.
	while :; do
		before=$(ns snd "$TC" -s -j qdisc show dev veth0)
		sleep 0.2
		rx1=$(ns rcv cat /sys/class/net/veth1/statistics/rx_packets)
		j=$(ns snd "$TC" -s -j qdisc show dev veth0)
		[ "$before" = "$j" ] && break
		tries=$((tries + 1))
		[ $tries -lt 10 ] || { fail "qdisc never quiet"; return 1; }
	done
	info "$(ns snd "$TC" -s qdisc show dev veth0 | tr '\n' ' ')"
	jq -r --argjson got "$((rx1 - rx0))" '.[0] as $q | [
		(if $q.drop_overlimit == 0 then "no overlimit drops: the memory limit did not bite" else empty end),
		(if $q.overlimits != $q.throttled then "overlimits \($q.overlimits) != throttled \($q.throttled)" else empty end),
		(if $q.drops != $q.drop_overlimit + $q.drop_cobalt + $q.drop_ack
			then "qdisc drops \($q.drops) != overlimit + cobalt + ack drops" else empty end),
		(if $q.received != $q.packets + $q.drops + $q.stolen + $q.qlen
			then "received \($q.received) != sent + dropped + stolen + queued" else empty end),
		(if $q.packets != $got then "sent \($q.packets) but the receiver got \($got)" else empty end),
		(if $q.qlen != 0 or $q.backlog != 0 or $q.memory_used != 0 then "not drained" else empty end)
	] as $problems
	| "  qdisc received \($q.received), sent \($q.packets), dropped \($q.drops) (overlimit \($q.drop_overlimit), cobalt \($q.drop_cobalt)); the receiver got \($got)",
	  ($problems[] | "  " + .),
	  (if ($problems | length) > 0 then error("unbalanced") else empty end)' <<<"$j" ||
		fail "accounting does not add up"
}
