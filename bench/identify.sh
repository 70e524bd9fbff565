#!/usr/bin/env bash
# Service identification, Cartograph against `nmap -sV`, side by side in one run on the same lab
# hosts and ports: every IPv4 TCP service the lab's expectations list (Tests/LabServices/*.json,
# the ground truth: what each daemon really is). Prints both wall times and their ratio, how many
# services each named and named right, how many products each gave where the service announces
# one, and a table of both answers beside the truth.
#
# Usage: bash bench/identify.sh            (root; starts the lab if it is not up, and then
#                                           tears it down again at the end)
#        HOSTS="198.18.12.2 198.18.13.2" RUNS=1 bash bench/identify.sh   (a part of the lab)
# Targets: only the lab's own hosts inside its network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}

# shellcheck source=bench/common.sh
source bench/common.sh

# Hosts and ports from the expectations (IPv4, TCP); HOSTS narrows them.
read -r -a ALL <<<"$(python3 - <<'PY'
import glob, json
hosts = []
for f in sorted(glob.glob("Tests/LabServices/*.json")):
    for e in json.load(open(f)):
        if ":" not in e["address"] and e.get("protocol", "tcp") == "tcp" and e["address"] not in hosts:
            hosts.append(e["address"])
print(" ".join(hosts))
PY
)"
read -r -a HOSTS <<<"${HOSTS:-${ALL[*]}}"
PORTS=$(python3 - "${HOSTS[@]}" <<'PY'
import glob, json, sys
ports = sorted({e["port"] for f in glob.glob("Tests/LabServices/*.json") for e in json.load(open(f))
                if e["address"] in sys.argv[1:] and e.get("protocol", "tcp") == "tcp"})
print(",".join(map(str, ports)))
PY
)

# Only hosts the lab actually has (parts of it are optional).
targets=()
for host in "${HOSTS[@]}"; do
    answer=$(ip netns exec cg-scan bash -c "timeout 1 bash -c 'exec 3<>/dev/tcp/${host}/65000' 2>&1" || true)
    if [[ ${answer} == *refused* ]]; then targets+=("${host}"); fi
done
[[ ${#targets[@]} -gt 0 ]] || { echo "identify: none of the lab hosts answers (is the lab up?)" >&2; exit 1; }

seconds() { python3 -c 'import sys,time; print(f"{time.time():.3f}")'; }

run_cartograph() {
    in_scan "${BIN}" map "${targets[@]}" -p "${PORTS}" -n --probes all --format json \
        -o "${out}/cartograph.json" 2>/dev/null
}
run_nmap() {
    in_scan nmap -sV -n -Pn -p "${PORTS}" -oX "${out}/nmap.xml" "${targets[@]}" >/dev/null
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

python3 - "${out}/cartograph.json" "${out}/nmap.xml" "${cg}" "${nm}" "${RUNS}" "${targets[@]}" <<'PY'
import glob, json, sys, xml.etree.ElementTree as ET
cg_file, nmap_file, cg_time, nmap_time, runs, *hosts = sys.argv[1:]
cg_time, nmap_time = float(cg_time), float(nmap_time)
truth = {}
for f in sorted(glob.glob("Tests/LabServices/*.json")):
    for e in json.load(open(f)):
        if e["address"] in hosts and e.get("protocol", "tcp") == "tcp":
            truth[(e["address"], e["port"])] = e
ours = {}
for m in json.load(open(cg_file))["maps"]:
    for h in m["hosts"]:
        for s in h["services"]:
            if s.get("protocol", "tcp") != "tcp":
                continue
            named = s.get("name") not in (None, "unknown") and s.get("certain", True)
            ours[(h["address"], s["port"])] = (s.get("name") if named else None, " ".join(x for x in (s.get("product"), s.get("version")) if x), s["method"])
# nmap's names for services we call by their common names; a port-table guess (method="table")
# is not a service named.
alias = {"domain": "dns", "microsoft-ds": "smb", "netbios-ssn": "smb", "ms-wbt-server": "rdp", "mongod": "mongodb",
         "ssl": "tls", "memcache": "memcached", "postgresql": "postgresql", "http-proxy": "http-proxy",
         "ms-sql-s": "ms-sql-s", "submission": "smtp", "imaps": "imap", "pop3s": "pop3", "smtps": "smtp",
         "ldapssl": "ldap", "secure-mqtt": "mqtt", "ipp": "ipp", "git": "git", "rsync": "rsync"}
theirs = {}
for host in ET.parse(nmap_file).getroot().iter("host"):
    addr = host.find("address").get("addr")
    for p in host.iter("port"):
        if p.find("state").get("state") != "open":
            continue
        svc = p.find("service")
        name = None
        if svc is not None and svc.get("method") == "probed" and svc.get("name") not in (None, "unknown", "tcpwrapped"):
            name = svc.get("name")
            if svc.get("tunnel") == "ssl" and name == "http":
                name = "https"
            name = alias.get(name, name)
        prod = " ".join(x for x in ((svc.get("product") if svc is not None else None), (svc.get("version") if svc is not None else None)) if x)
        theirs[(addr, int(p.get("portid")))] = (name, prod)

def score(answers):
    named = sum(1 for k in truth if answers.get(k, (None,))[0])
    right = sum(1 for k, e in truth.items() if answers.get(k, (None,))[0] == e["name"])
    with_product = [k for k, e in truth.items() if e.get("product")]
    products = sum(1 for k in with_product if answers.get(k, (None, ""))[1])
    return named, right, products, len(with_product)
o, t = score(ours), score(theirs)
print(f"Service identification: {len(hosts)} lab hosts, {len(truth)} TCP services (the lab's expectations), best of {runs} runs")
print(f"  cartograph map --probes all : {cg_time:7.2f} s")
print(f"  nmap -sV -Pn               : {nmap_time:7.2f} s")
print(f"  ratio cartograph/nmap      : {cg_time / nmap_time:7.3f}  (goal: at most 0.2)")
print(f"  services named             : cartograph {o[0]}, nmap {t[0]}  (goal: at least as many)")
print(f"  named as the lab's truth   : cartograph {o[1]}, nmap {t[1]} (nmap's names mapped onto ours where they differ only in spelling)")
print(f"  products given             : cartograph {o[2]} of {o[3]}, nmap {t[2]} of {t[3]}  (services that announce one; goal: 95%)")
print()
w = max(len(f"{a}:{p}") for a, p in truth) if truth else 10
print(f"{'PORT':<{w}}  {'TRUTH':<14}  {'CARTOGRAPH (method)':<46}  NMAP -sV")
for k in sorted(truth, key=lambda k: (tuple(int(x) for x in k[0].split(".")), k[1])):
    e = truth[k]
    c = ours.get(k)
    n = theirs.get(k)
    left = f"{c[0] or '-'} {c[1]} ({c[2]})" if c else "not open"
    right = f"{n[0] or '-'} {n[1]}" if n else "not open"
    print(f"{k[0]}:{k[1]:<{w - len(k[0]) - 1}}  {e['name']:<14}  {left[:46]:<46}  {right[:50]}")
PY
