#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The report of a benchmark run (issue #15): reads the `BENCH {json}` lines
the guest printed (bench.jsonl) and the run's facts (meta.json) in a results
directory, and writes there results.md (the tables, the ratios against the
issue's targets), samples.csv and summary.csv (raw and summarised figures),
results.json (both, with the run's facts), cost.png and memory.png.

The statistic is fixed here, before any run was looked at: a contender's
cost in a round is its time per packet (1e9 / pps) minus noqueue's in the
same round; the table gives the median of those over the counted rounds
(the warm-up, round 0, is not counted), their minimum and maximum (the
spread), and the best: the contender's fastest sample minus noqueue's
fastest. A target is met when the ratio of the medians meets it.

    bench_report.py DIR
"""

import csv
import json
import statistics
import sys
from pathlib import Path

# The contenders in the order of the tables, with what each is.
LABELS = {
    "noqueue": "noqueue (the floor)",
    "clsact_bpf": "clsact bpf writing skb->priority, noqueue (classification alone)",
    "cake": "one CAKE besteffort, no per-host rates",
    "cakemt_prio": "cakemt, tin from skb->priority (clsact bpf, LibreQoS's way)",
    "cakemt_unshaped": "cakemt prio with no rate on its tins (a diagnostic, judged by no "
    "target: scheduling without per-host shaping, as one CAKE has none)",
    "cakemt_bpf": "cakemt, one cls_bpf writing the class id",
    "cakemt_flower": "cakemt, a flower filter per host",
    "cakemt_auto": "cakemt, auto dsthost (no filter)",
    "htb_fq_codel": "HTB + fq_codel per host, a flower filter per host",
    "htb_cake": "HTB + CAKE diffserv4 per host, a flower filter per host (LibreQoS's layout)",
}
SHORT = {
    "noqueue": "noqueue",
    "clsact_bpf": "bpf prio alone",
    "cake": "CAKE",
    "cakemt_prio": "cakemt prio",
    "cakemt_unshaped": "cakemt prio, tins unshaped",
    "cakemt_bpf": "cakemt cls_bpf",
    "cakemt_flower": "cakemt flower",
    "cakemt_auto": "cakemt auto",
    "htb_fq_codel": "HTB+fq_codel",
    "htb_cake": "HTB+CAKE",
}
CAKEMT = ["cakemt_prio", "cakemt_bpf", "cakemt_flower", "cakemt_auto"]
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


def markdown(config, meta, summary, records):
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
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    dirpath = Path(sys.argv[1])
    records, meta = load(dirpath)
    config, summary = summarise(records)
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
                "records": records,
            },
            indent=1,
        )
    )
    plot(dirpath, summary)
    (dirpath / "results.md").write_text(markdown(config, meta, summary, records))
    print(dirpath / "results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
