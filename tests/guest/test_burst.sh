#!/bin/bash
# Bursts (`burst RATE threshold RATE time TIME`): a host whose tin follows
# tin-bandwidth sends at the burst rate for the burst time, then at its
# rate. The control is the same host, the same boot, without a burst: its
# first seconds run at its rate, so what the burst test sees is the burst
# and not TCP's start.

# interval_goodputs NS SECS FILE: one TCP upload from NS to the server for
# SECS seconds; the server's per-second goodputs (Mbit/s), one per line.
interval_goodputs() {
	local n=$1 secs=$2 f=$3
	ns srv timeout $((secs + 20)) iperf3 -s -1 -J -p 5300 >"$f" 2>/dev/null &
	local srv=$!
	sleep 0.5
	ns "$n" timeout $((secs + 15)) iperf3 -c 10.0.0.2 -p 5300 -t "$secs" >/dev/null 2>&1
	wait $srv
	jq -r '.intervals[].sum.bits_per_second / 1e6 | . * 1000 | round / 1000' "$f"
}

# mean_of FROM TO: mean of lines FROM..TO (1-based) of stdin.
mean_of() { awk -v a="$1" -v b="$2" 'NR >= a && NR <= b { s += $1; n++ } END { printf "%.3f\n", n ? s / n : 0 }'; }

# burst_round WHAT WANT_EARLY DIR GAP: GAP seconds quiet, then one upload
# of 9 s; seconds 1..3 must be within 15% of WANT_EARLY, seconds 6..9
# within 10% of 1 Mbit/s (a round: 0, 1 short, 2 over; see `rounds` in
# lib.sh).
burst_round() {
	local what=$1 want_early=$2 dir=$3 gap=$4 g early late rc=0
	sleep "$gap"
	g=$(interval_goodputs h1 9 "$dir/srv.json")
	early=$(echo "$g" | mean_of 1 3)
	late=$(echo "$g" | mean_of 6 9)
	info "$what: seconds 1-3 $early Mbit/s (expected $want_early), 6-9 $late (expected $(tcp_goodput 1)); per second: $(echo $g)"
	for spec in "$early:$want_early:15" "$late:$(tcp_goodput 1):10"; do
		IFS=: read -r got want pct <<<"$spec"
		within "$pct" "$got" "$want" && continue
		fail "$what: $got Mbit/s, not within $pct% of $want"
		if le "$got" "$want"; then [ $rc = 2 ] || rc=1; else rc=2; fi
	done
	return $rc
}

test_rate_burst_then_back_to_the_rate() {
	local dir rc=0; dir=$(mktemp -d)
	load_module && star 1 || return 1
	# 1 Mbit/s per host, bursting at 3 Mbit/s for 4 s (threshold: the
	# rate). Credit comes back at the threshold rate: after a full burst,
	# in 4 s x (3 - 1) / 1 = 8 s of quiet, so each round waits 9 s first.
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth 20mbit tins 2 \
		tin-bandwidth 1mbit burst 3mbit time 4s default-tin 1 || return 1
	ns rtr "$TC" qdisc show dev up0 | grep -q 'burst 3Mbit' || { fail "no burst in: $(ns rtr "$TC" qdisc show dev up0)"; return 1; }
	rounds "cakemt burst" burst_round "cakemt burst" "$(tcp_goodput 3)" "$dir" 9 || rc=1
	# Seconds 6-9 after the burst show the rate; the control shows the
	# first seconds are not the burst's by accident.
	ns rtr "$TC" qdisc change dev up0 root cakemt burst none || return 1
	rounds "no burst (control)" burst_round "no burst (control)" "$(tcp_goodput 1)" "$dir" 9 || rc=1
	balanced rtr up0 || rc=1
	return $rc
}
