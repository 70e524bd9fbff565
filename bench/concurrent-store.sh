#!/usr/bin/env bash
# The "10 of 10 concurrent fresh-store maps kept" figure of issue 11: ROUNDS rounds (default 10)
# of MAPS maps (default 10) started at the same moment on one new store in a new directory, each
# a connect map of one loopback port that greets like sshd. Prints one line per round (maps
# exited 0, maps kept in the store, maps stored complete with their port) and a total.
#
# Usage: bash bench/concurrent-store.sh   (BIN=path/to/cartograph to skip the release build;
#                                          ROUNDS=n, MAPS=n)
# Targets: loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/loopback.sh

/usr/bin/python3 - "${BIN}" "${out}" "${ROUNDS:-10}" "${MAPS:-10}" <<'EOF'
import json, os, socket, subprocess, sys, threading

binary, out, rounds, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

# One listener on 127.0.0.1 that greets like sshd and holds the connection until the peer closes.
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(128)
port = listener.getsockname()[1]

def serve(conn):
    with conn:
        try:
            conn.sendall(b"SSH-2.0-OpenSSH_9.2p1\r\n")
            while conn.recv(4096):
                pass
        except OSError:
            pass

def accept():
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()

threading.Thread(target=accept, daemon=True).start()

total_kept = total_complete = 0
for round_ in range(rounds):
    db = os.path.join(out, "round-%d" % round_, "maps.sqlite")
    children = [subprocess.Popen([binary, "map", "127.0.0.1", "-p", str(port), "-n", "--engine", "connect",
                                  "--db", db, "--title", "concurrent %d" % i, "--progress", "none"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for i in range(count)]
    errors = [child.communicate()[1] for child in children]
    exited = sum(1 for child in children if child.returncode == 0)
    listed = subprocess.run([binary, "maps", "list", "--db", db, "--format", "json"], capture_output=True)
    try:
        maps = json.loads(listed.stdout)
    except ValueError:
        maps = []
    titles = {m.get("title") for m in maps}
    kept = sum(1 for i in range(count) if "concurrent %d" % i in titles)
    complete = sum(1 for m in maps if m.get("status") == "complete" and m.get("open_ports") == 1)
    total_kept += kept
    total_complete += complete
    failures = [e.decode(errors="replace").strip().splitlines()[-1] for c, e in zip(children, errors)
                if c.returncode != 0 and e.strip()]
    print("round %d: %d/%d exited 0, %d/%d kept, %d/%d complete%s" % (
        round_ + 1, exited, count, kept, count, complete, count,
        "; " + " | ".join(failures[:3]) if failures else ""))
print("concurrent-store: %d rounds of %d maps on a fresh store: %d/%d kept, %d/%d complete" % (
    rounds, count, total_kept, rounds * count, total_complete, rounds * count))
EOF
