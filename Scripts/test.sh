#!/usr/bin/env bash
# Sets up everything and runs every test: Debian packages, build, the lab, the whole suite.
# The lab is torn down on the way out, whatever happens. Needs root (apt, namespaces) and a
# Swift 6 toolchain on PATH.
#
# Usage: bash Scripts/test.sh [extra `swift test` arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${EUID} -ne 0 ]]; then
    echo "test: must run as root (it installs packages and builds network namespaces)" >&2
    exit 1
fi

bash Scripts/deps.sh
swift build
bash Scripts/lab.sh up
trap 'bash Scripts/lab.sh down' EXIT
swift test "$@"
