#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: load_balancer
short_description: Manage Harvester load balancers for VMs
version_added: 0.1.0
description:
  - Creates, updates or deletes a Harvester load balancer (C(loadbalancer.harvesterhci.io/v1beta1)
    C(LoadBalancer), Harvester v1.2.0 and later); the UI's C(Networks > Load Balancers) and the Terraform provider's
    C(harvester_loadbalancer). Harvester gives it an address from an IP pool (M(harvester.network.ip_pool)) or
    by DHCP and forwards each listener's port to the VMs its backend selector picks.
  - Checked before anything is written, as Harvester's load balancer webhook does; a VM load balancer has at least
    one listener; listener names, protocol/port and protocol/backend port pairs are unique; ports are 1-65535; the
    health check probes the backend port of a TCP listener; O(ipam) (DHCP or pool) and O(workload_type) cannot
    change once created (delete and create again). The named O(ip_pool) must exist.
  - Warns when Harvester will release the address (a different O(ip_pool)) or will find no pool for it.
  - For a stable address of one VM on the management network without Harvester's load balancer,
    M(harvester.network.vm_service) writes a plain Kubernetes Service.
  - Fails clearly on a cluster without the load balancer API (Harvester older than v1.2.0).
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description:
      - Name of the load balancer. Harvester names its Service after it, so it starts with a letter.
    type: str
    required: true
  namespace:
    description: Namespace of the load balancer and its backend VMs.
    type: str
    default: default
  description:
    description: Free text shown in the UI. Left as it is when unset.
    type: str
  workload_type:
    description:
      - V(vm) balances to VMs of this namespace; V(cluster) is what a guest cluster's cloud provider creates (no
        listeners needed, its guest cluster balances). Fixed once created.
    type: str
    choices: [vm, cluster]
    default: vm
  ipam:
    description:
      - Where the address comes from; V(pool) (an IP pool) or V(dhcp) (a DHCP server on the network). Fixed once
        created.
    type: str
    choices: [pool, dhcp]
    default: pool
  ip_pool:
    description:
      - The IP pool to take the address from, with O(ipam=pool). Unset lets Harvester pick the matching pool of the
        highest priority, else the global pool.
    type: str
  listeners:
    description:
      - The ports the load balancer serves; at least one for O(workload_type=vm). The list is stated whole.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the listener, unique; Harvester names the Service port after it.
        type: str
        required: true
      port:
        description: Port the load balancer listens on, 1-65535.
        type: int
        required: true
      protocol:
        description: Protocol.
        type: str
        choices: [TCP, UDP]
        default: TCP
      backend_port:
        description: Port on the backend VMs, 1-65535.
        type: int
        required: true
  backend_selector:
    description:
      - "The VMs to balance to, by the labels of their VirtualMachineInstances: each key maps to a value or a list
        of values (the VM matches one of them); all keys must match. For example
        C({harvesterhci.io/vmName: [web1, web2]})."
      - The selector is stated whole.
    type: dict
  health_check:
    description:
      - Probe the backends over TCP and send traffic only to healthy ones. Only for O(workload_type=vm).
    type: dict
    suboptions:
      port:
        description: The backend port to probe; it must be the O(listeners[].backend_port) of a TCP listener.
        type: int
        required: true
      success_threshold:
        description: Successful probes before a backend counts as healthy.
        type: int
        default: 2
      failure_threshold:
        description: Failed probes before a backend counts as unhealthy.
        type: int
        default: 2
      period_seconds:
        description: Seconds between probes.
        type: int
        default: 1
      timeout_seconds:
        description: Seconds a probe may take.
        type: int
        default: 1
  state:
    description: V(present) creates or updates; V(absent) deletes (Harvester releases its address).
    type: str
    choices: [present, absent]
    default: present
requirements:
  - kubernetes >= 24.2.0 (the Python client)
extends_documentation_fragment:
  - harvester.network.cluster_auth
  - harvester.network.cluster_auth.apply
notes:
  - The health check's thresholds are sent with the defaults Harvester's webhook would fill in (2, 2, 1, 1), so a
    re-run changes nothing.
  - Harvester's controller allocates the address and keeps the status; the module returns it and never writes it.
attributes:
  check_mode:
    support: full
    description: The write is sent as a server-side dry run.
  diff_mode:
    support: full
    description: Returns the load balancer before and after.
'''

EXAMPLES = r'''
- name: HTTP and HTTPS to the VMs web1 and web2, address from the pool default-lb
  harvester.network.load_balancer:
    name: web
    namespace: default
    ip_pool: default-lb
    listeners:
      - {name: http, port: 80, backend_port: 8080}
      - {name: https, port: 443, backend_port: 8443}
    backend_selector:
      harvesterhci.io/vmName: [web1, web2]
    health_check:
      port: 8080
      failure_threshold: 3
      period_seconds: 10
      timeout_seconds: 5

- name: DNS over UDP, address from the network's DHCP server
  harvester.network.load_balancer:
    name: dns
    ipam: dhcp
    listeners:
      - {name: dns, port: 53, protocol: UDP, backend_port: 53}
    backend_selector:
      app: dns

- name: Delete it (Harvester releases its address)
  harvester.network.load_balancer:
    name: web
    state: absent
'''

RETURN = r'''
load_balancer:
  description: The load balancer after the task (in check mode, as the server's dry run returned it); null once
    deleted.
  returned: always
  type: dict
  contains:
    name:
      description: Its name.
      type: str
    namespace:
      description: Its namespace.
      type: str
    description:
      description: Its description.
      type: str
    workload_type:
      description: V(vm) or V(cluster).
      type: str
    ipam:
      description: V(pool) or V(dhcp).
      type: str
    ip_pool:
      description: The pool it names; null when Harvester picks one.
      type: str
    listeners:
      description: Its listeners (name, port, protocol, backend_port).
      type: list
      elements: dict
    backend_selector:
      description: Its backend selector.
      type: dict
    health_check:
      description: Its health check as stored; null when none.
      type: dict
    address:
      description: The address Harvester gave it (status); null until allocated.
      type: str
    allocated_address:
      description: Where the address came from (ipPool, ip, mask, gateway), as Harvester reports it.
      type: dict
    backend_servers:
      description: The backend addresses Harvester found.
      type: list
      elements: str
    ready:
      description: Whether Harvester reports the C(Ready) condition True.
      type: bool
  sample: {"name": "web", "namespace": "default", "description": null, "workload_type": "vm", "ipam": "pool",
           "ip_pool": "default-lb", "backend_selector": {"harvesterhci.io/vmName": ["web1", "web2"]},
           "listeners": [{"name": "http", "port": 80, "protocol": "TCP", "backend_port": 8080}],
           "health_check": {"port": 8080, "success_threshold": 2, "failure_threshold": 3, "period_seconds": 10,
                            "timeout_seconds": 5},
           "address": "192.168.10.100", "allocated_address": {"ipPool": "default-lb", "ip": "192.168.10.100",
                                                              "mask": "255.255.255.0", "gateway": "192.168.10.1"},
           "backend_servers": ["10.52.0.31"], "ready": true}
changes:
  description: What was (or in check mode would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "LoadBalancer", "namespace": "default", "name": "web", "action": "create"}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.load_balancers import load_balancer_handler


def main():
    run(new_module('load_balancer'), load_balancer_handler)


if __name__ == '__main__':
    main()
