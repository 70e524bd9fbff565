#!/usr/bin/env bash
# Install every Debian package Cartograph needs (build, test lab, benchmarks).
#
# Idempotent and quiet: when everything is already installed apt is not run
# at all, so repeated runs (CI, dev machines) take a fraction of a second.
# Works without a TTY and without stdin.
#
# Usage: Scripts/deps.sh            (as root)
set -euo pipefail

PACKAGES=(
    # build: C libraries the Swift package links against
    pkg-config
    liblua5.4-dev
    libpcap-dev
    libssl-dev
    libpcre2-dev
    # test lab (Scripts/lab.sh): namespaces plus the daemons it runs in them
    iproute2
    procps
    nginx-light
    openssh-server
    redis-server
    # the tests measure the binary's peak memory through python3's getrusage, and capture
    # traffic with tcpdump to prove what was not sent
    python3
    tcpdump
    # reference scanner for benchmarks
    nmap
)

# More packages, one a line (# comments), from Scripts/deps.d/*.txt: the lab's extra services.
for list in "$(dirname "$0")"/deps.d/*.txt; do
    [[ -e ${list} ]] || continue
    while read -r pkg _; do
        [[ -n ${pkg} && ${pkg} != \#* ]] && PACKAGES+=("${pkg}")
    done <"${list}"
done

POLICY_RC=/usr/sbin/policy-rc.d

log() { printf 'deps: %s\n' "$*" >&2; }

if [[ ${EUID} -ne 0 ]]; then
    log "must run as root (it runs apt-get); try: sudo bash $0"
    exit 1
fi

# Print the packages from PACKAGES that are not fully installed.
missing_packages() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        # db:Status-Status is "installed" only for a completely configured
        # package; half-installed/config-files/unknown all count as missing.
        status=$(dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null || true)
        if [[ ${status} != installed ]]; then
            printf '%s\n' "${pkg}"
        fi
    done
}

mapfile -t missing < <(missing_packages)
if [[ ${#missing[@]} -eq 0 ]]; then
    log "all ${#PACKAGES[@]} packages already installed"
    exit 0
fi
log "installing: ${missing[*]}"

# Debian's maintainer scripts start nginx, redis and sshd right after
# installing them, in the root network namespace (listening on the host's
# real interfaces). The lab runs its own copies inside namespaces, so forbid
# that: invoke-rc.d / deb-systemd-invoke skip any action when policy-rc.d
# exits 101. Only create (and later remove) the file if there was none; an
# existing one belongs to someone else and is left untouched.
created_policy=0
cleanup() {
    if [[ ${created_policy} -eq 1 ]]; then
        rm -f "${POLICY_RC}"
    fi
}
trap cleanup EXIT
# Turn signals into a normal exit so the EXIT trap runs: a policy-rc.d left
# behind would silently stop services from starting on this machine forever.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [[ -e ${POLICY_RC} ]]; then
    log "note: ${POLICY_RC} already exists; leaving it as it is"
else
    printf '#!/bin/sh\n# Temporary, from Cartograph Scripts/deps.sh: start no services.\nexit 101\n' >"${POLICY_RC}"
    chmod 0755 "${POLICY_RC}"
    created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(
    -y -qq
    --no-install-recommends
    # Never stop to ask about changed configuration files.
    -o Dpkg::Options::=--force-confdef
    -o Dpkg::Options::=--force-confold
)

# </dev/null: nothing may wait for input, even when stdin is a terminal.
apt-get update -qq </dev/null
apt-get install "${apt_opts[@]}" "${missing[@]}" </dev/null >/dev/null

mapfile -t still_missing < <(missing_packages)
if [[ ${#still_missing[@]} -ne 0 ]]; then
    log "still not installed after apt-get: ${still_missing[*]}"
    exit 1
fi
log "done"
