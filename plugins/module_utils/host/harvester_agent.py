# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The warning a host module gives when it would change a device that a Harvester network agent on the node owns
(docs/who-builds-what.md). Read-only: it looks only at the plan and, when the plan touches such a device, at /proc."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.host.vocabulary import (
    AGENT_COMMAND, AGENT_PROGRAM, find_agent, harvester_device)


# Ports the bridge CNI plugin (VM NICs) or our own roles (DHCP servers) put on a bridge: the agent leaves them alone.
GUEST_PORT_KINDS = ('veth', 'tap', 'tun')


def touched_devices(ops, state):
    """Names of the Harvester-named bridges and bonds a plan changes: themselves, a slave of the bond, or an uplink
    of the bridge (any port but a guest's veth/tap, e.g. the NIC under harvester-br0)."""
    found = set()
    for op in ops:
        for name in op.targets():
            if not name:
                continue
            link = state['links'].get(name) or {}
            master = getattr(op, 'master', None) or link.get('master')
            kind = harvester_device(master)
            if harvester_device(name):
                found.add(name)
            elif kind == 'bond' or (kind == 'bridge' and link and link.get('kind') not in GUEST_PORT_KINDS):
                found.add(master)
    return sorted(found)


def agent_warnings(ops, state, find=find_agent):
    """One warning when the plan changes a device of Harvester's naming and a Harvester network agent runs here."""
    devices = touched_devices(ops, state)
    if not devices:
        return []
    pid = find()
    if pid is None:
        return []
    return ['a Harvester network agent (%s %s, pid %d) runs on this node and builds %s from the cluster\'s '
            'VlanConfig (Harvester v1.1+) or NodeNetwork (v0.3/v1.0): it may undo this change, or this change may '
            'break what it built. Change the cluster objects instead and let Harvester build the node side (the '
            'default_vlan role: default_vlan_manage_host false), or stop the agent on this node first '
            '(docs/who-builds-what.md)' % (AGENT_PROGRAM, AGENT_COMMAND, pid, ', '.join(devices))]
