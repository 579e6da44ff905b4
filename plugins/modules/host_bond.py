#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: host_bond
short_description: Manage a Linux bond on a Harvester node, in place, over netlink
version_added: 0.1.0
description:
  - Creates, changes or removes one bond (the C(<cluster network>-bo) uplink of a Harvester node) with all seven
    bonding modes and their options.
  - Changes happen in place wherever the kernel allows it. Adding or removing a slave never recreates the bond.
    Options the kernel only accepts on a bond that is down (O(lacp_rate), O(ad_select)) take the bond down and
    up again; a O(mode) change also releases and re-enslaves the slaves. The plan says so in a C(note), and the
    bond keeps its bridge membership, VLANs and addresses (Harvester deletes and recreates it instead).
  - Options are only set when given; options left out keep their current value (or the kernel default on a new bond).
  - An option the chosen mode ignores (for example O(lacp_rate) outside C(802.3ad)) is an error, not a silent no-op.
author:
  - harvester.network developers (@harvester-network)
options:
  state:
    description:
      - V(present) makes the bond exist as described; V(absent) deletes it (its slaves are released).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - harvester.network.host
  - harvester.network.host.bond
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
- name: An 802.3ad bond over two NICs, as Harvester's mgmt-bo with the options users ask for (harvester#8067)
  harvester.network.host_bond:
    name: mgmt-bo
    mode: 802.3ad
    slaves: [eth1, eth2]
    miimon: 100
    lacp_rate: fast
    xmit_hash_policy: layer3+4
    mtu: 9000

- name: Add a third NIC (in place, the bond is not recreated)
  harvester.network.host_bond:
    name: mgmt-bo
    slaves: [eth1, eth2, eth3]

- name: Switch to active-backup with a primary (slaves are released and re-enslaved; the plan says so)
  harvester.network.host_bond:
    name: mgmt-bo
    mode: active-backup
    primary: eth1
    slaves: [eth1, eth2]

- name: Remove the bond
  harvester.network.host_bond:
    name: mgmt-bo
    state: absent
'''

RETURN = r'''
changed:
  description: Whether the node changed.
  returned: always
  type: bool
before:
  description: The bond before the run, in the shape this module takes (empty when it did not exist).
  returned: success, when not gathering
  type: dict
  sample: {}
after:
  description: The bond after the run (in check mode, as predicted).
  returned: success
  type: dict
  sample:
    name: mgmt-bo
    mode: 802.3ad
    slaves: [eth1, eth2]
    mtu: 9000
    mac: "52:54:00:12:34:01"
    up: true
    miimon: 100
    updelay: 0
    downdelay: 0
    lacp_rate: fast
    xmit_hash_policy: layer3+4
    ad_select: stable
    min_links: 0
plan:
  description:
    - The operations, in order, each with its fields and the equivalent iproute2 C(command); a C(note) explains
      anything the kernel forces (a bond going down for an option, slaves released for a mode change).
    - In check mode, what a real run would do; otherwise what it did.
  returned: success
  type: list
  elements: dict
  sample:
    - op: set_bond_options
      link: mgmt-bo
      options: {lacp_rate: fast}
      command: ip link set mgmt-bo type bond lacp_rate fast
commands:
  description: The iproute2 commands equivalent to RV(plan).
  returned: success
  type: list
  elements: str
  sample: ["ip link add mgmt-bo mtu 9000 type bond mode 802.3ad lacp_rate fast"]
journal:
  description: Every operation that ran, with its status (V(done), V(failed), V(skipped)) and the kernel's error.
  returned: when something was applied
  type: list
  elements: dict
interrupted:
  description: What a killed run before this one had removed, which this run puts back (C(pid), C(started), C(lost)).
  returned: when an interrupted run left something removed
  type: dict
rollback:
  description:
    - After a failure, what the rollback did; C(restored) tells whether the node is exactly as before and
      C(remaining) lists what still differs.
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
    module = AnsibleModule(**module_spec('host_bond'))
    if pyroute2_missing():
        module.fail_json(msg=missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)
    run_module(module, 'host_bond')


if __name__ == '__main__':
    main()
