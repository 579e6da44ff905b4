"""vlan_network's parameters before any request: module-level defaults per item, and the refusals."""

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.discovery import CURRENT
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import (
    normalise_networks, validate_vlan_networks)


def params(**kwargs):
    base = {'name': None, 'namespace': 'default', 'cluster_network': 'data', 'network_type': 'vlan', 'vlan_id': None,
            'mtu': None, 'route': None, 'description': None, 'preserve_default_vlan': None, 'networks': None,
            'prune': False, 'state': 'present'}
    base.update(kwargs)
    return base


def item(name, **kwargs):
    base = {'name': name, 'namespace': None, 'network_type': None, 'vlan_id': None, 'mtu': None, 'route': None,
            'description': None, 'preserve_default_vlan': None}
    base.update(kwargs)
    return base


def test_module_level_preserve_default_vlan_is_the_default_of_tagged_items_only():
    got = normalise_networks(params(preserve_default_vlan=False, networks=[
        item('v100', vlan_id=100), item('v200', vlan_id=200, preserve_default_vlan=True),
        item('native', network_type='untagged')]))
    assert [(n['name'], n['preserve_default_vlan']) for n in got] == [
        ('v100', False), ('v200', True), ('native', None)]
    validate_vlan_networks(params(networks=[]), got, CURRENT)


def test_unset_stays_unset():
    got = normalise_networks(params(name='v100', vlan_id=100))
    assert got[0]['preserve_default_vlan'] is None


@pytest.mark.parametrize('given', [
    params(name='native', network_type='untagged', preserve_default_vlan=False),
    params(networks=[item('native', network_type='untagged', preserve_default_vlan=True)]),
])
def test_untagged_network_refuses_preserve_default_vlan(given):
    networks = normalise_networks(given)
    with pytest.raises(ValidationError) as caught:
        validate_vlan_networks(given, networks, CURRENT)
    assert caught.value.field.endswith('preserve_default_vlan')
    assert 'native VLAN' in str(caught.value)
