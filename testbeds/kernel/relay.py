"""Relay one guest connection to a TCP service on the host: ``python -I relay.py HOST PORT``.

QEMU's ``guestfwd=...-cmd:`` starts this program for every connection the guest opens, with stdin, stdout and
stderr all being one end of a socket pair that carries the guest's connection.  It must stay standalone (no imports
from the project) and silent (anything written to stderr would end up in the guest's stream).
"""

import os
import selectors
import socket
import sys


def relay(guest, upstream):
    """Copy bytes both ways until both directions are closed (half-closes are passed on)."""
    peers = {guest: upstream, upstream: guest}
    selector = selectors.DefaultSelector()
    for sock in peers:
        selector.register(sock, selectors.EVENT_READ)
    open_directions = 2
    while open_directions:
        for key, _events in selector.select():
            source = key.fileobj
            try:
                data = source.recv(65536)
            except OSError:
                data = b''
            if data:
                try:
                    peers[source].sendall(data)
                    continue
                except OSError:
                    return
            selector.unregister(source)
            open_directions -= 1
            try:
                peers[source].shutdown(socket.SHUT_WR)
            except OSError:
                pass


def main():
    """Connect to HOST:PORT and relay the connection passed as stdin."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    host, port = sys.argv[1], int(sys.argv[2])
    guest = socket.socket(fileno=os.dup(0))
    try:
        upstream = socket.create_connection((host, port), timeout=30)
    except OSError:
        guest.close()
        return 1
    upstream.settimeout(None)
    guest.settimeout(None)
    try:
        relay(guest, upstream)
    finally:
        upstream.close()
        guest.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
