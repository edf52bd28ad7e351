#!/usr/bin/env python3
"""Request rate of the mPlane bridge: N back-to-back `now` specifications for
weir-counter-pktcnt over one keep-alive connection (plain HTTP, or TLS with a client certificate).

  build/engine/cli/engine compositions/mplane.xml -D MPLANE_PLAIN=1 -q &     # plain
  bench/mplane_load.py --port 8888 --count 2000
  scripts/make-mplane-certs.sh /tmp/pki
  build/engine/cli/engine compositions/mplane.xml -D PKI=/tmp/pki -q &        # TLS
  bench/mplane_load.py --port 8888 --count 2000 --pki /tmp/pki
Prints requests per second and ms per request; every answer must be a result (exit 1 otherwise).
Standard library only."""
import argparse
import http.client
import json
import ssl
import sys
import time

TYPE = "application/x-mplane+json"
REGISTRY = "http://weir.invalid/mplane/registry/weir"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8888)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--pki", help="folder from scripts/make-mplane-certs.sh: TLS with client-1's certificate")
    a = ap.parse_args()
    if a.pki:
        ctx = ssl.create_default_context(cafile=f"{a.pki}/ca.pem")
        ctx.check_hostname = False
        ctx.load_cert_chain(f"{a.pki}/client-1.pem", f"{a.pki}/client-1.key")
        conn = http.client.HTTPSConnection(a.host, a.port, context=ctx)
    else:
        conn = http.client.HTTPConnection(a.host, a.port)
    conn.connect()
    conn.sock.setsockopt(__import__("socket").IPPROTO_TCP, __import__("socket").TCP_NODELAY, 1)
    body = json.dumps({"specification": "measure", "version": 1, "registry": REGISTRY,
                       "label": "weir-counter-pktcnt", "when": "now",
                       "parameters": {"weir.block": "counter", "weir.variable": "pktcnt"},
                       "results": ["start", "end", "weir.count"]})
    t0 = time.perf_counter()
    for i in range(a.count):
        conn.request("POST", "/", body, {"Content-Type": TYPE})
        r = conn.getresponse()
        answer = json.loads(r.read())
        if r.status != 200 or "result" not in answer:
            print(f"request {i}: HTTP {r.status}: {answer}", file=sys.stderr)
            return 1
    dt = time.perf_counter() - t0
    print(f"{a.count} specifications in {dt:.2f} s: {a.count / dt:.0f} per second, {dt / a.count * 1e3:.2f} ms each"
          f" ({'TLS' if a.pki else 'plain HTTP'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
