# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The only place that talks to the kernel: reads facts and sends plan requests over rtnetlink.

Two codecs build and parse the messages, chosen per connection (``codec``, default from the environment variable
HARVESTER_NETWORK_CODEC, else ``fast``):

* ``fast`` (nlmsg.py): struct-packed requests and a reader that decodes only the attributes the engine uses;
* ``pyroute2``: pyroute2's IPBatch builders and IPRoute dumps, the reference the fast codec is tested against.

Either way the reads are four dumps (links without statistics, the compressed bridge VLAN dump, addresses,
routes), normalised into the canonical state of model.py; writes go out many per sendmsg on one socket, the kernel
handles them in order and acks each one, so a phase costs one round trip instead of one per request, and each ack
says exactly which request failed and why (extended ack text included).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import importlib.util
import os
import socket
import struct
import traceback

try:
    # Only looked up here: importing pyroute2 costs seconds under emulation, and the default codec does not need
    # it.  It is imported when the pyroute2 codec or another network namespace is asked for.
    HAS_PYROUTE2 = importlib.util.find_spec('pyroute2') is not None
    PYROUTE2_IMPORT_ERROR = None if HAS_PYROUTE2 else 'ImportError: No module named pyroute2'
except (ImportError, ValueError):  # pragma: no cover
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.harvester.network.plugins.module_utils.host import model, nlmsg

AF_INET = 2
AF_INET6 = 10
AF_BRIDGE = 7
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_PROMISC = 0x100
IFA_F_SECONDARY = 0x01
RTEXT_FILTER_BRVLAN_COMPRESSED = 0x4
RTEXT_FILTER_SKIP_STATS = 0x8
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RTPROT_KERNEL = 2
RTPROT_RA = 9
RTPROT_REDIRECT = 1
NETLINK_ROUTE = 0
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SOL_NETLINK = 270
NLMSG_ERROR = 2
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1
_HEADER = struct.Struct('IHHII')
_CHUNK = 65536
# Requests per sendmsg: their acks must fit in the receive buffer (each ack costs ~1 KiB of it).
_CHUNK_MESSAGES = 64
_RCVBUF = 4 << 20
SO_RCVBUFFORCE = 33


class _Faults:
    """Test seam, inert unless a test arms it: faults at the send of the n-th request.

    ``inject(at, code, text, hook)`` arms one fault at the ``at``-th request (1-based) that ``Netlink.send`` hands to
    the kernel after ``reset()``, counted across connections and calls (an apply and its rollback alike).  Just
    before that request goes out, ``hook()`` runs (say, another process's ``ip link set``, or the test stopping
    the process to kill it), then, with ``code``, the request is not sent and comes back refused with that errno
    and ``text``, exactly as a refusal by the kernel would: the engine's own error handling and rollback run.
    Requests before it go out in chunks that end at it, so "after k requests" means k requests acked.  Nothing here
    touches the engine's control flow; with nothing armed, ``send`` checks one empty dict per chunk.
    """

    def __init__(self):
        self.armed = {}
        self.seen = 0

    def reset(self):
        self.armed = {}
        self.seen = 0

    def inject(self, at, code=None, text='fault injected by a test', hook=None):
        self.armed[at] = (code, text, hook)

    def next_at(self):
        """How many requests may go out before the next armed fault (None: no limit)."""
        pending = [at for at in self.armed if at > self.seen]
        return min(pending) - self.seen - 1 if pending else None

    def fire(self):
        """The next request is the armed one: run its hook; return (errno, text) to refuse it, or None."""
        code, text, hook = self.armed.pop(self.seen + 1)
        if hook is not None:
            hook()
        if code:
            self.seen += 1
            return code, text
        return None


FAULTS = _Faults()


def pyroute2_missing():
    """True when this run needs pyroute2 (the pyroute2 codec was asked for) and it is not installed."""
    return not HAS_PYROUTE2 and os.environ.get('HARVESTER_NETWORK_CODEC') == 'pyroute2'


class NetlinkFailure(Exception):
    """A request the kernel refused: which one, errno, and the kernel's own words."""

    def __init__(self, position, code, text):
        self.position = position
        self.code = code
        self.text = text
        message = os.strerror(code) if code else 'unknown error'
        if text:
            message = '%s (%s)' % (message, text)
        Exception.__init__(self, message)


def _pyroute2():
    """(IPRoute, IPBatch, pyroute2.netns), imported on first use."""
    from pyroute2 import IPBatch, IPRoute  # pylint: disable=import-outside-toplevel
    from pyroute2 import netns as pyroute2_netns  # pylint: disable=import-outside-toplevel
    return IPRoute, IPBatch, pyroute2_netns


class Resolved:
    """A request with its link names resolved to indexes (what the encoders take)."""

    def __init__(self, request, kwargs):
        self.method = request.method
        self.command = request.command
        self.kwargs = kwargs


class Netlink:
    """A connection to one network namespace (the calling thread's unless ``netns`` names another)."""

    def __init__(self, netns=None, codec=None):
        self.netns = netns
        self.codec = codec or os.environ.get('HARVESTER_NETWORK_CODEC') or 'fast'
        if self.codec not in ('fast', 'pyroute2'):
            raise ValueError('unknown netlink codec %r (fast or pyroute2)' % self.codec)
        if (netns or self.codec == 'pyroute2') and not HAS_PYROUTE2:
            raise ImportError('pyroute2 is needed for the %s' % ('pyroute2 codec' if self.codec == 'pyroute2'
                                                                 else 'netns option'))
        self._ipr = None
        self._batch = None
        self._sock = None
        self._seq = 1000
        # Open the sockets now: they belong to the namespace the calling thread is in at this moment.
        self._socket()
        if self.codec == 'pyroute2':
            ip_route = _pyroute2()[0]
            self._ipr = ip_route(netns=self.netns, flags=0) if self.netns else ip_route()

    @property
    def ipr(self):
        if self._ipr is None:
            ip_route = _pyroute2()[0]
            self._ipr = ip_route(netns=self.netns, flags=0) if self.netns else ip_route()
        return self._ipr

    def close(self):
        for thing in (self._ipr, self._batch, self._sock):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # pylint: disable=broad-except
                    pass

    # ----------------------------------------------------------------------------------------- reading

    def read(self):
        """Read the node into the canonical state (see model.py)."""
        if self.codec == 'pyroute2':
            links = [_pyroute2_link(msg) for msg in self.ipr.link('dump', ext_mask=RTEXT_FILTER_SKIP_STATS)]
            dump = self.ipr.link('dump', family=AF_BRIDGE, ext_mask=RTEXT_FILTER_BRVLAN_COMPRESSED)
            ports = [_pyroute2_link(msg) for msg in dump]
            addresses = self.ipr.addr('dump')
            routes = self.ipr.route('dump')
        else:
            links = self._dump(nlmsg.RTM_GETLINK, nlmsg.AF_UNSPEC, nlmsg.decode_link, RTEXT_FILTER_SKIP_STATS)
            ports = self._dump(nlmsg.RTM_GETLINK, AF_BRIDGE, nlmsg.decode_port_vlans, RTEXT_FILTER_BRVLAN_COMPRESSED)
            addresses = self._dump(nlmsg.RTM_GETADDR, nlmsg.AF_UNSPEC, nlmsg.decode_address)
            routes = self._dump(nlmsg.RTM_GETROUTE, nlmsg.AF_UNSPEC, nlmsg.decode_route)
        state = model.empty_state()
        links = [msg for msg in links if not msg['flags'] & IFF_LOOPBACK]
        names = dict((msg['index'], msg.get('ifname')) for msg in links)
        for msg in links:
            _read_link(state, msg, names)
        for msg in ports:
            name = names.get(msg['index'])
            if name is not None:
                state['vlans'][name] = _read_vlan_table(msg)
        for msg in addresses:
            _read_address(state, msg, names)
        for msg in routes:
            _read_route(state, msg, names)
        return state

    def _next_seq(self):
        self._seq += 1
        return self._seq

    def _dump(self, kind, family, decode, ext_mask=None):
        sock = self._socket()
        for _attempt in range(5):
            seq = self._next_seq()
            sock.send(nlmsg.dump_request(kind, family, seq, ext_mask))
            items, interrupted = [], False
            done = False
            while not done:
                data = sock.recv(1 << 20)
                for msg_kind, flags, msg_seq, start, end in nlmsg.messages(data):
                    if msg_seq != seq:
                        continue
                    if flags & nlmsg.NLM_F_DUMP_INTR:
                        interrupted = True
                    if msg_kind == nlmsg.NLMSG_DONE:
                        done = True
                        break
                    if msg_kind == nlmsg.NLMSG_ERROR:
                        code = -struct.unpack_from('i', data, start)[0]
                        raise OSError(code, 'netlink dump failed: %s' % os.strerror(code))
                    items.append(decode(data, start, end))
            if not interrupted:
                return items
        raise OSError(errno.EAGAIN, 'netlink dump kept being interrupted by concurrent changes')

    def index_of(self, name):
        if self.codec == 'pyroute2':
            found = self.ipr.link_lookup(ifname=name)
            return found[0] if found else None
        sock = self._socket()
        seq = self._next_seq()
        sock.send(nlmsg.get_link_request(name, seq))
        while True:
            data = sock.recv(1 << 16)
            for kind, _flags, msg_seq, start, end in nlmsg.messages(data):
                if msg_seq != seq:
                    continue
                if kind == nlmsg.NLMSG_ERROR:
                    return None  # ENODEV: no such link
                return nlmsg.decode_link(data, start, end)['index']

    # ----------------------------------------------------------------------------------------- writing

    def _socket(self):
        if self._sock is None:
            if self.netns:
                sock = _pyroute2()[2].create_socket(self.netns, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE,
                                                    flags=0)
            else:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
            for option in (NETLINK_EXT_ACK, NETLINK_CAP_ACK):
                try:
                    sock.setsockopt(SOL_NETLINK, option, 1)
                except OSError:
                    pass
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, _RCVBUF)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            sock.bind((0, 0))
            self._sock = sock
        return self._sock

    def compile(self, request, index_of):
        """Encode one plan request into netlink messages (bytes), link names turned into indexes."""
        kwargs = dict(request.kwargs)

        def resolve(value):
            if not isinstance(value, str):
                return value
            index = index_of(value)
            if index is None:
                raise NetlinkFailure(None, errno.ENODEV, 'no link named %s' % value)
            return index
        for key in request.refs:
            if key == 'multipath':
                kwargs[key] = [dict(hop, oif=resolve(hop.get('oif'))) for hop in kwargs.get(key) or ()]
            elif key in kwargs:
                kwargs[key] = resolve(kwargs[key])
        if self.codec == 'fast':
            return nlmsg.encode(Resolved(request, kwargs), self._next_seq())
        if self._batch is None:
            self._batch = _pyroute2()[1]()
        self._batch.reset()
        getattr(self._batch, request.method)(request.command, **kwargs)
        return bytes(self._batch.batch)

    def send(self, messages, stop_on_error=True):
        """Send encoded requests, many per sendmsg; return (failures, sent).

        ``messages`` is a list of bytes, each holding one or more netlink messages.  ``failures`` lists
        (position, errno, kernel text) for the items the kernel refused; ``sent`` counts the items sent (with
        ``stop_on_error`` the items after a chunk with a failure are not sent).  Chunks stay small enough that
        their acks always fit in the socket's receive buffer.
        """
        sock = self._socket()
        failures = []
        position = 0
        while position < len(messages):
            limit = len(messages)
            if FAULTS.armed:  # the test seam (see _Faults); never armed in a real run
                room = FAULTS.next_at()
                if room == 0:
                    refused = FAULTS.fire()
                    if refused:
                        failures.append((position,) + refused)
                        position += 1
                        if stop_on_error:
                            break
                    continue
                if room is not None:
                    limit = min(limit, position + room)
            expected = {}
            chunk = bytearray()
            count = 0
            first = position
            while position < limit and count < _CHUNK_MESSAGES and len(chunk) < _CHUNK:
                data = messages[position]
                offset = 0
                while offset < len(data):
                    length, _type, _flags, seq, _pid = _HEADER.unpack_from(data, offset)
                    expected[seq] = position
                    offset += (length + 3) & ~3
                    count += 1
                chunk += data
                position += 1
            sock.send(bytes(chunk))
            FAULTS.seen += position - first
            failed = self._acks(sock, expected)
            failures.extend(failed)
            if failed and stop_on_error:
                break
        failures.sort()
        return failures, position

    @staticmethod
    def _acks(sock, expected):
        failures = []
        while expected:
            data = sock.recv(1 << 20)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, flags, seq, _pid = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    break
                if kind == NLMSG_ERROR and seq in expected:
                    code = -struct.unpack_from('i', data, offset + 16)[0]
                    position = expected.pop(seq)
                    if code:
                        failures.append((position, code, _ext_ack_text(data, offset, length, flags)))
                offset += (length + 3) & ~3
        return failures


def _ext_ack_text(data, offset, length, flags):
    """The kernel's extended-ack message (NLMSGERR_ATTR_MSG), when it sent one."""
    if not flags & NLM_F_ACK_TLVS:
        return None
    # nlmsghdr + error + the capped original header, then TLVs.
    pos = offset + 16 + 4 + 16
    end = offset + length
    while pos + 4 <= end:
        nla_len, nla_type = struct.unpack_from('HH', data, pos)
        if nla_len < 4:
            break
        if nla_type == NLMSGERR_ATTR_MSG:
            return data[pos + 4:pos + nla_len].split(b'\0', 1)[0].decode('utf-8', 'replace')
        pos += (nla_len + 3) & ~3
    return None


# --------------------------------------------------------------------------------------------- parsing

_BOND_NLA = {
    'mode': 'IFLA_BOND_MODE', 'miimon': 'IFLA_BOND_MIIMON', 'updelay': 'IFLA_BOND_UPDELAY',
    'downdelay': 'IFLA_BOND_DOWNDELAY', 'arp_interval': 'IFLA_BOND_ARP_INTERVAL',
    'xmit_hash_policy': 'IFLA_BOND_XMIT_HASH_POLICY', 'min_links': 'IFLA_BOND_MIN_LINKS',
    'lacp_rate': 'IFLA_BOND_AD_LACP_RATE', 'ad_select': 'IFLA_BOND_AD_SELECT',
}


_SLAVE_STATES = {0: 'active', 1: 'backup'}
_MII_STATES = {0: 'up', 1: 'fail', 2: 'down', 3: 'back'}


def _read_link(state, msg, names):
    name = msg.get('ifname')
    linkinfo = msg.get('IFLA_LINKINFO')
    kind = linkinfo.get('IFLA_INFO_KIND') if linkinfo else None
    mac = msg.get('IFLA_ADDRESS')
    master = msg.get('IFLA_MASTER')
    link = {
        'kind': kind, 'mtu': msg.get('IFLA_MTU'), 'up': bool(msg['flags'] & IFF_UP),
        'master': names.get(master) if master else None, 'max_mtu': msg.get('IFLA_MAX_MTU'),
        'min_mtu': msg.get('IFLA_MIN_MTU'), 'index': msg['index'], 'mac': mac.lower() if mac else None,
        'promisc': bool(msg['flags'] & IFF_PROMISC),
    }
    state['links'][name] = link
    if linkinfo and linkinfo.get('IFLA_INFO_SLAVE_KIND') == 'bond':
        slave = linkinfo.get('IFLA_INFO_SLAVE_DATA')
        if slave is not None:
            link['bond_slave'] = {
                'state': _SLAVE_STATES.get(slave.get('IFLA_BOND_SLAVE_STATE'), 'unknown'),
                'mii_status': _MII_STATES.get(slave.get('IFLA_BOND_SLAVE_MII_STATUS'), 'unknown'),
                'link_failures': slave.get('IFLA_BOND_SLAVE_LINK_FAILURE_COUNT'),
            }
    data = linkinfo.get('IFLA_INFO_DATA') if linkinfo else None
    if kind == 'bond' and data is not None:
        bond = {}
        for option, nla in _BOND_NLA.items():
            value = data.get(nla)
            if option in model.BOND_ENUMS and value is not None:
                value = model.BOND_ENUMS[option][value]
            bond[option] = value
        targets = data.get('IFLA_BOND_ARP_IP_TARGET')
        bond['arp_ip_target'] = sorted(targets) if targets else []
        primary = data.get('IFLA_BOND_PRIMARY')
        bond['_primary_name'] = names.get(primary) if primary else None
        state['bonds'][name] = bond
    elif kind == 'bridge' and data is not None:
        state['bridges'][name] = {
            'vlan_filtering': bool(data.get('IFLA_BR_VLAN_FILTERING')),
            'stp': bool(data.get('IFLA_BR_STP_STATE')),
            'default_pvid': data.get('IFLA_BR_VLAN_DEFAULT_PVID') or 0,
            'promisc': link['promisc'],
            'mtu_pinned': None,
        }


def _pyroute2_link(msg):
    """A pyroute2 link message in the plain shape nlmsg.decode_link() produces."""
    link = {'family': msg['family'], 'index': msg['index'], 'flags': msg['flags'], 'ifname': msg.get('ifname')}
    for key in ('IFLA_MTU', 'IFLA_MASTER', 'IFLA_MAX_MTU', 'IFLA_MIN_MTU', 'IFLA_ADDRESS'):
        value = msg.get(key)
        if value is not None:
            link[key] = value
    linkinfo = msg.get('IFLA_LINKINFO')
    if linkinfo is not None:
        info = {}
        for key, data_key in (('IFLA_INFO_KIND', 'IFLA_INFO_DATA'), ('IFLA_INFO_SLAVE_KIND', 'IFLA_INFO_SLAVE_DATA')):
            kind = linkinfo.get(key)
            if kind is None:
                continue
            info[key] = kind
            data = linkinfo.get(data_key)
            if data is not None:
                info[data_key] = dict((name, value) for name, value in data['attrs']
                                      if isinstance(name, str) and name.startswith('IFLA_'))
        link['IFLA_LINKINFO'] = info
    spec = msg.get('IFLA_AF_SPEC')
    if spec is not None:
        link['IFLA_AF_SPEC'] = [(info['flags'], info['vid']) for info in spec.get_attrs('IFLA_BRIDGE_VLAN_INFO')]
    return link


def _read_vlan_table(msg):
    """VLAN table of a bridge port (or bridge) from the compressed dump: ranges come as BEGIN/END pairs."""
    table = {}
    begin = None
    for flags, vid in msg.get('IFLA_AF_SPEC') or ():
        if flags & 0x8:  # RANGE_BEGIN
            begin = vid
            continue
        first = vid
        if flags & 0x10 and begin is not None:  # RANGE_END
            first, begin = begin, None
        for one in range(first, vid + 1):
            table[one] = flags & model.VLAN_FLAG_MASK
    return table


def _read_address(state, msg, names):
    name = names.get(msg['index'])
    if name is None:
        return
    family = msg['family']
    address = msg.get('IFA_ADDRESS') if family == AF_INET6 else (msg.get('IFA_LOCAL') or msg.get('IFA_ADDRESS'))
    if not address:
        return
    flags = msg.get('IFA_FLAGS')
    if flags is None:
        flags = msg['flags']
    if family == AF_INET6:
        if address.lower().startswith('fe8') or flags & 0x01:  # link-local, temporary (privacy) addresses
            return
    elif family != AF_INET:
        return
    text = model.normalize_interface_address('%s/%d' % (address, msg['prefixlen']))
    secondary = bool(flags & IFA_F_SECONDARY) if family == AF_INET else False
    state['addresses'].setdefault(name, {})[text] = {'secondary': secondary}


def _read_route(state, msg, names):
    """Single-path unicast routes of the main table are the engine's; other unicast routes (other tables,
    multipath) are read too, into ``other_routes``, only so that a change that would make the kernel drop them is
    refused (validate.check_other_routes)."""
    table = msg.get('RTA_TABLE') or msg['table']
    if msg['type'] != RTN_UNICAST or msg['proto'] in (RTPROT_KERNEL, RTPROT_RA, RTPROT_REDIRECT):
        return
    family = msg['family']
    if family not in (AF_INET, AF_INET6):
        return
    dst = msg.get('RTA_DST') or ('::' if family == AF_INET6 else '0.0.0.0')
    text = '%s/%d' % (dst, msg['dst_len'])
    if family == AF_INET6 and text.lower().startswith('fe80:'):
        return
    dst = model.normalize_network(text)
    oif = msg.get('RTA_OIF')
    multipath = msg.get('RTA_MULTIPATH')
    if table != RT_TABLE_MAIN or multipath:
        hops = [{'interface': names.get(hop.get('oif')), 'gateway': hop.get('RTA_GATEWAY')} for hop in multipath or ()]
        if not hops:
            hops = [{'interface': names.get(oif) if oif else None, 'gateway': msg.get('RTA_GATEWAY')}]
        route = {'dst': dst, 'table': table, 'metric': msg.get('RTA_PRIORITY') or 0, 'nexthops': hops}
        state['other_routes'][model.other_route_text(route)] = route
        return
    route = {'dst': dst, 'gateway': msg.get('RTA_GATEWAY'), 'interface': names.get(oif) if oif else None,
             'metric': msg.get('RTA_PRIORITY') or 0}
    state['routes'][model.route_key(route)] = route
