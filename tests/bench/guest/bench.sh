#!/bin/bash
# The benchmark of issue #15 inside the guest: `bench.sh MODE [OUT]`
# (smoke, quick or full; see bench_mode in bench_lib.sh). Prints `BENCH
# {json}` lines for xtask, which writes bench/results/ from them; flent's
# data files go to OUT (a directory the host lets the guest write; a
# temporary one without it). Exits non-zero if any contender failed or the
# kernel reported a fault.
cd "$(dirname "$0")" || exit 2
. ../../guest/lib.sh
. ./bench_lib.sh
. ./bench_flent.sh

bench_mode "${1:-quick}" || exit 2
kernel_judges_init
rc=0
out=${2:-$(mktemp -d)}
bench_run "${1:-quick}" || rc=1
flent_all "$flent_secs" "$out" || rc=1
bench_emit "{\"kind\":\"done\",\"ok\":$([ $rc = 0 ] && echo true || echo false)}"
# The kernel is the judge here too: a splat voids the figures.
if dmesg_check "the benchmark"; then
	bench_emit '{"kind":"dmesg","ok":true}'
else
	bench_emit '{"kind":"dmesg","ok":false}'
	rc=1
fi
exit $rc
