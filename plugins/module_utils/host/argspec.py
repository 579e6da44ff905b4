# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Argument specs of the host modules: pure data, one definition per shape, shared by the modules,
the Python API and the tests.  The DOCUMENTATION of each module mirrors these exactly."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host.model import (
    AD_SELECTS, BOND_MODES, LACP_RATES, XMIT_HASH_POLICIES)

RESOURCE_STATES = ['merged', 'replaced', 'overridden', 'deleted', 'gathered', 'rendered']


def bond_options():
    """The options of one bond (host_bond top level, host_network bonds[])."""
    return dict(
        name=dict(type='str', required=True),
        mode=dict(type='str', choices=BOND_MODES),
        slaves=dict(type='list', elements='str'),
        mtu=dict(type='int'),
        mac=dict(type='str'),
        up=dict(type='bool', default=True),
        miimon=dict(type='int'),
        updelay=dict(type='int'),
        downdelay=dict(type='int'),
        lacp_rate=dict(type='str', choices=LACP_RATES),
        xmit_hash_policy=dict(type='str', choices=XMIT_HASH_POLICIES),
        ad_select=dict(type='str', choices=AD_SELECTS),
        primary=dict(type='str'),
        arp_interval=dict(type='int'),
        arp_ip_target=dict(type='list', elements='str'),
        min_links=dict(type='int'),
    )


def bridge_options():
    """The options of one bridge (host_bridge top level, host_network bridges[])."""
    return dict(
        name=dict(type='str', required=True),
        vlan_filtering=dict(type='bool', default=True),
        default_pvid=dict(type='int', default=1),
        stp=dict(type='bool', default=False),
        mtu=dict(type='int'),
        mac=dict(type='str'),
        promisc=dict(type='bool', default=True),
        up=dict(type='bool', default=True),
        uplink=dict(type='str'),
        ports=dict(type='list', elements='str'),
        migrate=dict(type='bool', default=False),
    )


def vlan_options():
    """One port's VLAN membership (host_vlan_trunk config[], host_network vlans[])."""
    return dict(
        port=dict(type='str', required=True),
        bridge=dict(type='str'),
        vids=dict(type='list', elements='raw'),
        pvid=dict(type='int'),
        untagged=dict(type='list', elements='raw'),
    )


def address_options():
    return dict(
        interface=dict(type='str', required=True),
        address=dict(type='str', required=True),
    )


def route_options():
    return dict(
        dst=dict(type='str', required=True),
        gateway=dict(type='str'),
        interface=dict(type='str'),
        metric=dict(type='int'),
    )


def probe_options():
    return dict(
        enabled=dict(type='bool', default=True),
        gateway=dict(type='bool', default=True),
        delay=dict(type='float', default=0.0),
        ping=dict(type='list', elements='dict', options=dict(
            target=dict(type='str', required=True),
            interface=dict(type='str'),
            count=dict(type='int', default=3),
            timeout=dict(type='float', default=3.0),
        )),
        tcp=dict(type='list', elements='dict', options=dict(
            host=dict(type='str', required=True),
            port=dict(type='int', required=True),
            interface=dict(type='str'),
            timeout=dict(type='float', default=3.0),
        )),
    )


def common_write_options():
    """Options every writing module shares (doc fragment harvester.network.host)."""
    return dict(
        lock_timeout=dict(type='float', default=60.0),
        persist=dict(type='bool', default=False),
    )


def host_bond_spec():
    spec = bond_options()
    spec.update(state=dict(type='str', choices=['present', 'absent'], default='present'))
    spec.update(common_write_options())
    return dict(argument_spec=spec, supports_check_mode=True)


def host_bridge_spec():
    spec = bridge_options()
    spec.update(state=dict(type='str', choices=['present', 'absent'], default='present'),
                purge_ports=dict(type='bool', default=False))
    spec.update(common_write_options())
    return dict(argument_spec=spec, supports_check_mode=True,
                required_if=[('migrate', True, ('uplink',))])


def host_vlan_trunk_spec():
    spec = dict(
        config=dict(type='list', elements='dict', options=vlan_options()),
        bridge=dict(type='str'),
        state=dict(type='str', choices=RESOURCE_STATES, default='merged'),
    )
    spec.update(common_write_options())
    return dict(argument_spec=spec, supports_check_mode=True,
                required_if=[('state', 'merged', ('config',)), ('state', 'replaced', ('config',)),
                             ('state', 'rendered', ('config',))])


def host_network_spec():
    spec = dict(
        state=dict(type='str', choices=RESOURCE_STATES, default='merged'),
        bonds=dict(type='list', elements='dict', options=bond_options()),
        bridges=dict(type='list', elements='dict', options=bridge_options()),
        vlans=dict(type='list', elements='dict', options=vlan_options()),
        addresses=dict(type='list', elements='dict', options=address_options()),
        routes=dict(type='list', elements='dict', options=route_options()),
        probes=dict(type='dict', options=probe_options(), apply_defaults=True),
        rollback=dict(type='bool', default=True),
    )
    spec.update(common_write_options())
    return dict(argument_spec=spec, supports_check_mode=True)


def host_network_info_spec():
    return dict(argument_spec=dict(), supports_check_mode=True)


SPECS = {
    'host_bond': host_bond_spec,
    'host_bridge': host_bridge_spec,
    'host_vlan_trunk': host_vlan_trunk_spec,
    'host_network': host_network_spec,
    'host_network_info': host_network_info_spec,
}
