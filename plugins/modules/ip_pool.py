#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: ip_pool
short_description: Manage Harvester IP pools for load balancers
version_added: 0.1.0
description:
  - Creates, updates or deletes a Harvester IP pool (C(loadbalancer.harvesterhci.io/v1beta1) C(IPPool), Harvester
    v1.2.0 and later), the pool Harvester's load balancers (M(harvester.network.load_balancer), guest clusters'
    C(LoadBalancer) Services) take their address from; the UI's C(Networks > IP Pools) and the Terraform
    provider's C(harvester_ippool).
  - Checked before anything is written, as Harvester's load balancer webhook does; each range is a subnet with an
    optional start, end and gateway inside it (neither the network nor the broadcast address); the ranges of this
    pool and of all other pools share no address; an update keeps every address already allocated inside the
    ranges; the selector's network exists; there is one global pool at most; the scope entries do not overlap;
    two pools do not have the same non-zero priority, nor (both with priority 0) the same network and scope. This
    collection also refuses a start after the end (Harvester swaps them).
  - A pool with addresses allocated to load balancers cannot be deleted; the module names them.
  - Fails clearly on a cluster without the load balancer API (Harvester older than v1.2.0).
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Name of the pool (cluster-wide).
    type: str
    required: true
  description:
    description: Free text shown in the UI. Left as it is when unset.
    type: str
  ranges:
    description:
      - The address ranges of the pool, at least one. Required with O(state=present). The list is stated whole.
    type: list
    elements: dict
    suboptions:
      subnet:
        description:
          - The subnet of the range as a CIDR, for example C(192.168.10.0/24); a C(/32) is that single address.
        type: str
        required: true
      start:
        description:
          - First address handed out; defaults to the subnet's first host address.
        type: str
      end:
        description:
          - Last address handed out; defaults to the subnet's last host address (for IPv4 the one before the
            broadcast address).
        type: str
      gateway:
        description:
          - The gateway the load balancers' addresses use; defaults to the subnet's first host address. Harvester
            never hands it out.
        type: str
  selector:
    description:
      - Which load balancers take their address from this pool when they name no pool themselves. A pool with
        no selector serves only load balancers that name it (O(harvester.network.load_balancer#module:ip_pool)).
      - "The global pool: one scope entry with C(*) in all three parts; it serves every load balancer no other pool
        matches."
      - The selector is stated whole.
    type: dict
    suboptions:
      network:
        description:
          - The VM network (C(namespace/name)) the pool's addresses belong to; it must exist. For guest cluster
            load balancers on that network. Unset for VM load balancers.
        type: str
      priority:
        description:
          - When several pools match, the highest priority wins. Non-zero priorities must differ between pools;
            V(0) means none.
        type: int
        default: 0
      scope:
        description: Where the pool serves; an entry matches when each part is equal or C(*).
        type: list
        elements: dict
        suboptions:
          project:
            description: Rancher project (C(cluster-id/project-id)) or C(*).
            type: str
          namespace:
            description: Namespace of the load balancers, or C(*).
            type: str
          guest_cluster:
            description: Name of the guest cluster, or C(*).
            type: str
  state:
    description: V(present) creates or updates; V(absent) deletes (refused while addresses are allocated).
    type: str
    choices: [present, absent]
    default: present
requirements:
  - kubernetes >= 24.2.0 (the Python client)
extends_documentation_fragment:
  - harvester.network.cluster_auth
  - harvester.network.cluster_auth.apply
notes:
  - Harvester's load balancer controller keeps the pool's status (total, available, allocated); the module returns
    it and never writes it.
attributes:
  check_mode:
    support: full
    description: The write is sent as a server-side dry run.
  diff_mode:
    support: full
    description: Returns the pool before and after.
'''

EXAMPLES = r'''
- name: A pool for the VM load balancers of namespace default
  harvester.network.ip_pool:
    name: default-lb
    description: load balancer addresses of namespace default
    ranges:
      - subnet: 192.168.10.0/24
        start: 192.168.10.100
        end: 192.168.10.199
        gateway: 192.168.10.1
    selector:
      scope:
        - namespace: default

- name: The global pool, for every load balancer no other pool serves
  harvester.network.ip_pool:
    name: global
    ranges:
      - subnet: 10.20.0.0/24
    selector:
      scope:
        - {project: "*", namespace: "*", guest_cluster: "*"}

- name: A pool for guest cluster rke2-a on the VM network default/vlan100, preferred over others
  harvester.network.ip_pool:
    name: rke2-a
    ranges:
      - subnet: 192.168.100.0/24
        start: 192.168.100.200
        end: 192.168.100.220
    selector:
      network: default/vlan100
      priority: 10
      scope:
        - {project: "*", namespace: default, guest_cluster: rke2-a}

- name: Delete a pool (refused while load balancers hold addresses from it)
  harvester.network.ip_pool:
    name: rke2-a
    state: absent
'''

RETURN = r'''
ip_pool:
  description: The pool after the task (in check mode, as the server's dry run returned it); null once deleted.
  returned: always
  type: dict
  contains:
    name:
      description: The pool's name.
      type: str
    description:
      description: Its description.
      type: str
    ranges:
      description: Its ranges (subnet, start, end, gateway as stored; unset ones null).
      type: list
      elements: dict
    selector:
      description: Its selector (network, priority, scope of project, namespace, guest_cluster).
      type: dict
    global:
      description: Whether it is the global pool.
      type: bool
    size:
      description: Addresses its ranges can hand out, counted as Harvester does (the gateway left out).
      type: int
    total:
      description: Harvester's count of its addresses (status); null until its controller has seen the pool.
      type: int
    available:
      description: Harvester's count of addresses still free (status).
      type: int
    allocated:
      description: The allocated addresses, each with the load balancer (C(namespace/name)) holding it.
      type: dict
    ready:
      description: Whether Harvester reports the pool's C(Ready) condition True.
      type: bool
  sample: {"name": "default-lb", "description": "", "global": false, "size": 100, "total": 100, "available": 99,
           "ranges": [{"subnet": "192.168.10.0/24", "start": "192.168.10.100", "end": "192.168.10.199",
                       "gateway": "192.168.10.1"}],
           "selector": {"network": null, "priority": 0,
                        "scope": [{"project": null, "namespace": "default", "guest_cluster": null}]},
           "allocated": {"192.168.10.100": "default/web"}, "ready": true}
changes:
  description: What was (or in check mode would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "IPPool", "name": "default-lb", "action": "update", "fields": ["spec.ranges"]}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.load_balancers import ip_pool_handler


def main():
    run(new_module('ip_pool'), ip_pool_handler)


if __name__ == '__main__':
    main()
