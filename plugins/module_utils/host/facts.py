# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Facts in the shape the modules accept (so gathered output fed back with ``state: overridden`` is a no-op),
and the comparison of two canonical states (check-mode accuracy, verification, rollback)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host import model
from ansible_collections.harvester.network.plugins.module_utils.host.vids import range_strings


def bond_config(state, name):
    bond = state['bonds'][name]
    link = state['links'][name]
    mode = bond.get('mode')
    item = {'name': name, 'mode': mode, 'slaves': model.members(state, name), 'mtu': link.get('mtu'),
            'mac': link.get('mac'), 'up': bool(link.get('up'))}
    for key, modes in sorted(model.BOND_OPTION_MODES.items()):
        if mode not in modes:
            continue
        if key == 'primary':
            primary = model.bond_reported_primary(state, name)
            if primary:
                item['primary'] = primary
            continue
        if key == 'arp_ip_target':
            item[key] = list(bond.get(key) or [])
            continue
        if key in ('updelay', 'downdelay') and not bond.get('miimon'):
            continue
        item[key] = bond.get(key)
    return item


def _uplink(state, name):
    """The port that carries the bridge out of the node: its only bond or physical NIC of the same MTU.

    A prediction may not know the bridge's MTU (the kernel model's ``None``: an existing bridge whose MTU may or may
    not be pinned); its only bond or NIC is then taken as the uplink, as the kernel's re-derivation from the ports
    makes it (found by the check-mode property test: a bond's MTU lowered under a bridge read from the node)."""
    mtu = state['links'][name].get('mtu')
    candidates = [port for port in model.members(state, name)
                  if state['links'][port].get('kind') in ('bond', None)
                  and (mtu is None or state['links'][port].get('mtu') == mtu)]
    return candidates[0] if len(candidates) == 1 else None


def bridge_config(state, name):
    bridge = state['bridges'][name]
    link = state['links'][name]
    uplink = _uplink(state, name)
    return {'name': name, 'vlan_filtering': bridge['vlan_filtering'], 'default_pvid': bridge['default_pvid'],
            'stp': bridge['stp'], 'promisc': bool(link.get('promisc')), 'mtu': link.get('mtu'),
            'mac': link.get('mac'), 'up': bool(link.get('up')), 'uplink': uplink,
            'ports': [port for port in model.members(state, name) if port != uplink]}


def vlan_config(state, port):
    table = state['vlans'][port]
    pvid = model.table_pvid(table)
    untagged = {vid for vid, flags in table.items() if flags & model.BRIDGE_VLAN_UNTAGGED}
    tagged = set(table) - untagged - set([pvid])
    return {'port': port, 'bridge': model.bridge_of(state, port), 'vids': range_strings(tagged), 'pvid': pvid,
            'untagged': range_strings(untagged)}


def to_config(state, sections=None, bridges=None):
    """The node as host_network (and the other modules) take it.

    ``sections`` limits the output to some lists; ``bridges`` limits bridges and VLANs to those bridges.
    """
    sections = sections or ('bonds', 'bridges', 'vlans', 'addresses', 'routes')
    config = {}
    if 'bonds' in sections:
        config['bonds'] = [bond_config(state, name) for name in sorted(state['bonds']) if name in state['links']]
    if 'bridges' in sections:
        config['bridges'] = [bridge_config(state, name) for name in sorted(state['bridges'])
                             if name in state['links'] and (bridges is None or name in bridges)]
    if 'vlans' in sections:
        config['vlans'] = [vlan_config(state, port) for port in sorted(state['vlans'])
                           if port in state['links'] and model.bridge_of(state, port) in state['bridges']
                           and state['bridges'][model.bridge_of(state, port)]['vlan_filtering']
                           and (bridges is None or model.bridge_of(state, port) in bridges)]
    if 'addresses' in sections:
        config['addresses'] = [{'interface': link, 'address': address}
                               for link in sorted(state['addresses']) if link in state['links']
                               for address in sorted(state['addresses'][link])]
    if 'routes' in sections:
        config['routes'] = [dict(state['routes'][key]) for key in sorted(state['routes'])]
    return config


def status(state):
    """What the info module reports besides the config: every link, and bond slave states."""
    links = []
    for name in sorted(state['links']):
        link = state['links'][name]
        item = dict((key, link.get(key)) for key in ('kind', 'mtu', 'up', 'master', 'mac', 'max_mtu'))
        item['name'] = name
        if link.get('bond_slave'):
            item['bond_slave'] = dict(link['bond_slave'])
        links.append(item)
    return {'links': links}


# --------------------------------------------------------------------------------------- comparison

def comparable(state):
    """The parts of a state that define the node's network: what rollback restores and check mode predicts.

    MAC addresses of bonds, bridges and bond slaves are left out (the kernel derives them), so are the
    primary/secondary flags of addresses (they only record the order addresses were added in).
    """
    result = {'links': {}, 'bonds': {}, 'bridges': {}, 'vlans': {}, 'addresses': {}, 'routes': {},
              'other_routes': dict((key, True) for key in state.get('other_routes') or {})}
    for name, link in state['links'].items():
        result['links'][name] = {'kind': link.get('kind'), 'mtu': link.get('mtu'), 'up': bool(link.get('up')),
                                 'master': link.get('master')}
    for item in to_config(state, sections=('bonds',))['bonds']:
        item.pop('mac')
        result['bonds'][item['name']] = item
    for name, bridge in state['bridges'].items():
        if name in state['links']:
            result['bridges'][name] = dict((key, bridge.get(key)) for key in ('vlan_filtering', 'stp', 'default_pvid'))
    for port, table in state['vlans'].items():
        if port in state['links']:
            result['vlans'][port] = table  # compared, never changed: no copy of 4093-entry trunks
    for name, addresses in state['addresses'].items():
        if addresses and name in state['links']:
            result['addresses'][name] = sorted(addresses)
    for key, route in state['routes'].items():
        result['routes']['%s metric %s' % key] = dict(route)
    return result


def differences(expected, actual, limit=20):
    """Human-readable differences between two states; ``None`` in ``expected`` means "any value"."""
    left = comparable(expected)
    right = comparable(actual)
    found = []

    def walk(path, a, b):
        if len(found) >= limit:
            return
        if a is None:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                if key not in b:
                    found.append('%s%s: expected %s, missing' % (path, key, _short(a[key])))
                elif key not in a:
                    found.append('%s%s: not expected, found %s' % (path, key, _short(b[key])))
                else:
                    walk('%s%s.' % (path, key), a[key], b[key])
            return
        if a != b:
            found.append('%s: expected %s, found %s' % (path.rstrip('.'), _short(a), _short(b)))

    for section in ('links', 'bonds', 'bridges', 'vlans', 'addresses', 'routes', 'other_routes'):
        if section == 'vlans':
            for port in sorted(set(left[section]) | set(right[section])):
                a = left[section].get(port)
                b = right[section].get(port)
                if a != b:
                    found.append('vlans.%s: expected %s, found %s' % (port, _table_text(a), _table_text(b)))
            continue
        walk(section + '.', left[section], right[section])
    return found[:limit]


def _table_text(table):
    if table is None:
        return 'no VLAN table'
    groups = {}
    for vid, flags in table.items():
        groups.setdefault(flags, set()).add(vid)
    names = {0: 'tagged', 2: 'pvid', 4: 'untagged', 6: 'pvid untagged'}
    return '{%s}' % ', '.join('%s %s' % (names.get(flags, flags), ','.join(range_strings(vids)))
                              for flags, vids in sorted(groups.items()))


def _short(value):
    text = repr(value)
    return text if len(text) < 120 else text[:117] + '...'
