#!/bin/bash
# Overhead compensation under traffic: `overhead`, `mpu` and `atm` change
# the rate a tin delivers by exactly what the framing predicts. A UDP
# flood at about twice the tin's rate; the receiver's packet rate times
# the length the shaper is told to charge must come back to the tin's
# rate. CAKE with the same
# framing at the same rate, in the same boot, is the control (asserted
# too): both must charge what sch_cake's cake_overhead() charges.

FRAMING_RATE_KBIT=4000

# framing_case ARGS...: the UDP payload a framing is tested with and the
# bytes charged per packet for it, as cake_overhead() computes them: the
# network length (payload + 8 of UDP + 20 of IPv4) plus the overhead, or
# skb->len (14 bytes more, the veth's Ethernet header) when raw; raised
# to mpu; then ATM cells of 48 bytes in 53.
framing_case() {
	case "$*" in
	raw) echo "261 303" ;;
	"overhead 150") echo "261 $((289 + 150))" ;;
	"overhead 0 atm") echo "261 $(((289 + 47) / 48 * 53))" ;;
	# 228 bytes, raised to 256. (A negative overhead would trip sch_cake,
	# the control: its u32 length wraps for packets shorter than the
	# overhead, such as ARP's, and it stalls.)
	"overhead 0 mpu 256") echo "200 256" ;;
	*) return 1 ;;
	esac
}

# framing_pps QDISC PAYLOAD ARGS...: packets per second the receiver got
# from an 8 s flood of PAYLOAD-byte datagrams at 7 Mbit/s through QDISC
# with the framing ARGS, counted over seconds 3-7 (after the guest's
# start-up of the flood).
framing_pps() {
	local q=$1 len=$2 p0 p1 t0 t1 pids rx=/sys/class/net/veth1/statistics/rx_packets
	shift 2
	veth_pair || return 1
	case $q in
	cakemt) ns snd "$TC" qdisc add dev veth0 root cakemt bandwidth 100mbit tins 1 \
		tin-bandwidth ${FRAMING_RATE_KBIT}kbit "$@" || return 1 ;;
	cake) ns snd "$TC" qdisc add dev veth0 root cake bandwidth ${FRAMING_RATE_KBIT}kbit "$@" || return 1 ;;
	esac
	ip netns exec rcv timeout 30 iperf3 -s -1 -B 10.99.0.2 >/dev/null 2>&1 &
	pids=($!)
	sleep 0.5
	ip netns exec snd timeout 25 iperf3 -c 10.99.0.2 -u -b 7M -l "$len" -t 8 >/dev/null 2>&1 &
	pids+=($!)
	sleep 3
	p0=$(ns rcv cat $rx); t0=${EPOCHREALTIME/./}
	sleep 4
	p1=$(ns rcv cat $rx); t1=${EPOCHREALTIME/./}
	# Only the count matters: iperf3's own report would cross the flooded
	# tin on its control connection and could take its timeout's length.
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}"
	ip netns del snd; ip netns del rcv
	awk -v p=$((p1 - p0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f\n", p * 1e6 / t }'
}

# framing_round QDISC ARGS...: a round (see `rounds`): the delivered rate,
# charged as the framing says, within 5% of the tin's rate.
framing_round() {
	local q=$1 c len charge pps got
	shift
	c=$(framing_case "$@") || { fail "no prediction for '$*'"; return 2; }
	read -r len charge <<<"$c"
	pps=$(framing_pps "$q" "$len" "$@") || { fail "flood through $q $*"; return 2; }
	got=$(awk -v p="$pps" -v c="$charge" 'BEGIN { printf "%.0f\n", p * c * 8 / 1000 }')
	info "$q $*: $pps packets/s x $charge bytes = $got kbit/s (rate ${FRAMING_RATE_KBIT})"
	within 5 "$got" $FRAMING_RATE_KBIT && return 0
	fail "$q $*: $got kbit/s charged, not within 5% of $FRAMING_RATE_KBIT"
	le "$got" $FRAMING_RATE_KBIT && return 1
	return 2
}

test_rate_framing_changes_the_rate_by_what_it_charges() {
	local f rc=0
	load_module || return 1
	for f in "raw" "overhead 150" "overhead 0 atm" "overhead 0 mpu 256"; do
		# shellcheck disable=SC2086 # the framing is words
		rounds "cakemt $f" framing_round cakemt $f || rc=1
		# shellcheck disable=SC2086
		rounds "cake $f (control)" framing_round cake $f || rc=1
	done
	return $rc
}

# ---- a tin's own framing (tc class change ... cakemt overhead N atm) ----

# port_packets NS PORT: UDP datagrams NS received on PORT (nft counter).
port_packets() {
	ns "$1" nft list counter inet framing_rx "p$2" | awk '$1 == "packets" { print $2 }'
}

# tin_framing_pps MODE: packets/s delivered from each of two 7 Mbit/s
# floods of 261-byte datagrams, to ports 5201 (tin 1, which has "overhead
# 0 atm" of its own) and 5202 (tin 2, the qdisc's raw framing), counted at
# the receiver over seconds 3-7. MODE "tins": each tin capped at the rate,
# the link far above; "link": the link at the rate, the tins uncapped, and
# only tin 1 flooded.
tin_framing_pps() {
	local mode=$1 p t0 t1 pids=() a0 a1 b0 b1 ports=(5201 5202) rate=${FRAMING_RATE_KBIT}kbit
	veth_pair || return 1
	case $mode in
	tins) ns snd "$TC" qdisc add dev veth0 root handle 1: cakemt bandwidth 100mbit tins 2 \
		tin-bandwidth $rate raw || return 1 ;;
	link) ns snd "$TC" qdisc add dev veth0 root handle 1: cakemt bandwidth $rate tins 2 raw || return 1
		ports=(5201) ;;
	esac
	ns snd "$TC" class change dev veth0 classid 1:1 cakemt overhead 0 atm || return 1
	for p in 1 2; do
		ns snd "$TC" filter add dev veth0 parent 1: protocol ip prio $p flower \
			ip_proto udp dst_port 520$p classid 1:$p || return 1
	done
	ns rcv nft -f - <<-'NFT' || return 1
	table inet framing_rx {
		counter p5201 { }
		counter p5202 { }
		chain input {
			type filter hook input priority 0;
			udp dport 5201 counter name p5201
			udp dport 5202 counter name p5202
		}
	}
	NFT
	for p in "${ports[@]}"; do
		ip netns exec rcv timeout 30 iperf3 -s -1 -B 10.99.0.2 -p $p >/dev/null 2>&1 &
		pids+=($!)
	done
	sleep 0.5
	for p in "${ports[@]}"; do
		ip netns exec snd timeout 25 iperf3 -c 10.99.0.2 -p $p -u -b 7M -l 261 -t 8 >/dev/null 2>&1 &
		pids+=($!)
	done
	sleep 3
	a0=$(port_packets rcv 5201); b0=$(port_packets rcv 5202); t0=${EPOCHREALTIME/./}
	sleep 4
	a1=$(port_packets rcv 5201); b1=$(port_packets rcv 5202); t1=${EPOCHREALTIME/./}
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}"
	# stdout is the figures: the check's report goes to stderr.
	balanced snd veth0 >&2 || return 1
	ip netns del snd; ip netns del rcv
	awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f %.1f\n", a * 1e6 / t, b * 1e6 / t }'
}

# tin_framing_round MODE: a round (see `rounds`). The charges per packet,
# as cake_overhead() computes them (framing_case): 371 bytes in 53-byte
# cells for tin 1's own framing, 303 for the qdisc's raw one. "tins": each
# tin delivers its rate at its own charge (tin 2, the qdisc's framing, is
# the control in the same qdisc). "link": the link delivers its rate at
# the qdisc's charge, 303 bytes a packet, not tin 1's 371.
tin_framing_round() {
	local mode=$1 a b got_a got_b rc=0
	read -r a b < <(tin_framing_pps "$mode") || { fail "flood ($mode)"; return 2; }
	[ -n "$b" ] || { fail "flood ($mode): no figures"; return 2; }
	case $mode in
	tins)
		got_a=$(awk -v p="$a" 'BEGIN { printf "%.0f\n", p * 371 * 8 / 1000 }')
		got_b=$(awk -v p="$b" 'BEGIN { printf "%.0f\n", p * 303 * 8 / 1000 }')
		info "tin 1 (own atm): $a packets/s x 371 = $got_a kbit/s; tin 2 (raw): $b x 303 = $got_b kbit/s (rate ${FRAMING_RATE_KBIT} each)"
		for got in "$got_a" "$got_b"; do
			within 5 "$got" $FRAMING_RATE_KBIT && continue
			fail "tins: $got kbit/s charged, not within 5% of $FRAMING_RATE_KBIT"
			if le "$got" $FRAMING_RATE_KBIT; then [ $rc = 2 ] || rc=1; else rc=2; fi
		done ;;
	link)
		got_a=$(awk -v p="$a" 'BEGIN { printf "%.0f\n", p * 303 * 8 / 1000 }')
		info "link: tin 1 (own atm) $a packets/s x 303 (the qdisc's raw) = $got_a kbit/s (link ${FRAMING_RATE_KBIT}); tin 2 got $b"
		within 5 "$got_a" $FRAMING_RATE_KBIT && return 0
		fail "link: $got_a kbit/s at the qdisc's charge, not within 5% of $FRAMING_RATE_KBIT"
		le "$got_a" $FRAMING_RATE_KBIT && return 1
		return 2 ;;
	esac
	return $rc
}

test_rate_framing_of_one_tin_prices_that_tin_and_not_the_link() {
	local rc=0
	load_module || return 1
	rounds "a tin's own framing, tins at the rate" tin_framing_round tins || rc=1
	rounds "a tin's own framing, the link at the rate" tin_framing_round link || rc=1
	# The reference in the same boot: CAKE with tin 1's framing at the
	# same rate must charge the same 371 bytes a packet.
	rounds "cake overhead 0 atm (control)" framing_round cake overhead 0 atm || rc=1
	return $rc
}
