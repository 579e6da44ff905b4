"""lab/slices.py's copy of AWX's inventory slicing, and the rule that keeps site.yml safe to slice: every play runs on
the node group or on the cluster host, never on the literal ``localhost`` (which Ansible supplies implicitly in every
slice whose inventory lacks it). The sliced run itself is proven by ``make lab-slices`` (docs/awx.md)."""

import os

import yaml

from lab import slices
from testbeds.common import REPO_ROOT

EXPORTED = {
    '_meta': {'hostvars': {'api': {'ansible_connection': 'local'}, 'localhost': {'ansible_connection': 'local'},
                           'n1': {'x': 1}}},
    'all': {'children': ['ungrouped', 'harvester_nodes', 'harvester_cluster']},
    'harvester_cluster': {'hosts': ['api']},
    'harvester_nodes': {'hosts': ['n3', 'n1', 'n2', 'n10'], 'vars': {'ansible_user': 'root'}},
    'ungrouped': {'hosts': ['localhost']},
}
CLUSTER_HOST = ("{{ harvester_cluster_group | default('harvester_cluster') if harvester_cluster_group "
                "| default('harvester_cluster') in groups else 'localhost' }}")
NODE_HOSTS = "{{ harvester_node_group | default('harvester_nodes') }}"


def test_slices_take_every_nth_host_by_name():
    # AWX: enabled hosts ordered by name, hosts[number - 1::count]; the order is by string: n10 before n2
    everyone = ['api', 'localhost', 'n1', 'n10', 'n2', 'n3']
    parts = [slices.awx_inventory(EXPORTED, number, 4)[0] for number in range(1, 5)]
    assert parts == [['api', 'n2'], ['localhost', 'n3'], ['n1'], ['n10']]
    assert sorted(sum(parts, [])) == everyone
    assert slices.awx_inventory(EXPORTED, 1, 1)[0] == everyone


def test_a_slice_keeps_every_group_and_only_its_hosts_vars():
    hosts, inventory = slices.awx_inventory(EXPORTED, 3, 4)
    assert hosts == ['n1']
    assert sorted(inventory['all']['children']) == ['harvester_cluster', 'harvester_nodes']
    assert 'harvester_cluster' not in inventory  # empty: only named under all, as AWX leaves it
    assert inventory['harvester_nodes'] == {'hosts': ['n1'], 'vars': {'ansible_user': 'root'}}
    assert inventory['_meta'] == {'hostvars': {'n1': {'x': 1}}}
    assert inventory['all']['hosts'] == []
    _hosts, second = slices.awx_inventory(EXPORTED, 2, 4)
    assert second['all']['hosts'] == ['localhost'] and 'harvester_cluster' not in second


def test_the_witness_scrubs_only_what_differs_between_equal_writes():
    item = {'metadata': {'name': 'a', 'uid': 'u', 'resourceVersion': '7', 'generation': 2,
                         'creationTimestamp': 't', 'managedFields': [1]},
            'spec': {'vlan': 100}, 'status': {'conditions': [{'type': 'Ready', 'lastUpdateTime': 'x'}]}}
    assert slices._scrub(item) == {'metadata': {'name': 'a', 'generation': 2}, 'spec': {'vlan': 100},  # pylint: disable=protected-access
                                   'status': {'conditions': [{'type': 'Ready'}]}}


def test_every_play_of_site_yml_runs_on_the_nodes_or_on_the_cluster_host():
    with open(os.path.join(REPO_ROOT, 'playbooks', 'site.yml'), encoding='utf-8') as handle:
        stages = [item['ansible.builtin.import_playbook'] for item in yaml.safe_load(handle)]
    seen = set()
    for stage in stages:
        with open(os.path.join(REPO_ROOT, 'playbooks', stage), encoding='utf-8') as handle:
            for play in yaml.safe_load(handle):
                assert play['hosts'] in (NODE_HOSTS, CLUSTER_HOST), (stage, play['name'], play['hosts'])
                seen.add(play['hosts'])
    assert seen == {NODE_HOSTS, CLUSTER_HOST}
