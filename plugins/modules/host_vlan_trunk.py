#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: host_vlan_trunk
short_description: Manage the VLAN membership of bridge ports on a Harvester node
version_added: 0.1.0
description:
  - Sets which VLANs each port of a VLAN-filtering bridge carries, its PVID and which VLANs leave it untagged. This is
    Harvester's C(bridge vlan add dev <uplink> vid <vid> master) for every VLAN network, and the PVID of a VM's veth.
  - A network resource module. V(merged) adds, V(replaced) makes the listed ports exact, V(overridden) also resets
    every other port (of O(bridge), or of every VLAN-filtering bridge), V(deleted) removes, V(gathered) reads,
    V(rendered) prints the commands offline.
  - VIDs sharing their flags go to the kernel as ranges in one netlink request per port; a 2-4094 trunk is one
    request, not 4093.
  - Only what is asked is trunked (harvester#7650). VID 1, the default PVID, is left as the kernel sets it on the
    uplink (untagged PVID), as Harvester does; listing it in O(config[].vids) does not make it tagged.
author:
  - harvester.network developers (@harvester-network)
options:
  config:
    description: One entry per port.
    type: list
    elements: dict
    suboptions:
      port:
        description: A bridge port (NIC, bond, veth), or the bridge itself for the bridge's own (host-facing) VLANs.
        type: str
        required: true
      bridge:
        description: The bridge of O(config[].port); checked when given, required only by V(rendered) without O(bridge).
        type: str
      vids:
        description:
          - Tagged VLANs, as numbers or ranges, for example V([100, "200-300"]) or V("2-4094"). 1-4094; overlapping and
            reversed ranges are errors.
          - With V(deleted), the VLANs to remove; without them, the port is reset to the bridge's default PVID.
        type: list
        elements: raw
      pvid:
        description:
          - The port VLAN ID, untagged unless O(config[].untagged) says otherwise. V(0) removes the PVID (untagged
            frames are dropped).
          - With V(replaced) and V(overridden), left out means the bridge's default PVID.
        type: int
      untagged:
        description: VLANs that leave the port untagged. Left out, just the PVID.
        type: list
        elements: raw
  bridge:
    description: Limit the module to this bridge (its ports, and what V(overridden) and V(gathered) cover).
    type: str
  state:
    description: How O(config) is applied (see the description).
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered]
    default: merged
extends_documentation_fragment:
  - harvester.network.host
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: linux
seealso:
  - module: harvester.network.host_bridge
  - module: harvester.network.host_network
'''

EXAMPLES = r'''
- name: The bridge the examples use
  harvester.network.host_bridge:
    name: vlan-br
    uplink: eth1
    ports: [eth2, eth3]

- name: Trunk the VLANs of two networks on the uplink
  harvester.network.host_vlan_trunk:
    config:
      - port: eth1
        vids: [100, 200]

- name: A VM port on VLAN 100, untagged (what the bridge CNI plugin does for a VM NIC)
  harvester.network.host_vlan_trunk:
    config:
      - port: eth2
        pvid: 100

- name: The uplink carries exactly 100-199 and 300; VID 1 stays its untagged PVID
  harvester.network.host_vlan_trunk:
    state: replaced
    config:
      - port: eth1
        vids: "100-199,300"

- name: A VLAN network went away - remove its VID from the uplink
  harvester.network.host_vlan_trunk:
    state: deleted
    config:
      - port: eth1
        vids: [300]

- name: Read the VLAN tables of the bridge
  harvester.network.host_vlan_trunk:
    state: gathered
    bridge: vlan-br
  register: trunks

- name: Make the node exactly what was read (no change)
  harvester.network.host_vlan_trunk:
    state: overridden
    bridge: vlan-br
    config: "{{ trunks.gathered }}"

- name: The commands for a full trunk, offline
  harvester.network.host_vlan_trunk:
    state: rendered
    bridge: vlan-br
    config:
      - port: eth1
        vids: "2-4094"
'''

RETURN = r'''
changed:
  description: Whether the node changed.
  returned: always
  type: bool
before:
  description: The VLAN tables of the ports concerned before the run, in the shape of O(config).
  returned: success, except with V(gathered) and V(rendered)
  type: list
  elements: dict
after:
  description: The same tables after the run (in check mode, as predicted).
  returned: success, except with V(gathered) and V(rendered)
  type: list
  elements: dict
  sample:
    - port: eth1
      bridge: vlan-br
      vids: ["100-199", "300"]
      pvid: 1
      untagged: ["1"]
gathered:
  description: The VLAN tables of every port of O(bridge) (or of every bridge), bridges included, in the shape of O(config).
  returned: when O(state=gathered)
  type: list
  elements: dict
rendered:
  description: The iproute2 commands O(config) amounts to on a fresh bridge (computed offline).
  returned: when O(state=rendered)
  type: list
  elements: str
  sample: ["bridge vlan add dev eth1 vid 2-4094"]
plan:
  description: The operations, in order, each with the equivalent C(command).
  returned: success, except with V(gathered)
  type: list
  elements: dict
commands:
  description: The iproute2 commands equivalent to RV(plan).
  returned: success, except with V(gathered) and V(rendered)
  type: list
  elements: str
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
timings:
  description: Seconds spent reading the node (C(read)), validating and planning (C(plan)), applying (C(apply)),
    reading and planning again to verify (C(verify)) and probing (C(probes)).
  returned: when the node was read
  type: dict
  sample: {read: 0.004, plan: 0.003, apply: 0.021, verify: 0.006}
elapsed:
  description: Seconds the engine took.
  returned: success
  type: float
lock_wait:
  description: Seconds spent waiting for another run's lock.
  returned: when not in check mode
  type: float
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.harvester.network.plugins.module_utils.host.engine import run_module
from ansible_collections.harvester.network.plugins.module_utils.host.netlink import PYROUTE2_IMPORT_ERROR, pyroute2_missing
from ansible_collections.harvester.network.plugins.module_utils.host.profiles import module_spec


def main():
    module = AnsibleModule(**module_spec('host_vlan_trunk'))
    if pyroute2_missing():
        module.fail_json(msg=missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)
    run_module(module, 'host_vlan_trunk')


if __name__ == '__main__':
    main()
