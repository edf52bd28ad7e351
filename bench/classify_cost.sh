#!/usr/bin/env bash
# What classification costs the one-core Tstat pipeline: compositions/tstat.xml with METER=direct,
# CLASSIFY=true against CLASSIFY=false, runs interleaved, median wall and CPU (user + system)
# times and their ratios (CPU time is the steadier of the two when other jobs share the cores); with
# CACHEGRIND=1 also the instruction counts of one run of each (valgrind, deterministic, so they
# compare across a noisy shared machine where wall times do not).
#   bench/classify_cost.sh TRACE [RUNS] [ENGINE ...]
# ENGINE defaults to build/engine/cli/engine; several binaries (e.g. before and after a change)
# are interleaved in the same loop. COMPOSITION overrides compositions/tstat.xml (for an old
# binary with its own).
set -euo pipefail
cd "$(dirname "$0")/.."
trace=${1:?usage: bench/classify_cost.sh TRACE [RUNS] [ENGINE ...]}
runs=${2:-5}
shift $(($# < 2 ? $# : 2))
engines=("$@")
[ ${#engines[@]} -eq 0 ] && engines=(build/engine/cli/engine)
composition=${COMPOSITION:-compositions/tstat.xml}
work=$(mktemp -d /tmp/weir-classify-cost.XXXXXX)
trap 'rm -rf "$work"' EXIT

run() {  # engine classify -> "wall cpu" seconds
  rm -rf "$work/logs" && mkdir -p "$work/logs"
  /usr/bin/time -f "%e %U %S" -o "$work/time" \
    "$1" -q --no-summary "$composition" -D TRACE="$trace" -D LOGDIR="$work/logs" -D METER=direct -D CLASSIFY="$2"
  awk '{printf "%s %.3f\n", $1, $2 + $3}' "$work/time"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A wall cpu
for ((r = 1; r <= runs; r++)); do
  for e in "${!engines[@]}"; do
    for c in true false; do
      read -r w u < <(run "${engines[$e]}" $c)
      wall[$e,$c]+="$w "
      cpu[$e,$c]+="$u "
    done
  done
done
echo "trace $trace, $composition, $runs interleaved runs each; median seconds"
printf "%-40s %9s %9s %8s %9s %9s %8s\n" engine "wall cls" "without" "ratio" "cpu cls" "without" "ratio"
for e in "${!engines[@]}"; do
  wt=$(echo "${wall[$e,true]}" | median)
  wf=$(echo "${wall[$e,false]}" | median)
  ct=$(echo "${cpu[$e,true]}" | median)
  cf=$(echo "${cpu[$e,false]}" | median)
  printf "%-40s %9.3f %9.3f %8.3f %9.3f %9.3f %8.3f\n" "${engines[$e]}" "$wt" "$wf" "$(echo "$wt / $wf" | bc -l)" \
    "$ct" "$cf" "$(echo "$ct / $cf" | bc -l)"
done

if [ "${CACHEGRIND:-0}" = 1 ]; then
  echo "instructions (valgrind --tool=cachegrind --cache-sim=no, one run each)"
  printf "%-40s %15s %15s %8s\n" engine "classify" "without" "ratio"
  for e in "${!engines[@]}"; do
    declare -A ir=()
    for c in true false; do
      rm -rf "$work/logs" && mkdir -p "$work/logs"
      ir[$c]=$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "${engines[$e]}" -q \
                 --no-summary "$composition" -D TRACE="$trace" -D LOGDIR="$work/logs" -D METER=direct \
                 -D CLASSIFY=$c 2>&1 | awk '/I[ ]+refs:/ {gsub(/,/, "", $NF); print $NF}')
    done
    printf "%-40s %15s %15s %8.3f\n" "${engines[$e]}" "${ir[true]}" "${ir[false]}" "$(echo "${ir[true]} / ${ir[false]}" | bc -l)"
  done
fi
