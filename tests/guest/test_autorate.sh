#!/bin/bash
# CAKE's autorate-ingress: shaping an ingress (an ifb) behind a link whose
# rate changes, cakemt estimates that rate from the arrivals and shapes the
# link to 15/16 of it. The upstream link is netem's rate on the sender's
# veth end; CAKE with autorate-ingress on the same ifb is the reference in the
# same boot, cakemt without it the control.

# ingress_ifb RATE: veth_pair, with what arrives on veth1 redirected to
# ifb0 in "rcv", and the upstream link on veth0: netem at RATE, which
# spaces packets as a link of that rate serialises them (TBF sends its
# bucket's worth back to back, and CAKE's estimate, a peak, reads that),
# with a millisecond of jitter: at perfectly even gaps the average gap
# equals every gap, no window ever ends, and the estimate never moves
# (CAKE's and cakemt's alike; a real link is never that even).
ingress_ifb() {
	veth_pair || return 1
	ns snd "$TC" qdisc add dev veth0 root netem rate "$1" delay 2ms 1ms limit 100 || return 1
	ns rcv ip link add ifb0 type ifb && ns rcv ip link set ifb0 up || return 1
	ns rcv "$TC" qdisc add dev veth1 handle ffff: ingress || return 1
	ns rcv "$TC" filter add dev veth1 parent ffff: matchall action mirred egress redirect dev ifb0
}

# estimate KIND KEY: KEY of the KIND qdisc's statistics on ifb0, in kbit/s.
estimate() {
	ns rcv "$TC" -s -j qdisc show dev ifb0 |
		jq -r --arg k "$1" --arg f "$2" '[.[] | select(.kind == $k)][0] | (.[$f] // .xstats[$f] // .options[$f] // 0) * 8 / 1000 | round'
}

# upload SECS: a UDP flood snd -> rcv at 10 Mbit/s, above the upstream's
# rate, for SECS seconds (bounded). UDP: the upstream alone paces what
# arrives (TCP would send GSO trains, and slow down for the shaper).
upload() {
	ns rcv timeout $(($1 + 20)) iperf3 -s -1 -B 10.99.0.2 >/dev/null 2>&1 &
	sleep 0.5
	ns snd timeout $(($1 + 15)) iperf3 -c 10.99.0.2 -u -b 10M -l 1400 -t "$1" >/dev/null
	local rc=$?
	wait
	return $rc
}

# The estimate is CAKE's, a peak: it follows a higher sample by a quarter
# of the way and a lower one by 1/256, and a window ends only at a gap
# above the average gap, which itself follows longer gaps fast. Here
# (packets 4 ms apart, give or take one) a window ends about once a
# second, so the test starts the link below the upstream's 3 Mbit/s and
# the estimate rises to it within 15 s; a fall to a lower rate takes
# minutes at this packet rate (the core's unit tests cover both).
test_rate_autorate_ingress_follows_the_upstream_rate() {
	load_module && ingress_ifb 3mbit || return 1
	local est link cake ctl bad=0
	ns rcv "$TC" qdisc add dev ifb0 root handle 1: cakemt bandwidth 1mbit autorate-ingress ingress || return 1
	upload 15 || { fail "no traffic"; return 1; }
	est=$(estimate cakemt capacity_estimate); link=$(estimate cakemt link_rate)
	info "bandwidth 1 Mbit/s, upstream 3: cakemt estimates $est kbit/s, shapes the link at $link"
	within 20 "$est" 3000 || { fail "cakemt: estimate $est kbit/s, upstream 3000"; bad=1; }
	within 3 "$link" "$((est * 15 / 16))" || { fail "cakemt: link at $link, not 15/16 of $est"; bad=1; }
	balanced rcv ifb0 || bad=1
	# The reference: CAKE's own estimate of the same link, from the same start.
	ns rcv "$TC" qdisc replace dev ifb0 root cake bandwidth 1mbit autorate-ingress ingress || return 1
	upload 15 || { fail "no traffic through cake"; return 1; }
	cake=$(estimate cake capacity_estimate)
	info "cake (reference) estimates $cake kbit/s"
	within 20 "$cake" 3000 || { fail "cake (reference): estimate $cake kbit/s"; bad=1; }
	# The control: no autorate, the link stays at its bandwidth.
	ns rcv "$TC" qdisc replace dev ifb0 root handle 1: cakemt bandwidth 1mbit ingress || return 1
	upload 4 || { fail "no traffic through the control"; return 1; }
	ctl=$(estimate cakemt link_rate)
	info "without autorate (control): link at $ctl kbit/s, estimate $(estimate cakemt capacity_estimate)"
	[ "$ctl" = 1000 ] || { fail "control: link at $ctl kbit/s"; bad=1; }
	[ "$(estimate cakemt capacity_estimate)" = 0 ] || { fail "control shows an estimate"; bad=1; }
	return $bad
}
