"""The roles' logic (plugins/filter/role_plans.py): the trunk of a cluster network's networks."""

import os

from ansible_collections.harvester.network.plugins.filter import role_plans


def net(kind, vlan_id=None, trunk=None, name='n'):
    return {'name': name, 'network_type': kind, 'vlan_id': vlan_id, 'vlan_trunk': trunk}


# --- trunk_vids: the vlan_network_info contract (network_type, vlan_id, vlan_trunk) -----------------------------

def test_trunk_vids_vlan_networks():
    assert role_plans.trunk_vids([net('vlan', 200), net('vlan', 100), net('vlan', 100), net('vlan', 1)]) == [100, 200]


def test_trunk_vids_counts_trunk_ranges_never_vid_0_or_1():
    networks = [net('trunk', trunk=[{'min_id': 0, 'max_id': 3}, {'min_id': 10, 'max_id': 12}, {'min_id': 50}]),
                net('vlan', 11)]
    assert role_plans.trunk_vids(networks) == [2, 3, 10, 11, 12, 50]


def test_trunk_vids_ignores_untagged_overlay_and_bad_ids():
    networks = [net('untagged'), net('overlay'), net('vlan', 0), net('vlan', 4095), net('vlan', None),
                net('vlan', True), net('vlan', '100'), net('trunk', trunk=None),
                net('trunk', trunk=[{'min_id': None, 'max_id': 5}])]
    assert role_plans.trunk_vids(networks) == []


def test_trunk_vids_on_output_without_trunk_keys():
    """main's vlan_network_info before trunk support: no vlan_trunk key, a trunk NAD misread as vlan 0."""
    networks = [{'name': 'a', 'network_type': 'vlan', 'vlan_id': 100}, {'name': 't', 'network_type': 'vlan',
                                                                       'vlan_id': 0}]
    assert role_plans.trunk_vids(networks) == [100]


def test_trunk_vids_whole_range():
    assert role_plans.trunk_vids([net('trunk', trunk=[{'min_id': 1, 'max_id': 4094}])]) == list(range(2, 4095))


def test_every_filter_is_documented():
    folder = os.path.dirname(role_plans.__file__)
    documented = set(name[:-4] for name in os.listdir(folder) if name.endswith('.yml'))
    assert set(role_plans.FilterModule().filters()) == documented
