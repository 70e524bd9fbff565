#!/bin/bash
# Recall on the lab's wide segment (Scripts/lab.d/70-wide.sh): how many of its 7 live hosts a raw
# sweep of 198.18.64.0/20 at the default rate finds, RUNS times, with the coverage warning if any.
# usage (root, lab up with the part): bash bench/wide-recall.sh [BINARY] [RUNS]
set -u
B=${1:-$(dirname "$0")/../.build/debug/cartograph}
N=${2:-5}
out=$(mktemp -d)
trap 'rm -rf "${out}"' EXIT
for ((i = 1; i <= N; i++)); do
    start=$(date +%s.%N)
    ip netns exec cg-scan "${B}" map 198.18.64.0/20 -n --engine syn -p 22 --probes none --format json \
        --db "${out}/maps.sqlite" --progress none >"${out}/map.json" 2>"${out}/err"
    rc=$?
    [[ -s "${out}/map.json" ]] || { echo "exit ${rc}: $(tail -1 "${out}/err")"; continue; }
    python3 - "${rc}" "${start}" "$(date +%s.%N)" "${out}/map.json" <<'PY'
import json, sys
live = {"198.18.64.20", "198.18.66.77", "198.18.68.140", "198.18.70.9", "198.18.73.200", "198.18.76.33", "198.18.79.250"}
m = json.load(open(sys.argv[4]))["maps"][0]
found = {h["address"] for h in m["hosts"]} & live
notes = [w for w in m.get("warnings", []) if "answers were lost" in w]
print(f"exit {sys.argv[1]}  found {len(found)}/7  {float(sys.argv[3]) - float(sys.argv[2]):.1f} s  {m['status']}  {notes[0] if notes else 'no loss seen'}")
PY
done
