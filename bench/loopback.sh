# shellcheck shell=bash disable=SC2034  # BIN and out are used by the scripts that source this
# Shared set-up of the benchmarks that run on loopback only (no lab, unlike common.sh), sourced
# from the repository root: a release build in BIN unless BIN is given, and a scratch directory
# in `out`, removed on exit, that also holds the maps' store.
if [[ -z ${BIN:-} ]]; then
    swift build -c release >/dev/null
    BIN=$(swift build -c release --show-bin-path)/cartograph
fi
out=$(mktemp -d)
trap 'rm -rf "${out}"' EXIT
export XDG_DATA_HOME="${out}/data"
