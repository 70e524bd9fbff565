#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store tests (Debian's postgresql, see deps.d/h5.txt and
# deps.d/store-pg.txt): initdb in a temporary directory owned by the `postgres` user (when run as
# root; else by the caller), listening on a Unix socket directory and on 127.0.0.1 at a free port,
# with TLS (a self-signed certificate). Local socket connections are trusted; TCP ones need a
# password (SCRAM): the role `cartograph` has one, for the password and TLS tests.
# The tests find the server through .build/pg/env (written here, removed by stop).
#
# Usage: bash Scripts/pg.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.build/pg
ENV_FILE=${STATE}/env

bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -x ${dir}/initdb ]] || { echo "pg: no PostgreSQL server found (apt-get install postgresql, or bash Scripts/deps.sh)" >&2; exit 1; }
    echo "${dir}"
}

# Runs a command as the server's owner.
as_owner() {
    if [[ ${EUID} -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() {
    [[ -f ${ENV_FILE} ]] || return 1
    # shellcheck disable=SC1090
    source "${ENV_FILE}"
    as_owner "${PG_BIN}/pg_ctl" status -D "${PG_DATA}" >/dev/null 2>&1
}

start() {
    if running; then
        echo "pg: already running (socket ${PG_SOCKET}, 127.0.0.1:${PG_PORT})"
        return
    fi
    local bin dir port
    bin=$(bindir)
    dir=$(mktemp -d /tmp/cartograph-pg.XXXXXX)
    chmod 0755 "${dir}"
    mkdir -p "${dir}/data" "${dir}/socket"
    if [[ ${EUID} -eq 0 ]]; then chown -R postgres:postgres "${dir}"; fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "${bin}/initdb" -D "${dir}/data" -U postgres -A trust --auth-host=scram-sha-256 -E UTF8 --no-locale \
        >"${dir}/initdb.log" 2>&1 || { cat "${dir}/initdb.log" >&2; exit 1; }
    as_owner openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
        -keyout "${dir}/data/server.key" -out "${dir}/data/server.crt" >/dev/null 2>&1
    as_owner chmod 0600 "${dir}/data/server.key"
    as_owner tee -a "${dir}/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${dir}/socket'
ssl = on
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    as_owner "${bin}/pg_ctl" start -w -t 60 -D "${dir}/data" -l "${dir}/server.log" >/dev/null \
        || { cat "${dir}/server.log" >&2; exit 1; }
    as_owner "${bin}/psql" -q -h "${dir}/socket" -p "${port}" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE cartograph LOGIN CREATEDB PASSWORD 'cartograph-test'" >/dev/null
    mkdir -p "${STATE}"
    cat >"${ENV_FILE}" <<EOF
PG_BIN=${bin}
PG_DIR=${dir}
PG_DATA=${dir}/data
PG_SOCKET=${dir}/socket
PG_PORT=${port}
PG_ROLE=cartograph
PG_ROLE_PASSWORD=cartograph-test
EOF
    echo "pg: running (socket ${dir}/socket, 127.0.0.1:${port})"
}

stop() {
    if ! running; then
        rm -f "${ENV_FILE}"
        echo "pg: not running"
        return
    fi
    as_owner "${PG_BIN}/pg_ctl" stop -w -m fast -D "${PG_DATA}" >/dev/null
    rm -rf "${PG_DIR}" "${ENV_FILE}"
    echo "pg: stopped"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) if running; then echo "pg: running (socket ${PG_SOCKET}, 127.0.0.1:${PG_PORT})"; else echo "pg: not running"; exit 1; fi ;;
    *) echo "usage: bash Scripts/pg.sh start|stop|status" >&2; exit 64 ;;
esac
