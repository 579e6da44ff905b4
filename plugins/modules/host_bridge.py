#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: host_bridge
short_description: Manage a VLAN-filtering Linux bridge on a Harvester node over netlink
version_added: 0.1.0
description:
  - Creates, changes or removes one bridge (the C(<cluster network>-br) of a Harvester node, or v0.3's
    C(harvester-br0)) the way Harvester sets it up, VLAN filtering on, promiscuous, STP off, up, with options
    Harvester does not offer (O(default_pvid), O(stp), O(vlan_filtering) off).
  - O(uplink) enslaves a NIC or bond as the bridge's way out; with O(migrate) the uplink's addresses and routes
    move onto the bridge (the bridge gets them before the uplink loses them, gateway routes come last), as
    Harvester v0.3 does when the VLAN NIC is also the management NIC.
  - The bridge MTU follows the uplink MTU (harvester#4353), also after ports with a smaller MTU join.
  - VLAN membership of the ports is M(harvester.network.host_vlan_trunk)'s job.
author:
  - harvester.network developers (@harvester-network)
options:
  state:
    description: V(present) makes the bridge exist as described; V(absent) deletes it (its ports are released).
    type: str
    choices: [present, absent]
    default: present
  purge_ports:
    description: Release ports that are neither the O(uplink) nor in O(ports).
    type: bool
    default: false
extends_documentation_fragment:
  - harvester.network.host
  - harvester.network.host.bridge
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: linux
seealso:
  - module: harvester.network.host_vlan_trunk
  - module: harvester.network.host_network
'''

EXAMPLES = r'''
- name: The VLAN bridge of a cluster network, over a NIC, as Harvester does it
  harvester.network.host_bridge:
    name: vlan-br
    uplink: eth1

- name: Jumbo frames on the bridge and its uplink together
  harvester.network.host_bridge:
    name: vlan-br
    uplink: eth1
    mtu: 9000

- name: Harvester v0.3 on a single NIC - the management addresses and routes move onto the bridge
  harvester.network.host_bridge:
    name: harvester-br0
    uplink: eth2
    migrate: true

- name: No default PVID on new ports, and exactly these ports
  harvester.network.host_bridge:
    name: vlan-br
    uplink: eth1
    default_pvid: 0
    ports: [eth3]
    purge_ports: true

- name: Remove the bridge
  harvester.network.host_bridge:
    name: vlan-br
    state: absent
'''

RETURN = r'''
changed:
  description: Whether the node changed.
  returned: always
  type: bool
before:
  description:
    - The bridge before the run (empty when it did not exist), with its C(addresses); with O(migrate) also the
      C(uplink_addresses) and the C(routes) through the bridge or the uplink.
  returned: success
  type: dict
after:
  description: The bridge after the run (in check mode, as predicted), in the same shape as RV(before).
  returned: success
  type: dict
  sample:
    name: vlan-br
    vlan_filtering: true
    default_pvid: 1
    stp: false
    promisc: true
    mtu: 1500
    mac: "52:54:00:12:34:01"
    up: true
    uplink: eth1
    ports: []
    addresses: []
plan:
  description: The operations, in order, each with the equivalent iproute2 C(command) (what check mode predicts, or
    what the run did).
  returned: success
  type: list
  elements: dict
commands:
  description: The iproute2 commands equivalent to RV(plan).
  returned: success
  type: list
  elements: str
  sample: ["ip link add vlan-br mtu 1500 type bridge vlan_filtering 1 && ip link set vlan-br promisc on"]
journal:
  description: Every operation that ran, with its status and the kernel's error.
  returned: when something was applied
  type: list
  elements: dict
interrupted:
  description: What a killed run before this one had removed, which this run puts back (C(pid), C(started), C(lost)).
  returned: when an interrupted run left something removed
  type: dict
rollback:
  description: After a failure, what the rollback did and whether the node is exactly as before (C(restored)).
  returned: when a run failed after changing something
  type: dict
persist:
  description: The files O(persist) wrote (or, in check mode, would write), as C(changed_files).
  returned: when O(persist=true)
  type: dict
errors:
  description: The invalid inputs, each naming its field.
  returned: when the input is invalid
  type: list
  elements: str
lock_wait:
  description: Seconds spent waiting for another run's lock.
  returned: when not in check mode
  type: float
elapsed:
  description: Seconds the engine took.
  returned: success
  type: float
timings:
  description: Seconds spent reading the node (C(read)), validating and planning (C(plan)), applying (C(apply)),
    reading and planning again to verify (C(verify)) and probing (C(probes)).
  returned: when the node was read
  type: dict
  sample: {read: 0.004, plan: 0.003, apply: 0.021, verify: 0.006}
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.harvester.network.plugins.module_utils.host.engine import run_module
from ansible_collections.harvester.network.plugins.module_utils.host.netlink import PYROUTE2_IMPORT_ERROR, pyroute2_missing
from ansible_collections.harvester.network.plugins.module_utils.host.profiles import module_spec


def main():
    module = AnsibleModule(**module_spec('host_bridge'))
    if pyroute2_missing():
        module.fail_json(msg=missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)
    run_module(module, 'host_bridge')


if __name__ == '__main__':
    main()
