#!/bin/bash
# Latency and fairness under load with flent (issue #15), in the same boot
# as the pktgen figures; sourced by bench.sh after bench_lib.sh.
#
# Method, fixed before any figure was looked at: the star of the guest
# tests (lib.sh's `star`: hosts h1..hN, a router, a server), every host
# with the same upload rate and the uplink at their sum, so that every
# host should get its own rate. Each contender shapes the uploads on the
# router's uplink (one CAKE per host: on each host's own veth). The
# server's downloads, which rrul also makes, pass one CAKE at the link
# rate on the server's side, alike for every contender, so that no
# unshaped TCP flow eats the TCG guest. Per contender and test: host 1's
# idle ping to the server (20 pings), then host 1 runs the flent test
# against the server for FLENT_SECS while the other hosts send two TCP
# uploads each (iperf3). flent's data file (.flent.gz) goes to the results
# directory with the other hosts' iperf3 server logs; the report reads
# host 1's goodput and its ping under load from the first, and the other
# hosts' goodput in the same seconds from the others.

# Rates scaled to what a TCG guest carries (../shared/TOOLCHAIN.md), in the
# issue's proportions: every host the same rate, the link their sum.
FLENT_HOSTS=4
FLENT_RATE=5mbit
FLENT_LINK=20mbit
FLENT_CONTENDERS="cakemt htb_fq_codel htb_cake cake_per_host cake"
FLENT_TESTS="rrul tcp_nup"

# flent_error CONTENDER WHAT: a flent run that produced no figure says why.
flent_error() {
	bench_emit "{\"kind\":\"flent_error\",\"contender\":\"$1\",\"what\":\"${2//\"/\'}\"}"
	echo "  bench: flent, $1: $2" >&2
}

# ---- the contenders, on the uplink (uploads from host i, 10.0.i.2) ----

# flent_flower CLASSID_MAJOR: a flower filter per host on the uplink.
flent_flower() {
	local h
	for ((h = 1; h <= FLENT_HOSTS; h++)); do
		echo "filter add dev up0 parent 1: protocol ip prio 1 flower src_ip 10.0.$h.2 classid 1:$h"
	done | ns rtr "$TC" -batch -
}

# With diffserv4 in every tin: the classes of HTB+CAKE's diffserv4 leaves,
# which rrul's marked flows (EF, CS1, CS5) reach.
flent_qdisc_cakemt() {
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth $FLENT_LINK \
		tins $FLENT_HOSTS tin-bandwidth $FLENT_RATE diffserv4 && flent_flower
}

# flent_htb LEAF...: HTB, a class per host at its rate with a LEAF each.
flent_htb() {
	local h
	{
		echo "qdisc add dev up0 root handle 1: htb"
		echo "class add dev up0 parent 1: classid 1:ffff htb rate $FLENT_LINK ceil $FLENT_LINK quantum 1514"
		for ((h = 1; h <= FLENT_HOSTS; h++)); do
			echo "class add dev up0 parent 1:ffff classid 1:$h htb rate $FLENT_RATE ceil $FLENT_RATE quantum 1514"
			echo "qdisc add dev up0 parent 1:$h handle $((h + 1)): $*"
		done
	} | ns rtr "$TC" -batch - && flent_flower
}
flent_qdisc_htb_fq_codel() { flent_htb fq_codel; }
flent_qdisc_htb_cake() { flent_htb cake diffserv4; }

flent_qdisc_cake_per_host() {
	local h
	for ((h = 1; h <= FLENT_HOSTS; h++)); do
		ns h$h "$TC" qdisc add dev eth0 root cake bandwidth $FLENT_RATE diffserv4 || return 1
	done
}

flent_qdisc_cake() { ns rtr "$TC" qdisc add dev up0 root cake bandwidth $FLENT_LINK; }

# flent_clear: every contender's qdiscs gone (the star stays).
flent_clear() {
	local h
	ns rtr "$TC" qdisc del dev up0 root 2>/dev/null
	for ((h = 1; h <= FLENT_HOSTS; h++)); do
		ns h$h "$TC" qdisc del dev eth0 root 2>/dev/null
	done
	return 0
}

# ---- one run ----

# flent_idle_ms: host 1's median ping to the server with nothing queued.
flent_idle_ms() {
	ns h1 ping -n -c 20 -i 0.2 -W 2 10.0.0.2 | awk -F'time=' 'NF > 1 { split($2, a, " "); print a[1] }' |
		sort -g | awk '{ v[++n] = $1 } END { if (!n) exit 1; printf "%.3f\n", (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) }'
}

# flent_load_started: waits (up to 60 s) for host 1's first netperf, which
# flent starts when its load begins, after its own start (seconds of
# Python imports under TCG) and its idle delay.
flent_load_started() {
	local i p
	for ((i = 0; i < 300; i++)); do
		for p in $(ip netns pids h1); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = netperf ] && return 0
		done
		sleep 0.2
	done
	return 1
}

# flent_run C TEST SECS OUT: one flent TEST through contender C (built).
# The other hosts start their uploads when host 1's load starts and send
# for 3 s longer; their servers' per-second receive counts
# (flent-C-TEST-hN.json) let the report take their goodput in the same
# window as host 1's.
flent_run() {
	local c=$1 test=$2 secs=$3 out=$4 idle dir f h fpid pids=() others=() file args=()
	idle=$(flent_idle_ms) || { flent_error "$c" "no idle ping through $c"; return 1; }
	dir=$(mktemp -d)
	for ((h = 2; h <= FLENT_HOSTS; h++)); do
		ns srv timeout $((secs + 150)) iperf3 -s -1 -J -p $((5200 + h)) >"$dir/h$h.json" 2>/dev/null &
		pids+=($!)
	done
	[ "$test" = tcp_nup ] && args=(--test-parameter upload_streams=4)
	# flent starts its tools and stops them itself; bounded all the same.
	ns h1 timeout $((secs + 120)) "$FLENT" "$test" -H 10.0.0.2 -l "$secs" "${args[@]}" \
		-D "$dir" -t "$c" >"$dir/flent.log" 2>&1 &
	fpid=$!
	if flent_load_started; then
		for ((h = 2; h <= FLENT_HOSTS; h++)); do
			ns h$h timeout $((secs + 30)) iperf3 -c 10.0.0.2 -p $((5200 + h)) -P 2 -t $((secs + 3)) \
				>/dev/null 2>&1 &
			pids+=($!)
		done
	else
		flent_error "$c" "flent $test started no netperf within 60 s"
	fi
	wait $fpid || flent_error "$c" "flent $test failed: $(tail -3 "$dir/flent.log" | tr '\n"' "  ")"
	# A server whose client never came is stopped by its bound.
	wait "${pids[@]}"
	f=$(ls "$dir"/*.flent.gz 2>/dev/null | head -1)
	if [ -z "$f" ]; then
		rm -rf "$dir"
		flent_error "$c" "flent $test wrote no data file"
		return 1
	fi
	file="flent-$c-$test"
	cp "$f" "$out/$file.flent.gz" || { rm -rf "$dir"; flent_error "$c" "cannot write $out/$file.flent.gz"; return 1; }
	for ((h = 2; h <= FLENT_HOSTS; h++)); do
		cp "$dir/h$h.json" "$out/$file-h$h.json" && others+=("\"$file-h$h.json\"")
	done
	rm -rf "$dir"
	bench_emit "{\"kind\":\"flent\",\"contender\":\"$c\",\"test\":\"$test\",\"file\":\"$file.flent.gz\",\"secs\":$secs,\"hosts\":$FLENT_HOSTS,\"rate\":\"$FLENT_RATE\",\"link\":\"$FLENT_LINK\",\"idle_ms\":$idle,\"others\":[$(IFS=,; echo "${others[*]}")]}"
}

# flent_all SECS OUT: every test through every contender; non-zero if any
# produced no figures (the others still run).
flent_all() {
	local secs=$1 out=$2 c t rc=0
	echo "  bench: flent, $FLENT_HOSTS hosts at $FLENT_RATE, link $FLENT_LINK, $secs s per test"
	[ -d "$out" ] && [ -w "$out" ] || { flent_error all "no writable results directory '$out'"; return 1; }
	star $FLENT_HOSTS || { flent_error all "cannot build the star"; return 1; }
	ns srv "$TC" qdisc add dev eth0 root cake bandwidth $FLENT_LINK || rc=1
	ns srv netserver -4 >/dev/null 2>&1 || { flent_error all "netserver did not start"; rc=1; }
	ns srv timeout $((secs * 20 + 600)) irtt server >/dev/null 2>&1 &
	for c in $FLENT_CONTENDERS; do
		flent_clear
		if ! "flent_qdisc_$c"; then
			flent_error "$c" "building $c failed"
			rc=1
			continue
		fi
		for t in $FLENT_TESTS; do
			flent_run "$c" "$t" "$secs" "$out" || rc=1
		done
	done
	flent_clear
	cleanup
	return $rc
}
