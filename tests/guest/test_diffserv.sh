#!/bin/bash
# CAKE's diffserv classes inside every tin ("bands": in cakemt a tin is a
# subscriber host). A packet's DSCP picks its band in its tin, as tc-cake's
# tables map it; the bands share their tin's rate by CAKE's thresholds.

# band_key NS DEV TIN KEY [TIN_KEY]: KEY of each band of tin TIN (band 0
# first), space-separated, "none" if the tin shows no bands; then the
# tin's own TIN_KEY if asked for, from the same dump.
band_key() {
	local minor
	minor=$(printf %x "$3")
	ns "$1" "$TC" -s -j class show dev "$2" |
		jq -r --arg m "$minor" --arg k "$4" --arg t "${5:-}" "$JQ_FIELD"'
			[.[] | select(.kind == "cakemt" and (.handle | split(":")[1]) == $m)][0] as $c
			| ($c.tin.bands // $c.bands // null) as $b
			| (if $b == null then "none" else [$b | sort_by(.band)[] | .[$k] | tostring] | join(" ") end)
			+ (if $t == "" then "" else " " + ($c | field($t) | tostring) end)'
}

# pings TOS COUNT: COUNT pings with TOS byte TOS from snd to rcv.
pings() { ns snd ping -q -Q "$1" -c "$2" -i 0.05 -W 2 10.99.0.2 >/dev/null; }

test_diffserv_bands_sort_by_dscp_inside_a_tin() {
	load_module && veth_pair || return 1
	local got mac bad=0
	# No ARP unless asked for (CAKE counts ARP as CS7), either way.
	mac=$(ns rcv cat /sys/class/net/veth1/address)
	ns snd ip neigh replace 10.99.0.2 lladdr "$mac" dev veth0 nud permanent || return 1
	ns rcv ip neigh replace 10.99.0.1 lladdr "$(ns snd cat /sys/class/net/veth0/address)" dev veth1 nud permanent || return 1
	ns snd "$TC" qdisc add dev veth0 root handle 1: cakemt tins 2 default-tin 1 diffserv4 || return 1
	[ "$(qstat snd veth0 diffserv)" = diffserv4 ] || { fail "qdisc shows $(qstat snd veth0 diffserv)"; bad=1; }
	# diffserv4: best effort 0, bulk (CS1) 1, video (AF41) 2, voice (EF) 3.
	pings 0x00 2 && pings 0x20 3 && pings 0x88 4 && pings 0xb8 5 || { fail "pings lost"; bad=1; }
	got=$(band_key snd veth0 1 enqueued_packets)
	info "diffserv4: BE, CS1, AF41, EF pings 2 3 4 5 went to bands 0..3: $got"
	[ "$got" = "2 3 4 5" ] || { fail "bands hold $got, want 2 3 4 5"; bad=1; }
	[ "$(band_key snd veth0 1 sent_packets)" = "2 3 4 5" ] || { fail "bands sent $(band_key snd veth0 1 sent_packets)"; bad=1; }
	# An ARP request is network control (CS7): voice.
	ns snd ip neigh del 10.99.0.2 dev veth0
	pings 0x00 1 || { fail "ping after ARP lost"; bad=1; }
	got=$(band_key snd veth0 1 enqueued_packets)
	info "after one ARP and one BE ping: $got"
	[ "$got" = "3 3 4 6" ] || { fail "ARP not in the voice band: $got, want 3 3 4 6"; bad=1; }
	ns snd ip neigh replace 10.99.0.2 lladdr "$mac" dev veth0 nud permanent
	# wash clears the DSCP on the wire, but the band is the DSCP's as sent.
	ns snd "$TC" qdisc change dev veth0 root cakemt wash || return 1
	pings 0xb8 3 || { fail "pings lost with wash"; bad=1; }
	got=$(band_key snd veth0 1 enqueued_packets)
	info "wash, 3 EF pings: $got"
	[ "$got" = "3 3 4 9" ] || { fail "washed EF not in the voice band: $got, want 3 3 4 9"; bad=1; }
	balanced snd veth0 || bad=1
	# The control: besteffort, one band, the tin's own counters.
	ns snd "$TC" qdisc change dev veth0 root cakemt besteffort nowash || return 1
	pings 0xb8 2 || { fail "pings lost with besteffort"; bad=1; }
	got=$(band_key snd veth0 1 enqueued_packets)
	info "besteffort (control): bands $got, tin $(tstat snd veth0 1 enqueued_packets) packets"
	[ "$got" = none ] || { fail "besteffort shows bands $got"; bad=1; }
	[ "$(qstat snd veth0 diffserv)" = besteffort ] || { fail "qdisc shows $(qstat snd veth0 diffserv)"; bad=1; }
	[ $bad = 0 ] && balanced snd veth0
}

test_diffserv_mode_change_keeps_queued_packets() {
	load_module && dummy_dev || return 1
	# The DSCP by destination port, set before the qdisc sees the packet.
	nft -f - <<'NFT' || { fail "nft"; return 1; }
table ip dscp_test {
	chain out {
		type filter hook output priority 0; policy accept;
		udp dport 10 ip dscp set cs1
		udp dport 11 ip dscp set ef
	}
}
NFT
	local got q be bk vi vo
	# 1 kbit: 30 datagrams of 142 bytes stay queued for half a minute.
	tc_ qdisc add dev d0 root handle 1: cakemt tins 2 default-tin 1 tin-bandwidth 1kbit besteffort || return 1
	send_udp 192.0.2.50 10 9; send_udp 192.0.2.50 10 10; send_udp 192.0.2.50 10 11
	q=$(tstat "" d0 1 qlen)
	[ "$q" -ge 25 ] || { fail "tin 1 holds only $q packets"; return 1; }
	# Queued as besteffort, their DSCP unread: the change reads it.
	tc_ qdisc change dev d0 root cakemt diffserv4 || return 1
	read -r be bk vi vo q <<<"$(band_key "" d0 1 backlog_packets qlen)"
	got="$be $bk $vi $vo"
	info "besteffort -> diffserv4, bands 0..3 hold $got, the tin $q"
	accounted "" d0 30 || return 1
	[ $((be + bk + vi + vo)) = "$q" ] || { fail "bands hold $got, the tin $q"; return 1; }
	# CS1 and EF in their bands (the shaper may have sent a few by now).
	[ "$bk" -ge 7 ] && [ "$vo" -ge 7 ] && [ "$vi" = 0 ] && [ "$be" -le 10 ] ||
		{ fail "bands hold $got, want about 10 10 0 10"; return 1; }
	tc_ qdisc change dev d0 root cakemt diffserv3 || return 1
	read -r be bk vo q <<<"$(band_key "" d0 1 backlog_packets qlen)"
	got="$be $bk $vo"
	info "diffserv4 -> diffserv3 (voice is band 2): $got, the tin $q"
	[ $((be + bk + vo)) = "$q" ] && [ "$bk" -ge 7 ] && [ "$vo" -ge 7 ] && [ "$be" -le 10 ] ||
		{ fail "bands hold $got, the tin $q; want about 10 10 10"; return 1; }
	accounted "" d0 30 || return 1
	tc_ qdisc change dev d0 root cakemt besteffort || return 1
	[ "$(band_key "" d0 1 backlog_packets)" = none ] || { fail "besteffort still shows bands"; return 1; }
	info "diffserv3 -> besteffort: the tin holds $(tstat "" d0 1 qlen)"
	accounted "" d0 30
}

# band_shares QDISC...: with QDISC on the uplink, h1 sends one CS1 flow and
# h2 one best-effort flow for 10 s; prints their goodputs "CS1 BE".
band_shares() {
	local dir a b; dir=$(mktemp -d)
	ns rtr "$TC" qdisc replace dev up0 root "$@" || return 1
	flows 10 "$dir" h1:1:0x20 h2:1
	a=$(goodput "$dir/h1.json") && b=$(goodput "$dir/h2.json") || return 1
	echo "$a $b"
}

# share A B: A's share of A + B, percent.
share() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (a + b) ? 100 * a / (a + b) : 0 }'; }

# Two hosts in one 4 Mbit/s tin: CS1 (bulk) keeps about its threshold, a
# sixteenth of the tin, while best effort wants more, as in CAKE
# (diffserv3, the reference in the same boot); besteffort, the control,
# shares by host. Bulk may take what best effort leaves (the bands are
# work-conserving), so the bound is above a sixteenth.
test_rate_diffserv_bulk_yields_to_best_effort() {
	load_module && star 2 || return 1
	local ours cake ctl bad=0
	ours=$(band_shares handle 1: cakemt tins 1 tin-bandwidth 4mbit diffserv3) || return 1
	cake=$(band_shares cake bandwidth 4mbit diffserv3) || return 1
	ctl=$(band_shares handle 1: cakemt tins 1 tin-bandwidth 4mbit besteffort) || return 1
	info "CS1 and BE Mbit/s: cakemt diffserv3 $ours ($(share $ours)% CS1), cake diffserv3 $cake ($(share $cake)%), cakemt besteffort $ctl ($(share $ctl)%)"
	le "$(share $ours)" 15 && le 3 "$(share $ours)" || { fail "cakemt: CS1 took $(share $ours)%"; bad=1; }
	le "$(share $cake)" 15 || { fail "cake (reference): CS1 took $(share $cake)%"; bad=1; }
	le 40 "$(share $ctl)" && le "$(share $ctl)" 60 || { fail "besteffort (control): CS1 took $(share $ctl)%"; bad=1; }
	# The tin was full: the split is the bands', not a lack of traffic.
	le "$(tcp_goodput 3.4)" "$(echo $ours | awk '{ print $1 + $2 }')" || { fail "cakemt diffserv3 carried only $ours"; bad=1; }
	return $bad
}

# An EF ping keeps a low RTT through the voice band while its own host's
# four best-effort flows fill its 10 Mbit/s tin. flowblind in every case:
# with flow isolation a ping is a sparse flow and fast in any band, so only
# the band could keep it out of the bulk's queue here. besteffort is the
# control (the ping waits behind the bulk), CAKE diffserv4 the reference.
test_rate_diffserv_ef_ping_stays_fast_under_own_bulk() {
	load_module && star 1 || return 1
	local idle ours cake ctl half bad=0
	idle=$(median_rtt h1 10.0.0.2 10 0xb8)
	ours=$(TOS=0xb8 loaded_rtt handle 1: cakemt tins 1 tin-bandwidth 10mbit flowblind diffserv4) || return 1
	cake=$(TOS=0xb8 loaded_rtt cake bandwidth 10mbit flowblind diffserv4) || return 1
	ctl=$(TOS=0xb8 loaded_rtt handle 1: cakemt tins 1 tin-bandwidth 10mbit flowblind besteffort) || return 1
	info "median EF ping RTT: idle $idle ms; under own 4-flow upload: cakemt diffserv4 $ours, cake diffserv4 $cake, cakemt besteffort $ctl ms"
	# The control must show a queue (COBALT keeps it near 5 ms), and the
	# voice band must stay below half of it.
	le "$(awk -v i="$idle" 'BEGIN { print i + 3 }')" "$ctl" ||
		{ fail "besteffort (control): ping $ctl ms, idle $idle: the bulk built no queue"; bad=1; }
	half=$(awk -v c="$ctl" 'BEGIN { print c / 2 }')
	le "$ours" "$half" || { fail "cakemt diffserv4: EF ping $ours ms, besteffort $ctl"; bad=1; }
	le "$cake" "$half" || { fail "cake (reference): EF ping $cake ms, cakemt besteffort $ctl"; bad=1; }
	return $bad
}
