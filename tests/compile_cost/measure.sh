#!/usr/bin/env bash
# Compile cost of a minimal database program against the baseline of its dependencies (fmt and
# Abseil alone), as g++ -O2 compiles them here: the median of 5 compilations each, in seconds,
# and the ratio. The compiler is the only thing measured (-c, no link).
#   bash tests/compile_cost/measure.sh [CXX]     (default g++)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cxx="${1:-g++}"
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
measure() {
  for _ in 1 2 3 4 5; do
    local t0 t1
    t0=$(date +%s.%N)
    "$cxx" -std=c++20 -O2 -I"$root/include" -c "$here/$1" -o /dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b - a}'
  done | median
}
base=$(measure baseline.cc)
minimal=$(measure minimal_database.cc)
awk -v b="$base" -v m="$minimal" \
  'BEGIN {printf "RESULT compile_cost baseline_s=%s minimal_database_s=%s ratio=%.2f\n", b, m, m / b}' 
