"""One network vocabulary (plugins/module_utils/host/vocabulary.py) for host code, cluster code and the roles: the
places that must state a rule as data (argument specs, role argument specs) state the vocabulary's, and the code on
both sides applies the same rule (Harvester's bridge and bond names, bond modes, NIC names, VLAN range)."""

import os

import pytest
import yaml

from ansible_collections.harvester.network.plugins.filter import role_plans
from ansible_collections.harvester.network.plugins.module_utils.cluster import argspecs, builders, validation
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError
from ansible_collections.harvester.network.plugins.module_utils.host import argspec, validate, vids, vocabulary
from ansible_collections.harvester.network.plugins.module_utils.host.vocabulary import CURRENT, LEGACY
from testbeds.common import REPO_ROOT


def _role_option(role, *path):
    with open(os.path.join(REPO_ROOT, 'roles', role, 'meta', 'argument_specs.yml')) as handle:
        node = yaml.safe_load(handle)['argument_specs']['main']
    for name in path:
        node = node['options'][name]
    return node


def test_bond_modes_are_the_vocabulary_everywhere():
    modes = list(vocabulary.BOND_MODES)
    assert argspecs.MODULES['vlan_config'].options['bond_mode']['choices'] == modes
    assert argspec.bond_options()['mode']['choices'] == modes
    assert _role_option('default_vlan', 'default_vlan_bond_mode')['choices'] == modes
    assert _role_option('node_prep', 'node_prep_bonds', 'bond_options', 'mode')['choices'] == modes


@pytest.mark.parametrize('name, accepted', [
    ('eth1', True), ('enp0s31f6', True), ('a' * 15, True), ('a' * 16, False), ('', False), ('eth 1', False),
    ('eth/1', False), ('eth:1', False), ('.', False), ('..', False), ('eth\t1', False),
])
def test_one_nic_name_rule_on_both_sides(name, accepted):
    """The cluster's check, the host's check (which refuses ``lo`` too) and the roles' check agree."""
    assert vocabulary.is_nic_name(name) is accepted
    try:
        validation.nic_name('nic', name)
        cluster_ok = True
    except ValidationError:
        cluster_ok = False
    errors = validate._Errors()
    validate.check_link_name(errors, 'nic', name)
    role_errors = role_plans.default_vlan_input_errors({'nics': [name], 'cluster_network': 'data'})
    assert (cluster_ok, not errors, not role_errors) == (accepted, accepted, accepted)


def test_bridge_and_bond_names_are_harvesters():
    assert builders.bridge_name(CURRENT, 'data') == 'data-br' == vocabulary.bridge_name(CURRENT, 'data')
    assert builders.bridge_name(LEGACY, 'vlan') == 'harvester-br0'
    assert role_plans.harvester_devices('data', CURRENT, ['eth1']) == {
        'cluster_network': 'data', 'bridge': 'data-br', 'uplink': 'data-bo'}
    nad = {'metadata': {'name': 'n', 'namespace': 'default'},
           'spec': {'config': '{"type": "bridge", "bridge": "data-br", "vlan": 100}'}}
    assert builders.parse_vlan_network(nad)['cluster_network'] == 'data'


def test_one_vlan_range():
    assert (vids.VID_MIN, vids.VID_MAX) == (validation.VID_MIN, validation.VID_MAX) == (1, 4094)
    assert role_plans.trunk_vids([{'network_type': 'vlan', 'vlan_id': 4094},
                                  {'network_type': 'vlan', 'vlan_id': 4095}]) == [4094]
    with pytest.raises(ValidationError):
        validation.vlan_id('vlan_id', 4095)
    assert vids.parse_vids('4094', 'vids') == {4094}
