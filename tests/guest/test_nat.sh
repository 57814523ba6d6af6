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

test_nat_gives_hosts_behind_a_masquerade_their_own_tins() {
	load_module && star 2 || return 1
	ns rtr nft -f - <<'NFT' || { fail "nft"; return 1; }
table ip nat_test {
	chain post {
		type nat hook postrouting priority 100; policy accept;
		oifname "up0" masquerade
	}
}
NFT
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
