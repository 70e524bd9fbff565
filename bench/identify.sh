#!/usr/bin/env bash
# Service identification, Cartograph against `nmap -sV`, side by side in one run on the same lab
# hosts and ports. Prints both wall times, their ratio, and both identification tables.
#
# Usage: bash bench/identify.sh            (root; starts the lab if it is not up, and then
#                                           tears it down again at the end)
# Targets: only the lab's own hosts inside its network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every TCP service of the lab (Tests/LabServices/*.json); HOSTS="..." PORTS=... narrow it down.
read -r -a HOSTS <<<"${HOSTS:-198.18.1.2 198.18.2.2 198.18.4.2 198.18.5.2 198.18.6.2}"
PORTS=${PORTS:-21,22,25,53,80,110,143,389,443,465,636,993,995,1883,2222,3306,5432,6379,7777,8080,8883,9443,11211,31337}
RUNS=${RUNS:-3}

# shellcheck source=bench/common.sh
source bench/common.sh

# Only hosts the lab actually has (parts of it are optional).
targets=()
for host in "${HOSTS[@]}"; do
    answer=$(ip netns exec cg-scan bash -c "timeout 1 bash -c 'exec 3<>/dev/tcp/${host}/65000' 2>&1" || true)
    if [[ ${answer} == *refused* ]]; then targets+=("${host}"); fi
done

seconds() { python3 -c 'import sys,time; print(f"{time.time():.3f}")'; }

run_cartograph() {
    in_scan "${BIN}" map "${targets[@]}" -p "${PORTS}" -n --probes all --format json \
        -o "${out}/cartograph.json" 2>/dev/null
}
run_nmap() {
    in_scan nmap -sV -n -p "${PORTS}" -oX "${out}/nmap.xml" "${targets[@]}" >/dev/null
}

best() { sort -n | head -1; }
cg_times=() nmap_times=()
for _ in $(seq "${RUNS}"); do
    t0=$(seconds); run_cartograph; t1=$(seconds); run_nmap; t2=$(seconds)
    cg_times+=("$(python3 -c "print(${t1} - ${t0})")")
    nmap_times+=("$(python3 -c "print(${t2} - ${t1})")")
done
cg=$(printf '%s\n' "${cg_times[@]}" | best)
nm=$(printf '%s\n' "${nmap_times[@]}" | best)

python3 - "${out}/cartograph.json" "${out}/nmap.xml" "${cg}" "${nm}" "${RUNS}" "${#targets[@]}" <<'PY'
import json, sys, xml.etree.ElementTree as ET
cg_file, nmap_file, cg_time, nmap_time, runs, hosts = sys.argv[1:]
cg_time, nmap_time = float(cg_time), float(nmap_time)
ours = {}
for m in json.load(open(cg_file))["maps"]:
    for h in m["hosts"]:
        for s in h["services"]:
            ours[(h["address"], s["port"])] = (s.get("name", "?"), " ".join(x for x in (s.get("product"), s.get("version")) if x), s["method"])
theirs = {}
for host in ET.parse(nmap_file).getroot().iter("host"):
    addr = host.find("address").get("addr")
    for p in host.iter("port"):
        if p.find("state").get("state") != "open":
            continue
        svc = p.find("service")
        name = svc.get("name", "?") if svc is not None else "?"
        if svc is not None and svc.get("tunnel") == "ssl" and name == "http":
            name = "https"
        # nmap's names for the services we call by their common names.
        name = {"domain": "dns", "microsoft-ds": "smb", "ms-wbt-server": "rdp", "mongod": "mongodb",
                "ssl": "tls", "memcache": "memcached"}.get(name, name)
        prod = " ".join(x for x in ((svc.get("product") if svc is not None else None), (svc.get("version") if svc is not None else None)) if x)
        theirs[(addr, int(p.get("portid")))] = (name, prod)
keys = sorted(set(ours) | set(theirs), key=lambda k: (tuple(int(x) for x in k[0].split(".")), k[1]))
print(f"Service identification: {hosts} lab hosts, ports {len(set(k[1] for k in keys))} open kinds, best of {runs} runs")
print(f"  cartograph map --probes all : {cg_time:6.2f} s")
print(f"  nmap -sV                   : {nmap_time:6.2f} s")
print(f"  ratio cartograph/nmap      : {cg_time / nmap_time:6.3f}  (goal: at most 0.2)")
print()
w = max(len(f"{a}:{p}") for a, p in keys) if keys else 10
print(f"{'PORT':<{w}}  {'CARTOGRAPH (method)':<44}  NMAP -sV")
same = 0
for k in keys:
    o = ours.get(k); t = theirs.get(k)
    left = f"{o[0]} {o[1]} ({o[2]})" if o else "-"
    right = f"{t[0]} {t[1]}" if t else "-"
    if o and t and o[0] == t[0]: same += 1
    print(f"{k[0]}:{k[1]:<{w - len(k[0]) - 1}}  {left:<44}  {right}")
print(f"\nsame service name on {same} of {len(keys)} ports")
PY
