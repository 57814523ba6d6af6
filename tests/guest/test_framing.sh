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
