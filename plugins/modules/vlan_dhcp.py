#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vlan_dhcp
short_description: A containerized DHCP server on a Harvester VLAN network
version_added: 0.1.0
description:
  - Runs dnsmasq in a Deployment whose pod is attached to the VLAN network (the NetworkAttachmentDefinition) through
    the Multus annotation C(k8s.v1.cni.cncf.io/networks), as interface C(eth1), the way Harvester attaches VM NICs.
    This is the containerized method the Harvester documentation suggests for VLANs without a DHCP server
    (harvester/harvester#947).
  - An init container gives C(eth1) the server's static address (Harvester's VLAN networks have no IPAM); dnsmasq
    serves DHCP only (no DNS), bound to C(eth1) alone, with its configuration from a ConfigMap and its leases on a
    PersistentVolumeClaim, so they survive a restart of the pod. A change of the configuration rolls the pod.
  - The address plan is checked before anything is written; the pool must lie inside the CIDR and contain neither the
    gateway nor the server's own address.
  - O(cidr), O(gateway) and O(server_address) default to the network's Harvester route annotation
    (C(network.harvesterhci.io/route), set with M(harvester.network.vlan_network) O(harvester.network.vlan_network#module:route)).
  - O(state=rendered) works offline; it checks the address plan and returns the dnsmasq configuration and the objects
    without contacting the cluster. The C(harvester.network.dhcp_server) role uses it for a server on a node.
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Name of the DHCP server; the Deployment and the ConfigMap get it, the claim C(<name>-leases).
    type: str
    required: true
  namespace:
    description: Namespace of the server's objects.
    type: str
    default: default
  network:
    description:
      - The VLAN network to serve, C(name) (in O(namespace)) or C(namespace/name). Required unless O(state=absent).
    type: str
  cidr:
    description: The network's subnet, for example C(192.168.100.0/24). Defaults to the network's route annotation.
    type: str
  gateway:
    description:
      - The router handed to clients, inside O(cidr). Defaults to the network's route annotation; without one,
        clients get no default route.
    type: str
  server_address:
    description:
      - The server's own address on the network, inside O(cidr) and outside the pool. Defaults to the route
        annotation's C(serverIPAddr).
    type: str
  pool_start:
    description: First address handed out. Required unless O(state=absent).
    type: str
  pool_end:
    description: Last address handed out. Required unless O(state=absent).
    type: str
  lease_time:
    description: Lease time as dnsmasq takes it, for example C(12h), C(30m), C(3600) or C(infinite).
    type: str
    default: 12h
  dns_servers:
    description: DNS servers handed to clients.
    type: list
    elements: str
  image:
    description: A container image with dnsmasq and a shell with C(ip) (busybox or iproute2).
    type: str
    default: docker.io/4km3/dnsmasq:2.90-r3
  image_pull_policy:
    description: Image pull policy of both containers.
    type: str
    choices: [Always, IfNotPresent, Never]
    default: IfNotPresent
  leases:
    description: Where leases are kept.
    type: dict
    suboptions:
      persistent:
        description:
          - V(true) keeps them on a PersistentVolumeClaim C(<name>-leases) (they survive the pod); V(false) on an
            C(emptyDir) (they survive container restarts only).
        type: bool
        default: true
      size:
        description: Size of the claim.
        type: str
        default: 64Mi
      storage_class:
        description: Storage class of the claim; unset means the cluster's default.
        type: str
  node_selector:
    description: Node labels the pod must run on (nodes whose uplink carries the network).
    type: dict
  interface:
    description:
      - With O(state=rendered) only, the interface the configuration binds to (for a server on a node). The pod
        always uses C(eth1).
    type: str
  lease_file:
    description:
      - With O(state=rendered) only, the lease file the configuration names (for a server on a node).
    type: str
  state:
    description:
      - V(present) creates or updates the server; V(absent) deletes the Deployment, the ConfigMap and the claim;
        V(rendered) returns the configuration and the objects without contacting the cluster.
    type: str
    choices: [present, absent, rendered]
    default: present
extends_documentation_fragment:
  - harvester.network.cluster_auth
  - harvester.network.cluster_auth.apply
attributes:
  check_mode:
    support: full
    description: Writes are sent as a server-side dry run.
  diff_mode:
    support: full
    description: Returns one before/after pair per object written.
requirements:
  - netaddr
notes:
  - The pod needs the C(NET_ADMIN), C(NET_BIND_SERVICE) and C(NET_RAW) capabilities.
  - Run one server per network; two servers on one VLAN hand out conflicting leases.
seealso:
  - module: harvester.network.vlan_network
'''

EXAMPLES = r'''
- name: DHCP on VLAN network vlan100 (subnet from its route annotation)
  harvester.network.vlan_dhcp:
    name: vlan100-dhcp
    network: vlan100
    pool_start: 192.168.100.100
    pool_end: 192.168.100.199

- name: Everything stated, leases on a Longhorn volume
  harvester.network.vlan_dhcp:
    name: lab-dhcp
    namespace: lab
    network: lab/vlan200
    cidr: 10.200.0.0/24
    gateway: 10.200.0.1
    server_address: 10.200.0.2
    pool_start: 10.200.0.50
    pool_end: 10.200.0.250
    dns_servers: [10.200.0.1]
    leases:
      storage_class: harvester-longhorn

- name: Only check the plan and show the dnsmasq configuration (offline)
  harvester.network.vlan_dhcp:
    name: vlan100-dhcp
    network: vlan100
    cidr: 192.168.100.0/24
    server_address: 192.168.100.2
    pool_start: 192.168.100.100
    pool_end: 192.168.100.199
    state: rendered
  register: dhcp

- name: Remove the server and its leases
  harvester.network.vlan_dhcp:
    name: vlan100-dhcp
    state: absent
'''

RETURN = r'''
address_plan:
  description: The checked addresses.
  returned: unless O(state=absent)
  type: dict
  sample: {"cidr": "192.168.100.0/24", "netmask": "255.255.255.0", "prefix_length": 24,
           "server_address": "192.168.100.2", "server_interface_address": "192.168.100.2/24",
           "gateway": "192.168.100.1", "pool_start": "192.168.100.100", "pool_end": "192.168.100.199",
           "pool_size": 100, "dns_servers": []}
config:
  description: The dnsmasq configuration.
  returned: unless O(state=absent)
  type: str
network:
  description: The VLAN network served (C(vlan_id), C(bridge) and C(cluster_network) when read from the cluster).
  returned: unless O(state=absent)
  type: dict
  sample: {"namespace": "default", "name": "vlan100", "vlan_id": 100, "bridge": "vlan-br", "cluster_network": "vlan"}
objects:
  description: The objects of the server, as sent.
  returned: unless O(state=absent)
  type: list
  elements: dict
changes:
  description: What was (or in check mode would be) written.
  returned: unless O(state=rendered)
  type: list
  elements: dict
  sample: [{"kind": "Deployment", "namespace": "default", "name": "vlan100-dhcp", "action": "create"}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.dhcp_servers import vlan_dhcp_handler


def main():
    run(new_module('vlan_dhcp'), vlan_dhcp_handler, needs_netaddr=True)


if __name__ == '__main__':
    main()
