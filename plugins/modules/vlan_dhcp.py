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

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders, dhcp, validation
from ansible_collections.harvester.network.plugins.module_utils.cluster.common import changes_result, new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import NAD

RENDER_ONLY = ('interface', 'lease_file')


def _live(service, kind, name, namespace):
    """The object, unless it is gone or already being deleted (a claim waits for its protection finalizer)."""
    existing = service.get(kind, name, namespace)
    if existing is None or (existing.get('metadata') or {}).get('deletionTimestamp'):
        return None
    return existing


def _validate(params):
    validation.dns1123_label('name', params['name'], max_length=57)  # room for the "-leases" claim suffix
    validation.dns1123_label('namespace', params['namespace'])
    if params['state'] != 'rendered':
        for option in RENDER_ONLY:
            if params.get(option):
                raise ValidationError('is for state=rendered only (a server on a node); the pod always binds eth1',
                                      field=option)
    if params['state'] == 'absent':
        return None
    for option in ('network', 'pool_start', 'pool_end'):
        if not params.get(option):
            raise ValidationError('is required with state=%s' % params['state'], field=option)
    namespace, name = builders.nad_reference(params['network'], params['namespace'])
    validation.dns1123_label('network', name)
    validation.dns1123_label('network', namespace)
    if params.get('interface'):
        validation.nic_name('interface', params['interface'])
    if params.get('node_selector'):
        validation.labels('node_selector', params['node_selector'])
    if params.get('leases') and params['leases'].get('size'):
        validation.quantity('leases.size', params['leases']['size'])
    return namespace, name


def _plan(params, route=None):
    route = route or {}
    values = {}
    for option, key in (('cidr', 'cidr'), ('gateway', 'gateway'), ('server_address', 'dhcp_server')):
        values[option] = params.get(option) or route.get(key)
    for option in ('cidr', 'server_address'):
        if not values[option]:
            raise ValidationError('is required: the network has no route annotation that states it (give it here, or '
                                  'set the network\'s route with harvester.network.vlan_network)', field=option)
    return dhcp.address_plan(values['cidr'], values['server_address'], params['pool_start'], params['pool_end'],
                             values['gateway'], params.get('dns_servers'))


def _render(params, plan, network_ref, interface, lease_file):
    config = dhcp.dnsmasq_config(plan, interface, lease_file, dhcp.lease_time('lease_time', params['lease_time']),
                                 network_ref)
    return config


def vlan_dhcp_handler(params, cluster, module):
    reference = _validate(params)
    name, namespace = params['name'], params['namespace']
    service = cluster.service if params['state'] != 'rendered' else None
    if params['state'] == 'absent':
        changes = []
        for kind, obj_name in ((dhcp.DEPLOYMENT, name), (dhcp.CONFIG_MAP, name),
                               (dhcp.LEASE_CLAIM, dhcp.lease_claim_name(name))):
            existing = _live(service, kind, obj_name, namespace)
            if existing is not None:
                changes.extend(service.delete_plan(kind, [(namespace, obj_name)], {(namespace, obj_name): existing}))
        done = service.execute(changes)
        return changes_result(changes, done, module)

    network_namespace, network_name = reference
    network = {'namespace': network_namespace, 'name': network_name}
    route = None
    if params['state'] == 'present':
        cluster.discovery.require(NAD)
        nad = service.get(NAD, network_name, network_namespace)
        if nad is None:
            raise ValidationError('there is no VLAN network %s/%s: create it first with harvester.network.vlan_network'
                                  % (network_namespace, network_name), field='network')
        facts = builders.parse_vlan_network(nad)
        if facts['config'].get('type') != 'bridge':
            raise ValidationError('%s/%s is not a Harvester VLAN network (its CNI type is %r, not bridge)'
                                  % (network_namespace, network_name, facts['config'].get('type')), field='network')
        if facts['network_type'] == 'trunk':
            # a trunk network's VM ports carry tagged frames of many VLANs: a DHCP server there would answer on none
            raise ValidationError('%s/%s is a VLAN trunk network (VLANs %s): serve DHCP on a VLAN or untagged network'
                                  % (network_namespace, network_name, ', '.join(
                                      '%d-%d' % (r['min_id'], r['max_id']) for r in facts['vlan_trunk'])),
                                  field='network')
        route = facts['route']
        network.update(vlan_id=facts['vlan_id'], bridge=facts['bridge'], cluster_network=facts['cluster_network'])
    plan = _plan(params, route)
    network_ref = '%s/%s' % (network_namespace, network_name)
    text = _render(params, plan, network_ref, dhcp.POD_INTERFACE, dhcp.container_lease_file(name))
    objects = dhcp.server_objects(params, network_namespace, network_name, plan, text)
    result = {'address_plan': plan, 'network': network}
    if params['state'] == 'rendered':
        result['config'] = _render(params, plan, network_ref, params.get('interface') or dhcp.POD_INTERFACE,
                                   params.get('lease_file') or dhcp.container_lease_file(name))
        result['objects'] = [manifest for _kind, manifest in objects]
        result['changed'] = False
        return result

    changes = []
    for kind, manifest in objects:
        existing = service.get(kind, manifest['metadata']['name'], namespace)
        key = (namespace, manifest['metadata']['name'])
        changes.extend(service.plan(kind, [manifest], {key: existing} if existing is not None else {}))
    if not (params.get('leases') or {}).get('persistent', True):
        claim = dhcp.lease_claim_name(name)
        existing = _live(service, dhcp.LEASE_CLAIM, claim, namespace)
        if existing is not None and (existing['metadata'].get('labels') or {}).get(dhcp.LABEL_INSTANCE) == name:
            changes.extend(service.delete_plan(dhcp.LEASE_CLAIM, [(namespace, claim)], {(namespace, claim): existing}))
    done = service.execute(changes)
    result.update(changes_result(changes, done, module))
    result['config'] = text
    result['objects'] = [manifest for _kind, manifest in objects]
    return result


def main():
    module = new_module(dict(
        name=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        network=dict(type='str'),
        cidr=dict(type='str'),
        gateway=dict(type='str'),
        server_address=dict(type='str'),
        pool_start=dict(type='str'),
        pool_end=dict(type='str'),
        lease_time=dict(type='str', default='12h'),
        dns_servers=dict(type='list', elements='str'),
        image=dict(type='str', default=dhcp.DEFAULT_IMAGE),
        image_pull_policy=dict(type='str', choices=['Always', 'IfNotPresent', 'Never'], default='IfNotPresent'),
        leases=dict(type='dict', options=dict(
            persistent=dict(type='bool', default=True),
            size=dict(type='str', default='64Mi'),
            storage_class=dict(type='str'),
        )),
        node_selector=dict(type='dict'),
        interface=dict(type='str'),
        lease_file=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent', 'rendered'], default='present'),
    ), required_if=[('state', 'present', ('network', 'pool_start', 'pool_end')),
                    ('state', 'rendered', ('network', 'pool_start', 'pool_end'))])
    run(module, vlan_dhcp_handler, needs_netaddr=True)


if __name__ == '__main__':
    main()
