#!/bin/bash
# cakemt at the size it is for: 10,000 tins with 10,000 distinct rates set
# in one request, 1,000 flower filters, its kernel memory, a dump of every
# tin, and traffic through three of them at their rates; and a live re-rate
# of a tin whose queue is really backlogged.

# ms_since T0: milliseconds since T0 (from `date +%s%N`).
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# The rate of tin i in the 10,000-rate file, bit/s: 100 kbit + 400 bit x i,
# all distinct, whole bytes per second (tins 3000, 6000, 9000: 1.3, 2.5
# and 3.7 Mbit/s, what a 1-vCPU guest carries beside another guest).
tin_bit() { echo $((100000 + 400 * $1)); }

test_rate_ten_thousand_tins() {
	local dir t0 m0 m1 mem ms n f spec="" h tin rate
	dir=$(mktemp -d)
	load_module && star 3 || return 1
	m0=$(kernel_memory)
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth 40mbit tins 10000 || return 1
	m1=$(kernel_memory)
	mem=$((m1 - m0))
	info "kernel memory of a 10,000-tin qdisc (Slab + VmallocUsed delta): $((mem / 1024)) KiB"
	[ $mem -le $((16 << 20)) ] || { fail "10,000 tins take $((mem >> 20)) MiB, goal <= 16 MiB"; return 1; }

	awk 'BEGIN { for (t = 1; t <= 10000; t++) printf "%d %dbit\n", t, 100000 + 400 * t }' >"$dir/rates"
	t0=$(date +%s%N)
	ns rtr "$TC" qdisc change dev up0 root cakemt rates "$dir/rates" || { fail "rates request"; return 1; }
	ms=$(ms_since "$t0")
	info "10,000 distinct tin rates applied with one 'rates' request in $ms ms"
	for tin in 1 4242 10000; do
		rate=$(tstat rtr up0 "$tin" bandwidth)
		[ "$rate" = $(( $(tin_bit "$tin") / 8 )) ] || { fail "tin $tin has $rate B/s, want $(( $(tin_bit "$tin") / 8 ))"; return 1; }
	done

	# Flower filters for 1,000 hosts, three of them real: host i -> tin
	# 3000 i (tc reads class minors in hex).
	f=$dir/filters
	for n in $(seq 1 997); do
		printf 'filter add dev up0 parent 1: protocol ip prio 1 flower src_ip 10.%d.%d.9 classid 1:%x\n' \
			$((100 + n / 250)) $((n % 250)) "$n"
	done >"$f"
	for h in 1 2 3; do
		printf 'filter add dev up0 parent 1: protocol ip prio 1 flower src_ip 10.0.%d.2 classid 1:%x\n' \
			"$h" $((h * 3000))
	done >>"$f"
	t0=$(date +%s%N)
	ns rtr "$TC" -batch "$f" || { fail "tc -batch of 1,000 filters"; return 1; }
	info "1,000 flower filters loaded with tc -batch in $(ms_since "$t0") ms"

	# Three hosts in tins 3000, 6000 and 9000.
	for h in 1 2 3; do
		spec="$spec h$h:$(awk -v b="$(tin_bit $((h * 3000)))" 'BEGIN { print b / 1e6 }')"
	done
	measure cakemt 5 8 "$dir" "h1:1 h2:1 h3:1" "$spec" || return 1

	t0=$(date +%s%N)
	n=$(ns rtr "$TC" -s class show dev up0 | grep -c '^class cakemt')
	info "tc -s class show of $n tins in $(ms_since "$t0") ms"
	[ "$n" = 10000 ] || fail "class show listed $n tins, not 10000"
}

test_rate_rerate_of_a_backlogged_tin_follows_within_a_second() {
	local dir
	dir=$(mktemp -d)
	load_module && star 1 || return 1
	rounds "the re-rate" rerate_round "$dir"
}

# rerate_round DIR: a round (see `rounds`): a fresh qdisc, 4 flows through
# its 10 Mbit/s tin, re-rated to 5 Mbit/s halfway. Only goodput short of a
# rate makes a round worth repeating; anything else fails it (2).
rerate_round() {
	local dir=$1 t_start t_change q0 d0 q1 d1 before after
	# (A replace of the same kind would be a change, keeping the last
	# round's class rate and counters: delete and add.)
	ns rtr "$TC" qdisc del dev up0 root 2>/dev/null
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth 40mbit tins 1 tin-bandwidth 10mbit || return 2
	ns srv timeout 40 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
	sleep 0.5
	t_start=$(date +%s%N)
	ns h1 timeout 30 iperf3 -c 10.0.0.2 -p 5201 -P 4 -t 10 -i 0.5 -J >"$dir/h1.json" 2>/dev/null &
	sleep 4
	# The queue must really hold packets when the rate changes, or a
	# re-rate that throws the queue away would go unnoticed.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		q0=$(qstat rtr up0 qlen)
		[ "$q0" -ge 2 ] && break
		sleep 0.05
	done
	# Drops that are not COBALT's or the ACK filter's (an AQM decision,
	# which four TCP flows draw a few hundred of a second here).
	d0=$(qstat rtr up0 drops drop_cobalt drop_ack | awk '{ print $1 - $2 - $3 }')
	ns rtr "$TC" class change dev up0 classid 1:1 cakemt bandwidth 5mbit || return 2
	t_change=$(date +%s%N)
	q1=$(qstat rtr up0 qlen)
	d1=$(qstat rtr up0 drops drop_cobalt drop_ack | awk '{ print $1 - $2 - $3 }')
	wait
	info "at the re-rate: qlen $q0 -> $q1, drops other than AQM $d0 -> $d1"
	[ "$q0" -ge 2 ] || { fail "the tin was not backlogged (qlen $q0)"; return 2; }
	# A re-rate that threw the queue away would show as drops, or, if not
	# counted, as packets received and never sent (balanced, below). qlen
	# after the change says little: a tc start later it may have drained.
	[ "$d1" = "$d0" ] || { fail "the re-rate dropped packets: $d0 -> $d1"; return 2; }
	balanced rtr up0 || return 2
	# Goodput over 0.5 s intervals: before, and from one second after.
	# (The client started about 0.5 s after t_start.)
	local change_s; change_s=$(awk -v c=$(( (t_change - t_start) / 1000000 )) 'BEGIN { print c / 1000 - 0.5 }')
	read -r before after < <(jq -r --argjson c "$change_s" '
		[.intervals[].sum | {s: .start, e: .end, b: (.bits_per_second / 1e6)}] as $iv
		| ([$iv[] | select(.s >= 1 and .e <= $c) | .b]) as $pre
		| ([$iv[] | select(.s >= $c + 1) | .b]) as $post
		| "\(($pre | add) / ([$pre | length, 1] | max)) \(($post | add) / ([$post | length, 1] | max))"' "$dir/h1.json")
	info "goodput before the re-rate $before Mbit/s (10mbit tin), from 1 s after it $after Mbit/s (5mbit)"
	local rc=0 phase got rate
	for phase in "before $before 10" "after $after 5"; do
		read -r phase got rate <<<"$phase"
		within 10 "$got" "$(tcp_goodput "$rate")" && continue
		fail "$phase: $got not within 10% of $(tcp_goodput "$rate")"
		if le "$got" "$(tcp_goodput "$rate")"; then [ $rc = 2 ] || rc=1; else rc=2; fi
	done
	return $rc
}
