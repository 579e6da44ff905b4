# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure manifest builders for Harvester's network objects, per API generation. No I/O: params in, dicts out."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
from collections import OrderedDict

from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import (
    CLUSTER_NETWORK, NAD, NODE_NETWORK, VLAN_CONFIG)
# Harvester's names (the bridge of a cluster network, the built-in cluster networks): the one vocabulary
from ansible_collections.harvester.network.plugins.module_utils.host.vocabulary import (
    CURRENT, LEGACY, MGMT_CLUSTER_NETWORK, bridge_name, cluster_network_of_bridge)

DEFAULT_MTU = 1500

DESCRIPTION_ANNOTATION = 'field.cattle.io/description'
ROUTE_ANNOTATION = 'network.harvesterhci.io/route'
LABEL_TYPE = 'network.harvesterhci.io/type'
LABEL_TYPE_LEGACY = 'networks.harvesterhci.io/type'
LABEL_VLAN_ID = 'network.harvesterhci.io/vlan-id'
LABEL_CLUSTER_NETWORK = 'network.harvesterhci.io/clusternetwork'
TYPE_VLAN = 'L2VlanNetwork'
TYPE_UNTAGGED = 'UntaggedNetwork'
TYPE_TRUNK = 'L2VlanTrunkNetwork'
TYPE_OVERLAY = 'OverlayNetwork'
# label value -> network_type (harvester/network-controller-harvester pkg/utils/nad.go @2e5cbea3, NetworkType)
NETWORK_TYPES = {TYPE_VLAN: 'vlan', TYPE_UNTAGGED: 'untagged', TYPE_TRUNK: 'trunk', TYPE_OVERLAY: 'overlay'}
OVERLAY_CNI = 'kube-ovn'


def _metadata(name, namespace=None, labels=None, annotations=None):
    metadata = OrderedDict([('name', name)])
    if namespace:
        metadata['namespace'] = namespace
    if labels:
        metadata['labels'] = dict(labels)
    if annotations:
        metadata['annotations'] = dict(annotations)
    return metadata


def _object(kind, metadata):
    return OrderedDict([('apiVersion', kind.api_version), ('kind', kind.kind), ('metadata', metadata)])


# ---- cluster networks -----------------------------------------------------------------------------------------
def cluster_network(generation, name, description=None, enable=None, default_physical_nic=None):
    """Current: a bare ClusterNetwork. Legacy: the ``vlan`` ClusterNetwork with ``enable`` and the default NIC."""
    if generation == LEGACY:
        obj = _object(CLUSTER_NETWORK, _metadata(name))
        if description:
            obj['description'] = description
        obj['enable'] = bool(enable)
        if default_physical_nic:
            obj['config'] = {'defaultPhysicalNIC': default_physical_nic}
        return obj
    annotations = {DESCRIPTION_ANNOTATION: description} if description else None
    return _object(CLUSTER_NETWORK, _metadata(name, annotations=annotations))


def node_network_name(node):
    return '%s-vlan' % node


def node_network(node, nic, description=None):
    """Legacy per-node override of the VLAN NIC (``Hosts > Network`` in the v0.3 UI)."""
    spec = OrderedDict([('nodeName', node), ('type', 'vlan'), ('nic', nic)])
    if description:
        spec['description'] = description
    obj = _object(NODE_NETWORK, _metadata(node_network_name(node)))
    obj['spec'] = spec
    return obj


def vlan_config(name, cluster_network_name, nics, bond_mode='active-backup', miimon=None, mtu=None,
                tx_queue_len=None, hardware_addr=None, node_selector=None, description=None):
    """A v1.1+ VlanConfig: the uplink (NICs bonded into ``<cn>-bo``) of one cluster network on selected nodes."""
    link = OrderedDict()
    if mtu is not None:
        link['mtu'] = mtu
    if tx_queue_len is not None:
        link['txQLen'] = tx_queue_len
    if hardware_addr:
        link['hardwareAddr'] = hardware_addr_to_api(hardware_addr)
    bond = OrderedDict([('mode', bond_mode or 'active-backup')])
    if miimon is not None:
        bond['miimon'] = miimon
    uplink = OrderedDict([('nics', list(nics))])
    if link:
        uplink['linkAttributes'] = link
    uplink['bondOptions'] = bond
    spec = OrderedDict()
    if description:
        spec['description'] = description
    spec['clusterNetwork'] = cluster_network_name
    if node_selector:
        spec['nodeSelector'] = dict(node_selector)
    spec['uplink'] = uplink
    obj = _object(VLAN_CONFIG, _metadata(name, labels={LABEL_CLUSTER_NETWORK: cluster_network_name}))
    obj['spec'] = spec
    return obj


def hardware_addr_to_api(mac):
    """``52:54:00:12:34:56`` -> base64 of the six bytes: Harvester's ``linkAttributes.hardwareAddr`` is a Go
    ``net.HardwareAddr`` ([]byte), which JSON carries as base64 (harvester/network-controller-harvester
    pkg/apis/network.harvesterhci.io/v1beta1/vlanconfig.go @2e5cbea3; the CRD says ``format: byte``)."""
    raw = bytes(bytearray(int(part, 16) for part in mac.replace('-', ':').split(':')))
    return base64.b64encode(raw).decode('ascii')


def hardware_addr_from_api(value):
    """The inverse of ``hardware_addr_to_api`` (lower-case, colon-separated); None when unset or not base64."""
    if not value:
        return None
    try:
        raw = bytearray(base64.b64decode(value.encode('ascii'), validate=True))
    except (ValueError, TypeError):
        return None
    return ':'.join('%02x' % b for b in raw)


def vlan_config_mtu(obj):
    """The uplink MTU a VlanConfig sets (Harvester's default 1500 when unset or 0)."""
    link = ((obj.get('spec') or {}).get('uplink') or {}).get('linkAttributes') or {}
    return link.get('mtu') or DEFAULT_MTU


# ---- VLAN networks (NetworkAttachmentDefinitions) ---------------------------------------------------------------
def cni_config(generation, name, cluster_network_name=None, vlan=None, mtu=None,
               preserve_default_vlan=None, vlan_trunk=None):
    """The bridge CNI config Harvester writes into a NAD's ``spec.config`` (as a dict, Harvester's key order).

    Legacy: ``harvester-br0``, no MTU. Current: ``<cn>-br`` and the uplink MTU; no ``vlan`` key when untagged.
    ``preserve_default_vlan`` (None: Harvester's config, no such key) adds the bridge plugin's
    ``preserveDefaultVlan`` after ``vlan``, on tagged networks only (the plugin ignores it without a VLAN).
    ``vlan_trunk`` (``[{min_id, max_id}]``): a trunk network (L2VlanTrunkNetwork), ``"vlan": 0`` and the bridge
    plugin's ``vlanTrunk`` after ``ipam`` (the shape of harvester/harvester pkg/api/vm/handler_test.go @3d63c2af,
    "L2VlanTrunkNetwork is hot-pluggable"; network-controller pkg/utils/nad.go @2e5cbea3 ``VlanTrunk``).
    """
    return bridge_cni_config(name, bridge_name(generation, cluster_network_name),
                             (mtu or DEFAULT_MTU) if generation == CURRENT else None, True, vlan,
                             preserve_default_vlan, vlan_trunk)


def bridge_cni_config(name, bridge, mtu=None, promisc=False, vlan=None, preserve_default_vlan=None, vlan_trunk=None):
    """A bridge CNI plugin config (the keys of the plugin's reference, containernetworking/cni.dev
    content/plugins/current/main/bridge.md @48e9df11: ``bridge``, ``mtu``, ``promiscMode``, ``vlan``,
    ``preserveDefaultVlan``, ``vlanTrunk``, ``ipam``), in Harvester's key order; ``mtu`` and ``promiscMode`` only
    when given. Harvester's NADs (``cni_config``) and plain KubeVirt + Multus ones (``plain_vlan_network``)."""
    config = OrderedDict([('cniVersion', '0.3.1'), ('name', name)])
    if mtu:
        config['mtu'] = mtu
    config['type'] = 'bridge'
    config['bridge'] = bridge
    if promisc:
        config['promiscMode'] = True
    if vlan:
        config['vlan'] = vlan
        if preserve_default_vlan is not None:
            config['preserveDefaultVlan'] = bool(preserve_default_vlan)
    elif vlan_trunk:
        config['vlan'] = 0  # "vlan can only be 0 when vlanTrunk is set" (nad.go IsVlanConfigValid)
    config['ipam'] = {}
    if vlan_trunk and not vlan:
        config['vlanTrunk'] = vlan_trunk_config(vlan_trunk)
    return config


def vlan_trunk_config(ranges):
    """``[{min_id, max_id}]`` (max_id None or equal: one VID) -> the bridge plugin's ``vlanTrunk`` list: ``{"id": n}``
    for one VID, ``{"minID": a, "maxID": b}`` for a range, in the order given."""
    items = []
    for item in ranges:
        low = item['min_id']
        high = item.get('max_id')
        if high is None or high == low:
            items.append({'id': low})
        else:
            items.append(OrderedDict([('minID', low), ('maxID', high)]))
    return items


def cni_config_json(generation, name, cluster_network_name=None, vlan=None, mtu=None,
                    preserve_default_vlan=None, vlan_trunk=None):
    """The exact ``spec.config`` string (compact JSON), fit to feed the bridge CNI plugin on stdin."""
    return json.dumps(cni_config(generation, name, cluster_network_name, vlan, mtu, preserve_default_vlan,
                                 vlan_trunk), separators=(',', ':'))


def route_annotation(route):
    """Harvester's ``network.harvesterhci.io/route`` value (JSON string) from the ``route`` option, or None."""
    if not route:
        return None
    value = OrderedDict([('mode', route.get('mode') or 'auto')])
    if route.get('dhcp_server'):
        value['serverIPAddr'] = route['dhcp_server']
    if route.get('cidr'):
        value['cidr'] = route['cidr']
    if route.get('gateway'):
        value['gateway'] = route['gateway']
    return json.dumps(value, separators=(',', ':'))


def vlan_network(generation, network):
    """A NAD as Harvester builds it. ``network``: name, namespace, cluster_network, network_type (vlan, untagged,
    trunk), vlan_id, vlan_trunk, mtu, route, description, preserve_default_vlan (the normalised item of the module's
    ``networks`` list)."""
    kind = network.get('network_type') or 'vlan'
    untagged = kind != 'vlan'  # untagged and trunk networks have VLAN 0 (no ``vlan`` key, or ``"vlan": 0``)
    vlan = None if untagged else network['vlan_id']
    trunk = network.get('vlan_trunk') if kind == 'trunk' else None
    cn = network.get('cluster_network')
    if generation == LEGACY:
        labels = {LABEL_TYPE_LEGACY: TYPE_VLAN}
    else:
        type_label = {'vlan': TYPE_VLAN, 'untagged': TYPE_UNTAGGED, 'trunk': TYPE_TRUNK}[kind]
        labels = OrderedDict([(LABEL_TYPE, type_label)])
        if not untagged:
            labels[LABEL_VLAN_ID] = str(vlan)
        labels[LABEL_CLUSTER_NETWORK] = cn
    annotations = OrderedDict()
    if network.get('description'):
        annotations[DESCRIPTION_ANNOTATION] = network['description']
    # untagged and trunk networks carry no route (harvester/network-controller-harvester pkg/utils/nad.go @2e5cbea3,
    # OutdateNadLayer3NetworkConf: "both untag and trunk have vlan id 0", the webhook drops the route)
    route = None if untagged else route_annotation(network.get('route'))
    if route:
        annotations[ROUTE_ANNOTATION] = route
    obj = _object(NAD, _metadata(network['name'], network.get('namespace') or 'default', labels, annotations))
    obj['spec'] = {'config': cni_config_json(generation, network['name'], cn, vlan, network.get('mtu'),
                                             network.get('preserve_default_vlan'), trunk)}
    return obj


def plain_vlan_network(network):
    """A NAD for a plain KubeVirt + Multus cluster (no Harvester): the bridge CNI config on the node bridge the host
    modules built (``network['bridge']``), with the VLAN (or ``vlanTrunk``), ``preserveDefaultVlan`` and the MTU
    only when given; no Harvester labels, no route annotation, no ``promiscMode`` (Harvester's choice, which the
    plugin turns into a promiscuous bridge). The description goes to ``field.cattle.io/description`` (Rancher's
    annotation, which Rancher's UI shows), as on Harvester."""
    kind = network.get('network_type') or 'vlan'
    vlan = network['vlan_id'] if kind == 'vlan' else None
    trunk = network.get('vlan_trunk') if kind == 'trunk' else None
    annotations = {DESCRIPTION_ANNOTATION: network['description']} if network.get('description') else None
    obj = _object(NAD, _metadata(network['name'], network.get('namespace') or 'default', None, annotations))
    config = bridge_cni_config(network['name'], network['bridge'], network.get('mtu'), False, vlan,
                               network.get('preserve_default_vlan'), trunk)
    obj['spec'] = {'config': json.dumps(config, separators=(',', ':'))}
    return obj


def parse_vlan_network(obj):
    """Facts about a NAD, normalised (what vlan_network_info returns)."""
    metadata = obj.get('metadata') or {}
    labels = metadata.get('labels') or {}
    annotations = metadata.get('annotations') or {}
    try:
        config = json.loads((obj.get('spec') or {}).get('config') or '{}')
    except ValueError:
        config = {}
    route = None
    if annotations.get(ROUTE_ANNOTATION):
        try:
            raw = json.loads(annotations[ROUTE_ANNOTATION])
            route = {'mode': raw.get('mode'), 'cidr': raw.get('cidr') or None, 'gateway': raw.get('gateway') or None,
                     'dhcp_server': raw.get('serverIPAddr') or None, 'connectivity': raw.get('connectivity') or None}
        except ValueError:
            route = None
    bridge = config.get('bridge')
    cn = labels.get(LABEL_CLUSTER_NETWORK)
    if not cn:
        cn = cluster_network_of_bridge(bridge)
    network_type = config_network_type(config) or NETWORK_TYPES.get(
        labels.get(LABEL_TYPE) or labels.get(LABEL_TYPE_LEGACY), 'vlan')
    if network_type == 'overlay' and not cn:
        cn = MGMT_CLUSTER_NETWORK
    return {
        'name': metadata.get('name'),
        'namespace': metadata.get('namespace'),
        'cluster_network': cn,
        'network_type': network_type,
        'vlan_id': config.get('vlan') if network_type == 'vlan' else None,
        'vlan_trunk': vlan_trunk_ranges(config) if network_type == 'trunk' else None,
        'preserve_default_vlan': config.get('preserveDefaultVlan'),
        'bridge': bridge,
        'mtu': config.get('mtu'),
        'route': route,
        'description': annotations.get(DESCRIPTION_ANNOTATION),
        'ready': labels.get('network.harvesterhci.io/ready'),
        'config': config,
        'labels': labels,
    }


def config_network_type(config):
    """``vlan``, ``untagged``, ``trunk`` or ``overlay`` from a NAD's CNI config, as Harvester decides it
    (harvester/network-controller-harvester pkg/utils/nad.go @2e5cbea3, ``NetConf.GetNetworkType``); None for a
    config that is none of Harvester's (another CNI plugin)."""
    if config.get('type') == OVERLAY_CNI:
        return 'overlay'
    if config.get('type') not in ('bridge', '', None):
        return None
    if config.get('vlan'):
        return 'vlan'
    return 'trunk' if config.get('vlanTrunk') else 'untagged'


def vlan_trunk_ranges(config):
    """A trunk NAD's ``vlanTrunk`` as ``[{min_id, max_id}]`` (a single ``{"id": n}`` is ``n``-``n``)."""
    ranges = []
    for item in config.get('vlanTrunk') or []:
        if item.get('id') is not None:
            ranges.append({'min_id': int(item['id']), 'max_id': int(item['id'])})
        if item.get('minID') is not None and item.get('maxID') is not None:
            ranges.append({'min_id': int(item['minID']), 'max_id': int(item['maxID'])})
    return ranges


def nad_reference(value, default_namespace):
    """``ns/name`` or ``name`` -> (namespace, name)."""
    if '/' in value:
        namespace, name = value.split('/', 1)
        return namespace, name
    return default_namespace, value
