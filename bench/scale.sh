#!/usr/bin/env bash
# Memory of N open flows in one FlowMeter: peak resident memory of the engine with the meter,
# minus the same run without it, divided by N.
#   bench/scale.sh [FLOWS (10000000)] [EXTENDED (false|true)]
# Writes /tmp/weir-open-FLOWS.pcap once (weir_open_flows: 4 packets per connection, none closed).
set -euo pipefail
cd "$(dirname "$0")/.."
flows=${1:-10000000}
extended=${2:-false}
trace=/tmp/weir-open-$flows.pcap
engine=build/engine/cli/engine
[ -s "$trace" ] || build/bench/weir_open_flows --out "$trace" --flows "$flows" >&2
work=$(mktemp -d /tmp/weir-scale.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Baseline: the same reader and engine, packets to Null.
/usr/bin/time -f %M -o "$work/base.kb" "$engine" -q --no-summary bench/compositions/nodemux.xml \
  -D TRACE="$trace" -D READER=libpcap >/dev/null
start=$(date +%s.%N)
/usr/bin/time -f %M -o "$work/meter.kb" "$engine" -q --no-summary --stats "$work/stats.json" \
  bench/compositions/scale.xml -D TRACE="$trace" -D FLOWS="$flows" -D EXTENDED="$extended" >/dev/null
end=$(date +%s.%N)
base=$(tail -1 "$work/base.kb")
meter=$(tail -1 "$work/meter.kb")
python3 - "$work/stats.json" "$flows" "$base" "$meter" "$extended" "$(echo "$end - $start" | bc)" <<'PY'
import json, sys
stats, flows, base, meter, ext, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
v = json.load(open(stats))["blocks"]["meter"]["variables"]
delta = (meter - base) * 1024
print(f"flows {flows}, stats.extended={ext}: created {v['flows_created']}, evictions {v['evictions']}, "
      f"ended at flush {v['flows_ended']}")
print(f"peak RSS {meter/1024/1024:.2f} GiB (baseline without meter {base/1024:.0f} MiB): "
      f"meter {delta/2**30:.2f} GiB = {delta/flows:.0f} bytes/flow; bytes_per_flow variable {v['bytes_per_flow']}; "
      f"run {secs:.1f} s")
PY
