#!/usr/bin/env bash
# Sets up everything and runs every test: Debian packages, build, the lab, a PostgreSQL server
# for the store suite (Scripts/pg.sh), the whole suite, then the install check (a static release
# build installed with the toolchain hidden: Scripts/check-install.sh). The lab and the server are torn down on
# the way out, whatever happens. Needs root (apt, namespaces) and a Swift 6 toolchain on PATH.
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
# The store suite runs on PostgreSQL too: a throwaway server (socket and 127.0.0.1).
trap 'bash Scripts/lab.sh down || true; bash Scripts/pg.sh stop || true' EXIT
bash Scripts/pg.sh start
swift test "$@"
# The install: a static release build, installed into an empty prefix with the toolchain hidden.
bash Scripts/check-install.sh --build
