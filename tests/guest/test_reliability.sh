#!/bin/bash
# The kernel as the judge of what goes wrong rarely: allocations that fail
# (failslab, fail_page_alloc), teardown while traffic flows through every
# tin, and a flood that must not break the memory limit. The runner checks
# dmesg after each test and kmemleak after all of them.

FI=/sys/kernel/debug

# limit_faults_to_cakemt: injected allocation failures only ever hit an
# allocation whose call stack passes through cakemt's code (the stack
# filter of fault injection, over the module's text as /proc/kallsyms
# gives it), so nothing else in the guest fails: not tc's start-up, not a
# 9p read of the guest's root file system (which, failed once, broke every
# later exec). Both slab and page allocations, sleeping ones included: a
# large kvmalloc goes to the page allocator or vmalloc.
limit_faults_to_cakemt() {
	local lo hi a
	read -r lo hi < <(awk '$4 == "[cakemt]" && ($2 == "t" || $2 == "T") {print $1}' /proc/kallsyms |
		sort | sed -n '1p;$p' | tr '\n' ' ')
	[ -n "$lo" ] && [ -n "$hi" ] && [ "$lo" != 0000000000000000 ] ||
		{ fail "no addresses of cakemt's code in /proc/kallsyms"; return 1; }
	for a in failslab fail_page_alloc; do
		echo 32 >$FI/$a/stacktrace-depth
		echo "0x$lo" >$FI/$a/require-start
		# The last function's body lies past its symbol.
		printf '0x%x\n' $((16#$hi + 65536)) >$FI/$a/require-end
		echo 0 >$FI/$a/verbose
		echo N >$FI/$a/ignore-gfp-wait
	done
	echo N >$FI/fail_page_alloc/ignore-gfp-highmem
	echo 0 >$FI/fail_page_alloc/min-order
}

# budget_failing BUDGET ARGS...: `tc ARGS` as if memory ran out after
# BUDGET bytes of cakemt's allocations: from then on every one of them
# fails (the tc process is marked through /proc/PID/make-it-fail before it
# reads its command). One failure alone proves little: kvmalloc falls back
# to vmalloc, and vmalloc's bulk page allocation to single pages, so a
# single failure is mostly absorbed. Sets INJECTED to 1 if an allocation
# failed, OUT to what tc printed; returns tc's status. tc reads the request
# and then a marker command from a FIFO, so the request is known done when
# the marker's output shows.
UNTOUCHED=1000000
budget_failing() {
	local budget=$1 fifo outf pid rc i a t left=0
	shift
	INJECTED=0 OUT=
	fifo=$(mktemp -u) && mkfifo "$fifo" && outf=$(mktemp) || return 1
	"$TC" -force -batch "$fifo" >"$outf" 2>&1 &
	pid=$!
	echo 1 >/proc/$pid/make-it-fail
	for a in failslab fail_page_alloc; do
		echo Y >$FI/$a/task-filter
		echo 1 >$FI/$a/interval
		echo $UNTOUCHED >$FI/$a/times
		echo "$budget" >$FI/$a/space
		echo 100 >$FI/$a/probability
	done
	exec 9>"$fifo"
	echo "$*" >&9
	echo "qdisc show dev lo" >&9
	for ((i = 0; i < 600; i++)); do
		grep -q 'qdisc noqueue' "$outf" && break
		sleep 0.1
	done
	for a in failslab fail_page_alloc; do
		echo 0 >$FI/$a/probability
		read -r t <$FI/$a/times
		left=$((left + UNTOUCHED - t))
	done
	exec 9>&-
	wait $pid
	rc=$?
	OUT=$(grep -v 'qdisc noqueue' "$outf")
	rm -f "$fifo" "$outf"
	[ "$i" -lt 600 ] || { echo "tc never finished the request"; return 2; }
	INJECTED=$([ "$left" -gt 0 ] && echo 1 || echo 0)
	return $rc
}

# every_allocation_fails_cleanly WHAT CHECK UNDO ARGS...: `tc ARGS` with
# cakemt's memory running out after 0 bytes, 1 KiB, and then twice as
# many each time, until the request goes through with nothing failed. A
# run whose failure the code could not absorb must be refused with an
# extack message about memory and pass CHECK (a function that says nothing
# changed); a run that went through anyway is undone by UNDO.
every_allocation_fails_cleanly() {
	local what=$1 check=$2 undo=$3 budget=0 last=0 rc refused=0 own=0 absorbed=0 tried=0
	shift 3
	while [ $budget -le $((1 << 30)) ]; do
		budget_failing "$budget" "$@"
		rc=$?
		[ $rc = 2 ] && { fail "$what: $OUT"; return 1; }
		if [ "$INJECTED" = 0 ]; then
			[ $rc = 0 ] || { fail "$what failed with nothing injected: $OUT"; return 1; }
			$undo || return 1
			break
		fi
		tried=$((tried + 1))
		if [ $rc = 0 ]; then
			absorbed=$((absorbed + 1))
			$undo || return 1
		else
			refused=$((refused + 1))
			echo "$OUT" | grep -Eq '^Error: .*([Mm]emory|no memory)' ||
				{ fail "$what, memory out after $budget bytes: refused without an extack message about memory: $OUT"; return 1; }
			echo "$OUT" | grep -q 'cakemt: no memory' && own=$((own + 1))
			$check || { fail "$what, memory out after $budget bytes: the refusal changed something"; return 1; }
		fi
		last=$budget
		if [ $budget = 0 ]; then budget=1024; else budget=$((budget * 2)); fi
	done
	[ $budget -le $((1 << 30)) ] || { fail "$what: still allocating after 1 GiB"; return 1; }
	info "$what: goes through untouched with a budget of $budget bytes (as fault injection counts: a bulk page allocation is one page); out of memory at $tried budgets from 0 to $last: $refused refused ($own with cakemt's own ENOMEM message), $absorbed absorbed"
	[ $own -gt 0 ] || fail "$what: no failed allocation was refused with cakemt's message: the test proves nothing"
}

test_allocation_failures_fail_cleanly() {
	[ -d $FI/failslab ] || { info "no fault injection in this kernel: skipped"; return 0; }
	[ -e $FI/failslab/require-start ] ||
		{ fail "the debug kernel lacks FAULT_INJECTION_STACKTRACE_FILTER"; return 1; }
	load_module && limit_faults_to_cakemt || return 1
	ip link add d0 type dummy && ip link add d1 type dummy || return 1
	sysctl -qw net.ipv6.conf.d0.disable_ipv6=1 net.ipv6.conf.d1.disable_ipv6=1
	ip link set d0 up && ip link set d1 up && ip addr add 192.0.2.1/24 dev d0
	tc_ qdisc add dev d0 root handle 1: cakemt tins 8 tin-bandwidth 10mbit || return 1
	tc_ class change dev d0 classid 1:3 cakemt bandwidth 3mbit || return 1
	BEFORE=$(tc_ qdisc show dev d0; tc_ class show dev d0)
	d0_unchanged() {
		[ "$BEFORE" = "$(tc_ qdisc show dev d0; tc_ class show dev d0)" ] || return 1
		# The old configuration still carries packets.
		send_udp 192.0.2.9 1
	}
	d0_back() { tc_ qdisc change dev d0 root cakemt tins 8 && tc_ class change dev d0 classid 1:3 cakemt bandwidth 3mbit; }
	d1_empty() { ! tc_ qdisc show dev d1 | grep -q cakemt; }
	d1_del() { tc_ qdisc del dev d1 root; }
	every_allocation_fails_cleanly "change to 10,000 tins" d0_unchanged d0_back \
		qdisc change dev d0 root cakemt tins 10000 || return 1
	every_allocation_fails_cleanly "add of 10,000 tins" d1_empty d1_del \
		qdisc add dev d1 root handle 1: cakemt tins 10000 tin-bandwidth 1mbit || return 1
	balanced "" d0
}

# background_traffic SECS: every host of a star uploads, TCP and UDP.
# The UDP is iperf3 at 2 Mbit/s, not a busy loop, and the test's rates
# keep the whole load under 10 Mbit/s: on the debug kernel more took both
# CPUs, and each tc command of the test then took tens of seconds.
background_traffic() {
	local secs=$1 h
	for h in $(ip netns list | awk '/^h[0-9]/ {print $1}'); do
		ns srv timeout $((secs + 10)) iperf3 -s -1 -p $((5200 + ${h#h})) >/dev/null 2>&1 &
		ns srv timeout $((secs + 10)) iperf3 -s -1 -p $((5300 + ${h#h})) >/dev/null 2>&1 &
	done
	sleep 0.5
	for h in $(ip netns list | awk '/^h[0-9]/ {print $1}'); do
		ns "$h" timeout $((secs + 5)) iperf3 -c 10.0.0.2 -p $((5200 + ${h#h})) -t "$secs" >/dev/null 2>&1 &
		ns "$h" timeout $((secs + 5)) iperf3 -c 10.0.0.2 -p $((5300 + ${h#h})) -u -b 2M -t "$secs" >/dev/null 2>&1 &
	done
}

test_teardown_under_load() {
	local i t0 sent b ts=$SECONDS
	load_module && star 4 || return 1
	info "set-up: $((SECONDS - ts)) s"
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth 8mbit tins 4 tin-bandwidth 2mbit || return 1
	for i in 1 2 3 4; do
		ns rtr "$TC" filter add dev up0 parent 1: protocol ip prio 1 flower src_ip 10.0.$i.2 classid 1:$i || return 1
	done
	ts=$SECONDS
	background_traffic 100
	sleep 3
	info "traffic started: $((SECONDS - ts)) s"
	t0=$SECONDS
	# Each round is one tc -batch (a process start costs seconds on the
	# debug kernel, a round about 20 s under this load): tins, a class,
	# the rates, in round 2 a replace, and in round 4 a delete and an add
	# with the filters again.
	b=$(mktemp)
	for i in 1 2 3 4; do
		{
			echo "qdisc change dev up0 root cakemt tins $((4 + i % 5))"
			echo "class change dev up0 classid 1:$((1 + i % 4)) cakemt bandwidth $((i % 7 + 1))00kbit weight $((i % 3 + 1))"
			echo "qdisc change dev up0 root cakemt tin-bandwidth $((i % 4 + 1))mbit bandwidth $((4 + i))mbit"
			[ $i = 2 ] && echo "qdisc replace dev up0 root handle 1: cakemt bandwidth 8mbit tins 4 tin-bandwidth 2mbit"
			if [ $i = 4 ]; then
				echo "qdisc del dev up0 root"
				echo "qdisc add dev up0 root handle 1: cakemt bandwidth 8mbit tins 4 tin-bandwidth 2mbit"
				for t in 1 2 3 4; do
					echo "filter add dev up0 parent 1: protocol ip prio 1 flower src_ip 10.0.$t.2 classid 1:$t"
				done
			fi
		} >"$b"
		ns rtr "$TC" -batch "$b" || { fail "round $i: $(cat "$b")"; return 1; }
		sleep 0.3
	done
	rm -f "$b"
	sleep 1
	read -r sent < <(qstat rtr up0 packets)
	info "4 rounds in $((SECONDS - t0)) s; the qdisc added in the last has sent $sent packets since"
	[ "$sent" -gt 0 ] || { fail "no traffic flowed through the last qdisc: the test ran without load"; return 1; }
	# The namespace that owns the device goes, with traffic still flowing.
	ts=$SECONDS
	ip netns del rtr || { fail "deleting the router namespace"; return 1; }
	sleep 1
	for h in $(ip netns list | awk '{print $1}'); do ip netns pids "$h" | xargs -r kill 2>/dev/null; ip netns del "$h"; done
	info "namespaces gone: $((SECONDS - ts)) s"
	ts=$SECONDS
	unload_module || fail "rmmod after the namespace went"
	info "module unloaded: $((SECONDS - ts)) s"
}

# The flood: pktgen on the router's uplink sends UDP from random sources to
# 10,000 destination hosts (a BPF classifier puts each in its own tin), far
# faster than the tins' rates, through a 1 MB memory limit; a real host in
# its own tin keeps its TCP rate. Memory is sampled throughout.
test_rate_flood_respects_the_memory_limit() {
	local dir obj mac peak limit over
	dir=$(mktemp -d)
	obj=$dir/tin_by_daddr.o
	clang -O2 -target bpf -I/usr/include/x86_64-linux-gnu -c "$(dirname "${BASH_SOURCE[0]}")/bpf/tin_by_daddr.c" -o "$obj" ||
		{ fail "cannot build the BPF classifier"; return 1; }
	load_module && star 1 && modprobe pktgen || return 1
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt tins 10001 tin-bandwidth 80bit memlimit 1mb || return 1
	ns rtr "$TC" class change dev up0 classid 1:$(printf %x 10001) cakemt bandwidth 5mbit || return 1
	ns rtr "$TC" filter add dev up0 parent 1: protocol ip prio 1 flower src_ip 10.0.1.2 classid 1:$(printf %x 10001) || return 1
	ns rtr "$TC" filter add dev up0 parent 1: protocol ip prio 2 bpf da obj "$obj" sec tc classid 1: || return 1
	mac=$(ns srv cat /sys/class/net/eth0/address)
	# pktgen in the router namespace: 16,000 packets at 2,000 per second,
	# one every five seconds per flood tin against the one every ten
	# seconds its rate lets go, so the flood fills the memory in about a
	# second. (pktgen busy-waits gaps under 100 us, and each packet costs
	# about 0.2 ms of this guest's one CPU: a faster flood would take the
	# CPU from everything else, the real host's TCP included, and measure
	# that instead.)
	ns rtr bash -c "
		echo 'rem_device_all' >/proc/net/pktgen/kpktgend_0
		echo 'add_device up0' >/proc/net/pktgen/kpktgend_0
		p=/proc/net/pktgen/up0
		for c in 'count 16000' 'pkt_size 100' 'delay 500000' 'xmit_mode queue_xmit' \
			'dst_min 10.1.0.0' 'dst_max 10.1.39.15' 'src_min 10.200.0.1' 'src_max 10.200.255.254' \
			'flag IPSRC_RND' 'flag IPDST_RND' 'udp_src_min 1' 'udp_src_max 65000' 'flag UDPSRC_RND' \
			'dst_mac $mac'; do echo \"\$c\" >\$p; done" || { fail "pktgen set-up"; return 1; }
	ns rtr bash -c 'echo start >/proc/net/pktgen/pgctrl' &
	local pg=$!
	# Memory, sampled every second (each sample is a tc and a jq: CPU the
	# real host needs too), and the real host's upload, meanwhile.
	( for _ in $(seq 1 10); do qstat rtr up0 memory_used memory_limit; sleep 1; done ) >"$dir/mem" &
	local sampler=$!
	sleep 2
	flows 6 "$dir" h1:2
	wait $sampler
	wait $pg
	info "pktgen: $(ns rtr grep -o 'Result:.*' /proc/net/pktgen/up0)"
	read -r peak limit over < <(awk 'BEGIN {m = 0} {if ($1 > m) m = $1; if ($1 > $2) o++; l = $2}
		END {print m, l, o + 0}' "$dir/mem")
	info "memory used: peak $peak of $limit bytes over $(wc -l <"$dir/mem") samples, $over above the limit"
	[ "$over" = 0 ] || { fail "the memory limit was exceeded"; return 1; }
	[ "$peak" -gt $((limit / 2)) ] || { fail "the flood never filled the memory (peak $peak)"; return 1; }
	check_goodputs "the real host during the flood" 10 "$dir" h1:5 || return 1
	info "$(ns rtr "$TC" -s qdisc show dev up0 | tr '\n' ' ' | cut -c1-300)"
	balanced rtr up0
}
