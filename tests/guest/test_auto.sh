#!/bin/bash
# Automatic per-host tins (`auto dsthost|srchost`): every host address gets
# a tin of its own with no filter per host. Functional: distinct hosts get
# distinct tins and the class dump names them; mask4/mask6 join addresses;
# auto-prefix limits who qualifies; a pinned host keeps its explicit tin;
# pool exhaustion, the refused counter, idle release and reuse; changes
# that keep or forget hosts; bad input. Rates: ten hosts' downloads, each
# at its tin's rate, next to HTB+CAKE with a flower filter per host, while
# a spray of random destinations runs; and a spray of 100,000 addresses
# that must not move a host or grow the qdisc.

# auto_hosts DEV TIN...: the host holding each tin ("absent" if none).
auto_hosts() {
	local dev=$1
	shift
	tins_key "" "$dev" auto_host "$@"
}

test_auto_each_host_gets_its_own_tin() {
	load_module && dummy_dev || return 1
	sysctl -qw net.ipv6.conf.d0.disable_ipv6=0
	ip -6 addr add 2001:db8:1::1/48 dev d0 nodad || return 1
	ip route add 198.51.100.0/24 dev d0 || return 1
	# Tins 1..7 for hosts (8 is the default tin); IPv4 hosts are /30s,
	# IPv6 ones /64s; only the two prefixes qualify (so the IPv6 stack's
	# own multicast takes no tin).
	tc_ qdisc add dev d0 root handle 1: cakemt tins 8 auto dsthost mask4 30 \
		auto-prefix 192.0.2.0/24 auto-prefix 2001:db8:1::/48 || return 1
	send_udp 192.0.2.9 3            # 192.0.2.8/30 -> tin 1
	send_udp 192.0.2.10 3           # the same /30 -> tin 1
	send_udp 192.0.2.20 3           # 192.0.2.20/30 -> tin 2
	send_udp 2001:db8:1:5::1 3      # 2001:db8:1:5::/64 -> tin 3
	send_udp 2001:db8:1:5::2 3      # the same /64 -> tin 3
	send_udp 2001:db8:1:6::1 3      # -> tin 4
	send_udp 198.51.100.7 3         # outside the prefixes -> default tin 8
	sleep 0.5
	local got bad=0
	got=$(tins_key "" d0 packets 1 2 3 4 5)
	info "packets sent by tins 1..5: $got"
	[ "$got" = "6 3 6 3 0" ] || { fail "tins 1..5 sent $got, want 6 3 6 3 0"; bad=1; }
	# The default tin has those 3 and whatever the IPv6 stack sent itself.
	got=$(tstat "" d0 8 packets)
	[ "$got" -ge 3 ] || { fail "the default tin sent $got, not at least 3"; bad=1; }
	got=$(auto_hosts d0 1 2 3 4 5)
	info "hosts of tins 1..5: $got"
	[ "$got" = "192.0.2.8/30 192.0.2.20/30 2001:db8:1:5::/64 2001:db8:1:6::/64 absent" ] ||
		{ fail "tins 1..5 are held by $got"; bad=1; }
	got=$(qstat "" d0 auto_pool auto_hosts auto_admitted auto_released auto_refused)
	info "pool, hosts, admitted, released, refused: $got"
	[ "$got" = "7 4 4 0 0" ] || { fail "counters $got, want 7 4 4 0 0"; bad=1; }
	info "$(tc_ -s class show dev d0 classid 1:3 | grep -m1 ' host ')"
	tc_ -s class show dev d0 classid 1:3 | grep -q ' host 2001:db8:1:5::/64 for ' ||
		{ fail "class show does not name tin 3's host"; bad=1; }
	[ $bad = 0 ] && balanced "" d0
}

# `auto srchost`, the upstream side's mode: the source address picks the
# tin. Routes with a source address of their own make bash's datagrams
# leave from three addresses of d0.
test_auto_srchost_keys_by_the_source() {
	load_module && dummy_dev || return 1
	printf '%s\n' 'addr add 192.0.2.2/24 dev d0' 'addr add 192.0.2.3/24 dev d0' \
		'route add 198.51.100.1/32 dev d0 src 192.0.2.2' 'route add 198.51.100.2/32 dev d0 src 192.0.2.3' \
		'route add 198.51.100.3/32 dev d0 src 192.0.2.1' 'route add 198.51.100.4/32 dev d0 src 192.0.2.2' |
		ip -batch - || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt tins 4 auto srchost || return 1
	send_udp 198.51.100.1 2         # from .2 -> tin 1
	send_udp 198.51.100.2 3         # from .3 -> tin 2
	send_udp 198.51.100.3 4         # from .1 -> tin 3
	send_udp 198.51.100.4 5         # from .2 again -> tin 1
	sleep 0.3
	local got bad=0
	got=$(tins_key "" d0 packets 1 2 3)
	info "packets sent by tins 1..3: $got"
	[ "$got" = "7 3 4" ] || { fail "tins 1..3 sent $got, want 7 3 4"; bad=1; }
	got=$(auto_hosts d0 1 2 3)
	info "hosts of tins 1..3: $got"
	[ "$got" = "192.0.2.2/32 192.0.2.3/32 192.0.2.1/32" ] || { fail "tins 1..3 are held by $got"; bad=1; }
	[ $bad = 0 ] && balanced "" d0
}

test_auto_pool_exhaustion_idle_release_and_pinning() {
	load_module && dummy_dev || return 1
	# Pool: tins 2..4 (1 is below auto-first, 5 is the default tin).
	tc_ qdisc add dev d0 root handle 1: cakemt tins 5 auto dsthost auto-first 2 auto-idle 1s || return 1
	tc_ filter add dev d0 parent 1: protocol ip prio 1 flower dst_ip 192.0.2.99 classid 1:1 || return 1
	send_udp 192.0.2.99 2           # pinned by the filter -> tin 1
	send_udp 192.0.2.11 2           # -> tin 2
	send_udp 192.0.2.12 2           # -> tin 3
	send_udp 192.0.2.13 2           # -> tin 4
	send_udp 192.0.2.14 2           # no tin free, all active: default tin 5
	sleep 0.3
	local got bad=0
	got=$(tins_key "" d0 packets 1 2 3 4 5)
	info "packets of tins 1..5: $got"
	[ "$got" = "2 2 2 2 2" ] || { fail "tins 1..5 sent $got, want 2 2 2 2 2"; bad=1; }
	got=$(auto_hosts d0 1 2 3 4 5)
	[ "$got" = "absent 192.0.2.11/32 192.0.2.12/32 192.0.2.13/32 absent" ] ||
		{ fail "tins 1..5 are held by $got"; bad=1; }
	got=$(qstat "" d0 auto_pool auto_hosts auto_refused)
	info "pool, hosts, refused: $got"
	[ "$got" = "3 3 2" ] || { fail "pool/hosts/refused $got, want 3 3 2"; bad=1; }
	# Past auto-idle, with nothing queued, the hosts give their tins back:
	# the newcomer gets one, and the pinned host still goes to tin 1.
	sleep 1.2
	send_udp 192.0.2.14 2
	send_udp 192.0.2.99 1
	sleep 0.3
	got=$(qstat "" d0 auto_hosts auto_admitted auto_released auto_refused)
	info "after the idle time: hosts, admitted, released, refused: $got"
	read -r hosts admitted released refused <<<"$got"
	[ "$admitted" = 4 ] && [ "$released" -ge 1 ] && [ "$refused" = 2 ] &&
		[ "$hosts" = $((admitted - released)) ] || { fail "after idle: $got"; bad=1; }
	got=$(auto_hosts d0 2 3 4 | tr ' ' '\n' | grep -c '^192.0.2.14/32$')
	[ "$got" = 1 ] || { fail "192.0.2.14 holds $got tins after the others went idle"; bad=1; }
	[ "$(tstat "" d0 1 packets)" = 3 ] || { fail "the pinned host left tin 1"; bad=1; }
	# More tins keep the hosts (the default tin becomes 6, the pool 2..5);
	# a new mask forgets them.
	local t14
	t14=$(for t in 2 3 4; do [ "$(auto_hosts d0 $t)" = 192.0.2.14/32 ] && echo $t; done)
	tc_ qdisc change dev d0 root cakemt tins 6 || return 1
	[ "$(auto_hosts d0 "$t14")" = 192.0.2.14/32 ] || { fail "tins 6 forgot 192.0.2.14 (tin $t14)"; bad=1; }
	[ "$(qstat "" d0 auto_pool)" = 4 ] || { fail "the pool is $(qstat "" d0 auto_pool) tins, not 4"; bad=1; }
	tc_ qdisc change dev d0 root cakemt mask4 24 || return 1
	[ "$(qstat "" d0 auto_hosts)" = 0 ] || { fail "mask4 24 kept $(qstat "" d0 auto_hosts) hosts"; bad=1; }
	send_udp 192.0.2.30 1
	send_udp 192.0.2.31 1
	sleep 0.3
	[ "$(qstat "" d0 auto_hosts)" = 1 ] || { fail "two addresses of one /24 are $(qstat "" d0 auto_hosts) hosts"; bad=1; }
	[ $bad = 0 ] && balanced "" d0
}

test_auto_bad_input_changes_nothing() {
	load_module && dummy_dev || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt tins 4 auto dsthost auto-prefix 192.0.2.0/24 || return 1
	local before case want err
	before=$(tc_ qdisc show dev d0)
	# What tc itself refuses: ARGS|text in its error.
	while IFS='|' read -r case want; do
		# shellcheck disable=SC2086
		if err=$(tc_ qdisc change dev d0 root cakemt $case 2>&1); then
			fail "'$case' was accepted"; return 1
		fi
		[[ $err == *"$want"* ]] || { fail "'$case' said '$err', want '$want'"; return 1; }
	done <<'CASES'
mask4 33|mask4
mask6 0|mask6
auto everyone|auto
auto dsthost auto srchost|duplicate
auto-prefix 10.0.0.0/33|auto-prefix
auto-idle soon|auto-idle
CASES
	# What the kernel checks: REQUEST|message (values tc never sends).
	kernel_refuses d0 <<'CASES' || return 1
AUTO=3|cakemt: auto 3 is none of none (0), dsthost (1), srchost (2)
AUTO_MASK4=0|cakemt: mask4 must be 1..32, not 0
AUTO_MASK6=129|cakemt: mask6 must be 1..128, not 129
AUTO_IDLE=0|cakemt: auto-idle (ms) must be 1..86400000, not 0
AUTO_FIRST=5|cakemt: auto-first 5 is past tins 4
TINS=2,AUTO_FIRST=3|cakemt: auto-first 3 is past tins 2
AUTO_PREFIXES=0221000000000000000000000000000000000000|cakemt: auto-prefix entry 0: family 2 length 33
AUTO_PREFIXES=02180000c0000200|cakemt: auto-prefix holds 8 bytes
CASES
	[ "$before" = "$(tc_ qdisc show dev d0)" ] || fail "the qdisc changed: '$before' -> '$(tc_ qdisc show dev d0)'"
}

# by_dst_on NS DEV HOST...: a flower filter per host i (10.0.i.2) sending
# it to class 1:i, written as htb_cake writes it (tc reads both as hex),
# on DEV in NS (the control's classifier).
by_dst_on() {
	local n=$1 dev=$2 h
	shift 2
	for h in "$@"; do
		printf 'filter add dev %s parent 1: protocol ip prio 1 flower dst_ip 10.0.%d.2 classid 1:%d\n' "$dev" "$h" "$h"
	done | ns "$n" "$TC" -batch - || return 1
}

# spray NS DEV COUNT PPS: pktgen on DEV in NS sends COUNT UDP packets at
# PPS per second to random addresses of 10.128.0.0/9 (bounded: COUNT/PPS
# seconds), in the background; its pid in $spray_pid.
spray() {
	local n=$1 dev=$2 count=$3 pps=$4
	ns "$n" bash -c "
		echo 'rem_device_all' >/proc/net/pktgen/kpktgend_0
		echo 'add_device $dev' >/proc/net/pktgen/kpktgend_0
		p=/proc/net/pktgen/$dev
		for c in 'count $count' 'pkt_size 64' 'delay $((1000000000 / pps))' 'xmit_mode queue_xmit' \
			'dst_min 10.128.0.0' 'dst_max 10.255.255.255' 'flag IPDST_RND' \
			'udp_dst_min 9' 'udp_dst_max 9'; do echo \"\$c\" >\$p; done" || { fail "pktgen set-up"; return 1; }
	ns "$n" bash -c 'echo start >/proc/net/pktgen/pgctrl' &
	spray_pid=$!
}

# Ten hosts' downloads, the server's eth0 carrying them all: cakemt with
# `auto dsthost` gives each host its tin by itself. The issue's 3 Mbit/s
# per host on a 40 Mbit/s link is scaled to 1.2 on 16 (the same ratio;
# a TCG guest carries about 12 Mbit/s through the star's two hops). The
# control is HTB+CAKE with a flower filter per host, in the same boot.
test_rate_auto_dsthost_gives_every_host_its_rate() {
	local dir rc=0 h spec_f="" spec_r="" spray_pid
	dir=$(mktemp -d)
	load_module && star 10 && modprobe pktgen || return 1
	for h in $(seq 1 10); do spec_f+="h$h:1 "; spec_r+="h$h:1.2 "; done
	# 20 tins: ten hosts, nine spray addresses at most, the default tin.
	ns srv "$TC" qdisc add dev eth0 root handle 1: cakemt bandwidth 16mbit tins 20 \
		tin-bandwidth 1.2mbit auto dsthost || return 1
	# A ping's reply gives each host its tin, before the spray starts.
	local got
	for h in $(seq 1 10); do ns h$h ping -c1 -W2 10.0.0.2 >/dev/null; done
	got=$(qstat srv eth0 auto_hosts)
	[ "$got" = 10 ] || { fail "$got hosts hold tins after the pings, not 10"; return 1; }
	# The spray (10,000 random destinations at 1,000 per second, against
	# the real hosts' traffic for the 10 s of a measurement) finds nine
	# tins and then the default tin, whose rate bounds what it takes.
	spray srv eth0 10000 1000 || return 1
	DOWNLOAD=1 measure "cakemt auto dsthost" 5 10 "$dir" "$spec_f" "$spec_r" || rc=1
	kill "$spray_pid" 2>/dev/null; wait "$spray_pid" 2>/dev/null
	ns srv bash -c 'echo stop >/proc/net/pktgen/pgctrl' 2>/dev/null
	got=$(qstat srv eth0 auto_pool auto_hosts auto_refused)
	info "pool, hosts, refused after the spray: $got"
	read -r pool hosts refused <<<"$got"
	[ "$hosts" -le "$pool" ] && [ "$refused" -gt 0 ] || { fail "pool/hosts/refused $got"; rc=1; }
	balanced srv eth0 || rc=1
	htb_cake srv eth0 16 1.2 1.2 1.2 1.2 1.2 1.2 1.2 1.2 1.2 1.2 && by_dst_on srv eth0 $(seq 1 10) || return 1
	DOWNLOAD=1 measure "htb+cake per host (control)" 20 10 "$dir" "$spec_f" "$spec_r" || rc=1
	return $rc
}

# 100,000 random destinations (pktgen, 10.128.0.0/9) into a qdisc of 1,001
# tins whose ten real hosts were admitted first: the spray fills the free
# tins and is refused after, no real host loses its tin, and the qdisc's
# memory does not move. (Run with the rate tests: pktgen costs about 0.2 ms
# of CPU per packet here, 20 s for the spray, far more on the debug kernel.)
test_rate_auto_spray_moves_no_host_and_no_memory() {
	local before after tins_before tins_after spray_pid
	load_module && dummy_dev && modprobe pktgen || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt tins 1001 auto dsthost auto-idle 10min || return 1
	for h in $(seq 10 19); do send_udp 192.0.2.$h 1; done
	sleep 0.3
	tins_before=$(auto_hosts d0 $(seq 1 10))
	before=$(qstat "" d0 memory_allocated)
	local mem0 mem1
	mem0=$(kernel_memory)
	spray "" d0 100000 20000 || return 1
	wait "$spray_pid"
	info "pktgen: $(grep -o 'Result:.*' /proc/net/pktgen/d0)"
	mem1=$(kernel_memory)
	for h in $(seq 10 19); do send_udp 192.0.2.$h 1; done
	sleep 0.3
	tins_after=$(auto_hosts d0 $(seq 1 10))
	after=$(qstat "" d0 memory_allocated)
	local got
	got=$(qstat "" d0 auto_pool auto_hosts auto_admitted auto_refused received)
	info "pool, hosts, admitted, refused, received: $got"
	read -r pool hosts admitted refused received <<<"$got"
	info "qdisc tables $before -> $after bytes; slab+vmalloc $mem0 -> $mem1 bytes"
	[ "$tins_before" = "$tins_after" ] || { fail "hosts moved: '$tins_before' -> '$tins_after'"; return 1; }
	[ "$before" = "$after" ] || { fail "the qdisc's tables grew: $before -> $after"; return 1; }
	[ "$hosts" = "$pool" ] && [ "$refused" -gt 90000 ] && [ "$received" -ge 100000 ] ||
		{ fail "the spray did not fill the pool and get refused: $got"; return 1; }
	# Slab and vmalloc wander by what the rest of the guest does; a table
	# that grew per address would be megabytes.
	[ $((mem1 - mem0)) -lt $((1 << 20)) ] || { fail "kernel memory grew by $((mem1 - mem0)) bytes"; return 1; }
	balanced "" d0
}
