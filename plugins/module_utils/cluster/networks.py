# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state machines of cluster_network, vlan_config, vlan_network and vlan_network_info.

Order in every handler: pure validation -> discovery -> reads (one LIST per kind) -> checks that need the cluster ->
plan -> writes.  Nothing is written unless every check passed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders, compare, readiness, validation
from ansible_collections.harvester.network.plugins.module_utils.cluster.builders import LABEL_CLUSTER_NETWORK
from ansible_collections.harvester.network.plugins.module_utils.cluster.discovery import CURRENT, LEGACY, PLAIN
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import (
    Errors, InUseError, ValidationError, WaitTimeout)
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import (
    CLUSTER_NETWORK, NAD, NODE, NODE_NETWORK, VIRTUAL_MACHINE, VIRTUAL_MACHINE_INSTANCE, VLAN_CONFIG, VLAN_STATUS)
from ansible_collections.harvester.network.plugins.module_utils.host.vocabulary import (
    LEGACY_BRIDGE, LEGACY_CLUSTER_NETWORK, MGMT_CLUSTER_NETWORK, VID_MAX, VID_MIN)

LEGACY_ONLY = ('enable', 'default_physical_nic', 'node_nics')
UPLINK_MTU_ANNOTATION = 'network.harvesterhci.io/uplink-mtu'
MATCHED_NODES_ANNOTATION = readiness.MATCHED_NODES_ANNOTATION
NO_WAIT_IN_CHECK_MODE = ('wait: check mode does not wait (nothing was written to wait for); the result reports what '
                         'Harvester reports now')
LOCAL_PREDICTION = ('check mode predicted this locally, without a server-side dry run: %s, so the server (and '
                    "Harvester's webhook) cannot judge these requests until an earlier task of this run has really run")


# ---- cluster_network ------------------------------------------------------------------------------------------
def validate_cluster_network(params, generation):
    errors = Errors()
    name = params['name']
    if generation == CURRENT:
        for option in LEGACY_ONLY:
            if params.get(option) is not None:
                errors.add(option, 'is for Harvester v0.3/v1.0 only; this cluster is v1.1+, where the uplink NICs '
                                   'are set with harvester.network.vlan_config')
        errors.check(validation.cluster_network_name, 'name', name)
        if name == MGMT_CLUSTER_NETWORK and (params['state'] == 'absent' or params.get('description')):
            errors.add('name', 'mgmt is the built-in management cluster network: it cannot be deleted or changed')
        errors.raise_if_any()
        return
    if name != LEGACY_CLUSTER_NETWORK:
        errors.add('name', 'Harvester v0.3/v1.0 has exactly one cluster network, "vlan": set name=vlan')
    if params['state'] == 'absent':
        errors.add('state', 'the "vlan" cluster network of Harvester v0.3/v1.0 is built in and cannot be deleted: '
                            'set enable=false to turn the VLAN network off')
    if params.get('default_physical_nic'):
        errors.check(validation.nic_name, 'default_physical_nic', params['default_physical_nic'])
    nodes = [item['node'] for item in params.get('node_nics') or []]
    for index, item in enumerate(params.get('node_nics') or []):
        errors.check(validation.dns1123_subdomain, 'node_nics[%d].node' % index, item['node'])
        errors.check(validation.nic_name, 'node_nics[%d].nic' % index, item['nic'])
    if validation.duplicates(nodes):
        errors.add('node_nics', 'node %s is listed more than once: give each node one NIC'
                   % ', '.join(validation.duplicates(nodes)))
    errors.raise_if_any()


def cluster_network_handler(params, cluster, module):
    generation = cluster.discovery.generation(params['api_generation'])
    validate_cluster_network(params, generation)
    service = cluster.service
    name = params['name']
    key, existing_map = service.read_one(CLUSTER_NETWORK, name)
    existing = existing_map.get(key)
    reconcile = service.reconcile(module)
    if generation == CURRENT:
        if name == MGMT_CLUSTER_NETWORK:
            return {'changed': False, 'changes': [], 'generation': generation,
                    'cluster_network': {'name': name, 'exists': existing is not None, 'built_in': True}}
        if params['state'] == 'absent':
            if existing is not None:
                _refuse_cluster_network_in_use(service, name, module)
            reconcile.delete(CLUSTER_NETWORK, [key], existing_map)
        else:
            reconcile.converge(CLUSTER_NETWORK, [builders.cluster_network(CURRENT, name, params.get('description'))],
                               existing_map)
        result = reconcile.run()
        result.update({'generation': generation, 'cluster_network': {'name': name, 'exists': params['state'] == 'present'}})
        return result

    # legacy: the "vlan" ClusterNetwork (enable + default NIC) and per-node NodeNetwork overrides
    nic = params.get('default_physical_nic') or ((existing or {}).get('config') or {}).get('defaultPhysicalNIC')
    if params.get('enable') and not nic:
        raise ValidationError('enable=true needs a VLAN NIC: give default_physical_nic (e.g. eth1)',
                              field='default_physical_nic')
    # an option left out keeps the cluster's value: leaving out enable must not switch the VLAN network off
    enable = params.get('enable')
    if enable is None and existing is not None:
        enable = existing.get('enable')
    desired = builders.cluster_network(LEGACY, name, params.get('description'), enable, nic)
    reconcile.converge(CLUSTER_NETWORK, [desired], existing_map)
    if params.get('node_nics'):
        node_networks = service.list(NODE_NETWORK)
        wanted = [builders.node_network(item['node'], item['nic'], item.get('description'))
                  for item in params['node_nics']]
        reconcile.converge(NODE_NETWORK, wanted, node_networks)
    result = reconcile.run()
    final = reconcile.final(CLUSTER_NETWORK, key)
    result.update({'generation': generation, 'cluster_network': {
        'name': name, 'exists': True, 'enable': final.get('enable'),
        'default_physical_nic': (final.get('config') or {}).get('defaultPhysicalNIC')}})
    return result


def _refuse_cluster_network_in_use(service, name, module=None):
    users = ['VlanConfig %s' % key[1] for key, obj in sorted(service.list(VLAN_CONFIG).items())
             if (obj.get('spec') or {}).get('clusterNetwork') == name]
    users += ['NetworkAttachmentDefinition %s/%s' % key for key in
              sorted(service.list(NAD, label_selector='%s=%s' % (LABEL_CLUSTER_NETWORK, name)))]
    if not users:
        return
    message = 'cluster network %s is still used by %s: delete those first' % (name, ', '.join(users))
    if module is not None and module.check_mode:
        # a teardown in check mode: the earlier tasks that delete those users only predicted it
        _predict_locally(service, module, message)
        return
    raise InUseError(message, field='name')


def _predict_locally(service, module, reason):
    """Check mode only: the plan is the prediction; no dry run goes to a server that would refuse it."""
    service.local_only = True
    module.warn(LOCAL_PREDICTION % reason)


def _missing_cluster_network(service, module, name, hint):
    message = 'cluster network %s does not exist: %s' % (name, hint)
    if module is not None and module.check_mode:
        # an earlier task of this check-mode run may create it; Harvester's webhook refuses a dry run naming it
        _predict_locally(service, module, message)
        return
    raise ValidationError(message, field='cluster_network')


def uplink_mtu(service, cn, configs=None):
    """The MTU every NAD of cluster network ``cn`` carries: the cluster network's uplink-mtu annotation, else its
    first VlanConfig's MTU, else 1500 (harvester/network-controller-harvester pkg/webhook/nad/validator.go
    @2e5cbea3, ``checkNadConfig``; mutator.go ``patchMTU``)."""
    obj = service.get(CLUSTER_NETWORK, cn) if cn != MGMT_CLUSTER_NETWORK else None
    text = (((obj or {}).get('metadata') or {}).get('annotations') or {}).get(UPLINK_MTU_ANNOTATION)
    if text and text.isdigit() and int(text):
        return int(text), obj
    configs = service.list(VLAN_CONFIG) if configs is None else configs
    for _key, vc in sorted(configs.items()):
        if (vc.get('spec') or {}).get('clusterNetwork') == cn:
            return builders.vlan_config_mtu(vc), obj
    return builders.DEFAULT_MTU, obj


# ---- vlan_config ----------------------------------------------------------------------------------------------
def validate_vlan_config(params):
    errors = Errors()
    errors.check(validation.dns1123_subdomain, 'name', params['name'])
    errors.check(validation.cluster_network_name, 'cluster_network', params['cluster_network'])
    if params['cluster_network'] == MGMT_CLUSTER_NETWORK:
        errors.add('cluster_network', 'a VlanConfig cannot target mgmt (its uplink is the management interface): '
                                      'create a cluster network of its own')
    if params['state'] != 'absent':
        nics = params.get('nics') or []
        if not nics:
            errors.add('nics', 'give at least one uplink NIC, e.g. [eth1]')
        for index, nic in enumerate(nics):
            errors.check(validation.nic_name, 'nics[%d]' % index, nic)
        if validation.duplicates(nics):
            errors.add('nics', '%s listed twice' % ', '.join(validation.duplicates(nics)))
        errors.check(validation.mtu, 'mtu', params.get('mtu'))
        if params.get('miimon') is not None and params['miimon'] < 0:
            errors.add('miimon', 'must be 0 (off) or a positive number of milliseconds')
        if params.get('tx_queue_len') is not None and params['tx_queue_len'] < 0:
            errors.add('tx_queue_len', 'must be 0 or positive')
        errors.check(validation.mac_address, 'hardware_addr', params.get('hardware_addr'))
        errors.check(validation.labels, 'node_selector', params.get('node_selector'))
    errors.raise_if_any()


def vlan_config_handler(params, cluster, module):
    validate_vlan_config(params)
    generation = cluster.discovery.generation(params['api_generation'])
    if generation != CURRENT:
        raise ValidationError('VlanConfig needs Harvester v1.1+; this cluster is v0.3/v1.0: set the uplink NIC with '
                              'harvester.network.cluster_network (default_physical_nic, node_nics)',
                              field='api_generation')
    service = cluster.service
    name, cn = params['name'], params['cluster_network']
    configs = service.list(VLAN_CONFIG)
    key = ('', name)
    reconcile = service.reconcile(module)
    if params['state'] == 'absent':
        reconcile.delete(VLAN_CONFIG, [key], configs)
        if reconcile.changes:
            _refuse_vlan_config_change(service, reconcile.changes[0].existing, None)
        result = reconcile.run()
        if params.get('wait') and module.check_mode:
            module.warn(NO_WAIT_IN_CHECK_MODE)
        elif params.get('wait'):
            _waiting(result, readiness.wait_vlan_config_gone, service, name, params['wait_timeout'])
        return result
    if service.get(CLUSTER_NETWORK, cn) is None:
        _missing_cluster_network(service, module, cn, 'create it first with harvester.network.cluster_network')
    desired = builders.vlan_config(name, cn, params['nics'], params.get('bond_mode'), params.get('miimon'),
                                   params.get('mtu'), params.get('tx_queue_len'), params.get('hardware_addr'),
                                   params.get('node_selector'), params.get('description'))
    siblings = [(k, obj) for k, obj in sorted(configs.items())
                if k != key and (obj.get('spec') or {}).get('clusterNetwork') == cn]
    if siblings:
        my_mtu = params.get('mtu') or builders.DEFAULT_MTU
        nodes = None
        for other_key, other in siblings:
            other_mtu = builders.vlan_config_mtu(other)
            if other_mtu != my_mtu:
                raise ValidationError('MTU %d differs from VlanConfig %s (MTU %d) on cluster network %s: all '
                                      'VlanConfigs of one cluster network share one MTU'
                                      % (my_mtu, other_key[1], other_mtu, cn), field='mtu')
            if nodes is None:
                nodes = [((n.get('metadata') or {}).get('labels') or {}) for n in service.list(NODE).values()]
            if validation.node_selectors_overlap(params.get('node_selector'), (other.get('spec') or {}).get('nodeSelector'),
                                                 nodes):
                raise ValidationError('selects nodes that VlanConfig %s (cluster network %s) also selects: a node '
                                      'may have only one uplink per cluster network; narrow node_selector'
                                      % (other_key[1], cn), field='node_selector')
    reconcile.converge(VLAN_CONFIG, [desired], configs)
    if reconcile.changes[0].action == 'update':
        _refuse_vlan_config_change(service, reconcile.changes[0].existing, desired)
    result = reconcile.run()
    final = reconcile.final(VLAN_CONFIG, key)
    if params.get('wait') and not module.check_mode:
        if reconcile.changes[0].action == 'update':
            module.warn(readiness.STALE_AFTER_UPDATE % name)
        final, nodes, states = _waiting(result, readiness.wait_vlan_config, service, name, params['wait_timeout'])
    else:
        if params.get('wait'):
            module.warn(NO_WAIT_IN_CHECK_MODE)
        nodes, states = readiness.vlan_config_report(service, name, final) if cluster.discovery.serves(VLAN_STATUS) \
            else (readiness.matched_nodes(final), [])
    result['vlan_config'] = {'name': name, 'cluster_network': cn, 'spec': final.get('spec'),
                             'hardware_addr': builders.hardware_addr_from_api(
                                 ((((final.get('spec') or {}).get('uplink') or {}).get('linkAttributes')) or {})
                                 .get('hardwareAddr')),
                             'matched_nodes': nodes, 'nodes': states}
    return result


def _waiting(result, wait, *args):
    """Run a wait after the writes; a wait that fails still reports what the run changed."""
    try:
        return wait(*args)
    except WaitTimeout as exc:
        exc.details.update(changed=result['changed'], changes=result['changes'])
        raise


def _refuse_vlan_config_change(service, existing, desired):
    """Harvester refuses changing or deleting a VlanConfig while VMs on its cluster network run on the nodes it
    configures (harvester/network-controller-harvester pkg/webhook/vlanconfig/validator.go @2e5cbea3: ``checkVmi``
    on ``getAffectedNodes``: all matched nodes when the uplink or cluster network changes or on delete, else the
    nodes the new selector drops). Matched nodes are those of Harvester's ``matched-nodes`` annotation."""
    old_spec = existing.get('spec') or {}
    nodes = set(readiness.matched_nodes(existing))
    if desired is not None:
        new_spec = desired.get('spec') or {}
        if old_spec.get('clusterNetwork') == new_spec.get('clusterNetwork') and \
                not compare.differences(new_spec.get('uplink'), old_spec.get('uplink'), ('spec', 'uplink')):
            selector = new_spec.get('nodeSelector') or {}
            labels = dict((key[1], ((obj.get('metadata') or {}).get('labels') or {}))
                          for key, obj in service.list(NODE).items())
            nodes = set(n for n in nodes if not all(labels.get(n, {}).get(k) == v for k, v in selector.items()))
    if not nodes:
        return
    cn = old_spec.get('clusterNetwork')
    nads = set(service.list(NAD, label_selector='%s=%s' % (LABEL_CLUSTER_NETWORK, cn)))
    running = sorted('%s/%s (node %s)' % (key[0], key[1], (vmi.get('status') or {}).get('nodeName'))
                     for key, vmi in service.list(VIRTUAL_MACHINE_INSTANCE).items()
                     if (vmi.get('status') or {}).get('nodeName') in nodes and _refers_to(vmi.get('spec'), key[0], nads))
    if running:
        raise InUseError('VlanConfig %s cannot be %s while VMs on cluster network %s run on the nodes it configures: '
                         '%s. Stop them first (harvester.network.vm state=stopped), then run again'
                         % (existing['metadata']['name'], 'deleted' if desired is None else 'changed', cn,
                            ', '.join(running)), field='state' if desired is None else 'name')


def _refers_to(spec, namespace, nad_keys):
    """The NAD keys of ``nad_keys`` a VM(I) spec's Multus networks name (``ns/name`` or ``name``)."""
    found = set()
    for net in ((spec or {}).get('networks') or []):
        ref = (net.get('multus') or {}).get('networkName')
        if ref and builders.nad_reference(ref, namespace) in nad_keys:
            found.add(builders.nad_reference(ref, namespace))
    return found


# ---- vlan_network ---------------------------------------------------------------------------------------------
NETWORK_KEYS = ('name', 'namespace', 'network_type', 'vlan_id', 'vlan_trunk', 'mtu', 'route', 'description',
                'preserve_default_vlan')
PRUNED_TYPES = ('vlan', 'untagged')  # trunk networks are written by name; overlay (Kube-OVN) ones only read
OVERLAY_READ_ONLY = ("overlay networks (Harvester v1.6+, Kube-OVN, experimental) are read-only in this collection: "
                     "create them in Harvester (its UI or a NetworkAttachmentDefinition of type kube-ovn with its "
                     "Subnet); harvester.network.vlan_network_info reads them")


def normalise_networks(params):
    """The single network or the ``networks`` list as one list of dicts, module-level values as defaults."""
    if params.get('networks') is not None and params.get('name'):
        raise ValidationError('give either name (one network) or networks (many), not both', field='networks')
    if params.get('networks') is not None:
        items = params['networks']
    elif params.get('name'):
        items = [dict((k, params.get(k)) for k in NETWORK_KEYS)]
    else:
        items = []
    if not items and not (params.get('prune') and params.get('networks') is not None):
        raise ValidationError('give name (one network) or networks (a list)', field='name')
    out = []
    for index, raw in enumerate(items):
        item = dict(raw)
        item['namespace'] = item.get('namespace') or params.get('namespace') or 'default'
        item['network_type'] = item.get('network_type') or params.get('network_type') or 'vlan'
        if item.get('preserve_default_vlan') is None and item['network_type'] == 'vlan':
            item['preserve_default_vlan'] = params.get('preserve_default_vlan')
        item['cluster_network'] = params.get('cluster_network')
        item['field'] = 'networks[%d]' % index if params.get('networks') is not None else ''
        out.append(item)
    return out


def _f(item, name):
    return (item['field'] + '.' + name) if item['field'] else name


def validate_vlan_networks(params, networks, generation):
    """``generation``: ``legacy`` or ``current`` (Harvester), or ``plain`` (KubeVirt + Multus, no Harvester)."""
    errors = Errors()
    cn = params.get('cluster_network')
    if generation == PLAIN:
        _validate_plain(errors, params)
    elif params.get('bridge') is not None:
        errors.add('bridge', 'is for flavor=plain (KubeVirt + Multus without Harvester); on Harvester the bridge is '
                             "the cluster network's: drop bridge and name the cluster network with cluster_network")
    if generation == CURRENT:
        if not cn:
            errors.add('cluster_network', 'is required on Harvester v1.1+: name the cluster network the VLANs ride on '
                                          '(mgmt for the management network)')
        else:
            errors.check(validation.cluster_network_name, 'cluster_network', cn)
    elif generation == LEGACY and cn not in (None, LEGACY_CLUSTER_NETWORK):
        errors.add('cluster_network', 'Harvester v0.3/v1.0 has one cluster network, "vlan": leave cluster_network unset')
    for item in networks:
        errors.check(validation.dns1123_label, _f(item, 'name'), item['name'])
        errors.check(validation.dns1123_label, _f(item, 'namespace'), item['namespace'])
        if params['state'] == 'absent':
            continue
        if item['network_type'] == 'overlay':
            errors.add(_f(item, 'network_type'), OVERLAY_READ_ONLY)
            continue
        if item['network_type'] != 'trunk' and item.get('vlan_trunk') is not None:
            errors.add(_f(item, 'vlan_trunk'), 'is for trunk networks only: set network_type=trunk, or drop vlan_trunk')
        if item['network_type'] == 'trunk':
            _validate_trunk(errors, item, generation)
        elif item['network_type'] == 'untagged':
            if generation == LEGACY:
                errors.add(_f(item, 'network_type'), 'untagged networks need Harvester v1.1+')
            if item.get('route'):
                # harvester/network-controller-harvester pkg/utils/nad.go @2e5cbea3 (OutdateNadLayer3NetworkConf):
                # Harvester drops the route of a network without a VLAN
                errors.add(_f(item, 'route'), 'an untagged network carries no route in Harvester: drop route or set '
                                              'network_type=vlan with a vlan_id')
            if item.get('vlan_id') is not None:
                errors.add(_f(item, 'vlan_id'), 'an untagged network has no VLAN ID: drop vlan_id or set '
                                                'network_type=vlan')
            if item.get('preserve_default_vlan') is not None:
                errors.add(_f(item, 'preserve_default_vlan'), "an untagged network's VM ports carry the native VLAN "
                                                              'by design: drop preserve_default_vlan')
        elif item.get('vlan_id') is None:
            errors.add(_f(item, 'vlan_id'), 'is required for a VLAN network: give %d-%d' % (VID_MIN, VID_MAX))
        else:
            errors.check(validation.vlan_id, _f(item, 'vlan_id'), item['vlan_id'])
        if item.get('mtu') is not None and generation == LEGACY:
            errors.add(_f(item, 'mtu'), 'Harvester v0.3/v1.0 networks carry no MTU: drop mtu')
        else:
            errors.check(validation.mtu, _f(item, 'mtu'), item.get('mtu'))
        if generation == PLAIN and item.get('route'):
            errors.add(_f(item, 'route'), PLAIN_REFUSES % PLAIN_ROUTE)
        else:
            errors.check(validation.route, _f(item, 'route'), item.get('route'))
    keys = [(item['namespace'], item['name']) for item in networks]
    if validation.duplicates(keys):
        errors.add('networks', '%s listed more than once' % ', '.join('%s/%s' % k for k in validation.duplicates(keys)))
    errors.raise_if_any()


PLAIN_REFUSES = 'is a Harvester option, and this cluster is plain KubeVirt + Multus (flavor plain): %s'
PLAIN_ROUTE = 'route is the annotation Harvester keeps for its DHCP route modes; drop route'


def _validate_plain(errors, params):
    """The module-level options of a plain (non-Harvester) network: the node bridge is required, Harvester's
    cluster network, API generation and readiness wait are refused."""
    if params['state'] == 'present' or params.get('prune'):
        if not params.get('bridge'):
            errors.add('bridge', 'is required with flavor plain: name the node bridge the VLANs ride on (the one '
                                 'harvester.network.host_bridge built on every node, e.g. br-vlan)')
    if params.get('bridge'):
        errors.check(validation.nic_name, 'bridge', params['bridge'])
    if params.get('cluster_network') is not None:
        errors.add('cluster_network', PLAIN_REFUSES % 'there are no cluster networks; name the node bridge with '
                                                      'bridge instead')
    if params.get('api_generation') not in (None, 'auto'):
        errors.add('api_generation', PLAIN_REFUSES % 'leave it at auto')
    if params.get('wait'):
        errors.add('wait', PLAIN_REFUSES % 'it waits for the ready label of Harvester\'s network controller, which '
                                           'a plain cluster does not run; drop wait')


def _validate_trunk(errors, item, generation):
    """A trunk network (L2VlanTrunkNetwork): Harvester v1.1+ API with network controller v1.7; VID ranges as the
    webhook checks them (validation.vlan_trunk); no VLAN ID, no route (Harvester keeps none on VLAN 0:
    pkg/utils/nad.go @2e5cbea3 OutdateNadLayer3NetworkConf), no preserve_default_vlan (not written for trunks)."""
    if generation == LEGACY:
        errors.add(_f(item, 'network_type'), 'trunk networks need Harvester v1.7 (network controller v1.7, API '
                                             'v1.1+); this cluster is v0.3/v1.0')
    errors.check(validation.vlan_trunk, _f(item, 'vlan_trunk'), item.get('vlan_trunk'))
    for option, why in (('vlan_id', 'a trunk network carries the VLANs of vlan_trunk (its config has "vlan": 0): '
                                    'drop vlan_id'),
                        ('route', 'a trunk network carries no route in Harvester: drop route'),
                        ('preserve_default_vlan', 'is for VLAN networks (network_type=vlan) only: drop it')):
        if item.get(option) is not None and item.get(option) != {}:
            errors.add(_f(item, option), why)


def _on_cluster_network(obj, generation, cn):
    """A VLAN or untagged network on ``cn`` (with flavor plain: on the node bridge ``cn``): what ``prune`` may
    delete and the duplicate-VID check counts. Trunk networks (often made in Harvester's UI for one VM) are deleted
    by name only, overlay networks never."""
    facts = builders.parse_vlan_network(obj)
    if facts['network_type'] not in PRUNED_TYPES or facts['config'].get('type') != 'bridge':
        return False
    if generation == PLAIN:
        return facts['bridge'] == cn and not facts['labels'].get(LABEL_CLUSTER_NETWORK)
    if generation == LEGACY:
        return facts['bridge'] == LEGACY_BRIDGE
    return facts['cluster_network'] == cn


def _vms_using(service, keys, kind):
    """{nad key: [VM names]} from one LIST of ``kind`` (VirtualMachineInstances: running; VirtualMachines: all,
    stopped ones too, through their template)."""
    users = {}
    for (namespace, name), obj in sorted(service.list(kind).items()):
        spec = obj.get('spec') or {}
        if kind is VIRTUAL_MACHINE:
            spec = (spec.get('template') or {}).get('spec') or {}
        for nad_key in _refers_to(spec, namespace, keys):
            users.setdefault(nad_key, []).append('%s/%s' % (namespace, name))
    return users


def vlan_network_handler(params, cluster, module):
    networks = normalise_networks(params)
    flavor = cluster.discovery.flavor(params.get('flavor') or 'auto')
    # with flavor plain, "generation" is plain and the networks' segment (cn) is the node bridge
    generation = PLAIN if flavor == PLAIN else cluster.discovery.generation(params['api_generation'])
    validate_vlan_networks(params, networks, generation)
    cluster.discovery.require(NAD)
    service = cluster.service
    cn = {CURRENT: params.get('cluster_network'), LEGACY: LEGACY_CLUSTER_NETWORK, PLAIN: params.get('bridge')}[generation]
    if generation == CURRENT and params['state'] == 'present':
        mtu, cn_obj = uplink_mtu(service, cn)
        if cn != MGMT_CLUSTER_NETWORK and cn_obj is None:
            _missing_cluster_network(service, module, cn, 'create it with harvester.network.cluster_network and give '
                                                          'it an uplink with harvester.network.vlan_config')
        errors = Errors()
        for item in networks:
            # Refuse up front: Harvester's webhook rewrites a NAD's MTU to its cluster network's on create and refuses
            # another on update (pkg/webhook/nad/mutator.go patchMTU, validator.go checkNadConfig @2e5cbea3)
            if item.get('mtu') is not None and item['mtu'] != mtu:
                errors.add(_f(item, 'mtu'), '%d differs from the MTU of cluster network %s (%d): a VLAN network always '
                                            "has its cluster network's MTU; leave mtu out, or change the uplink MTU "
                                            'with harvester.network.vlan_config' % (item['mtu'], cn, mtu))
            item['mtu'] = mtu
        errors.raise_if_any()
    existing = service.list(NAD)
    wanted_keys = set((item['namespace'], item['name']) for item in networks)

    reconcile = service.reconcile(module)
    if params['state'] == 'absent':
        reconcile.delete(NAD, sorted(wanted_keys), existing)
    else:
        for item in networks:
            item['cluster_network'] = cn
            if generation == PLAIN:
                item['bridge'] = cn
        desired = [builders.plain_vlan_network(item) if generation == PLAIN else builders.vlan_network(generation, item)
                   for item in networks]
        prune_keys = []
        if params.get('prune'):
            scope = set(item['namespace'] for item in networks) | set([params.get('namespace') or 'default'])
            prune_keys = sorted(k for k, obj in existing.items()
                                if k[0] in scope and k not in wanted_keys and _on_cluster_network(obj, generation, cn))
        if not params.get('allow_duplicate_vids'):
            _refuse_duplicate_vids(networks, existing, generation, cn, wanted_keys, prune_keys)
        reconcile.converge(NAD, desired, existing, prune_keys)

    changes = reconcile.changes
    touching = set(c.key for c in changes if c.action == 'delete' or (
        c.action == 'update' and any(path[:2] == ('spec', 'config') for path in c.paths)))
    field = 'networks' if params.get('networks') else 'name'
    if touching and cluster.discovery.serves(VIRTUAL_MACHINE_INSTANCE):
        users = _vms_using(service, touching, VIRTUAL_MACHINE_INSTANCE)
        if users:
            raise InUseError('; '.join(
                'network %s/%s is used by running VM %s: stop the VM (harvester.network.vm state=stopped) or move '
                'it to another network before changing or deleting the network' % (key[0], key[1], ', '.join(vms))
                for key, vms in sorted(users.items())), field=field)
    deleting = set(c.key for c in changes if c.action == 'delete')
    if deleting and cluster.discovery.serves(VIRTUAL_MACHINE):
        # Harvester refuses deleting a NAD any VM refers to, stopped ones too
        # (pkg/webhook/nad/validator.go @2e5cbea3, Delete -> checkVM)
        users = _vms_using(service, deleting, VIRTUAL_MACHINE)
        if users:
            raise InUseError('; '.join(
                'network %s/%s is used by VM %s (running or stopped): remove its NIC on this network '
                '(harvester.network.vm) or delete the VM before deleting the network'
                % (key[0], key[1], ', '.join(vms)) for key, vms in sorted(users.items())), field=field)

    result = reconcile.run()
    result['flavor'] = flavor
    result['generation'] = None if generation == PLAIN else generation
    if params['state'] == 'present':
        keys = [(item['namespace'], item['name']) for item in networks]
        finals = dict((key, reconcile.final(NAD, key)) for key in keys)
        if params.get('wait') and module.check_mode:
            module.warn(NO_WAIT_IN_CHECK_MODE)
        elif params.get('wait') and generation == CURRENT:
            finals.update(_waiting(result, readiness.wait_networks_ready, service, keys, params['wait_timeout']))
        elif params.get('wait'):
            module.warn('wait: Harvester v0.3/v1.0 labels no network ready; there is nothing to wait for')
        result['networks'] = [builders.parse_vlan_network(finals[key]) for key in keys]
    return result


def _refuse_duplicate_vids(networks, existing, generation, cn, wanted_keys, prune_keys):
    owners = {}
    for item in networks:
        if item['network_type'] == 'vlan':
            owners.setdefault(item['vlan_id'], []).append('%s/%s' % (item['namespace'], item['name']))
    for key, obj in sorted(existing.items()):
        if key in wanted_keys or key in prune_keys or not _on_cluster_network(obj, generation, cn):
            continue
        vid = builders.parse_vlan_network(obj).get('vlan_id')
        if vid in owners:
            owners[vid].append('%s/%s' % key)
    clashes = dict((vid, names) for vid, names in owners.items() if len(names) > 1)
    if clashes:
        where = 'bridge' if generation == PLAIN else 'cluster network'
        raise ValidationError('duplicate VLAN IDs on %s %s: %s. Give each network its own VLAN ID, or '
                              'set allow_duplicate_vids=true if they are meant to share one L2 segment'
                              % (where, cn, '; '.join('VLAN %d used by %s' % (vid, ', '.join(names))
                                                      for vid, names in sorted(clashes.items()))),
                              field='networks' if len(networks) > 1 else 'vlan_id')


def vlan_network_info_handler(params, cluster, module):
    if params.get('namespace'):
        validation.dns1123_label('namespace', params['namespace'])
    cluster.discovery.require(NAD)
    items = cluster.service.list(NAD, namespace=params.get('namespace'))
    found = []
    for key, obj in sorted(items.items()):
        facts = builders.parse_vlan_network(obj)
        if builders.config_network_type(facts['config']) is None:
            continue  # not one of Harvester's network types (another CNI plugin)
        if params.get('name') and facts['name'] != params['name']:
            continue
        if params.get('cluster_network') and facts['cluster_network'] != params['cluster_network']:
            continue
        found.append(facts)
    return {'changed': False, 'networks': found, 'flavor': cluster.discovery.flavor()}
