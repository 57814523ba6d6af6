#!/bin/bash
# The benchmark of issue #15 inside the guest: `bench.sh MODE` (smoke,
# quick or full; see bench_mode in bench_lib.sh). Prints `BENCH {json}`
# lines for xtask, which writes bench/results/ from them, and exits
# non-zero if any contender failed or the kernel reported a fault.
cd "$(dirname "$0")" || exit 2
. ../../guest/lib.sh
. ./bench_lib.sh

kernel_judges_init
rc=0
bench_run "${1:-quick}" || rc=1
# The kernel is the judge here too: a splat voids the figures.
if dmesg_check "the benchmark"; then
	bench_emit '{"kind":"dmesg","ok":true}'
else
	bench_emit '{"kind":"dmesg","ok":false}'
	rc=1
fi
exit $rc
