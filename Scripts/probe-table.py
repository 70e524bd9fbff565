#!/usr/bin/env python3
"""The table of shipped probes in Probes/README.md, generated from the probe files and tests.

For every probe in Probes/*.lua: the service names it reports, its protocol and ports, how it is
tested (a real daemon in the lab, from Tests/LabServices/*.json, or a replay of real protocol
bytes, from Tests/Replays/*.json) and what those tests show it reporting. The table sits between
the markers `<!-- probe-table:begin -->` and `<!-- probe-table:end -->`.

Usage: python3 Scripts/probe-table.py            rewrite the table in Probes/README.md
       python3 Scripts/probe-table.py --check    exit 1 (and say so) if the table is out of date
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- probe-table:begin -->", "<!-- probe-table:end -->"


def declaration(path):
    """name, protocol, ports and description from a probe file's top-level declaration."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # The declaration is the table the file returns (the last `return {` at the start of a
    # line); its fields are at two spaces of indent, before `run`.
    starts = [m.end() for m in re.finditer(r"^return \{", text, re.M)]
    block = text[starts[-1]:] if starts else text
    run = re.search(r"^\s{2}run\s*=", block, re.M)
    block = block[:run.start()] if run else block

    def field(key):
        m = re.search(r"^\s{2}" + key + r"\s*=\s*(.+?),?\s*$", block, re.M)
        return m.group(1) if m else None
    name = field("name")
    name = name.strip("\"'") if name else os.path.basename(path)[:-4]
    proto = (field("protocol") or '"tcp"').strip("\"'")
    ports = field("ports")
    ports = re.findall(r"\d+", ports) if ports else []
    desc = field("description") or ""
    desc = desc.strip().strip("\"'")
    return {"name": name, "protocol": proto, "ports": ports, "description": desc, "file": os.path.basename(path)}


def lab_tests():
    """probe name -> list of (part, expectation)."""
    out = {}
    folder = os.path.join(ROOT, "Tests", "LabServices")
    for file in sorted(os.listdir(folder)):
        if not file.endswith(".json"):
            continue
        with open(os.path.join(folder, file), encoding="utf-8") as f:
            for entry in json.load(f):
                method = entry.get("method", entry["name"])
                out.setdefault(method, []).append((file[:-5], entry))
    return out


def replays():
    """probe name -> list of (file, replay)."""
    out = {}
    folder = os.path.join(ROOT, "Tests", "Replays")
    for file in sorted(os.listdir(folder)):
        if not file.endswith(".json"):
            continue
        with open(os.path.join(folder, file), encoding="utf-8") as f:
            replay = json.load(f)
        out.setdefault(replay["probe"], []).append((file, replay))
    return out


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def product_of(fields):
    product = fields.get("product")
    if not product:
        return None
    version = fields.get("version")
    return f"{product} {version}" if version else product


def table():
    probes = [declaration(os.path.join(ROOT, "Probes", f))
              for f in sorted(os.listdir(os.path.join(ROOT, "Probes"))) if f.endswith(".lua")]
    lab, rep = lab_tests(), replays()
    rows = ["| probe | names | protocol, ports | tested against | reports (as tested) |",
            "| --- | --- | --- | --- | --- |"]
    tested = 0
    for probe in probes:
        name = probe["name"]
        names, how, reports = [], [], []
        parts = {}
        for part, entry in lab.get(name, []):
            products, over_tls = parts.setdefault(part, (set(), set()))
            product = product_of(entry)
            if product:
                products.add(product)
            if entry.get("tls"):
                over_tls.add(True)
            if entry["name"] not in names:
                names.append(entry["name"])
            for key in ("product", "version", "extra"):
                if key in entry and key not in reports:
                    reports.append(key)
        for part, (products, over_tls) in parts.items():
            # "NTPsec" beside "NTPsec 1.2.2" says nothing more
            products = {p for p in products if not any(o != p and o.startswith(p + " ") for o in products)}
            how.append(f"lab `{part}`" + (": " + ", ".join(sorted(products)) if products else "")
                       + (" (also over TLS)" if over_tls else ""))
        for file, replay in rep.get(name, []):
            result = replay.get("result", {})
            if result.get("name") and result["name"] not in names:
                names.append(result["name"])
            product = product_of(result)
            how.append(f"replay `{file}`" + (f": {product}" if product else ""))
            for key in ("product", "version", "extra"):
                if key in result and key not in reports:
                    reports.append(key)
        if how:
            tested += 1
        ports = ", ".join(probe["ports"]) if probe["ports"] else "any"
        rows.append("| " + " | ".join(cell(c) for c in [
            f"`{name}`", ", ".join(f"`{n}`" for n in names) or "—",
            f"{probe['protocol']} {ports}", "; ".join(how) or "**not tested**",
            ", ".join(reports) or "name"]) + " |")
    head = (f"{len(probes)} probes, {tested} of them tested against a real daemon or replayed "
            f"bytes. Generated by `python3 Scripts/probe-table.py` from the probe files, "
            f"`Tests/LabServices/` and `Tests/Replays/`; a test fails when it is out of date.\n\n")
    return head + "\n".join(rows) + "\n"


def main():
    readme = os.path.join(ROOT, "Probes", "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        print(f"{readme}: the markers {BEGIN} and {END} are missing", file=sys.stderr)
        return 1
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    new = text[:start] + "\n" + table() + text[end:]
    if "--check" in sys.argv[1:]:
        if new != text:
            print(f"{readme}: the probe table is out of date; run: python3 Scripts/probe-table.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        with open(readme, "w", encoding="utf-8") as f:
            f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
