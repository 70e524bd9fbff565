#!/usr/bin/env bash
# A first real map: installs what is missing, builds, starts the lab (namespaces with nginx,
# OpenSSH and Redis behind a router), maps it with the default profile, and tears it down.
# Needs root and a Swift 6 toolchain on PATH.
#
# Usage: bash Scripts/demo.sh [extra `cartograph map` arguments, e.g. --format json]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${EUID} -ne 0 ]]; then
    echo "demo: must run as root (it installs packages and builds network namespaces)" >&2
    exit 1
fi

bash Scripts/deps.sh
swift build -c release
bash Scripts/lab.sh up
trap 'bash Scripts/lab.sh down' EXIT
BIN="$(swift build -c release --show-bin-path)/cartograph"
# The lab's maps go to the default store, in a network of their own ("lab"), so they never mix
# with maps of real networks that reuse the same addresses.
echo "demo: cartograph map 198.18.1.0/24 198.18.2.0/24 198.18.3.0/24 --profile default --network lab" >&2
bash Scripts/lab.sh exec "${BIN}" \
    map 198.18.1.0/24 198.18.2.0/24 198.18.3.0/24 --profile default --network lab "$@"
echo "demo: the stored maps (cartograph maps list --network lab):" >&2
"${BIN}" maps list --network lab >&2
