#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The report of a benchmark run (issue #15): reads the `BENCH {json}` lines
the guest printed (bench.jsonl) and the run's facts (meta.json) in a results
directory, and writes there results.md (the tables, the ratios against the
issue's targets), samples.csv and summary.csv (raw and summarised figures),
results.json (both, with the run's facts), cost.png and memory.png; and
from flent's data files there (flent-C-TEST.flent.gz), the latency and
fairness table and latency_TEST.png, the CDFs of host 1's ping under load.

The statistic is fixed here, before any run was looked at: a contender's
cost in a round is its time per packet (1e9 / pps) minus noqueue's in the
same round; the table gives the median of those over the counted rounds
(the warm-up, round 0, is not counted), their minimum and maximum (the
spread), and the best: the contender's fastest sample minus noqueue's
fastest. A target is met when the ratio of the medians meets it.

flent, fixed the same way: host 1's goodput is the mean of flent's "TCP
upload sum" from the load's second 2 to its end; its latency under load
the ICMP pings in the same window (median, 90th and 99th percentile),
induced latency those minus the idle median; the other hosts' goodput is
their iperf3 servers' one-second receive counts in the same window; Jain's
index is over all hosts' goodput (every host has the same rate).

    bench_report.py DIR
"""

import csv
import gzip
import json
import statistics
import sys
from datetime import datetime
from pathlib import Path

# The contenders in the order of the tables, with what each is.
LABELS = {
    "noqueue": "noqueue (the floor)",
    "clsact_bpf": "clsact bpf writing skb->priority, noqueue (classification alone)",
    "cake": "one CAKE besteffort, no per-host rates",
    "cakemt_prio": "cakemt, tin from skb->priority (clsact bpf, LibreQoS's way)",
    "cakemt_prio_ds4": "cakemt prio with CAKE's diffserv4 bands in every tin (the classes "
    "of HTB+CAKE's diffserv4 leaves)",
    "cakemt_unshaped": "cakemt prio with no rate on its tins (a diagnostic, judged by no "
    "target: scheduling without per-host shaping, as one CAKE has none)",
    "cakemt_bpf": "cakemt, one cls_bpf writing the class id",
    "cakemt_flower": "cakemt, a flower filter per host",
    "cakemt_fwmark": "cakemt, tin from the fwmark an nftables map (netdev egress hook) "
    "sets from the destination address",
    "cakemt_auto": "cakemt, auto dsthost (no filter)",
    "htb_fq_codel": "HTB + fq_codel per host, a flower filter per host",
    "htb_cake": "HTB + CAKE diffserv4 per host, a flower filter per host (LibreQoS's layout)",
    "htb_mq_cake": "LibreQoS's multi-queue layout: mq over 2 TX queues, an HTB per queue, "
    "a CAKE diffserv4 leaf per host, hosts spread across the queues, a cls_bpf per queue "
    "writing skb->priority with an skbedit queue_mapping action (pktgen sends from one "
    "thread, as for every row)",
    "cake_per_host": "one CAKE diffserv4 at the host's rate on a veth per host (the CAKE "
    "list's veth-per-subscriber layout), a flower filter per host redirecting (mirred) to "
    "it in place of a route per host; the peers receive in a namespace that forwards nothing",
}
SHORT = {
    "noqueue": "noqueue",
    "clsact_bpf": "bpf prio alone",
    "cake": "CAKE",
    "cakemt_prio": "cakemt prio",
    "cakemt_prio_ds4": "cakemt prio diffserv4",
    "cakemt_unshaped": "cakemt prio, tins unshaped",
    "cakemt_bpf": "cakemt cls_bpf",
    "cakemt_flower": "cakemt flower",
    "cakemt_fwmark": "cakemt fwmark",
    "cakemt_auto": "cakemt auto",
    "htb_fq_codel": "HTB+fq_codel",
    "htb_cake": "HTB+CAKE",
    "htb_mq_cake": "mq+HTB+CAKE",
    "cake_per_host": "CAKE per host",
}
# The flent contenders (bench_flent.sh): each shapes host uploads on the
# router's uplink, a flower filter per host picking its class or tin.
FLENT_SHORT = {
    "cakemt": "cakemt flower diffserv4",
    "htb_fq_codel": "HTB+fq_codel",
    "htb_cake": "HTB+CAKE",
    "cake_per_host": "CAKE per host",
    "cake": "one CAKE (no per-host rates)",
}
CAKEMT = ["cakemt_prio", "cakemt_prio_ds4", "cakemt_bpf", "cakemt_flower", "cakemt_fwmark", "cakemt_auto"]
MIB = 1 << 20


def load(dirpath):
    records = []
    for line in (dirpath / "bench.jsonl").read_text().splitlines():
        if line.strip():
            records.append(json.loads(line))
    meta_file = dirpath / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    return records, meta


def summarise(records):
    """One entry per (hosts, contender) that was built, skipped or failed."""
    config = next((r for r in records if r["kind"] == "config"), {})
    order = config.get("contenders", " ".join(LABELS)).split()
    rows = {}

    def row(n, c):
        return rows.setdefault((n, c), {"n": n, "contender": c, "errors": []})

    samples = {}
    for r in records:
        k = r["kind"]
        if k == "sample":
            if r["round"] > 0:
                samples.setdefault((r["n"], r["contender"]), {})[r["round"]] = (
                    1e9 / r["pps"] if r["pps"] > 0 else None
                )
                row(r["n"], r["contender"])
        elif k == "build":
            x = row(r["n"], r["contender"])
            x["build_s"] = (r["qdisc_ms"] + r["filters_ms"]) / 1000
            x["build_qdisc_s"] = r["qdisc_ms"] / 1000
            x["build_filters_s"] = r["filters_ms"] / 1000
            x["mem_total"] = r["mem_total"]
            x["mem_qdisc"] = r["mem_qdisc"]
            x["mem_per_host"] = r["mem_total"] / r["n"]
        elif k == "change":
            row(r["n"], r["contender"])["change_s"] = r["ms"] / 1000
        elif k == "teardown":
            row(r["n"], r["contender"])["teardown_s"] = r["ms"] / 1000
        elif k == "check":
            x = row(r["n"], r["contender"])
            x["check"] = r
            if r.get("pktgen") and r.get("overlimits") is not None:
                x["overlimits_per_packet"] = r["overlimits"] / r["pktgen"]
            if not r["ok"]:
                x["errors"].append(r["why"])
        elif k == "skip":
            row(r["n"], r["contender"])["skip"] = r["reason"]
        elif k == "error":
            if r["contender"] == "all":
                for c in order:
                    row(r["n"], c)["errors"].append(r["what"])
            else:
                row(r["n"], r["contender"])["errors"].append(r["what"])

    for (n, c), x in rows.items():
        mine = samples.get((n, c), {})
        floor = samples.get((n, "noqueue"), {})
        paired = [
            mine[k] - floor[k]
            for k in sorted(mine)
            if mine[k] is not None and floor.get(k) is not None
        ]
        times = [t for t in mine.values() if t is not None]
        floors = [t for t in floor.values() if t is not None]
        x["rounds"] = len(paired)
        if times:
            x["ns_median"] = statistics.median(times)
            x["pps_median"] = 1e9 / x["ns_median"]
        if paired:
            x["cost_median"] = statistics.median(paired)
            x["cost_min"] = min(paired)
            x["cost_max"] = max(paired)
            x["cost_best"] = min(times) - min(floors)
        if "skip" not in x and not paired and not x["errors"]:
            x["errors"].append("no sample")
        if "check" not in x and "skip" not in x and not x["errors"]:
            x["errors"].append("no check of the qdisc's counters")
        x["valid"] = "skip" not in x and not x["errors"] and bool(paired)

    def key(x):
        c = x["contender"]
        return (x["n"], order.index(c) if c in order else len(order))

    return config, sorted(rows.values(), key=key)


def fmt(v, spec="{:.0f}", none="–"):
    return none if v is None else spec.format(v)


def ratio_rows(summary):
    """The issue's targets, each as (what, hosts, ratio, target, met)."""
    by = {(x["n"], x["contender"]): x for x in summary if x["valid"]}
    hosts = sorted({x["n"] for x in summary})
    out = []

    def cost(n, c):
        x = by.get((n, c))
        return None if x is None else x["cost_median"]

    for n in hosts:
        for c in CAKEMT:
            for ref, target in (("htb_fq_codel", 0.5), ("htb_cake", 1 / 3)):
                a, b = cost(n, c), cost(n, ref)
                if a is not None and b is not None and b > 0:
                    out.append((f"{SHORT[c]} / {SHORT[ref]}", n, a / b, target))
        a, b, f = cost(n, "cakemt_prio"), cost(n, "cake"), cost(n, "clsact_bpf")
        if a is not None and b is not None and b > 0:
            out.append(
                ("cakemt prio (with its bpf classifier) / CAKE", n, a / b, 1.3)
            )
            if f is not None:
                out.append(
                    (
                        "cakemt prio minus the bpf classifier alone / CAKE",
                        n,
                        (a - f) / b,
                        1.3,
                    )
                )
    for c in CAKEMT:
        a, b = cost(10000, c), cost(10, c)
        if a is not None and b is not None and b > 0:
            out.append((f"{SHORT[c]}: 10,000 hosts / 10 hosts", 10000, a / b, 1.2))
    return [(w, n, r, t, r <= t) for (w, n, r, t) in out]


def memory_rows(summary):
    """cakemt's memory at 10,000 tins against the 16 MiB target."""
    out = []
    for x in summary:
        if x["contender"] in CAKEMT and x["n"] == 10000 and "mem_qdisc" in x:
            out.append(
                (
                    SHORT[x["contender"]],
                    x["mem_qdisc"],
                    x["mem_total"],
                    x["mem_qdisc"] <= 16 * MIB,
                )
            )
    return out


def percentile(sorted_values, p):
    """Nearest-rank percentile of a sorted, non-empty list."""
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def mbit(rate):
    """tc's "5mbit" -> 5.0."""
    units = {"kbit": 1e-3, "mbit": 1.0, "gbit": 1e3}
    for u, f in units.items():
        if rate.endswith(u):
            return float(rate[: -len(u)]) * f
    return float(rate) / 1e6


def flent_span(data):
    """Seconds 2 to the end of the test's load (flent pings alone for a
    delay before and after it: TOTAL_LENGTH = LENGTH + 2 delays)."""
    m = data.get("metadata", {})
    length, total = m.get("LENGTH", 0), m.get("TOTAL_LENGTH", 0)
    delay = max(0, (total - length) / 2)
    return delay + 2, delay + length


def flent_window(data, series):
    """The non-null values of a flent series in the load's span."""
    lo, hi = flent_span(data)
    xs = data.get("x_values", [])
    ys = data.get("results", {}).get(series) or []
    return [y for x, y in zip(xs, ys) if y is not None and lo <= x <= hi]


def flent_upload_sum(data):
    res = data.get("results", {})
    if "TCP upload sum" in res:
        return flent_window(data, "TCP upload sum")
    # Tests without the sum store only the streams: add them up per step.
    lo, hi = flent_span(data)
    streams = [k for k in res if k.startswith("TCP upload") and "::" in k]
    xs = data.get("x_values", [])
    out = []
    for i, x in enumerate(xs):
        vals = [res[k][i] for k in streams if i < len(res[k])]
        if lo <= x <= hi and vals and all(v is not None for v in vals):
            out.append(sum(vals))
    return out


def flent_t0(data):
    """When flent's x = 0 is, seconds since the epoch (its metadata's T0)."""
    t0 = data.get("metadata", {}).get("T0", "")
    return datetime.fromisoformat(t0.replace("Z", "+00:00")).timestamp()


def iperf3_window_mbit(path, lo, hi):
    """Goodput of an iperf3 server's log (-J) over the seconds since the
    epoch [lo, hi]: its one-second receive intervals whose middle lies in
    them. None unless they cover most of the span."""
    with open(path) as f:
        run = json.load(f)
    start = run["start"]["timestamp"]["timesecs"]
    got, secs = 0, 0.0
    for iv in run.get("intervals", []):
        x = iv["sum"]
        mid = start + (x["start"] + x["end"]) / 2
        if lo <= mid <= hi:
            got += x["bytes"]
            secs += x["seconds"]
    if secs < 0.8 * (hi - lo):
        return None
    return got * 8 / secs / 1e6


def flent_rows(dirpath, records):
    """One entry per flent run: goodputs, Jain's index, ping percentiles."""
    out = []
    for r in records:
        if r["kind"] != "flent":
            continue
        x = {"contender": r["contender"], "test": r["test"], "file": r["file"],
             "rate_mbit": mbit(r["rate"]), "idle_ms": r["idle_ms"], "errors": []}
        try:
            with gzip.open(dirpath / r["file"], "rt") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            x["errors"].append(f"cannot read {r['file']}: {e}")
            out.append(x)
            continue
        up = flent_upload_sum(data)
        pings = sorted(flent_window(data, "Ping (ms) ICMP"))
        lo, hi = flent_span(data)
        try:
            t0 = flent_t0(data)
            others = [iperf3_window_mbit(dirpath / o, t0 + lo, t0 + hi) for o in r["others"]]
        except (OSError, ValueError, KeyError) as e:
            others = [None]
            x["errors"].append(f"cannot read the other hosts' iperf3 logs: {e}")
        if not up or not pings or None in others or len(others) != r["hosts"] - 1:
            x["errors"].append(
                "no upload goodput from host 1, no pings, or another host's load "
                "did not cover host 1's test"
            )
            out.append(x)
            continue
        x["h1_mbit"] = statistics.fmean(up)
        x["others_mbit"] = others
        x["jain"] = jain([x["h1_mbit"]] + others)
        x["pings"] = pings
        for p in (50, 90, 99):
            x[f"p{p}"] = percentile(pings, p)
        out.append(x)
    return out


def jain(xs):
    s, q = sum(xs), sum(v * v for v in xs)
    return s * s / (len(xs) * q) if q else 0.0


def write_csv(dirpath, records, summary):
    with open(dirpath / "samples.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["hosts", "contender", "round", "pps", "usec", "sent", "errors"])
        for r in records:
            if r["kind"] == "sample":
                w.writerow(
                    [r["n"], r["contender"], r["round"], r["pps"], r["usec"], r["sent"], r["errors"]]
                )
    cols = [
        "n", "contender", "valid", "rounds", "pps_median", "ns_median", "cost_median",
        "cost_min", "cost_max", "cost_best", "overlimits_per_packet", "mem_total", "mem_qdisc", "mem_per_host",
        "build_s", "build_qdisc_s", "build_filters_s", "change_s", "teardown_s", "skip",
    ]
    with open(dirpath / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols + ["errors"])
        for x in summary:
            w.writerow([x.get(c, "") for c in cols] + ["; ".join(x["errors"])])


def plot(dirpath, summary):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    contenders = [c for c in LABELS if any(x["contender"] == c for x in summary)]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for c in contenders:
        xs = [x for x in summary if x["contender"] == c and x["valid"]]
        if not xs or c == "noqueue":
            continue
        ns = [x["n"] for x in xs]
        med = [x["cost_median"] / 1000 for x in xs]
        lo = [(x["cost_median"] - x["cost_min"]) / 1000 for x in xs]
        hi = [(x["cost_max"] - x["cost_median"]) / 1000 for x in xs]
        style = "-" if c.startswith("cakemt") else "--"
        ax.errorbar(ns, med, yerr=[lo, hi], fmt="o" + style, capsize=3, label=SHORT[c])
    finish(plt, fig, ax, dirpath / "cost.png",
           "qdisc cost per packet, µs (median; bars: min–max over rounds)",
           "Per-packet cost over noqueue, pktgen 64 B, TCG guest (ratios only)")

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for c in contenders:
        xs = [x for x in summary if x["contender"] == c and "mem_per_host" in x]
        if not xs or c in ("noqueue", "clsact_bpf", "cake"):
            continue
        ns = [x["n"] for x in xs]
        per = [max(x["mem_per_host"], 1) for x in xs]
        style = "-" if c.startswith("cakemt") else "--"
        ax.plot(ns, per, "o" + style, label=SHORT[c])
    ax.set_yscale("log")
    finish(plt, fig, ax, dirpath / "memory.png",
           "kernel memory per host, bytes (Slab + VmallocUsed delta)",
           "Memory per host: qdiscs, classes and filters")


def plot_flent(dirpath, flent):
    """latency_TEST.png: the CDF of host 1's ICMP ping under load per contender."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for test in sorted({x["test"] for x in flent}):
        fig, ax = plt.subplots(figsize=(9, 5.5))
        for x in flent:
            if x["test"] != test or "pings" not in x:
                continue
            v = x["pings"]
            ys = [(i + 1) / len(v) for i in range(len(v))]
            style = "-" if x["contender"].startswith("cakemt") else "--"
            ax.step(v, ys, style, where="post", label=FLENT_SHORT.get(x["contender"], x["contender"]))
        ax.set_xscale("log")
        ax.set_xlabel("host 1's ICMP ping under load, ms (log)")
        ax.set_ylabel("fraction of pings")
        ax.set_title(f"flent {test}: latency under load, TCG guest")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(dirpath / f"latency_{test}.png", dpi=110)
        plt.close(fig)


def finish(plt, fig, ax, path, ylabel, title):
    """Hosts on a log x axis, the labels, grid and legend; saves and closes."""
    ax.set_xscale("log")
    ax.set_xlabel("hosts (N)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(config, meta, summary, records, flent):
    lines = []
    add = lines.append
    add(f"# Benchmark {meta.get('started', '')}")
    add("")
    add(
        f"`{meta.get('command', 'cargo xtask bench')}`, mode {config.get('mode', '?')}: "
        f"kernel {config.get('kernel', '?')} in a {meta.get('accel', 'TCG')} guest, "
        f"{config.get('cpus', '?')} vCPU, {fmt(config.get('memory', 0) / MIB)} MiB; "
        f"wall time {fmt(meta.get('wall_s'))} s. Every host has {config.get('rate')} "
        f"under a {config.get('link')} link; pktgen sends {config.get('count', 0):,} "
        f"64-byte packets per sample to random hosts, one warm-up round and "
        f"{config.get('rounds')} counted rounds interleaved across the contenders."
    )
    add("")
    add(
        "Only ratios inside one boot mean anything: this guest runs under TCG, "
        "far slower than hardware. cost = time per packet minus noqueue's in the "
        "same round; median over rounds, spread min–max, best = fastest sample "
        "minus noqueue's fastest. Over limit: the qdisc's overlimits counter per "
        "packet sent (cakemt: dequeues that waited for a tin's shaper and armed "
        "the watchdog; HTB: its own overlimit events). Memory: Slab + VmallocUsed "
        "before and after building the contender (qdiscs, classes, filters; per "
        "host: total / N, so at 10 hosts mostly a contender's fixed part, such "
        "as cakemt's flow pool of at least 4,096 slots; the rest of the guest "
        "moves these figures by up to about ±0.5 MiB)."
    )
    add("")
    for n in sorted({x["n"] for x in summary}):
        add(f"## {n:,} hosts")
        add("")
        add(
            "| contender | pps | cost ns/pkt | spread | best | over limit | memory: qdisc | "
            "with filters | per host | build s (filters) | change s |"
        )
        add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for x in (x for x in summary if x["n"] == n):
            name = SHORT.get(x["contender"], x["contender"])
            if "skip" in x:
                add(f"| {name} | skipped: {x['skip']} | | | | | | | | | |")
                continue
            if not x["valid"]:
                add(f"| {name} | **error**: {'; '.join(x['errors'])} | | | | | | | | | |")
                continue
            spread = f"{fmt(x['cost_min'])}–{fmt(x['cost_max'])}"
            def mib(key):
                v = x.get(key)
                return fmt(None if v is None else v / MIB, "{:.2f} MiB")

            build = fmt(x.get("build_s"), "{:.2f}")
            if x.get("build_filters_s"):
                build += f" ({x['build_filters_s']:.2f})"
            add(
                f"| {name} | {fmt(x.get('pps_median'))} | {fmt(x['cost_median'])} | "
                f"{spread} | {fmt(x['cost_best'])} | "
                f"{fmt(100 * x['overlimits_per_packet'] if 'overlimits_per_packet' in x else None, '{:.1f}%')} | "
                f"{mib('mem_qdisc')} | "
                f"{mib('mem_total')} | {fmt(x.get('mem_per_host'), '{:,.0f} B')} | "
                f"{build} | {fmt(x.get('change_s'), '{:.2f}')} |"
            )
        add("")
    add("## Against the issue's targets")
    add("")
    add("Ratios of median costs at the same N (a target is met when the ratio is at or below it).")
    add("")
    add("| ratio | hosts | measured | target | |")
    add("| --- | ---: | ---: | ---: | --- |")
    for what, n, r, t, met in ratio_rows(summary):
        add(f"| {what} | {n:,} | {r:.2f} | {t:.2f} | {'met' if met else '**missed**'} |")
    for what, q, total, met in memory_rows(summary):
        add(
            f"| {what}: memory of the qdisc at 10,000 tins (with filters: "
            f"{total / MIB:.1f} MiB) | 10,000 | {q / MIB:.1f} MiB | 16 MiB | "
            f"{'met' if met else '**missed**'} |"
        )
    add("")
    add("## Contenders")
    add("")
    for c, label in LABELS.items():
        add(f"- **{SHORT[c]}**: {label}")
    add("")
    add(
        "Build: HTB's qdiscs and classes in one `tc -batch`, its flower filters "
        "in another; cakemt's `qdisc add` and one `rates` file of N lines (tc "
        "sends 3,900 tins per request), then its filters in one `tc -batch`. "
        "Change (every host's rate once, to "
        f"{config.get('new_rate', '?')}): HTB a `tc -batch` of N `class change`; "
        "cakemt one `tc qdisc change ... rates FILE`; cakemt auto one "
        "`tc qdisc change ... tin-bandwidth`. Times are wall clock in the guest, "
        "tc's process start included."
    )
    add("")
    problems = [r for r in records if r["kind"] in ("error", "skip")]
    problems += [r for r in records if r["kind"] == "check" and not r["ok"]]
    dmesg = [r for r in records if r["kind"] == "dmesg"]
    done = [r for r in records if r["kind"] == "done"]
    add("## Checks")
    add("")
    add(
        "Every counted contender's qdisc saw every packet pktgen sent into it "
        "(passed or dropped), held none at the end, and placed every packet in "
        "its host's class, unless listed here:"
    )
    add("")
    for r in problems:
        add(f"- {r['n']:,} hosts, {r['contender']}: {r.get('why') or r.get('what') or r.get('reason')}")
    if not problems:
        add("- nothing listed")
    add(f"- kernel log: {'clean' if dmesg and dmesg[0]['ok'] else '**a fault was reported, or no check ran**'}")
    add(f"- run finished: {'yes' if done and done[0]['ok'] else '**no, or with failures**'}")
    add("")
    add("![cost per packet](cost.png)")
    add("")
    add("![memory per host](memory.png)")
    add("")
    flent_markdown(add, records, flent)
    return "\n".join(lines)


def flent_markdown(add, records, flent):
    runs = [r for r in records if r["kind"] == "flent"]
    errors = [r for r in records if r["kind"] == "flent_error"]
    if not runs and not errors:
        return
    r0 = runs[0] if runs else {}
    add("## Latency and fairness under load (flent)")
    add("")
    add(
        f"{r0.get('hosts', '?')} hosts, each with an upload rate of {r0.get('rate', '?')} "
        f"under a {r0.get('link', '?')} uplink (their sum: every host should get its "
        f"rate), scaled down to what a TCG guest carries. Host 1 runs the flent test "
        f"against the server for {r0.get('secs', '?')} s; when its load starts, every "
        "other host starts two TCP uploads (iperf3) until 3 s after it ends. The contender shapes the router's uplink (CAKE per "
        "host: each host's own veth); the server's downloads, which rrul also makes, "
        "pass one CAKE at the link rate alike for every contender. Goodput: host 1's "
        "mean of flent's TCP upload sum from the load's second 2 to its end, the others' "
        "from their iperf3 servers' per-second counts in the same seconds; Jain over all hosts. Ping: host 1's ICMP ping under load in the "
        "same window; induced = under load minus the idle median. rrul's flows carry "
        "DSCP marks (EF, CS1, CS5): CAKE's diffserv4 leaves act on them, and so does "
        "cakemt, which runs diffserv4 in every tin here (from 2026-12-04). "
        "Data files: the `.flent.gz` next to this report (`flent -i FILE -p ping_cdf` "
        "plots any of them)."
    )
    add("")
    for test in sorted({x["test"] for x in flent}):
        add(f"### {test}")
        add("")
        add(
            "| contender | host 1 Mbit/s | other hosts Mbit/s | Jain | idle ping ms | "
            "ping p50 / p90 / p99 ms | induced p50 / p99 ms | data |"
        )
        add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for x in flent:
            if x["test"] != test:
                continue
            name = FLENT_SHORT.get(x["contender"], x["contender"])
            if x["errors"]:
                add(f"| {name} | {'; '.join(x['errors'])} | | | | | | |")
                continue
            add(
                f"| {name} | {x['h1_mbit']:.2f} (rate {x['rate_mbit']:g}) | "
                f"{' / '.join(f'{o:.2f}' for o in x['others_mbit'])} | {x['jain']:.4f} | "
                f"{x['idle_ms']:.2f} | {x['p50']:.1f} / {x['p90']:.1f} / {x['p99']:.1f} | "
                f"{x['p50'] - x['idle_ms']:.1f} / {x['p99'] - x['idle_ms']:.1f} | "
                f"`{x['file']}` |"
            )
        add("")
        add(f"![latency under load, {test}](latency_{test}.png)")
        add("")
    for r in errors:
        add(f"- flent, {r['contender']}: {r['what']}")
    if errors:
        add("")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    dirpath = Path(sys.argv[1])
    records, meta = load(dirpath)
    config, summary = summarise(records)
    flent = flent_rows(dirpath, records)
    write_csv(dirpath, records, summary)
    (dirpath / "results.json").write_text(
        json.dumps(
            {
                "meta": meta,
                "config": config,
                "summary": summary,
                "targets": [
                    {"what": w, "hosts": n, "ratio": r, "target": t, "met": m}
                    for (w, n, r, t, m) in ratio_rows(summary)
                ],
                "memory_targets": [
                    {"what": w, "qdisc_bytes": q, "total_bytes": t, "met": m}
                    for (w, q, t, m) in memory_rows(summary)
                ],
                "flent": [{k: v for k, v in x.items() if k != "pings"} for x in flent],
                "records": records,
            },
            indent=1,
        )
    )
    plot(dirpath, summary)
    plot_flent(dirpath, flent)
    (dirpath / "results.md").write_text(markdown(config, meta, summary, records, flent))
    print(dirpath / "results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
