#!/usr/bin/env bash
# Compile cost of a minimal database program against the baseline of its dependencies (fmt and
# Abseil alone), as g++ -O2 compiles them here: the compiler's CPU time (user + system, steadier
# than wall time on a shared machine), 7 compilations of each, interleaved so that drift in the
# machine's speed hits both alike; prints the medians, their ratio and each side's spread. The
# compiler is the only thing measured (-c, no link).
#   bash tests/compile_cost/measure.sh [CXX]     (default g++)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cxx="${1:-g++}"
runs=7
cpu_seconds() {  # bash's time: the compiler's user and system seconds
  local TIMEFORMAT='%U %S'
  { time "$cxx" -std=c++20 -O2 -I"$root/include" -c "$here/$1" -o /dev/null; } 2>&1 |
    awk '{printf "%.2f\n", $1 + $2}'
}
base=() minimal=()
for _ in $(seq "$runs"); do
  base+=("$(cpu_seconds baseline.cc)")
  minimal+=("$(cpu_seconds minimal_database.cc)")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)], a[1], a[NR]}'; }
read -r bm blo bhi <<< "$(stats "${base[@]}")"
read -r mm mlo mhi <<< "$(stats "${minimal[@]}")"
awk -v b="$bm" -v m="$mm" -v bl="$blo" -v bh="$bhi" -v ml="$mlo" -v mh="$mhi" 'BEGIN {
  printf "RESULT compile_cost baseline_s=%s minimal_database_s=%s ratio=%.2f", b, m, m / b
  printf " baseline_range=%s-%s minimal_range=%s-%s\n", bl, bh, ml, mh }'
