# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connectivity probes run after a change: ICMP echo out of a given interface, TCP connect to host:port.

Plain sockets (raw ICMP needs root, which changing the network needs anyway); no ping binary.  Every
probe retries until its own timeout, so a bond or bridge that takes a moment to forward still passes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import select
import socket
import struct
import time

SO_BINDTODEVICE = 25
ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0
ICMP6_ECHO_REQUEST = 128
ICMP6_ECHO_REPLY = 129


def _open(family, kind, proto, netns, interface):
    if netns:
        from pyroute2 import netns as pyroute2_netns  # only tests and benchmarks probe inside a namespace
        sock = pyroute2_netns.create_socket(netns, family, kind, proto, flags=0)
    else:
        sock = socket.socket(family, kind, proto)
    if interface:
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, interface.encode() + b'\0')
    return sock


def _resolve(host, port=0):
    info = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    return info[0][0], info[0][4]


def _checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


def ping(target, interface=None, count=3, timeout=3.0, netns=None):
    """Echo requests until one reply or ``timeout`` seconds.  Returns (ok, detail)."""
    try:
        family, address = _resolve(target)
    except socket.gaierror as exc:
        return False, 'cannot resolve %s: %s' % (target, exc)
    v6 = family == socket.AF_INET6
    try:
        sock = _open(family, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP, netns, interface)
    except OSError as exc:
        return False, 'cannot open an ICMP socket%s: %s' % (' on %s' % interface if interface else '', exc)
    ident = (os.getpid() ^ int(time.time() * 1000)) & 0xffff
    deadline = time.monotonic() + timeout
    interval = max(timeout / max(count, 1), 0.2)
    sent = 0
    try:
        while time.monotonic() < deadline:
            sent += 1
            header = struct.pack('!BBHHH', ICMP6_ECHO_REQUEST if v6 else ICMP_ECHO_REQUEST, 0, 0, ident, sent)
            payload = b'harvester.network probe'
            packet = header + payload
            if not v6:
                packet = header[:2] + struct.pack('!H', _checksum(packet)) + header[4:] + payload
            try:
                sock.sendto(packet, address)
            except OSError as exc:
                if exc.errno not in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EINVAL):
                    return False, 'ping %s: %s' % (target, exc)
            wait_until = min(deadline, time.monotonic() + interval)
            while True:
                left = wait_until - time.monotonic()
                if left <= 0:
                    break
                ready, _w, _x = select.select([sock], [], [], left)
                if not ready:
                    break
                data, _peer = sock.recvfrom(2048)
                if not v6:
                    data = data[(data[0] & 0x0f) * 4:]
                if len(data) < 8:
                    continue
                kind, _code, _sum, rid, _seq = struct.unpack('!BBHHH', data[:8])
                if rid == ident and kind == (ICMP6_ECHO_REPLY if v6 else ICMP_ECHO_REPLY):
                    return True, 'reply from %s after %d request(s)' % (target, sent)
        return False, 'no reply from %s within %.1fs (%d requests%s)' % (
            target, timeout, sent, ', out of %s' % interface if interface else '')
    finally:
        sock.close()


def tcp(host, port, interface=None, timeout=3.0, netns=None):
    """Connect to host:port, retrying until ``timeout``.  Returns (ok, detail)."""
    try:
        family, address = _resolve(host, port)
    except socket.gaierror as exc:
        return False, 'cannot resolve %s: %s' % (host, exc)
    deadline = time.monotonic() + timeout
    last = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            sock = _open(family, socket.SOCK_STREAM, 0, netns, interface)
        except OSError as exc:
            return False, 'cannot open a socket%s: %s' % (' on %s' % interface if interface else '', exc)
        try:
            sock.settimeout(left)
            sock.connect(address)
            return True, 'connected to %s:%d' % (host, port)
        except (OSError, socket.timeout) as exc:
            last = exc
        finally:
            sock.close()
        time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
    return False, 'cannot connect to %s:%d within %.1fs: %s' % (host, port, timeout, last)


def describe(probe):
    if probe['type'] == 'ping':
        return 'ping %s%s' % (probe['target'], ' out of %s' % probe['interface'] if probe.get('interface') else '')
    return 'tcp %s:%d%s' % (probe['host'], probe['port'], ' out of %s' % probe['interface'] if probe.get('interface')
                            else '')


def run_probe(probe, netns=None):
    if probe['type'] == 'ping':
        return ping(probe['target'], probe.get('interface'), probe.get('count') or 3, probe.get('timeout') or 3.0,
                    netns=netns)
    return tcp(probe['host'], probe['port'], probe.get('interface'), probe.get('timeout') or 3.0, netns=netns)


def probe_list(options, gateways=()):
    """Probe options -> list of probes; ``gateways``: default gateways that answered before the change."""
    if not options or not options.get('enabled', True):
        return []
    probes = []
    for gateway in gateways:
        probes.append({'type': 'ping', 'target': gateway, 'count': 3, 'timeout': 3.0, 'auto': True})
    for item in options.get('ping') or []:
        probes.append(dict(item, type='ping'))
    for item in options.get('tcp') or []:
        probes.append(dict(item, type='tcp'))
    return probes
