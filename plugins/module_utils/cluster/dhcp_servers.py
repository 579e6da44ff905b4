# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state machine of vlan_dhcp: a DHCP server for one VLAN network, as objects on the cluster (present, absent)
or as a dnsmasq configuration for a server on a node (rendered). The objects and the configuration are built by the
pure functions of dhcp.py; they are written through the one reconcile path (service.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders, dhcp, validation
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import Errors, ValidationError
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import NAD

RENDER_ONLY = ('interface', 'lease_file')


def _live(service, kind, name, namespace):
    """{key: object}, empty when the object is gone or already being deleted (a claim waits for its protection
    finalizer)."""
    _key, existing = service.read_one(kind, name, namespace)
    if any((obj.get('metadata') or {}).get('deletionTimestamp') for obj in existing.values()):
        return {}
    return existing


def validate(params):
    """Every input error at once, each naming its field; returns the (namespace, name) of the network."""
    errors = Errors()
    errors.check(validation.dns1123_label, 'name', params['name'], max_length=57)  # room for the "-leases" suffix
    errors.check(validation.dns1123_label, 'namespace', params['namespace'])
    if params['state'] != 'rendered':
        for option in RENDER_ONLY:
            if params.get(option):
                errors.add(option, 'is for state=rendered only (a server on a node); the pod always binds eth1')
    if params['state'] == 'absent':
        errors.raise_if_any()
        return None
    for option in ('network', 'pool_start', 'pool_end'):
        if not params.get(option):
            errors.add(option, 'is required with state=%s' % params['state'])
    reference = None
    if params.get('network'):
        reference = builders.nad_reference(params['network'], params['namespace'])
        errors.check(validation.dns1123_label, 'network', reference[1])
        errors.check(validation.dns1123_label, 'network', reference[0])
    if params.get('interface'):
        errors.check(validation.nic_name, 'interface', params['interface'])
    if params.get('node_selector'):
        errors.check(validation.labels, 'node_selector', params['node_selector'])
    if params.get('leases') and params['leases'].get('size'):
        errors.check(validation.quantity, 'leases.size', params['leases']['size'])
    errors.raise_if_any()
    return reference


def address_plan(params, route=None):
    """The checked address plan: each address from the task, else from the network's route annotation."""
    route = route or {}
    values = {}
    for option, key in (('cidr', 'cidr'), ('gateway', 'gateway'), ('server_address', 'dhcp_server')):
        values[option] = params.get(option) or route.get(key)
    errors = Errors()
    for option in ('cidr', 'server_address'):
        if not values[option]:
            errors.add(option, 'is required: the network has no route annotation that states it (give it here, or '
                               'set the network\'s route with harvester.network.vlan_network)')
    errors.raise_if_any()
    return dhcp.address_plan(values['cidr'], values['server_address'], params['pool_start'], params['pool_end'],
                             values['gateway'], params.get('dns_servers'))


def _render(params, plan, network_ref, interface, lease_file):
    return dhcp.dnsmasq_config(plan, interface, lease_file, dhcp.lease_time('lease_time', params['lease_time']),
                               network_ref)


def _network_facts(service, network_namespace, network_name):
    """The VLAN network the server is for, refused unless it is a Harvester VLAN or untagged network."""
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
    return facts


def vlan_dhcp_handler(params, cluster, module):
    reference = validate(params)
    name, namespace = params['name'], params['namespace']
    service = cluster.service if params['state'] != 'rendered' else None
    if params['state'] == 'absent':
        reconcile = service.reconcile(module)
        for kind, obj_name in ((dhcp.DEPLOYMENT, name), (dhcp.CONFIG_MAP, name),
                               (dhcp.LEASE_CLAIM, dhcp.lease_claim_name(name))):
            reconcile.delete(kind, [(namespace, obj_name)], _live(service, kind, obj_name, namespace))
        return reconcile.run()

    network_namespace, network_name = reference
    network = {'namespace': network_namespace, 'name': network_name}
    route = None
    if params['state'] == 'present':
        cluster.discovery.require(NAD)
        facts = _network_facts(service, network_namespace, network_name)
        route = facts['route']
        network.update(vlan_id=facts['vlan_id'], bridge=facts['bridge'], cluster_network=facts['cluster_network'])
    plan = address_plan(params, route)
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

    reconcile = service.reconcile(module)
    for kind, manifest in objects:
        reconcile.converge(kind, [manifest], service.read_one(kind, manifest['metadata']['name'], namespace)[1])
    if not (params.get('leases') or {}).get('persistent', True):
        claim = dhcp.lease_claim_name(name)
        existing = _live(service, dhcp.LEASE_CLAIM, claim, namespace)
        if any((obj['metadata'].get('labels') or {}).get(dhcp.LABEL_INSTANCE) == name for obj in existing.values()):
            reconcile.delete(dhcp.LEASE_CLAIM, [(namespace, claim)], existing)
    result.update(reconcile.run())
    result['config'] = text
    result['objects'] = [manifest for _kind, manifest in objects]
    return result
