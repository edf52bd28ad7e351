#!/usr/bin/env bash
# Fan-out cost and multi-core scaling of the flow pipeline, on one capture, interleaved runs,
# medians of wall time (process start included).
#   bench/scaling.sh TRACE [RUNS (5)]
set -euo pipefail
cd "$(dirname "$0")/.."
trace=${1:?usage: bench/scaling.sh TRACE [RUNS]}
runs=${2:-5}
engine="build/engine/cli/engine -q --no-summary"
work=$(mktemp -d /tmp/weir-scaling.XXXXXX)
trap 'rm -rf "$work"' EXIT
packets=$(capinfos -c -M "$trace" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
declare -A cmds=(
  [read_null]="$engine bench/compositions/nodemux.xml -D TRACE=$trace"
  [demux_rss]="$engine bench/compositions/demux.xml -D TRACE=$trace -D HASH=rss"
  [demux_weir]="$engine bench/compositions/demux.xml -D TRACE=$trace -D HASH=weir"
  [tstat_1core]="$engine compositions/tstat.xml -D TRACE=$trace -D LOGDIR=$work/l -D METER=direct"
  [tstat_2threads]="$engine compositions/tstat.xml -D TRACE=$trace -D LOGDIR=$work/l"
  [replicas_2]="$engine compositions/tstat-replicas.xml -D TRACE=$trace -D LOGDIR=$work/l -D REPLICAS=2 -D REPLICA_CORES=0-1"
)
order=(read_null demux_rss demux_weir tstat_1core tstat_2threads replicas_2)
declare -A times
for ((r = 1; r <= runs; r++)); do
  for name in "${order[@]}"; do
    start=$(date +%s.%N)
    ${cmds[$name]} >/dev/null 2>&1 || { echo "$name failed: ${cmds[$name]}" >&2; exit 1; }
    end=$(date +%s.%N)
    times[$name]+="$(echo "$end - $start" | bc) "
    rm -rf "$work/l"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "trace $trace: $packets packets, $runs interleaved runs, median wall seconds"
printf "%-16s %9s %8s\n" run "wall s" Mpps
for name in "${order[@]}"; do
  m=$(echo "${times[$name]}" | median)
  printf "%-16s %9.3f %8.2f\n" "$name" "$m" "$(echo "$packets / $m / 1000000" | bc -l)"
done
base=$(echo "${times[read_null]}" | median)
for name in demux_rss demux_weir; do
  m=$(echo "${times[$name]}" | median)
  printf "%s: %.1f ns per packet over reading alone\n" "$name" "$(echo "($m - $base) * 1000000000 / $packets" | bc -l)"
done
one=$(echo "${times[tstat_1core]}" | median)
for name in tstat_2threads replicas_2; do
  m=$(echo "${times[$name]}" | median)
  printf "%s: %.2fx the one-core pipeline\n" "$name" "$(echo "$one / $m" | bc -l)"
done
