#!/usr/bin/env bash
# All 65535 TCP ports of one lab host with identification off: Cartograph (raw SYN) against
# `nmap -sS -p- -T4`, side by side in one run. Prints wall times, the ratio and whether both
# found the same open ports. Also the dry-run figures for a /8: packets generated per second
# and peak memory, with nothing sent.
#
# Usage: bash bench/portscan.sh         (root; starts the lab if it is not up, tears it down after)
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=198.18.2.2

# shellcheck source=bench/common.sh
source bench/common.sh

t0=$(now)
in_scan "${BIN}" map "${HOST}" -p- --probes none -n --engine syn --format json -o "${out}/cg.json" 2>/dev/null
t1=$(now)
in_scan nmap -sS -p- -T4 -n -oX "${out}/nmap.xml" "${HOST}" >/dev/null
t2=$(now)

python3 - "${out}/cg.json" "${out}/nmap.xml" "${t0}" "${t1}" "${t2}" <<'PY'
import json, sys, xml.etree.ElementTree as ET
cg_file, nmap_file, t0, t1, t2 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
ours = sorted(s["port"] for m in json.load(open(cg_file))["maps"] for h in m["hosts"] for s in h["services"])
theirs = sorted(int(p.get("portid")) for p in ET.parse(nmap_file).getroot().iter("port")
                if p.find("state").get("state") == "open")
print("All 65535 TCP ports of one lab host, identification off")
print(f"  cartograph -p- --engine syn : {t1 - t0:6.2f} s  open {ours}")
print(f"  nmap -sS -p- -T4            : {t2 - t1:6.2f} s  open {theirs}")
print(f"  ratio cartograph/nmap       : {(t1 - t0) / (t2 - t1):.3f}  (goal: at most 0.5)")
print(f"  same open ports             : {ours == theirs}")
PY

python3 - "${BIN}" <<'PY'
import resource, subprocess, sys, time
start = time.time()
done = subprocess.run([sys.argv[1], "map", "10.0.0.0/8", "--profile", "discovery-only", "--dry-run", "--dry-run-packets"],
                      capture_output=True, text=True)
elapsed = time.time() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("Dry run of a /8 sweep (discovery-only), every packet built, none sent")
for line in done.stdout.splitlines():
    if "packets" in line: print("  " + line.strip())
print(f"  wall time {elapsed:.1f} s, peak memory {peak / 1024:.1f} MiB")
PY
