#!/usr/bin/env bash
# Measures `nslab test -j 1` against `-j 2` on 20 scenarios (copies of tests/scenarios and the
# walkthrough), three runs each, and prints the wall times and the ratio of the medians.
# Usage: benches/test-jobs.sh [path/to/nslab]   (default: target/release/nslab)
set -euo pipefail
cd "$(dirname "$0")/.."
nslab=${1:-target/release/nslab}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
files=(tests/scenarios/*.rhai scripts/walkthrough.rhai)
for i in $(seq 0 19); do
    f=${files[$((i % ${#files[@]}))]}
    cp "$f" "$dir/$(printf %02d "$i")_$(basename "$f")"
done
declare -A median
for j in 1 2; do
    runs=()
    for _ in 1 2 3; do
        start=$(date +%s%N)
        "$nslab" test -j "$j" "$dir" >/dev/null
        runs+=($(( ($(date +%s%N) - start) / 1000000 )))
    done
    median[$j]=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
    echo "-j $j: ${runs[*]} ms (median ${median[$j]} ms)"
done
awk -v a="${median[2]}" -v b="${median[1]}" 'BEGIN { printf "ratio -j 2 / -j 1: %.2f\n", a / b }'
