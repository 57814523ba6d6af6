#!/bin/bash
# Guest test runner: runs every test_* function of tests/guest/*.sh inside
# the virtme-ng guest, each in its own subshell with a clean slate, and ends
# with the line "N passed, N failed". Needs CAKEMT_KO and TC in the
# environment (xtask sets them). Optional: a test name filter as $1.
cd "$(dirname "$0")" || exit 2
. ./lib.sh

filter=${1:-}
passed=0
failed=0
failures=()

for file in ./test_*.sh; do
	if ! . "$file"; then
		echo "FAIL cannot load $file"
		failed=$((failed + 1))
	fi
done

for t in $(declare -F | awk '{print $3}' | grep '^test_' | grep -- "$filter"); do
	start=$(date +%s)
	echo "--- $t"
	( set -u; "$t" )
	rc=$?
	cleanup
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $t ($(( $(date +%s) - start )) s)"
	else
		failed=$((failed + 1))
		failures+=("$t")
		echo "FAIL $t ($(( $(date +%s) - start )) s)"
	fi
done

[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
