#!/bin/bash
# The kernel's own tc test harness, tdc (tools/testing/selftests/tc-testing
# of the tree the guest kernel was built from), runs tests/tdc/cakemt.json:
# every keyword added and shown back, changed, replaced and deleted, and
# the refusals, in the format of the kernel's cake.json.
#
# It runs in the lean guest: tdc is Python and starts `ip netns exec ...
# tc` three or four times per case, which costs seconds per process on the
# debug kernel under TCG (tens of minutes for these cases). The debug
# kernel judges the same netlink paths through test_tc.sh's batched
# show-back, change and refusal tests and the netlink fuzzer.

# test_tdc_cakemt_cases: every case of tests/tdc/cakemt.json passes, none
# is skipped, and tdc ran as many as the file has.
test_tdc_cakemt_cases() {
	load_module || return 1
	local src=${KDIR:-}/tools/testing/selftests/tc-testing cases work out want got bad
	cases=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tdc" && pwd)/cakemt.json
	[ -f "$src/tdc.py" ] || { fail "no tdc.py under KDIR ('${KDIR:-}')"; return 1; }
	"$VENV/bin/python3" -c 'import pyroute2' 2>/dev/null || { fail "pyroute2 is not in $VENV"; return 1; }
	want=$(jq length "$cases") || { fail "$cases is not JSON"; return 1; }
	# tdc finds its plugins relative to its working directory and writes
	# its results there: a copy of its directory in the guest's /tmp.
	work=$(mktemp -d)
	cp -r "$src/." "$work/" || { rm -rf "$work"; fail "cannot copy tdc"; return 1; }
	out=$(cd "$work" && timeout 900 "$VENV/bin/python3" ./tdc.py -J 2 -p "$TC" -f "$cases" --outfile "$work/results.tap" 2>&1)
	info "$(grep -E '^(ok|not ok) ' <<<"$out" | wc -l) tdc results, $want cases in the file"
	rm -rf "$work"
	got=$(grep -cE '^ok [0-9]+ [0-9a-f]{4} - ' <<<"$out")
	bad=$(grep -E '^not ok |# skipped' <<<"$out")
	if [ -n "$bad" ] || [ "$got" -ne "$want" ]; then
		echo "$out" | sed 's/^/  | /' >&2
		fail "tdc: $got of $want cases passed"
		return 1
	fi
}
