#!/usr/bin/env bash
# Live host sweep of a /16 holding a hundred live hosts behind a router that silently drops the
# rest (the lab's cg-farm, 198.19.0.0/16), at full speed: Cartograph's discovery-only profile
# with --rate 0 against `zmap -M icmp_echoscan -r 0`, side by side in one run, and nmap -sn.
# Cartograph also runs with one probe per address, ICMP echo alone, as zmap sends (the
# discovery-only profile sends five: echo, timestamp, SYN to 80, 443 and 22), and once more
# without retries (profile retries: 0), which also skips the wait for routers that could not
# resolve addresses (docs/architecture.md: raw packet engine), as zmap does not wait for them either. Prints wall times (and the sweep stage's own time, from --progress json),
# packets per silent address, ratios, and how many live hosts each found, and whether
# Cartograph found every host zmap found (equal recall). zmap's time includes its cool-down
# (-c 2, as issue 12's measurement used), as ours includes its own.
#
# Usage: bash bench/sweep.sh            (root; starts the lab if it is not up, tears it down after)
#        NMAP=0 bash bench/sweep.sh     (skip nmap, which takes minutes here)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=198.19.0.0/16

# shellcheck source=bench/common.sh
source bench/common.sh

cat >"${out}/echo-only.yaml" <<'YAML'
name: echo-only
description: "Sweep by ICMP echo alone, one probe per address, as zmap's icmp_echoscan"
host_discovery:
  methods: [icmp-echo]
information_gathering:
  port_scan: false
probes:
  enabled: false
YAML
# As zmap does: no retry pass, hence no wait for routers that could not resolve addresses.
sed -e 's/^name: echo-only/name: echo-no-retry/' "${out}/echo-only.yaml" >"${out}/echo-no-retry.yaml"
printf 'performance:\n  retries: 0\n' >>"${out}/echo-no-retry.yaml"

# Runs a discovery-only style map with --rate 0; prints "wall sweep hosts packets-sent".
cg_sweep() {
    local name=$1 profile=$2 before after
    before=$(in_scan cat /sys/class/net/eth0/statistics/tx_packets)
    in_scan python3 bench/stages.py "${BIN}" map "${TARGET}" --profile "${profile}" --rate 0 -n --format json \
        -o "${out}/${name}.json" >"${out}/${name}.stages"
    after=$(in_scan cat /sys/class/net/eth0/statistics/tx_packets)
    python3 - "${out}/${name}.json" "${out}/${name}.stages" "$((after - before))" <<'PY'
import ipaddress, json, sys
# Hosts of the target only: the router the traceroute names is not one zmap could find.
farm = ipaddress.ip_network("198.19.0.0/16")
hosts = sorted(h["address"] for m in json.load(open(sys.argv[1]))["maps"] for h in m["hosts"]
               if ipaddress.ip_address(h["address"]) in farm)
stages = json.load(open(sys.argv[2]))
open(sys.argv[1] + ".hosts", "w").write("\n".join(hosts) + "\n")
print(stages["wall"], stages["stages"].get("sweep", "nan"), len(hosts), sys.argv[3])
PY
}
read -r cg_wall cg_sweep_time cg_hosts cg_packets < <(cg_sweep discovery discovery-only)
read -r echo_wall echo_sweep_time echo_hosts echo_packets < <(cg_sweep echo "${out}/echo-only.yaml")
read -r bare_wall bare_sweep_time bare_hosts bare_packets < <(cg_sweep bare "${out}/echo-no-retry.yaml")

router_mac=$(ip netns exec cg-router cat /sys/class/net/to-scan/address)
: >"${out}/blocklist"
t2=$(now)
in_scan zmap -q -M icmp_echoscan -r 0 -c 2 -i eth0 -S 198.18.0.2 -G "${router_mac}" -b "${out}/blocklist" \
    -o "${out}/zmap.txt" "${TARGET}" 2>/dev/null
t3=$(now)
sort -u "${out}/zmap.txt" | grep . >"${out}/zmap.hosts" || true
zmap_hosts=$(wc -l <"${out}/zmap.hosts")
zmap_time=$(elapsed "${t2}" "${t3}")

nmap_time=skipped nmap_hosts=-
if [[ ${NMAP:-1} != 0 ]]; then
    t4=$(now)
    in_scan nmap -sn -n -oG "${out}/nmap.txt" "${TARGET}" >/dev/null
    t5=$(now)
    nmap_time=$(elapsed "${t4}" "${t5}")
    nmap_hosts=$(grep -c 'Status: Up' "${out}/nmap.txt" || true)
fi

missed() { comm -13 "$1" "${out}/zmap.hosts" | wc -l; }
echo "Live host sweep of ${TARGET} (100 live hosts behind a router that drops the rest; load: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '  %-46s %7s s (sweep %6s s)  %3s hosts  %4.1f packets/address  missed of zmap'"'"'s: %s\n' \
    "cartograph --profile discovery-only --rate 0" "${cg_wall}" "${cg_sweep_time}" "${cg_hosts}" \
    "$(python3 -c "print(${cg_packets} / 65536)")" "$(missed "${out}/discovery.json.hosts")"
printf '  %-46s %7s s (sweep %6s s)  %3s hosts  %4.1f packets/address  missed of zmap'"'"'s: %s\n' \
    "cartograph, ICMP echo only, --rate 0" "${echo_wall}" "${echo_sweep_time}" "${echo_hosts}" \
    "$(python3 -c "print(${echo_packets} / 65536)")" "$(missed "${out}/echo.json.hosts")"
printf '  %-46s %7s s (sweep %6s s)  %3s hosts  %4.1f packets/address  missed of zmap'"'"'s: %s\n' \
    "cartograph, ICMP echo only, retries: 0" "${bare_wall}" "${bare_sweep_time}" "${bare_hosts}" \
    "$(python3 -c "print(${bare_packets} / 65536)")" "$(missed "${out}/bare.json.hosts")"
printf '  %-46s %7s s                  %3s hosts\n' "zmap -M icmp_echoscan -r 0 -c 2" "${zmap_time}" "${zmap_hosts}"
printf '  %-46s %7s s                  %3s hosts\n' "nmap -sn" "${nmap_time}" "${nmap_hosts}"
python3 -c "print(f'  ratio cartograph/zmap: discovery-only {${cg_wall} / ${zmap_time}:.2f}, echo only {${echo_wall} / ${zmap_time}:.2f}, echo without retries {${bare_wall} / ${zmap_time}:.2f}  (goal: at most 1.5 with every host zmap found)')"
if [[ ${nmap_time} != skipped ]]; then python3 -c "print(f'  ratio cartograph/nmap: {${cg_wall} / ${nmap_time}:.3f}')"; fi
