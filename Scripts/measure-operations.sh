#!/bin/bash
# Issue 20's measurements on the pilots' store (linli-fixtures --scale full, 1.68M events): `linli backup`
# beside `mdb_copy -c` of the same store, and `linli import` of the store's export beside `linli apply`
# of the commands that made it. Each pair runs alternately, RUNS times; medians and their ratio.
#
#   Scripts/measure-operations.sh [FOLDER] [RUNS]          # ~15 min with 3 runs
set -euo pipefail
folder=${1:-/tmp/linli-operations}
runs=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v mdb_copy > /dev/null || { echo "mdb_copy is missing: Scripts/install-deps.sh installs lmdb-utils" >&2; exit 1; }
swift build -c release --package-path "$root" --product linli >&2
swift build -c release --package-path "$root" --product linli-fixtures >&2
linli="$root/.build/release/linli"
umask 077
mkdir -p "$folder"
[ -f "$folder/commands/zigang.ndjson" ] || "$root/.build/release/linli-fixtures" --scale full --out "$folder/commands"

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The commands that made the store: init, then the three pilots (their marked mistakes are rejected,
# and apply exits 1 for them: expected here).
apply_all() {
    rm -rf "$folder/store"
    "$linli" init --admin admin-1 --store "$folder/store" > /dev/null
    for pilot in jiangshan hexi zigang; do
        status=0
        "$linli" apply "$folder/commands/$pilot.ndjson" --continue --store "$folder/store" > /dev/null 2> "$folder/apply.err" || status=$?
        [ "$status" -le 1 ] || { cat "$folder/apply.err" >&2; exit 1; }
    done
}

: > "$folder/apply.s"; : > "$folder/import.s"; : > "$folder/backup.s"; : > "$folder/mdb_copy.s"
for run in $(seq "$runs"); do
    start=$(now); apply_all; end=$(now)
    awk "BEGIN { print $end - $start }" >> "$folder/apply.s"
    [ -f "$folder/export.ndjson" ] || "$linli" export --store "$folder/store" > "$folder/export.ndjson"
    rm -rf "$folder/imported"
    start=$(now); "$linli" import "$folder/export.ndjson" --store "$folder/imported" > /dev/null; end=$(now)
    awk "BEGIN { print $end - $start }" >> "$folder/import.s"
    echo "run $run: apply $(tail -1 "$folder/apply.s") s, import $(tail -1 "$folder/import.s") s" >&2
done
for run in $(seq "$runs"); do
    rm -rf "$folder/backup" "$folder/mdb_copy" && mkdir "$folder/mdb_copy"
    start=$(now); "$linli" backup "$folder/backup" --store "$folder/store" > /dev/null; end=$(now)
    awk "BEGIN { print $end - $start }" >> "$folder/backup.s"
    start=$(now); mdb_copy -c "$folder/store" "$folder/mdb_copy"; end=$(now)
    awk "BEGIN { print $end - $start }" >> "$folder/mdb_copy.s"
    echo "run $run: backup $(tail -1 "$folder/backup.s") s, mdb_copy -c $(tail -1 "$folder/mdb_copy.s") s" >&2
done
events=$("$linli" status --json --store "$folder/store" | sed 's/.*"head":{"position":\([0-9]*\).*/\1/')
echo "store: $events events, $(du -sh "$folder/store" | cut -f1); export $(du -sh "$folder/export.ndjson" | cut -f1)"
for name in apply import backup mdb_copy; do printf '%-9s median %8.2f s  (%s)\n' "$name" "$(median < "$folder/$name.s")" "$(tr '\n' ' ' < "$folder/$name.s")"; done
ratio() { awk "BEGIN { printf \"%.2f\", $(median < "$folder/$1.s") / $(median < "$folder/$2.s") }"; }
echo "import / apply       = $(ratio import apply)"
echo "backup / mdb_copy -c = $(ratio backup mdb_copy)"
