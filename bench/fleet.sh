#!/usr/bin/env bash
# The fleet at scale, on the PostgreSQL server of Scripts/pg.sh (started if it is not running,
# stopped again after), loopback only:
#
#  1. JOBS (default 10000) queued maps claimed and completed by AGENTS (default 8)
#     `cartograph agent` processes: jobs per second, and proof that no job was claimed twice
#     (every job done once, attempts 1, one map per job, no map shared by two jobs). Each job is
#     a real map: 127.0.0.1 port 9 by TCP connect, no sweep, no probes, stored in the shared store.
#     One job is queued with `cartograph map --queue`; the others copy its request in SQL.
#  2. The rate at which each store takes a /16 map's results: 65,536 hosts with two services each,
#     saved as a map's checkpoints would (16 growing checkpoints, then the whole map once more), on
#     a SQLite file and on PostgreSQL (`StoreBenchmark` in CartographStoreTests).
#
# Usage: bash bench/fleet.sh   (JOBS=N AGENTS=N to change the sizes; BIN=path to use a binary)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-10000}
AGENTS=${AGENTS:-8}

bash Scripts/deps.sh
if [[ -z ${BIN:-} ]]; then
    swift build -c release >/dev/null
    BIN=$(swift build -c release --show-bin-path)/cartograph
fi
started_pg=0
if ! bash Scripts/pg.sh status >/dev/null 2>&1; then bash Scripts/pg.sh start >/dev/null; started_pg=1; fi
out=$(mktemp -d)
export XDG_DATA_HOME="${out}/data"
cleanup() {
    jobs -p | xargs -r kill -9 2>/dev/null || true
    rm -rf "${out}"
    if [[ ${started_pg} -eq 1 ]]; then bash Scripts/pg.sh stop >/dev/null; fi
}
trap cleanup EXIT

# shellcheck source=/dev/null
source .build/pg/env
sql() { "${PG_BIN}/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "${PG_SOCKET}" -p "${PG_PORT}" -U postgres -d "$@"; }
db="fleetbench_$$"
sql postgres -c "CREATE DATABASE ${db}"
url="postgresql:///${db}?host=${PG_SOCKET}&port=${PG_PORT}&user=postgres"

"${BIN}" map 127.0.0.1 -p T:9 -n -Pn --engine connect --probes none --db "${url}" --queue >/dev/null
sql "${db}" -c "INSERT INTO job (network, scanner, strict, target, request, status, created_by)
    SELECT network, scanner, strict, target, request, status, created_by FROM job, generate_series(2, ${JOBS}) WHERE id = 1"
echo "Fleet: ${JOBS} queued maps, ${AGENTS} agents on one PostgreSQL (load: $(cut -d' ' -f1-3 /proc/loadavg))"

t0=$(date +%s.%N)
pids=()
for i in $(seq "${AGENTS}"); do
    "${BIN}" agent --network default --scanner "bench-${i}" --db "${url}" --poll 0.05 --heartbeat 5 --exit-when-idle \
        >"${out}/agent-${i}.log" 2>&1 &
    pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "${pid}" || failed=$((failed + 1)); done
t1=$(date +%s.%N)

summary=$(sql "${db}" -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE attempts = 1),
    count(DISTINCT map_id), (SELECT count(*) FROM map), (SELECT count(*) FROM map WHERE status = 'complete'),
    count(DISTINCT claimed_by) FROM job")
per_agent=$(sql "${db}" -F ' ' -c "SELECT claimed_by, count(*) FROM job GROUP BY 1 ORDER BY 1" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
python3 - "${t0}" "${t1}" "${JOBS}" "${AGENTS}" "${failed}" ${summary} "${per_agent}" <<'PY'
import sys
t0, t1 = float(sys.argv[1]), float(sys.argv[2])
jobs, agents, failed = map(int, sys.argv[3:6])
total, done, once, maps, map_rows, complete, claimers = map(int, sys.argv[6:13])
per_agent = sys.argv[13]
wall = t1 - t0
print(f"  wall {wall:.1f} s: {done / wall:.0f} jobs/s ({agents} agents, {failed} exited non-zero)")
print(f"  jobs {total}, done {done}, claimed once {once}, distinct maps {maps}; map rows {map_rows}, complete {complete}")
print(f"  agents that claimed: {claimers}; per agent: {per_agent}")
ok = done == jobs == total == once == maps == map_rows == complete and failed == 0
print(f"  no job claimed twice, every job done with a map of its own: {ok}")
PY

echo "Store: a /16 map's results (65,536 hosts, 2 services each; the debug build of the tests)"
CARTOGRAPH_BENCH=1 swift test --filter StoreBenchmark 2>&1 | sed -n 's/^store-bench: /  /p'
