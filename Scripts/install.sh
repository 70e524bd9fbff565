#!/usr/bin/env bash
# Install cartograph from this clone: a release build with the Swift standard library linked in
# statically (the installed binary needs no Swift toolchain), the probes, profiles and word
# lists, the man page, and bash and zsh completions.
#
# Usage: bash Scripts/install.sh [--prefix /usr/local] [--destdir DIR] [--no-build]
#   --prefix DIR   where it goes (default /usr/local): DIR/bin/cartograph,
#                  DIR/share/cartograph/{Probes,Profiles}, DIR/share/man/man1/cartograph.1,
#                  DIR/share/bash-completion/completions/cartograph,
#                  DIR/share/zsh/site-functions/_cartograph
#   --destdir DIR  stage the files under DIR (for packaging); the binary still finds its
#                  resources, since it looks in ../share/cartograph next to its own directory
#   --no-build     install the release binary built before (the build needs the toolchain;
#                  the rest of this script does not)
#   --strip        strip the binary's symbols (about 99 MB -> 66 MB; crash backtraces lose names)
#
# At run time the binary needs the shared C libraries it links: on Debian 12 liblua5.4-0,
# libpcap0.8, libssl3, libpcre2-8-0 and libsqlite3-0 (the -dev packages of Scripts/deps.sh
# pull them in). Scripts/check-install.sh proves an install runs with the toolchain hidden.
set -euo pipefail

PREFIX=/usr/local
DESTDIR=
BUILD=1
STRIP=
SCRATCH=${CARTOGRAPH_BUILD_PATH:-}
while [[ $# -gt 0 ]]; do
    case $1 in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --destdir) DESTDIR=${2:?--destdir needs a directory}; shift 2 ;;
        --destdir=*) DESTDIR=${1#*=}; shift ;;
        --no-build) BUILD=0; shift ;;
        --strip) STRIP=-s; shift ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done
[[ $PREFIX == /* ]] || { echo "install.sh: --prefix must be an absolute path, not $PREFIX" >&2; exit 64; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SCRATCH=${SCRATCH:-$ROOT/.build}
BIN=$SCRATCH/release/cartograph

if [[ $BUILD == 1 ]]; then
    echo "install.sh: building release with the static Swift standard library (several minutes)"
    swift build -c release --static-swift-stdlib --product cartograph --scratch-path "$SCRATCH"
fi
[[ -x $BIN ]] || { echo "install.sh: no release binary at $BIN; run without --no-build" >&2; exit 66; }
for dir in Probes Profiles; do
    [[ -d $ROOT/$dir ]] || { echo "install.sh: $ROOT/$dir is missing; run this from a clone" >&2; exit 66; }
done

TOP=$DESTDIR$PREFIX
SHARE=$TOP/share/cartograph
install -d -m 0755 "$TOP/bin" "$SHARE" "$TOP/share/man/man1" \
    "$TOP/share/bash-completion/completions" "$TOP/share/zsh/site-functions"
install -m 0755 $STRIP "$BIN" "$TOP/bin/cartograph"
# The shipped probes and profiles replace an earlier install's whole (a probe removed from the
# clone must not linger); the user's own live in ~/.config/cartograph and are never touched.
for dir in Probes Profiles; do
    rm -rf "${SHARE:?}/$dir"
    cp -R "$ROOT/$dir" "$SHARE/$dir"
    find "$SHARE/$dir" -name __pycache__ -prune -exec rm -rf {} +
    # Probes are code a map runs: owned by the installer and writable by no one else.
    find "$SHARE/$dir" -type d -exec chmod 0755 {} +
    find "$SHARE/$dir" -type f -exec chmod 0644 {} +
done
install -m 0644 "$ROOT/docs/cartograph.1" "$TOP/share/man/man1/cartograph.1"
"$TOP/bin/cartograph" --generate-completion-script bash > "$TOP/share/bash-completion/completions/cartograph"
"$TOP/bin/cartograph" --generate-completion-script zsh > "$TOP/share/zsh/site-functions/_cartograph"
chmod 0644 "$TOP/share/bash-completion/completions/cartograph" "$TOP/share/zsh/site-functions/_cartograph"

echo "install.sh: installed $PREFIX/bin/cartograph with $(find "$SHARE/Probes" -name '*.lua' | wc -l) probe files and $(find "$SHARE/Profiles" -maxdepth 1 -name '*.yaml' | wc -l) profiles under $PREFIX/share/cartograph${DESTDIR:+ (staged in $DESTDIR)}"
