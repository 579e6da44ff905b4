#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: load_balancer_info
short_description: List Harvester IP pools and load balancers
version_added: 0.1.0
description:
  - Reads Harvester's IP pools and load balancers (C(loadbalancer.harvesterhci.io/v1beta1), Harvester v1.2.0 and
    later; one LIST of each kind) and returns them as M(harvester.network.ip_pool) and
    M(harvester.network.load_balancer) do, with the status Harvester keeps (addresses allocated, each load
    balancer's address).
  - Fails clearly on a cluster without the load balancer API (Harvester older than v1.2.0).
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Only the load balancer of this name.
    type: str
  namespace:
    description: Only load balancers in this namespace; unset means every namespace. IP pools are cluster-wide.
    type: str
  ip_pool:
    description: Only the IP pool of this name.
    type: str
requirements:
  - kubernetes >= 24.2.0 (the Python client)
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
- name: Every IP pool and the load balancers of namespace default
  harvester.network.load_balancer_info:
    namespace: default
  register: lbs

- name: Addresses still free in pool default-lb
  ansible.builtin.debug:
    msg: "{{ (lbs.ip_pools | selectattr('name', 'equalto', 'default-lb') | first).available }}"
'''

RETURN = r'''
ip_pools:
  description: The IP pools, each as M(harvester.network.ip_pool) returns it (name, description, ranges, selector,
    global, size, total, available, allocated, ready).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "default-lb", "description": null, "global": false, "size": 100, "total": 100, "available": 99,
            "ranges": [{"subnet": "192.168.10.0/24", "start": "192.168.10.100", "end": "192.168.10.199",
                        "gateway": "192.168.10.1"}],
            "selector": {"network": null, "priority": 0,
                         "scope": [{"project": null, "namespace": "default", "guest_cluster": null}]},
            "allocated": {"192.168.10.100": "default/web"}, "ready": true}]
load_balancers:
  description: The load balancers, each as M(harvester.network.load_balancer) returns it (name, namespace,
    workload_type, ipam, ip_pool, listeners, backend_selector, health_check, address, allocated_address,
    backend_servers, ready).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "web", "namespace": "default", "description": null, "workload_type": "vm", "ipam": "pool",
            "ip_pool": "default-lb", "backend_selector": {"harvesterhci.io/vmName": ["web1"]},
            "listeners": [{"name": "http", "port": 80, "protocol": "TCP", "backend_port": 8080}],
            "health_check": null, "address": "192.168.10.100", "allocated_address": {"ipPool": "default-lb",
            "ip": "192.168.10.100", "mask": "255.255.255.0", "gateway": "192.168.10.1"}, "backend_servers": [],
            "ready": true}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.load_balancers import (
    load_balancer_info_handler)


def main():
    run(new_module('load_balancer_info'), load_balancer_info_handler)


if __name__ == '__main__':
    main()
