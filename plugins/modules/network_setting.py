#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: network_setting
short_description: Manage Harvester's storage network and VM migration network settings
version_added: 0.1.0
description:
  - Sets Harvester's C(storage-network) setting (Harvester v1.1.0 and later; Longhorn replicates volumes over it)
    or its C(vm-migration-network) setting (Harvester v1.6.0 and later; KubeVirt live-migrates VMs over it), the
    settings of the UI's C(Settings) page and of the Terraform provider's C(harvester_setting).
  - Each setting is one C(settings.harvesterhci.io) object whose C(value) is Harvester's network config as JSON
    (cluster network, VLAN, IP range, excluded subnets). Harvester's controller then creates a bridge
    NetworkAttachmentDefinition in C(harvester-system) and reports progress in the setting's C(configured)
    condition; O(wait) waits for it.
  - Checked before anything is written, like Harvester's webhook does; the range is an IPv4 subnet of /16 or
    longer with enough addresses for the nodes (storage network, 4 a node; migration network, 1 a node) once
    O(exclude) is taken out; the excluded subnets lie inside it and do not overlap; the cluster network exists, is
    ready and its VlanConfigs reach every node; the two settings share no address. This collection also refuses a
    range that overlaps the subnet (route CIDR) of a VLAN network.
  - "Changing the storage network is disruptive: Harvester refuses it while any VM runs, stops its monitoring and
    VM import pods, waits until every Longhorn volume is detached and restarts Longhorn on the new network. The
    module refuses the change unless O(force=true) (in check mode too), and fails naming the running VMs while
    any run; O(force) does not get past Harvester's rule, it only confirms you mean it."
  - Harvester does not let the settings be deleted; O(state=absent) empties the value, which takes the network
    away (storage traffic goes back to the management network).
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Which setting.
    type: str
    required: true
    choices: [storage-network, vm-migration-network]
  cluster_network:
    description:
      - The cluster network the setting's network rides on, for example C(storage) or C(mgmt).
      - It must exist, be ready, and its VlanConfigs must reach every node (witness nodes excepted).
      - Required with O(state=present).
    type: str
  vlan_id:
    description:
      - VLAN ID, 1-4094. Unset or V(0) leaves the traffic untagged.
      - On C(mgmt) a VLAN of 2-4094 is required.
    type: int
  range:
    description:
      - The IPv4 subnet Harvester hands addresses out of, as a subnet CIDR (C(192.168.50.0/24), not
        C(192.168.50.1/24)), /16 or longer. Required with O(state=present).
    type: str
  exclude:
    description:
      - Subnets of O(range) Harvester must not hand out, for example C([192.168.50.1/32]) for a gateway. Each must
        lie inside O(range) and be smaller than it; they must not overlap. Their order does not matter.
    type: list
    elements: str
    default: []
  force:
    description:
      - Confirms a change of the storage network, which Harvester only allows with every VM stopped and which
        restarts Longhorn's and the monitoring pods. Without it such a change is refused before anything is
        written, in check mode too. A run that changes nothing needs no O(force).
      - Not needed for the VM migration network, which Harvester changes with VMs running (not during a
        migration).
    type: bool
    default: false
  wait:
    description:
      - Wait until Harvester's controller has taken the new value up and reports the setting's C(configured)
        condition C(True). A failure the controller reports (for example C(CreateNadError)) ends the wait with
        its reason and message.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait).
    type: int
    default: 600
  state:
    description:
      - V(present) sets the value; V(absent) empties it (the settings cannot be deleted).
    type: str
    choices: [present, absent]
    default: present
requirements:
  - kubernetes >= 24.2.0 (the Python client)
extends_documentation_fragment:
  - harvester.network.cluster_auth
  - harvester.network.cluster_auth.generation
notes:
  - The value is written with server-side apply under the field manager C(harvester.network), taking the field
    over from whoever wrote it last (the UI, C(kubectl)); Harvester's controller keeps its annotations and status.
  - Harvester refuses a new storage network while the last change is still in progress; going back with
    O(state=absent) is allowed.
attributes:
  check_mode:
    support: full
    description: The write is sent as a server-side dry run, which Harvester's webhook judges too.
  diff_mode:
    support: full
    description: Returns the setting before and after.
'''

EXAMPLES = r'''
- name: Storage network on VLAN 50 of cluster network storage (all VMs must be stopped)
  harvester.network.network_setting:
    name: storage-network
    cluster_network: storage
    vlan_id: 50
    range: 192.168.50.0/24
    exclude:
      - 192.168.50.1/32
    force: true
    wait: true

- name: VM migration network on VLAN 60 of the management network
  harvester.network.network_setting:
    name: vm-migration-network
    cluster_network: mgmt
    vlan_id: 60
    range: 10.60.0.0/24
    wait: true

- name: No storage network any more (Longhorn goes back to the management network)
  harvester.network.network_setting:
    name: storage-network
    state: absent
    force: true
'''

RETURN = r'''
setting:
  description: The setting after the task (in check mode, as the server's dry run returned it).
  returned: always
  type: dict
  contains:
    name:
      description: The setting's name.
      type: str
    enabled:
      description: Whether the value is set.
      type: bool
    value:
      description: The value as stored, Harvester's JSON.
      type: str
    cluster_network:
      description: The cluster network of the value; null when empty.
      type: str
    vlan_id:
      description: The VLAN of the value, 0 for untagged; null when empty.
      type: int
    range:
      description: The range of the value; null when empty.
      type: str
    exclude:
      description: The excluded subnets.
      type: list
      elements: str
    configured:
      description: Whether Harvester's controller took this value up and reports the C(configured) condition True.
      type: bool
    reason:
      description: The C(configured) condition's reason, for example C(In Progress) or C(Completed).
      type: str
    message:
      description: The C(configured) condition's message, for example C(waiting for all volumes detached).
      type: str
    nad:
      description: The NetworkAttachmentDefinition Harvester made for the value (C(namespace/name)), if any.
      type: str
  sample: {"name": "storage-network", "enabled": true, "cluster_network": "storage", "vlan_id": 50,
           "range": "192.168.50.0/24", "exclude": ["192.168.50.1/32"], "configured": true, "reason": "Completed",
           "message": "", "nad": "harvester-system/storagenetwork-x7k2p",
           "value": "{\"clusterNetwork\":\"storage\",\"vlan\":50,\"range\":\"192.168.50.0/24\",\"exclude\":[\"192.168.50.1/32\"]}"}
changes:
  description: What was (or in check mode would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "Setting", "name": "storage-network", "action": "update", "fields": ["value"]}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.settings import network_setting_handler


def main():
    run(new_module('network_setting'), network_setting_handler)


if __name__ == '__main__':
    main()
