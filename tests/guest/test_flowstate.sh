#!/bin/bash
# No subscriber can starve another of flow state: eight hosts hold 1,024
# flows each, more than the shared flow pool has, and a ninth, idle host's
# first packets still get through at once (its tin's reserved flow slot).

test_idle_host_gets_through_a_full_flow_pool() {
	load_module || return 1
	veth_pair || return 1
	local t
	for t in $(seq 1 9); do echo "addr add 10.99.1.$t/24 dev veth1"; done | ip -n rcv -batch - || return 1
	ip -n snd addr add 10.99.1.100/24 dev veth0
	# 16 tins: a pool of 4,096 shared flow slots. 8 bit/s per tin keeps
	# every flow's packet queued for the whole test (each tin sends its
	# first datagram, then one every 106 s); the idle host's tin has 1 Mbit.
	ns snd "$TC" qdisc add dev veth0 root handle 1: cakemt tins 16 tin-bandwidth 8bit memlimit 64mb || return 1
	ns snd "$TC" class change dev veth0 classid 1:9 cakemt bandwidth 1mbit || return 1
	# Permanent neighbours: ARP would queue in the default tin at 8 bit/s.
	# One tc and one ip for the nine of each: a process start costs most
	# of a second on the debug kernel.
	local mac; mac=$(ns rcv cat /sys/class/net/veth1/address)
	for t in $(seq 1 9); do
		echo "filter add dev veth0 parent 1: protocol ip prio 1 flower dst_ip 10.99.1.$t classid 1:$t"
	done | ns snd "$TC" -batch - || return 1
	for t in $(seq 1 9); do
		echo "neigh replace 10.99.1.$t lladdr $mac dev veth0 nud permanent"
	done | ip -n snd -batch - || return 1
	# 8 hosts x 1,024 flows (source ports), one datagram each, from a raw
	# socket (a socket per port would take minutes under TCG).
	ns snd timeout 60 python3 - <<'PY' || { fail "flood"; return 1; }
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
# Queued datagrams count against the socket's send buffer: make room for
# all of them (SO_SNDBUFFORCE, root only), or sendto blocks.
s.setsockopt(socket.SOL_SOCKET, 32, 64 << 20)
src = socket.inet_aton("10.99.1.100")
for t in range(1, 9):
    dst = socket.inet_aton("10.99.1.%d" % t)
    for port in range(20000, 21024):
        udp = struct.pack("!HHHH", port, 9, 8 + 64, 0) + b"x" * 64   # UDP checksum 0: none
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
        s.sendto(ip + udp, ("10.99.1.%d" % t, 0))
PY
	local used slots
	read -r used slots < <(qstat snd veth0 flows_in_use flow_slots)
	info "flow slots in use: $used of $slots"
	[ "$used" -ge "$slots" ] ||
		{ fail "the pool is not full ($used of $slots): the test proves nothing"; return 1; }
	# The idle host: a ping to tin 9 must come back at once.
	local rtt
	rtt=$(ns snd ping -c 3 -i 0.2 -W 1 10.99.1.9 | sed -n 's/.*time=\([0-9.]*\).*/\1/p' | tail -1)
	local uses; uses=$(tstat snd veth0 9 reserved_slot_uses)
	info "first pings of the idle host: last RTT ${rtt:-none} ms; reserved-slot uses of tin 9: $uses"
	[ -n "$rtt" ] || { fail "the idle host's pings did not get through"; return 1; }
	le "$rtt" 100 ||
		{ fail "the idle host waited $rtt ms"; return 1; }
	# With no free way left anywhere, its flow can only be in its reserved slot.
	[ "$uses" -ge 1 ] || { fail "tin 9 never used its reserved slot"; return 1; }
	[ "$(qstat snd veth0 drops)" = 0 ] || fail "packets were dropped"
}
