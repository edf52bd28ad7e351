#!/usr/bin/env python3
"""Regenerates the tables of docs/blocks.md from `engine --list-blocks` and `engine --describe`.

    scripts/block_reference.py ENGINE [DOC]           rewrite DOC (default docs/blocks.md)
    scripts/block_reference.py ENGINE [DOC] --check   exit 1 if DOC differs from what the engine says

The prose above the first block section and the notes under each block's tables (written by
hand from the block's source) are kept; everything generated is replaced.
"""
import difflib
import re
import subprocess
import sys
from pathlib import Path


def esc(s):
    return s.replace("|", "\\|")


ROOT = str(Path(__file__).resolve().parent.parent)


def describe(engine, block_type):
    out = subprocess.run([engine, "--describe", block_type], capture_output=True, text=True, check=True).stdout
    # Defaults that name the build's source tree (e.g. the mPlane registry folder) do not depend
    # on where the tree was checked out.
    out = out.replace(ROOT, "<source>")
    lines = out.splitlines()
    d = {"summary": lines[0].split(" - ", 1)[1], "aliases": [], "inv": [], "in": [], "out": [],
         "params": [], "vars": [], "timers": []}
    section = None
    i = 1
    while i < len(lines):
        line = lines[i]
        if line.startswith("also accepted as:"):
            d["aliases"] = line.split(":", 1)[1].split()
        elif line.startswith("invocation:"):
            d["inv"] = line.split(":", 1)[1].split()
        elif line == "input gates:":
            section = "in"
        elif line == "output gates:":
            section = "out"
        elif line.startswith("params ("):
            section = "params"
        elif line == "variables:":
            section = "vars"
        elif line == "timers:":
            section = "timers"
        elif line.startswith("  ") and not line.startswith("    ") and line.strip() != "(none)":
            head = line.strip()
            doc = ""
            if i + 1 < len(lines) and lines[i + 1].startswith("      "):
                doc = lines[i + 1].strip()
                i += 1
            d[section].append((head, doc))
        i += 1
    return d


def gate_row(direction, head, doc):
    m = re.match(r"(.*?)\s+\[(.*?)\](\s+required|\s+optional)?$", head)
    names = [n.strip() for n in m.group(1).split(",")]
    aliases = ", ".join(f"`{a}`" for a in names[1:]) or "—"
    return f"| {direction} | `{names[0]}` | {aliases} | `{m.group(2)}` | {'required' if m.group(3) and 'required' in m.group(3) else '—'} | {esc(doc)} |"


def param_row(head, doc):
    m = re.match(r"(\S+)\s+(.*?)\s+(default \"(.*)\"|required)$", head)
    if m.group(3) == "required":
        default = "required"
    elif m.group(4) == "":
        default = "(empty)"
    else:
        default = f"`{m.group(4)}`"
    return f"| `{m.group(1)}` | {esc(m.group(2))} | {default} | {esc(doc)} |"


def var_row(head, doc):
    m = re.match(r"(\S+)\s+(\S+)\s+(?:\[(.*?)\]\s+)?(\S+)$", head)
    return f"| `{m.group(1)}` | {m.group(2)} | {m.group(3) or '—'} | {m.group(4)} | {esc(doc)} |"


def timer_row(head, doc):
    m = re.match(r"(\S+)\s+every\s+(.*)$", head)
    return f"| `{m.group(1)}` | {m.group(2)} | {esc(doc)} |"


def render(engine, block_type):
    d = describe(engine, block_type)
    o = [f"## {block_type}", "", d["summary"][0].upper() + d["summary"][1:] + ".", "",
         "- Invocation: " + ", ".join(f"`{x}`" for x in d["inv"])]
    if d["aliases"]:
        o.append("- Also accepted as: " + ", ".join(f"`{x}`" for x in d["aliases"]))
    o += ["", "**Gates**", "", "| dir | name | aliases | message type | connection | description |",
          "|---|---|---|---|---|---|"]
    o += [gate_row("in", h, doc) for h, doc in d["in"]] + [gate_row("out", h, doc) for h, doc in d["out"]]
    for title, key, header, row in (
            ("Params", "params", "| param | type | default | description |\n|---|---|---|---|", param_row),
            ("Variables", "vars", "| variable | kind | unit | access | description |\n|---|---|---|---|---|", var_row),
            ("Timers", "timers", "| timer | period | description |\n|---|---|---|", timer_row)):
        o += ["", f"**{title}**", ""]
        if d[key]:
            o += header.split("\n") + [row(*x) for x in d[key]]
        else:
            o.append("None.")
    return "\n".join(o) + "\n"


def notes_of(section):
    """What follows the generated Timers part of a block's section: the hand-written notes."""
    lines = section.split("\n")
    at = next(i for i, l in enumerate(lines) if l == "**Timers**")
    i = at + 2
    while i < len(lines) and (lines[i].startswith("|") or lines[i] == "None."):
        i += 1
    return "\n".join(lines[i:]).strip("\n")


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    check = "--check" in sys.argv[1:]
    engine = args[0]
    doc = Path(args[1]) if len(args) > 1 else Path(__file__).resolve().parent.parent / "docs" / "blocks.md"
    text = doc.read_text()
    head, *sections = re.split(r"(?m)^(?=## )", text)
    old_sections = {s.split("\n", 1)[0][3:].strip(): s for s in sections}
    notes = {t: notes_of(s) for t, s in old_sections.items()}
    old_rows = dict(re.findall(r"(?m)^\| `(\w+)` \| (.*) \|$", head))
    listing = subprocess.run([engine, "--list-blocks"], capture_output=True, text=True, check=True).stdout
    summaries = {}
    for line in listing.splitlines():
        block_type, summary = line.split(None, 1)
        summaries[block_type] = esc(summary.strip())
    # A block this build lacks (-Ddpdk=disabled, -Dmplane=disabled) keeps its documented section.
    types = sorted(set(summaries) | set(old_sections))
    rows = [f"| `{t}` | {summaries.get(t, old_rows.get(t, ''))} |" for t in types]
    table = "| type | summary |\n|---|---|\n" + "\n".join(rows) + "\n"
    head = re.sub(r"(?ms)^\| type \| summary \|\n.*?\n\n", table + "\n", head)
    out = [head.rstrip() + "\n"]
    for block_type in types:
        if block_type not in summaries:
            out.append("\n" + old_sections[block_type].strip("\n") + "\n")
            continue
        out.append("\n" + render(engine, block_type) + ("\n" + notes[block_type] + "\n" if notes.get(block_type) else ""))
    new = "".join(out)
    if check:
        if new != text:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True), str(doc),
                                                       "engine --describe"))
            print(f"\n{doc} is stale: run scripts/block_reference.py {engine}", file=sys.stderr)
            return 1
        print(f"{doc}: {len(types)} blocks, current")
        return 0
    doc.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
