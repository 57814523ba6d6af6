#!/bin/bash
# Per-host rates through cakemt, measured with real TCP in namespaces (a
# star: hosts -> router with cakemt on its uplink -> server), each next to
# a reference qdisc at the same rates in the same boot, whose figures are
# asserted too: a control that is only printed cannot catch a broken
# harness; both always run, so a failure shows which side fell short.
# Rates are scaled to what a TCG guest carries (a star has two forwarding
# hops: at 28 Mbit/s in all both cakemt and HTB+CAKE fell 7-10% short on a
# one-vCPU guest), keeping the issue's ratios; goodput is compared with the
# rate times 1448/1514 (TCP payload per shaped frame). Every measurement,
# cakemt's and the control's alike, runs in rounds (`rounds` in lib.sh): a
# round that fell short is repeated, up to three, one that went over fails.

# by_src TIN...: a flower filter per host i sending to tin TIN_i, on the
# router's uplink (tc's classid, so it works for cakemt and HTB alike).
by_src() {
	local i=1 t
	for t in "$@"; do
		ns rtr "$TC" filter add dev up0 parent 1: protocol ip prio 1 \
			flower src_ip 10.0.$i.2 classid 1:$t || return 1
		i=$((i + 1))
	done
}

# check_goodputs WHAT PCT DIR HOST:RATE_MBIT...: each host's goodput is
# within PCT % of what its rate carries. Returns 1 if a host fell short
# (and none went over), 2 if one went over: see `rounds` in lib.sh.
check_goodputs() {
	local what=$1 pct=$2 dir=$3 spec h rate got want rc=0
	shift 3
	for spec in "$@"; do
		h=${spec%%:*}; rate=${spec##*:}
		got=$(goodput "$dir/$h.json") || return 1
		want=$(tcp_goodput "$rate")
		info "$what: $h at ${rate}mbit: $got Mbit/s (expected $want)"
		within "$pct" "$got" "$want" && continue
		fail "$what: $h got $got, not within $pct% of $want"
		if le "$got" "$want"; then [ $rc = 2 ] || rc=1; else rc=2; fi
	done
	return $rc
}

# measure WHAT PCT SECS DIR "HOST:FLOWS..." "HOST:RATE_MBIT...": `flows`
# for SECS seconds, then check_goodputs, in rounds (lib.sh).
measure() { rounds "$1" measure_round "$@"; }
measure_round() {
	# shellcheck disable=SC2086
	flows "$3" "$4" $5
	check_goodputs "$1" "$2" "$4" $6
}

# htb_cake NS DEV LINK_MBIT RATE_MBIT...: the LibreQoS layout as control on
# DEV in namespace NS, one HTB class 1:i at RATE_i with a CAKE leaf, under
# a LINK_MBIT root class. Each class may burst 15 KB (ten full frames):
# with tc's default (one frame and a tick's worth) a low-rate class lost
# the credit of every late wake-up of this TCG guest's timers and ran
# short (2 Mbit/s: 1.46-1.71 of 1.913), which made the control weaker
# than HTB as operators run it.
htb_cake() {
	local n=$1 dev=$2 link=$3 i=1 r
	shift 3
	# Replacing handle 1: with another kind is refused ("Invalid qdisc
	# name"): the old root goes first, and its filters with it.
	ns "$n" "$TC" qdisc del dev "$dev" root 2>/dev/null
	ns "$n" "$TC" qdisc add dev "$dev" root handle 1: htb || return 1
	ns "$n" "$TC" class add dev "$dev" parent 1: classid 1:100 htb rate "${link}mbit" || return 1
	for r in "$@"; do
		ns "$n" "$TC" class add dev "$dev" parent 1:100 classid 1:$i htb rate "${r}mbit" ceil "${r}mbit" burst 15k cburst 15k || return 1
		ns "$n" "$TC" qdisc add dev "$dev" parent 1:$i cake besteffort || return 1
		i=$((i + 1))
	done
}

test_rate_flower_hosts_get_their_tin_rates() {
	local dir rc=0; dir=$(mktemp -d)
	load_module && star 3 || return 1
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth 20mbit tins 3 || return 1
	ns rtr "$TC" class change dev up0 classid 1:1 cakemt bandwidth 2mbit || return 1
	ns rtr "$TC" class change dev up0 classid 1:2 cakemt bandwidth 4mbit || return 1
	ns rtr "$TC" class change dev up0 classid 1:3 cakemt bandwidth 8mbit || return 1
	by_src 1 2 3 || return 1
	measure cakemt 5 8 "$dir" "h1:1 h2:1 h3:1" "h1:2 h2:4 h3:8" || rc=1
	balanced rtr up0 || rc=1
	htb_cake rtr up0 20 2 4 8 && by_src 1 2 3 || return 1
	# With tc's default HTB burst the 2 Mbit/s class gave 1.51-1.71 of
	# 1.913 (the 4 and 8 Mbit/s classes within 1%); with htb_cake's 15 KB
	# burst 1.925. The control's bound, set for the short class, stays
	# looser than cakemt's.
	measure "htb+cake (control)" 20 8 "$dir" "h1:1 h2:1 h3:1" "h1:2 h2:4 h3:8" || rc=1
	return $rc
}

# shared_equally WHAT DIR: 12 s of one flow from each of h1..h4, which
# must share an 8 Mbit/s link equally (a round: 0, 1 short, 2 over).
shared_equally() {
	local what=$1 dir=$2 got sum rc=0
	flows 12 "$dir" h1:1 h2:1 h3:1 h4:1
	check_goodputs "$what" 10 "$dir" h1:2 h2:2 h3:2 h4:2 || rc=$?
	got=$(for h in 1 2 3 4; do goodput "$dir/h$h.json"; done)
	sum=$(echo $got | awk '{ print $1 + $2 + $3 + $4 }')
	info "$what: link $sum Mbit/s (expected $(tcp_goodput 8)), Jain's index over 4 hosts $(jain $got)"
	if ! within 5 "$sum" "$(tcp_goodput 8)"; then
		fail "$what: the link carried $sum"
		if le "$sum" "$(tcp_goodput 8)"; then [ $rc = 2 ] || rc=1; else rc=2; fi
	fi
	# (A starved guest can make one flow lag: unfair rounds are repeated.)
	within 2 "$(jain $got)" 1 || { fail "$what: Jain's index $(jain $got) below 0.98"; [ $rc = 2 ] || rc=1; }
	return $rc
}

test_rate_congested_link_is_shared_equally() {
	local dir rc=0; dir=$(mktemp -d)
	load_module && star 4 || return 1
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth 8mbit tins 4 || return 1
	by_src 1 2 3 4 || return 1
	# Four TCP flows competing for 12 s at 2 Mbit/s each wander a few per
	# cent either way (over 8 s: up to 8%, CAKE as well as cakemt): each host within 10%, the
	# link within 5%, Jain's index at least 0.98.
	rounds cakemt shared_equally cakemt "$dir" || rc=1
	ns rtr "$TC" qdisc replace dev up0 root cake bandwidth 8mbit dual-srchost || return 1
	rounds "cake dual-srchost (control)" shared_equally "cake dual-srchost (control)" "$dir" || rc=1
	return $rc
}

test_rate_weights_share_a_congested_link() {
	local dir rc=0; dir=$(mktemp -d)
	load_module && star 2 || return 1
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth 8mbit tins 2 || return 1
	ns rtr "$TC" class change dev up0 classid 1:2 cakemt weight 3 || return 1
	by_src 1 2 || return 1
	measure "cakemt weights 1:3" 10 8 "$dir" "h1:2 h2:2" "h1:2 h2:6" || rc=1
	# Control: HTB children at 2 and 6 Mbit under an 8 Mbit parent.
	htb_cake rtr up0 8 2 6 && by_src 1 2 || return 1
	measure "htb 2:6 (control)" 10 8 "$dir" "h1:2 h2:2" "h1:2 h2:6" || rc=1
	return $rc
}

test_rate_cake_queueing_inside_each_tin() {
	local dir got rc=0; dir=$(mktemp -d)
	load_module && star 2 || return 1
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth 20mbit tins 2 tin-bandwidth 5mbit || return 1
	by_src 1 2 || return 1
	# 8 flows against 1: each host still gets its own tin's rate.
	measure "cakemt 8 flows vs 1" 5 8 "$dir" "h1:8 h2:1" "h1:5 h2:5" || rc=1
	# 4 flows in one tin share it fairly (CAKE's flow queueing).
	rounds "cakemt: 4 flows in one tin" four_flows_share_a_tin "$dir" || rc=1
	htb_cake rtr up0 20 5 5 && by_src 1 2 || return 1
	measure "htb+cake 8 flows vs 1 (control)" 5 8 "$dir" "h1:8 h2:1" "h1:5 h2:5" || rc=1
	return $rc
}

# four_flows_share_a_tin DIR: a round of h1's 4 flows in its 5 Mbit/s tin.
four_flows_share_a_tin() {
	local got
	flows 8 "$1" h1:4
	got=$(stream_goodputs "$1/h1.json")
	info "cakemt: 4 flows in one 5mbit tin: $got Mbit/s, Jain $(jain $got)"
	within 5 "$(jain $got)" 1 || { fail "4 flows in one tin: Jain below 0.95 ($got)"; return 1; }
}

# median_rtt NS DST COUNT [TOS]: median ping RTT in ms (pings with the IP
# TOS byte TOS).
median_rtt() {
	ns "$1" ping -c "$3" -i 0.2 -W 2 ${4:+-Q "$4"} "$2" | sed -n 's/.*time=\([0-9.]*\).*/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
			else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# loaded_rtt QDISC...: with QDISC on the uplink, the median RTT of a ping
# (TOS byte $TOS if set) from h1 while h1 uploads with 4 flows.
loaded_rtt() {
	local dir rtt; dir=$(mktemp -d)
	ns rtr "$TC" qdisc replace dev up0 root "$@" || return 1
	flows 12 "$dir" h1:4 &
	sleep 4
	rtt=$(median_rtt h1 10.0.0.2 25 "${TOS:-}")
	wait
	echo "$rtt"
}

test_rate_ping_stays_fast_during_own_upload() {
	local idle ours cake fifo
	load_module && star 1 || return 1
	idle=$(median_rtt h1 10.0.0.2 10)
	ours=$(loaded_rtt handle 1: cakemt bandwidth 10mbit) || return 1
	cake=$(loaded_rtt cake bandwidth 10mbit besteffort) || return 1
	# A deep FIFO at the same rate: proves the upload does build a queue.
	fifo=$(loaded_rtt tbf rate 10mbit burst 16kb limit 600kb) || return 1
	info "median ping RTT: idle $idle ms; under own 4-flow upload: cakemt $ours, cake $cake, tbf fifo $fifo ms"
	# COBALT's target is 5 ms: "a few targets" above idle.
	local bound; bound=$(awk -v i="$idle" 'BEGIN { print i + 15 }')
	le "$ours" "$bound" || { fail "cakemt: ping $ours ms under load, idle $idle"; return 1; }
	le "$cake" "$bound" || { fail "cake (control): ping $cake ms under load"; return 1; }
	le "$(awk -v i="$idle" 'BEGIN { print i + 100 }')" "$fifo" ||
		fail "fifo (control): ping only $fifo ms: the load built no queue"
}
