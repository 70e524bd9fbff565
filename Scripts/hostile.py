#!/usr/bin/env python3
"""Hostile services on loopback, and real control services beside them, to map.

Each hostile service misbehaves in one way a careful scanner must survive: streams that never
end, banners of 100 MB, silence, resets, garbage and huge TLS, slowloris, huge headers, redirect
loops, invalid UTF-8, terminal escape and injection payloads, backtracking bait for patterns,
another service's protocol, a UDP answer of 64 KB to every datagram. The controls are real
daemons where Debian has them (redis-server, nginx, sshd) and small Python servers otherwise
(ftp, https); a map of all of them must still identify every control.

Everything listens on 127.0.0.1 only and answers only loopback peers. When every service is up,
one JSON line goes to stdout:

  {"services": [{"name": ..., "port": N, "protocol": "tcp"|"udp", "kind": "hostile"|"control",
                 "expect": SERVICE-NAME-OR-null, "what": ...}, ...], "pid": N}

It stops by itself after --lifetime seconds, and on SIGTERM or SIGINT, taking its daemons with it.

Usage: hostile.py [--lifetime SECONDS] [--base-port N] [--no-daemons]
  --base-port N: services take N, N+1, ... in the listed order (default: the kernel picks).
"""

import argparse
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
MB = 1024 * 1024

# Bytes that must never reach a terminal raw: OSC title, CSI clear screen, CR overwrite, BEL,
# a raw C1 CSI, a UTF-8 encoded C1 CSI, NUL, DEL; then spreadsheet and markup injection.
ESCAPES = b"\x1b]0;pwned\x07\x1b[2J\x1b[31mred\rOVERWRITE\x9b1m\xc2\x9b2J\x00\x7f\x08"
INJECTIONS = b"=cmd|' /C calc'!A0 +1 @SUM(1) -2 <script>alert(1)</script> ]]> &amp; \"quoted\""
INVALID_UTF8 = b"\xff\xfe\xc0\xaf\xed\xa0\x80\xf8\x88\x80\x80\x80\xe2\x82"


def on_loopback(address):
    return address.startswith("127.") or address == "::1"


# ---------------------------------------------------------------------------------------------
# Small helpers for the connection handlers.

def send_all(conn, data):
    try:
        conn.sendall(data)
        return True
    except OSError:
        return False


def read_request(conn, limit=65536, timeout=20.0):
    """Reads an HTTP request head (or whatever comes first); None when nothing came."""
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data and b"\n\n" not in data and len(data) < limit:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data or None


def http_response(status, headers, body):
    head = b"HTTP/1.1 " + status + b"\r\n" + b"".join(h + b"\r\n" for h in headers)
    return head + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body


def idle(conn, seconds=60.0):
    """Keeps the connection open without sending until the peer closes or time runs out."""
    conn.settimeout(seconds)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------
# Hostile TCP handlers: each gets (conn, lab) and misbehaves in one way.

def endless(conn, lab):
    """A banner that never ends, at full speed (no newline, ever)."""
    chunk = b"A" * 65536
    while send_all(conn, chunk):
        pass


def endless_lines(conn, lab):
    """An endless stream of short lines, as fast as the peer reads."""
    chunk = b"SSH-2.0-flood\r\n" * 4096
    while send_all(conn, chunk):
        pass


def huge_banner(conn, lab):
    """100 MB of banner, then close."""
    chunk = b"220 " + b"x" * (MB - 6) + b"\r\n"
    for _ in range(100):
        if not send_all(conn, chunk):
            return


def silent(conn, lab):
    idle(conn, 120.0)


def reset(conn, lab):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def garbage(conn, lab):
    """Random bytes (seeded, so runs are alike), 4 KB per read of the peer's, then close."""
    rng = random.Random(11)
    send_all(conn, bytes(rng.getrandbits(8) for _ in range(4096)))
    conn.settimeout(10.0)
    try:
        for _ in range(64):
            if not conn.recv(4096):
                break
            send_all(conn, bytes(rng.getrandbits(8) for _ in range(4096)))
    except OSError:
        pass


def drip(conn, data):
    """Sends one byte every 300 ms until the data or the peer ends."""
    for byte in data:
        if not send_all(conn, bytes([byte])):
            return
        time.sleep(0.3)


def slowloris(conn, lab):
    """An SSH-like banner at one byte every 300 ms, never finished."""
    drip(conn, b"SSH-2.0-OpenSSH_9.2p1 " + b"s" * 100000)


def slow_http(conn, lab):
    """An HTTP answer whose headers come one byte every 300 ms, never finished."""
    if read_request(conn) is not None:
        drip(conn, b"HTTP/1.1 200 OK\r\nServer: slow/1.0\r\nX-Pad: " + b"p" * 100000)


def huge_headers(conn, lab):
    """An HTTP answer with 10 MB of headers, some of them one line of 1 MB."""
    if read_request(conn) is None:
        return
    if not send_all(conn, b"HTTP/1.1 200 OK\r\nServer: " + b"h" * MB + b"/1.0\r\n"):
        return
    line = b"X-Pad: " + b"p" * 8000 + b"\r\n"
    for _ in range(9 * MB // len(line)):
        if not send_all(conn, line):
            return
    send_all(conn, b"Content-Length: 5\r\n\r\nhello")


def redirect_loop(conn, lab):
    """Every path redirects to itself, with a cookie that grows."""
    if read_request(conn) is None:
        return
    send_all(conn, http_response(b"302 Found", [b"Server: loop/1.0", b"Location: /",
                                                b"Set-Cookie: c=" + b"c" * 4000], b"<title>again</title>"))


def invalid_utf8_banner(conn, lab):
    send_all(conn, b"220 " + INVALID_UTF8 + b" ftp " + INVALID_UTF8 + b"\r\n")
    idle(conn, 30.0)


def invalid_utf8_http(conn, lab):
    if read_request(conn) is None:
        return
    send_all(conn, http_response(b"200 OK", [b"Server: bad" + INVALID_UTF8 + b"/1" + INVALID_UTF8],
                                 b"<html><title>" + INVALID_UTF8 + b"</title></html>"))


def escape_banner(conn, lab):
    """An SSH banner that the ssh probe accepts, product and comments full of escapes."""
    send_all(conn, b"SSH-2.0-Evil" + ESCAPES + b"_9.9 Debian " + ESCAPES + INJECTIONS + b"\r\n")
    idle(conn, 30.0)


def escape_http(conn, lab):
    """Escapes and injections in the Server header and the page title."""
    if read_request(conn) is None:
        return
    send_all(conn, http_response(b"200 OK", [b"Server: evil" + ESCAPES + b"/6.6 (" + INJECTIONS + b")"],
                                 b"<html><head><title>" + ESCAPES + INJECTIONS + b"</title></head></html>"))


def injection_banner(conn, lab):
    """An FTP-like greeting that is a spreadsheet formula and markup."""
    send_all(conn, b"220 =cmd|' /C calc'!A0 ]]><script>alert(1)</script><!-- " + ESCAPES + b"\r\n")
    idle(conn, 30.0)


def title_backtrack(conn, lab):
    """<title> followed by 1 MB of spaces and no closing tag: bait for backtracking patterns."""
    if read_request(conn) is None:
        return
    send_all(conn, http_response(b"200 OK", [b"Server: bait/1.0"], b"<html><title>" + b" " * MB))


def ssh_backtrack(conn, lab):
    """SSH banners with long repeated runs: version digits, dashes and spaces that never resolve."""
    send_all(conn, b"SSH-" + b"1." * 200000 + b"-" + b"-" * 200000 + b" " * 200000 + b"\r\n")
    idle(conn, 30.0)


def imposter(conn, lab):
    """Greets like SSH, then answers anything like HTTP and Redis at once."""
    send_all(conn, b"SSH-2.0-OpenSSH_9.2p1\r\n")
    if read_request(conn, timeout=10.0) is None:
        return
    send_all(conn, b"+PONG\r\n" + http_response(b"200 OK", [b"Server: nginx/1.22.1"], b"-ERR wrong\r\n"))


def speaks_http_first(conn, lab):
    """An HTTP answer sent before any request, as if it were a banner."""
    send_all(conn, http_response(b"200 OK", [b"Server: Apache/2.4.57"], b"<title>first</title>"))
    idle(conn, 30.0)


def garbage_tls(conn, lab):
    """Silent until a ClientHello, then TLS-looking records of random bytes (1 MB), then close."""
    conn.settimeout(20.0)
    try:
        first = conn.recv(1)
    except OSError:
        return
    if first != b"\x16":
        return
    rng = random.Random(7)
    record = b"\x16\x03\x03\x40\x00" + bytes(rng.getrandbits(8) for _ in range(0x4000))
    for _ in range(64):
        if not send_all(conn, record):
            return


def tls_server(context, then):
    """A TLS service: silent until the handshake (as TLS services are), then `then(tls_conn)`."""
    def handle(conn, lab):
        conn.settimeout(20.0)
        try:
            tls = context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            then(tls)
        finally:
            try:
                tls.close()
            except OSError:
                pass
    return handle


def evil_https_page(tls):
    if read_request(tls) is None:
        return
    send_all(tls, http_response(b"200 OK", [b"Server: tls" + ESCAPES + b"/1.0"],
                                b"<title>" + ESCAPES + INJECTIONS + b"</title>"))


def control_https_page(tls):
    if read_request(tls) is None:
        return
    send_all(tls, http_response(b"200 OK", [b"Server: control-https/1.0"], b"<html><title>control</title></html>"))


# Controls served from Python where Debian's daemon is not worth starting.

def control_ftp(conn, lab):
    send_all(conn, b"220 (vsFTPd 3.0.3)\r\n")
    idle(conn, 30.0)


def control_slow_ftp(conn, lab):
    """An FTP greeting held back 3 s, as a server that looks its client up in a dead DNS does."""
    deadline = time.time() + 3.0
    while time.time() < deadline:   # what the client says first is ignored, as such servers do
        conn.settimeout(max(0.01, deadline - time.time()))
        try:
            if not conn.recv(4096):
                return   # the peer went away
        except socket.timeout:
            break
        except OSError:
            return
    send_all(conn, b"220 ProFTPD Server (slow.lab) [127.0.0.1]\r\n")
    idle(conn, 30.0)


def control_cold_http(conn, lab):
    """HTTP that answers its requests 3 s late, as a daemon paged out to swap does."""
    if read_request(conn) is None:
        return
    time.sleep(3.0)
    send_all(conn, http_response(b"200 OK", [b"Server: cold/1.0"], b"<html><title>cold</title></html>"))


def control_ssh_banner(conn, lab):
    send_all(conn, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
    idle(conn, 30.0)


def control_http(conn, lab):
    if read_request(conn) is None:
        return
    send_all(conn, http_response(b"200 OK", [b"Server: control/1.0"], b"<html><title>control</title></html>"))


# ---------------------------------------------------------------------------------------------
# Listeners.

class Lab:
    def __init__(self, args):
        self.args = args
        self.stopping = threading.Event()
        self.services = []
        self.sockets = []
        self.children = []
        self.next_port = args.base_port
        self.tmp = tempfile.mkdtemp(prefix="cartograph-hostile-")

    def port(self):
        """The next port: from --base-port, else a free one the kernel picks."""
        if self.next_port:
            port, self.next_port = self.next_port, self.next_port + 1
            return port
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            return probe.getsockname()[1]

    def listen_tcp(self, name, handler, kind="hostile", expect=None, what=""):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.next_port or 0))
        if self.next_port:
            self.next_port += 1
        sock.listen(256)
        self.sockets.append(sock)
        self.record(name, sock.getsockname()[1], "tcp", kind, expect, what or (handler.__doc__ or "").strip())
        threading.Thread(target=self.accept_loop, args=(sock, handler), daemon=True).start()

    def accept_loop(self, sock, handler):
        while not self.stopping.is_set():
            try:
                conn, peer = sock.accept()
            except OSError:
                return
            if not on_loopback(peer[0]):
                conn.close()
                continue
            threading.Thread(target=self.serve, args=(conn, handler), daemon=True).start()

    def serve(self, conn, handler):
        try:
            handler(conn, self)
        except Exception:   # noqa: BLE001 - one bad connection must never stop the lab
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def listen_udp_flood(self, name):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MB)
        sock.bind((HOST, self.next_port or 0))
        if self.next_port:
            self.next_port += 1
        self.sockets.append(sock)
        self.record(name, sock.getsockname()[1], "udp", "hostile", None, "answers every datagram with 64 KB")

        def loop():
            answer = (b"\x1b[2J" + INVALID_UTF8) * 10 + b"u" * 65000
            answer = answer[:65507]
            while not self.stopping.is_set():
                try:
                    _, peer = sock.recvfrom(65536)
                except OSError:
                    return
                if on_loopback(peer[0]):
                    try:
                        sock.sendto(answer, peer)
                    except OSError:
                        pass
        threading.Thread(target=loop, daemon=True).start()

    def record(self, name, port, protocol, kind, expect, what):
        self.services.append({"name": name, "port": port, "protocol": protocol, "kind": kind,
                              "expect": expect, "what": what})

    # -- certificates ----------------------------------------------------------------------

    def certificate(self, stem, subject, sans):
        key, cert = os.path.join(self.tmp, stem + ".key"), os.path.join(self.tmp, stem + ".pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", subject,
                        "-addext", "subjectAltName=" + sans],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return key, cert

    def tls_context(self, key, chain):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key)
        return context

    def add_tls_services(self):
        if not shutil.which("openssl"):
            print("hostile: openssl is missing (apt-get install openssl); no TLS services", file=sys.stderr)
            return
        key, cert = self.certificate("control", "/CN=control.test", "DNS:control.test")
        self.listen_tcp("control-https", tls_server(self.tls_context(key, cert), control_https_page),
                        "control", "https", "HTTPS with a plain page (Python ssl)")

        evil = "evil\x1b]0;pwned\x07\x1b[2J\r.test"
        key, cert = self.certificate("evil", "/CN=" + evil, "DNS:" + evil + ",DNS:=cmd|calc.test,DNS:<script>.test")
        self.listen_tcp("tls-escape-names", tls_server(self.tls_context(key, cert), evil_https_page),
                        what="HTTPS whose certificate names and page carry terminal escapes")

        # A chain of 600 certificates (~400 KB): the leaf, then the same CA again and again.
        ca_key, ca = self.certificate("ca", "/CN=" + "C" * 64, "DNS:" + ",DNS:".join("n%d.huge-chain.test" % i for i in range(40)))
        chain = os.path.join(self.tmp, "huge-chain.pem")
        with open(chain, "wb") as out:
            leaf = open(ca, "rb").read()
            for _ in range(600):
                out.write(leaf)
        self.listen_tcp("tls-huge-chain", tls_server(self.tls_context(ca_key, chain), control_https_page),
                        what="TLS with a certificate chain of 600 certificates")

        self.listen_tcp("tls-garbage", garbage_tls)

    # -- real daemons ----------------------------------------------------------------------

    def start_daemon(self, name, expect, argv, port, what):
        libc = ctypes.CDLL(None, use_errno=True)

        def die_with_parent():
            libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG: never outlive the lab
            os.setsid()

        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        try:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=die_with_parent, cwd=self.tmp)
        except OSError as error:
            print("hostile: %s did not start: %s" % (name, error), file=sys.stderr)
            return False
        self.children.append(child)
        deadline = time.time() + 15
        while time.time() < deadline:
            if child.poll() is not None:
                break
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                self.record(name, port, "tcp", "control", expect, what)
                return True
            except OSError:
                time.sleep(0.1)
        print("hostile: %s did not come up on port %d (log %s)" % (name, port, log.name), file=sys.stderr)
        child.kill()
        return False

    def add_daemons(self):
        redis = shutil.which("redis-server")
        if redis:
            port = self.port()
            self.start_daemon("control-redis", "redis", [redis, "--port", str(port), "--bind", HOST, "--save", "",
                                                         "--appendonly", "no", "--dir", self.tmp, "--protected-mode", "no",
                                                         "--daemonize", "no", "--loglevel", "warning"],
                              port, "redis-server")
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        started = False
        if nginx:
            port = self.port()
            root = os.path.join(self.tmp, "www")
            os.makedirs(root, exist_ok=True)
            with open(os.path.join(root, "index.html"), "w") as page:
                page.write("<html><head><title>control</title></head><body>plain</body></html>\n")
            conf = os.path.join(self.tmp, "nginx.conf")
            temp = os.path.join(self.tmp, "nginx-temp")
            os.makedirs(temp, exist_ok=True)
            with open(conf, "w") as out:
                out.write("daemon off; master_process off; pid %s/nginx.pid; error_log stderr;\n"
                          "events { worker_connections 1024; }\n"
                          "http { access_log off; client_body_temp_path %s; proxy_temp_path %s;\n"
                          "  fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;\n"
                          "  server { listen %s:%d; root %s; } }\n"
                          % (self.tmp, temp, temp, temp, temp, temp, HOST, port, root))
            started = self.start_daemon("control-nginx", "http", [nginx, "-e", "stderr", "-p", self.tmp, "-c", conf],
                                        port, "nginx")
        if not started:
            self.listen_tcp("control-http", control_http, "control", "http", "HTTP with a plain page (Python)")
        sshd = "/usr/sbin/sshd"
        started = False
        if os.path.exists(sshd) and shutil.which("ssh-keygen") and os.path.isdir("/run/sshd"):
            key = os.path.join(self.tmp, "ssh_host_ed25519_key")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            port = self.port()
            conf = os.path.join(self.tmp, "sshd_config")
            with open(conf, "w") as out:
                out.write("Port %d\nListenAddress %s\nHostKey %s\nPidFile %s/sshd.pid\nUsePAM no\n"
                          "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                          "PermitRootLogin no\nAllowUsers nobody-at-all\nMaxStartups 200:30:400\n"
                          % (port, HOST, key, self.tmp))
            started = self.start_daemon("control-sshd", "ssh", [sshd, "-D", "-e", "-f", conf], port, "OpenSSH sshd")
        if not started:
            self.listen_tcp("control-ssh", control_ssh_banner, "control", "ssh", "an SSH banner (Python)")

    # -- the whole lab ---------------------------------------------------------------------

    def start(self):
        for handler in (endless, endless_lines, huge_banner, silent, reset, garbage, slowloris, slow_http,
                        huge_headers, redirect_loop, invalid_utf8_banner, invalid_utf8_http, escape_banner,
                        escape_http, injection_banner, title_backtrack, ssh_backtrack, imposter, speaks_http_first):
            self.listen_tcp(handler.__name__.replace("_", "-"), handler)
        self.listen_udp_flood("udp-flood")
        self.add_tls_services()
        self.listen_tcp("control-ftp", control_ftp, "control", "ftp", "an FTP greeting (Python)")
        self.listen_tcp("control-slow-ftp", control_slow_ftp, "control", "ftp", "an FTP greeting 3 s late (Python)")
        self.listen_tcp("control-cold-http", control_cold_http, "control", "http", "HTTP answering 3 s late (Python)")
        if not self.args.no_daemons:
            self.add_daemons()
        else:
            self.listen_tcp("control-http", control_http, "control", "http", "HTTP with a plain page (Python)")
            self.listen_tcp("control-ssh", control_ssh_banner, "control", "ssh", "an SSH banner (Python)")

    def stop(self):
        self.stopping.set()
        for sock in self.sockets:
            try:
                sock.close()
            except OSError:
                pass
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=3)
            except subprocess.TimeoutExpired:
                child.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description="Hostile services (and controls) on 127.0.0.1.")
    parser.add_argument("--lifetime", type=float, default=600.0, help="stop after this many seconds (default 600)")
    parser.add_argument("--base-port", type=int, default=0, help="ports from here on, in order (default: any free)")
    parser.add_argument("--no-daemons", action="store_true", help="Python controls only (no redis, nginx, sshd)")
    args = parser.parse_args()

    # A parent may have blocked or ignored these (test runners' threads do); the lab must stop on them.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    lab = Lab(args)
    try:
        lab.start()
        print(json.dumps({"services": lab.services, "pid": os.getpid()}), flush=True)
        done.wait(args.lifetime)
    finally:
        lab.stop()
    # Handler threads may still be blocked in send(); they are daemons and end with the process.
    os._exit(0)


if __name__ == "__main__":
    main()
