#!/bin/bash
# A tin's own profile (tc class change ... cakemt rtt TIME overhead N mpu N
# atm): shown back field by field, changed a field at a time, set back to
# the qdisc's, kept across qdisc changes and with packets queued; the
# profile one too many for the table refused, changing nothing.
# Functional: runs on the debug kernel. What a tin's framing does to its
# rate: test_framing.sh.

# class_line MINOR: `tc class show` of tin MINOR (hex), on one line.
class_line() { tc_ class show dev d0 classid "1:$1" | tr '\n' ' '; }

# has_words MINOR WORDS...: tin MINOR's class line shows every WORDS.
has_words() {
	local line w m=$1
	shift
	line=$(class_line "$m")
	for w in "$@"; do
		case " $line " in *" $w "*) ;; *) fail "tin 0x$m: no '$w' in: $line"; return 1 ;; esac
	done
}

# lacks_words MINOR WORDS...: tin MINOR's class line shows none of WORDS.
lacks_words() {
	local line w m=$1
	shift
	line=$(class_line "$m")
	for w in "$@"; do
		case " $line " in *" $w "*) fail "tin 0x$m: '$w' in: $line"; return 1 ;; esac
	done
}

test_tin_profile_show_change_default_and_refusals() {
	load_module && dummy_dev || return 1
	tc_ qdisc add dev d0 root handle 1: cakemt bandwidth 1gbit tins 40 tin-bandwidth 100mbit \
		memlimit 4mb || return 1
	local err f
	# 1. A subscriber behind a satellite backhaul on ADSL.
	tc_ class change dev d0 classid 1:2 cakemt rtt 600ms overhead 44 atm || return 1
	info "$(class_line 2)"
	has_words 2 rtt 600ms overhead 44 atm || return 1
	lacks_words 2 mpu || return 1
	lacks_words 1 rtt overhead atm || return 1
	# COBALT in force: target rtt/20, interval the rtt; tin 1 keeps the
	# qdisc's 5 ms and 100 ms (at 100 Mbit/s no MTU time raises them).
	f=$(tins_key "" d0 target_us 1 2)/$(tins_key "" d0 interval_us 1 2)
	info "target/interval of tins 1 2: $f"
	[ "$f" = "5000 30000/100000 600000" ] || { fail "COBALT in force: $f"; return 1; }
	# 2. One field more: the others stay.
	tc_ class change dev d0 classid 1:2 cakemt mpu 64 || return 1
	has_words 2 rtt 600ms overhead 44 mpu 64 atm || return 1
	# 3. The qdisc's own changes leave a tin's own alone.
	tc_ qdisc change dev d0 root cakemt overhead 18 rtt 50ms || return 1
	has_words 2 rtt 600ms overhead 44 mpu 64 atm || return 1
	f=$(tins_key "" d0 target_us 1 2)
	[ "$f" = "2500 30000" ] || { fail "target after the qdisc's rtt 50ms: $f"; return 1; }
	tc_ qdisc change dev d0 root cakemt tins 48 || return 1
	has_words 2 rtt 600ms overhead 44 mpu 64 atm || return 1
	# 4. Profiles are shared: 32 different ones fill the table. Tin 3
	# shares tin 2's; tins 4..34 (0x4..0x22) take 31 more.
	tc_ class change dev d0 classid 1:3 cakemt rtt 600ms overhead 44 mpu 64 atm || return 1
	for f in $(seq 4 34); do
		printf 'class change dev d0 classid 1:%x cakemt overhead %d\n' "$f" "$f"
	done | tc_ -batch - || { fail "31 profiles"; return 1; }
	has_words 22 overhead 34 || return 1
	# The 33rd is refused, and nothing of its request is applied.
	err=$(tc_ class change dev d0 classid 1:23 cakemt bandwidth 5mbit overhead 100 2>&1) &&
		{ fail "a 33rd profile was taken"; return 1; }
	info "33rd profile: $err"
	echo "$err" | grep -q '32 different tin profiles are in use' || { fail "no message: $err"; return 1; }
	[ "$(tstat "" d0 35 bandwidth)" = 12500000 ] || { fail "the refused request changed tin 35's rate"; return 1; }
	lacks_words 23 overhead || return 1
	# One that equals a profile in use is taken even now.
	tc_ class change dev d0 classid 1:23 cakemt overhead 34 || return 1
	# 5. Back to the qdisc's: a freed entry takes the next new profile.
	tc_ class change dev d0 classid 1:4 cakemt overhead default || return 1
	lacks_words 4 overhead mpu atm || return 1
	tc_ class change dev d0 classid 1:24 cakemt overhead 100 || return 1
	# Full again: tin 2 shares its entry with tin 3, so even handing its
	# rtt back needs an entry of its own, and is refused.
	err=$(tc_ class change dev d0 classid 1:2 cakemt rtt default 2>&1) &&
		{ fail "tin 2 left a shared entry with the table full"; return 1; }
	has_words 2 rtt 600ms || return 1
	tc_ class change dev d0 classid 1:5 cakemt overhead default || return 1
	tc_ class change dev d0 classid 1:2 cakemt rtt default || return 1
	lacks_words 2 rtt || return 1
	has_words 2 overhead 44 mpu 64 atm || return 1
	tc_ class change dev d0 classid 1:2 cakemt overhead default || return 1
	lacks_words 2 rtt overhead mpu atm || return 1
	# 6. tc refuses what is out of range before the kernel sees it.
	for f in "overhead 300" "mpu 257" "overhead default overhead 4" "rtt 0ms"; do
		# shellcheck disable=SC2086 # the options are words
		err=$(tc_ class change dev d0 classid 1:6 cakemt $f 2>&1) && { fail "tc took '$f'"; return 1; }
		info "$f: $(echo "$err" | head -1)"
	done
	has_words 6 overhead 6 || return 1
	# 7. What tc never sends, the kernel refuses with a message too, and
	# nothing of it is applied.
	kernel_refuses d0 6 <<-'REQ' || return 1
	TARGET=1000|cakemt: a tin's target needs its rtt
	RTT_DEFAULT,RTT=1000|cakemt: rtt default takes no rtt or target
	RTT=0|cakemt: rtt must be at least 1 us
	RTT=1000,TARGET=0|cakemt: target must be at least 1 us
	OVERHEAD=300,MPU=8|cakemt: overhead must be -64..256
	OVERHEAD=-65|cakemt: overhead must be -64..256
	MPU=257|cakemt: mpu must be 0..256
	ATM=3|cakemt: atm mode 3 is none of
	REQ
	has_words 6 overhead 6 || return 1
	lacks_words 6 rtt mpu atm || return 1
}

test_tin_profile_change_keeps_queued_packets() {
	load_module && dummy_dev || return 1
	# 1 kbit for tin 3: 30 datagrams stay queued for the whole test.
	tc_ qdisc add dev d0 root handle 1: cakemt tins 4 memlimit 4mb || return 1
	tc_ class change dev d0 classid 1:3 cakemt bandwidth 1kbit || return 1
	tc_ filter add dev d0 parent 1: protocol ip prio 1 flower dst_ip 192.0.2.50 classid 1:3 || return 1
	send_udp 192.0.2.50 30
	local q0 q
	q0=$(tstat "" d0 3 qlen)
	[ "$q0" -ge 25 ] || { fail "tin 3 holds only $q0 packets"; return 1; }
	tc_ class change dev d0 classid 1:3 cakemt rtt satellite overhead 40 mpu 96 ptm || return 1
	has_words 3 overhead 40 mpu 96 ptm || return 1
	tc_ qdisc change dev d0 root cakemt tins 8 diffserv4 || return 1
	has_words 3 overhead 40 mpu 96 ptm || return 1
	tc_ class change dev d0 classid 1:3 cakemt overhead default rtt default || return 1
	q=$(tstat "" d0 3 qlen)
	info "tin 3 held $q0, holds $q after its profile changed three times"
	# At most one packet left meanwhile (1 kbit: one 142-byte datagram
	# takes over a second).
	[ "$q" -ge $((q0 - 2)) ] || { fail "tin 3 lost packets: $q0 -> $q"; return 1; }
	accounted "" d0 30
}
