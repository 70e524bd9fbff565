#!/usr/bin/env bash
# Live host sweep of a /16 holding a few dozen live hosts behind a router that silently drops
# the rest (the lab's cg-farm, 198.19.0.0/16): Cartograph's discovery-only profile against
# `zmap -M icmp_echoscan` and `nmap -sn`, side by side in one run. Prints wall times, ratios
# and how many live hosts each found. zmap's time includes its cool-down, as ours does.
#
# Usage: bash bench/sweep.sh            (root; starts the lab if it is not up, tears it down after)
#        NMAP=0 bash bench/sweep.sh     (skip nmap, which takes minutes here)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=198.19.0.0/16

# shellcheck source=bench/common.sh
source bench/common.sh
command -v zmap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zmap >/dev/null

t0=$(now)
in_scan "${BIN}" map "${TARGET}" --profile discovery-only -n --format json -o "${out}/cg.json" 2>/dev/null
t1=$(now)
cg_hosts=$(python3 -c "import json; print(len(json.load(open('${out}/cg.json'))['maps'][0]['hosts']))")

router_mac=$(ip netns exec cg-router cat /sys/class/net/to-scan/address)
: >"${out}/blocklist"
t2=$(now)
in_scan zmap -q -M icmp_echoscan -i eth0 -S 198.18.0.2 -G "${router_mac}" -b "${out}/blocklist" \
    -o "${out}/zmap.txt" "${TARGET}" 2>/dev/null
t3=$(now)
zmap_hosts=$(sort -u "${out}/zmap.txt" | grep -c . || true)

nmap_time=skipped nmap_hosts=-
if [[ ${NMAP:-1} != 0 ]]; then
    t4=$(now)
    in_scan nmap -sn -n -oG "${out}/nmap.txt" "${TARGET}" >/dev/null
    t5=$(now)
    nmap_time=$(elapsed "${t4}" "${t5}")
    nmap_hosts=$(grep -c 'Status: Up' "${out}/nmap.txt" || true)
fi

cg_time=$(elapsed "${t0}" "${t1}")
zmap_time=$(elapsed "${t2}" "${t3}")
echo "Live host sweep of ${TARGET} (100 live hosts behind a router that drops the rest)"
printf '  %-44s %8s s  %3s hosts\n' "cartograph --profile discovery-only" "${cg_time}" "${cg_hosts}"
printf '  %-44s %8s s  %3s hosts\n' "zmap -M icmp_echoscan (default rate, cool-down)" "${zmap_time}" "${zmap_hosts}"
printf '  %-44s %8s s  %3s hosts\n' "nmap -sn" "${nmap_time}" "${nmap_hosts}"
python3 -c "print(f'  ratio cartograph/zmap: {${cg_time} / ${zmap_time}:.2f}  (goal: at most 1.5)')"
if [[ ${nmap_time} != skipped ]]; then python3 -c "print(f'  ratio cartograph/nmap: {${cg_time} / ${nmap_time}:.3f}')"; fi
