#!/bin/bash
# Helpers for the guest tests: the patched tc, module loading, network
# namespaces, bounded iperf3 runs, reading tc's JSON (with jq), the kernel's
# judges (dmesg, kmemleak), and checks that say what they expected.
#
# No Python here: on the debug kernel under TCG one interpreter start costs
# seconds, and the functional tests run there. jq and awk start at once.

: "${CAKEMT_KO:?CAKEMT_KO must name cakemt.ko}"
: "${TC:?TC must name the patched tc}"
export TC

tc_() { "$TC" "$@"; }

# fail MESSAGE: report and return non-zero (use as `... || fail "why"`).
fail() { echo "  FAIL: $*" >&2; return 1; }

# info MESSAGE: a figure or fact worth seeing in the log.
info() { echo "  $*"; }

# ns NAME CMD...: runs CMD in network namespace NAME ("": the current one).
ns() { local n=$1; shift; if [ -z "$n" ]; then "$@"; else ip netns exec "$n" "$@"; fi; }

# ---- the kernel as the judge ----

# What in the kernel log means the kernel caught a fault: KASAN, UBSAN,
# lockdep and RCU checking, atomic-sleep checks, debugobjects, list and
# refcount checks, kmemleak, soft lockups and stalls, oopses, WARN()s, and
# the glue's own report of a broken invariant.
KERNEL_FAULTS='BUG:|WARNING:|KASAN|UBSAN|kmemleak: [0-9]+ new suspected|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|lock held when returning|sleeping function called from invalid context|ODEBUG|list_(add|del) corruption|refcount_t:|Oops|general protection fault|Kernel panic|rcu_.*stall|blocked for more than|cakemt: internal error'

# kernel_judges_init: mounts debugfs and starts with an empty kernel log;
# where kmemleak runs, what boot left as suspects is forgotten (a full scan
# here would cost 20 s under TCG; boot leaves none on these kernels).
kernel_judges_init() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	dmesg -C
	[ -w /sys/kernel/debug/kmemleak ] && echo clear >/sys/kernel/debug/kmemleak
	return 0
}

# dmesg_check NAME: fails (printing the log) if the kernel log since the
# last check holds a fault report. Reading clears it, so nothing is missed
# between two checks and nothing is reported twice.
dmesg_check() {
	local log
	log=$(dmesg -c)
	if [[ $log =~ $KERNEL_FAULTS ]]; then
		echo "  FAIL: the kernel reported a fault during $1:" >&2
		echo "$log" | sed 's/^/  | /' >&2
		return 1
	fi
	return 0
}

# kmemleak_check: after every test (module unloaded), objects allocated and
# no longer referenced are leaks. kmemleak reports only objects older than
# 5 s, and a second scan confirms them. Passes silently without kmemleak.
kmemleak_check() {
	local f=/sys/kernel/debug/kmemleak leaks
	[ -w $f ] || return 0
	lsmod | grep -q '^cakemt ' && rmmod cakemt
	sleep 6
	echo scan >$f
	echo scan >$f
	leaks=$(cat $f)
	dmesg_check "the kmemleak scan" || { echo "$leaks" | sed 's/^/  | /' >&2; return 1; }
	if [ -n "$leaks" ]; then
		echo "  FAIL: kmemleak found unreferenced objects:" >&2
		echo "$leaks" | sed 's/^/  | /' >&2
		return 1
	fi
	echo "kmemleak: no leaks"
}

# ---- set-up and tear-down ----

load_module() {
	lsmod | grep -q '^cakemt ' || insmod "$CAKEMT_KO" || fail "insmod $CAKEMT_KO"
}

# Removes everything a test may have created, so tests do not interact.
# Cheap on purpose (every process start costs most of a second on the
# debug kernel): commands run only for what is there.
cleanup() {
	local d n
	for n in /run/netns/*; do
		[ -e "$n" ] && ip netns pids "${n##*/}" 2>/dev/null | xargs -r kill 2>/dev/null
	done
	[ -e /run/netns ] && [ -n "$(ls -A /run/netns)" ] && ip -all netns delete 2>/dev/null
	for d in /sys/class/net/d[0-9]*; do
		[ -e "$d" ] && ip link del "${d##*/}" 2>/dev/null
	done
	unload_module
}

# unload_module: rmmod cakemt once nothing holds it. A deleted namespace's
# qdiscs go in the kernel's cleanup_net work, seconds later on the debug
# kernel, so wait for the reference count to reach zero (up to 60 s)
# instead of racing it; a module still held after that is a leaked
# reference, and fails the test that left it.
unload_module() {
	local refcnt i
	[ -e /sys/module/cakemt ] || return 0
	for ((i = 0; i < 120; i++)); do
		read -r refcnt </sys/module/cakemt/refcnt || break
		[ "$refcnt" = 0 ] && break
		sleep 0.5
	done
	rmmod cakemt 2>/dev/null && return 0
	read -r refcnt </sys/module/cakemt/refcnt
	echo "  cleanup: cakemt still in use (refcnt ${refcnt:-?}) 60 s after the test"
	return 1
}

# no_ipv6 NS: no IPv6 in namespace NS, so no neighbour discovery crosses a
# qdisc uninvited and counts stay exact.
no_ipv6() {
	ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# veth_pair: namespaces "snd" (10.99.0.1) and "rcv" (10.99.0.2) joined by
# a veth pair; the sender's end is "veth0" in "snd".
veth_pair() {
	ip netns add snd && ip netns add rcv || return 1
	no_ipv6 snd; no_ipv6 rcv
	ip link add veth0 netns snd type veth peer name veth1 netns rcv || return 1
	ns snd ip addr add 10.99.0.1/24 dev veth0
	ns rcv ip addr add 10.99.0.2/24 dev veth1
	for n in snd rcv; do ns $n ip link set lo up; done
	ns snd ip link set veth0 up && ns rcv ip link set veth1 up
}

# dummy_dev: d0 (192.0.2.1/24), a device that sends nothing on its own.
dummy_dev() {
	ip link add d0 type dummy || return 1
	sysctl -qw net.ipv6.conf.d0.disable_ipv6=1
	ip link set d0 up && ip addr add 192.0.2.1/24 dev d0
}

# star N: hosts h1..hN (10.0.i.2) each joined by a veth pair to a router
# "rtr" (10.0.i.1 on down_i), whose uplink up0 (10.0.0.1) leads to a server
# "srv" (10.0.0.2). cakemt goes on rtr's up0: uploads from the hosts.
star() {
	local n=$1 h
	ip netns add rtr && ip netns add srv || return 1
	for h in rtr srv; do no_ipv6 $h; ns $h ip link set lo up; done
	ip link add up0 netns rtr type veth peer name eth0 netns srv || return 1
	ns rtr ip addr add 10.0.0.1/24 dev up0
	ns srv ip addr add 10.0.0.2/24 dev eth0
	ns rtr ip link set up0 up && ns srv ip link set eth0 up
	ns srv ip route add 10.0.0.0/8 via 10.0.0.1
	ns rtr sysctl -qw net.ipv4.ip_forward=1
	# `ip -batch` per namespace: on the debug kernel a process start
	# costs most of a second, and this was ten of them per host.
	for h in $(seq 1 "$n"); do
		ip netns add h$h || return 1
		no_ipv6 h$h
		ip link add eth0 netns h$h type veth peer name down$h netns rtr || return 1
		# The router's end first, so the host's link has carrier when its
		# default route goes in.
		printf '%s\n' "addr add 10.0.$h.1/24 dev down$h" "link set down$h up" | ip -n rtr -batch - || return 1
		printf '%s\n' "addr add 10.0.$h.2/24 dev eth0" "link set lo up" "link set eth0 up" \
			"route add default via 10.0.$h.1" | ip -n h$h -batch - || return 1
	done
	# Resolve neighbours now, so no ARP waits inside a measurement.
	for h in $(seq 1 "$n"); do ns h$h ping -c1 -W2 10.0.0.2 >/dev/null || return 1; done
}

# send_udp DST COUNT [PORT]: COUNT datagrams of 100 bytes to DST:PORT
# (default 9), from bash itself (no process per datagram); a full queue's
# refusal is fine.
send_udp() {
	local i
	for ((i = 0; i < $2; i++)); do
		printf '%0100d' 0 2>/dev/null >/dev/udp/"$1"/"${3:-9}"
	done 2>/dev/null
	return 0
}

# ---- traffic ----

# flows SECS DIR SPEC...: for each SPEC "HOST:FLOWS" or "HOST:FLOWS:TOS",
# HOST runs FLOWS TCP flows (their IP TOS byte TOS) to the server for SECS
# seconds (bounded), all at once; results in DIR/HOST.json. With DOWNLOAD=1 the server sends (iperf3 -R). The clients
# are started first and wait for one signal: started one after the other
# (a process start costs 0.15 s here) the first would run alone for a
# while and get more than its share, and a control as well as cakemt
# would be measured wrong.
flows() {
	local secs=$1 dir=$2 spec h f tos port pids=() go
	shift 2
	go=$(mktemp -u)
	for spec in "$@"; do
		h=${spec%%:*}; port=$((5200 + ${h#h}))
		ns srv timeout $((secs + 25)) iperf3 -s -1 -p $port >/dev/null 2>&1 &
		pids+=($!)
	done
	for spec in "$@"; do
		IFS=: read -r h f tos <<<"$spec"; port=$((5200 + ${h#h}))
		ns "$h" timeout $((secs + 30)) bash -c 'while [ ! -e "$1" ]; do sleep 0.02; done; shift; exec "$@"' _ "$go" \
			iperf3 -c 10.0.0.2 -p $port -P "$f" -t "$secs" -J ${DOWNLOAD:+-R} ${tos:+-S "$tos"} >"$dir/$h.json" 2>/dev/null &
		pids+=($!)
	done
	sleep 1
	touch "$go"
	# Only these: a caller may have its own jobs running alongside.
	wait "${pids[@]}"
	rm -f "$go"
}

# goodput FILE: receiver goodput of an iperf3 -J result, Mbit/s.
goodput() {
	jq -er '.end.sum_received.bits_per_second / 1e6 | . * 1000 | round / 1000' "$1" 2>/dev/null ||
		fail "no iperf3 result in $1"
}

# stream_goodputs FILE: each stream's receiver goodput, Mbit/s.
stream_goodputs() {
	jq -r '[.end.streams[].receiver.bits_per_second / 1e6 | . * 1000 | round / 1000] | map(tostring) | join(" ")' "$1"
}

# goodput_mbit SECS: one TCP flow snd -> rcv for SECS seconds (bounded);
# prints the receiver's goodput in Mbit/s.
goodput_mbit() {
	local secs=$1 f
	f=$(mktemp)
	ns rcv timeout $((secs + 20)) iperf3 -s -1 -B 10.99.0.2 >/dev/null 2>&1 &
	sleep 0.5
	ns snd timeout $((secs + 15)) iperf3 -c 10.99.0.2 -t "$secs" -J >"$f" || { wait; return 1; }
	wait
	goodput "$f"
}

# ---- arithmetic on figures ----

# within PCT MEASURED EXPECTED: is MEASURED within PCT % of EXPECTED?
within() { awk -v p="$1" -v m="$2" -v e="$3" 'BEGIN { d = m - e; if (d < 0) d = -d; exit !(d <= e * p / 100) }'; }

# Rate measurements run in rounds. Under TCG on this shared machine the
# guest's speed is not steady: it drops by a third or more for seconds at
# a time (seen in one boot: HTB+CAKE at 97% of its rates in one round and
# at 50% in the next, with nothing else running). A shortfall can come
# from that, an excess never can. So a measurement that only fell short is
# repeated, up to RATE_ROUNDS rounds, and passes if a round is within its
# bounds; a round above its bounds fails at once. The same rule holds for
# cakemt and for its controls.
RATE_ROUNDS=${RATE_ROUNDS:-3}

# rounds WHAT CMD...: runs CMD, a round that returns 0 within bounds, 1 if
# it fell short, 2 if it went over (or failed otherwise), until it returns
# other than 1 or RATE_ROUNDS rounds have run; returns its last status.
rounds() {
	local what=$1 r rc
	shift
	for ((r = 1; ; r++)); do
		"$@"
		rc=$?
		[ $rc = 1 ] && [ $r -lt "$RATE_ROUNDS" ] || break
		info "$what: short in round $r of $RATE_ROUNDS: measuring again"
	done
	[ $rc = 0 ] && [ $r -gt 1 ] && info "$what: within bounds in round $r of $RATE_ROUNDS"
	return $rc
}

# le A B: A <= B (numbers with fractions).
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# jain X...: Jain's fairness index of the numbers.
jain() { echo "$@" | awk '{ s = 0; q = 0; for (i = 1; i <= NF; i++) { s += $i; q += $i * $i } printf "%.4f\n", (q ? s * s / (NF * q) : 0) }'; }

# tcp_goodput RATE_MBIT: TCP goodput expected at a shaped rate counted in
# whole frames: 1448 bytes of payload per 1514-byte frame (1500-byte MTU,
# Ethernet header, IP/TCP headers and timestamps).
tcp_goodput() { awk -v r="$1" 'BEGIN { printf "%.3f\n", r * 1448 / 1514 }'; }

# kernel_memory: Slab + VmallocUsed, bytes (printf: mawk prints numbers
# over 2^31 as 3e+09).
kernel_memory() { awk '/^Slab:|^VmallocUsed:/ { s += $2 } END { printf "%.0f\n", s * 1024 }' /proc/meminfo; }

# kernel_refuses DEV [MINOR]: sends each request of stdin's
# "REQUEST|message" lines (nlsend.py's syntax: values tc never sends) as a
# change of the cakemt qdisc on DEV (of its class MINOR, decimal, if
# given), and checks that the kernel refused each with EINVAL and a
# message that starts with its text.
kernel_refuses() {
	local dev=$1 minor=${2:-0} here case want requests=() wants=() i=0 line
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	while IFS='|' read -r case want; do
		requests+=("$case"); wants+=("$want")
	done
	while read -r line; do
		info "kernel: ${requests[i]}: $line"
		case "$line" in
		"22	${wants[i]}"*) ;;
		*) fail "${requests[i]}: the kernel said '$line', want EINVAL (22) and '${wants[i]}'"; return 1 ;;
		esac
		i=$((i + 1))
	done < <(python3 "$here/nlsend.py" --dev "$dev" --class "$minor" \
		--header "$here/../../src/uapi/linux/pkt_sched_cakemt.h" "${requests[@]}")
	[ "$i" = "${#requests[@]}" ] || { fail "nlsend.py answered $i of ${#requests[@]} requests"; return 1; }
}

# ---- reading tc ----

# jq program: the value of key $k of an object, from its top level, its
# options, its xstats, or a class's tin statistics; "absent" if none.
JQ_FIELD='def field($k): if has($k) then .[$k] elif (.options // {} | has($k)) then .options[$k]
	elif (.tin // {} | has($k)) then .tin[$k] else "absent" end;'

# qstat NS DEV KEY...: figures of the cakemt qdisc on DEV, space-separated.
qstat() {
	local n=$1 dev=$2
	shift 2
	ns "$n" "$TC" -s -j qdisc show dev "$dev" |
		jq -r --args "$JQ_FIELD"' [.[] | select(.kind == "cakemt")][0] as $q
			| if $q == null then "no-cakemt-qdisc" else [$ARGS.positional[] as $k | $q | field($k) | tostring] | join(" ") end' "$@"
}

# tstat NS DEV TIN KEY...: figures of tin TIN (1-based) of the cakemt qdisc.
tstat() {
	local n=$1 dev=$2 minor
	minor=$(printf %x "$3")
	shift 3
	ns "$n" "$TC" -s -j class show dev "$dev" |
		jq -r --arg m "$minor" --args "$JQ_FIELD"' [.[] | select(.kind == "cakemt" and (.handle | split(":")[1]) == $m)][0] as $t
			| if $t == null then "no-such-tin" else [$ARGS.positional[] as $k | $t | field($k) | tostring] | join(" ") end' "$@"
}

# tins_key NS DEV KEY TIN...: KEY of each tin TIN, from one dump.
tins_key() {
	local n=$1 dev=$2 key=$3 t minors=()
	shift 3
	for t in "$@"; do minors+=("$(printf %x "$t")"); done
	ns "$n" "$TC" -s -j class show dev "$dev" |
		jq -r --arg k "$key" --args "$JQ_FIELD"' [.[] | select(.kind == "cakemt")] as $c
			| [$ARGS.positional[] as $m | [$c[] | select((.handle | split(":")[1]) == $m)][0]
			   | if . == null then "no-such-tin" else field($k) | tostring end] | join(" ")' "${minors[@]}"
}

# tin_count NS DEV: tins that `tc class show` lists.
tin_count() { ns "$1" "$TC" class show dev "$2" | grep -c '^class cakemt'; }

# wait_drained NS DEV: waits (at most 10 s) until the qdisc on DEV is empty.
wait_drained() {
	local i
	for i in $(seq 1 100); do
		[ "$(qstat "$1" "$2" qlen)" = 0 ] && return 0
		sleep 0.1
	done
	fail "qdisc on $2 never drained"
}

# accounted NS DEV N: the qdisc received exactly N packets, dropped none,
# and every one of them was either sent or is still queued.
accounted() {
	local r s d q
	read -r r s d q < <(qstat "$1" "$2" received packets drops qlen)
	info "received $r, sent $s, dropped $d, queued $q"
	[ "$r" = "$3" ] && [ "$d" = 0 ] && [ $((s + q)) = "$3" ] ||
		fail "packets lost: received $r, sent $s + queued $q of $3, dropped $d"
}

# balanced NS DEV [WAIT]: what entered left or is queued, exactly:
# received = sent + dropped + stolen + queued. Waits for the queue to
# drain first unless WAIT is "now".
balanced() {
	local r s d st q
	[ "${3:-}" = now ] || wait_drained "$1" "$2" || return 1
	read -r r s d st q < <(qstat "$1" "$2" received packets drops stolen qlen)
	info "received $r = sent $s + dropped $d + stolen $st + queued $q"
	[ "$r" = $((s + d + st + q)) ] || fail "accounting does not balance on $2"
}
