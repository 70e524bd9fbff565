# shellcheck shell=bash disable=SC2034  # BIN and the helpers are used by the scripts that source this
# Shared set-up of the benchmark scripts, sourced by each (run from the repository root):
# packages, a release build in BIN, the lab (a running one is used as it is; otherwise one is
# built and removed again on exit), a scratch directory in `out`, and small helpers.
bash Scripts/deps.sh
swift build -c release >/dev/null
BIN=$(swift build -c release --show-bin-path)/cartograph

started_lab=0
if ! ip netns list | grep -qw cg-scan; then bash Scripts/lab.sh up >/dev/null; started_lab=1; fi
out=$(mktemp -d)
# Benchmark maps go to a store of their own, removed with the rest.
export XDG_DATA_HOME="${out}/data"
cleanup() {
    rm -rf "${out}"
    if [[ ${started_lab} -eq 1 ]]; then bash Scripts/lab.sh down; fi
}
trap cleanup EXIT

in_scan() { ip netns exec cg-scan "$@"; }
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
