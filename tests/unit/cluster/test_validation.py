"""Pure validation: every refusal names the field and says what to do."""

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import validation
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError


@pytest.mark.parametrize('func, args, field, words', [
    (validation.dns1123_label, ('name', 'Bad_Name'), 'name', 'DNS-1123'),
    (validation.dns1123_label, ('name', '-lead'), 'name', 'DNS-1123'),
    (validation.dns1123_label, ('name', 'a' * 64), 'name', 'limit is 63'),
    (validation.dns1123_label, ('name', ''), 'name', 'non-empty'),
    (validation.cluster_network_name, ('cluster_network', 'thirteen-char'), 'cluster_network', 'limit is 12'),
    (validation.vlan_id, ('vlan_id', 0), 'vlan_id', 'untagged'),
    (validation.vlan_id, ('vlan_id', 4095), 'vlan_id', '1-4094'),
    (validation.vlan_id, ('vlan_id', True), 'vlan_id', 'out of range'),
    (validation.mtu, ('mtu', 100), 'mtu', '576-9000'),
    (validation.mtu, ('mtu', 9001), 'mtu', '576-9000'),
    (validation.nic_name, ('nics[0]', 'this-name-is-too-long'), 'nics[0]', '15 characters'),
    (validation.nic_name, ('nics[0]', 'eth 1'), 'nics[0]', 'no spaces'),
    (validation.mac_address, ('mac', '52:54:00:12:34'), 'mac', 'six hex pairs'),
    (validation.mac_address, ('mac', '01:00:5e:00:00:01'), 'mac', 'multicast'),
    (validation.quantity, ('memory', '2GB'), 'memory', 'quantity'),
    (validation.labels, ('labels', {'bad key!': 'x'}), 'labels', 'label key'),
    (validation.labels, ('labels', {'app': 'has space'}), 'labels', 'values are strings'),
    (validation.ip_address, ('gateway', '300.1.1.1'), 'gateway', 'not an IP'),
    (validation.ip_network, ('cidr', '10.0.0.0'), 'cidr', 'ADDRESS/PREFIX'),
    (validation.ip_network, ('cidr', '0.0.0.0/0'), 'cidr', 'every address'),
])
def test_refusals(func, args, field, words):
    with pytest.raises(ValidationError) as info:
        func(*args)
    assert info.value.field == field
    assert words in str(info.value)
    assert str(info.value).startswith(field)


@pytest.mark.parametrize('route, field, words', [
    ({'mode': 'manual', 'gateway': '10.0.0.1'}, 'route.cidr', 'needs cidr'),
    ({'mode': 'manual', 'cidr': '10.0.0.0/24'}, 'route.gateway', 'needs gateway'),
    ({'mode': 'manual', 'cidr': '10.0.0.0/24', 'gateway': '10.0.1.1'}, 'route.gateway', 'outside'),
    ({'mode': 'manual', 'cidr': '10.0.0.0/24', 'gateway': '10.0.0.0'}, 'route.gateway', 'network address'),
    ({'mode': 'manual', 'cidr': '10.0.0.0/24', 'gateway': '10.0.0.255'}, 'route.gateway', 'broadcast'),
    ({'mode': 'auto', 'cidr': '10.0.0.0/24', 'dhcp_server': '10.9.0.2'}, 'route.dhcp_server', 'outside'),
    ({'mode': 'manual', 'cidr': '10.0.0.0/24', 'gateway': '10.0.0.1', 'dhcp_server': '10.0.0.1'},
     'route.dhcp_server', 'also the gateway'),
    ({'mode': 'auto', 'gateway': '10.0.0.1'}, 'route.cidr', 'needs cidr'),
])
def test_route_refusals(route, field, words):
    with pytest.raises(ValidationError) as info:
        validation.route('route', route)
    assert info.value.field == field
    assert words in str(info.value)


@pytest.mark.parametrize('route', [
    None,
    {'mode': 'auto'},
    {'mode': 'manual', 'cidr': '192.168.100.0/24', 'gateway': '192.168.100.1'},
    {'mode': 'manual', 'cidr': 'fd00::/64', 'gateway': 'fd00::1', 'dhcp_server': 'fd00::2'},
])
def test_routes_accepted(route):
    assert validation.route('route', route) == route


@pytest.mark.parametrize('value, expected', [
    ('52:54:00:AB:CD:EF', '52:54:00:ab:cd:ef'),
    ('52-54-00-ab-cd-ef', '52:54:00:ab:cd:ef'),
    (None, None),
])
def test_mac_normalised(value, expected):
    assert validation.mac_address('mac', value) == expected


@pytest.mark.parametrize('a, b, nodes, overlap', [
    ({}, {'rack': '1'}, [], True),
    ({'rack': '1'}, {'rack': '2'}, [{'rack': '1'}, {'rack': '2'}], False),
    ({'rack': '1'}, {'rack': '1'}, [], True),
    ({'rack': '1'}, {'gpu': 'yes'}, [{'rack': '1'}, {'gpu': 'yes'}], False),
    ({'rack': '1'}, {'gpu': 'yes'}, [{'rack': '1', 'gpu': 'yes'}], True),
])
def test_node_selectors_overlap(a, b, nodes, overlap):
    assert validation.node_selectors_overlap(a, b, nodes) is overlap
