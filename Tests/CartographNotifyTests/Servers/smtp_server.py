#!/usr/bin/python3
"""A real SMTP server for the notification tests: Debian's aiosmtpd on 127.0.0.1.

Binds a free port, prints it on the first line of stdout, and saves every message it accepts as
NNN.json in --spool: the envelope, whether the session was TLS and authenticated, the raw data
as received (after the server undid dot-stuffing), and the headers and body as Python's e-mail
parser decodes them (RFC 2047 subject, quoted-printable body).

Variants:
  --starttls CERT KEY     offer STARTTLS with this certificate
  --tls CERT KEY          implicit TLS (SMTPS) from the first byte
  --auth USER PASSWORD    require AUTH with this user and password
  --no-plain              offer AUTH LOGIN only, not PLAIN
Runs until killed.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

try:
    from aiosmtpd.smtp import SMTP, AuthResult
except ImportError:
    sys.stderr.write("aiosmtpd is missing: apt-get install python3-aiosmtpd\n")
    sys.exit(3)


class Spool:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            # session.ssl is set by STARTTLS; implicit TLS shows on the transport.
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "raw": raw.decode("utf-8", "replace"),
            "headers": [[name, str(value)] for name, value in parsed.items()],
            "subject": str(parsed["subject"]),
            "body": parsed.get_content(),
        }
        path = os.path.join(self.directory, "%03d.json" % self.count)
        # Write then rename, so a test polling the directory never reads half a file.
        with open(path + ".tmp", "w") as out:
            json.dump(record, out)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 queued as %03d" % self.count


def context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", required=True)
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
    parser.add_argument("--no-plain", action="store_true")
    args = parser.parse_args()

    handler = Spool(args.spool)
    options = {"hostname": "notify-test.local", "ident": "cartograph test SMTP"}
    if args.starttls:
        options["tls_context"] = context(*args.starttls)
    if args.auth:
        user, password = args.auth[0].encode(), args.auth[1].encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            # handled=False: aiosmtpd then sends the 235 or 535 reply itself.
            ok = auth_data.login == user and auth_data.password == password
            return AuthResult(success=ok, handled=False)

        options["authenticator"] = authenticator
        options["auth_required"] = True
        # Credentials only over TLS unless the test runs a clear-text server on purpose.
        options["auth_require_tls"] = bool(args.starttls or args.tls)
        if args.no_plain:
            options["auth_exclude_mechanism"] = ["PLAIN"]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **options),
        host="127.0.0.1",
        port=0,
        ssl=context(*args.tls) if args.tls else None,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
