#!/bin/bash
# Builds a large store from the pilots' generator and measures `linli rebuild` and `linli audit verify` on
# it: time, and the peaks of resident memory — the process's own (RssAnon) and the store's mapped pages
# (RssFile) — sampled every 0.2 s from /proc/PID/status.
#
#   Scripts/measure-memory.sh [HEXI_DAYS] [FOLDER]     # 2450 days ≈ 10.75M events, a 16 GB store, ~25 min
set -euo pipefail
days=${1:-2450}
folder=${2:-/tmp/linli-memory}
root=$(cd "$(dirname "$0")/.." && pwd)
swift build -c release --package-path "$root" --product linli >&2
swift build -c release --package-path "$root" --product linli-fixtures >&2
linli="$root/.build/release/linli"
rm -rf "$folder" && mkdir -p "$folder"
"$root/.build/release/linli-fixtures" --scale full --hexi-days "$days" --out "$folder/commands"
"$linli" init --admin admin-1 --store "$folder/store"
# The fixtures' marked mistakes are rejected, and `apply` then exits with 1: expected here.
for pilot in jiangshan hexi zigang; do
    status=0
    "$linli" apply "$folder/commands/$pilot.ndjson" --continue --store "$folder/store" > "$folder/apply.txt" 2>&1 || status=$?
    tail -1 "$folder/apply.txt"
    [ "$status" -le 1 ] || { cat "$folder/apply.txt" >&2; exit 1; }
done
rm -rf "$folder/commands"

# Runs a command, samples its memory until it ends, prints the peaks.
measure() {
    local start=$SECONDS anon=0 file=0 total=0 a f
    "$@" > "$folder/out.txt" 2>&1 &
    local pid=$!
    while [ -e "/proc/$pid/status" ]; do
        a=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        f=$(awk '/RssFile/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
        [ -n "$f" ] && [ "$f" -gt "$file" ] && file=$f
        [ -n "$a" ] && [ -n "$f" ] && [ $((a + f)) -gt "$total" ] && total=$((a + f))
        sleep 0.2
    done
    wait $pid
    echo "$(tail -1 "$folder/out.txt")"
    echo "  $((SECONDS - start)) s; peak RssAnon $((anon / 1024)) MB, peak RssFile $((file / 1024)) MB, peak resident $((total / 1024)) MB"
}
echo "store: $(du -sh "$folder/store" | cut -f1)"
measure "$linli" rebuild --store "$folder/store"
measure "$linli" audit verify --store "$folder/store"
