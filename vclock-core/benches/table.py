#!/usr/bin/env python3
"""Turns the results of `cargo bench --bench clock` into markdown tables.

Reads the median of every benchmark from criterion's
`<target>/criterion/<group>/<implementation>/<n>/new/estimates.json` and,
when given the captured output of the bench run, the `encoded size:` lines
it prints.

    python3 vclock-core/benches/table.py [--target DIR] [--log FILE] [--baselines A,B]

`--target` defaults to `$CARGO_TARGET_DIR`, then `target`. With
`--baselines` (runs saved by `cargo bench ... -- --save-baseline NAME`) each
cell is the smallest median over those runs, which filters out runs slowed
down by other work on the machine; the default reads criterion's latest run.
"""

import argparse
import json
import os
import re
from pathlib import Path

GROUPS = [
    "increment",
    "merge",
    "compare-equal",
    "compare-before",
    "compare-concurrent",
    "compare-concurrent-early",
    "clone",
    "bincode",
    "bincode-encode",
    "bincode-decode",
]
SIZES = [4, 16, 64, 256, 1024]
IMPLS = ["vclock-core", "dense-vec", "crdts", "vclock-0.4"]
STRING = "vclock-core-string"
SIZE_LINE = re.compile(r"^encoded size: (\S+) n=(\d+): (\d+) bytes")


BASELINES = ["new"]


def median_ns(root, group, impl, n):
    medians = []
    for baseline in BASELINES:
        path = root / group / impl / str(n) / baseline / "estimates.json"
        if path.exists():
            medians.append(json.loads(path.read_text())["median"]["point_estimate"])
    return min(medians, default=None)


def fmt_time(ns):
    if ns is None:
        return ""
    if ns < 1_000:
        return f"{ns:.3g} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.3g} µs"
    return f"{ns / 1_000_000:.3g} ms"


def time_table(root):
    header = ("| operation | n | vclock-core | dense `Vec<u64>` | core / dense "
              "| `String` ids | `String` / dense | crdts 7.3 | vclock 0.4 |")
    lines = [header, "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    ratio = lambda x, y: f"{x / y:.2f}x" if x and y else "n/a"
    for group in GROUPS:
        for n in SIZES:
            core, dense, crdts, vclock = (median_ns(root, group, i, n) for i in IMPLS)
            if core is None and dense is None:
                continue
            string = median_ns(root, group, STRING, n)
            cells = [group, str(n), fmt_time(core), fmt_time(dense), ratio(core, dense),
                     fmt_time(string), ratio(string, dense), fmt_time(crdts), fmt_time(vclock)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ids_table(root):
    lines = ["| n | `ids() == ids()` | share of core merge | share of core compare-equal |",
             "|--:|--:|--:|--:|"]
    for n in SIZES:
        ids = median_ns(root, "ids-eq", "vclock-core", n)
        merge = median_ns(root, "merge", "vclock-core", n)
        equal = median_ns(root, "compare-equal", "vclock-core", n)
        share = lambda total: f"{100 * ids / total:.0f}%" if ids and total else "n/a"
        lines.append(f"| {n} | {fmt_time(ids)} | {share(merge)} | {share(equal)} |")
    return "\n".join(lines)


def size_table(log):
    sizes = {}
    for line in log.read_text().splitlines():
        match = SIZE_LINE.match(line)
        if match:
            sizes[(match[1], int(match[2]))] = int(match[3])
    lines = ["| n | vclock-core | dense `Vec<u64>` | crdts 7.3 | vclock 0.4 |",
             "|--:|--:|--:|--:|--:|"]
    for n in SIZES:
        cells = [f"{sizes[(i, n)]} B" if (i, n) in sizes else "n/a" for i in IMPLS]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    parser.add_argument("--log", type=Path, help="captured stdout of the bench run")
    parser.add_argument("--baselines", help="comma-separated saved baselines to take the minimum of")
    args = parser.parse_args()
    if args.baselines:
        BASELINES[:] = args.baselines.split(",")
    root = Path(args.target) / "criterion"
    print("Median time per operation:\n")
    print(time_table(root))
    print("\nThe same-ids check of the fast path on its own:\n")
    print(ids_table(root))
    if args.log:
        print("\nbincode (standard config) encoded size:\n")
        print(size_table(args.log))


if __name__ == "__main__":
    main()
