"""Runs a `cartograph map ... --progress json` command and times it: the wall time and how long
each stage ran (from its first progress line to the next stage's first, or to the end), as they
arrive on stderr. Prints one JSON object: {"wall": s, "stages": {"sweep": s, ...}}.

Usage: python3 bench/stages.py CARTOGRAPH_COMMAND...   (run by the bench scripts)"""
import json
import subprocess
import sys
import time

start = time.time()
process = subprocess.Popen(sys.argv[1:] + ["--progress", "json"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
order, first = [], {}
for line in process.stderr:
    try:
        event = json.loads(line)
    except ValueError:
        continue
    stage = event.get("stage")
    if event.get("event") == "progress" and stage and stage not in first:
        first[stage] = time.time()
        order.append(stage)
process.wait()
end = time.time()
stages = {}
for index, stage in enumerate(order):
    until = first[order[index + 1]] if index + 1 < len(order) else end
    stages[stage] = round(until - first[stage], 3)
print(json.dumps({"wall": round(end - start, 3), "status": process.returncode, "stages": stages}))
