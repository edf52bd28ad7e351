#!/usr/bin/env bash
# The full flow pipeline against the Debian peers, on the same capture, interleaved, medians.
#   bench/peers.sh TRACE [RUNS]
# Needs: build/ (release), tcpdump, nfdump (nfpcapd), softflowd, tcptrace, libndpi-bin (ndpiReader).
# softflowd exports NetFlow to 127.0.0.1:9995 (loopback; nobody needs to listen).
set -euo pipefail
cd "$(dirname "$0")/.."
trace=${1:?usage: bench/peers.sh TRACE [RUNS]}
runs=${2:-3}
work=$(mktemp -d /tmp/weir-peers.XXXXXX)
trap 'rm -rf "$work"' EXIT
engine=build/engine/cli/engine

packets=$(capinfos -c -M "$trace" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
declare -A cmds=(
  [weir_tstat_1core]="$engine -q --no-summary compositions/tstat.xml -D TRACE=$trace -D LOGDIR=$work/weir -D METER=direct"
  [weir_tstat_2cores]="$engine -q --no-summary compositions/tstat.xml -D TRACE=$trace -D LOGDIR=$work/weir"
  [weir_count]="$engine -q --no-summary compositions/count.xml -D TRACE=$trace"
  [tcpdump_floor]="tcpdump -n -r $trace -w /dev/null"
  [nfpcapd]="nfpcapd -r $trace -w $work/nf -B 2000000"
  [softflowd]="softflowd -d -r $trace -n 127.0.0.1:9995 -v 9 -m 4000000"
  [tcptrace]="tcptrace -n -l $trace"
  [ndpiReader]="ndpiReader -i $trace -q -C $work/ndpi.csv"
)
order=(weir_count tcpdump_floor weir_tstat_1core weir_tstat_2cores nfpcapd softflowd tcptrace ndpiReader)
declare -A times
for ((r = 1; r <= runs; r++)); do
  for name in "${order[@]}"; do
    mkdir -p "$work/nf" "$work/weir"
    start=$(date +%s.%N)
    bash -c "${cmds[$name]}" >/dev/null 2>&1 || { echo "$name failed: ${cmds[$name]}" >&2; exit 1; }
    end=$(date +%s.%N)
    times[$name]+="$(echo "$end - $start" | bc) "
    rm -rf "$work/nf" "$work/weir"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "trace $trace: $packets packets, $runs runs each, interleaved; median wall seconds"
printf "%-22s %10s %10s %12s\n" tool "wall s" Mpps "x tstat_1core"
ref=$(echo "${times[weir_tstat_1core]}" | median)
for name in "${order[@]}"; do
  m=$(echo "${times[$name]}" | median)
  printf "%-22s %10.3f %10.2f %12.2f\n" "$name" "$m" "$(echo "$packets / $m / 1000000" | bc -l)" "$(echo "$m / $ref" | bc -l)"
done
