"""Properties of the pure planner over random nodes and desired states (hypothesis).

* converge: the same run again, from the state the kernel model predicts, is accepted (every check of a real
  run) and plans nothing;
* undo: running every operation's journal inverse, last first, then (what rollback does when the journal was
  not enough) planning from there back to the snapshot, brings the predicted state back to the start.

The real kernel checks the kernel model itself (tests/integration/host/test_host_check_mode.py).
"""

from hypothesis import HealthCheck, assume, event, given, settings

from host_nodes import Node
from host_strategies import network_params

from ansible_collections.harvester.network.plugins.module_utils.host import engine, facts, model, validate
from ansible_collections.harvester.network.plugins.module_utils.host import ops as O
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan, want_from_state


def base_node():
    node = Node()
    for name in ('eth1', 'eth2', 'eth3', 'eth4'):
        node.nic(name)
    for name in ('vm1', 'vm2', 'vm3'):
        node.nic(name, up=False)
    return node.state


def desired(params, have):
    """params -> validated desired state, or None when the input is invalid for this node."""
    try:
        checked = engine.check_params('host_network', params)
        want = validate.network_want(checked, checked['state'])
        validate.check_against_facts(want, have)
        plan = make_plan(have, want)
        validate.check_outcome(want, plan.state)
    except (validate.ValidationError, engine.EngineError):
        return None, None
    return want, plan


def undo(have, ops):
    state = model.clone(have)
    inverses = []
    for op in ops:
        inverse = op.inverse(state)
        if inverse is None:
            after = model.clone(state)
            op.simulate(after)
            inverse = make_plan(after, want_from_state(state)).ops
            state = after
        else:
            op.simulate(state)
        inverses.append(inverse)
    for inverse in reversed(inverses):
        for op in inverse:
            op.simulate(state)
    for op in O.restore_bridge_mtus(have, ops):
        op.simulate(state)
    if facts.differences(have, state):
        # Hidden kernel state (a bridge MTU pinned by a later operation's inverse) can leave a gap: rollback
        # closes it by planning back to the snapshot.
        event('journal undo needed a reconverge pass')
        back = make_plan(state, want_from_state(have))
        state = back.state
    else:
        event('journal undo alone was exact')
    return state


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(first=network_params(), second=network_params(states=('merged', 'replaced', 'overridden', 'deleted')))
def test_plans_converge_and_undo(first, second):
    start = base_node()
    want1, plan1 = desired(first, start)
    assume(want1 is not None)
    have = plan1.state
    assert make_plan(have, want1).ops == [], 'first plan does not converge'
    want2, plan2 = desired(second, have)
    assume(want2 is not None)
    try:  # the same run again, on the node it left: accepted (every check included) and a no-op
        again = validate.checked_plan(plan2.state, want2)
    except validate.ValidationError as exc:
        raise AssertionError('an accepted run is refused when run again: %s' % exc) from exc
    assert [op.command() for op in again.ops] == [], 'second plan does not converge'
    assert facts.differences(have, undo(have, plan2.ops)) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(config=network_params())
def test_gathered_round_trip(config):
    """What gathering would report from the predicted state, fed back with overridden, plans nothing."""
    start = base_node()
    want1, plan1 = desired(config, start)
    assume(want1 is not None)
    gathered = facts.to_config(plan1.state)
    params = dict(gathered, state='overridden', probes={'enabled': False})
    want2, plan2 = desired(params, plan1.state)
    assert want2 is not None, 'gathered output does not validate'
    assert [op.command() for op in plan2.ops] == []
