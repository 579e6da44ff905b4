# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How the operations travel: the netlink requests of ops.py's operations as pyroute2 call arguments (the shape of
ops.Request).  netlink.py compiles them with either codec (nlmsg.py's, or pyroute2's).  Pure: no I/O."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host import model
from ansible_collections.harvester.network.plugins.module_utils.host.vids import to_ranges

IFF_PROMISC = 0x100
BRIDGE_FLAGS_SELF = 0x2
VLAN_RANGE_BEGIN = 0x8
VLAN_RANGE_END = 0x10

BOND_NLA = {
    'mode': 'bond_mode', 'miimon': 'bond_miimon', 'updelay': 'bond_updelay', 'downdelay': 'bond_downdelay',
    'arp_interval': 'bond_arp_interval', 'arp_ip_target': 'bond_arp_ip_target', 'primary': 'bond_primary',
    'xmit_hash_policy': 'bond_xmit_hash_policy', 'min_links': 'bond_min_links',
    'lacp_rate': 'bond_ad_lacp_rate', 'ad_select': 'bond_ad_select',
}
BRIDGE_NLA = {'vlan_filtering': 'br_vlan_filtering', 'stp': 'br_stp_state', 'default_pvid': 'br_vlan_default_pvid'}


def option_nla(kind, key, value):
    """User-facing option -> (pyroute2 keyword, kernel value)."""
    if kind == 'bond':
        nla = BOND_NLA[key]
        if key in model.BOND_ENUMS:
            value = model.BOND_ENUMS[key].index(value)
        elif key == 'primary':
            value = value or 0
        elif key == 'arp_ip_target':
            value = list(value or [])
        return nla, value
    nla = BRIDGE_NLA[key]
    if key in ('vlan_filtering', 'stp'):
        value = 1 if value else 0
    return nla, value


def vlan_info_attrs(vids, flags):
    attrs = []
    for first, last in to_ranges(vids):
        if first == last or flags & model.BRIDGE_VLAN_PVID:
            # The PVID is a single VID (the kernel refuses it inside a range).
            for vid in range(first, last + 1):
                attrs.append(('IFLA_BRIDGE_VLAN_INFO', {'flags': flags, 'vid': vid}))
        else:
            attrs.append(('IFLA_BRIDGE_VLAN_INFO', {'flags': flags | VLAN_RANGE_BEGIN, 'vid': first}))
            attrs.append(('IFLA_BRIDGE_VLAN_INFO', {'flags': flags | VLAN_RANGE_END, 'vid': last}))
    return attrs


def route_kwargs(op):
    ip, prefix = op.dst.split('/')
    kwargs = {'dst': ip, 'dst_len': int(prefix), 'table': 254, 'priority': op.metric,
              'family': 10 if ':' in op.dst else 2, 'proto': 3, 'type': 1}
    if op.gateway:
        kwargs['gateway'] = op.gateway
        kwargs['scope'] = 0
    else:
        kwargs['scope'] = 253  # link
    if op.interface:
        kwargs['oif'] = op.interface
    return kwargs


def other_route_kwargs(route):
    ip, prefix = route['dst'].split('/')
    kwargs = {'dst': ip, 'dst_len': int(prefix), 'table': route['table'], 'priority': route['metric'],
              'family': 10 if ':' in route['dst'] else 2, 'proto': 3, 'type': 1}
    hops = route['nexthops']
    kwargs['scope'] = 0 if any(hop.get('gateway') for hop in hops) else 253
    if len(hops) > 1:
        kwargs['multipath'] = [_hop_kwargs(hop) for hop in hops]
    else:
        if hops[0].get('gateway'):
            kwargs['gateway'] = hops[0]['gateway']
        if hops[0].get('interface'):
            kwargs['oif'] = hops[0]['interface']
    return kwargs


def _hop_kwargs(hop):
    kwargs = {'oif': hop['interface']}
    if hop.get('gateway'):
        kwargs['gateway'] = hop['gateway']
    return kwargs
