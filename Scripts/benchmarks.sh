#!/usr/bin/env bash
# Runs the benchmark suite (Benchmarks/, a package of its own) and prints one table: each Linli figure
# beside its raw-LMDB baseline from the same run, with the ratio of their median throughputs.
# usage: Scripts/benchmarks.sh [TARGET ...]   (default: every benchmark target)
set -euo pipefail
cd "$(dirname "$0")/.."
# The cold-start benchmark runs the release `linli` binary as a child process, built as it is best
# installed: with the Swift runtime linked in (no shared Foundation and ICU to load at each start).
swift build -c release --product linli --static-swift-stdlib >&2
cd Benchmarks
args=()
for target in "$@"; do args+=(--target "$target"); done
out=$(mktemp)
swift package --allow-writing-to-directory .benchmarkBaselines benchmark "${args[@]}" --no-progress --time-units microseconds | tee "$out" >&2
python3 ../Scripts/benchmark-ratios.py "$out"
