#!/usr/bin/env python3
"""Packet-path throughput of compositions/mplane.xml while its mPlane bridge is hammered.

    bench/mplane_storm.py TRACE [RUNS] [CLIENTS] [RATE] [ENGINE]

Runs the composition over TRACE (plain HTTP on loopback, MPLANE_HOLD=0 so it ends with the
trace) in three modes, alternating, RUNS times each (default 5), and prints per run and the
medians of packets per second (packets / wall time of the engine process):
  idle       no requests;
  storm      CLIENTS client processes (default 3) send `now` specifications for
             weir-counter-pktcnt on one keep-alive connection each, back to back or at RATE
             requests per second per client (default 0 = back to back), to the measured engine;
  elsewhere  the same clients hammer a second engine (the same composition, held open on
             tests/pcaps/dns.pcap) while the measured one runs alone: the same CPU spent on
             requests, nothing shared but the CPUs (the control for CPU contention).
Ports 18997/18998 on 127.0.0.1. `bench/mplane_storm.py --client PORT RATE` is one client.
"""
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT, OTHER_PORT = 18997, 18998


def client(port, rate):
    """Connects as soon as the port listens, then asks until the server goes away."""
    body = json.dumps({"specification": "measure", "version": 1,
                       "registry": "http://weir.invalid/mplane/registry/weir",
                       "label": "weir-counter-pktcnt", "when": "now",
                       "parameters": {"weir.block": "counter", "weir.variable": "pktcnt"},
                       "results": ["start", "end", "weir.count"]})
    deadline = time.time() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.connect()
            break
        except OSError:
            if time.time() > deadline:
                sys.exit(1)
            time.sleep(0.0005)
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n = ok = 0
    t0 = time.perf_counter()
    try:
        while True:
            if rate > 0:
                delay = t0 + n / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            conn.request("POST", "/", body, {"Content-Type": "application/x-mplane+json"})
            r = conn.getresponse()
            r.read()
            n += 1
            ok += r.status == 200
    except (OSError, http.client.HTTPException):
        pass
    print(n, ok)


def engine_cmd(engine, trace, port, logdir, stats, hold):
    return [engine, "-q", "--no-summary", str(ROOT / "compositions/mplane.xml"), "-D", f"TRACE={trace}",
            "-D", "MPLANE_PLAIN=1", "-D", f"MPLANE_PORT={port}", "-D", f"LOGDIR={logdir}",
            "-D", f"MPLANE_HOLD={hold}", "--stats", stats]


def main():
    if sys.argv[1:2] == ["--client"]:
        client(int(sys.argv[2]), float(sys.argv[3]))
        return
    trace = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    clients = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    rate = sys.argv[4] if len(sys.argv) > 4 else "0"
    engine = sys.argv[5] if len(sys.argv) > 5 else str(ROOT / "build/engine/cli/engine")
    work = Path(tempfile.mkdtemp(prefix="weir-storm-"))
    res = {"idle": [], "storm": [], "elsewhere": []}
    served = {"storm": [], "elsewhere": []}
    for i in range(runs):
        for mode in ("idle", "storm", "elsewhere"):
            other = None
            if mode == "elsewhere":
                other = subprocess.Popen(engine_cmd(engine, ROOT / "tests/pcaps/dns.pcap", OTHER_PORT,
                                                    work / "other-logs", str(work / "other.json"), 1))
                time.sleep(0.5)
            target = OTHER_PORT if mode == "elsewhere" else PORT
            storm = [subprocess.Popen([sys.executable, __file__, "--client", str(target), rate],
                                      stdout=subprocess.PIPE, text=True)
                     for _ in range(clients if mode != "idle" else 0)]
            if mode == "elsewhere":
                time.sleep(0.3)  # the storm is on before the measured engine starts
            subprocess.run(["rm", "-rf", str(work / "logs")], check=True)
            t0 = time.perf_counter()
            proc = subprocess.Popen(engine_cmd(engine, trace, PORT, work / "logs", str(work / "s.json"), 0))
            _, status, usage = os.wait4(proc.pid, 0)
            dt = time.perf_counter() - t0
            if status != 0:
                sys.exit(f"engine exited with status {status}")
            cpu = usage.ru_utime + usage.ru_stime
            stats = json.load(open(work / "s.json"))
            requests = stats["blocks"]["mplane"]["variables"]["requests"]
            if other:
                other.send_signal(signal.SIGINT)
                other.wait()
                requests = json.load(open(work / "other.json"))["blocks"]["mplane"]["variables"]["requests"]
            for p in storm:
                p.communicate()
            packets = stats["blocks"]["counter"]["variables"]["pktcnt"]
            if packets != stats["blocks"]["meter"]["variables"]["packets"]:
                sys.exit("the meter missed packets")
            res[mode].append(packets / dt)
            if mode != "idle":
                served[mode].append(requests)
            print(f"run {i} {mode:9}: {packets} packets in {dt:.3f} s = {packets / dt / 1e6:.3f} Mpps; "
                  f"engine CPU {cpu:.2f} s; requests answered {requests}", flush=True)
    idle = statistics.median(res["idle"])
    for mode in ("idle", "storm", "elsewhere"):
        m = statistics.median(res[mode])
        extra = f", requests answered median {statistics.median(served[mode]):.0f}" if mode != "idle" else ""
        print(f"median {mode:9} {m / 1e6:.3f} Mpps ({m / idle:.3f} of idle){extra}")
    subprocess.run(["rm", "-rf", str(work)], check=True)


if __name__ == "__main__":
    main()
