#!/bin/bash
# The benchmark harness (tests/bench/guest, run whole by `cargo xtask
# bench`) at its smallest, so that it cannot rot: 10 hosts, a few seconds
# of pktgen per contender, one short flent test through cakemt. What can
# fail is asserted, not the figures: every contender was built and produced
# samples, its qdisc saw every packet pktgen sent and holds none after,
# every rate change went through, no contender is faster than noqueue
# beyond noise, flent wrote a data file with pings and upload goodput in
# it, and the kernel said nothing. (A test_rate_ one: it needs the lean
# kernel's speed.)

# The median time per packet, ns, of each contender's counted samples, as
# "name ns" lines, from the BENCH lines in FILE.
bench_smoke_medians() {
	jq -rs 'def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		[.[] | select(.kind == "sample" and .round > 0)] | group_by(.contender)[]
		| "\(.[0].contender) \([.[] | 1e9 / .pps] | median | round)"' "$1"
}

# bench_smoke_problems FILE: a line for everything that went wrong.
bench_smoke_problems() {
	jq -rs '(.[] | select(.kind == "config")) as $cfg
		| ($cfg.contenders | split(" ")) as $all
		| (.[] | select(.kind == "error" or .kind == "skip" or .kind == "flent_error") | "\(.contender): \(.what // .reason)"),
		  (if any(.[]; .kind == "flent" and .contender == "cakemt" and (.others | length) == .hosts - 1)
		   then empty else "no flent run through cakemt with every other host'"'"'s log" end),
		  (.[] | select(.kind == "check" and .ok != true) | "\(.contender): \(.why)"),
		  ($all[] as $c | [.[] | select(.kind == "sample" and .round > 0 and .contender == $c and .pps > 0)] | length
		   | select(. < $cfg.rounds) | "\($c): \(.) of \($cfg.rounds) samples"),
		  ($all[] as $c | [.[] | select(.kind == "check" and .contender == $c)] | length | select(. != 1)
		   | "\($c): \(.) checks, not 1"),
		  ((["htb_fq_codel", "htb_cake", "htb_mq_cake", "cake_per_host", "cakemt_prio", "cakemt_prio_ds4", "cakemt_bpf", "cakemt_flower", "cakemt_fwmark", "cakemt_auto"] - [.[] | select(.kind == "change") | .contender])[]
		   | "\(.): no rate change"),
		  (if any(.[]; .kind == "done" and .ok == true) then empty else "the run did not finish" end),
		  (if any(.[]; .kind == "dmesg" and .ok == true) then empty else "the kernel reported a fault" end)' "$1"
}

test_rate_bench_smoke() {
	local here out json dir problems floor c t f rc=0
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	out=$(mktemp); json=$(mktemp); dir=$(mktemp -d)
	# Bounded: about 90 s here; a hung pktgen is stopped by its own 300 s
	# bound, flent by its own, the whole by this one.
	timeout 360 bash "$here/../bench/guest/bench.sh" smoke "$dir" >"$out" 2>&1 || rc=1
	grep -v '^BENCH ' "$out" | sed 's/^/  | /'
	sed -n 's/^BENCH //p' "$out" >"$json"
	[ -s "$json" ] || { fail "the smoke run printed no BENCH line"; return 1; }
	problems=$(bench_smoke_problems "$json") || { fail "cannot read the smoke run's BENCH lines"; return 1; }
	if [ -n "$problems" ]; then
		fail "the smoke run went wrong:"
		echo "$problems" | sed 's/^/  - /' >&2
		return 1
	fi
	[ $rc = 0 ] || { fail "bench.sh smoke exited non-zero"; return 1; }
	# flent's data file: host 1's uploads and its pings under load; the
	# other hosts' servers: what they received, second by second.
	f=$dir/$(jq -rs 'map(select(.kind == "flent"))[0].file' "$json")
	zcat "$f" | jq -e '.results | (to_entries | map(select(.key | startswith("Ping (ms)")) | .value | map(select(. != null)) | length) | add > 0)
		and (."TCP upload sum" | map(select(. != null)) | add > 0)' >/dev/null ||
		{ fail "flent's data file $f has no pings or no upload goodput"; return 1; }
	for f in $(jq -rs 'map(select(.kind == "flent"))[0].others[]' "$json"); do
		jq -e '[.intervals[].sum.bytes] | add > 0' "$dir/$f" >/dev/null ||
			{ fail "the other host's iperf3 log $f has no receive counts"; return 1; }
	done
	# Noqueue is the floor: a contender faster than it by more than 10%
	# (this guest's speed drifts by that much between seconds) measured
	# something other than its qdisc.
	floor=$(bench_smoke_medians "$json" | awk '$1 == "noqueue" { print $2 }')
	[ -n "$floor" ] || { fail "no noqueue figure"; return 1; }
	while read -r c t; do
		info "$c: $t ns per packet (median; noqueue $floor)"
		le "$(awk -v f="$floor" 'BEGIN { print f * 0.9 }')" "$t" || { fail "$c ($t ns) is faster than noqueue ($floor ns)"; rc=1; }
	done < <(bench_smoke_medians "$json")
	return $rc
}
