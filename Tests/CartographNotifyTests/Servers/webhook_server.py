#!/usr/bin/python3
"""A real HTTP receiver for the webhook tests, on 127.0.0.1 (Python's http.server).

Binds a free port, prints it on the first line of stdout, and records every request as NNN.json
in --spool: method, path, headers, body. With --secret it also records the signature it expects
("sha256=" + HMAC-SHA256(secret, timestamp + "." + body)), computed here with Python's hmac so
the test does not check our signature with our own code.

Answers 200, except:
  --fail STATUS COUNT     answer STATUS to the first COUNT requests
  --redirect URL          answer 302 to a different location, every time
  --tls CERT KEY          serve HTTPS
Runs until killed.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import ssl
import threading


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", required=True)
    parser.add_argument("--secret")
    parser.add_argument("--fail", nargs=2, type=int, metavar=("STATUS", "COUNT"))
    parser.add_argument("--redirect")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    lock = threading.Lock()
    state = {"count": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                state["count"] += 1
                number = state["count"]
            record = {
                "method": self.command,
                "path": self.path,
                "headers": [[name, value] for name, value in self.headers.items()],
                "body": body.decode("utf-8", "replace"),
            }
            if args.secret:
                timestamp = self.headers.get("X-Cartograph-Timestamp", "")
                digest = hmac.new(args.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
                record["expected_signature"] = "sha256=" + digest.hexdigest()
            path = os.path.join(args.spool, "%03d.json" % number)
            with open(path + ".tmp", "w") as out:
                json.dump(record, out)
            os.rename(path + ".tmp", path)

            if args.fail and number <= args.fail[1]:
                self.answer(args.fail[0], b"try again later\n")
            elif args.redirect:
                self.answer(302, b"", {"Location": args.redirect})
            else:
                self.answer(200, b'{"ok": true}\n')

        def answer(self, status, payload, extra=None):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*args.tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
