#!/bin/bash
# The formatter's paths in one place (issue 19 item 6): `Scripts/format.sh` formats every Swift file in
# place with the toolchain's swift-format and .swift-format; `Scripts/format.sh --lint` fails on any file
# it would change (what .ci/run checks).
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Package.swift Sources Tests Benchmarks/Package.swift Benchmarks/Sources Benchmarks/Benchmarks Fuzz/Package.swift Fuzz/Sources)
if [ "${1:-}" = "--lint" ]; then
    swift format lint --strict --recursive "${paths[@]}"
else
    swift format format --in-place --recursive "${paths[@]}"
fi
