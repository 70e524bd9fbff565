#!/usr/bin/env bash
# UDP discovery of the 100 most common UDP ports, Cartograph against nmap, side by side in one
# run on the lab's cg-h4 (198.18.4.2: BIND on 53, snmpd on 161, ntpd on 123): `cartograph map
# -p U:top:100` (raw UDP with protocol payloads, then the UDP probes) and `nmap -sU
# --top-ports 100`. Prints wall times, the ratio, and the ports each calls open.
#
# Linux limits the ICMP port unreachables a host sends (about one a second per peer after a
# burst), so a closed UDP port and a silent one look alike until one waits: nmap waits (and
# says closed), Cartograph does not and says open|filtered. Open ports are what both must find.
# Neither is given -n: Cartograph's -n means "not one DNS packet", which leaves port 53 out.
#
# Usage: bash bench/udp.sh        (root; BIN=path compares another build)
# Targets: only the lab's own hosts inside its network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=198.18.4.2

# shellcheck source=bench/common.sh
source bench/common.sh

t0=$(now)
in_scan "${BIN}" map "${TARGET}" -p U:top:100 --format json -o "${out}/cartograph.json" 2>"${out}/cartograph.err"
t1=$(now)
in_scan nmap -sU --top-ports 100 -Pn -oX "${out}/nmap.xml" "${TARGET}" >/dev/null
t2=$(now)
cg=$(elapsed "${t0}" "${t1}")
nm=$(elapsed "${t1}" "${t2}")

python3 - "${out}/cartograph.json" "${out}/nmap.xml" "${cg}" "${nm}" <<'PY'
import json, sys, xml.etree.ElementTree as ET
cg_file, nmap_file, cg_time, nmap_time = sys.argv[1:]
ours = {}
for m in json.load(open(cg_file))["maps"]:
    for h in m["hosts"]:
        for s in h["services"]:
            if s["protocol"] == "udp":
                ours[s["port"]] = s.get("name", "?")
theirs, closed = {}, 0
for p in ET.parse(nmap_file).getroot().iter("port"):
    state = p.find("state").get("state")
    if state == "open":
        svc = p.find("service")
        theirs[int(p.get("portid"))] = svc.get("name", "?") if svc is not None else "?"
    elif state == "closed":
        closed += 1
print("UDP top-100 ports of 198.18.4.2")
print(f"  cartograph map -p U:top:100         : {float(cg_time):7.2f} s  open: {', '.join(f'{p}/{n}' for p, n in sorted(ours.items()))}")
print(f"  nmap -sU --top-ports 100 -Pn        : {float(nmap_time):7.2f} s  open: {', '.join(f'{p}/{n}' for p, n in sorted(theirs.items()))} ({closed} closed)")
print(f"  ratio cartograph/nmap               : {float(cg_time) / float(nmap_time):7.3f}")
print(f"  open on both: {len(set(ours) & set(theirs))} of {len(set(ours) | set(theirs))}")
PY
