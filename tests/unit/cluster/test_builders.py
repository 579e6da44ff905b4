"""Pure builders: the objects Harvester's own code would write, per API generation."""

import json

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders
from ansible_collections.harvester.network.plugins.module_utils.cluster.discovery import CURRENT, LEGACY


@pytest.mark.parametrize('generation, cn, vlan, mtu, expected', [
    (LEGACY, None, 100, None,
     '{"cniVersion":"0.3.1","name":"net","type":"bridge","bridge":"harvester-br0","promiscMode":true,"vlan":100,"ipam":{}}'),
    (CURRENT, 'data', 100, 9000,
     '{"cniVersion":"0.3.1","name":"net","mtu":9000,"type":"bridge","bridge":"data-br","promiscMode":true,"vlan":100,'
     '"ipam":{}}'),
    (CURRENT, 'mgmt', 4094, None,
     '{"cniVersion":"0.3.1","name":"net","mtu":1500,"type":"bridge","bridge":"mgmt-br","promiscMode":true,"vlan":4094,'
     '"ipam":{}}'),
    (CURRENT, 'data', None, 1500,
     '{"cniVersion":"0.3.1","name":"net","mtu":1500,"type":"bridge","bridge":"data-br","promiscMode":true,"ipam":{}}'),
])
def test_cni_config_json_matches_harvester(generation, cn, vlan, mtu, expected):
    assert builders.cni_config_json(generation, 'net', cn, vlan, mtu) == expected


@pytest.mark.parametrize('generation, cn, vlan, preserve, expected', [
    (CURRENT, 'data', 100, False,
     '{"cniVersion":"0.3.1","name":"net","mtu":1500,"type":"bridge","bridge":"data-br","promiscMode":true,"vlan":100,'
     '"preserveDefaultVlan":false,"ipam":{}}'),
    (CURRENT, 'data', 100, True,
     '{"cniVersion":"0.3.1","name":"net","mtu":1500,"type":"bridge","bridge":"data-br","promiscMode":true,"vlan":100,'
     '"preserveDefaultVlan":true,"ipam":{}}'),
    (LEGACY, None, 100, False,
     '{"cniVersion":"0.3.1","name":"net","type":"bridge","bridge":"harvester-br0","promiscMode":true,"vlan":100,'
     '"preserveDefaultVlan":false,"ipam":{}}'),
    # unset: exactly Harvester's config; untagged: the plugin ignores the key, so it is never written
    (CURRENT, 'data', 100, None,
     '{"cniVersion":"0.3.1","name":"net","mtu":1500,"type":"bridge","bridge":"data-br","promiscMode":true,"vlan":100,'
     '"ipam":{}}'),
    (CURRENT, 'data', None, False,
     '{"cniVersion":"0.3.1","name":"net","mtu":1500,"type":"bridge","bridge":"data-br","promiscMode":true,"ipam":{}}'),
])
def test_cni_config_preserve_default_vlan(generation, cn, vlan, preserve, expected):
    assert builders.cni_config_json(generation, 'net', cn, vlan, 1500 if generation == CURRENT else None,
                                    preserve) == expected


def test_preserve_default_vlan_in_nad_and_parsed_back():
    item = {'name': 'v100', 'namespace': 'lab', 'cluster_network': 'data', 'vlan_id': 100, 'mtu': 1500}
    assert builders.parse_vlan_network(builders.vlan_network(CURRENT, item))['preserve_default_vlan'] is None
    facts = builders.parse_vlan_network(builders.vlan_network(CURRENT, dict(item, preserve_default_vlan=False)))
    assert facts['preserve_default_vlan'] is False
    assert facts['config']['preserveDefaultVlan'] is False
    assert facts['vlan_id'] == 100


@pytest.mark.parametrize('generation, item, labels', [
    (CURRENT, {'name': 'v100', 'namespace': 'lab', 'cluster_network': 'data', 'vlan_id': 100, 'mtu': 1500},
     {'network.harvesterhci.io/type': 'L2VlanNetwork', 'network.harvesterhci.io/vlan-id': '100',
      'network.harvesterhci.io/clusternetwork': 'data'}),
    (CURRENT, {'name': 'native', 'namespace': 'lab', 'cluster_network': 'data', 'network_type': 'untagged'},
     {'network.harvesterhci.io/type': 'UntaggedNetwork', 'network.harvesterhci.io/clusternetwork': 'data'}),
    (LEGACY, {'name': 'v100', 'namespace': 'default', 'cluster_network': 'vlan', 'vlan_id': 100},
     {'networks.harvesterhci.io/type': 'L2VlanNetwork'}),
])
def test_vlan_network_labels(generation, item, labels):
    nad = builders.vlan_network(generation, item)
    assert nad['apiVersion'] == 'k8s.cni.cncf.io/v1'
    assert nad['kind'] == 'NetworkAttachmentDefinition'
    assert nad['metadata']['labels'] == labels
    assert nad['metadata']['namespace'] == item['namespace']
    config = json.loads(nad['spec']['config'])
    assert config['name'] == item['name']
    assert config.get('vlan') == item.get('vlan_id')


@pytest.mark.parametrize('route, expected', [
    (None, None),
    ({'mode': 'auto'}, {'mode': 'auto'}),
    ({'mode': 'auto', 'dhcp_server': '10.0.0.2'}, {'mode': 'auto', 'serverIPAddr': '10.0.0.2'}),
    ({'mode': 'manual', 'cidr': '10.0.0.0/24', 'gateway': '10.0.0.1'},
     {'mode': 'manual', 'cidr': '10.0.0.0/24', 'gateway': '10.0.0.1'}),
])
def test_route_annotation(route, expected):
    value = builders.route_annotation(route)
    assert (json.loads(value) if value else None) == expected


def test_route_annotation_in_nad_and_parsed_back():
    nad = builders.vlan_network(CURRENT, {'name': 'n', 'namespace': 'default', 'cluster_network': 'data', 'vlan_id': 7,
                                          'route': {'mode': 'manual', 'cidr': '10.7.0.0/16', 'gateway': '10.7.0.1'},
                                          'description': 'lab'})
    facts = builders.parse_vlan_network(nad)
    assert facts['route']['cidr'] == '10.7.0.0/16'
    assert facts['route']['gateway'] == '10.7.0.1'
    assert facts['description'] == 'lab'
    assert facts['bridge'] == 'data-br'
    assert facts['cluster_network'] == 'data'
    assert facts['vlan_id'] == 7
    assert facts['mtu'] == 1500


@pytest.mark.parametrize('config, cn', [
    ({'type': 'bridge', 'bridge': 'harvester-br0', 'vlan': 5}, 'vlan'),
    ({'type': 'bridge', 'bridge': 'storage-br', 'vlan': 5}, 'storage'),
])
def test_parse_unlabelled_nad_infers_cluster_network_from_bridge(config, cn):
    facts = builders.parse_vlan_network({'metadata': {'name': 'x', 'namespace': 'y'}, 'spec': {'config': json.dumps(config)}})
    assert facts['cluster_network'] == cn
    assert facts['network_type'] == 'vlan'


def test_cluster_network_generations():
    assert builders.cluster_network(CURRENT, 'data') == {
        'apiVersion': 'network.harvesterhci.io/v1beta1', 'kind': 'ClusterNetwork', 'metadata': {'name': 'data'}}
    legacy = builders.cluster_network(LEGACY, 'vlan', enable=True, default_physical_nic='eth1')
    assert legacy['enable'] is True
    assert legacy['config'] == {'defaultPhysicalNIC': 'eth1'}
    assert 'spec' not in legacy


def test_node_network():
    obj = builders.node_network('node1', 'eth2')
    assert obj['metadata']['name'] == 'node1-vlan'
    assert obj['spec'] == {'nodeName': 'node1', 'type': 'vlan', 'nic': 'eth2'}


@pytest.mark.parametrize('kwargs, uplink', [
    ({'nics': ['eth1']}, {'nics': ['eth1'], 'bondOptions': {'mode': 'active-backup'}}),
    ({'nics': ['eth1', 'eth2'], 'bond_mode': '802.3ad', 'miimon': 100, 'mtu': 9000, 'tx_queue_len': 2000},
     {'nics': ['eth1', 'eth2'], 'linkAttributes': {'mtu': 9000, 'txQLen': 2000},
      'bondOptions': {'mode': '802.3ad', 'miimon': 100}}),
])
def test_vlan_config(kwargs, uplink):
    obj = builders.vlan_config('vc', 'data', node_selector={'rack': '1'}, **kwargs)
    assert obj['spec']['uplink'] == uplink
    assert obj['spec']['clusterNetwork'] == 'data'
    assert obj['spec']['nodeSelector'] == {'rack': '1'}
    assert builders.vlan_config_mtu(obj) == kwargs.get('mtu', 1500)


@pytest.mark.parametrize('value, default_ns, expected', [
    ('lab/v100', 'default', ('lab', 'v100')),
    ('v100', 'prod', ('prod', 'v100')),
])
def test_nad_reference(value, default_ns, expected):
    assert builders.nad_reference(value, default_ns) == expected
