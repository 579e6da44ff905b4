"""Pure logic of trunk networks and readiness: the trunk CNI config, the VID-range rules, and what a VlanConfig's
VlanStatus objects and a NAD's ready label say (issue 14 items 3 and 4). The proof against the API server is
tests/integration/cluster/test_trunk_and_readiness.py."""

import json

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster import builders, readiness, validation
from ansible_collections.harvester.network.plugins.module_utils.cluster.discovery import CURRENT
from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ValidationError, WaitTimeout


def test_trunk_cni_config_is_harvesters_shape():
    """``"vlan": 0`` and ``vlanTrunk`` after ``ipam``, as harvester/harvester pkg/api/vm/handler_test.go @3d63c2af
    shows a trunk NAD; one VID as ``{"id": n}``, a range as ``{"minID", "maxID"}``."""
    text = builders.cni_config_json(CURRENT, 'tr', 'mgmt', None, 1500, None,
                                    [{'min_id': 1, 'max_id': 10}, {'min_id': 20, 'max_id': None},
                                     {'min_id': 30, 'max_id': 30}])
    assert text == ('{"cniVersion":"0.3.1","name":"tr","mtu":1500,"type":"bridge","bridge":"mgmt-br",'
                    '"promiscMode":true,"vlan":0,"ipam":{},"vlanTrunk":[{"minID":1,"maxID":10},{"id":20},{"id":30}]}')


def test_trunk_nad_labels_and_no_route():
    nad = builders.vlan_network(CURRENT, {
        'name': 'tr', 'namespace': 'ns', 'cluster_network': 'data', 'network_type': 'trunk', 'vlan_id': None,
        'vlan_trunk': [{'min_id': 5, 'max_id': 6}], 'mtu': 9000, 'route': {'mode': 'auto'}, 'description': 'x'})
    assert nad['metadata']['labels'] == {'network.harvesterhci.io/type': 'L2VlanTrunkNetwork',
                                         'network.harvesterhci.io/clusternetwork': 'data'}
    assert 'network.harvesterhci.io/route' not in nad['metadata']['annotations']
    # what is written reads back as the same network (the reader is the one vlan_network_info uses)
    facts = builders.parse_vlan_network(nad)
    assert (facts['network_type'], facts['vlan_id'], facts['vlan_trunk'], facts['mtu']) == \
        ('trunk', None, [{'min_id': 5, 'max_id': 6}], 9000)
    assert json.loads(nad['spec']['config'])['vlan'] == 0


@pytest.mark.parametrize('ranges, fields, words', [
    ([{'min_id': 0, 'max_id': 5}], ['t[0].min_id'], 'give 1-4094'),
    ([{'min_id': 1, 'max_id': 4095}], ['t[0].max_id'], 'give 1-4094'),
    ([{'min_id': True, 'max_id': None}], ['t[0].min_id', 't[0].max_id'], 'out of range'),
    ([{'min_id': 9, 'max_id': 3}], ['t[0]'], 'greater than max_id'),
    ([{'min_id': 1, 'max_id': 5}, {'min_id': 5, 'max_id': None}], ['t'], 't[0] (1-5) and t[1] (5-5) overlap'),
    ([{'min_id': 50, 'max_id': 60}, {'min_id': 1, 'max_id': 70}], ['t'], 'overlap'),
    ([], ['t'], 'at least one'),
    (None, ['t'], 'at least one'),
    # every problem at once
    ([{'min_id': 0, 'max_id': None}, {'min_id': 8, 'max_id': 2}], ['t[0].min_id', 't[0].max_id', 't[1]'], 'greater'),
])
def test_vlan_trunk_refusals(ranges, fields, words):
    with pytest.raises(ValidationError) as info:
        validation.vlan_trunk('t', ranges)
    assert info.value.fields == fields and words in str(info.value)


@pytest.mark.parametrize('ranges', [
    [{'min_id': 1, 'max_id': None}, {'min_id': 4094, 'max_id': 4094}],  # the webhook's edges (MinTrunkVlanID 1)
    [{'min_id': 200, 'max_id': 300}, {'min_id': 100, 'max_id': 199}],  # adjacent, any order
])
def test_vlan_trunk_accepted(ranges):
    assert validation.vlan_trunk('t', ranges) == ranges


def vs(node, status=None, message=None):
    obj = {'metadata': {'name': 'cn-%s-00000000' % node, 'labels': {readiness.LABEL_NODE: node}},
           'status': {'node': node}}
    if status is not None:
        cond = {'type': 'ready', 'status': status}
        if message:
            cond['message'] = message
        obj['status']['conditions'] = [cond]
    return obj


def test_node_states():
    states = readiness.node_states(['a', 'b', 'c', 'd'], [vs('a', 'True'), vs('b', 'False', 'no eth1'), vs('c'),
                                                          vs('zz', 'True')])
    assert states == [{'node': 'a', 'state': 'ready', 'message': ''},
                      {'node': 'b', 'state': 'failed', 'message': 'no eth1'},
                      {'node': 'c', 'state': 'pending', 'message': 'VlanStatus cn-c-00000000 has no ready condition yet'},
                      {'node': 'd', 'state': 'pending', 'message': readiness.NO_REPORT}]


@pytest.mark.parametrize('annotation, nodes', [
    ('["b","a"]', ['a', 'b']), (None, []), ('not json', []), ('{"a": 1}', []), ('["a", 3]', ['a'])])
def test_matched_nodes(annotation, nodes):
    obj = {'metadata': {'annotations': {readiness.MATCHED_NODES_ANNOTATION: annotation} if annotation else {}}}
    assert readiness.matched_nodes(obj) == nodes


def test_not_ready_networks():
    nads = {('ns', 'a'): {'metadata': {'labels': {readiness.LABEL_READY: 'true'}}},
            ('ns', 'b'): {'metadata': {'labels': {readiness.LABEL_READY: 'false'}}},
            ('ns', 'c'): {'metadata': {}}}
    assert readiness.not_ready_networks(nads, [('ns', 'a'), ('ns', 'b'), ('ns', 'c'), ('ns', 'd')]) == [
        (('ns', 'b'), 'ready label "false"'), (('ns', 'c'), 'ready label not set yet'), (('ns', 'd'), 'not found')]


class Clock(object):
    """A clock the fake sleep advances: the wait's timeout logic without real time."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Reads(object):
    """The two reads a VlanConfig wait makes (GET of the VlanConfig, LIST of its VlanStatus), answered from a
    script of rounds: the seam the wait polls through, nothing else."""

    def __init__(self, rounds):
        self.rounds = rounds
        self.round = -1

    def get(self, _kind, _name):
        self.round = min(self.round + 1, len(self.rounds) - 1)
        return {'metadata': {'annotations': {readiness.MATCHED_NODES_ANNOTATION: '["a","b"]'}}}

    def list(self, _kind, label_selector=None):
        assert label_selector == readiness.LABEL_VLAN_CONFIG + '=up'
        return dict((('', o['metadata']['name']), o) for o in self.rounds[self.round])


def test_wait_vlan_config_returns_when_all_ready_and_times_out_naming_the_rest():
    clock = Clock()
    reads = Reads([[], [vs('a', 'True')], [vs('a', 'True'), vs('b', 'True')]])
    _vc, nodes, states = readiness.wait_vlan_config(reads, 'up', 30, sleep=clock.sleep, clock=clock)
    assert nodes == ['a', 'b'] and [s['state'] for s in states] == ['ready', 'ready'] and reads.round == 2
    clock = Clock()
    with pytest.raises(WaitTimeout) as info:
        readiness.wait_vlan_config(Reads([[vs('a', 'True')]]), 'up', 5, sleep=clock.sleep, clock=clock)
    assert info.value.field == 'wait_timeout' and 'not ready: b (pending' in str(info.value)
    assert ' a (' not in str(info.value) and clock.now == 5


def test_wait_vlan_config_fails_at_once_on_a_failed_status():
    clock = Clock()
    with pytest.raises(WaitTimeout) as info:
        readiness.wait_vlan_config(Reads([[vs('a', 'True'), vs('b', 'False', 'link eth1 not found')]]), 'up', 300,
                                   sleep=clock.sleep, clock=clock)
    assert info.value.field == 'wait' and 'b (failed: link eth1 not found)' in str(info.value) and clock.now == 0
