#!/bin/bash
# The libFuzzer harnesses of Fuzz/ (issue 18): builds them with the fuzzer and address sanitizers and
# runs each over its seed corpus (Fuzz/Corpus/TARGET) for a bounded, seeded number of inputs.
#
#   Scripts/fuzz.sh                 # 2,000 inputs each, seed 1: what .ci/run does (about a minute with the build)
#   Scripts/fuzz.sh 1000000 7       # a long run with another seed
#   Scripts/fuzz.sh 0 1 fuzz-json   # one target; 0 runs replays the corpus only
#
# New inputs that reach new code go to a scratch folder, not into the committed corpus; a crash, a
# timeout or running out of memory keeps its input in Fuzz/failures/TARGET (not committed) and exits 1
# — make it a regression test (Tests/LinliTests), then add it to the corpus.
set -euo pipefail
runs=${1:-2000}
seed=${2:-1}
only=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
swift build -c debug --package-path "$root/Fuzz" -Xswiftc -sanitize=fuzzer,address >&2
bin=$(swift build -c debug --package-path "$root/Fuzz" -Xswiftc -sanitize=fuzzer,address --show-bin-path)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for target in fuzz-json fuzz-cbor fuzz-record fuzz-apply; do
    [ -z "$only" ] || [ "$only" = "$target" ] || continue
    corpus="$root/Fuzz/Corpus/${target#fuzz-}"
    # Each target's failing inputs (crash-, timeout-, oom-, leak-) go to a folder of its own, so that
    # one target's never overwrite or mix with another's.
    artifacts="$scratch/$target-artifacts"
    mkdir -p "$scratch/$target" "$artifacts"
    # Swift's spare-bit pointers read as unreachable to LeakSanitizer (the engine's tables, made once, are
    # reported as leaks): leak detection is off; the address sanitizer's other checks stay on.
    if ! ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no "$bin/$target" -runs="$runs" -seed="$seed" -max_len=4096 -detect_leaks=0 -artifact_prefix="$artifacts/" \
            "$scratch/$target" "$corpus" > "$scratch/$target.log" 2>&1; then
        tail -40 "$scratch/$target.log" >&2
        kept="$root/Fuzz/failures/$target"
        mkdir -p "$kept"
        cp "$artifacts"/* "$kept"/ 2>/dev/null || true
        echo "$target: failed; its inputs are kept in $kept: $(ls "$artifacts" | tr '\n' ' ')(see above)" >&2
        status=1
        continue
    fi
    echo "$target: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$scratch/$target.log" | tail -1)s, $(ls "$corpus" | wc -l) seeds, no crash"
done
exit $status
