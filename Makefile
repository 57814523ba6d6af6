# SPDX-License-Identifier: GPL-2.0
# cakemt: entry points. The work is done by `cargo xtask` (xtask/), which
# installs what is missing, caches the kernel and tc outside the checkout,
# and runs the guest under virtme-ng. The module itself is built by Kbuild.
#
#   make            build cakemt.ko (and the kernel, first time) into ./cakemt.ko
#   make check      install, build, run host and guest tests
#   make demo       the per-host shaping demonstration in a guest
#   make bench      the benchmark of issue #15 (bench-quick: under 15 minutes)
#   make KDIR=/path/to/kernel/build module    build against another kernel

XTASK := cargo xtask

.PHONY: all module setup kernel tc check host-test guest-test demo bench bench-quick clean

all: module

setup:
	$(XTASK) setup

kernel: setup
	$(XTASK) kernel

# xtask builds in target/kmod/<kernel>/ and prints the module's path last.
module: setup
	ko=$$($(XTASK) module | tail -n 1) && cp "$$ko" cakemt.ko && echo "built $(CURDIR)/cakemt.ko"

tc: setup
	$(XTASK) tc

host-test:
	$(XTASK) host-test

guest-test: setup
	$(XTASK) guest-test

check:
	$(XTASK) check

demo:
	$(XTASK) demo

# BENCH_ARGS: e.g. --memory 16G (see `cargo xtask bench --help`).
bench:
	$(XTASK) bench $(BENCH_ARGS)

bench-quick:
	$(XTASK) bench --quick $(BENCH_ARGS)

clean:
	rm -rf target/kmod cakemt.ko
	cargo clean
