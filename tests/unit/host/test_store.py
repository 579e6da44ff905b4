"""The saved desired state (store.py): persisting runs of every writing module fold into one document that,
re-applied at "boot" (a node with only its NICs), rebuilds what the runs built, and re-applied on the node
the runs left, changes nothing.  Pure: fabricated nodes and the planner's kernel model."""

import pytest
from hypothesis import HealthCheck, assume, event, given, settings

from host_nodes import Node
from host_strategies import network_params
from test_properties import base_node, desired

from ansible_collections.harvester.network.plugins.module_utils.host import engine, facts, store, validate
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan


def fresh():
    """A node as it boots: its NICs, nothing else (the management address comes from the OS)."""
    node = Node()
    for name in ('eth0', 'eth1', 'eth2', 'eth3', 'vm1'):
        node.nic(name)
    node.address('eth0', '192.168.7.10/24').route('0.0.0.0/0', gateway='192.168.7.1', interface='eth0')
    return node.state


class Persisting:
    """Runs modules on a fabricated node, as the engine does with persist: true."""

    def __init__(self):
        self.state = fresh()
        self.doc = store.empty()

    def run(self, module, params):
        checked = engine.check_params(module, dict(params, persist=True))
        want = engine.build_want(module, checked)
        validate.check_against_facts(want, self.state)
        plan = make_plan(self.state, want)
        validate.check_outcome(want, plan.state)
        self.doc = store.fold(self.doc, want, plan.have, plan.state)
        self.state = plan.state
        # What the engine requires before it writes: the saved state changes nothing on the node the run leaves.
        assert [op.command() for op in store.plan_layers(self.state, store.layers(self.doc))[0]] == []
        return self

    def boot(self):
        """The boot-time unit on a freshly booted node: the node the runs built, again."""
        ops, end = store.plan_layers(fresh(), store.layers(store.from_json(store.to_json(self.doc))))
        assert ops
        assert facts.differences(self.state, end) == []
        assert facts.to_config(end) == facts.to_config(self.state)
        assert store.plan_layers(end, store.layers(self.doc))[0] == []
        return end


def test_modules_fold_into_one_state():
    node = Persisting()
    node.run('host_bond', {'name': 'bo0', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2'], 'lacp_rate': 'fast',
                           'mtu': 9000})
    node.run('host_bridge', {'name': 'br0', 'uplink': 'bo0', 'ports': ['vm1']})
    node.run('host_vlan_trunk', {'config': [{'port': 'bo0', 'vids': [100, 200]}, {'port': 'vm1', 'pvid': 100}]})
    node.run('host_vlan_trunk', {'config': [{'port': 'bo0', 'vids': [300]}]})  # merged: adds 300
    assert sorted(node.doc['sections']['vlans']['items']) == ['bo0', 'vm1']
    end = node.boot()
    assert sorted(end['vlans']['bo0']) == [1, 100, 200, 300]
    assert end['links']['br0']['mtu'] == 9000

    # Options given win, options left out stay; a mode change drops the options the new mode ignores.
    node.run('host_bond', {'name': 'bo0', 'mode': 'active-backup', 'slaves': ['eth1', 'eth2'], 'primary': 'eth2'})
    spec = node.doc['sections']['bonds']['items']['bo0']['spec']
    assert spec['mode'] == 'active-backup' and spec['primary'] == 'eth2' and spec['mtu'] == 9000
    assert spec['lacp_rate'] is None
    node.boot()


def test_removals_leave_the_saved_state():
    node = Persisting()
    node.run('host_bridge', {'name': 'br0', 'uplink': 'eth1', 'ports': ['vm1']})
    node.run('host_vlan_trunk', {'config': [{'port': 'eth1', 'vids': '100-110'}, {'port': 'vm1', 'pvid': 105}]})
    node.run('host_vlan_trunk', {'state': 'deleted', 'config': [{'port': 'eth1', 'vids': [110]}]})
    # a merged spec minus the deleted VID, still merged (replayed at boot, the same as the two runs)
    assert node.doc['sections']['vlans']['items']['eth1'] == {
        'exact': False, 'spec': {'bridge': 'br0', 'vids': frozenset(range(100, 110)), 'untagged': None, 'pvid': None}}
    node.boot()
    # A port leaving the bridge takes its saved VLAN table along (the kernel drops it).
    node.run('host_bridge', {'name': 'br0', 'uplink': 'eth1', 'purge_ports': True})
    assert 'vm1' not in node.doc['sections']['vlans']['items']
    node.boot()
    node.run('host_bridge', {'name': 'br0', 'state': 'absent'})
    assert node.doc['sections']['bridges']['items'] == {} and node.doc['sections']['vlans']['items'] == {}
    ops, _end = store.plan_layers(fresh(), store.layers(node.doc))
    assert ops == []


def test_migration_carries_saved_addresses_and_routes():
    node = Persisting()
    node.run('host_network', {'state': 'replaced', 'addresses': [{'interface': 'eth0', 'address': '192.168.7.10/24'}],
                              'routes': [{'dst': '10.9.0.0/16', 'gateway': '192.168.7.254'}],
                              'probes': {'enabled': False}})
    node.run('host_bridge', {'name': 'br0', 'uplink': 'eth0', 'migrate': True})
    saved = node.doc['sections']['addresses']['items']
    assert saved['br0']['spec'] == set(['192.168.7.10/24']) and saved['eth0'] == {'exact': True, 'spec': set()}
    end = node.boot()
    assert set(end['addresses']['br0']) == set(['192.168.7.10/24']) and not end['addresses'].get('eth0')
    assert end['routes'][('0.0.0.0/0', 0)]['interface'] == 'br0'


def test_overridden_trunk_of_one_bridge():
    node = Persisting()
    node.run('host_network', {'bridges': [{'name': 'br0', 'uplink': 'eth1', 'ports': ['vm1']},
                                          {'name': 'br1', 'uplink': 'eth2'}], 'probes': {'enabled': False}})
    node.run('host_vlan_trunk', {'config': [{'port': 'eth2', 'vids': [7]}, {'port': 'vm1', 'pvid': 5}]})
    node.run('host_vlan_trunk', {'state': 'overridden', 'bridge': 'br0', 'config': [{'port': 'eth1', 'vids': [9]}]})
    vlans = node.doc['sections']['vlans']
    assert vlans['overridden'] == ['br0'] and sorted(vlans['items']) == ['eth1', 'eth2']
    end = node.boot()
    assert sorted(end['vlans']['vm1']) == [1] and sorted(end['vlans']['eth2']) == [1, 7]


def test_a_saved_state_that_would_not_apply_is_refused():
    node = Persisting()
    node.run('host_bond', {'name': 'bo0', 'slaves': ['eth1']})
    node.run('host_bridge', {'name': 'br0', 'uplink': 'bo0'})
    # Deleting the bridge's uplink leaves a saved bridge whose uplink no longer exists.
    want = engine.build_want('host_bond', engine.check_params('host_bond', {'name': 'bo0', 'state': 'absent'}))
    validate.check_against_facts(want, node.state)
    plan = make_plan(node.state, want)
    doc = store.fold(node.doc, want, plan.have, plan.state)
    with pytest.raises(validate.ValidationError) as info:
        store.plan_layers(plan.state, store.layers(doc))
    assert 'saved bridges[br0].uplink: bo0 does not exist' in str(info.value)


def test_version_1_state_is_read_and_folded():
    text = '{"version": 1, "want": {"state": "replaced", "bonds": {"bo0": {"mode": "active-backup", "slaves": ' \
           '["eth1"]}}, "bridges": null, "vlans": null, "vlan_bridges": null, "addresses": null, "routes": null, ' \
           '"links": null, "fields": {}}}'
    doc = store.from_json(text)
    [want] = store.layers(doc)
    assert want['bonds']['bo0']['slaves'] == ['eth1']
    folded = store.fold(doc, engine.build_want('host_bond', engine.check_params(
        'host_bond', {'name': 'bo1', 'slaves': ['eth2']})), fresh(), fresh())
    assert sorted(folded['sections']['bonds']['items']) == ['bo0', 'bo1'] and folded['version'] == 2


def _structure(state):
    """What the saved state is about: bonds, bridges and their members, VLAN tables, addresses, routes (not the
    up/down or MTU of NICs nobody manages: a released port keeps what it had, a booted one has its default; nor
    the VLAN tables of bridges that do not filter by VLAN: they do nothing and are left alone)."""
    view = facts.comparable(state)
    filtering = set(name for name, bridge in state['bridges'].items() if bridge['vlan_filtering'])
    view['vlans'] = dict((port, table) for port, table in view['vlans'].items()
                         if port in filtering or state['links'][port].get('master') in filtering)
    view['links'] = dict((name, link) for name, link in view['links'].items()
                         if link['kind'] in ('bond', 'bridge') or link['master'])
    for link in view['links'].values():
        if link['kind'] not in ('bond', 'bridge'):
            link.pop('up')
            link.pop('mtu')
    return view


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(first=network_params(), second=network_params(states=('merged', 'replaced', 'overridden', 'deleted')))
def test_saved_runs_boot_to_the_same_node(first, second):
    """Two random persisting host_network runs: whenever the engine would accept the folded state (re-applied to
    the node the runs left it changes nothing), booting from it builds the same bonds, bridges, VLAN tables,
    addresses and routes."""
    start = base_node()
    doc = store.empty()
    state = start
    for params in (first, second):
        want, plan = desired(params, state)
        assume(want is not None)
        doc = store.fold(store.from_json(store.to_json(doc)), want, plan.have, plan.state)
        state = plan.state
        try:
            ops, _end = store.plan_layers(state, store.layers(doc))
        except validate.ValidationError:
            event('refused: the saved state would not apply')
            assume(False)
        if ops:
            event('refused: the saved state would change the node')
        assume(not ops)
    ops, booted = store.plan_layers(base_node(), store.layers(doc))
    live, boot = _structure(state), _structure(booted)
    assert [(section, key, live[section].get(key), boot[section].get(key)) for section in live
            for key in sorted(set(live[section]) | set(boot[section]), key=str)
            if live[section].get(key) != boot[section].get(key)] == []
    event('accepted')
