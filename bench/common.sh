# shellcheck shell=bash disable=SC2034  # BIN and the helpers are used by the scripts that source this
# Shared set-up of the benchmark scripts, sourced by each (run from the repository root):
# packages, a release build in BIN (or the binary BIN already names, to compare builds), the lab (a running one is used as it is; otherwise one is
# built and removed again on exit), a scratch directory in `out`, and small helpers.
bash Scripts/deps.sh
if [[ -z ${BIN:-} ]]; then
    swift build -c release >/dev/null
    BIN=$(swift build -c release --show-bin-path)/cartograph
fi

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

# rounds N OURS THEIRS: N rounds, each running the function OURS then the function THEIRS (so
# both see the same lab state), timing each. Sets the arrays ours_times and theirs_times and
# the best times ours_best and theirs_best.
rounds() {
    local n=$1 ours=$2 theirs=$3 t0 t1 t2
    ours_times=() theirs_times=()
    for _ in $(seq "${n}"); do
        t0=$(now); "${ours}"; t1=$(now); "${theirs}"; t2=$(now)
        ours_times+=("$(elapsed "${t0}" "${t1}")")
        theirs_times+=("$(elapsed "${t1}" "${t2}")")
    done
    ours_best=$(printf '%s\n' "${ours_times[@]}" | sort -n | head -1)
    theirs_best=$(printf '%s\n' "${theirs_times[@]}" | sort -n | head -1)
}
