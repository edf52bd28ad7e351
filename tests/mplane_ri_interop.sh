#!/usr/bin/env bash
# Drives compositions/mplane.xml with the mPlane reference implementation's client shell (mpcli,
# fp7mplane/protocol-ri), over plain HTTP and over TLS with client certificates, and checks that
# the figures the RI client reads equal the engine's --stats for the same run (docs/mplane.md,
# "Interoperability with the reference implementation").
#   MPLANE_RI=/path/to/protocol-ri tests/mplane_ri_interop.sh [ENGINE]
# Needs a local copy of the RI (it is not fetched) and a Python 3 that imports tornado and
# urllib3 1.x (Debian: python3-tornado python3-urllib3; PYTHON, default /usr/bin/python3).
# Exit 77 (skipped) when either is missing. Not registered in meson: CI has no RI copy.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
engine=${1:-$here/build/engine/cli/engine}
python=${PYTHON:-/usr/bin/python3}
ri=${MPLANE_RI:-}

if [[ -z "$ri" || ! -f "$ri/scripts/mpcli" || ! -f "$ri/mplane/client.py" ]]; then
  echo "mplane_ri_interop: MPLANE_RI does not point at a copy of fp7mplane/protocol-ri; skipped" >&2
  exit 77
fi
if ! "$python" -c 'import tornado, urllib3; assert urllib3.__version__.startswith("1.")' 2>/dev/null; then
  echo "mplane_ri_interop: $python lacks tornado or urllib3 1.x (the RI needs both); skipped" >&2
  exit 77
fi
[[ -x "$engine" ]] || { echo "mplane_ri_interop: no engine at $engine" >&2; exit 1; }

work=$(mktemp -d /tmp/mplane-ri-interop.XXXXXX)
engine_pid=
cleanup() {
  if [[ -n "$engine_pid" ]] && kill -0 "$engine_pid" 2>/dev/null; then kill "$engine_pid"; wait "$engine_pid" || true; fi
  [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT
"$here/scripts/make-mplane-certs.sh" "$work/pki" 2>/dev/null
pcap=$here/tests/pcaps/443-firefox.pcap

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run MODE: plain | tls
run() {
  local mode=$1 port scheme defs=() curl_tls=()
  port=$(free_port)
  if [[ $mode == plain ]]; then
    scheme=http; defs=(-D MPLANE_PLAIN=1)
    printf '[client]\n' > "$work/$mode.conf"
  else
    scheme=https; defs=(-D "PKI=$work/pki")
    curl_tls=(--cacert "$work/pki/ca.pem" --cert "$work/pki/client-1.pem" --key "$work/pki/client-1.key")
    printf '[TLS]\ncert = %s\nkey = %s\nca-chain = %s\n\n[client]\n' "$work/pki/client-1.pem" \
      "$work/pki/client-1.key" "$work/pki/ca.pem" > "$work/$mode.conf"
  fi
  printf 'registry_preload = %s\nworkflow = client-initiated\ncapability-url = %s://127.0.0.1:%s/capability\n' \
    "$here/mplane-bridge/registry/weir.json" "$scheme" "$port" >> "$work/$mode.conf"

  "$engine" "$here/compositions/mplane.xml" -q "${defs[@]}" -D "MPLANE_PORT=$port" -D "TRACE=$pcap" \
    -D "LOGDIR=$work/logs-$mode" --stats "$work/$mode-stats.json" > "$work/$mode-engine.out" 2>&1 &
  engine_pid=$!
  # Wait until the bridge serves and the capture has been read to its end.
  local progress=""
  for _ in $(seq 100); do
    progress=$(curl -s "${curl_tls[@]}" "$scheme://127.0.0.1:$port/capability" >/dev/null 2>&1 &&
      curl -s "${curl_tls[@]}" -H 'Content-Type: application/x-mplane+json' -d \
        '{"specification":"measure","version":1,"registry":"http://weir.invalid/mplane/registry/weir","label":"p","when":"now","parameters":{"weir.block":"src","weir.variable":"progress"},"results":["time","weir.value.real"]}' \
        "$scheme://127.0.0.1:$port/" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["resultvalues"][0][1])' 2>/dev/null) || true
    [[ "$progress" == 1* ]] && break
    sleep 0.1
  done
  [[ "$progress" == 1* ]] || { echo "mplane_ri_interop[$mode]: the engine did not come up" >&2; cat "$work/$mode-engine.out" >&2; return 1; }

  # The RI client shell, as a person would type it (relabelled specifications for readability).
  {
    printf 'tbenable\nlistcap\nwhen now\n'
    printf 'runcap weir-counter-pktcnt pktcnt\nruncap weir-counter-bytecnt bytecnt\n'
    printf 'runcap weir-src-packets src-packets\nruncap weir-meter-packets meter-packets\n'
    printf 'runcap weir-meter-flows_created flows_created\nruncap weir-logs-tcp_complete tcp_complete\n'
    printf 'when now + 3s / 1s\nruncap weir-counter-pktcnt-periodic periodic\n'
    printf 'when now ... future / 1s\nruncap weir-meter-packets-periodic open\nlistmeas\n'
    sleep 4.5
    printf 'stopmeas open\nlistmeas\n'
    for l in pktcnt bytecnt src-packets meter-packets flows_created tcp_complete periodic open; do
      printf 'showmeas %s\n' "$l"
    done
    printf 'when now\nruncap weir-stop stop\nshowmeas stop\n'
  } | (cd "$ri" && PYTHONPATH="$ri" timeout 60 "$python" scripts/mpcli --config "$work/$mode.conf") \
    > "$work/$mode-transcript.txt" 2>&1 || true
  local rc=0
  wait "$engine_pid" || rc=$?
  engine_pid=
  [[ $rc -eq 0 ]] || { echo "mplane_ri_interop[$mode]: engine exit $rc" >&2; cat "$work/$mode-engine.out" >&2; return 1; }

  "$python" - "$work/$mode-transcript.txt" "$work/$mode-stats.json" "$mode" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
stats = json.load(open(sys.argv[2]))["blocks"]
mode = sys.argv[3]
fail = []
if "An exception occurred" in text:
    fail.append("the RI client raised an exception")
# Each "result: measure" block of showmeas: its label and its rows' values.
results = {}
for block in re.split(r"\|mplane\| (?=result: measure)", text)[1:]:
    label = re.search(r"label\s+: (\S+)", block).group(1)
    rows = re.findall(r"(weir\.count|weir\.value\.natural|time): (.+)", block)
    results[label] = [v for k, v in rows if k != "time"]
want = {"pktcnt": ("counter", "pktcnt"), "bytecnt": ("counter", "bytecnt"),
        "src-packets": ("src", "packets"), "meter-packets": ("meter", "packets"),
        "flows_created": ("meter", "flows_created"), "tcp_complete": ("logs", "tcp_complete")}
for label, (blk, var) in want.items():
    got = results.get(label)
    expect = stats[blk]["variables"][var]
    if not got or int(got[0]) != expect:
        fail.append(f"{label}: RI read {got}, --stats {blk}.{var} = {expect}")
    else:
        print(f"mplane_ri_interop[{mode}]: {label:14} RI {got[0]:>7}  --stats {blk}.{var} = {expect}")
periodic = results.get("periodic", [])
if len(periodic) != 3 or any(int(v) != 0 for v in periodic):
    fail.append(f"periodic: want 3 rows of 0 (capture over), got {periodic}")
opened = results.get("open", [])
if len(opened) < 3:
    fail.append(f"open (interrupted after ~4.5 s): want at least 3 rows, got {opened}")
if "stop" not in results:
    fail.append("weir-stop: no result")
if fail:
    print(f"mplane_ri_interop[{mode}]: FAILED\n  " + "\n  ".join(fail), file=sys.stderr)
    sys.exit(1)
print(f"mplane_ri_interop[{mode}]: periodic 3 rows, interrupted {len(opened)} rows, weir-stop answered")
EOF
}

run plain
run tls
echo "mplane_ri_interop: the RI client shell agrees with --stats over HTTP and HTTPS"
