#!/usr/bin/env python3
"""Lab service: listen on many TCP ports at once, accept and close, so that a port scan has
hundreds of open ports to find on one host. Usage: many_ports.py ADDRESS FIRST COUNT.
Also a resolver that never answers: silent_udp.py is this file with --silent-udp ADDRESS PORT."""
import selectors
import socket
import sys


def many_ports(address, first, count):
    selector = selectors.DefaultSelector()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for port in range(first, first + count):
        server = socket.socket(family, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, port))
        server.listen(64)
        server.setblocking(False)
        selector.register(server, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            try:
                connection, _ = key.fileobj.accept()
                connection.close()
            except OSError:
                pass


def silent_udp(address, port):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server = socket.socket(family, socket.SOCK_DGRAM)
    server.bind((address, port))
    while True:
        server.recv(65535)   # read and never answer


if __name__ == "__main__":
    if sys.argv[1] == "--silent-udp":
        silent_udp(sys.argv[2], int(sys.argv[3]))
    else:
        many_ports(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
