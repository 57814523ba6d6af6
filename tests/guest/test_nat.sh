#!/bin/bash
# CAKE's `nat`: behind a router that masquerades, every packet leaves from
# the router's address; with `nat` cakemt reads the subscriber's own
# address from conntrack. Two hosts upload through the star's router,
# which masquerades on up0; `auto srchost nat` there gives each host its
# own tin, and the control in the same test, `nonat`, sees one host (the
# router's address) for both.

# udp_from NS COUNT: COUNT datagrams from host NS to the server's port 9.
udp_from() {
	ns "$1" bash -c "for ((i = 0; i < $2; i++)); do printf '%0100d' 0 >/dev/udp/10.0.0.2/9; done" 2>/dev/null
	return 0
}

# masquerade_up0: the star's router masquerades what leaves by up0 (table
# nat_test, deleted by the test).
masquerade_up0() {
	ns rtr nft -f - <<'NFT'
table ip nat_test {
	chain post {
		type nat hook postrouting priority 100; policy accept;
		oifname "up0" masquerade
	}
}
NFT
}

test_nat_gives_hosts_behind_a_masquerade_their_own_tins() {
	load_module && star 2 || return 1
	masquerade_up0 || { fail "nft"; return 1; }
	ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt tins 4 auto srchost nat || return 1
	local got bad=0
	udp_from h1 3
	udp_from h2 4
	sleep 0.3
	got=$(tins_key rtr up0 auto_host 1 2 3)
	info "nat: hosts of tins 1..3: $got; packets $(tins_key rtr up0 packets 1 2 3)"
	[ "$got" = "10.0.1.2/32 10.0.2.2/32 absent" ] || { fail "with nat, tins 1..3 are held by $got"; bad=1; }
	[ "$(tins_key rtr up0 packets 1 2)" = "3 4" ] || { fail "with nat, tins 1 and 2 sent $(tins_key rtr up0 packets 1 2)"; bad=1; }
	# The control: nonat, a change of that keyword alone. Both hosts now
	# come from the router's address, one new host.
	ns rtr "$TC" qdisc change dev up0 root cakemt nonat || return 1
	udp_from h1 2
	udp_from h2 2
	sleep 0.3
	got=$(tins_key rtr up0 auto_host 3)
	info "nonat (control): tin 3 held by $got, sent $(tins_key rtr up0 packets 3); hosts $(qstat rtr up0 auto_hosts)"
	[ "$got" = "10.0.0.1/32" ] || { fail "with nonat, tin 3 is held by $got"; bad=1; }
	[ "$(tins_key rtr up0 packets 3)" = 4 ] || { fail "with nonat, tin 3 sent $(tins_key rtr up0 packets 3)"; bad=1; }
	ns rtr nft delete table ip nat_test
	[ $bad = 0 ] && balanced rtr up0
}

# nat_shares MODE: host 1's 4 TCP uploads against host 2's one, 8 s, both
# behind the masquerading router, in one tin of 8 Mbit/s with
# `dual-srchost MODE`; prints the two hosts' goodputs.
nat_shares() {
	local dir
	dir=$(mktemp -d)
	ns rtr "$TC" qdisc replace dev up0 root handle 1: cakemt bandwidth 100mbit tins 1 \
		tin-bandwidth 8mbit dual-srchost "$1" || return 2
	flows 8 "$dir" h1:4 h2:1
	echo "$(goodput "$dir/h1.json") $(goodput "$dir/h2.json")"
	rm -rf "$dir"
}

# nat_round MODE: a round (see `rounds`): with nat the two hosts share the
# tin equally (each within 20% of half the tin); with nonat (the control)
# the tin sees one host, the router, and shares by flow: host 2's one flow
# of five gets at most a third of what host 1 gets.
nat_round() {
	local got h1 h2 sum
	got=$(nat_shares "$1") || { fail "cakemt $1"; return 2; }
	read -r h1 h2 <<<"$got"
	sum=$(awk -v a="$h1" -v b="$h2" 'BEGIN { print a + b }')
	info "dual-srchost $1: host 1 (4 flows) $h1, host 2 (1 flow) $h2 Mbit/s"
	le "$sum" "$(tcp_goodput 8.4)" || { fail "$1: the hosts got $sum Mbit/s in a tin of 8"; return 2; }
	case $1 in
	nat)
		within 20 "$h2" "$(awk -v s="$sum" 'BEGIN { print s / 2 }')" && return 0
		fail "nat: host 2 got $h2 of $sum Mbit/s, not half"
		;;
	nonat)
		le "$h2" "$(awk -v a="$h1" 'BEGIN { print a / 3 }')" && return 0
		fail "nonat: host 2 got $h2 against host 1's $h1 Mbit/s: the tin told the hosts apart"
		;;
	esac
	return 1
}

test_rate_nat_keeps_hosts_apart_inside_a_tin() {
	local rc=0
	load_module && star 2 || return 1
	masquerade_up0 || { fail "nft"; return 1; }
	rounds "nat" nat_round nat || rc=1
	rounds "nonat (control)" nat_round nonat || rc=1
	ns rtr nft delete table ip nat_test
	return $rc
}
