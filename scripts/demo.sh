#!/bin/bash
# cakemt demonstration, run inside the virtme-ng guest by `make demo`.
#
# Eight subscriber hosts, each in its own network namespace, upload to a
# server through a router namespace whose uplink carries one cakemt qdisc
# with 4,000 tins (one per subscriber the ISP has; eight of them busy).
# Each busy host has its own rate and opens a different number of TCP
# flows; flower filters put each host in its tin. The demo prints every
# host's goodput next to its configured rate, then runs the same traffic
# through the layout operators use today, HTB with a CAKE leaf per host
# (LibreQoS), as the reference. The rates add up to 36 Mbit/s, what a TCG
# guest carries comfortably.
set -u
: "${CAKEMT_KO:?}" "${TC:?}"
cd "$(dirname "$0")/../tests/guest" || exit 1
. ./lib.sh

SECS=${SECS:-10}
TINS=4000
RATES=(1 2 3 4 5 6 7 8)     # Mbit/s, host i at RATES[i-1]
FLOWS=(1 8 2 4 1 8 2 4)     # TCP flows of host i
LINK=40

insmod "$CAKEMT_KO" || exit 1
star 8 || { echo "demo: topology failed"; exit 1; }
dir=$(mktemp -d)

tin_of() { echo $(($1 * 500)); }   # host i in tin 500 i

specs=()
for i in $(seq 1 8); do specs+=("h$i:${FLOWS[i - 1]}"); done

# report TITLE: each host's goodput against what its rate carries.
report() {
	python3 - "$dir" "$1" "${RATES[*]}" "${FLOWS[*]}" <<'PY'
import json, sys
d, title = sys.argv[1], sys.argv[2]
rates = [float(r) for r in sys.argv[3].split()]
flows = [int(f) for f in sys.argv[4].split()]
print(f"  {title}")
print("  host  tin   flows  rate      expected   goodput    of expected")
total = 0
for i, (r, f) in enumerate(zip(rates, flows), 1):
    try:
        g = json.load(open(f"{d}/h{i}.json"))["end"]["sum_received"]["bits_per_second"] / 1e6
    except Exception as e:
        print(f"  h{i}: no result ({e})"); continue
    want = r * 1448 / 1514
    total += g
    print(f"  h{i}    {i * 500:<5} {f:<6} {r:4.1f} Mbit {want:6.2f} Mbit {g:6.2f} Mbit  {100 * g / want:5.1f} %")
print(f"  total goodput {total:.2f} Mbit/s")
PY
}

echo "== cakemt: one qdisc, $TINS tins, bandwidth ${LINK}mbit, 8 busy hosts, $SECS s"
ns rtr "$TC" qdisc add dev up0 root handle 1: cakemt bandwidth ${LINK}mbit tins $TINS tin-bandwidth 10mbit || exit 1
for i in $(seq 1 8); do echo "$(tin_of "$i") ${RATES[i - 1]}mbit"; done >"$dir/rates"
ns rtr "$TC" qdisc change dev up0 root cakemt rates "$dir/rates" || exit 1
for i in $(seq 1 8); do
	ns rtr "$TC" filter add dev up0 parent 1: protocol ip prio 1 flower src_ip 10.0.$i.2 \
		classid "1:$(printf %x "$(tin_of "$i")")" || exit 1
done
ns rtr "$TC" qdisc show dev up0
flows "$SECS" "$dir" "${specs[@]}"
report "cakemt (tin N = class 1:N; rate = the tin's cap)"
ns rtr "$TC" -s qdisc show dev up0
echo "  one busy tin in detail:"
ns rtr "$TC" -s class show dev up0 classid "1:$(printf %x "$(tin_of 2)")"

echo "== reference: HTB with one class and a CAKE leaf per busy host (8 of them)"
# (tc refuses to replace handle 1: by another kind: the old root goes first)
ns rtr "$TC" qdisc del dev up0 root
ns rtr "$TC" qdisc add dev up0 root handle 1: htb || exit 1
ns rtr "$TC" class add dev up0 parent 1: classid 1:ffff htb rate ${LINK}mbit || exit 1
for i in $(seq 1 8); do
	c=$(printf %x "$(tin_of "$i")")
	ns rtr "$TC" class add dev up0 parent 1:ffff classid 1:$c htb rate "${RATES[i - 1]}mbit" ceil "${RATES[i - 1]}mbit" || exit 1
	ns rtr "$TC" qdisc add dev up0 parent 1:$c cake besteffort || exit 1
	ns rtr "$TC" filter add dev up0 parent 1: protocol ip prio 1 flower src_ip 10.0.$i.2 classid 1:$c || exit 1
done
flows "$SECS" "$dir" "${specs[@]}"
report "htb + cake per host (reference)"
ns rtr "$TC" qdisc del dev up0 root
cleanup
