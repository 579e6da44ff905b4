"""A run killed while it writes: the record it keeps before its first write (persist.save_inflight, apply.in_flight)
and how the next run plans what the kill left removed (apply.lost_in_flight, plan.py's ``have['interrupted']``).
Pure: fabricated nodes and a scratch folder; the real kernel and a real SIGKILL before every request are
tests/integration/host/test_host_faults.py."""

from host_nodes import Node, bridge_spec, want

from ansible_collections.harvester.network.plugins.module_utils.host import model, persist
from ansible_collections.harvester.network.plugins.module_utils.host.apply import in_flight, lost_in_flight, lost_text
from ansible_collections.harvester.network.plugins.module_utils.host.ops import DelOtherRoute, DelRoute
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan

MIGRATE = want(bridges={'br0': bridge_spec(uplink='eth0', migrate=True)})


def uplink_node():
    state = (Node().nic('eth0').nic('eth1').address('eth0', '10.0.0.2/24').address('eth1', '2001:db8::2/64')
             .route('0.0.0.0/0', '10.0.0.1', 'eth0').route('10.8.0.0/16', None, 'eth0').state)
    route = {'dst': '10.6.0.0/16', 'table': 100, 'metric': 0, 'nexthops': [{'interface': 'eth0', 'gateway': '10.0.0.1'}]}
    state['other_routes'] = {model.other_route_text(route): route}
    return state


def killed_after(state, plan, count):
    """The node after the first ``count`` operations of ``plan`` (the kernel model's view of a kill there)."""
    state = model.clone(state)
    for op in plan.ops[:count]:
        op.simulate(state)
    return state


def round_trip(tmp_path, state):
    """What the next run reads back: the record saved as JSON in the run-state folder."""
    paths = persist.Paths(str(tmp_path))
    persist.save_inflight(paths, in_flight(state))
    record = persist.load_inflight(paths)
    assert record['pid'] and record['started']
    return record


def commands(ops):
    return [op.command() for op in ops]


def test_a_kill_inside_the_migration_loses_nothing_for_good(tmp_path):
    have = uplink_node()
    plan = make_plan(have, MIGRATE)
    record = round_trip(tmp_path, have)
    deletes = [index for index, op in enumerate(plan.ops) if isinstance(op, (DelRoute, DelOtherRoute))]
    assert deletes, commands(plan.ops)
    for count in range(len(plan.ops) + 1):
        node = killed_after(have, plan, count)
        lost = lost_in_flight(record, node)
        inside = deletes[0] < count < len(plan.ops)
        if not inside:
            # before the first deletion nothing is missing; after the last operation everything is back
            assert lost is None, (count, lost)
            continue
        node['interrupted'] = lost
        repair = make_plan(node, MIGRATE)
        # the next run ends where the uninterrupted run ends: every route back, through the bridge
        assert repair.state['routes'] == plan.state['routes'], (count, commands(repair.ops))
        assert repair.state['other_routes'] == plan.state['other_routes'], (count, commands(repair.ops))
        assert facts_of(repair.state) == facts_of(plan.state)
        # and nothing it re-adds goes through the uplink
        assert not [text for text in commands(repair.ops) if ' add ' in text and 'dev eth0' in text], count


def facts_of(state):
    return dict((key, state[key]) for key in ('addresses', 'routes', 'other_routes'))


def test_the_report_names_what_was_lost_as_it_was():
    have = uplink_node()
    plan = make_plan(have, MIGRATE)
    last_delete = max(index for index, op in enumerate(plan.ops) if isinstance(op, (DelRoute, DelOtherRoute)))
    lost = lost_in_flight(in_flight(have), killed_after(have, plan, last_delete + 1))
    assert lost_text(lost) == [
        'ip -4 route add 0.0.0.0/0 via 10.0.0.1 dev eth0 metric 0',
        'ip -4 route add 10.8.0.0/16 dev eth0 metric 0',
        model.other_route_text(list(have['other_routes'].values())[0]),
    ]


def test_a_run_killed_twice_still_knows_the_first_losses():
    """The repair run keeps the first run's losses in its own record: killed too (before it wrote anything), the
    third run still finds them."""
    have = uplink_node()
    plan = make_plan(have, MIGRATE)
    node = killed_after(have, plan, len(plan.ops) - 1)
    lost = lost_in_flight(in_flight(have), node)
    assert lost
    node['interrupted'] = lost
    second = in_flight(node)
    del node['interrupted']
    assert lost_in_flight(second, node) == lost


def test_a_route_the_desired_state_removes_stays_removed():
    have = uplink_node()
    desired = want(routes={}, state='overridden')
    plan = make_plan(have, desired)
    node = killed_after(have, plan, len(plan.ops))
    lost = lost_in_flight(in_flight(have), node)
    assert lost and set(lost['routes']) == {('0.0.0.0/0', 0), ('10.8.0.0/16', 0)}
    node['interrupted'] = lost
    assert commands(make_plan(node, desired).ops) == []


def test_an_address_that_moved_is_not_lost_and_an_unreadable_record_is_none(tmp_path):
    have = uplink_node()
    moved = model.clone(have)
    moved['addresses']['eth0'] = {}
    moved['addresses']['eth1'] = dict(moved['addresses']['eth1'], **{'10.0.0.2/24': {'secondary': False}})
    assert lost_in_flight(in_flight(have), moved) is None
    assert lost_in_flight(None, have) is None
    paths = persist.Paths(str(tmp_path))
    assert persist.load_inflight(paths) is None
    persist.save_inflight(paths, in_flight(have))
    with open(paths.inflight_file, 'w') as handle:
        handle.write('{not json')
    assert persist.load_inflight(paths) is None
    persist.clear_inflight(paths)
    persist.clear_inflight(paths)  # gone already: fine
