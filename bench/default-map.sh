#!/usr/bin/env bash
# A default map of a /24, Cartograph against nmap, side by side in one run: `cartograph map`
# with the default profile (sweep, top 1000 TCP ports, default probes, reverse lookups, trace)
# and `nmap -sV` with its default host discovery and reverse DNS, both on the lab's office
# /24 (cg-office, 198.18.240.0/24: 24 hosts with ssh, 12 with http, 6 that ignore ping).
# Prints wall times, the ratio, hosts and services each found.
#
# Usage: bash bench/default-map.sh        (root; BIN=path compares another build; RUNS=N)
# Targets: only the lab's own hosts inside its network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=198.18.240.0/24
RUNS=${RUNS:-1}

# shellcheck source=bench/common.sh
source bench/common.sh
ip netns list | grep -qw cg-office || bash Scripts/lab.sh add Scripts/lab.d/90-office.sh >/dev/null

run_cartograph() { in_scan "${BIN}" map "${TARGET}" --format json -o "${out}/cartograph.json" 2>"${out}/cartograph.err"; }
run_nmap() { in_scan nmap -sV -T4 -oX "${out}/nmap.xml" "${TARGET}" >/dev/null; }
rounds "${RUNS}" run_cartograph run_nmap
cg=${ours_best} nm=${theirs_best}
echo "all times: cartograph ${ours_times[*]}; nmap ${theirs_times[*]}"
python3 - "${out}/cartograph.json" "${out}/nmap.xml" "${cg}" "${nm}" "${RUNS}" <<'PY'
import json, sys, xml.etree.ElementTree as ET
cg_file, nmap_file, cg_time, nmap_time, runs = sys.argv[1:]
cg_time, nmap_time = float(cg_time), float(nmap_time)
ours, our_hosts = {}, set()
for m in json.load(open(cg_file))["maps"]:
    for h in m["hosts"]:
        if not h["address"].startswith("198.18.240."):
            continue   # the router on the way
        our_hosts.add(h["address"])
        for s in h["services"]:
            ours[(h["address"], s["port"])] = s.get("name", "?")
theirs, their_hosts = {}, set()
for host in ET.parse(nmap_file).getroot().iter("host"):
    if host.find("status").get("state") != "up":
        continue
    addr = host.find("address").get("addr")
    their_hosts.add(addr)
    for p in host.iter("port"):
        if p.find("state").get("state") != "open":
            continue
        svc = p.find("service")
        theirs[(addr, int(p.get("portid")))] = svc.get("name", "?") if svc is not None else "?"
same = sum(1 for k in ours if theirs.get(k) == ours[k])
print(f"Default map of 198.18.240.0/24 (24 live hosts, 36 open ports), best of {runs} run(s)")
print(f"  cartograph map (default profile)   : {cg_time:6.2f} s  {len(our_hosts):3d} hosts  {len(ours):3d} services")
print(f"  nmap -sV -T4 (default discovery)   : {nmap_time:6.2f} s  {len(their_hosts):3d} hosts  {len(theirs):3d} services")
print(f"  ratio cartograph/nmap              : {cg_time / nmap_time:6.3f}")
print(f"  same service name on {same} of {len(set(ours) | set(theirs))} ports")
missing = sorted(their_hosts - our_hosts)
if missing: print(f"  hosts nmap found and cartograph did not: {', '.join(missing)}")
PY
