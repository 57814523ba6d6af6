#!/bin/bash
# CAKE's autorate-ingress: shaping an ingress (an ifb) behind a link whose
# rate changes, cakemt estimates that rate from the arrivals and shapes the
# link to 15/16 of it. The upstream link is a TBF on the sender's veth
# end; CAKE with autorate-ingress on the same ifb is the reference in the
# same boot, cakemt without it the control.

# ingress_ifb: veth_pair, with what arrives on veth1 redirected to ifb0 in
# "rcv", and TBF at 6 Mbit/s on veth0 as the upstream link.
ingress_ifb() {
	veth_pair || return 1
	ns snd "$TC" qdisc add dev veth0 root tbf rate 6mbit burst 8kb latency 100ms || return 1
	ns rcv ip link add ifb0 type ifb && ns rcv ip link set ifb0 up || return 1
	ns rcv "$TC" qdisc add dev veth1 handle ffff: ingress || return 1
	ns rcv "$TC" filter add dev veth1 parent ffff: matchall action mirred egress redirect dev ifb0
}

# estimate KIND KEY: KEY of the KIND qdisc's statistics on ifb0, in kbit/s.
estimate() {
	ns rcv "$TC" -s -j qdisc show dev ifb0 |
		jq -r --arg k "$1" --arg f "$2" '[.[] | select(.kind == $k)][0] | (.[$f] // .xstats[$f] // .options[$f] // 0) * 8 / 1000 | round'
}

# upload SECS: one TCP flow snd -> rcv for SECS seconds (bounded).
upload() { goodput_mbit "$1" >/dev/null; }

test_rate_autorate_ingress_follows_the_upstream_rate() {
	load_module && ingress_ifb || return 1
	local est link cake ctl bad=0
	ns rcv "$TC" qdisc add dev ifb0 root handle 1: cakemt bandwidth 40mbit autorate-ingress ingress || return 1
	upload 8 || { fail "no traffic"; return 1; }
	est=$(estimate cakemt capacity_estimate); link=$(estimate cakemt link_rate)
	info "upstream 6 Mbit/s: cakemt estimates $est kbit/s, shapes the link at $link"
	# TBF's rate is the IP packets' (the estimate counts the same bytes).
	within 20 "$est" 6000 || { fail "cakemt: estimate $est kbit/s, upstream 6000"; bad=1; }
	within 3 "$link" "$((est * 15 / 16))" || { fail "cakemt: link at $link, not 15/16 of $est"; bad=1; }
	# The upstream rate falls: the estimate follows.
	ns snd "$TC" qdisc change dev veth0 root tbf rate 3mbit burst 8kb latency 100ms || return 1
	upload 8 || { fail "no traffic at 3 Mbit/s"; return 1; }
	est=$(estimate cakemt capacity_estimate)
	info "upstream 3 Mbit/s: cakemt estimates $est kbit/s"
	within 25 "$est" 3000 || { fail "cakemt: estimate $est kbit/s, upstream 3000"; bad=1; }
	balanced rcv ifb0 || bad=1
	# The reference: CAKE's own estimate of the same link.
	ns snd "$TC" qdisc change dev veth0 root tbf rate 6mbit burst 8kb latency 100ms || return 1
	ns rcv "$TC" qdisc replace dev ifb0 root cake bandwidth 40mbit autorate-ingress ingress || return 1
	upload 8 || { fail "no traffic through cake"; return 1; }
	cake=$(estimate cake capacity_estimate)
	info "upstream 6 Mbit/s: cake (reference) estimates $cake kbit/s"
	within 20 "$cake" 6000 || { fail "cake (reference): estimate $cake kbit/s"; bad=1; }
	# The control: no autorate, the link stays at its bandwidth.
	ns rcv "$TC" qdisc replace dev ifb0 root handle 1: cakemt bandwidth 40mbit ingress || return 1
	upload 4 || { fail "no traffic through the control"; return 1; }
	ctl=$(estimate cakemt link_rate)
	info "without autorate (control): link at $ctl kbit/s, estimate $(estimate cakemt capacity_estimate)"
	[ "$ctl" = 40000 ] || { fail "control: link at $ctl kbit/s"; bad=1; }
	[ "$(estimate cakemt capacity_estimate)" = 0 ] || { fail "control shows an estimate"; bad=1; }
	return $bad
}
