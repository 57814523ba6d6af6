#!/bin/bash
# Builds src/lib.rs (every public entry point of the core, instantiated with
# opaque storage so nothing constant-folds away) and prints, per source
# line, the calls into Rust's panic machinery that remain. Empty = clean.
set -e
cd "$(dirname "$0")"
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && ar x "$OLDPWD/target/release/libcakemt_panicscan.a")
for o in "$tmp"/cakemt_panicscan-*.o "$tmp"/cakemt_sched-*.o; do
	objdump -drl --no-show-raw-insn -C "$o" | awk '
		/^\/.*:[0-9]+/ { line = $1 }
		/R_X86_64.*core::panicking/ { print line " " $NF }'
done | grep -v "panicscan/src/lib.rs" | sed 's|.*/src/sched/|src/sched/|; s|core::panicking::panic_const::||; s|-0x4$||' |
	sort | uniq -c
