#!/bin/bash
# cakemt demonstration, run inside the virtme-ng guest by `make demo`.
#
# Four subscriber hosts, each in its own network namespace, send to a server
# through a router namespace whose uplink is shaped by cakemt; host N opens N
# TCP flows. Prints each host's goodput and the qdisc's statistics, then the
# same run through CAKE (dual-srchost) as the reference.
#
# At this stage cakemt is one shaped queue: every host shares the link rate
# and a host with more flows gets more. Per-host tins (each host its own rate
# and fair share) arrive with the kernel integration of the scheduling core.
set -u
: "${CAKEMT_KO:?}" "${TC:?}"
RATE=${RATE:-40mbit}
SECS=${SECS:-8}
HOSTS=4

insmod "$CAKEMT_KO" || exit 1

ns() { ip netns exec "$@"; }

build_topology() {
	ip netns add rtr; ip netns add srv
	ip link add up0 netns rtr type veth peer name eth0 netns srv
	ip -n rtr addr add 10.0.0.1/24 dev up0
	ip -n srv addr add 10.0.0.2/24 dev eth0
	for n in rtr srv; do ip -n $n link set lo up; done
	ip -n rtr link set up0 up; ip -n srv link set eth0 up
	ip -n srv route add 10.0.0.0/16 via 10.0.0.1
	ns rtr sysctl -qw net.ipv4.ip_forward=1
	for h in $(seq 1 $HOSTS); do
		ip netns add h$h
		ip link add eth0 netns h$h type veth peer name down$h netns rtr
		ip -n h$h addr add 10.0.$h.2/24 dev eth0
		ip -n rtr addr add 10.0.$h.1/24 dev down$h
		ip -n h$h link set lo up; ip -n h$h link set eth0 up
		ip -n rtr link set down$h up
		ip -n h$h route add default via 10.0.$h.1
	done
}

# run_traffic: host N runs N flows to the server for SECS seconds; prints
# each host's goodput.
run_traffic() {
	local h dir=$(mktemp -d)
	for h in $(seq 1 $HOSTS); do
		ns srv timeout $((SECS + 20)) iperf3 -s -1 -p $((5200 + h)) >/dev/null 2>&1 &
	done
	sleep 0.5
	for h in $(seq 1 $HOSTS); do
		ns h$h timeout $((SECS + 15)) iperf3 -c 10.0.0.2 -p $((5200 + h)) -P $h -t "$SECS" -J \
			>"$dir/h$h.json" 2>/dev/null &
	done
	wait
	python3 - "$dir" $HOSTS <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
total = 0
for h in range(1, n + 1):
    try:
        bps = json.load(open(f"{d}/h{h}.json"))["end"]["sum_received"]["bits_per_second"]
    except Exception as e:
        print(f"  host h{h}: no result ({e})"); continue
    total += bps
    print(f"  host h{h} (10.0.{h}.2, {h} flow{'s' if h > 1 else ''}): {bps / 1e6:7.2f} Mbit/s")
print(f"  total: {total / 1e6:.2f} Mbit/s")
PY
	rm -rf "$dir"
}

build_topology
echo "== cakemt bandwidth $RATE on the router's uplink, $HOSTS hosts, $SECS s"
ns rtr "$TC" qdisc add dev up0 root cakemt bandwidth "$RATE" || exit 1
run_traffic
ns rtr "$TC" -s qdisc show dev up0

echo "== reference: CAKE bandwidth $RATE dual-srchost, same hosts"
ns rtr "$TC" qdisc replace dev up0 root cake bandwidth "$RATE" dual-srchost
run_traffic
ns rtr "$TC" qdisc del dev up0 root
rmmod cakemt
