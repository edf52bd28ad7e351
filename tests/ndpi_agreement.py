#!/usr/bin/env python3
"""Agreement of our flow labels with nDPI's (ndpiReader, Debian libndpi-bin) on tests/pcaps.

For every capture, runs the engine (compositions/flows-json.xml: one JSON object per finished
flow) and `ndpiReader -v 2` (one line per flow), joins the flows by the bidirectional 5-tuple,
maps nDPI's protocol to our App labels (NDPI_TO_OURS below) and sorts every flow into
agree / disagree / only-ours / only-nDPI. Prints a markdown table per capture and in total, then
every flow that is not an agreement with the explanation that covers it.

Every non-agreement must be explained by an entry of tests/ndpi_agreement_known.json; an
unexplained one, an explanation that matches nothing (stale), an nDPI protocol missing from the
mapping or an engine crash makes the exit status 1. Exit 77 (meson's skip) when ndpiReader is not
installed.

Usage: ndpi_agreement.py --engine build/engine/cli/engine --source-root . [--verbose]
"""

import argparse
import fnmatch
import glob
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# nDPI protocol name (the master protocol of "MASTER.APP", or the only name) -> the set of our
# App labels (blocks/classify/classifier.cpp, to_string(App)) that mean the same thing.
# An nDPI name missing here fails the run: every name must be mapped on purpose.
NDPI_TO_OURS = {
    "Unknown": {"unknown"},
    "HTTP": {"http"},
    "HTTP_Proxy": {"http"},          # HTTP on a proxy port (8080, 3128): still HTTP for us
    "HTTP_Connect": {"http"},
    "TLS": {"tls"},
    "DNS": {"dns"},
    "MDNS": {"dns"},                 # we parse DNS on 5353 too
    "LLMNR": {"dns"},                # and on 5355
    "QUIC": {"quic"},                # IETF QUIC and gQUIC alike
    "SSH": {"ssh"},
    "SMTP": {"smtp"},
    "SMTPS": {"tls"},                # implicit TLS (465); STARTTLS keeps our smtp label
    "POP3": {"pop3"},
    "POPS": {"tls"},                 # 995
    "IMAP": {"imap"},
    "IMAPS": {"tls"},                # 993; see the known file for IMAP + STARTTLS
    "BitTorrent": {"bittorrent", "utp", "bt-dht"},  # nDPI has one label for the family
    "STUN": {"stun"},
    "RTP": {"rtp"},
    "RTCP": {"rtcp"},
    "SIP": {"sip"},
    "DTLS": {"dtls"},
    "SSDP": {"ssdp"},
    "eDonkey": {"edonkey"},
    "RTSP": {"rtsp"},
    "RTMP": {"rtmp"},
    "XMPP": {"xmpp"},
    "Teredo": {"teredo"},
    # Protocols we do not recognise (docs/classification.md, "Missing"): unknown for us.
    "Skype": {"unknown"},
    "Skype_Teams": {"unknown"},
    "SkypeCall": {"unknown"},
    # Services, not protocols: nDPI names them from its IP lists ("Match by IP") with no
    # protocol underneath. They say nothing about the application protocol, so they agree only
    # with our unknown; any other label of ours is a disagreement to be explained.
    "Google": {"unknown"},
    "Azure": {"unknown"},
    "AmazonAWS": {"unknown"},
    "NetFlix": {"unknown"},
    "Facebook": {"unknown"},
}

NDPI_FLOW_RE = re.compile(
    r"^\t\d+\t(?P<l4>\S+) (?P<a>\S+) (?:<->|->) (?P<b>\S+) "
    r"(?:\[VLAN: \d+\])?\[proto: (?P<num>[\d.]+)/(?P<name>[^\]]+)\].*?\[Confidence: (?P<conf>[^\]]+)\]")


def canon_ip(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text  # nDPI prints malformed addresses of fuzzed packets as they are


def split_endpoint(text):
    """'1.2.3.4:80' or '[2001:db8::1]:80' -> (ip, port)."""
    if text.startswith("["):
        ip, _, port = text[1:].rpartition("]:")
    else:
        ip, _, port = text.rpartition(":")
    return canon_ip(ip), int(port)


def flow_key(l4, a, b):
    return (l4.lower(),) + tuple(sorted([a, b]))


def render(l4, a, b):
    return f"{l4} {a[0]}:{a[1]} <-> {b[0]}:{b[1]}"


def run_ndpi(ndpi, capture):
    """Flows of one capture: key -> dict(name, master, conf, a, b)."""
    out = subprocess.run([ndpi, "-i", capture, "-v", "2"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, errors="replace", check=False)
    if out.returncode != 0:
        raise RuntimeError(f"ndpiReader failed on {capture} (status {out.returncode}):\n"
                           f"{out.stdout[-2000:]}")
    flows = {}
    for line in out.stdout.splitlines():
        m = NDPI_FLOW_RE.match(line)
        if not m or m["l4"] not in ("TCP", "UDP"):
            continue  # ICMP, IGMP...: no ports, and we classify TCP/UDP only
        a, b = split_endpoint(m["a"]), split_endpoint(m["b"])
        key = flow_key(m["l4"], a, b)
        # Unknown flows are listed twice (all flows, then "Undetected flows"): keep the first.
        flows.setdefault(key, {"name": m["name"], "master": m["name"].split(".")[0],
                               "conf": m["conf"], "a": a, "b": b})
    return flows


def run_engine(engine, composition, capture, tmpdir):
    """Flows of one capture: key -> list of records (several when packets follow a close)."""
    out_path = os.path.join(tmpdir, os.path.basename(capture) + ".json")
    res = subprocess.run([engine, "-q", "--no-summary", composition, "-D", f"TRACE={capture}",
                          "-D", f"OUT={out_path}"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, errors="replace", check=False)
    note = ""
    if res.returncode != 0:
        # A capture the reader rejects part-way (fuzz-2021-10-13.pcap is cut in a record) is a
        # clean input error; a signal or any other status is a failure of ours.
        if res.returncode == 1 and "error:" in res.stderr:
            note = res.stderr.strip().splitlines()[-1]
        else:
            raise RuntimeError(f"engine failed on {capture} (status {res.returncode}):\n"
                               f"{res.stderr[-2000:]}")
    flows = {}
    if os.path.exists(out_path):
        with open(out_path, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                c = (canon_ip(r["client"]["ip"]), r["client"]["port"])
                s = (canon_ip(r["server"]["ip"]), r["server"]["port"])
                flows.setdefault(flow_key(r["proto"], c, s), []).append(r)
    for recs in flows.values():
        recs.sort(key=lambda r: r["first_ns"])
    return flows, note


def our_label(records):
    """One label for all our records of a 5-tuple: the first decided from payload, else the
    first decided by port, else unknown (later records are mid-stream tails after a close)."""
    for by_port in (False, True):
        for r in records:
            if r.get("app", "unknown") != "unknown" and bool(r.get("app_by_port")) == by_port:
                return r["app"], by_port
    return "unknown", False


def load_known(path):
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)["explanations"]
    for i, e in enumerate(entries):
        missing = {"capture", "kind", "ours", "ndpi", "class", "reason"} - e.keys()
        if missing or ("flow" in e) == ("pattern" in e):
            raise ValueError(f"{path}: entry {i}: needs capture, kind, flow or pattern, ours, "
                             f"ndpi, class, reason (missing {sorted(missing)})")
        e["_used"] = 0
    return entries


def explain(entries, capture, kind, l4, a, b, ours, ndpi):
    names = {render(l4, a, b), render(l4, b, a)}
    for e in entries:
        if e["capture"] != capture or e["kind"] != kind:
            continue
        if not (fnmatch.fnmatchcase(ours, e["ours"]) and fnmatch.fnmatchcase(ndpi, e["ndpi"])):
            continue
        if "flow" in e and e["flow"] not in names:
            continue
        if "pattern" in e and not any(fnmatch.fnmatchcase(n, e["pattern"]) for n in names):
            continue
        e["_used"] += 1
        return e
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--ndpi-reader", default="ndpiReader")
    ap.add_argument("--known", help="default: <source-root>/tests/ndpi_agreement_known.json")
    ap.add_argument("--verbose", action="store_true", help="print every joined flow")
    args = ap.parse_args()

    ndpi = shutil.which(args.ndpi_reader)
    if ndpi is None:
        print(f"SKIP: {args.ndpi_reader} not found (apt-get install libndpi-bin)")
        return 77
    root = args.source_root
    composition = os.path.join(root, "compositions", "flows-json.xml")
    known = load_known(args.known or os.path.join(root, "tests", "ndpi_agreement_known.json"))
    captures = sorted(p for p in glob.glob(os.path.join(root, "tests", "pcaps", "*.pcap*")))
    if not captures:
        print(f"no captures under {root}/tests/pcaps")
        return 1

    kinds = ("agree", "disagree", "only-ours", "only-ndpi")
    extra = ("both-unknown", "weak")
    rows, total = [], {k: 0 for k in kinds + extra + ("records",)}
    problems, listed = [], []
    with tempfile.TemporaryDirectory(prefix="ndpi_agreement.") as tmpdir:
        for cap in captures:
            name = os.path.basename(cap)
            try:
                ours, note = run_engine(args.engine, composition, cap, tmpdir)
                theirs = run_ndpi(ndpi, cap)
            except RuntimeError as err:
                problems.append(str(err))
                continue
            counts = {k: 0 for k in kinds + extra}
            counts["records"] = sum(len(v) for v in ours.values())
            for key in sorted(set(ours) | set(theirs)):
                l4, a, b = key
                recs, nd = ours.get(key), theirs.get(key)
                if recs:  # print our client first
                    a = (canon_ip(recs[0]["client"]["ip"]), recs[0]["client"]["port"])
                    b = (canon_ip(recs[0]["server"]["ip"]), recs[0]["server"]["port"])
                elif nd:
                    a, b = nd["a"], nd["b"]
                label, by_port = our_label(recs) if recs else ("-", False)
                ours_txt = label + (" (port)" if by_port else "")
                nd_txt = nd["name"] if nd else "-"
                if nd and nd["master"] not in NDPI_TO_OURS:
                    problems.append(f"{name}: nDPI protocol {nd['name']!r} is not in "
                                    "NDPI_TO_OURS: map it in tests/ndpi_agreement.py")
                    continue
                if recs and nd:
                    kind = "agree" if label in NDPI_TO_OURS[nd["master"]] else "disagree"
                else:
                    kind = "only-ours" if recs else "only-ndpi"
                counts[kind] += 1
                if kind == "agree" and label == "unknown":
                    counts["both-unknown"] += 1
                elif kind == "agree" and (by_port or not nd["conf"].startswith("DPI")):
                    counts["weak"] += 1  # one side decided by port or IP list only
                detail = (f"{name}: {render(l4, a, b)}: ours {ours_txt}"
                          + (f" [{len(recs)} records]" if recs and len(recs) > 1 else "")
                          + f", nDPI {nd_txt}" + (f" [{nd['conf']}]" if nd else ""))
                if args.verbose:
                    print(f"{kind:10} {detail}")
                if kind == "agree":
                    continue
                e = explain(known, name, kind, l4, a, b, label, nd_txt)
                if e is None:
                    problems.append(f"UNEXPLAINED {kind}: {detail}")
                else:
                    listed.append((e["class"], kind, detail))
            for k in counts:
                total[k] += counts[k]
            rows.append((name, counts, note))

    print("| capture | our records | joined 5-tuples | agree | (by port/IP) | (both unknown) "
          "| disagree | only ours | only nDPI |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, c, note in rows:
        joined = c["agree"] + c["disagree"]
        print(f"| `{name}`{' (engine: input error)' if note else ''} | {c['records']} "
              f"| {joined} | {c['agree']} | {c['weak']} | {c['both-unknown']} "
              f"| {c['disagree']} | {c['only-ours']} | {c['only-ndpi']} |")
    joined = total["agree"] + total["disagree"]
    print(f"| **total** ({len(rows)} captures) | {total['records']} | {joined} "
          f"| **{total['agree']}** | {total['weak']} | {total['both-unknown']} "
          f"| **{total['disagree']}** "
          f"| {total['only-ours']} | {total['only-ndpi']} |")
    if joined:
        print(f"\nAgreement on joined 5-tuples: {total['agree']}/{joined} = "
              f"{100.0 * total['agree'] / joined:.1f} %")
    for name, _, note in rows:
        if note:
            print(f"{name}: {note}")

    if listed:
        print("\nExplained differences (class: flow):")
        by_class = {}
        for cls, kind, detail in listed:
            by_class.setdefault(cls, []).append(f"{kind} {detail}")
        for cls in sorted(by_class):
            flows = by_class[cls]
            print(f"- {cls} ({len(flows)}):")
            shown = flows if args.verbose or len(flows) <= 12 else flows[:3]
            for d in shown:
                print(f"    {d}")
            if len(shown) < len(flows):
                print(f"    ... and {len(flows) - len(shown)} more (--verbose lists them)")
    for e in known:
        if e["_used"] == 0:
            problems.append(f"STALE explanation (matches no flow; remove or fix it): "
                            f"{e['capture']} {e.get('flow', e.get('pattern'))} "
                            f"ours {e['ours']} nDPI {e['ndpi']}")
    if problems:
        print("\nFAILED:")
        for p in problems:
            print(f"- {p}")
        return 1
    print("\nOK: every difference is explained in tests/ndpi_agreement_known.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
