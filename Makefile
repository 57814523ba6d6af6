# SPDX-License-Identifier: GPL-2.0
# cakemt: entry points. The work is done by `cargo xtask` (xtask/), which
# installs what is missing, caches the kernel and tc outside the checkout,
# and runs the guest under virtme-ng. The module itself is built by Kbuild.
#
#   make            build cakemt.ko (and the kernel, first time)
#   make check      install, build, run host and guest tests
#   make demo       the per-host shaping demonstration in a guest
#   make KDIR=/path/to/kernel/build module    build against another kernel

XTASK := cargo xtask

.PHONY: all module setup kernel tc check host-test guest-test demo clean

all: module

setup:
	$(XTASK) setup

kernel: setup
	$(XTASK) kernel

module: setup
	$(XTASK) module

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

clean:
	$(MAKE) -C "$$($(XTASK) kdir)" M=$(CURDIR) clean
	cargo clean
