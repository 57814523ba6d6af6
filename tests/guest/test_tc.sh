#!/bin/bash
# Configuring cakemt through the patched tc: add, show, change, replace,
# delete, JSON and statistics output (bad input: test_tins.sh).

# qdisc_json DEV KEY: the value of KEY in the cakemt qdisc's options.
qdisc_json() { qstat "" "$1" "$2"; }

test_add_show_change_delete() {
	load_module || return 1
	ip link add d0 type dummy && ip link set d0 up
	tc_ qdisc add dev d0 root handle 1: cakemt bandwidth 10mbit || fail "add" || return 1
	tc_ qdisc show dev d0 | grep -q 'cakemt 1: root .*bandwidth 10Mbit' ||
		fail "show: $(tc_ qdisc show dev d0)" || return 1
	[ "$(qdisc_json d0 bandwidth)" = 1250000 ] ||
		fail "json bandwidth $(qdisc_json d0 bandwidth), want 1250000 bytes/s" || return 1
	tc_ qdisc change dev d0 root cakemt bandwidth 50mbit memlimit 2mb || fail "change" || return 1
	[ "$(qdisc_json d0 bandwidth)" = 6250000 ] || fail "change did not set bandwidth" || return 1
	[ "$(qdisc_json d0 memlimit)" = 2097152 ] || fail "change did not set memlimit" || return 1
	# change sends only what it names: the memlimit stays.
	tc_ qdisc change dev d0 root cakemt unlimited || fail "change unlimited" || return 1
	tc_ qdisc show dev d0 | grep -q 'unlimited' || fail "unlimited not shown" || return 1
	[ "$(qdisc_json d0 memlimit)" = 2097152 ] || fail "memlimit lost by change" || return 1
	tc_ qdisc replace dev d0 root cakemt bandwidth 20mbit || fail "replace" || return 1
	[ "$(qdisc_json d0 bandwidth)" = 2500000 ] || fail "replace did not set bandwidth" || return 1
	tc_ qdisc del dev d0 root || fail "del" || return 1
	! tc_ qdisc show dev d0 | grep -q cakemt || fail "still there after del" || return 1
	# No options at all: unlimited, automatic memory limit.
	tc_ qdisc add dev d0 root cakemt || fail "add without options" || return 1
	[ "$(qdisc_json d0 bandwidth)" = 0 ] || fail "default bandwidth not unlimited" || return 1
	tc_ qdisc show dev d0 | grep -q 'cakemt .*unlimited' || fail "show: $(tc_ qdisc show dev d0)"
}

test_stats() {
	load_module || return 1
	ip link add d0 type dummy && ip link set d0 up
	ip addr add 192.0.2.1/24 dev d0
	tc_ qdisc add dev d0 root cakemt bandwidth 100mbit || return 1
	ping -c 5 -i 0.1 -W 1 192.0.2.2 >/dev/null 2>&1   # goes out of d0, no answer
	local out
	out=$(tc_ -s qdisc show dev d0)
	info "$(echo "$out" | tr '\n' ' ')"
	echo "$out" | grep -Eq 'Sent [1-9][0-9]* bytes [1-9][0-9]* pkt' || fail "no packets counted" || return 1
	echo "$out" | grep -q 'memory used' || fail "no xstats printed" || return 1
	local got
	got=$(qstat "" d0 packets memory_limit base_rate)
	info "packets, memory limit, base rate: $got"
	read -r p m b <<<"$got"
	[ "$p" -ge 5 ] && [ "$m" = $((12500000 * 4 / 10)) ] && [ "$b" = 12500000 ] ||
		fail "JSON stats wrong: $got (4 x 100 ms at the rate is the memory limit)"
}

# ---- CAKE's keywords ----

# cake_opts DEV: the cakemt qdisc's options on DEV, one line of JSON.
cake_opts() { tc_ -j qdisc show dev "$1" | jq -c '[.[] | select(.kind == "cakemt")][0].options'; }

# opts_are JSON KEY=VALUE...: each KEY of the options JSON has VALUE.
opts_are() {
	local o=$1 kv keys=() want=() got
	shift
	for kv in "$@"; do keys+=("${kv%%=*}"); want+=("${kv#*=}"); done
	got=$(jq -r --args '[$ARGS.positional[] as $k | .[$k] | tostring] | join(" ")' "${keys[@]}" <<<"$o")
	[ "$got" = "${want[*]}" ] || fail "${keys[*]}: $got, want ${want[*]} ($o)"
}

test_cake_keywords_show_back() {
	load_module && dummy_dev || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt bandwidth 10mbit || return 1
	local out
	out=$(tc_ qdisc show dev d0)
	info "$out"
	# The defaults, in tc-cake's words and order.
	case "$out " in
	*" bandwidth 10Mbit tins 1 tin-bandwidth unlimited default-tin 1 besteffort triple-isolate nonat nowash no-ack-filter auto-split-gso rtt 100ms raw overhead 0 "*) ;;
	*) fail "defaults: $out"; return 1 ;;
	esac
	opts_are "$(cake_opts d0)" diffserv=besteffort flowmode=triple-isolate nat=false wash=false ingress=false ack-filter=disabled split_gso=auto \
		rtt=100000 target=5000 raw=true atm=noatm overhead=0 mpu=0 || return 1
	local args text checks b i kv cases=() texts=() jsons=()
	# ARGS|TEXT|KEY=VALUE...: each keyword alone (a change sends only it).
	# The framings start from "noatm mpu 0" so that each shows its own
	# overhead, framing and mpu (a framing adds to the overhead given
	# before it on the command line, which is none here).
	while IFS='|' read -r args text checks; do
		cases+=("$args|$text|$checks")
	done <<'CASES'
flowblind|flowblind|flowmode=flowblind
srchost|srchost|flowmode=srchost
dsthost|dsthost|flowmode=dsthost
hosts|hosts|flowmode=hosts
flows|flows|flowmode=flows
dual-srchost|dual-srchost|flowmode=dual-srchost
dual-dsthost|dual-dsthost|flowmode=dual-dsthost
triple-isolate|triple-isolate|flowmode=triple-isolate
diffserv3|default-tin 1 diffserv3 triple-isolate|diffserv=diffserv3
diffserv4|default-tin 1 diffserv4 triple-isolate|diffserv=diffserv4
diffserv8|default-tin 1 diffserv8 triple-isolate|diffserv=diffserv8
precedence|default-tin 1 precedence triple-isolate|diffserv=precedence
besteffort|default-tin 1 besteffort triple-isolate|diffserv=besteffort
autorate-ingress|bandwidth 10Mbit autorate-ingress tins 1|autorate=autorate-ingress
bandwidth 10mbit|bandwidth 10Mbit tins 1|bandwidth=1250000
ack-filter|nowash ack-filter auto-split-gso|ack-filter=enabled
ack-filter-aggressive|ack-filter-aggressive|ack-filter=aggressive
no-ack-filter|no-ack-filter|ack-filter=disabled
ingress|triple-isolate nonat nowash ingress no-ack-filter|ingress=true
egress|triple-isolate nonat nowash no-ack-filter|ingress=false
wash|triple-isolate nonat wash no-ack-filter|wash=true
nowash|triple-isolate nonat nowash no-ack-filter|wash=false
nat|triple-isolate nat nowash no-ack-filter|nat=true
nonat|triple-isolate nonat nowash no-ack-filter|nat=false
split-gso|no-ack-filter split-gso rtt|split_gso=enabled
no-split-gso|no-split-gso|split_gso=disabled
auto-split-gso|auto-split-gso|split_gso=auto
datacentre|rtt 100us|rtt=100 target=5
lan|rtt 1ms|rtt=1000 target=50
metro|rtt 10ms|rtt=10000 target=500
regional|rtt 30ms|rtt=30000 target=1500
oceanic|rtt 300ms|rtt=300000 target=15000
satellite|rtt 1s|rtt=1000000 target=50000
interplanetary|rtt 1e+03s|rtt=1000000000 target=50000000
internet|rtt 100ms|rtt=100000 target=5000
rtt 42ms|rtt 42ms|rtt=42000 target=2100
rtt 10us|rtt 10us|rtt=10 target=1
overhead 18|noatm overhead 18|overhead=18 raw=false atm=noatm mpu=0
overhead -64|noatm overhead -64|overhead=-64 raw=false
mpu 256|overhead -64 mpu 256|mpu=256
atm|atm overhead -64 mpu 256|atm=atm
ptm|ptm overhead -64|atm=ptm
noatm|noatm overhead -64|atm=noatm
raw|rtt 10us raw overhead 0 mpu 256|raw=true atm=noatm overhead=0 mpu=256
conservative|atm overhead 48 mpu 256|raw=false atm=atm overhead=48 mpu=256
noatm mpu 0 ipoa-vcmux|atm overhead 8|atm=atm overhead=8 mpu=0
noatm mpu 0 ipoa-llcsnap|atm overhead 16|atm=atm overhead=16 mpu=0
noatm mpu 0 bridged-vcmux|atm overhead 24|atm=atm overhead=24 mpu=0
noatm mpu 0 bridged-llcsnap|atm overhead 32|atm=atm overhead=32 mpu=0
noatm mpu 0 pppoa-vcmux|atm overhead 10|atm=atm overhead=10 mpu=0
noatm mpu 0 pppoa-llc|atm overhead 14|atm=atm overhead=14 mpu=0
noatm mpu 0 pppoe-vcmux|atm overhead 32|atm=atm overhead=32 mpu=0
noatm mpu 0 pppoe-llcsnap|atm overhead 40|atm=atm overhead=40 mpu=0
noatm mpu 0 pppoe-ptm|ptm overhead 30|atm=ptm overhead=30 mpu=0
noatm mpu 0 bridged-ptm|ptm overhead 22|atm=ptm overhead=22 mpu=0
noatm mpu 0 ethernet|noatm overhead 38 mpu 84|atm=noatm overhead=38 mpu=84 raw=false
noatm mpu 0 ether-vlan|noatm overhead 4|atm=noatm overhead=4 mpu=0
noatm mpu 0 docsis|noatm overhead 18 mpu 64|atm=noatm overhead=18 mpu=64
ptm ethernet ether-vlan|ptm overhead 42 mpu 84|atm=ptm overhead=42 mpu=84
pppoe-ptm ether-vlan|ptm overhead 34 mpu 84|atm=ptm overhead=34
overhead 10 ether-vlan|overhead 14|overhead=14
ether-vlan overhead 10|overhead 10|overhead=10
CASES
	# Every change and a show after it in one tc -batch, run twice from the
	# same start, for the text and for the JSON: two processes instead of
	# five per case (a process start costs a second on the debug kernel).
	b=$(mktemp)
	{
		echo "qdisc replace dev d0 root handle 1: cakemt bandwidth 10mbit"
		for i in "${!cases[@]}"; do
			echo "qdisc change dev d0 root cakemt ${cases[i]%%|*}"
			echo "qdisc show dev d0"
		done
	} >"$b"
	tc_ qdisc del dev d0 root || return 1
	mapfile -t texts < <(tc_ -batch "$b" | grep '^qdisc cakemt')
	tc_ qdisc del dev d0 root || return 1
	mapfile -t jsons < <(tc_ -j -batch "$b" | jq -c -r '[.[] | select(.kind == "cakemt")][0].options |
		to_entries | map("\(.key)=\(.value | tostring)") | join(" ")')
	rm -f "$b"
	[ ${#texts[@]} = ${#cases[@]} ] && [ ${#jsons[@]} = ${#cases[@]} ] ||
		{ fail "tc stopped at case $((${#texts[@]} + 1)) of ${#cases[@]}: '${cases[${#texts[@]}]%%|*}'"; return 1; }
	for i in "${!cases[@]}"; do
		IFS='|' read -r args text checks <<<"${cases[i]}"
		case "${texts[i]} " in
		*" $text "*) ;;
		*) fail "'$args': the show lacks '$text': ${texts[i]}"; return 1 ;;
		esac
		for kv in $checks; do
			case " ${jsons[i]} " in
			*" $kv "*) ;;
			*) fail "'$args': the JSON options lack $kv: ${jsons[i]}"; return 1 ;;
			esac
		done
	done
	info "${#cases[@]} keywords and presets shown back in words and JSON"
	# The words read back are words tc takes: replay the line.
	out=$(tc_ qdisc show dev d0 | sed 's/.* default-tin [0-9]* //')
	info "replaying: $out"
	# shellcheck disable=SC2086
	tc_ qdisc del dev d0 root && tc_ qdisc add dev d0 root cakemt $out || { fail "replay of '$out'"; return 1; }
	[ "$(tc_ qdisc show dev d0 | sed 's/.* default-tin [0-9]* //')" = "$out" ] ||
		fail "replayed: $(tc_ qdisc show dev d0)"
}

test_cake_change_of_one_keyword_keeps_the_others() {
	load_module && dummy_dev || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt bandwidth 10mbit tins 4 tin-bandwidth 2mbit \
		default-tin 2 fwmark 0xff memlimit 1mb dual-dsthost ack-filter ingress no-split-gso \
		metro pppoe-ptm mpu 72 || return 1
	info "$(tc_ qdisc show dev d0)"
	local before args keys b i cases=() verdicts=()
	before=$(cake_opts d0)
	opts_are "$before" bandwidth=1250000 tins=4 tin_bandwidth=250000 default_tin=2 fwmark=255 \
		memlimit=1048576 flowmode=dual-dsthost ack-filter=enabled ingress=true split_gso=disabled \
		rtt=10000 target=500 raw=false atm=ptm overhead=30 mpu=72 || return 1
	# ARGS|KEYS it may change (every other key must stay as it was).
	while IFS='|' read -r args keys; do
		cases+=("$args|$keys")
	done <<'CASES'
hosts|flowmode
no-ack-filter|ack-filter
egress|ingress
split-gso|split_gso
rtt 20ms|rtt target
overhead 5|overhead
mpu 0|mpu
atm|atm
raw|raw atm overhead
ether-vlan|raw overhead
bandwidth 20mbit|bandwidth
tin-bandwidth 3mbit|tin_bandwidth
tins 6|tins
default-tin 5|default_tin
memlimit 2mb|memlimit
fwmark 0xff00|fwmark
CASES
	# One tc -j -batch: a show, then each change and a show after it; one
	# jq compares each show with the one before (a process start costs a
	# second on the debug kernel).
	b=$(mktemp)
	{
		echo "qdisc show dev d0"
		for i in "${!cases[@]}"; do
			echo "qdisc change dev d0 root cakemt ${cases[i]%%|*}"
			echo "qdisc show dev d0"
		done
	} >"$b"
	mapfile -t verdicts < <(tc_ -j -batch "$b" | jq -r -s --args '
		[.[] | [.[] | select(.kind == "cakemt")][0].options] as $o
		| range(0; $ARGS.positional | length) as $i
		| ($ARGS.positional[$i] | split(" ")) as $k
		| if $i + 1 >= ($o | length) then "missing"
		  elif ($o[$i] | delpaths([$k[] | [.]])) == ($o[$i + 1] | delpaths([$k[] | [.]]))
		       and ([$k[] as $x | $o[$i][$x] != $o[$i + 1][$x]] | all)
		  then "ok" else "\($o[$i] | tojson) -> \($o[$i + 1] | tojson)" end' "${cases[@]#*|}")
	rm -f "$b"
	[ ${#verdicts[@]} = ${#cases[@]} ] || { fail "${#verdicts[@]} verdicts for ${#cases[@]} changes"; return 1; }
	for i in "${!cases[@]}"; do
		IFS='|' read -r args keys <<<"${cases[i]}"
		[ "${verdicts[i]}" = ok ] || { fail "'$args' changed more or less than $keys: ${verdicts[i]}"; return 1; }
	done
	info "${#cases[@]} changes of one keyword, each changing only its own"
	info "$(tc_ qdisc show dev d0)"
}

test_cake_bad_values_are_refused_and_change_nothing() {
	load_module && dummy_dev || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt bandwidth 10mbit dual-srchost ack-filter metro docsis || return 1
	local before err case want
	before=$(tc_ qdisc show dev d0; cake_opts d0)
	# tc's own checks: ARGS|a word the message must hold.
	while IFS='|' read -r case want; do
		# shellcheck disable=SC2086
		# (bash, not grep and head: on the debug kernel a process start
		# costs most of a second, and this is 18 of them)
		err=$(tc_ qdisc change dev d0 root cakemt $case 2>&1) && { fail "accepted: $case"; return 1; }
		info "$case: ${err%%$'\n'*}"
		[[ $err == *"$want"* ]] || { fail "'$case': message lacks '$want': $err"; return 1; }
	done <<'CASES'
overhead 257|"overhead"
overhead -65|"overhead"
overhead 1.5|"overhead"
mpu 257|"mpu"
mpu -1|"mpu"
rtt 0|"rtt"
rtt soon|"rtt"
lan metro|duplicate "lan"
rtt 5ms satellite|duplicate "rtt"
flows hosts|duplicate "flows"
ack-filter no-ack-filter|duplicate "ack-filter"
ingress egress|duplicate "ingress"
split-gso no-split-gso|duplicate "split-gso"
overhead 250 ether-vlan ether-vlan|"ether-vlan": the overhead would be 258
nat nonat|duplicate "nat"
wash nowash|duplicate "wash"
diffserv3 diffserv4|duplicate "diffserv3"
besteffort precedence|duplicate "besteffort"
autorate-ingress autorate-ingress|duplicate "autorate-ingress"
CASES
	# The kernel's own checks, for values tc never sends: REQUEST|message.
	kernel_refuses d0 <<'CASES' || return 1
OVERHEAD=257|cakemt: overhead must be -64..256, not 257
OVERHEAD=-65|cakemt: overhead must be -64..256, not -65
MPU=257|cakemt: mpu must be 0..256, not 257
ATM=3|cakemt: atm mode 3 is none of noatm (0), atm (1), ptm (2)
FLOW_MODE=8|cakemt: flow mode 8 is none of flowblind (0) .. triple-isolate (7)
ACK_FILTER=3|cakemt: ack-filter mode 3 is none of
INGRESS=2|cakemt: ingress 2 is none of egress (0), ingress (1)
WASH=2|cakemt: wash 2 is none of nowash (0), wash (1)
NAT=2|cakemt: nat 2 is none of nonat (0), nat (1)
AUTORATE=2|cakemt: autorate 2 is none of off (0), autorate-ingress (1)
DIFFSERV_MODE=5|cakemt: diffserv mode 5 is none of diffserv3 (0) .. precedence (4)
SPLIT_GSO=3|cakemt: split-gso mode 3 is none of
RTT=0|cakemt: rtt must be at least 1 us, not 0
TARGET=0|cakemt: target must be at least 1 us, not 0
FLOW_MODE=0,ACK_FILTER=0,OVERHEAD=300|cakemt: overhead must be
MPU=10,INGRESS=1,RTT=7,ATM=9|cakemt: atm mode 9
CASES
	[ "$before" = "$(tc_ qdisc show dev d0; cake_opts d0)" ] ||
		fail "the qdisc changed: '$before' -> '$(tc_ qdisc show dev d0; cake_opts d0)'"
}

test_cake_changes_keep_queued_packets_in_order() {
	load_module && veth_pair || return 1
	# 80 bit/s in tin 1: of 40 datagrams of 142 bytes, one leaves every 14 s,
	# and COBALT's target at that rate is minutes.
	# A permanent neighbour: no ARP through the qdisc, only the 40 datagrams.
	ns snd ip neigh replace 10.99.0.2 dev veth0 nud permanent \
		lladdr "$(ns rcv cat /sys/class/net/veth1/address)" || return 1
	ns snd "$TC" qdisc add dev veth0 root handle 1: cakemt tins 2 default-tin 1 tin-bandwidth 80bit || return 1
	local here got args
	here=$(mktemp -d)
	# The receiver prints the sequence numbers in the order they arrive.
	ns rcv timeout 150 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.0.2", 9))
open(sys.argv[1], "w").close()
s.settimeout(120)
seen = []
try:
    while len(seen) < 40:
        seen.append(int(s.recv(2048)[:5]))
except socket.timeout:
    pass
print(" ".join(map(str, seen)))' "$here/ready" >"$here/seen" &
	local rx=$!
	while [ ! -e "$here/ready" ]; do sleep 0.1; done
	# Numbered datagrams of 100 bytes, from bash itself.
	ns snd bash -c 'for ((i = 1; i <= 40; i++)); do printf "%05d%095d" $i 0 >/dev/udp/10.99.0.2/9; done' 2>/dev/null
	# A change of every setting while the packets wait, each its own
	# request, in one tc -batch (a process start costs a second on the
	# debug kernel).
	for args in flowblind hosts dual-srchost triple-isolate ack-filter-aggressive no-ack-filter \
		ingress egress wash nowash nat nonat split-gso no-split-gso auto-split-gso datacentre satellite "rtt 77ms" \
		"overhead 40" "mpu 96" atm ptm noatm raw conservative ethernet docsis pppoe-ptm internet \
		diffserv4 diffserv8 precedence diffserv3 besteffort; do
		echo "qdisc change dev veth0 root cakemt $args"
	done >"$here/changes"
	ns snd "$TC" -batch "$here/changes" || { fail "a change was refused"; return 1; }
	local q; q=$(qstat snd veth0 qlen)
	info "queued after the changes: $q"
	[ "$q" -ge 30 ] || { fail "only $q packets still queued: the changes were not made with a backlog"; return 1; }
	accounted snd veth0 40 || return 1
	ns snd "$TC" qdisc change dev veth0 root cakemt tin-bandwidth unlimited || return 1
	wait "$rx"
	got=$(cat "$here/seen")
	info "received: $got"
	[ "$got" = "$(seq -s ' ' 1 40)" ] || fail "not 1..40 in order: $got"
	rm -rf "$here"
}
