# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A small rtnetlink codec for exactly the messages the engine sends and the four dumps it reads.

Why not pyroute2's builders for these: a node converge sends hundreds of requests and reads hundreds of links, and
pyroute2's general request filters cost 0.3-0.8 ms per message natively (10-20 ms under emulation), more than the
kernel work itself.  These functions pack the same messages with ``struct`` in microseconds.  pyroute2 stays the
reference: the tests check that what this module encodes and decodes matches pyroute2 (the ``pyroute2`` codec of
netlink.py keeps that path available).

Requests come in the shape of ops.Request (pyroute2 call arguments), so both codecs encode the same plan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
AF_UNSPEC, AF_INET, AF_BRIDGE, AF_INET6 = 0, 2, 7, 10
NLA_F_NESTED = 0x8000

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_AF_SPEC, IFLA_EXT_MASK, IFLA_MIN_MTU, IFLA_MAX_MTU = 18, 26, 29, 50, 51
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_BRIDGE_FLAGS, IFLA_BRIDGE_VLAN_INFO = 0, 2
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_MULTIPATH, RTA_TABLE = 1, 4, 5, 6, 9, 15
RT_TABLE_MAIN = 254  # in rtm_table for a table number above 255 (as pyroute2 sends it): RTA_TABLE decides
IFF_UP = 0x1

_HEADER = struct.Struct('=IHHII')
_IFINFO = struct.Struct('=BxHiII')
_IFADDR = struct.Struct('=BBBBI')
_RTMSG = struct.Struct('=BBBBBBBBI')
_RTNH = struct.Struct('=HBBi')  # struct rtnexthop: len, flags, hops, ifindex
_NLA = struct.Struct('=HH')

# Bond and bridge attributes: pyroute2 keyword -> (attribute type, struct format or 'targets').
LINK_DATA = {
    'bond_mode': (1, 'B'), 'bond_miimon': (3, 'I'), 'bond_updelay': (4, 'I'), 'bond_downdelay': (5, 'I'),
    'bond_arp_interval': (7, 'I'), 'bond_arp_ip_target': (8, 'targets'), 'bond_primary': (11, 'I'),
    'bond_xmit_hash_policy': (14, 'B'), 'bond_min_links': (18, 'I'), 'bond_ad_lacp_rate': (21, 'B'),
    'bond_ad_select': (22, 'B'),
    'br_stp_state': (5, 'I'), 'br_vlan_filtering': (7, 'B'), 'br_vlan_default_pvid': (39, 'H'),
}
# What the reader decodes from IFLA_INFO_DATA: kind -> {type: (name, format)}.
INFO_DATA = {
    'bond': {1: ('IFLA_BOND_MODE', 'B'), 3: ('IFLA_BOND_MIIMON', 'I'), 4: ('IFLA_BOND_UPDELAY', 'I'),
             5: ('IFLA_BOND_DOWNDELAY', 'I'), 7: ('IFLA_BOND_ARP_INTERVAL', 'I'),
             8: ('IFLA_BOND_ARP_IP_TARGET', 'targets'), 11: ('IFLA_BOND_PRIMARY', 'I'),
             14: ('IFLA_BOND_XMIT_HASH_POLICY', 'B'), 18: ('IFLA_BOND_MIN_LINKS', 'I'),
             21: ('IFLA_BOND_AD_LACP_RATE', 'B'), 22: ('IFLA_BOND_AD_SELECT', 'B')},
    'bridge': {5: ('IFLA_BR_STP_STATE', 'I'), 7: ('IFLA_BR_VLAN_FILTERING', 'B'),
               39: ('IFLA_BR_VLAN_DEFAULT_PVID', 'H')},
}
SLAVE_DATA = {'bond': {1: ('IFLA_BOND_SLAVE_STATE', 'B'), 2: ('IFLA_BOND_SLAVE_MII_STATUS', 'B'),
                       3: ('IFLA_BOND_SLAVE_LINK_FAILURE_COUNT', 'I')}}


# ------------------------------------------------------------------------------------------------ encoding

def nla(kind, payload):
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + b'\0' * ((4 - length % 4) % 4)


def _u(fmt, value):
    return struct.pack('=' + fmt, value)


def _mac(text):
    return bytes(int(part, 16) for part in text.split(':'))


def _ip(text):
    family = AF_INET6 if ':' in text else AF_INET
    return family, socket.inet_pton(family, text)


def message(kind, flags, seq, body):
    return _HEADER.pack(16 + len(body), kind, flags, seq, 0) + body


def _link_data(kind, kwargs):
    attrs = []
    for key in sorted(kwargs):
        if key not in LINK_DATA:
            continue
        number, fmt = LINK_DATA[key]
        value = kwargs[key]
        if fmt == 'targets':
            payload = b''.join(nla(index, socket.inet_pton(AF_INET, address)) for index, address in enumerate(value))
            attrs.append(nla(number | NLA_F_NESTED, payload))
        else:
            attrs.append(nla(number, _u(fmt, value)))
    info = nla(IFLA_INFO_KIND, kind.encode() + b'\0')
    if attrs:
        info += nla(IFLA_INFO_DATA | NLA_F_NESTED, b''.join(attrs))
    return nla(IFLA_LINKINFO | NLA_F_NESTED, info)


def encode(request, seq):
    """ops.Request (with link names already turned into indexes) -> one netlink message."""
    kwargs = request.kwargs
    if request.method == 'link':
        return _encode_link(request.command, kwargs, seq)
    if request.method == 'vlan_filter':
        attrs = b''
        for name, value in kwargs['IFLA_AF_SPEC']['attrs']:
            if name == 'IFLA_BRIDGE_FLAGS':
                attrs += nla(IFLA_BRIDGE_FLAGS, _u('H', value))
            else:
                attrs += nla(IFLA_BRIDGE_VLAN_INFO, struct.pack('=HH', value['flags'], value['vid']))
        body = _IFINFO.pack(AF_BRIDGE, 0, kwargs['index'], 0, 0) + nla(IFLA_AF_SPEC, attrs)
        kind = RTM_SETLINK if request.command == 'add' else RTM_DELLINK
        return message(kind, NLM_F_REQUEST | NLM_F_ACK, seq, body)
    if request.method == 'addr':
        family, packed = _ip(kwargs['address'])
        body = _IFADDR.pack(family, kwargs['prefixlen'], 0, 0, kwargs['index'])
        # IPv4 names the address twice (local, and address = peer on point-to-point links); IPv6 once.
        body += (nla(IFA_LOCAL, packed) if family == AF_INET else b'') + nla(IFA_ADDRESS, packed)
        if request.command == 'add':
            return message(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, body)
        return message(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, seq, body)
    if request.method == 'route':
        family = kwargs['family']
        table = kwargs['table']
        body = _RTMSG.pack(family, kwargs['dst_len'], 0, 0, table if table < 256 else RT_TABLE_MAIN,
                           kwargs['proto'], kwargs['scope'], kwargs['type'], 0)
        if kwargs['dst_len']:
            body += nla(RTA_DST, socket.inet_pton(family, kwargs['dst']))
        body += nla(RTA_PRIORITY, _u('I', kwargs['priority']))
        if kwargs.get('gateway'):
            body += nla(RTA_GATEWAY, socket.inet_pton(family, kwargs['gateway']))
        if kwargs.get('oif'):
            body += nla(RTA_OIF, _u('I', kwargs['oif']))
        if kwargs.get('multipath'):
            hops = b''
            for hop in kwargs['multipath']:
                gateway = nla(RTA_GATEWAY, socket.inet_pton(family, hop['gateway'])) if hop.get('gateway') else b''
                hops += _RTNH.pack(_RTNH.size + len(gateway), 0, hop.get('hops', 0), hop['oif']) + gateway
            body += nla(RTA_MULTIPATH, hops)
        body += nla(RTA_TABLE, _u('I', table))
        if request.command == 'add':
            return message(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, body)
        return message(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, seq, body)
    raise ValueError('cannot encode %s %s' % (request.method, request.command))


def _encode_link(command, kwargs, seq):
    flags = kwargs.get('flags', 0)
    change = kwargs.get('change', 0)
    if kwargs.get('state') == 'up':
        flags |= IFF_UP
        change |= IFF_UP
    elif kwargs.get('state') == 'down':
        change |= IFF_UP
    body = _IFINFO.pack(AF_UNSPEC, 0, kwargs.get('index', 0), flags, change)
    if 'ifname' in kwargs:
        body += nla(IFLA_IFNAME, kwargs['ifname'].encode() + b'\0')
    if 'mtu' in kwargs:
        body += nla(IFLA_MTU, _u('I', kwargs['mtu']))
    if 'address' in kwargs:
        body += nla(IFLA_ADDRESS, _mac(kwargs['address']))
    if 'master' in kwargs:
        body += nla(IFLA_MASTER, _u('I', kwargs['master']))
    if 'kind' in kwargs:
        body += _link_data(kwargs['kind'], kwargs)
    if command == 'add':
        return message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, body)
    if command == 'del':
        return message(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq, body)
    return message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, body)


def get_link_request(name, seq):
    body = _IFINFO.pack(AF_UNSPEC, 0, 0, 0, 0) + nla(IFLA_IFNAME, name.encode() + b'\0') + nla(IFLA_EXT_MASK, _u('I', 8))
    return message(RTM_GETLINK, NLM_F_REQUEST, seq, body)


def dump_request(kind, family, seq, ext_mask=None):
    if kind == RTM_GETLINK:
        body = _IFINFO.pack(family, 0, 0, 0, 0)
        if ext_mask is not None:
            body += nla(IFLA_EXT_MASK, _u('I', ext_mask))
    elif kind == RTM_GETADDR:
        body = _IFADDR.pack(family, 0, 0, 0, 0)
    else:
        body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    return message(kind, NLM_F_REQUEST | NLM_F_DUMP, seq, body)


# ------------------------------------------------------------------------------------------------ decoding

def messages(data):
    """Split a buffer into (type, flags, seq, payload offset, end) tuples."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind, flags, seq, _pid = _HEADER.unpack_from(data, offset)
        if length < 16:
            break
        yield kind, flags, seq, offset + 16, offset + length
        offset += (length + 3) & ~3


def attrs(data, offset, end):
    """{type: (start, stop)} of the attributes in data[offset:end] (nested flag masked off; last one wins)."""
    found = {}
    while offset + 4 <= end:
        length, kind = _NLA.unpack_from(data, offset)
        if length < 4:
            break
        found[kind & 0x3fff] = (offset + 4, offset + length)
        offset += (length + 3) & ~3
    return found


def attr_list(data, offset, end):
    """[(type, start, stop)] in order (repeated attributes, e.g. VLAN infos)."""
    found = []
    while offset + 4 <= end:
        length, kind = _NLA.unpack_from(data, offset)
        if length < 4:
            break
        found.append((kind & 0x3fff, offset + 4, offset + length))
        offset += (length + 3) & ~3
    return found


def _string(data, span):
    return data[span[0]:span[1]].split(b'\0', 1)[0].decode('utf-8', 'replace')


def _num(data, span, fmt):
    return struct.unpack_from('=' + fmt, data, span[0])[0]


def _decode_table(data, span, table):
    values = {}
    for number, (start, stop) in attrs(data, span[0], span[1]).items():
        if number not in table:
            continue
        name, fmt = table[number]
        if fmt == 'targets':
            values[name] = [socket.inet_ntop(AF_INET, data[s:s + 4]) for _k, s, _e in attr_list(data, start, stop)]
        else:
            values[name] = _num(data, (start, stop), fmt)
    return values


_NLA_UNPACK = _NLA.unpack_from
_U32_UNPACK = struct.Struct('=I').unpack_from
_VLAN_UNPACK = struct.Struct('=HH').unpack_from
_LINK_NUMBERS = {IFLA_MTU: 'IFLA_MTU', IFLA_MASTER: 'IFLA_MASTER', IFLA_MAX_MTU: 'IFLA_MAX_MTU',
                 IFLA_MIN_MTU: 'IFLA_MIN_MTU'}
_LINK_WANTED = frozenset((IFLA_ADDRESS, IFLA_IFNAME, IFLA_LINKINFO, IFLA_AF_SPEC)) | frozenset(_LINK_NUMBERS)


def decode_link(data, offset, end):
    """An RTM_NEWLINK message -> the dict shape netlink.py's reader consumes (pyroute2 attribute names).

    A dump answers with ~50 attributes a link (1.3 KiB), of which the engine uses eight: one pass over the
    attribute headers keeps only those, and decodes the nested ones (link info, VLAN infos) alone."""
    family, _type, index, flags, _change = _IFINFO.unpack_from(data, offset)
    link = {'family': family, 'index': index, 'flags': flags}
    unpack, wanted = _NLA_UNPACK, _LINK_WANTED
    pos = offset + 16  # struct ifinfomsg
    while pos + 4 <= end:
        length, number = unpack(data, pos)
        if length < 4:
            break
        number &= 0x3fff
        if number in wanted:
            start, stop = pos + 4, pos + length
            if number == IFLA_IFNAME:
                link['ifname'] = data[start:stop].split(b'\0', 1)[0].decode('utf-8', 'replace')
            elif number == IFLA_ADDRESS:
                link['IFLA_ADDRESS'] = data[start:stop].hex(':')
            elif number == IFLA_LINKINFO:
                link['IFLA_LINKINFO'] = _decode_linkinfo(data, start, stop)
            elif number == IFLA_AF_SPEC:
                link['IFLA_AF_SPEC'] = [_VLAN_UNPACK(data, s) for kind, s, _e in attr_list(data, start, stop)
                                        if kind == IFLA_BRIDGE_VLAN_INFO]
            else:
                link[_LINK_NUMBERS[number]] = _U32_UNPACK(data, start)[0]
        pos += (length + 3) & ~3
    return link


def decode_port_vlans(data, offset, end):
    """An RTM_NEWLINK message of the AF_BRIDGE dump -> {'index', 'IFLA_AF_SPEC'}: all the reader takes from it
    (the link itself comes from the AF_UNSPEC dump)."""
    index = _IFINFO.unpack_from(data, offset)[2]
    link = {'index': index}
    unpack = _NLA_UNPACK
    pos = offset + 16
    while pos + 4 <= end:
        length, number = unpack(data, pos)
        if length < 4:
            break
        if number & 0x3fff == IFLA_AF_SPEC:
            link['IFLA_AF_SPEC'] = [_VLAN_UNPACK(data, s) for kind, s, _e in attr_list(data, pos + 4, pos + length)
                                    if kind == IFLA_BRIDGE_VLAN_INFO]
        pos += (length + 3) & ~3
    return link


def _decode_linkinfo(data, start, stop):
    info = attrs(data, start, stop)
    linkinfo = {}
    if IFLA_INFO_KIND in info:
        linkinfo['IFLA_INFO_KIND'] = _string(data, info[IFLA_INFO_KIND])
        table = INFO_DATA.get(linkinfo['IFLA_INFO_KIND'])
        if table and IFLA_INFO_DATA in info:
            linkinfo['IFLA_INFO_DATA'] = _decode_table(data, info[IFLA_INFO_DATA], table)
    if IFLA_INFO_SLAVE_KIND in info:
        linkinfo['IFLA_INFO_SLAVE_KIND'] = _string(data, info[IFLA_INFO_SLAVE_KIND])
        table = SLAVE_DATA.get(linkinfo['IFLA_INFO_SLAVE_KIND'])
        if table and IFLA_INFO_SLAVE_DATA in info:
            linkinfo['IFLA_INFO_SLAVE_DATA'] = _decode_table(data, info[IFLA_INFO_SLAVE_DATA], table)
    return linkinfo


def decode_address(data, offset, end):
    family, prefixlen, flags, _scope, index = _IFADDR.unpack_from(data, offset)
    found = attrs(data, offset + _IFADDR.size, end)
    item = {'family': family, 'prefixlen': prefixlen, 'flags': flags, 'index': index}
    for number, key in ((IFA_ADDRESS, 'IFA_ADDRESS'), (IFA_LOCAL, 'IFA_LOCAL')):
        if number in found and family in (AF_INET, AF_INET6):
            start, stop = found[number]
            item[key] = socket.inet_ntop(family, data[start:stop])
    if IFA_FLAGS in found:
        item['IFA_FLAGS'] = _num(data, found[IFA_FLAGS], 'I')
    return item


def decode_route(data, offset, end):
    family, dst_len, _src_len, _tos, table, proto, scope, kind, flags = _RTMSG.unpack_from(data, offset)
    found = attrs(data, offset + _RTMSG.size, end)
    item = {'family': family, 'dst_len': dst_len, 'table': table, 'proto': proto, 'scope': scope, 'type': kind,
            'flags': flags}
    for number, key in ((RTA_DST, 'RTA_DST'), (RTA_GATEWAY, 'RTA_GATEWAY')):
        if number in found and family in (AF_INET, AF_INET6):
            start, stop = found[number]
            item[key] = socket.inet_ntop(family, data[start:stop])
    for number, key in ((RTA_OIF, 'RTA_OIF'), (RTA_PRIORITY, 'RTA_PRIORITY'), (RTA_TABLE, 'RTA_TABLE')):
        if number in found:
            item[key] = _num(data, found[number], 'I')
    if RTA_MULTIPATH in found:
        item['RTA_MULTIPATH'] = _nexthops(data, found[RTA_MULTIPATH], family)
    return item


def _nexthops(data, span, family):
    """The nexthops of a multipath route, as pyroute2 reads them: [{'oif': index, 'RTA_GATEWAY': text}]."""
    hops = []
    offset, end = span
    while offset + _RTNH.size <= end:
        length, _flags, _hops, index = _RTNH.unpack_from(data, offset)
        if length < _RTNH.size:
            break
        hop = {'oif': index}
        found = attrs(data, offset + _RTNH.size, offset + length)
        if RTA_GATEWAY in found and family in (AF_INET, AF_INET6):
            start, stop = found[RTA_GATEWAY]
            hop['RTA_GATEWAY'] = socket.inet_ntop(family, data[start:stop])
        hops.append(hop)
        offset += (length + 3) & ~3
    return hops
