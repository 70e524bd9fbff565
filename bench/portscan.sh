#!/usr/bin/env bash
# All 65535 TCP ports of one lab host with identification off: Cartograph (raw SYN, --rate 0)
# against `nmap -sS -p- -T4 -n`, side by side in one run, on two hosts: cg-h2 (four open ports)
# and cg-h8 (300 open ports and sshd, dropping ICMP echo: found by TCP alone). Prints wall times
# (and the scan stage's own time, from --progress json), the ratio and whether both found the
# same open ports. Also the dry-run figures for a /8: packets generated per second and peak
# memory, with nothing sent.
#
# Usage: bash bench/portscan.sh         (root; starts the lab if it is not up, tears it down after)
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS=(198.18.2.2 198.18.8.2)

# shellcheck source=bench/common.sh
source bench/common.sh

echo "All 65535 TCP ports of one lab host, identification off (load: $(cut -d' ' -f1-3 /proc/loadavg))"
for host in "${HOSTS[@]}"; do
    in_scan python3 bench/stages.py "${BIN}" map "${host}" -p- --rate 0 --probes none -n --engine syn --format json \
        -o "${out}/cg.json" >"${out}/cg.stages"
    t1=$(now)
    in_scan nmap -sS -p- -T4 -n -oX "${out}/nmap.xml" "${host}" >/dev/null
    t2=$(now)
    python3 - "${host}" "${out}/cg.json" "${out}/cg.stages" "${out}/nmap.xml" "${t1}" "${t2}" <<'PY'
import json, sys, xml.etree.ElementTree as ET
host, cg_file, stages_file, nmap_file, t1, t2 = *sys.argv[1:5], *map(float, sys.argv[5:])
ours = sorted(s["port"] for m in json.load(open(cg_file))["maps"] for h in m["hosts"] for s in h["services"])
theirs = sorted(int(p.get("portid")) for p in ET.parse(nmap_file).getroot().iter("port")
                if p.find("state").get("state") == "open")
stages = json.load(open(stages_file))
ports = lambda p: f"{len(p)} open" + (f" {p}" if len(p) <= 8 else f" ({p[0]}..{p[-1]})" if p else "")
print(f"  {host}")
print(f"    cartograph -p- --rate 0 : {stages['wall']:6.2f} s (scan stage {stages['stages'].get('scan', float('nan')):.2f} s)  {ports(ours)}")
print(f"    nmap -sS -p- -T4 -n     : {t2 - t1:6.2f} s  {ports(theirs)}")
print(f"    ratio cartograph/nmap   : {stages['wall'] / (t2 - t1):.3f}  (goal: at most 0.5)  same open ports: {ours == theirs}")
PY
done

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
