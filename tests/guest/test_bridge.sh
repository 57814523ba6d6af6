#!/bin/bash
# cakemt on a port of a transparent Linux bridge: the inline shaping box an
# operator puts between the upstream and a CMTS, DSLAM or WISP backhaul.
# Hosts behind it keep their addresses and routes; cakemt on the box's
# subscriber-side port shapes each host's downloads to its tin's rate
# (flower on the destination address), with HTB+CAKE in the same place as
# the control.

# bridge_box N: srv (10.0.0.2) - [wan | box br0 | lan] - [switch br1] - hosts
# h1..hN (10.0.0.1i), one layer-2 segment, no routing anywhere.
bridge_box() {
	local n=$1 h
	for h in srv box sw; do
		ip netns add $h || return 1
		ns $h sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ns $h ip link set lo up
	done
	ip link add eth0 netns srv type veth peer name wan netns box || return 1
	ip link add lan netns box type veth peer name trunk netns sw || return 1
	ns box ip link add br0 type bridge && ns sw ip link add br1 type bridge || return 1
	ns box ip link set wan master br0 && ns box ip link set lan master br0 || return 1
	ns sw ip link set trunk master br1 || return 1
	for h in $(seq 1 "$n"); do
		ip netns add h$h || return 1
		ns h$h sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ip link add eth0 netns h$h type veth peer name p$h netns sw || return 1
		ns sw ip link set p$h master br1 && ns sw ip link set p$h up
		ns h$h ip addr add 10.0.0.1$h/24 dev eth0
		ns h$h ip link set lo up && ns h$h ip link set eth0 up
	done
	ns srv ip addr add 10.0.0.2/24 dev eth0 && ns srv ip link set eth0 up
	for d in wan lan br0; do ns box ip link set $d up; done
	ns sw ip link set trunk up && ns sw ip link set br1 up
	for h in $(seq 1 "$n"); do ns h$h ping -c1 -W3 10.0.0.2 >/dev/null || return 1; done
}

# by_dst_on_lan TIN...: host i's downloads to tin TIN_i.
by_dst_on_lan() {
	local i=1 t
	for t in "$@"; do
		ns box "$TC" filter add dev lan parent 1: protocol ip prio 1 \
			flower dst_ip 10.0.0.1$i classid 1:$t || return 1
		i=$((i + 1))
	done
}

test_rate_bridge_port_shapes_hosts_behind_it() {
	local dir rc=0; dir=$(mktemp -d)
	load_module && bridge_box 3 || return 1
	ns box "$TC" qdisc add dev lan root handle 1: cakemt bandwidth 20mbit tins 3 || return 1
	ns box "$TC" class change dev lan classid 1:1 cakemt bandwidth 2mbit || return 1
	ns box "$TC" class change dev lan classid 1:2 cakemt bandwidth 4mbit || return 1
	ns box "$TC" class change dev lan classid 1:3 cakemt bandwidth 6mbit || return 1
	by_dst_on_lan 1 2 3 || return 1
	DOWNLOAD=1 measure "cakemt on a bridge port (downloads)" 5 12 "$dir" "h1:1 h2:1 h3:1" "h1:2 h2:4 h3:6" || rc=1
	balanced box lan || rc=1
	htb_cake box lan 20 2 4 6 && by_dst_on_lan 1 2 3 || return 1
	# With tc's default HTB burst its 2 Mbit/s class ran short here,
	# more so through the bridge: 1.606 and 1.733 of 1.913 on
	# 2026-12-02's machine, 1.461-1.489 in six rounds on 2026-12-03's
	# (the 4 and 6 Mbit/s classes within 4%); with htb_cake's 15 KB
	# burst (see test_rates.sh) 1.915. The control's bound, 30%, was set
	# for the short class; it still fails a harness that does not carry
	# the traffic.
	DOWNLOAD=1 measure "htb+cake on the bridge port (control)" 30 12 "$dir" "h1:1 h2:1 h3:1" "h1:2 h2:4 h3:6" || rc=1
	return $rc
}
