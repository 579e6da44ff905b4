# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The kernel model: what Linux does to the canonical state (model.py) when an operation runs, side effects
included.  The operations' ``simulate()`` (ops.py) are made of these; check mode predicts with them and the planner
sees every intermediate state through them.  Each function names the kernel code it follows.  Pure: no I/O."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host import model

# The bond options in the order the kernel's bond_changelink() applies them (it matters: miimon before
# updelay, miimon/arp_interval switch each other off).
BOND_KERNEL_ORDER = ('mode', 'miimon', 'updelay', 'downdelay', 'arp_interval', 'arp_ip_target', 'primary',
                     'xmit_hash_policy', 'min_links', 'lacp_rate', 'ad_select')
_ARP_MODES = model.BOND_OPTION_MODES['arp_interval']


def bridge_mtu_follow_ports(state, bridge, joined=None):
    """A bridge whose MTU was never set explicitly takes the smallest MTU of its ports (br_mtu_auto_adjust).

    ``joined``: the port that just joined (then the new minimum needs no scan of all links).
    """
    info = state['bridges'].get(bridge)
    if info is None:
        return
    pinned = info.get('mtu_pinned')
    if pinned:
        return
    if pinned is None:
        state['links'][bridge]['mtu'] = None  # unknown: depends on how the MTU was set before we came
        return
    if joined is not None:
        ports = info.get('_ports')
        mtu = state['links'][joined]['mtu']
        current = state['links'][bridge]['mtu']
        if ports:  # the bridge had ports before: the minimum can only go down
            state['links'][bridge]['mtu'] = None if mtu is None or current is None else min(mtu, current)
        else:
            state['links'][bridge]['mtu'] = mtu
        info['_ports'] = (ports or 0) + 1
        return
    port_mtus = [state['links'][port]['mtu'] for port in model.members(state, bridge)]
    info['_ports'] = len(port_mtus)
    if not port_mtus:
        state['links'][bridge]['mtu'] = 1500  # br_mtu_min() of a bridge without ports: ETH_DATA_LEN
        return
    if None in port_mtus:
        state['links'][bridge]['mtu'] = None
    else:
        state['links'][bridge]['mtu'] = min(port_mtus)


def _is_default_pvid_entry(table, vid):
    """br_vlan.c vlan_default_pvid(): ``vid`` is the PVID and egresses untagged."""
    flags = table.get(vid)
    return bool(vid) and flags is not None and flags & model.BRIDGE_VLAN_PVID and flags & model.BRIDGE_VLAN_UNTAGGED


def set_default_pvid(state, bridge, new):
    """Kernel semantics of changing a bridge's default PVID (br_vlan.c __br_vlan_set_default_pvid):
    the bridge and each port still carrying the old default PVID untagged move to the new one, unless
    they already have the new VID configured."""
    old = state['bridges'][bridge]['default_pvid']
    state['bridges'][bridge]['default_pvid'] = new
    if old == new:
        return
    for name in [bridge] + model.members(state, bridge):
        table = state['vlans'].setdefault(name, {})
        if not new:
            if _is_default_pvid_entry(table, old):
                del table[old]
            continue
        if old and not _is_default_pvid_entry(table, old):
            continue
        if new in table:
            continue
        vlan_set(table, new, model.BRIDGE_VLAN_PVID | model.BRIDGE_VLAN_UNTAGGED)
        table.pop(old, None)


def vlan_set(table, vid, flags):
    if flags & model.BRIDGE_VLAN_PVID:
        for other, other_flags in list(table.items()):
            if other_flags & model.BRIDGE_VLAN_PVID:
                table[other] = other_flags & ~model.BRIDGE_VLAN_PVID
    table[vid] = flags


def apply_bond_options(bond, options):
    """Apply bond option changes the way bond_changelink() does, side effects included.

    The kernel keeps up/downdelay as a number of miimon intervals ("ticks") and reports ticks * miimon, so they
    are modelled as ticks: changing miimon scales them, switching MII monitoring off hides them.
    """
    miimon = bond.get('miimon') or 0
    ticks = {}
    for key in ('updelay', 'downdelay'):
        ticks[key] = bond.get('_%s_ticks' % key)
        if ticks[key] is None:
            ticks[key] = (bond.get(key) or 0) // miimon if miimon else 0
    for key in BOND_KERNEL_ORDER:
        if key not in options:
            continue
        value = options[key]
        if key == 'mode':
            if value not in _ARP_MODES:
                # bond_option_mode_set(): no ARP monitoring in this mode, and MII monitoring on by default.
                bond['arp_interval'] = 0
                if not bond.get('miimon'):
                    bond['miimon'] = model.BOND_DEFAULT_MIIMON
            bond['mode'] = value
        elif key == 'miimon':
            bond['miimon'] = value
            if value:
                bond['arp_interval'] = 0
        elif key in ('updelay', 'downdelay'):
            current = bond.get('miimon') or 0
            if current:
                ticks[key] = value // current
        elif key == 'arp_interval':
            bond['arp_interval'] = value
            if value:
                bond['miimon'] = 0
        elif key == 'arp_ip_target':
            bond['arp_ip_target'] = sorted(value or [])
        elif key == 'primary':
            bond['_primary_name'] = value or None
        else:
            bond[key] = value
    miimon = bond.get('miimon') or 0
    for key in ('updelay', 'downdelay'):
        bond['_%s_ticks' % key] = ticks[key]
        bond[key] = ticks[key] * miimon


# The MAC of a bridge whose last port left (br_stp_if.c br_stp_recalculate_bridge_id(): with no port the lowest
# port address is br_mac_zero, and the bridge takes it).  On such a bridge the kernel refuses a VLAN of its own with
# EINVAL (br_vlan.c br_vlan_add() -> br_fdb.c fdb_add_local(): not is_valid_ether_addr()).  Observed on the test
# guest's Debian 6.1.0-57 kernel (tests/integration/host/test_host_check_mode.py, PORTLESS_BRIDGE_TABLE).
ZERO_MAC = '00:00:00:00:00:00'


def mark_set_bridge_macs(state):
    """Netlink does not say whether a link's MAC address was set (addr_assign_type), but a bridge shows it: one
    whose address is not the lowest of its ports' was set (NET_ADDR_SET: the kernel keeps it), one with ZERO_MAC
    was not; for a bridge without ports and another address it stays unknown (``mac_set`` None)."""
    for name in state['bridges']:
        link = state['links'].get(name)
        if link is None or link.get('mac_set') is not None:
            continue
        ports = [state['links'][port].get('mac') for port in model.members(state, name)]
        if link.get('mac') == ZERO_MAC:
            link['mac_set'] = False
        elif ports and None not in ports and link.get('mac'):
            link['mac_set'] = link['mac'] != min(ports)


def mac_derived(state, name):
    """``name`` re-derives its MAC unless one was set (a bond from its first slave or at random, a bridge from
    its lowest port MAC): unknown to the model, and so is the MAC of the bridge it is a port of; a bridge left
    without ports gets ZERO_MAC (when it is known that its MAC was not set: mark_set_bridge_macs())."""
    link = state['links'].get(name)
    if link is None or link.get('mac_set'):
        return
    link['mac'] = None
    if link.get('mac_set') is False and name in state.get('bridges', {}) and not model.has_members(state, name):
        link['mac'] = ZERO_MAC
    if link.get('master') in state['bridges']:
        mac_derived(state, link['master'])


def detach(state, member, master):
    link = state['links'][member]
    link['master'] = None
    mac_derived(state, master)
    if master in state['bonds']:
        # __bond_release_one(): the slave is closed, its MTU and MAC restored.
        link['up'] = False
        link['mtu'] = link.pop('_orig_mtu', None)
        link['mac'] = link.pop('_orig_mac', None)
        drop_link_routes(state, member)
        drop_v6_addresses(state, member)
    else:
        state['vlans'].pop(member, None)


def drop_link_routes(state, name, families=(4, 6)):
    for key, route in list(state['routes'].items()):
        if route.get('interface') == name and _route_family(route) in families:
            del state['routes'][key]
    others = state.get('other_routes')
    for key, route in list((others or {}).items()):
        # every table; a multipath route loses the nexthop (dead): the engine counts the route as dropped
        if _route_family(route) in families and any(hop.get('interface') == name for hop in route['nexthops']):
            del others[key]


def _route_family(route):
    return 6 if ':' in route['dst'] else 4


def drop_v6_addresses(state, name):
    addresses = state['addresses'].get(name)
    if addresses:
        for address in [a for a in addresses if ':' in a]:
            del addresses[address]


def ipv4_net(text):
    import ipaddress  # local: keeps this module's import list to the standard library's basics
    return ipaddress.ip_interface(text).network
