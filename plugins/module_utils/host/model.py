# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The host engine's vocabulary: bond/bridge option tables, the canonical node state, and the queries about it
that the planner, validation, the facts and the saved state share (which bridge a port is on, who the desired
state puts where, which bridges migrate their uplink, the primary a bond reports).

The canonical state is a plain dict, the one shape that facts produce, the kernel model mutates,
the planner compares and rollback restores::

    {
      'links':     {name: {'kind', 'mtu', 'up', 'master', 'max_mtu', 'index'}},
      'bonds':     {name: {option: value}},          # every option the kernel reports, user-facing names
      'bridges':   {name: {'vlan_filtering', 'stp', 'default_pvid', 'promisc', 'mtu_pinned'}},
      'vlans':     {port or bridge: {vid: flags}},   # flags: PVID | UNTAGGED
      'addresses': {name: {'10.0.0.2/24': {'secondary': bool}}},
      'routes':    {(dst, metric): {'dst', 'gateway', 'interface', 'metric'}},
    }

Values are normalised once (int MTU, lower-case MAC, canonical IP text) so comparing is a dict diff.
``None`` in a target state means "not managed, any value is fine".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.harvester.network.plugins.module_utils.host import vocabulary

BRIDGE_VLAN_PVID = 0x2
BRIDGE_VLAN_UNTAGGED = 0x4
VLAN_FLAG_MASK = BRIDGE_VLAN_PVID | BRIDGE_VLAN_UNTAGGED

IFNAMSIZ = 16
MTU_MIN = 68
MTU_MAX = 65535

BOND_MODES = list(vocabulary.BOND_MODES)
LACP_RATES = ['slow', 'fast']
XMIT_HASH_POLICIES = ['layer2', 'layer3+4', 'layer2+3', 'encap2+3', 'encap3+4', 'vlan+srcmac']
AD_SELECTS = ['stable', 'bandwidth', 'count']

# The options each mode honours.  An option outside its mode is rejected at validation (the kernel
# either refuses it or silently ignores it), and gathered facts leave it out, so gathered -> overridden
# round-trips.
_ARP_MODES = ('balance-rr', 'active-backup', 'balance-xor', 'broadcast')
_ALL_MODES = tuple(BOND_MODES)
BOND_OPTION_MODES = {
    'miimon': _ALL_MODES,
    'updelay': _ALL_MODES,
    'downdelay': _ALL_MODES,
    'arp_interval': _ARP_MODES,
    'arp_ip_target': _ARP_MODES,
    'primary': ('active-backup', 'balance-tlb', 'balance-alb'),
    'lacp_rate': ('802.3ad',),
    'ad_select': ('802.3ad',),
    'min_links': ('802.3ad',),
    'xmit_hash_policy': ('balance-xor', '802.3ad', 'balance-tlb', 'balance-alb'),
}
BOND_OPTIONS = ('mode',) + tuple(BOND_OPTION_MODES)
# The kernel refuses these while the bond is up (BOND_OPTFLAG_IFDOWN); mode also needs no slaves.
BOND_OPTIONS_NEED_DOWN = ('mode', 'lacp_rate', 'ad_select')

# Kernel defaults of a bond created over netlink without options (drivers/net/bonding, Linux 6.x).
BOND_DEFAULT_MIIMON = 100
BOND_DEFAULTS = {
    'mode': 'balance-rr', 'miimon': 0, 'updelay': 0, 'downdelay': 0, 'arp_interval': 0,
    'arp_ip_target': [], 'primary': None, 'lacp_rate': 'slow', 'ad_select': 'stable', 'min_links': 0,
    'xmit_hash_policy': 'layer2',
}
BRIDGE_DEFAULTS = {'vlan_filtering': False, 'stp': False, 'default_pvid': 1, 'promisc': False}

# Enumerated bond options: user-facing name -> list index == kernel value.
BOND_ENUMS = {
    'mode': BOND_MODES,
    'lacp_rate': LACP_RATES,
    'xmit_hash_policy': XMIT_HASH_POLICIES,
    'ad_select': AD_SELECTS,
}


def empty_state():
    """A node with nothing on it (what ``rendered`` plans against).  ``other_routes`` are the routes the engine
    does not manage (other tables, multipath), keyed by their text (other_route_text)."""
    return {'links': {}, 'bonds': {}, 'bridges': {}, 'vlans': {}, 'addresses': {}, 'routes': {}, 'other_routes': {}}


_CONTAINERS = (dict, list)


def _copy_value(value):
    """Dicts and lists copied all the way down, anything else shared (a state's scalars, tuples and sets are not
    changed in place).  Comprehensions with the scalar test inline: a node with 1000 ports has 2000 links of ten
    scalars each, and a function call per scalar was most of the copy."""
    if isinstance(value, dict):
        return {key: _copy_value(item) if isinstance(item, _CONTAINERS) else item for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_value(item) if isinstance(item, _CONTAINERS) else item for item in value]
    return value


def clone(state):
    """Deep copy of a state, hand-rolled: states are dicts of dicts of scalars (and short lists), and a
    2-4094 trunk alone is a 4093-entry table, so copy.deepcopy's bookkeeping would dominate."""
    new = dict((key, _copy_value(value)) for key, value in state.items() if key != 'vlans')
    new['vlans'] = dict((port, dict(table)) for port, table in state.get('vlans', {}).items())
    return new


def clone_light(state):
    """A copy good enough for simulating link operations on it: VLAN tables are shared (link operations replace
    or drop a port's table, never edit it), everything else is copied one level deep.  Cheap where clone() is not
    (a 2-4094 trunk is a 4093-entry table)."""
    return {
        'links': dict((name, dict(link)) for name, link in state['links'].items()),
        'bonds': dict((name, dict(bond)) for name, bond in state['bonds'].items()),
        'bridges': dict((name, dict(bridge)) for name, bridge in state['bridges'].items()),
        'vlans': dict(state['vlans']),
        'addresses': dict((name, dict(addresses)) for name, addresses in state['addresses'].items()),
        'routes': dict(state['routes']),
        'other_routes': dict(state.get('other_routes') or {}),
    }


def members(state, master):
    """Names of the links enslaved to ``master``, sorted."""
    return sorted(name for name, link in state['links'].items() if link.get('master') == master)


def has_members(state, master):
    """Whether any link is enslaved to ``master`` (stops at the first one: asked once per port joining a bridge)."""
    return any(link.get('master') == master for link in state['links'].values())


def kind_of(state, name):
    link = state['links'].get(name)
    return link.get('kind') if link else None


# --------------------------------------------------------------------------------------- shared queries
# Who is where, asked by the planner, validation, the saved state and the facts alike: each answered here once.

def bridge_of(state, port):
    """The bridge ``port`` is on (a bridge is on itself: its own VLAN table); None when it is on no bridge."""
    if port in state['bridges']:
        return port
    master = state['links'].get(port, {}).get('master')
    return master if master in state['bridges'] else None


def bond_reported_primary(state, bond_name):
    """The kernel reports a primary only while that slave is in the bond."""
    bond = state['bonds'][bond_name]
    name = bond.get('_primary_name')
    if name and state['links'].get(name, {}).get('master') == bond_name:
        return name
    return None


def migrations(want):
    """{uplink: bridge} of the bridges that take their uplink's addresses and routes."""
    if want['state'] == 'deleted':
        return {}
    return dict((spec['uplink'], name) for name, spec in sorted((want.get('bridges') or {}).items())
                if spec.get('migrate') and spec.get('uplink'))


def membership(have, want):
    """Who the desired state puts where.

    Returns ``(masters, deleted, conflicts, released)``: the target master of every link the desired state
    decides (``{link: (master or None, field)}``), the bonds and bridges to delete, links claimed by two
    masters, and the ``(link, master)`` pairs the desired state explicitly releases.  Used by validation
    (to report conflicts) and by the planner (to act on them).
    """
    state = want['state']
    deleted = set()
    masters = {}
    conflicts = []
    released = set()

    def claim(link, master, field):
        previous = masters.get(link, (None, None))[0]
        if master is None:
            if previous is None:
                masters[link] = (None, field)
            return
        if previous not in (None, master):
            conflicts.append((link, masters[link], (master, field)))
            return
        masters[link] = (master, field)

    for kind, section in (('bond', 'bonds'), ('bridge', 'bridges')):
        specs = want.get(section)
        if specs is None:
            continue
        existing = [name for name, link in have['links'].items() if link.get('kind') == kind]
        if state == 'deleted':
            deleted.update(specs.keys() if specs else existing)
            continue
        if state == 'overridden':
            deleted.update(name for name in existing if name not in specs)
        for name in sorted(specs):
            spec = specs[name]
            current = set(members(have, name))
            if kind == 'bond':
                wanted = spec.get('slaves')
                label = '%s.slaves' % want.get('fields', {}).get(name, '%s[%s]' % (section, name))
            else:
                wanted = spec.get('ports')
                if spec.get('uplink'):
                    wanted = sorted(set(wanted or ()) | set([spec['uplink']]))
                label = '%s.ports' % want.get('fields', {}).get(name, '%s[%s]' % (section, name))
            if wanted is None:
                continue
            target = current | set(wanted) if state == 'merged' else set(wanted)
            for link in sorted(target):
                claim(link, name, label)
            for link in sorted(current - target):
                claim(link, None, label)
                released.add((link, name))
    return masters, deleted, conflicts, released


def default_vlan_table(default_pvid):
    """What a port gets on joining a VLAN-filtering bridge: the default PVID, untagged."""
    if not default_pvid:
        return {}
    return {default_pvid: BRIDGE_VLAN_PVID | BRIDGE_VLAN_UNTAGGED}


def table_pvid(table):
    for vid, flags in table.items():
        if flags & BRIDGE_VLAN_PVID:
            return vid
    return 0


def normalize_mac(value):
    if value is None:
        return None
    text = str(value).strip().lower().replace('-', ':')
    parts = text.split(':')
    if len(parts) != 6 or not all(len(part) == 2 and all(c in '0123456789abcdef' for c in part) for part in parts):
        raise ValueError('%r is not a MAC address; write it as 52:54:00:12:34:56' % (value,))
    return text


def normalize_interface_address(value):
    """'10.0.0.2/24' -> canonical text; a bare address or a bad prefix raises ValueError."""
    text = str(value).strip()
    if '/' not in text:
        raise ValueError('%r has no prefix length; write it as 10.0.0.2/24 or fd00::2/64' % (value,))
    iface = ipaddress.ip_interface(text)
    return '%s/%d' % (iface.ip.compressed, iface.network.prefixlen)


def normalize_network(value, family_hint=None):
    """Route destination -> canonical network text ('default' needs the family from the gateway)."""
    text = str(value).strip()
    if text == 'default':
        if family_hint == 6:
            return '::/0'
        if family_hint == 4:
            return '0.0.0.0/0'
        raise ValueError('"default" needs a gateway to tell IPv4 from IPv6; write 0.0.0.0/0 or ::/0')
    network = ipaddress.ip_network(text, strict=True)
    return network.with_prefixlen if network.version == 4 else '%s/%d' % (network.network_address.compressed,
                                                                          network.prefixlen)


def address_family(text):
    return ipaddress.ip_interface(text).version if '/' in text else ipaddress.ip_address(text).version


def route_key(route):
    """Routes are keyed by destination and metric (two default routes may differ by metric)."""
    return (route['dst'], route['metric'])


def default_metric(dst):
    """Kernel defaults: IPv4 routes get metric 0, IPv6 routes 1024."""
    return 1024 if ':' in dst else 0


TABLE_NAMES = {253: 'default', 254: 'main', 255: 'local'}


def other_route_text(route):
    """The iproute2 command that adds a route the engine does not manage (its key in ``other_routes``)."""
    words = ['ip', '-6' if ':' in route['dst'] else '-4', 'route add', route['dst'],
             'table', TABLE_NAMES.get(route['table'], str(route['table'])), 'metric', str(route['metric'])]
    hops = route['nexthops']
    for hop in hops:
        words.extend((['nexthop'] if len(hops) > 1 else []) + (['via', hop['gateway']] if hop.get('gateway') else [])
                     + (['dev', hop['interface']] if hop.get('interface') else []))
    return ' '.join(words)


def moved_route(route, moves):
    """``route`` with its nexthops through the links in ``moves`` ({link: new link}) going through the new ones."""
    hops = [dict(hop, interface=moves.get(hop.get('interface'), hop.get('interface'))) for hop in route['nexthops']]
    return dict(route, nexthops=hops)
