#!/usr/bin/env python3
"""Reads package-benchmark's text output and prints each `NAME · linli` beside `NAME · raw`.

The ratio is raw median time / Linli median time: the share of raw LMDB's throughput that Linli reaches
doing the same work (1.0 = as fast as raw LMDB). Benchmarks without a pair are listed with their rate.
"""
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
medians = {}
name = None
for line in text.splitlines():
    stripped = line.strip()
    if stripped and not stripped.startswith(("│", "╒", "╞", "├", "╘", "=")) and "·" in stripped:
        name = stripped
    elif name and stripped.startswith("│ Time (wall clock)"):
        cells = [c.strip() for c in stripped.strip("│").split("│")]
        unit = re.search(r"\((\w+)\)", cells[0]).group(1)
        scale = {"ns": 1e-3, "μs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}[unit]
        medians[name] = float(cells[3].replace(",", "")) * scale  # p50, in microseconds
        name = None

# A `NAME · floor` benchmark does the least work the storage layout itself implies (its LMDB calls and
# hashing, in C on prepared bytes): `floor ratio` is floor median / Linli median, the share of the
# layout's own ceiling that Linli reaches; raw / floor is the best ratio any implementation could report.
print(f"{'benchmark':40} {'linli p50 µs':>14} {'raw p50 µs':>12} {'ratio':>7} {'floor p50 µs':>14} {'floor ratio':>12}")
bases = []
for key in medians:
    base = key.rpartition(" · ")[0] if " · " in key else key
    if base not in bases:
        bases.append(base)
for base in bases:
    linli, raw, floor = (medians.get(f"{base} · {side}") for side in ("linli", "raw", "floor"))
    if linli is None:
        for side in ("raw", "floor"):
            if medians.get(f"{base} · {side}") is not None:
                print(f"{base + ' · ' + side:40} {medians[f'{base} · {side}']:14.1f}")
        continue
    cells = [f"{base:40}", f"{linli:14.1f}", f"{raw:12.1f}" if raw else f"{'—':>12}", f"{raw / linli:7.2f}" if raw else f"{'—':>7}",
             f"{floor:14.1f}" if floor else "", f"{floor / linli:12.2f}" if floor else ""]
    print(" ".join(cells).rstrip())
    if raw and floor:
        print(f"  └ the floor's own ratio to raw: {raw / floor:.2f} (the best any implementation of this layout can report)")
    v2 = medians.get(f"{base} · floor-v2")
    if raw and v2:
        print(f"  └ the checkpointed layout's floor: {v2:.1f} µs, {raw / v2:.2f} × raw; Linli reaches {v2 / linli:.2f} of it")
