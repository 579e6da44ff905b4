# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The option shapes of the host modules: pure data, one definition per shape (a bond, a bridge, a port's VLANs,
...), shared by the modules, the Python API and the tests.  Each module's argument spec is composed from these in
its profile (profiles.py); the doc fragments (doc_fragments/host.py) and the modules' DOCUMENTATION mirror them."""

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
