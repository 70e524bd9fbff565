#!/usr/bin/env bash
# One open port on one host behind the rate-limiting lab router, the whole map (sweep, scan,
# identification, trace, store, report): Cartograph against `nmap -sV` on the same port, side
# by side, best of RUNS runs each. Goal: the map in at most 0.3 s.
#
# Usage: bash bench/one-port.sh        (root; BIN=path compares another build; RUNS=N)
# Targets: only the lab's own hosts inside its network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=198.18.1.2
PORT=22
RUNS=${RUNS:-5}

# shellcheck source=bench/common.sh
source bench/common.sh

run_cartograph() { in_scan "${BIN}" map "${TARGET}" -p "${PORT}" -n --format json -o "${out}/cartograph.json" 2>/dev/null; }
run_nmap() { in_scan nmap -sV -n -p "${PORT}" -oX "${out}/nmap.xml" "${TARGET}" >/dev/null; }
rounds "${RUNS}" run_cartograph run_nmap
cg=${ours_best} nm=${theirs_best}
name=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['maps'][0]; print(','.join(s.get('name','?') for h in m['hosts'] for s in h['services']) or '-')" "${out}/cartograph.json")
printf 'One port (%s:%s), best of %s runs: all times: cartograph %s; nmap %s\n' "${TARGET}" "${PORT}" "${RUNS}" "${ours_times[*]}" "${theirs_times[*]}"
printf '  cartograph map -p %s -n   : %6s s  service %s  (goal: at most 0.3 s)\n' "${PORT}" "${cg}" "${name}"
printf '  nmap -sV -p %s -n         : %6s s\n' "${PORT}" "${nm}"
python3 -c "print(f'  ratio cartograph/nmap    : {${cg} / ${nm}:6.3f}')"
