#!/bin/bash
# The netlink fuzzer (nlfuzz.py) against the real module, with traffic
# flowing: random and mutated qdisc and class requests built from the uapi
# header, the qdisc's dumps checked against a model of what was accepted
# after every batch, and its accounting after the traffic drained. Bounded
# here (NLFUZZ_MESSAGES, default 3000, at most NLFUZZ_SECONDS, default 60);
# README gives the command for a longer run.

test_netlink_fuzzer_with_traffic() {
	load_module && veth_pair || return 1
	local here; here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	ns snd timeout $(( ${NLFUZZ_SECONDS:-60} + 120 )) python3 "$here/nlfuzz.py" \
		--dev veth0 --header "$here/../../src/uapi/linux/pkt_sched_cakemt.h" \
		--messages "${NLFUZZ_MESSAGES:-3000}" --seconds "${NLFUZZ_SECONDS:-60}" \
		${NLFUZZ_SEED:+--seed $NLFUZZ_SEED} \
		--traffic-to 10.99.0.2
}
