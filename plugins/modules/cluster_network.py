#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cluster_network
short_description: Manage a Harvester cluster network
version_added: 0.1.0
description:
  - On Harvester v1.1 and later, creates or deletes a ClusterNetwork (the set of nodes' C(<name>-br) bridges that VLAN
    networks ride on). C(mgmt) is built in and is left alone.
  - On Harvester v0.3/v1.0, manages the one C(vlan) ClusterNetwork (its C(enable) flag and default VLAN NIC) and,
    per node, the NodeNetwork NIC that overrides the default (the UI's I(Hosts > Network)).
  - Changing the default NIC on v0.3/v1.0 does not change nodes that are already configured; use O(node_nics).
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description:
      - Name of the cluster network; at most 12 characters (C(<name>-br) must fit a Linux interface name).
      - On Harvester v0.3/v1.0 it must be C(vlan).
    type: str
    required: true
  description:
    description:
      - Free text stored in the C(field.cattle.io/description) annotation.
    type: str
  enable:
    description:
      - Harvester v0.3/v1.0 only. Turns the VLAN network on or off. Left out, the cluster's value is kept.
    type: bool
  default_physical_nic:
    description:
      - Harvester v0.3/v1.0 only. The NIC nodes use for VLAN traffic unless O(node_nics) says otherwise.
    type: str
  node_nics:
    description:
      - Harvester v0.3/v1.0 only. Per-node VLAN NIC overrides (the node's NodeNetwork C(spec.nic)).
    type: list
    elements: dict
    suboptions:
      node:
        description: Node name.
        type: str
        required: true
      nic:
        description: The NIC that node uses for VLAN traffic.
        type: str
        required: true
      description:
        description: Free text stored in the NodeNetwork.
        type: str
  state:
    description:
      - V(present) creates or updates; V(absent) deletes (refused while VlanConfigs or networks still use it).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - harvester.network.cluster_auth
  - harvester.network.cluster_auth.apply
  - harvester.network.cluster_auth.generation
attributes:
  check_mode:
    support: full
    description: Writes are sent as a server-side dry run, so the result shows what the server would store.
  diff_mode:
    support: full
    description: Returns one before/after pair per object written.
'''

EXAMPLES = r'''
- name: A cluster network for VLAN traffic (Harvester v1.1+)
  harvester.network.cluster_network:
    name: data
    description: VLANs on the second NIC pair

- name: Turn on the VLAN network with eth1, node3 uses eth2 (Harvester v0.3/v1.0)
  harvester.network.cluster_network:
    name: vlan
    enable: true
    default_physical_nic: eth1
    node_nics:
      - node: node3
        nic: eth2
'''

RETURN = r'''
generation:
  description: The API generation the task worked with.
  returned: always
  type: str
  sample: current
cluster_network:
  description: The cluster network after the task.
  returned: success
  type: dict
  sample: {"name": "data", "exists": true}
changes:
  description: What was (or in check mode would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "ClusterNetwork", "name": "data", "action": "create"}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import cluster_network_handler


def main():
    run(new_module('cluster_network'), cluster_network_handler)


if __name__ == '__main__':
    main()
