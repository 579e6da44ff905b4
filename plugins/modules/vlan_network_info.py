#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vlan_network_info
short_description: List Harvester VLAN networks
version_added: 0.1.0
description:
  - Reads the NetworkAttachmentDefinitions that are Harvester bridge networks (one LIST) and returns them parsed;
    VLAN ID, bridge, MTU, cluster network, route annotation.
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Only the network of this name.
    type: str
  namespace:
    description: Only networks in this namespace; unset means every namespace.
    type: str
  cluster_network:
    description: Only networks of this cluster network (C(vlan) for Harvester v0.3/v1.0 networks).
    type: str
extends_documentation_fragment:
  - harvester.network.cluster_auth
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only.
'''

EXAMPLES = r'''
- name: Networks of cluster network data
  harvester.network.vlan_network_info:
    cluster_network: data
  register: nets
'''

RETURN = r'''
flavor:
  description:
    - C(harvester) when the cluster serves Harvester's network API (C(network.harvesterhci.io) ClusterNetwork), else
      C(plain) (KubeVirt + Multus without Harvester), from the same API discovery request as the C(flavor) option of
      M(harvester.network.vlan_network) (docs/plain-kubevirt.md). The C(default_vlan) role learns the flavor here.
  returned: always
  type: str
  sample: plain
networks:
  description: The networks found.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name.
      type: str
      sample: vlan100
    namespace:
      description: Namespace.
      type: str
      sample: default
    cluster_network:
      description: Cluster network (from the label, or the bridge name).
      type: str
      sample: data
    network_type:
      description:
        - One of Harvester's network types, decided from the CNI config as Harvester does
          (C(network.harvesterhci.io/type) C(L2VlanNetwork), C(UntaggedNetwork), C(L2VlanTrunkNetwork),
          C(OverlayNetwork)).
      type: str
      choices: [vlan, untagged, trunk, overlay]
      sample: vlan
    vlan_id:
      description: VLAN ID of a C(vlan) network; null for the other types.
      type: int
      sample: 100
    vlan_trunk:
      description:
        - The VLAN ID ranges a C(trunk) network carries (the config's C(vlanTrunk); a single C(id) entry is the
          range from that ID to that ID); null for the other types.
      type: list
      elements: dict
      sample: [{"min_id": 100, "max_id": 110}, {"min_id": 200, "max_id": 200}]
    preserve_default_vlan:
      description:
        - The bridge CNI plugin's C(preserveDefaultVlan) from the config, or null when the config does not set it
          (Harvester's own configs do not; the plugin then keeps the default VLAN 1 on VM ports).
      type: bool
      sample: false
    bridge:
      description: Node bridge the network attaches to.
      type: str
      sample: data-br
    mtu:
      description: MTU in the CNI config (null on Harvester v0.3/v1.0).
      type: int
      sample: 1500
    route:
      description: The parsed route annotation (mode, cidr, gateway, dhcp_server, connectivity), or null.
      type: dict
      sample: {"mode": "manual", "cidr": "192.168.100.0/24", "gateway": "192.168.100.1"}
    description:
      description: The description annotation.
      type: str
      sample: lab VLAN
    ready:
      description: Harvester's C(network.harvesterhci.io/ready) label, when set.
      type: str
      sample: "true"
    config:
      description: The CNI config, parsed.
      type: dict
      sample: {"type": "bridge", "bridge": "data-br", "vlan": 100}
    labels:
      description: The labels of the NetworkAttachmentDefinition.
      type: dict
      sample: {"network.harvesterhci.io/type": "L2VlanNetwork"}
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import vlan_network_info_handler


def main():
    run(new_module('vlan_network_info'), vlan_network_info_handler)


if __name__ == '__main__':
    main()
