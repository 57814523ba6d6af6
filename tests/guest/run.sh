#!/bin/bash
# Guest test runner: runs test_* functions of tests/guest/*.sh inside the
# virtme-ng guest, each in its own subshell with a clean slate, checks the
# kernel log after every test, and ends with the line "N passed, N failed".
#
#   run.sh [rates|functional|all] [FILTER]
#
# "rates" runs the rate measurements (test_rate_*: they need the lean
# kernel's speed) and tdc's cases (test_tdc_*: Python, too slow to start
# on the debug kernel), "functional" everything else (on the debug kernel,
# where KASAN, lockdep, kmemleak and friends judge the module), "all" both;
# FILTER (an extended regular expression) keeps only the tests whose name
# it matches. Needs CAKEMT_KO and TC in
# the environment (xtask sets them).
cd "$(dirname "$0")" || exit 2
. ./lib.sh

which=${1:-all}
filter=${2:-}
passed=0
failed=0
failures=()

for file in ./test_*.sh; do
	if ! . "$file"; then
		echo "FAIL cannot load $file"
		failed=$((failed + 1))
	fi
done

case $which in
rates) select='^test_(rate|tdc)_' ;;
functional) select='^test_(?!rate_|tdc_)' ;;
all) select='^test_' ;;
*) echo "run.sh: unknown selection '$which'" >&2; exit 2 ;;
esac

kernel_judges_init
echo "guest: kernel $(uname -r) (${CAKEMT_KERNEL:-unknown} flavour), selection $which${filter:+, filter $filter}"

for t in $(declare -F | awk '{print $3}' | grep -P "$select" | grep -E -- "$filter"); do
	start=$SECONDS
	echo "--- $t"
	( set -u; "$t" )
	rc=$?
	cleanup || rc=1
	# The kernel is the judge: whatever the test said, a splat fails it.
	if ! dmesg_check "$t"; then
		rc=1
	fi
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $t ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1))
		failures+=("$t")
		echo "FAIL $t ($((SECONDS - start)) s)"
	fi
done

# Leaks show only once the module is gone and its objects are old enough.
if ! kmemleak_check; then
	failed=$((failed + 1))
	failures+=("kmemleak")
fi

[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
