"""Routes the engine does not otherwise manage (other tables, multipath): a migration moves those through the
uplink onto the bridge; any other change that would make the kernel drop one is refused before anything is
written, naming the route and what to do (pure: the kernel model says which routes the kernel drops; the real
kernel checks it in tests/integration/host/test_host_bridge.py)."""

import pytest

from host_nodes import Node

from ansible_collections.harvester.network.plugins.module_utils.host import engine, model, validate
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan


def other(state, dst, table, hops, metric=0):
    route = {'dst': dst, 'table': table, 'metric': metric,
             'nexthops': [{'interface': link, 'gateway': gateway} for link, gateway in hops]}
    state['other_routes'][model.other_route_text(route)] = route


def node():
    state = (Node().nic('eth0').nic('eth1').nic('eth2').address('eth0', '192.168.7.10/24')
             .address('eth1', '10.1.0.2/24').route('0.0.0.0/0', gateway='192.168.7.1', interface='eth0').state)
    state['other_routes'] = {}
    other(state, '10.9.0.0/16', 100, [('eth0', '192.168.7.254')])
    other(state, '10.8.0.0/16', 254, [('eth0', '192.168.7.254'), ('eth1', '10.1.0.254')])
    other(state, '10.7.0.0/16', 100, [('eth1', '10.1.0.254')])
    return state


def refused(module, params, have):
    want = engine.build_want(module, engine.check_params(module, params))
    validate.check_against_facts(want, have)
    plan = make_plan(have, want)
    with pytest.raises(validate.ValidationError) as info:
        validate.check_other_routes(want, plan)
    return info.value.errors


def test_migration_moves_them_after_the_addresses():
    have = node()
    params = {'name': 'br0', 'uplink': 'eth0', 'migrate': True}
    want = engine.build_want('host_bridge', engine.check_params('host_bridge', params))
    validate.check_against_facts(want, have)
    plan = make_plan(have, want)
    validate.check_other_routes(want, plan)
    commands = [op.command() for op in plan.ops]
    assert commands[commands.index('ip addr add 192.168.7.10/24 dev br0'):] == [
        'ip addr add 192.168.7.10/24 dev br0',
        'ip -4 route del 0.0.0.0/0 via 192.168.7.1 dev eth0 metric 0',
        'ip -4 route del 10.8.0.0/16 table main metric 0 nexthop via 192.168.7.254 dev eth0 nexthop via 10.1.0.254 '
        'dev eth1',
        'ip -4 route del 10.9.0.0/16 table 100 metric 0 via 192.168.7.254 dev eth0',
        'ip addr del 192.168.7.10/24 dev eth0',
        'ip -4 route add 0.0.0.0/0 via 192.168.7.1 dev br0 metric 0',
        'ip -4 route add 10.8.0.0/16 table main metric 0 nexthop via 192.168.7.254 dev br0 nexthop via 10.1.0.254 '
        'dev eth1',
        'ip -4 route add 10.9.0.0/16 table 100 metric 0 via 192.168.7.254 dev br0']
    assert sorted(plan.state['other_routes']) == [
        'ip -4 route add 10.7.0.0/16 table 100 metric 0 via 10.1.0.254 dev eth1',
        'ip -4 route add 10.8.0.0/16 table main metric 0 nexthop via 192.168.7.254 dev br0 nexthop via 10.1.0.254 '
        'dev eth1',
        'ip -4 route add 10.9.0.0/16 table 100 metric 0 via 192.168.7.254 dev br0']
    assert make_plan(plan.state, want).ops == []  # moved once: nothing left to move
    # the journal's inverses put them back where they were
    undo = model.clone(plan.state)
    state = model.clone(have)
    inverses = []
    for op in plan.ops:
        inverses.append(op.inverse(state) or [])
        op.simulate(state)
    for ops in reversed(inverses):
        for op in ops:
            op.simulate(undo)
    assert sorted(undo['other_routes']) == sorted(have['other_routes'])


def test_other_changes_that_drop_them():
    # eth1 becomes a bond slave: its addresses and routes go, the kernel drops the routes through it.
    errors = refused('host_bond', {'name': 'bo0', 'slaves': ['eth1']}, node())
    assert sorted(error.split(' goes through')[0] for error in errors) == [
        'bond.slaves: ip -4 route add 10.7.0.0/16 table 100 metric 0 via 10.1.0.254 dev eth1',
        'bond.slaves: ip -4 route add 10.8.0.0/16 table main metric 0 nexthop via 192.168.7.254 dev eth0 nexthop via'
        ' 10.1.0.254 dev eth1']
    # host_network overriding the addresses without eth0's: its last IPv4 address leaves.
    errors = refused('host_network', {'state': 'overridden', 'addresses': [
        {'interface': 'eth1', 'address': '10.1.0.2/24'}], 'probes': {'enabled': False}}, node())
    assert sorted(error.split(' goes through')[0] for error in errors) == [
        'addresses: ip -4 route add 10.8.0.0/16 table main metric 0 nexthop via 192.168.7.254 dev eth0 nexthop via'
        ' 10.1.0.254 dev eth1',
        'addresses: ip -4 route add 10.9.0.0/16 table 100 metric 0 via 192.168.7.254 dev eth0']


def test_unaffected_changes_pass():
    have = node()
    for module, params in (('host_bridge', {'name': 'br0', 'uplink': 'eth2', 'migrate': True}),
                           ('host_bridge', {'name': 'br0', 'uplink': 'eth0'}),  # no migration: eth0 keeps its addresses
                           ('host_network', {'addresses': [{'interface': 'eth0', 'address': '192.168.8.10/24'}],
                                             'probes': {'enabled': False}})):
        want = engine.build_want(module, engine.check_params(module, params))
        validate.check_against_facts(want, have)
        plan = make_plan(have, want)
        validate.check_other_routes(want, plan)
        assert sorted(plan.state['other_routes']) == sorted(have['other_routes'])


def test_a_kept_route_whose_gateway_loses_its_subnet_is_refused_before_anything_changes():
    """Found by the check-mode property test (session 6): eth4 becomes the uplink of a new bridge br1 and the task
    leaves no address anywhere, but keeps eth4's route via 10.2.0.254 (on eth4, or moved onto br1 by the migration):
    the planner re-added it after the address went and the kernel refused ("Nexthop has invalid gateway"), so the
    real run rolled back after check mode had accepted it.  Now both refuse it before anything changes."""
    have = (Node().nic('eth4').address('eth4', '10.2.0.2/24')
            .route('172.16.2.0/24', gateway='10.2.0.254', interface='eth4', metric=100).state)
    for migrate, link in ((False, 'eth4'), (True, 'br1')):
        params = {'state': 'overridden', 'bridges': [{'name': 'br1', 'uplink': 'eth4', 'migrate': migrate}],
                  'addresses': []}
        want = engine.build_want('host_network', engine.check_params('host_network', params))
        with pytest.raises(validate.ValidationError) as info:
            validate.checked_plan(have, want)
        assert info.value.errors == [
            'addresses: the route 172.16.2.0/24 via 10.2.0.254 on %s, which this task keeps, needs an address in the'
            ' subnet of its gateway on %s after this change and would have none; keep such an address, or state the'
            ' routes without it' % (link, link)]
    # the address stated on the bridge: accepted, the route moves with eth4
    params['addresses'] = [{'interface': 'br1', 'address': '10.2.0.2/24'}]
    want = engine.build_want('host_network', engine.check_params('host_network', params))
    plan = validate.checked_plan(have, want)
    assert plan.state['routes'][('172.16.2.0/24', 100)]['interface'] == 'br1'
