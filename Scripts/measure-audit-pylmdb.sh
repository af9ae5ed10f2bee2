#!/usr/bin/env bash
# Issue 17's command-line goal: `linli audit verify` of a store of COMMANDS ledger commands (default
# 200,000, applied in one file) against a single-threaded py-lmdb read of every row of every database of
# the same store with SHA-256 of each key and value, RUNS times each (default 3), alternated. Prints the
# medians and their ratio (above 1: the audit is the faster). Needs py-lmdb (pip install lmdb).
#
#   Scripts/measure-audit-pylmdb.sh [COMMANDS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
commands=${1:-200000}
runs=${2:-3}
python3 -c 'import lmdb' 2>/dev/null || { echo "needs py-lmdb: pip install lmdb" >&2; exit 2; }
swift build -c release --product linli >&2
linli=.build/release/linli
work=${TMPDIR:-/tmp}/linli-audit-pylmdb-$commands
umask 077
mkdir -p "$work"
if [ ! -f "$work/store/data.mdb" ]; then
    python3 Scripts/ledger-commands.py "$work" "$commands"
    "$linli" init --store "$work/store" --admin admin >/dev/null
    "$linli" apply --store "$work/store" "$work/setup.ndjson" >/dev/null
    "$linli" apply --store "$work/store" "$work/ledger.ndjson" >/dev/null
fi
cat >"$work/read-all.py" <<'EOF'
import hashlib, lmdb, sys
# Every row of every named database (the unnamed one lists them) and of the unnamed one, SHA-256 of each.
env = lmdb.open(sys.argv[1], readonly=True, max_dbs=1024)
rows = 0
with env.begin() as txn:
    names = [key for key, _ in txn.cursor()]
    databases = [None]
    for name in names:
        try:
            databases.append(env.open_db(name, txn=txn, create=False))
        except lmdb.Error:
            pass  # a key of the unnamed database that is not a database's name
    for database in databases:
        for key, value in txn.cursor(db=database):
            hasher = hashlib.sha256(key)
            hasher.update(value)
            hasher.digest()
            rows += 1
print(rows)
EOF
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: >"$work/audit.s"
: >"$work/pylmdb.s"
for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e" -o "$work/one.s" "$linli" audit verify --store "$work/store" >/dev/null
    cat "$work/one.s" >>"$work/audit.s"
    /usr/bin/time -f "%e" -o "$work/one.s" python3 "$work/read-all.py" "$work/store" >"$work/rows"
    cat "$work/one.s" >>"$work/pylmdb.s"
done
audit=$(median <"$work/audit.s")
pylmdb=$(median <"$work/pylmdb.s")
echo "store: $commands ledger commands, $(cat "$work/rows") rows read by py-lmdb"
echo "linli audit verify: $audit s (runs: $(tr '\n' ' ' <"$work/audit.s"))"
echo "py-lmdb read of every row with SHA-256: $pylmdb s (runs: $(tr '\n' ' ' <"$work/pylmdb.s"))"
echo "ratio (py-lmdb time / audit time; goal >= 1): $(python3 -c "print(round($pylmdb / $audit, 2))")"
