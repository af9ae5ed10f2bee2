#!/usr/bin/env bash
# Counts the instructions `linli apply` executes for N ledger commands (the benchmark's mix: hours.log,
# hours.verify of the previous day's logs, gift.redeem by residents with points), with valgrind's
# callgrind. Unlike wall-clock time on a shared machine, the count barely moves between runs, so it
# tells whether a change to the command path made it cheaper. Prints the total and the count per
# command, net of a one-line run (process start, store open). Needs valgrind (apt-get install valgrind).
# usage: Scripts/count-instructions.sh [COMMANDS] [BINARY]     (default 10000, a fresh release build)
# The profile is left in $TMPDIR/linli-callgrind/cg.out: callgrind_annotate --inclusive=yes shows it.
set -euo pipefail
cd "$(dirname "$0")/.."
commands=${1:-10000}
binary=${2:-}
if [ -z "$binary" ]; then
    swift build -c release --product linli >&2
    binary=.build/release/linli
fi
work=${TMPDIR:-/tmp}/linli-callgrind
rm -rf "$work" && mkdir -p "$work"
# valgrind cannot read Swift's compressed DWARF: keep the symbol table, drop the debug sections.
strip --strip-debug -o "$work/linli" "$binary"
python3 Scripts/ledger-commands.py "$work" "$commands"
count() {  # STORE FILE -> instructions
    rm -rf "$work/$1"
    "$work/linli" init --store "$work/$1" --admin admin >/dev/null
    "$work/linli" apply --store "$work/$1" "$work/setup.ndjson" >/dev/null
    valgrind --tool=callgrind --callgrind-out-file="$work/$3" "$work/linli" apply --store "$work/$1" --continue "$work/$2" 2>&1 >/dev/null \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
base=$(count base one.ndjson cg-one.out)
all=$(count store ledger.ndjson cg.out)
echo "instructions: $all for $commands commands; $(( (all - base) / commands )) a command (net of a one-line run, $base)"
