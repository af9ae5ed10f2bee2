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

print(f"{'benchmark':40} {'linli p50 µs':>14} {'raw p50 µs':>12} {'ratio':>7}")
done = set()
for key in medians:
    base, _, side = key.rpartition(" · ")
    if base in done:
        continue
    linli, raw = medians.get(f"{base} · linli"), medians.get(f"{base} · raw")
    if linli is not None and raw is not None:
        print(f"{base:40} {linli:14.1f} {raw:12.1f} {raw / linli:7.2f}")
    else:
        print(f"{key:40} {medians[key]:14.1f} {'—':>12} {'—':>7}")
    done.add(base)
