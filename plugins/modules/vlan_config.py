#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vlan_config
short_description: Manage the uplink of a Harvester cluster network (VlanConfig, Harvester v1.1+)
version_added: 0.1.0
description:
  - A VlanConfig tells the nodes it selects which NICs to bond into C(<cluster network>-bo), the uplink of the
    C(<cluster network>-br) bridge, with which bond mode and MTU.
  - Checked before anything is sent, like Harvester's webhook does; the C(mgmt) cluster network cannot be
    targeted, the node sets of the VlanConfigs of one cluster network may not overlap, and they must share one MTU.
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Name of the VlanConfig.
    type: str
    required: true
  cluster_network:
    description: The cluster network this uplink serves (must exist; not C(mgmt)).
    type: str
    required: true
  description:
    description: Free text.
    type: str
  nics:
    description: The node NICs to bond, for example C([eth1, eth2]). Required with O(state=present).
    type: list
    elements: str
  bond_mode:
    description: The bond mode.
    type: str
    choices: [balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb]
    default: active-backup
  miimon:
    description: Link monitoring interval of the bond in milliseconds (0 turns it off).
    type: int
  mtu:
    description: MTU of the uplink (576-9000); the cluster's VLAN networks carry it too. Unset means 1500.
    type: int
  tx_queue_len:
    description: Transmit queue length of the uplink.
    type: int
  hardware_addr:
    description:
      - MAC address of the bond, as six hex pairs (C(52:54:00:12:34:56)).
      - Harvester's API carries it as base64 of the six bytes (a Go C(net.HardwareAddr)); the module encodes it so
        and reads it back the same way.
    type: str
  node_selector:
    description:
      - Labels of the nodes this uplink applies to. Unset selects every node.
    type: dict
  state:
    description: V(present) creates or updates; V(absent) deletes.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - With O(state=present), wait until Harvester's network agent reports the uplink up on every matched node
        (the node's C(VlanStatus), condition C(ready) True). A node whose agent reports a failure ends the wait at
        once, and the task fails with the agent's message (for example a NIC the node lacks). A VlanConfig that
        matches no node has nothing to wait for.
      - With O(state=absent), wait until the VlanConfig and its C(VlanStatus) objects are gone (the agents tore the
        uplink down).
      - On failure the result still carries C(changed), C(changes), and for O(state=present) C(matched_nodes) and
        C(nodes).
      - Check mode never waits (nothing was written); it warns and reports what Harvester reports now.
      - A C(VlanStatus) carries no generation, so right after a change a status written for the previous spec
        still reads as ready until the agent rewrites it (the task warns).
    type: bool
    default: false
  wait_timeout:
    description: How long O(wait) waits, in seconds; then the task fails and names the nodes that are not ready.
    type: int
    default: 300
extends_documentation_fragment:
  - harvester.network.cluster_auth
  - harvester.network.cluster_auth.apply
  - harvester.network.cluster_auth.generation
attributes:
  check_mode:
    support: full
    description: Writes are sent as a server-side dry run.
  diff_mode:
    support: full
    description: Returns before/after of the VlanConfig.
'''

EXAMPLES = r'''
- name: Bond eth1 and eth2 (LACP) as the uplink of cluster network data on rack 1
  harvester.network.vlan_config:
    name: data-rack1
    cluster_network: data
    nics: [eth1, eth2]
    bond_mode: 802.3ad
    miimon: 100
    mtu: 9000
    node_selector:
      topology.kubernetes.io/zone: rack1

- name: Uplink eth1 on every node, and wait until Harvester reports it up on each node it matched
  harvester.network.vlan_config:
    name: data-all
    cluster_network: data
    nics: [eth1]
    wait: true
    wait_timeout: 120
  register: uplink

- name: Show each matched node's state
  ansible.builtin.debug:
    msg: "{{ uplink.vlan_config.nodes | map(attribute='state') | list }}"
'''

RETURN = r'''
vlan_config:
  description:
    - Name, cluster network and spec of the VlanConfig after the task, and C(hardware_addr), the bond's MAC address
      decoded from the spec's base64 form (null when unset).
    - C(matched_nodes), the nodes Harvester applies the uplink to (its C(network.harvesterhci.io/matched-nodes)
      annotation, as the Terraform provider reports them), and C(nodes), one C(node), C(state) and C(message) per
      matched node from its C(VlanStatus) (V(ready); V(failed) with the agent's error; V(pending) while no status
      or no condition is there). In check mode, the matched nodes of the server-side dry run.
    - In check mode, when the cluster network does not exist yet (an earlier task of the same run creates it), the
      spec is predicted locally and a warning says so.
  returned: when O(state=present)
  type: dict
  sample: {"name": "data-rack1", "cluster_network": "data", "spec": {"clusterNetwork": "data"},
           "hardware_addr": "52:54:00:12:34:56", "matched_nodes": ["node1", "node2"],
           "nodes": [{"node": "node1", "state": "ready", "message": ""},
                     {"node": "node2", "state": "failed", "message": "set up VLAN failed: eth1 not found"}]}
changes:
  description: What was (or in check mode would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "VlanConfig", "name": "data-rack1", "action": "update", "fields": ["spec.uplink.nics"]}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import vlan_config_handler


def main():
    run(new_module('vlan_config'), vlan_config_handler)


if __name__ == '__main__':
    main()
