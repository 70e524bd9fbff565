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

bash Scripts/deps.sh
swift build -c release >/dev/null
BIN=$(swift build -c release --show-bin-path)/cartograph

started_lab=0
# Use a running lab as it is (parts of it may be under work); otherwise build one and remove
# it afterwards.
if ! ip netns list | grep -qw cg-scan; then bash Scripts/lab.sh up >/dev/null; started_lab=1; fi
out=$(mktemp -d)
cleanup() { rm -rf "${out}"; if [[ ${started_lab} -eq 1 ]]; then bash Scripts/lab.sh down; fi; }
trap cleanup EXIT
in_scan() { ip netns exec cg-scan "$@"; }
now() { date +%s.%N; }

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
