#!/bin/bash
# Issue 17's time-travel goal on the pilots' store (linli-fixtures --scale full, 1.68M events): a
# `--at-position` and an `--as-of` query, wall time and peak resident memory, RUNS times each; with
# BEFORE (another build's linli) the same queries alternate with it. Medians.
#
#   Scripts/measure-time-travel.sh [FOLDER] [RUNS] [BEFORE]
set -euo pipefail
folder=${1:-/tmp/linli-operations}
runs=${2:-3}
before=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
swift build -c release --package-path "$root" --product linli >&2
swift build -c release --package-path "$root" --product linli-fixtures >&2
linli="$root/.build/release/linli"
umask 077
mkdir -p "$folder"
[ -f "$folder/commands/zigang.ndjson" ] || "$root/.build/release/linli-fixtures" --scale full --out "$folder/commands"
if [ ! -f "$folder/store/data.mdb" ]; then
    "$linli" init --admin admin-1 --store "$folder/store" > /dev/null
    for pilot in jiangshan hexi zigang; do
        "$linli" apply "$folder/commands/$pilot.ndjson" --continue --store "$folder/store" > /dev/null 2>&1 || [ $? -le 1 ]
    done
fi
head=$("$linli" status --json --store "$folder/store" | python3 -c 'import json,sys; print(json.load(sys.stdin)["head"]["position"])')
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
queries=("balance resident:r-js-1 --at-position $head" "statement resident:r-js-1 --at-position $head"
    "balance resident:r-js-1 --as-of 2024-08-31T00:00:00+08:00" "stock --as-of 2023-06-30T23:59:59+08:00"
    "elders --as-of 2023-06-30T23:59:59+08:00" "elders --as-of 2024-08-31T00:00:00+08:00")
binaries=("$linli")
[ -z "$before" ] || binaries+=("$before")
for query in "${queries[@]}"; do
    for index in "${!binaries[@]}"; do : > "$folder/tt.$index.s"; done
    for run in $(seq "$runs"); do
        for index in "${!binaries[@]}"; do
            # shellcheck disable=SC2086
            /usr/bin/time -f "%e %M" -o "$folder/tt.one" "${binaries[$index]}" $query --store "$folder/store" > /dev/null
            cat "$folder/tt.one" >> "$folder/tt.$index.s"
        done
    done
    for index in "${!binaries[@]}"; do
        seconds=$(cut -d' ' -f1 "$folder/tt.$index.s" | median)
        kib=$(cut -d' ' -f2 "$folder/tt.$index.s" | median)
        echo "$query | ${binaries[$index]} | median ${seconds} s | peak $((kib / 1024)) MB"
    done
done
