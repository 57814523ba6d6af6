#!/bin/bash
# Bursts (`burst RATE threshold RATE time TIME`): a host whose tin follows
# tin-bandwidth sends at the burst rate for the burst time, then at its
# rate; so does a tin with a rate and a burst of its own (`tc class change
# ... burst`). The control is the same host, the same boot, without a
# burst: its first seconds run at its rate, so what the burst test sees is
# the burst and not TCP's start. Functional: a tin's own burst, none and
# default, printed back; refusals change nothing; 16 different bursts at
# most, shared by equal ones, freed by tins that go.

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
	# A rate of its own leaves the qdisc's bursts behind; a burst of its
	# own (the same numbers) brings them back.
	ns rtr "$TC" class change dev up0 classid 1:1 cakemt bandwidth 1mbit burst 3mbit time 4s || return 1
	rounds "own rate, own burst" burst_round "own rate, own burst" "$(tcp_goodput 3)" "$dir" 9 || rc=1
	# Seconds 6-9 after the burst show the rate; the control shows the
	# first seconds are not the burst's by accident.
	ns rtr "$TC" class change dev up0 classid 1:1 cakemt burst none || return 1
	rounds "no burst (control)" burst_round "no burst (control)" "$(tcp_goodput 1)" "$dir" 9 || rc=1
	balanced rtr up0 || rc=1
	return $rc
}

# burst_of DEV TIN: the tin's burst settings from JSON ("burst threshold
# time_ms", absent where not printed).
burst_of() { tstat "" "$1" "$2" burst burst_threshold burst_time_ms; }

test_tin_burst_settings_refusals_and_the_table() {
	load_module && dummy_dev || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt tins 20 tin-bandwidth 1mbit || return 1
	local got bad=0 out i
	tc_ class change dev d0 classid 1:1 cakemt burst 3mbit time 4s || return 1
	tc_ class change dev d0 classid 1:2 cakemt burst none || return 1
	got="$(burst_of d0 1) / $(burst_of d0 2) / $(burst_of d0 3)"
	info "tins 1, 2, 3: $got"
	[ "$got" = "375000 125000 4000 / none absent absent / default absent absent" ] || { fail "bursts $got"; bad=1; }
	tc_ class show dev d0 classid 1:1 | grep -q ' burst 3Mbit threshold 1Mbit time 4s' ||
		{ fail "class show: $(tc_ class show dev d0 classid 1:1)"; bad=1; }
	# Refusals change nothing, the rate given with them included.
	local before; before=$(tc_ class show dev d0 classid 1:4)
	out=$(tc_ class change dev d0 classid 1:4 cakemt bandwidth 2mbit burst 1mbit 2>&1) && { fail "a burst below the rate was taken"; bad=1; }
	[[ $out == *"must be above its threshold 250000 B/s"* ]] || { fail "refusal said: $out"; bad=1; }
	[ "$(tc_ class show dev d0 classid 1:4)" = "$before" ] || { fail "the refused change changed tin 4: $(tc_ class show dev d0 classid 1:4)"; bad=1; }
	for args in "threshold 1mbit" "burst default time 1s" "burst none threshold 1mbit" "burst 0" "burst 2mbit time 0s"; do
		out=$(tc_ class change dev d0 classid 1:4 cakemt $args 2>&1) && { fail "tc took '$args'"; bad=1; }
		info "'$args': $out"
	done
	# 16 different bursts fill the table (tin 1 changes its own in place);
	# an equal one shares, a 17th is refused until one is let go.
	for i in $(seq 1 16); do echo "class change dev d0 classid 1:$(printf %x "$i") cakemt burst $((i + 1))mbit"; done |
		tc_ -batch - || { fail "16 bursts refused"; bad=1; }
	out=$(tc_ class change dev d0 classid 1:11 cakemt burst 40mbit 2>&1) && { fail "a 17th burst was taken"; bad=1; }
	[[ $out == *"16 different tin bursts are in use"* ]] || { fail "17th refusal said: $out"; bad=1; }
	[ "$(burst_of d0 17)" = "default absent absent" ] || { fail "the refused tin 17 has $(burst_of d0 17)"; bad=1; }
	tc_ class change dev d0 classid 1:11 cakemt burst 5mbit || { fail "a burst equal to tin 4's was refused"; bad=1; }
	# Tins 13..16 go with a shrink and free their entries: four new bursts
	# fit on the tins that come back, a fifth does not.
	tc_ qdisc change dev d0 root cakemt tins 12 && tc_ qdisc change dev d0 root cakemt tins 20 || return 1
	[ "$(burst_of d0 13)" = "default absent absent" ] || { fail "a new tin 13 has $(burst_of d0 13)"; bad=1; }
	for i in 13 14 15 16; do
		tc_ class change dev d0 classid 1:$(printf %x $i) cakemt burst $((i + 30))mbit || { fail "burst for tin $i refused after the shrink"; bad=1; }
	done
	tc_ class change dev d0 classid 1:11 cakemt burst 60mbit 2>/dev/null && { fail "a 17th burst was taken after the shrink"; bad=1; }
	# burst default lets go: now the 17th fits.
	tc_ class change dev d0 classid 1:1 cakemt burst default || return 1
	tc_ class change dev d0 classid 1:11 cakemt burst 60mbit || { fail "no room after burst default"; bad=1; }
	[ "$(burst_of d0 1)" = "default absent absent" ] || { fail "tin 1 has $(burst_of d0 1)"; bad=1; }
	send_udp 192.0.2.9 3
	[ $bad = 0 ] && balanced "" d0
}
