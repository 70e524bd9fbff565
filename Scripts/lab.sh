#!/usr/bin/env bash
# Cartograph test lab: a small routed network built from Linux network
# namespaces and veth pairs, with real Debian daemons to scan.
#
#   cg-scan (198.18.0.2) -- cg-router -- cg-h1 (198.18.1.2)  nginx :80, sshd :22
#                                     -- cg-h2 (198.18.2.2)  nginx :8080, sshd :2222,
#                                                            redis :6379, redis :7777
#                                     -- cg-h3 (198.18.3.2)  nothing listening
#
# 198.18.0.0/15 is the RFC 2544 benchmarking range: it is never routed on the
# Internet and never collides with a real LAN. No traffic ever leaves the lab
# namespaces; the host's own interfaces, routes and sysctls are not touched.
#
# Usage: Scripts/lab.sh up|down|status|exec CMD...      (as root)
# Needs the packages from Scripts/deps.sh.
set -euo pipefail

LAB_DIR=${CARTOGRAPH_LAB_DIR:-/run/cartograph-lab}
# Written into LAB_DIR so that `down` only ever deletes a directory it made.
MARKER=.cartograph-lab

NS_SCAN=cg-scan
NS_ROUTER=cg-router
# Every namespace the base lab creates. Hosts added later through add_host are
# also recorded in ${LAB_DIR}/namespaces, so `down` finds them too.
BASE_NAMESPACES=("${NS_SCAN}" "${NS_ROUTER}" cg-h1 cg-h2 cg-h3)

WAIT_SECONDS=15   # total budget for all daemons to accept connections

SCRIPT_NAME=$(basename "$0")
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)

log() { printf 'lab: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

usage() {
    cat >&2 <<EOF
usage: ${SCRIPT_NAME} up | down | status | exec CMD [ARG...] | add PART | remove-host NS
  up       (re)create the lab and start its daemons; waits until they answer
  down     stop everything and remove the namespaces and ${LAB_DIR}
  status   exit 0 only if every namespace exists and every daemon answers
  exec     run CMD inside the scanner namespace (${NS_SCAN})
  add PART          build one Scripts/lab.d part into the running lab
  remove-host NS    stop a lab host's daemons and delete its namespace
state dir: \${CARTOGRAPH_LAB_DIR:-/run/cartograph-lab} (now ${LAB_DIR})
EOF
}

case ${LAB_DIR} in
    /?*) ;;
    *) die "CARTOGRAPH_LAB_DIR must be an absolute path other than / (got '${LAB_DIR}')" ;;
esac

if [[ ${EUID} -ne 0 ]]; then
    die "must run as root (network namespaces need CAP_NET_ADMIN); try: sudo bash $0 ${*:-up}"
fi

# ---------------------------------------------------------------------------
# Addressing. Host INDEX gets 198.18.INDEX.0/24 and fd7c:a7:INDEX::/64; the
# router is .1 / ::1 on every link, the host .2 / ::2. The scanner is index 0.
# (The v6 group is the decimal index written as is, so 1..9 read the same in
# both families.) 198.19.0.0/16, the other half of the /15, is left free for
# a future "many addresses behind the router" network.
# ---------------------------------------------------------------------------
v4_router() { printf '198.18.%d.1' "$1"; }
v4_host()   { printf '198.18.%d.2' "$1"; }
v6_router() { printf 'fd7c:a7:%d::1' "$1"; }
v6_host()   { printf 'fd7c:a7:%d::2' "$1"; }

ns_exists() { ip netns list | awk '{print $1}' | grep -qxF -- "$1"; }

# Run a command inside a namespace.
in_ns() { local ns=$1; shift; ip netns exec "${ns}" "$@"; }

# Lab namespaces currently known: the base set plus any recorded by add_host.
lab_namespaces() {
    {
        printf '%s\n' "${BASE_NAMESPACES[@]}"
        if [[ -f ${LAB_DIR}/namespaces ]]; then
            cat "${LAB_DIR}/namespaces"
        fi
    } | awk 'NF && !seen[$0]++'
}

# Create an empty namespace with loopback up.
create_ns() {
    local ns=$1
    ip netns add "${ns}"
    printf '%s\n' "${ns}" >>"${LAB_DIR}/namespaces"
    in_ns "${ns}" ip link set lo up
    # The kernel rate-limits ICMP errors (port/host unreachable) per peer,
    # which makes UDP "closed" results and unreachable detection flaky in
    # tests. Inside the lab there is nothing to protect, so switch it off.
    in_ns "${ns}" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
    # No duplicate address detection on links created from now on. "nodad"
    # below covers the global addresses, but the automatic link-local ones
    # (used as the source of neighbour discovery) would still be tentative
    # for a second or two, and IPv6 would not work until then.
    in_ns "${ns}" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
}

# add_network SCANNER HOST INDEX: a network of its own, not linked to the router: namespace
# SCANNER (a scanner of that network, the link's .1 / ::1) and HOST (.2 / ::2) on one veth
# pair, addressed as host INDEX is (see above). Used for the lab's other networks (lab.d/6*).
add_network() {
    local scanner=$1 host=$2 index=$3
    create_ns "${scanner}"
    create_ns "${host}"
    in_ns "${scanner}" ip link add eth0 type veth peer name eth0 netns "${host}"
    in_ns "${scanner}" ip addr add "$(v4_router "${index}")/24" dev eth0
    in_ns "${scanner}" ip -6 addr add "$(v6_router "${index}")/64" dev eth0 nodad
    in_ns "${scanner}" ip link set eth0 up
    in_ns "${host}" ip addr add "$(v4_host "${index}")/24" dev eth0
    in_ns "${host}" ip -6 addr add "$(v6_host "${index}")/64" dev eth0 nodad
    in_ns "${host}" ip link set eth0 up
}

# add_host NAME INDEX: create namespace NAME linked to the router by a veth
# pair (router side "to-NAME-without-cg-", host side "eth0"), addressed as
# described above, with default routes via the router. The scanner is built
# with this too (index 0). Used for future hosts (DNS server, ...) as well.
add_host() {
    local ns=$1 index=$2
    local rif="to-${ns#cg-}"
    [[ ${#rif} -le 15 ]] || die "interface name ${rif} too long (max 15); shorten host name ${ns}"

    create_ns "${ns}"
    # Create the pair inside the router namespace and push the peer straight
    # into the host namespace: the veths never exist in the root namespace.
    in_ns "${NS_ROUTER}" ip link add "${rif}" type veth peer name eth0 netns "${ns}"

    # nodad: no duplicate address detection, so v6 addresses work at once
    # instead of staying "tentative" for a second or two.
    in_ns "${NS_ROUTER}" ip addr add "$(v4_router "${index}")/24" dev "${rif}"
    in_ns "${NS_ROUTER}" ip -6 addr add "$(v6_router "${index}")/64" dev "${rif}" nodad
    in_ns "${NS_ROUTER}" ip link set "${rif}" up

    in_ns "${ns}" ip addr add "$(v4_host "${index}")/24" dev eth0
    in_ns "${ns}" ip -6 addr add "$(v6_host "${index}")/64" dev eth0 nodad
    in_ns "${ns}" ip link set eth0 up
    in_ns "${ns}" ip route add default via "$(v4_router "${index}")"
    in_ns "${ns}" ip -6 route add default via "$(v6_router "${index}")"
}

create_router() {
    create_ns "${NS_ROUTER}"
    # These sysctls are per network namespace: only the router forwards.
    in_ns "${NS_ROUTER}" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    # The router is unfriendly as real ones are: its ICMP errors (time exceeded, unreachable)
    # are rate-limited per destination, Linux's defaults (one a second after a burst of about
    # six), so a scanner that waits for every error, or asks for many, is measured as slow.
    in_ns "${NS_ROUTER}" sysctl -qw net.ipv4.icmp_ratelimit=1000 net.ipv6.icmp.ratelimit=1000
}

# ---------------------------------------------------------------------------
# Services. Each one gets a directory ${LAB_DIR}/NS/KIND-PORT holding its
# config, pid file and log, and is registered in ${LAB_DIR}/services as
#   NAME NS ADDRESS PORT LOGFILE
# (one line per address it listens on), which `up` and `status` probe.
# ---------------------------------------------------------------------------
# register NAME NS ADDRESS PORT LOGFILE [tcp|udp]: an endpoint `up` waits for and `status`
# checks. TCP endpoints must accept a connection from the scanner (from ${PROBE_FROM} when a
# part sets it: a network of its own has its own scanner); UDP ones (which cannot be checked
# from outside without speaking their protocol) must have a socket bound in NS.
PROBE_FROM=""
register() {
    printf '%s %s %s %s %s %s %s\n' "$1" "$2" "$3" "$4" "$5" "${6:-tcp}" "${PROBE_FROM:-${NS_SCAN}}" \
        >>"${LAB_DIR}/services"
}

# Start a daemon inside a namespace. Its stdin/stdout/stderr go to its log
# file, never to ours: a daemon that inherited our stdout would keep a caller
# that reads it (CI, $(...)) waiting forever.
start_in_ns() {
    local ns=$1 logfile=$2; shift 2
    in_ns "${ns}" "$@" </dev/null >>"${logfile}" 2>&1
}

# service_failed NAME NS ADDRESS PORT LOGFILE WHY
service_failed() {
    local name=$1 ns=$2 addr=$3 port=$4 logfile=$5 why=$6
    local hostport="${addr}:${port}"
    [[ ${addr} == *:* ]] && hostport="[${addr}]:${port}"
    log "FAILED: ${name} in ${ns} on ${hostport} ${why}; last lines of ${logfile}:"
    if [[ -s ${logfile} ]]; then
        tail -n 5 "${logfile}" | sed 's/^/lab:   | /' >&2
    else
        log "  | (log is empty)"
    fi
}

start_nginx() {
    local ns=$1 index=$2 port=$3 cert=${4:-}
    local dir="${LAB_DIR}/${ns}/nginx-${port}"
    local addr6 name="nginx:${port}" ssl="" tls_lines=""
    addr6=$(v6_host "${index}")
    # A fourth argument, a certificate path without .crt/.key, serves HTTPS instead.
    if [[ -n ${cert} ]]; then
        ssl=" ssl"
        tls_lines="ssl_certificate ${cert}.crt; ssl_certificate_key ${cert}.key; ssl_protocols TLSv1.2 TLSv1.3;"
    fi
    mkdir -p "${dir}/www" "${dir}/tmp"
    printf '<!doctype html>\n<title>cartograph lab %s</title>\n<p>%s nginx on port %s</p>\n' \
        "${ns}" "${ns}" "${port}" >"${dir}/www/index.html"
    # Everything (pid, logs, temp dirs, mime types) points into ${dir}, so
    # nothing under /etc/nginx or /var is read or written.
    cat >"${dir}/nginx.conf" <<EOF
# Generated by Scripts/lab.sh for ${ns}.
user www-data;
worker_processes 1;
daemon on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
events { worker_connections 64; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/tmp/client_body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
    # Keep "Server: nginx/1.22.1": version detection tests rely on it.
    server_tokens on;
    types { text/html html; text/plain txt; }
    default_type text/plain;
    server {
        listen $(v4_host "${index}"):${port}${ssl};
        listen [${addr6}]:${port}${ssl};
        ${tls_lines}
        root ${dir}/www;
        index index.html;
    }
}
EOF
    register "${name}" "${ns}" "$(v4_host "${index}")" "${port}" "${dir}/error.log"
    register "${name}" "${ns}" "${addr6}" "${port}" "${dir}/error.log"
    # -e: log startup errors to our file, not to the compiled-in default.
    if ! start_in_ns "${ns}" "${dir}/error.log" \
        /usr/sbin/nginx -c "${dir}/nginx.conf" -p "${dir}" -e "${dir}/error.log"; then
        service_failed "${name}" "${ns}" "$(v4_host "${index}")" "${port}" "${dir}/error.log" "did not start"
        return 1
    fi
}

start_sshd() {
    local ns=$1 index=$2 port=$3
    local dir="${LAB_DIR}/${ns}/sshd-${port}"
    local name="sshd:${port}"
    mkdir -p "${dir}"
    # Privilege separation directory, compiled into Debian's sshd; it must
    # exist and be root-owned, not group/world writable.
    install -d -m 0755 -o root -g root /run/sshd
    ssh-keygen -q -N '' -t ed25519 -C "cartograph-lab-${ns}" -f "${dir}/ssh_host_ed25519_key"
    cat >"${dir}/sshd_config" <<EOF
# Generated by Scripts/lab.sh for ${ns}. Only the banner/key exchange
# matters for the lab; nobody can log in.
Port ${port}
ListenAddress $(v4_host "${index}")
ListenAddress $(v6_host "${index}")
HostKey ${dir}/ssh_host_ed25519_key
PidFile ${dir}/sshd.pid
UsePAM no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication no
EOF
    register "${name}" "${ns}" "$(v4_host "${index}")" "${port}" "${dir}/sshd.log"
    register "${name}" "${ns}" "$(v6_host "${index}")" "${port}" "${dir}/sshd.log"
    # Absolute path: sshd re-executes itself and refuses a relative one.
    # -E: log to a file (there is no syslog in the lab).
    if ! start_in_ns "${ns}" "${dir}/sshd.log" \
        /usr/sbin/sshd -f "${dir}/sshd_config" -E "${dir}/sshd.log"; then
        service_failed "${name}" "${ns}" "$(v4_host "${index}")" "${port}" "${dir}/sshd.log" "did not start"
        return 1
    fi
}

start_redis() {
    local ns=$1 index=$2 port=$3
    local dir="${LAB_DIR}/${ns}/redis-${port}"
    local name="redis:${port}"
    mkdir -p "${dir}"
    cat >"${dir}/redis.conf" <<EOF
# Generated by Scripts/lab.sh for ${ns}.
bind $(v4_host "${index}") $(v6_host "${index}")
port ${port}
# Answer clients from other hosts without a password (it's a lab).
protected-mode no
daemonize yes
supervised no
pidfile ${dir}/redis.pid
logfile ${dir}/redis.log
dir ${dir}
# No persistence.
save ""
appendonly no
EOF
    register "${name}" "${ns}" "$(v4_host "${index}")" "${port}" "${dir}/redis.log"
    register "${name}" "${ns}" "$(v6_host "${index}")" "${port}" "${dir}/redis.log"
    if ! start_in_ns "${ns}" "${dir}/redis.log" /usr/bin/redis-server "${dir}/redis.conf"; then
        service_failed "${name}" "${ns}" "$(v4_host "${index}")" "${port}" "${dir}/redis.log" "did not start"
        return 1
    fi
}

# ---------------------------------------------------------------------------
# Probing, always from the scanner namespace, so a success also proves the
# routing through cg-router works.
# ---------------------------------------------------------------------------
probe() {
    local addr=$1 port=$2 proto=${3:-tcp} ns=${4:-} from=${5:-${NS_SCAN}}
    if [[ ${proto} == udp ]]; then
        [[ -n $(ip netns exec "${ns}" ss -Hlun "sport = :${port}" 2>/dev/null) ]]
        return
    fi
    # bash's /dev/tcp connects (IPv4 or IPv6) and the shell exits right away.
    # shellcheck disable=SC2016  # $0/$1 are expanded by the inner bash
    timeout 1 ip netns exec "${from}" \
        bash -c 'exec 3<>"/dev/tcp/$0/$1"' "${addr}" "${port}" </dev/null 2>/dev/null
}

# Wait until every registered endpoint accepts a connection, WAIT_SECONDS in
# total. Returns 1 (after naming the culprit) on the first that never does.
wait_for_services() {
    local deadline=$((SECONDS + WAIT_SECONDS))
    local name ns addr port logfile proto from
    while read -r name ns addr port logfile proto from; do
        until probe "${addr}" "${port}" "${proto}" "${ns}" "${from}"; do
            if ((SECONDS >= deadline)); then
                service_failed "${name}" "${ns}" "${addr}" "${port}" "${logfile}" \
                    "did not answer (${proto:-tcp}) within ${WAIT_SECONDS}s"
                return 1
            fi
            sleep 0.2
        done
    done <"${LAB_DIR}/services"
}

print_summary() {
    local index ns ports
    printf 'lab is up (state in %s)\n' "${LAB_DIR}"
    printf '  %-8s %-10s %-11s %-13s %s\n' scanner "${NS_SCAN}" "$(v4_host 0)" "$(v6_host 0)" \
        "run tools here with: ${SCRIPT_NAME} exec CMD"
    printf '  %-8s %-10s %-11s %-13s %s\n' router "${NS_ROUTER}" "$(v4_router 0)" "$(v6_router 0)" \
        "(.1 / ::1 on every link) forwards v4+v6"
    for index in 1 2 3; do
        ns="cg-h${index}"
        # Distinct NAME per port from the registry, in start order.
        ports=$(awk -v ns="${ns}" '$2 == ns && !seen[$1]++ {printf "%s%s", sep, $1; sep=", "}' \
            "${LAB_DIR}/services")
        printf '  %-8s %-10s %-11s %-13s open: %s\n' "h${index}" "${ns}" \
            "$(v4_host "${index}")" "$(v6_host "${index}")" "${ports:-none (all ports closed)}"
    done
}

# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------
cmd_down() {
    local ns pids
    local -a namespaces
    mapfile -t namespaces < <(lab_namespaces)

    # Kill every process in every lab namespace, politely first.
    for ns in "${namespaces[@]}"; do
        ns_exists "${ns}" || continue
        ip netns pids "${ns}" 2>/dev/null | xargs -r kill 2>/dev/null || true
    done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=""
        for ns in "${namespaces[@]}"; do
            ns_exists "${ns}" || continue
            pids+=$(ip netns pids "${ns}" 2>/dev/null || true)
        done
        [[ -z ${pids} ]] && break
        sleep 0.2
    done
    for ns in "${namespaces[@]}"; do
        ns_exists "${ns}" || continue
        ip netns pids "${ns}" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    done

    # Deleting a namespace deletes the veth ends inside it (and with them
    # their peers in the other namespaces).
    for ns in "${namespaces[@]}"; do
        if ns_exists "${ns}"; then
            ip netns delete "${ns}" 2>/dev/null || log "warning: could not delete namespace ${ns}"
        fi
    done

    restore_resolver
    open_lab_ranges
    remove_state_dir
}

# While the lab is up, its address ranges go nowhere from the machine's own namespace: a
# scanner started outside `lab.sh exec` by mistake gets "network unreachable" instead of
# sending the lab's addresses out of the machine's default route. Only the routes made here
# (blackhole, metric LAB_GUARD_METRIC) are ever removed.
LAB_V4_RANGE=198.18.0.0/15
LAB_V6_RANGE=fd7c:a7::/32
LAB_GUARD_METRIC=77
seal_lab_ranges() {
    ip route add blackhole "${LAB_V4_RANGE}" metric "${LAB_GUARD_METRIC}" 2>/dev/null ||
        ip route show type blackhole | grep -q "^blackhole ${LAB_V4_RANGE} metric ${LAB_GUARD_METRIC}" ||
        log "warning: could not route ${LAB_V4_RANGE} to a blackhole outside the lab"
    ip -6 route add blackhole "${LAB_V6_RANGE}" metric "${LAB_GUARD_METRIC}" 2>/dev/null ||
        ip -6 route show type blackhole | grep -q "^blackhole ${LAB_V6_RANGE} .*metric ${LAB_GUARD_METRIC}" ||
        log "warning: could not route ${LAB_V6_RANGE} to a blackhole outside the lab"
}

open_lab_ranges() {
    ip route del blackhole "${LAB_V4_RANGE}" metric "${LAB_GUARD_METRIC}" 2>/dev/null || true
    ip -6 route del blackhole "${LAB_V6_RANGE}" metric "${LAB_GUARD_METRIC}" 2>/dev/null || true
}

# Name lookups made inside the scanner namespace must stay in the lab too:
# `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf,
# so point the scanner's resolver at the lab's own BIND on cg-h4 (lab.d/40-h4.sh),
# which serves lab.test and the lab's reverse zones.
isolate_resolver() {
    mkdir -p "/etc/netns/${NS_SCAN}"
    printf '# written by Scripts/lab.sh\nnameserver %s\noptions timeout:1 attempts:1\n' "$(v4_host 4)" \
        >"/etc/netns/${NS_SCAN}/resolv.conf"
}

restore_resolver() {
    local conf="/etc/netns/${NS_SCAN}/resolv.conf"
    if [[ -f ${conf} ]] && grep -q 'written by Scripts/lab.sh' "${conf}"; then
        rm -f -- "${conf}"
        rmdir "/etc/netns/${NS_SCAN}" 2>/dev/null || true
    fi
}

# rm -rf with guard rails: CARTOGRAPH_LAB_DIR comes from the environment, and
# a typo there must never wipe an unrelated directory.
remove_state_dir() {
    [[ -e ${LAB_DIR} ]] || return 0
    if [[ ! -d ${LAB_DIR} ]]; then
        log "refusing to remove ${LAB_DIR}: not a directory"
        return 1
    fi
    if [[ -f ${LAB_DIR}/${MARKER} ]] || [[ -z $(ls -A "${LAB_DIR}") ]]; then
        rm -rf -- "${LAB_DIR}"
    else
        log "refusing to remove ${LAB_DIR}: it has no ${MARKER} marker, so the lab did not create it"
        return 1
    fi
}

check_tools() {
    local tool missing=()
    for tool in ip sysctl timeout ssh-keygen /usr/sbin/sshd /usr/sbin/nginx /usr/bin/redis-server; do
        command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
    done
    if [[ ${#missing[@]} -ne 0 ]]; then
        die "missing ${missing[*]}; install the lab packages with: bash Scripts/deps.sh"
    fi
}

up_failed() {
    log "up failed; tearing the lab down"
    cmd_down >/dev/null 2>&1 || true
}

cmd_up() {
    check_tools
    # A crashed earlier run may have left half a lab behind.
    if ! cmd_down >/dev/null; then
        die "could not remove the previous lab (see above)"
    fi

    mkdir -p "${LAB_DIR}"
    touch "${LAB_DIR}/${MARKER}" "${LAB_DIR}/namespaces" "${LAB_DIR}/services"

    # Whatever goes wrong from here on (a daemon that fails, any command
    # failing under set -e), leave no half-built lab behind.
    trap up_failed EXIT

    seal_lab_ranges
    create_router
    isolate_resolver
    add_host "${NS_SCAN}" 0
    add_host cg-h1 1
    add_host cg-h2 2
    add_host cg-h3 3   # alive (answers ping, sends RST) but runs nothing

    start_nginx cg-h1 1 80
    start_sshd cg-h1 1 22

    start_nginx cg-h2 2 8080
    start_sshd cg-h2 2 2222
    start_redis cg-h2 2 6379
    start_redis cg-h2 2 7777

    # More hosts and services: each Scripts/lab.d/*.sh is sourced here, in name order, and
    # builds its part with add_host, register and start_in_ns (see the functions above).
    local part
    for part in "${SCRIPT_DIR}"/lab.d/*.sh; do
        [[ -e ${part} ]] || continue
        # shellcheck source=/dev/null
        source "${part}"
    done

    wait_for_services
    trap - EXIT
    print_summary
}

# status [--only A,B] [--except A,B]: every namespace exists and every registered endpoint
# answers; --only checks just the endpoints of those namespaces or addresses, --except leaves
# those namespaces' endpoints out (the lab tests check the breadth parts' many daemons only in
# the tests that map them).
cmd_status() {
    local ns bad=0 name addr port logfile hostport proto from only="" except=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --only) only=",$2,"; shift 2 ;;
            --except) except=",$2,"; shift 2 ;;
            *) die "usage: ${SCRIPT_NAME} status [--only NS|ADDRESS,...] [--except NS,...]" ;;
        esac
    done
    for ns in $(lab_namespaces); do
        if ! ns_exists "${ns}"; then
            log "missing namespace: ${ns}"
            bad=1
        fi
    done
    if [[ ! -s ${LAB_DIR}/services ]]; then
        log "no service registry at ${LAB_DIR}/services: the lab is not up (run: ${SCRIPT_NAME} up)"
        return 1
    fi
    if ns_exists "${NS_SCAN}"; then
        while read -r name ns addr port logfile proto from; do
            if [[ -n ${only} && ${only} != *",${ns},"* && ${only} != *",${addr},"* ]]; then continue; fi
            if [[ -n ${except} && ${except} == *",${ns},"* ]]; then continue; fi
            hostport="${addr}:${port}"
            [[ ${addr} == *:* ]] && hostport="[${addr}]:${port}"
            if ! probe "${addr}" "${port}" "${proto}" "${ns}" "${from}"; then
                log "not answering: ${name} in ${ns} on ${hostport} (log: ${logfile})"
                bad=1
            fi
        done <"${LAB_DIR}/services"
    fi
    if [[ ${bad} -ne 0 ]]; then
        return 1
    fi
    printf 'lab is up: %d namespaces, %d endpoints answering\n' \
        "$(lab_namespaces | wc -l)" "$(wc -l <"${LAB_DIR}/services")"
}

# add PART: build one Scripts/lab.d part into the running lab (to work on a part without
# rebuilding everything); remove-host NS: stop a host's daemons and delete its namespace.
cmd_add() {
    local part=${1:-}
    [[ -f ${part} ]] || die "usage: ${SCRIPT_NAME} add Scripts/lab.d/PART.sh"
    ns_exists "${NS_ROUTER}" || die "the lab is not up (run: ${SCRIPT_NAME} up)"
    # shellcheck source=/dev/null
    source "${part}"
    wait_for_services
    print_summary
}

cmd_remove_host() {
    local ns=${1:-}
    [[ ${ns} == cg-* && ${ns} != "${NS_SCAN}" && ${ns} != "${NS_ROUTER}" ]] || die "usage: ${SCRIPT_NAME} remove-host cg-NAME"
    if ns_exists "${ns}"; then
        ip netns pids "${ns}" 2>/dev/null | xargs -r kill 2>/dev/null || true
        sleep 0.5
        ip netns pids "${ns}" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns delete "${ns}"
    fi
    # Forget its endpoints and its record, so status and a later add start clean.
    if [[ -f ${LAB_DIR}/services ]]; then
        awk -v ns="${ns}" '$2 != ns' "${LAB_DIR}/services" >"${LAB_DIR}/services.new"
        mv "${LAB_DIR}/services.new" "${LAB_DIR}/services"
    fi
    if [[ -f ${LAB_DIR}/namespaces ]]; then
        grep -vxF -- "${ns}" "${LAB_DIR}/namespaces" >"${LAB_DIR}/namespaces.new" || true
        mv "${LAB_DIR}/namespaces.new" "${LAB_DIR}/namespaces"
    fi
    rm -rf -- "${LAB_DIR:?}/${ns}"
    ip netns exec "${NS_ROUTER}" ip link del "to-${ns#cg-}" 2>/dev/null || true
}

cmd_exec() {
    [[ $# -gt 0 ]] || { usage; exit 2; }
    ns_exists "${NS_SCAN}" || die "namespace ${NS_SCAN} does not exist (run: ${SCRIPT_NAME} up)"
    exec ip netns exec "${NS_SCAN}" "$@"
}

main() {
    local cmd=${1:-}
    # Daemons started by up and add live in a session of their own, away from the caller's
    # process group: some daemons signal their whole group when they stop (kill(0, SIGTERM)),
    # and in the caller's group that would end the caller's shell - CI's run, the test script -
    # when `down` stops them. down runs apart too, so nothing it stops can reach its caller.
    case ${cmd} in
        up | add | down | remove-host)
            if [[ ${CG_LAB_OWN_SESSION:-} != 1 ]]; then
                CG_LAB_OWN_SESSION=1 exec setsid --wait bash "${SCRIPT_DIR}/${SCRIPT_NAME}" "$@"
            fi
            ;;
    esac
    [[ $# -gt 0 ]] && shift
    case ${cmd} in
        up) cmd_up ;;
        down) cmd_down ;;
        status) cmd_status "$@" ;;
        exec) cmd_exec "$@" ;;
        add) cmd_add "$@" ;;
        remove-host) cmd_remove_host "$@" ;;
        -h | --help | help) usage ;;
        *) usage; exit 2 ;;
    esac
}

main "$@"
