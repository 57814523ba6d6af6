#!/bin/bash
# The guest side of the benchmark (issue #15): per-packet cost with kernel
# pktgen, kernel memory, and reconfiguration time of cakemt next to what
# operators run today, all in one boot. Sourced by bench.sh, which
# tests/guest/test_bench.sh runs too (the smoke run of make check); needs
# tests/guest/lib.sh first (tc_, qstat, tstat, JQ_FIELD, load_module).
#
# Every figure is printed as one line `BENCH {json}` on standard output,
# which xtask collects from the guest's console (the guest sees the host's
# file system read-only): a sample, a build, a change, a check, a skip or
# an error. Nothing is computed here that a report could compute later.
#
# Method, fixed before any figure was looked at: for one host count N,
# every contender is built once, each on a dummy device of its own
# (dummy devices are noqueue by default; they free what they are given);
# then pktgen (`xmit_mode queue_xmit`, 64-byte UDP packets, a random
# destination per packet over the N host addresses) sends a fixed number
# of packets into one device at a time: one warm-up round (its samples are
# marked and not counted: it admits automatic hosts and warms caches),
# then ROUNDS rounds, each over all contenders, in an order rotated by one
# every round so that a slow spell of this TCG guest does not always fall
# on the same contender. The cost of a contender is its time per packet
# minus noqueue's in the same round; the report takes medians.

# The host rate every contender gives each of the N hosts, the rate every
# host is changed to once, and the link: 10 Gbit/s throttles nothing at the
# 100-250k packets per second pktgen reaches here (nor does 50 Mbit/s per
# host: 97k packets per second of 64 bytes for one host alone).
BENCH_RATE=50mbit
BENCH_NEW_RATE=40mbit
BENCH_LINK=10gbit

# In build order and in the order of the first round. noqueue is the
# floor; clsact_bpf is noqueue with the skb->priority classifier alone (what
# classification costs without any qdisc); cakemt_unshaped is cakemt_prio
# with no rate on its tins (a diagnostic: scheduling without per-host
# shaping, as one CAKE has none). The biggest go last, so that the others
# are built before memory runs short.
BENCH_CONTENDERS="noqueue clsact_bpf cake cakemt_prio cakemt_prio_ds4 cakemt_unshaped cakemt_bpf cakemt_flower cakemt_fwmark cakemt_auto htb_fq_codel htb_cake htb_mq_cake cake_per_host"

# Kernel memory a contender is guessed to need per host, bytes (only to skip
# what cannot fit; the figures reported are measured). HTB+CAKE: every CAKE
# allocates its eight tins' flow tables, about 1.06 MB (REFERENCES.md).
declare -A BENCH_GUESS=([htb_fq_codel]=100000 [htb_cake]=1200000 [htb_mq_cake]=1200000 [cake_per_host]=1200000
	[cakemt_prio]=4096 [cakemt_prio_ds4]=4096 [cakemt_unshaped]=4096 [cakemt_bpf]=4096 [cakemt_flower]=4096
	[cakemt_fwmark]=4096 [cakemt_auto]=4096)

# awk's addr(i): host i's address, 100.64.0.0 + i (the CGNAT range, from
# which ISPs number their subscribers).
BENCH_AWK_ADDR='function addr(i) { return sprintf("100.%d.%d.%d", 64 + int(i / 65536), int(i / 256) % 256, i % 256) }'

# bench_addr I: host I's address.
bench_addr() { echo "100.$((64 + ($1 >> 16))).$((($1 >> 8) & 255)).$(($1 & 255))"; }

# bench_kmem: Slab + VmallocUsed, bytes (lib.sh's kernel_memory, printed
# with %.0f: mawk prints integers past 2^31 as 3e+09, and clamps %d there).
bench_kmem() { awk '/^Slab:|^VmallocUsed:/ { s += $2 } END { printf "%.0f\n", s * 1024 }' /proc/meminfo; }

# bench_emit JSON: one machine-readable line for xtask.
# Each line carries "t", the milliseconds since the guest started the run
# (where the run's time goes).
bench_emit() { echo "BENCH {\"t\":$((${EPOCHREALTIME/./} / 1000 - BENCH_T0)),${1#\{}"; }
BENCH_T0=$((${EPOCHREALTIME/./} / 1000))

# bench_error N CONTENDER WHAT: a contender that produced no figure says why.
bench_error() {
	bench_emit "{\"kind\":\"error\",\"n\":$1,\"contender\":\"$2\",\"what\":\"${3//\"/\'}\"}"
	echo "  bench: $2 at $1 hosts: $3" >&2
}

# bench_usec: microseconds since the epoch, without starting a process.
bench_usec() { echo "${EPOCHREALTIME/./}"; }

# bench_hosts N PROGRAM [AWK_OPTION...]: runs the awk PROGRAM for i = 1..N
# (addr(i) known), with the options (-v NAME=VALUE) given.
bench_hosts() {
	awk -v n="$1" "${@:3}" "$BENCH_AWK_ADDR"' BEGIN { for (i = 1; i <= n; i++) { '"$2"' } }'
}

# ---- the contenders ----
#
# bench_qdisc_C DEV N DIR builds contender C's qdiscs and classes on DEV,
# bench_filters_C DEV N DIR its classifiers (absent: none), bench_change_C
# DEV N DIR changes every host's rate once (absent: nothing to change).
# DIR holds the per-N files (rates, BPF objects).

bench_qdisc_noqueue() { :; }

bench_qdisc_clsact_bpf() { tc_ qdisc add dev "$1" clsact; }
bench_filters_clsact_bpf() {
	tc_ filter add dev "$1" egress protocol ip prio 1 bpf da obj "$3/prio.o" sec tc
}

bench_qdisc_cake() { tc_ qdisc add dev "$1" root cake besteffort bandwidth $BENCH_LINK; }

# cakemt with N tins at the host rate, set as an operator with distinct
# rates would: one `rates` file (3 requests of up to 3,900 tins each);
# $BENCH_CAKEMT_OPTS are further keywords.
bench_cakemt() {
	tc_ qdisc add dev "$1" root handle 1: cakemt bandwidth $BENCH_LINK tins "$2" \
		tin-bandwidth $BENCH_RATE ${BENCH_CAKEMT_OPTS:-} &&
		tc_ qdisc change dev "$1" root cakemt rates "$3/rates"
}
bench_change_cakemt() { tc_ qdisc change dev "$1" root cakemt rates "$3/rates.new"; }

# LibreQoS's layout: the clsact program writes skb->priority, cakemt has no
# filter.
bench_qdisc_cakemt_prio() { bench_cakemt "$@" && tc_ qdisc add dev "$1" clsact; }
bench_filters_cakemt_prio() { bench_filters_clsact_bpf "$@"; }
bench_change_cakemt_prio() { bench_change_cakemt "$@"; }

# cakemt_prio with CAKE's diffserv4 bands in every tin: the same classes as
# HTB+CAKE's diffserv4 leaves (pktgen's packets are best effort in both).
bench_qdisc_cakemt_prio_ds4() { BENCH_CAKEMT_OPTS=diffserv4 bench_cakemt "$@" && tc_ qdisc add dev "$1" clsact; }
bench_filters_cakemt_prio_ds4() { bench_filters_clsact_bpf "$@"; }
bench_change_cakemt_prio_ds4() { bench_change_cakemt "$@"; }

# cakemt_prio's tins without a rate: only the link (10 Gbit/s) shapes.
bench_qdisc_cakemt_unshaped() {
	tc_ qdisc add dev "$1" root handle 1: cakemt bandwidth $BENCH_LINK tins "$2" &&
		tc_ qdisc add dev "$1" clsact
}
bench_filters_cakemt_unshaped() { bench_filters_clsact_bpf "$@"; }

# One cls_bpf filter on cakemt writing the class id (tin_by_daddr.c).
bench_qdisc_cakemt_bpf() { bench_cakemt "$@"; }
bench_filters_cakemt_bpf() {
	tc_ filter add dev "$1" parent 1: protocol ip prio 1 bpf da obj "$3/classid.o" sec tc classid 1:
}
bench_change_cakemt_bpf() { bench_change_cakemt "$@"; }

# A flower filter per host (one mask: flower finds a host with one hash
# lookup whatever N is).
bench_flower() {
	bench_hosts "$2" 'printf "filter add dev %s parent 1: protocol ip prio 1 flower dst_ip %s classid 1:%x\n", dev, addr(i), i' \
		-v dev="$1" | tc_ -batch -
}
bench_qdisc_cakemt_flower() { bench_cakemt "$@"; }
bench_filters_cakemt_flower() { bench_flower "$@"; }
bench_change_cakemt_flower() { bench_change_cakemt "$@"; }

# The tin from the packet's mark, which an nftables map from the
# destination address sets (the way an operator with an nftables firewall
# classifies): `fwmark 0xffff` takes the mark's low 16 bits as the tin.
# The map is looked up in the netdev family's egress hook of the device,
# which runs in dev_queue_xmit before the qdisc, as pktgen's packets do not
# pass IP's output hooks.
bench_qdisc_cakemt_fwmark() {
	tc_ qdisc add dev "$1" root handle 1: cakemt bandwidth $BENCH_LINK tins "$2" \
		tin-bandwidth $BENCH_RATE fwmark 0xffff &&
		tc_ qdisc change dev "$1" root cakemt rates "$3/rates"
}
bench_filters_cakemt_fwmark() {
	{
		echo "table netdev bench_$1 {"
		echo "  map tin { type ipv4_addr : mark; elements = {"
		bench_hosts "$2" 'printf "    %s : %d,\n", addr(i), i'
		echo "  } }"
		echo "  chain egress { type filter hook egress device \"$1\" priority 0; meta mark set ip daddr map @tin; }"
		echo "}"
	} | nft -f -
}
bench_change_cakemt_fwmark() { bench_change_cakemt "$@"; }
bench_teardown_cakemt_fwmark() { nft delete table netdev "bench_$1"; }

# Automatic per-host tins: no filter, no rates file; a tin per address of
# the subscribers' prefix. N + 1 tins: a pool of N and the default tin.
# auto-idle 10min: every host stays admitted for the whole run (a round at
# 10,000 hosts is well under a minute).
bench_qdisc_cakemt_auto() {
	local tins=$(($2 + 1))
	[ $tins -le 65535 ] || tins=65535
	tc_ qdisc add dev "$1" root handle 1: cakemt bandwidth $BENCH_LINK tins $tins \
		tin-bandwidth $BENCH_RATE auto dsthost auto-prefix 100.64.0.0/10 auto-idle 10min
}
bench_change_cakemt_auto() { tc_ qdisc change dev "$1" root cakemt tin-bandwidth $BENCH_NEW_RATE; }

# bench_htb DEV N LEAF...: HTB, a root class at the link rate, N classes
# 1:i at the host rate each with a LEAF qdisc (explicit handles i+1:, as
# a configuration tool writes them), in one tc -batch. Quantum one MTU for
# every class: HTB's default (rate / r2q) is over its own limit at these
# rates and makes it print a warning per class.
bench_htb() {
	local dev=$1 n=$2
	shift 2
	{
		echo "qdisc add dev $dev root handle 1: htb"
		echo "class add dev $dev parent 1: classid 1:ffff htb rate $BENCH_LINK ceil $BENCH_LINK quantum 1514"
		bench_hosts "$n" 'printf "class add dev %s parent 1:ffff classid 1:%x htb rate %s ceil %s quantum 1514\n", dev, i, rate, rate
			printf "qdisc add dev %s parent 1:%x handle %x: %s\n", dev, i, i + 1, leaf' \
			-v dev="$dev" -v rate=$BENCH_RATE -v leaf="$*"
	} | tc_ -batch -
}
bench_change_htb() {
	bench_hosts "$2" 'printf "class change dev %s parent 1:ffff classid 1:%x htb rate %s ceil %s quantum 1514\n", dev, i, rate, rate' \
		-v dev="$1" -v rate=$BENCH_NEW_RATE | tc_ -batch -
}

bench_qdisc_htb_fq_codel() { bench_htb "$1" "$2" fq_codel; }
bench_filters_htb_fq_codel() { bench_flower "$@"; }
bench_change_htb_fq_codel() { bench_change_htb "$@"; }

bench_qdisc_htb_cake() { bench_htb "$1" "$2" cake diffserv4; }
bench_filters_htb_cake() { bench_flower "$@"; }
bench_change_htb_cake() { bench_change_htb "$@"; }

# LibreQoS's multi-queue layout (tin_prio_by_daddr_mq.c): an mq root over
# BENCH_QUEUES TX queues, an HTB per queue (handle Q+1:, a root class at
# the link rate, as each queue's HTB gets), the hosts spread across the
# queues, a CAKE diffserv4 leaf per host; a cls_bpf filter per queue on
# clsact egress writes skb->priority and picks the queue. pktgen sends
# from one thread, as for every other row: the figure is the cost per
# packet, not what a second CPU would add.
BENCH_QUEUES=2
bench_qdisc_htb_mq_cake() {
	local q
	ip link del "$1" && ip link add "$1" numtxqueues $BENCH_QUEUES type dummy &&
		sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" && ip link set "$1" up || return 1
	{
		echo "qdisc add dev $1 root handle 7fff: mq"
		for ((q = 1; q <= BENCH_QUEUES; q++)); do
			echo "qdisc add dev $1 parent 7fff:$q handle $q: htb"
			echo "class add dev $1 parent $q: classid $q:ffff htb rate $BENCH_LINK ceil $BENCH_LINK quantum 1514"
		done
		bench_hosts "$2" 'q = (i - 1) % queues + 1
			printf "class add dev %s parent %d:ffff classid %d:%x htb rate %s ceil %s quantum 1514\n", dev, q, q, i, rate, rate
			printf "qdisc add dev %s parent %d:%x handle %x: cake diffserv4\n", dev, q, i, i + queues + 1' \
			-v dev="$1" -v rate=$BENCH_RATE -v queues=$BENCH_QUEUES
		echo "qdisc add dev $1 clsact"
	} | tc_ -batch -
}
bench_filters_htb_mq_cake() {
	local q
	for ((q = 0; q < BENCH_QUEUES; q++)); do
		tc_ filter add dev "$1" egress protocol ip prio 1 bpf obj "$3/prio_mq$q.o" sec tc \
			action skbedit queue_mapping $q || return 1
	done
}
bench_change_htb_mq_cake() {
	bench_hosts "$2" 'q = (i - 1) % queues + 1
		printf "class change dev %s parent %d:ffff classid %d:%x htb rate %s ceil %s quantum 1514\n", dev, q, q, i, rate, rate' \
		-v dev="$1" -v rate=$BENCH_NEW_RATE -v queues=$BENCH_QUEUES | tc_ -batch -
}
# HTB's counters per queue, added up (bench_counters' fields).
bench_counters_htb_mq_cake() {
	local tx
	read -r tx <"/sys/class/net/$1/statistics/tx_packets"
	tc_ -s -j qdisc show dev "$1" | jq -r '[.[] | select(.kind == "htb")]
		| [(map(.packets) | add // 0), (map(.drops) | add // 0), (map(.qlen) | add // 0),
		   (map(.options.direct_packets_stat // 0) | add), 0, (map(.overlimits) | add // 0)]
		| map(tostring) | join(" ")' |
		sed "s/\$/ $tx/"
}

# One CAKE per subscriber on a veth of its own (the layout proposed on the
# CAKE list): a flower filter per host on the device pktgen sends into
# redirects (mirred, standing in for the route per host) to the host's veth
# DEVhI, whose root is a CAKE at the host's rate (diffserv4, as LibreQoS's
# leaf). The peers sit in one namespace of their own (benchsub_DEV), which
# forwards nothing: each packet pays the veth's transmit and its peer's
# receive path, as in the layout, and ends there. The veths and the
# namespace are part of the layout: built, counted in its memory and torn
# down with it.
bench_qdisc_cake_per_host() {
	local sub="benchsub_$1"
	ip netns add "$sub" &&
		ip netns exec "$sub" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1 &&
		bench_hosts "$2" 'printf "link add %sh%d type veth peer name p%d netns %s\nlink set %sh%d up\n", dev, i, i, netns, dev, i' \
			-v dev="$1" -v netns="$sub" | ip -batch - &&
		bench_hosts "$2" 'printf "link set p%d up\n", i' | ip -n "$sub" -batch - &&
		bench_hosts "$2" 'printf "qdisc add dev %sh%d root cake bandwidth %s diffserv4\n", dev, i, rate' \
			-v dev="$1" -v rate=$BENCH_RATE | tc_ -batch - &&
		tc_ qdisc add dev "$1" clsact
}
bench_filters_cake_per_host() {
	bench_hosts "$2" 'printf "filter add dev %s egress protocol ip prio 1 flower dst_ip %s action mirred egress redirect dev %sh%d\n", dev, addr(i), dev, i' \
		-v dev="$1" | tc_ -batch -
}
bench_change_cake_per_host() {
	bench_hosts "$2" 'printf "qdisc change dev %sh%d root cake bandwidth %s\n", dev, i, rate' \
		-v dev="$1" -v rate=$BENCH_NEW_RATE | tc_ -batch -
}
# Deleting a veth deletes its peer; the namespace goes once it is empty.
bench_teardown_cake_per_host() {
	bench_hosts "$2" 'printf "link del %sh%d\n", dev, i' -v dev="$1" | ip -batch - &&
		ip netns del "benchsub_$1"
}
# What the N CAKEs passed, dropped and hold (bench_counters' fields):
# the device pktgen sends into has no qdisc of its own.
bench_counters_cake_per_host() {
	local tx
	read -r tx <"/sys/class/net/$1/statistics/tx_packets"
	tc_ -s -j qdisc show | jq -r --arg dev "$1" '[.[] | select(.kind == "cake" and (.dev | startswith($dev + "h")))]
		| [(map(.packets) | add // 0), (map(.drops) | add // 0), (map(.qlen) | add // 0), 0, 0,
		   (map(.overlimits) | add // 0)] | map(tostring) | join(" ")' |
		sed "s/\$/ $tx/"
}

# bench_fits C N: 0 if contender C can be built for N hosts here; else
# prints why not. HTB's class minors are 16 bits and its root class takes
# one; memory is judged from the guess above against what is available.
bench_fits() {
	local c=$1 n=$2 need avail
	if [[ $c == htb_* ]] && [ "$n" -gt $((65534 - BENCH_QUEUES)) ]; then
		echo "HTB class minors and handles are 16 bits and the root classes take some: at most $((65534 - BENCH_QUEUES)) hosts"
		return 1
	fi
	# Its leaves' handles (host + queues + 1) stay below the mq root's 7fff:.
	if [ "$c" = htb_mq_cake ] && [ "$n" -gt $((0x7ffe - BENCH_QUEUES - 1)) ]; then
		echo "its leaf qdisc handles are 15 bits below the mq root's: at most $((0x7ffe - BENCH_QUEUES - 1)) hosts"
		return 1
	fi
	need=$(( ${BENCH_GUESS[$c]:-0} * n ))
	avail=$(awk '/^MemAvailable:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)
	if [ $need -gt $((avail / 10 * 7)) ]; then
		echo "needs about $((need >> 20)) MiB of kernel memory, the guest has $((avail >> 20)) MiB available"
		return 1
	fi
}

# bench_files N DIR: the per-N files: rates at the host rate and at the new
# rate, and the two BPF programs compiled for N tins.
bench_files() {
	local n=$1 dir=$2 src q
	src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../guest/bpf" && pwd)
	bench_hosts "$n" 'printf "%d %s\n", i, rate' -v rate=$BENCH_RATE >"$dir/rates" &&
		bench_hosts "$n" 'printf "%d %s\n", i, rate' -v rate=$BENCH_NEW_RATE >"$dir/rates.new" &&
		clang -O2 -target bpf -DTINS="$n" -I/usr/include/x86_64-linux-gnu -c "$src/tin_by_daddr.c" -o "$dir/classid.o" &&
		clang -O2 -target bpf -DTINS="$n" -I/usr/include/x86_64-linux-gnu -c "$src/tin_prio_by_daddr.c" -o "$dir/prio.o" &&
		for ((q = 0; q < BENCH_QUEUES; q++)); do
			clang -O2 -target bpf -DTINS="$n" -DQUEUES=$BENCH_QUEUES -DQUEUE=$q -I/usr/include/x86_64-linux-gnu \
				-c "$src/tin_prio_by_daddr_mq.c" -o "$dir/prio_mq$q.o" || return 1
		done
}

# bench_device DEV: a dummy device, up, with no IPv6 (whose own packets
# would cross the qdisc uninvited).
bench_device() {
	ip link add "$1" type dummy || return 1
	sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1"
	ip link set "$1" up
}

# bench_build C DEV N DIR: builds contender C; prints its build line.
# Memory is Slab + VmallocUsed before and after, so it counts the qdiscs,
# classes and filters and not the device (made before).
bench_build() {
	local c=$1 dev=$2 n=$3 dir=$4 m0 m1 m2 t0 t1 t2 t3
	bench_device "$dev" || { bench_error "$n" "$c" "cannot make device $dev"; return 1; }
	m0=$(bench_kmem); t0=$(bench_usec)
	"bench_qdisc_$c" "$dev" "$n" "$dir" || { bench_error "$n" "$c" "building the qdisc failed"; return 1; }
	t1=$(bench_usec); m1=$(bench_kmem); t2=$(bench_usec); t3=$t2
	if declare -F "bench_filters_$c" >/dev/null; then
		"bench_filters_$c" "$dev" "$n" "$dir" || { bench_error "$n" "$c" "adding the filters failed"; return 1; }
		t3=$(bench_usec)
	fi
	m2=$(bench_kmem)
	bench_emit "{\"kind\":\"build\",\"n\":$n,\"contender\":\"$c\",\"dev\":\"$dev\",\"qdisc_ms\":$(((t1 - t0) / 1000)),\"filters_ms\":$(((t3 - t2) / 1000)),\"mem_qdisc\":$((m1 - m0)),\"mem_total\":$((m2 - m0))}"
}

# bench_change C DEV N DIR: times one change of every host's rate.
bench_change() {
	local c=$1 dev=$2 n=$3 dir=$4 t0 t1 got
	declare -F "bench_change_$c" >/dev/null || return 0
	t0=$(bench_usec)
	"bench_change_$c" "$dev" "$n" "$dir" || { bench_error "$n" "$c" "the rate change failed"; return 1; }
	t1=$(bench_usec)
	# Tin 1 now has the new rate (5,000,000 bytes/s). A dump of every tin
	# costs seconds at 10,000 tins: checked up to 1,000.
	if [[ $c == cakemt_* ]] && [ "$n" -le 1000 ]; then
		got=$(tstat "" "$dev" 1 bandwidth)
		[ "$got" = 5000000 ] || { bench_error "$n" "$c" "tin 1 has $got B/s after the change, not 5000000"; return 1; }
	fi
	bench_emit "{\"kind\":\"change\",\"n\":$n,\"contender\":\"$c\",\"ms\":$(((t1 - t0) / 1000))}"
}

# ---- pktgen ----

# bench_pktgen DEV N COUNT: COUNT packets into DEV (bounded: 300 s), to
# random addresses of hosts 1..N; sets pg_pps, pg_usec, pg_sent, pg_errors
# from /proc/net/pktgen/DEV. pktgen counts a packet the qdisc refused as
# an error and sends another in its place.
bench_pktgen() {
	local dev=$1 n=$2 count=$3 p=/proc/net/pktgen/$1 c r
	echo rem_device_all >/proc/net/pktgen/kpktgend_0 &&
		echo "add_device $dev" >/proc/net/pktgen/kpktgend_0 || return 1
	for c in "count $count" "pkt_size 64" "delay 0" "xmit_mode queue_xmit" \
		"src_min 192.0.2.1" "src_max 192.0.2.1" "dst_min 100.64.0.1" "dst_max $bench_dst_max" \
		"flag IPDST_RND" "udp_src_min 9" "udp_src_max 9" "udp_dst_min 9" "udp_dst_max 9"; do
		echo "$c" >"$p" || return 1
	done
	timeout 300 bash -c 'echo start >/proc/net/pktgen/pgctrl' || return 1
	r=$(<"$p")
	[[ $r =~ OK:\ ([0-9]+)\(c[0-9]+\+d[0-9]+\)\ usec,\ ([0-9]+)\ \( ]] || return 1
	pg_usec=${BASH_REMATCH[1]}; pg_sent=${BASH_REMATCH[2]}
	[[ $r =~ \ ([0-9]+)pps\ .*errors:\ ([0-9]+) ]] || return 1
	pg_pps=${BASH_REMATCH[1]}; pg_errors=${BASH_REMATCH[2]}
	[ "$pg_sent" = "$count" ]
}

# bench_counters DEV C: "packets drops qlen direct unclassified overlimits
# tx" of DEV's root qdisc and device: what the qdisc passed and dropped,
# what it holds, HTB's unclassified (direct) packets, cakemt's unclassified
# ones (0 where the qdisc has no such counter), the times it was over a
# limit (cakemt: a dequeue that waited for a tin's shaper and armed the
# watchdog), and what the device sent. A contender C with a
# bench_counters_C has its own way of counting.
bench_counters() {
	local tx
	if declare -F "bench_counters_$2" >/dev/null; then
		"bench_counters_$2" "$1"
		return
	fi
	read -r tx <"/sys/class/net/$1/statistics/tx_packets"
	tc_ -s -j qdisc show dev "$1" root | jq -r "$JQ_FIELD"' .[0] as $q
		| [$q | field("packets"), field("drops"), field("qlen"),
		   ($q.options.direct_packets_stat // 0), field("unclassified"), field("overlimits")]
		| map(if . == "absent" or . == null then 0 else . end) | map(tostring) | join(" ")' |
		sed "s/\$/ $tx/"
}

# bench_sample C DEV N COUNT ROUND: one pktgen sample of contender C; adds
# what pktgen sent and had refused to bench_pg_total[C].
bench_sample() {
	local c=$1 dev=$2 n=$3 count=$4 round=$5 pg_pps pg_usec pg_sent pg_errors
	bench_pktgen "$dev" "$n" "$count" || { bench_error "$n" "$c" "pktgen failed in round $round: $(tr '\n' ' ' <"/proc/net/pktgen/$dev" | grep -o 'Result:.*')"; return 1; }
	bench_pg_total[$c]=$(( ${bench_pg_total[$c]:-0} + pg_sent + pg_errors ))
	bench_emit "{\"kind\":\"sample\",\"n\":$n,\"contender\":\"$c\",\"round\":$round,\"pps\":$pg_pps,\"usec\":$pg_usec,\"sent\":$pg_sent,\"errors\":$pg_errors}"
}

# bench_check C DEV N BEFORE: did the qdisc see every packet pktgen sent
# (passed or dropped), is nothing left queued, did every packet find its
# host's class? BEFORE: bench_counters before the first sample. A row
# whose qdisc saw nothing is an error, not a figure: the report says so.
bench_check() {
	local c=$1 dev=$2 n=$3 before=$4 p0 d0 q0 x0 u0 o0 tx0 p1 d1 q1 x1 u1 o1 tx1 seen why="" hosts=null
	read -r p0 d0 q0 x0 u0 o0 tx0 <<<"$before"
	read -r p1 d1 q1 x1 u1 o1 tx1 < <(bench_counters "$dev" "$c")
	seen=$((p1 + d1 - p0 - d0))
	case $c in
	noqueue | clsact_bpf) seen=$((tx1 - tx0)) ;;
	esac
	[ "$seen" -ge "${bench_pg_total[$c]:-0}" ] || why+="the qdisc saw $seen of ${bench_pg_total[$c]:-0} packets; "
	[ "$q1" = 0 ] || why+="$q1 packets left queued; "
	[ $((x1 - x0)) = 0 ] || why+="$((x1 - x0)) packets matched no HTB class; "
	case $c in
	cakemt_prio | cakemt_prio_ds4 | cakemt_unshaped | cakemt_bpf | cakemt_flower | cakemt_fwmark)
		[ $((u1 - u0)) = 0 ] || why+="$((u1 - u0)) packets found no tin; " ;;
	cakemt_auto) hosts=$(qstat "" "$dev" auto_hosts) ;;
	esac
	bench_emit "{\"kind\":\"check\",\"n\":$n,\"contender\":\"$c\",\"pktgen\":${bench_pg_total[$c]:-0},\"seen\":$seen,\"dropped\":$((d1 - d0)),\"queued\":$q1,\"unclassified\":$((x1 - x0 + u1 - u0)),\"overlimits\":$((o1 - o0)),\"auto_hosts\":$hosts,\"ok\":$([ -z "$why" ] && echo true || echo false),\"why\":\"${why%; }\"}"
	[ -z "$why" ] || echo "  bench: $c at $n hosts: ${why%; }" >&2
	[ -z "$why" ]
}

# bench_at N COUNT ROUNDS: the whole method for N hosts (see the top):
# build, sample in rounds, check, change every rate, tear down. Returns
# non-zero if any contender failed (the others still run).
bench_at() {
	local n=$1 count=$2 rounds=$3 dir c i r why built=() order dev rc=0 t0
	declare -A bench_dev=() bench_before=()
	declare -gA bench_pg_total=()
	dir=$(mktemp -d)
	bench_dst_max=$(bench_addr "$n")
	bench_files "$n" "$dir" || { bench_error "$n" all "cannot write the rates files or build the BPF programs"; return 1; }
	i=1
	for c in $BENCH_CONTENDERS; do
		dev=d$i; i=$((i + 1))
		if ! why=$(bench_fits "$c" "$n"); then
			bench_emit "{\"kind\":\"skip\",\"n\":$n,\"contender\":\"$c\",\"reason\":\"$why\"}"
			continue
		fi
		if bench_build "$c" "$dev" "$n" "$dir"; then
			built+=("$c"); bench_dev[$c]=$dev
		else
			rc=1
		fi
	done
	[ ${#built[@]} -gt 0 ] || { rm -rf "$dir"; return 1; }
	for c in "${built[@]}"; do bench_before[$c]=$(bench_counters "${bench_dev[$c]}" "$c"); done
	# Round 0 is the warm-up.
	for ((r = 0; r <= rounds; r++)); do
		order=("${built[@]}")
		if [ $r -gt 0 ]; then
			order=("${built[@]:$(((r - 1) % ${#built[@]}))}" "${built[@]:0:$(((r - 1) % ${#built[@]}))}")
		fi
		for c in "${order[@]}"; do
			bench_sample "$c" "${bench_dev[$c]}" "$n" "$count" "$r" || rc=1
		done
	done
	for c in "${built[@]}"; do
		bench_check "$c" "${bench_dev[$c]}" "$n" "${bench_before[$c]}" || rc=1
	done
	for c in "${built[@]}"; do
		bench_change "$c" "${bench_dev[$c]}" "$n" "$dir" || rc=1
	done
	for c in "${built[@]}"; do
		t0=$(bench_usec)
		ip link del "${bench_dev[$c]}" || rc=1
		if declare -F "bench_teardown_$c" >/dev/null; then
			"bench_teardown_$c" "${bench_dev[$c]}" "$n" || rc=1
		fi
		bench_emit "{\"kind\":\"teardown\",\"n\":$n,\"contender\":\"$c\",\"ms\":$((($(bench_usec) - t0) / 1000))}"
	done
	# Devices whose build failed, and what they left (host devices, tables).
	for ((i = 1; i <= $(wc -w <<<"$BENCH_CONTENDERS"); i++)); do
		[ -e "/sys/class/net/d$i" ] && ip link del "d$i"
		nft delete table netdev "bench_d$i" 2>/dev/null
	done
	ip -o link show type veth | awk -F': ' '{ sub(/@.*/, "", $2) } $2 ~ /^d[0-9]+h[0-9]+$/ { print "link del " $2 }' | ip -batch - 2>/dev/null
	ip netns list | awk '$1 ~ /^benchsub_/ { print $1 }' | xargs -r -n1 ip netns del 2>/dev/null
	rm -rf "$dir"
	# Qdiscs are freed after an RCU grace period: let a gigabyte of them go
	# before the next host count measures memory.
	sleep 2
	return $rc
}

# bench_mode MODE: sets bench_hosts_list, bench_count, bench_rounds and
# flent_secs (bench_flent.sh's length of a test). smoke: make check's
# (seconds; flent's tcp_nup through cakemt alone); quick: the issue's host
# counts, under 15 minutes; full: more hosts, rounds and packets per
# sample, longer flent tests; flent: quick's flent tests alone.
bench_mode() {
	case $1 in
	smoke) bench_hosts_list="10"; bench_count=20000; bench_rounds=3
		flent_secs=5; FLENT_CONTENDERS=cakemt; FLENT_TESTS=tcp_nup ;;
	quick) bench_hosts_list="10 1000 10000"; bench_count=50000; bench_rounds=5; flent_secs=15 ;;
	full) bench_hosts_list="10 100 1000 10000 65535"; bench_count=200000; bench_rounds=11; flent_secs=30 ;;
	flent) bench_hosts_list=""; bench_count=0; bench_rounds=0; flent_secs=15 ;;
	*) echo "bench: unknown mode '$1' (smoke, quick, full, flent)" >&2; return 1 ;;
	esac
}

# bench_run MODE: the pktgen part of a run; prints its configuration first.
# Returns non-zero if any contender failed.
bench_run() {
	local mode=$1 n rc=0 mem
	bench_mode "$mode" || return 2
	modprobe pktgen && load_module || return 2
	# No IPv6 on any device made from here on (a contender's own devices
	# too): its neighbour discovery would cross their qdiscs uninvited.
	sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	mem=$(awk '/^MemTotal:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)
	bench_emit "{\"kind\":\"config\",\"mode\":\"$mode\",\"hosts\":[${bench_hosts_list// /,}],\"count\":$bench_count,\"rounds\":$bench_rounds,\"kernel\":\"$(uname -r)\",\"cpus\":$(nproc),\"memory\":$mem,\"rate\":\"$BENCH_RATE\",\"new_rate\":\"$BENCH_NEW_RATE\",\"link\":\"$BENCH_LINK\",\"contenders\":\"$BENCH_CONTENDERS\"}"
	for n in $bench_hosts_list; do
		echo "  bench: $n hosts"
		bench_at "$n" "$bench_count" "$bench_rounds" || rc=1
	done
	return $rc
}
