#!/usr/bin/env bash
# Proves the install works on a machine without the Swift toolchain: in a private mount
# namespace, an empty tmpfs stands in for /usr/local, `bash Scripts/install.sh --no-build`
# installs there exactly as a user's install would, an empty directory is mounted over the
# toolchain, and the installed `cartograph` (found on the PATH) must run, list its probes and
# profiles, map a loopback HTTP service with them, complete profile names, and - copied away
# from its resources - refuse to map with one line naming where it looked.
#
# Usage: sudo bash Scripts/check-install.sh [--build]
#   --build  first build the release binary (bash Scripts/install.sh does it otherwise)
# Needs root (mount namespaces), python3, unshare(1). Sends only to 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ ${1:-} == --build ]]; then
    start=$(date +%s)
    swift build -c release --static-swift-stdlib --product cartograph --package-path "$ROOT" \
        --scratch-path "${CARTOGRAPH_BUILD_PATH:-$ROOT/.build}"
    echo "check-install: release build took $(( $(date +%s) - start )) s"
fi

if [[ ${CHECK_INSTALL_INSIDE:-} != 1 ]]; then
    [[ $EUID == 0 ]] || { echo "check-install: needs root for a private mount namespace" >&2; exit 77; }
    swift_bin=$(readlink -f "$(command -v swift)") || { echo "check-install: no swift on the PATH to hide" >&2; exit 77; }
    # /opt/swift/usr/bin/swift-driver -> /opt/swift: the directory the toolchain lives in.
    toolchain=$(dirname "$(dirname "$(dirname "$swift_bin")")")
    exec env CHECK_INSTALL_INSIDE=1 TOOLCHAIN="$toolchain" unshare --mount --propagation private bash "$0"
fi

fail() { echo "check-install: FAIL: $*" >&2; exit 1; }
WORK=$(mktemp -d /tmp/cartograph-check-install.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mount -t tmpfs tmpfs /usr/local

# Copied away from any resources (and before the install puts them under /usr/local).
mkdir -p "$WORK/lonely" "$WORK/home"
cp "${CARTOGRAPH_BUILD_PATH:-$ROOT/.build}/release/cartograph" "$WORK/lonely/cartograph"
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config XDG_DATA_HOME=$WORK/home/.local/share
unset CARTOGRAPH_HOME
set +e
lonely=$("$WORK/lonely/cartograph" map 127.0.0.1 -p 1 -n 2>&1)
status=$?
set -e
[[ $status == 66 ]] || fail "a binary without its resources exited $status, not 66: $lonely"
[[ $lonely == *"cannot find the shipped profiles"*"/usr/share/cartograph"* ]] || fail "no line naming where it looked: $lonely"
[[ $(printf '%s\n' "$lonely" | wc -l) == 1 ]] || fail "more than one line: $lonely"

bash "$ROOT/Scripts/install.sh" --no-build
mkdir -p "$WORK/empty"
mount --bind "$WORK/empty" "$TOOLCHAIN"
cd "$WORK"
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin

! command -v swift >/dev/null 2>&1 || fail "swift is still on the PATH: $(command -v swift)"
[[ $(command -v cartograph) == /usr/local/bin/cartograph ]] || fail "cartograph on the PATH is $(command -v cartograph)"
! ldd /usr/local/bin/cartograph | grep -q 'libswift\|libFoundation\|not found' \
    || fail "the binary needs libraries that are not there: $(ldd /usr/local/bin/cartograph | grep 'swift\|Foundation\|not found')"
cartograph --version >/dev/null || fail "--version"
profiles=$(cartograph profiles list) || fail "profiles list"
[[ $profiles == *"fast "*"/usr/local/share/cartograph/Profiles/fast.yaml"* ]] || fail "profiles list: $profiles"
probes=$(cartograph probes list | wc -l)
(( probes > 10 )) || fail "probes list has $probes lines"
[[ -f /usr/local/share/man/man1/cartograph.1 ]] || fail "no man page"
bash -n /usr/local/share/bash-completion/completions/cartograph || fail "bash completion does not parse"
completion=$(cartograph ---completion map -- --profile 2 0 cartograph map --profile "")
[[ $completion == *fast* ]] || fail "completion offers no profile names: $completion"

# A map of a loopback HTTP service: probes from /usr/local/share/cartograph identify it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.1; done
lines=$(cartograph map 127.0.0.1 -p "$port" -n --format jsonl --progress none 2>"$WORK/map.err") \
    || fail "the map failed: $(cat "$WORK/map.err")"
[[ $lines == *'"service":"http"'* ]] || fail "the installed probes did not identify HTTP: $lines $(cat "$WORK/map.err")"
echo "check-install: OK: /usr/local/bin/cartograph runs with $TOOLCHAIN hidden; $probes lines of probes, HTTP on 127.0.0.1:$port identified"
