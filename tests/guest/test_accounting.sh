#!/bin/bash
# Exact accounting: a UDP burst far above a small memory limit through a slow
# link. Every packet the qdisc sent arrives, every other one is counted as an
# overlimit drop, and once drained nothing is left in backlog or memory.

test_memlimit_drops_are_counted_exactly() {
	load_module || return 1
	veth_pair || return 1
	for ns in snd rcv; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
	ip netns exec snd "$TC" qdisc add dev veth0 root cakemt bandwidth 2mbit memlimit 16kb || return 1
	local rx0 rx1 j
	rx0=$(ip netns exec rcv cat /sys/class/net/veth1/statistics/rx_packets)
	# 3000 datagrams of 1000 bytes as fast as the socket takes them (bounded).
	ip netns exec snd timeout 20 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3000):
    try:
        s.sendto(b"x" * 1000, ("10.99.0.2", 9))
    except OSError:
        pass'
	sleep 3   # drain: 16 KB at 2 Mbit/s takes well under a second
	# Other traffic (neighbour discovery) may cross at any moment: take the
	# receiver's count between two identical qdisc snapshots.
	local before tries=0
	while :; do
		before=$(ip netns exec snd "$TC" -s -j qdisc show dev veth0)
		sleep 0.2
		rx1=$(ip netns exec rcv cat /sys/class/net/veth1/statistics/rx_packets)
		j=$(ip netns exec snd "$TC" -s -j qdisc show dev veth0)
		[ "$before" = "$j" ] && break
		tries=$((tries + 1))
		[ $tries -lt 10 ] || { fail "qdisc never quiet"; return 1; }
	done
	info "$(ip netns exec snd "$TC" -s qdisc show dev veth0 | tr '\n' ' ')"
	python3 -c "$(cat <<'PY'
import json, sys
received = int(sys.argv[1])
q = json.load(sys.stdin)[0]
problems = []
if q["drops"] == 0: problems.append("no drops at all: the memory limit did not bite")
if q["overlimits"] != q["throttled"]: problems.append("overlimits %d != throttled %d" % (q["overlimits"], q["throttled"]))
if q["drops"] != q["drop_overlimit"]: problems.append("qdisc drops %d != overlimit drops %d" % (q["drops"], q["drop_overlimit"]))
# ARP also crosses the qdisc; the receiver counts the same packets.
if q["packets"] != received: problems.append("sent %d but the receiver got %d" % (q["packets"], received))
if q["qlen"] or q["backlog"] or q["memory_used"]: problems.append("not drained: %r" % q)
print("  sent %d, received %d, dropped %d" % (q["packets"], received, q["drops"]))
for p in problems: print("  " + p)
sys.exit(1 if problems else 0)
PY
)" "$((rx1 - rx0))" <<<"$j" || fail "accounting does not add up"
}
