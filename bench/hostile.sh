#!/usr/bin/env bash
# The "Done when" measurement of issue 11: one map of the hostile lab (Scripts/hostile.py: twenty
# hostile services plus real controls on 127.0.0.1) with every probe, then its report in every
# format and the store's listings. Prints one line: elapsed time and peak RSS of the map, its exit,
# controls identified, and raw control bytes (ESC, other C0 but tab and newline, DEL, C1) counted
# in every output. A map still running after LIMIT seconds (default 300) is killed and says so.
#
# Usage: bash bench/hostile.sh           (BIN=path/to/cartograph to skip the release build;
#                                         SKIP=REGEX leaves out the services whose names match)
# Targets: loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/loopback.sh

/usr/bin/python3 - "${BIN}" "${out}" "${LIMIT:-300}" "${SKIP:-}" <<'EOF'
import json, os, re, resource, signal, subprocess, sys, time

binary, out, limit, skip = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
db = os.path.join(out, "maps.sqlite")

def control_bytes(data, csv=False):
    """Raw C0 (but tab, newline), DEL, raw C1 and UTF-8 encoded C1 bytes. In CSV (csv=True) the
    CR of a CRLF outside quotes ends a record and is not counted; any other CR is."""
    count, i, quoted = 0, 0, False
    while i < len(data):
        b = data[i]
        if csv and b == 0x22:
            quoted = not quoted   # a doubled quote toggles twice
        if csv and not quoted and b == 0x0D and data[i + 1:i + 2] == b"\n":
            i += 1
            continue
        if (b < 0x20 and b not in (0x09, 0x0A)) or b == 0x7F:
            count += 1
        elif b == 0xC2 and i + 1 < len(data) and 0x80 <= data[i + 1] <= 0x9F:
            count += 1
            i += 1
        elif b >= 0x80:
            n = 4 if b >= 0xF0 else 3 if b >= 0xE0 else 2 if b >= 0xC0 else 1
            tail = data[i + 1:i + n]
            if n > 1 and len(tail) == n - 1 and all(t & 0xC0 == 0x80 for t in tail):
                i += n
                continue
            if 0x80 <= b <= 0x9F:
                count += 1
        i += 1
    return count

lab = subprocess.Popen(["/usr/bin/python3", "Scripts/hostile.py", "--lifetime", str(int(limit) + 120)],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
try:
    services = json.loads(lab.stdout.readline())["services"]
    if skip:
        services = [s for s in services if not re.search(skip, s["name"])]
    ports = ",".join(("U:" if s["protocol"] == "udp" else "T:") + str(s["port"]) for s in services)
    udp = ", ".join(str(s["port"]) for s in services if s["protocol"] == "udp")
    probes = os.path.join(out, "probes")
    os.makedirs(probes)
    with open(os.path.join(probes, "hostile-udp.lua"), "w") as f:
        f.write('return { name = "hostile-udp", description = "the lab\'s UDP flood", categories = { "default" },\n'
                '  protocol = "udp", ports = { %s },\n'
                '  run = function(host, port) local s = socket.connect(host, port, { protocol = "udp" })\n'
                '    if not s then return nil end s:send("hi") local d = s:receive(2000) s:close()\n'
                '    if d then return { name = "udp-flood", certain = false } end end }\n' % udp)
    report = os.path.join(out, "map.json")
    argv = [binary, "map", "127.0.0.1", "-p", ports, "-n", "--engine", "connect", "--probes", "all",
            "--probe-dir", probes, "--db", db, "--format", "json", "-o", report]
    with open(os.path.join(out, "map.out"), "wb") as o, open(os.path.join(out, "map.err"), "wb") as e:
        start = time.monotonic()
        child = subprocess.Popen(argv, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        try:
            child.wait(timeout=limit)
            killed = False
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            killed = True
        elapsed = time.monotonic() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    outputs = {"stdout": open(os.path.join(out, "map.out"), "rb").read(),
               "stderr": open(os.path.join(out, "map.err"), "rb").read(),
               "json": open(report, "rb").read() if os.path.exists(report) else b""}

    def run(*args):
        try:
            done = subprocess.run([binary, *args, "--db", db], capture_output=True, timeout=60)
            return done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            return b""
    for fmt in ("text", "csv", "xml", "html"):
        outputs[fmt] = run("maps", "report", "--format", fmt)
    outputs["maps list"] = run("maps", "list")
    outputs["maps show"] = run("maps", "show")
    outputs["hosts"] = run("hosts")

    identified = 0
    controls = [s for s in services if s["kind"] == "control"]
    try:
        found = {}
        # A map killed before its report was written still has its last checkpoint in the store.
        stored = outputs["json"] or run("maps", "report", "--format", "json")
        for host in json.loads(stored)["maps"][0]["hosts"]:
            for svc in host.get("services", []):
                found[svc["port"]] = svc.get("name")
        identified = sum(1 for c in controls if found.get(c["port"]) == c["expect"])
        missed = [c["name"] for c in controls if found.get(c["port"]) != c["expect"]]
    except (ValueError, KeyError, IndexError):
        missed = [c["name"] for c in controls]

    counts = {name: control_bytes(data, csv=name == "csv") for name, data in outputs.items()}
    ending = "killed after %d s" % limit if killed else "exit %d" % child.returncode
    print("hostile: %d hostile + %d controls; map %s in %.1f s, peak RSS %.0f MB; controls identified %d/%d%s; "
          "raw control bytes %d (%s)" % (len(services) - len(controls), len(controls), ending, elapsed, peak_mb,
                                        identified, len(controls), " (missed: %s)" % ", ".join(missed) if missed else "",
                                        sum(counts.values()), ", ".join("%s %d" % kv for kv in counts.items())))
finally:
    lab.send_signal(signal.SIGTERM)
    try:
        lab.wait(timeout=10)
    except subprocess.TimeoutExpired:
        lab.kill()
EOF
