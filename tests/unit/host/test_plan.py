"""The planner and its kernel model: exact plans for the cases that matter, on fabricated nodes."""

from host_nodes import Node, bond_spec, bridge_spec, vlan_spec, want

from ansible_collections.harvester.network.plugins.module_utils.host import facts, model
from ansible_collections.harvester.network.plugins.module_utils.host.plan import interruptions, make_plan, want_from_state


def commands(plan):
    return [op.command() for op in plan.ops]


def names(plan):
    return [op.name for op in plan.ops]


def assert_converged(plan, desired):
    """Planning again from the predicted state is a no-op: the planner agrees with its own kernel model."""
    again = make_plan(plan.state, desired)
    assert commands(again) == []


def test_new_node_harvester_style():
    node = Node().nic('eth1').nic('eth2').nic('vm1', up=False).state
    desired = want(
        bonds={'bo0': bond_spec(mode='802.3ad', slaves=['eth1', 'eth2'], lacp_rate='fast', mtu=9000)},
        bridges={'br0': bridge_spec(uplink='bo0', ports=['vm1'])},
        vlans={'bo0': vlan_spec(vids=range(2, 4095)), 'vm1': vlan_spec(pvid=100)})
    plan = make_plan(node, desired)
    assert commands(plan) == [
        'ip link add bo0 mtu 9000 type bond lacp_rate fast mode 802.3ad',
        'ip link add br0 mtu 9000 type bridge vlan_default_pvid 1 stp_state 0 vlan_filtering 1'
        ' && ip link set br0 promisc on',
        'ip link set eth1 down',
        'ip link set eth1 master bo0',
        'ip link set eth2 down',
        'ip link set eth2 master bo0',
        'ip link set bo0 master br0 up',
        'ip link set vm1 master br0 up',
        'ip link set br0 mtu 9000',
        'ip link set br0 up',
        'bridge vlan add dev bo0 vid 2-4094',
        'bridge vlan add dev vm1 vid 100 pvid untagged',
    ]
    # VID 1 stays the uplink's untagged PVID (never added as tagged); the trunk is ONE operation.
    assert plan.state['vlans']['bo0'][1] == model.BRIDGE_VLAN_PVID | model.BRIDGE_VLAN_UNTAGGED
    assert len(plan.state['vlans']['bo0']) == 4094
    # The bridge MTU follows the uplink (harvester#4353) and the slaves took the bond's MTU.
    assert plan.state['links']['br0']['mtu'] == 9000
    assert plan.state['links']['eth1']['mtu'] == 9000
    assert_converged(plan, desired)


def test_trunk_is_one_request_with_range_flags():
    node = Node().bridge('br0', ports=['eth1']).state
    plan = make_plan(node, want(vlans={'eth1': vlan_spec(vids=range(2, 4095))}))
    [op] = plan.ops
    [request] = op.requests()
    attrs = request.kwargs['IFLA_AF_SPEC']['attrs']
    assert attrs == [('IFLA_BRIDGE_VLAN_INFO', {'flags': 0x8, 'vid': 2}),
                     ('IFLA_BRIDGE_VLAN_INFO', {'flags': 0x10, 'vid': 4094})]


def test_adding_a_slave_changes_in_place():
    node = Node().bond('bo0', slaves=['eth1'], mode='802.3ad').nic('eth2').state
    desired = want(state='replaced', bonds={'bo0': bond_spec(slaves=['eth1', 'eth2'])})
    plan = make_plan(node, desired)
    assert commands(plan) == ['ip link set eth2 down', 'ip link set eth2 master bo0']
    assert 'create_link' not in names(plan) and 'delete_link' not in names(plan)
    assert_converged(plan, desired)


def test_removing_a_slave_releases_it():
    node = Node().bond('bo0', slaves=['eth1', 'eth2']).state
    desired = want(state='replaced', bonds={'bo0': bond_spec(slaves=['eth1'])})
    plan = make_plan(node, desired)
    assert commands(plan) == ['ip link set eth2 nomaster']
    assert plan.state['links']['eth2']['up'] is False  # the kernel closes a released slave


def test_mode_change_is_in_place_and_says_why():
    node = Node().bond('bo0', slaves=['eth1', 'eth2'], mode='active-backup').bridge('br0', ports=['bo0']).state
    desired = want(bonds={'bo0': bond_spec(mode='802.3ad', lacp_rate='fast')})
    plan = make_plan(node, desired)
    assert commands(plan) == [
        'ip link set eth1 nomaster',
        'ip link set eth2 nomaster',
        'ip link set bo0 down',
        'ip link set bo0 type bond lacp_rate fast mode 802.3ad',
        'ip link set eth1 master bo0',
        'ip link set eth2 master bo0',
        'ip link set bo0 up',
    ]
    notes = [op.note for op in plan.ops if op.note]
    assert any('not recreated' in note for note in notes)
    assert plan.state['links']['bo0']['master'] == 'br0'  # still a port of its bridge
    assert_converged(plan, desired)


def test_option_needing_down_takes_the_bond_down_and_up():
    node = Node().bond('bo0', slaves=['eth1'], mode='802.3ad').state
    desired = want(bonds={'bo0': bond_spec(ad_select='count', miimon=200)})
    plan = make_plan(node, desired)
    assert commands(plan) == ['ip link set bo0 down',
                              'ip link set bo0 type bond ad_select count downdelay 0 miimon 200 updelay 0',
                              'ip link set bo0 up']
    assert 'down' in plan.ops[0].note


def test_miimon_change_resends_delays_in_ticks():
    node = Node().bond('bo0', slaves=['eth1'], miimon=100, updelay=300, downdelay=200).state
    plan = make_plan(node, want(bonds={'bo0': bond_spec(miimon=50)}))
    [op] = plan.ops
    assert op.options == {'miimon': 50, 'updelay': 300, 'downdelay': 200}
    assert plan.state['bonds']['bo0']['updelay'] == 300


def test_bridge_default_pvid_change_moves_default_ports_only():
    node = (Node().bridge('br0', ports=['p1', 'p2']).vlans('p2', {1: 4, 100: 6}).state)
    plan = make_plan(node, want(bridges={'br0': bridge_spec(default_pvid=9)}))
    assert commands(plan) == ['ip link set br0 type bridge vlan_default_pvid 9']
    assert plan.state['vlans']['br0'] == {9: 6}
    assert plan.state['vlans']['p1'] == {9: 6}
    assert plan.state['vlans']['p2'] == {1: 4, 100: 6}  # user-configured PVID: the kernel leaves it


def test_migrate_adds_before_deleting_and_gateway_routes_last():
    node = (Node().nic('eth0').address('eth0', '10.0.0.2/24').route('0.0.0.0/0', '10.0.0.1', 'eth0')
            .route('10.9.0.0/16', '10.0.0.1', 'eth0').route('10.8.0.0/16', None, 'eth0').state)
    desired = want(bridges={'br0': bridge_spec(uplink='eth0', migrate=True)})
    plan = make_plan(node, desired)
    text = commands(plan)
    assert text[-8:] == [
        'ip addr add 10.0.0.2/24 dev br0',
        'ip -4 route del 0.0.0.0/0 via 10.0.0.1 dev eth0 metric 0',
        'ip -4 route del 10.8.0.0/16 dev eth0 metric 0',
        'ip -4 route del 10.9.0.0/16 via 10.0.0.1 dev eth0 metric 0',
        'ip addr del 10.0.0.2/24 dev eth0',
        'ip -4 route add 10.8.0.0/16 dev br0 metric 0',
        'ip -4 route add 10.9.0.0/16 via 10.0.0.1 dev br0 metric 0',
        'ip -4 route add 0.0.0.0/0 via 10.0.0.1 dev br0 metric 0',
    ]
    assert text[-1] == 'ip -4 route add 0.0.0.0/0 via 10.0.0.1 dev br0 metric 0'
    assert text.index('ip addr add 10.0.0.2/24 dev br0') < text.index('ip addr del 10.0.0.2/24 dev eth0')
    assert_converged(plan, desired)
    # A second run with migrate has nothing left to move.
    assert commands(make_plan(plan.state, desired)) == []


def test_bridge_mtu_repinned_after_smaller_port_joins():
    node = Node().bridge('br0', ports=['eth1'], mtu=9000).state
    node['links']['eth1']['mtu'] = 9000
    node['links']['vm9'] = dict(node['links']['eth1'], master=None, mtu=1500, index=99)
    desired = want(bridges={'br0': bridge_spec(uplink='eth1', ports=['vm9'])})
    plan = make_plan(node, desired)
    assert commands(plan) == ['ip link set vm9 master br0', 'ip link set br0 mtu 9000']


def test_primary_secondary_deletion_keeps_wanted_secondary():
    node = Node().nic('eth1').address('eth1', '10.0.0.1/24').address('eth1', '10.0.0.2/24', secondary=True).state
    desired = want(state='replaced', addresses={'eth1': {'10.0.0.2/24'}})
    plan = make_plan(node, desired)
    assert commands(plan) == ['ip addr del 10.0.0.2/24 dev eth1', 'ip addr del 10.0.0.1/24 dev eth1',
                              'ip addr add 10.0.0.2/24 dev eth1']


def test_overridden_resets_unlisted_ports_and_deletes_unlisted_bonds():
    node = (Node().bond('old-bo', slaves=['eth9']).bridge('br0', ports=['eth1', 'eth2'])
            .vlans('eth2', {1: 6, 300: 0}).state)
    desired = want(state='overridden', bonds={}, vlans={'eth1': vlan_spec(vids=[100])})
    plan = make_plan(node, desired)
    assert commands(plan) == ['ip link del old-bo', 'bridge vlan add dev eth1 vid 100',
                              'bridge vlan del dev eth2 vid 300']


def test_gathered_round_trip_is_a_no_op():
    node = (Node().bond('bo0', slaves=['eth1', 'eth2'], mode='802.3ad').bridge('br0', ports=['bo0', 'vm1'])
            .vlans('bo0', dict([(1, 6)] + [(v, 0) for v in range(2, 4095)])).vlans('vm1', {100: 6})
            .address('br0', '10.0.0.2/24').route('0.0.0.0/0', '10.0.0.1', 'br0').state)
    gathered = facts.to_config(node)
    from ansible_collections.harvester.network.plugins.module_utils.host import validate
    params = dict(gathered, state='overridden')
    for item in params['bonds']:
        for key in model.BOND_OPTIONS + ('mac',):
            item.setdefault(key, None)
    for item in params['bridges']:
        item.setdefault('mac', None)
        item.setdefault('migrate', False)
    desired = validate.network_want(params, 'overridden')
    assert commands(make_plan(node, desired)) == []


def test_rollback_plan_restores_exactly():
    """Planning towards a snapshot (what rollback does when the journal is not enough) restores it."""
    before = (Node().bond('bo0', slaves=['eth1'], mode='802.3ad', lacp_rate='fast').bridge('br0', ports=['bo0'])
              .vlans('bo0', {1: 6, 100: 0, 200: 0}).address('br0', '10.0.0.2/24')
              .route('0.0.0.0/0', '10.0.0.1', 'br0').nic('eth2').state)
    # Something else happened: the bond lost its bridge, the trunk and got another slave; the route is gone.
    after = make_plan(before, want(state='overridden', bridges={}, bonds={
        'bo0': bond_spec(mode='balance-xor', slaves=['eth1', 'eth2'])})).state
    back = make_plan(after, want_from_state(before))
    assert facts.differences(before, back.state) == []


def test_rollback_recreates_a_deleted_bond_with_the_options_of_its_mode_only():
    """Found by the fault-injection test on the real kernel: the way back to a deleted balance-rr bond must not
    send lacp_rate, ad_select, min_links, xmit_hash_policy or primary (the kernel refuses them in that mode)."""
    for mode in model.BOND_MODES:
        before = Node().bond('old-bo', slaves=['eth4'], mode=mode).nic('eth1').state
        after = make_plan(before, want(state='overridden', bonds={})).state
        assert 'old-bo' not in after['links']
        back = make_plan(after, want_from_state(before))
        create = [op for op in back.ops if op.name == 'create_link']
        assert len(create) == 1, commands(back)
        assert all(mode in model.BOND_OPTION_MODES[key] for key in create[0].options if key != 'mode'), \
            create[0].command()
        assert facts.differences(before, back.state) == []


def test_undoing_a_mode_change_restores_options_of_the_old_mode_first():
    """Found on the real kernel: undoing active-backup -> 802.3ad + lacp_rate fast in one request set the mode
    first, then the kernel refused lacp_rate (not an active-backup option) and kept fast.  lacp_rate goes back
    while the bond is still 802.3ad."""
    from ansible_collections.harvester.network.plugins.module_utils.host.ops import SetBondOptions
    before = Node().bond('bo0', slaves=['eth1'], mode='active-backup').state
    op = SetBondOptions(link='bo0', options={'mode': '802.3ad', 'lacp_rate': 'fast'})
    undo = op.inverse(before)
    assert [item.options for item in undo] == [{'lacp_rate': 'slow'}, {'mode': 'active-backup'}]


def test_undoing_a_release_that_never_happened_leaves_the_slave_up():
    """Found on the real kernel: the release of eth1 failed (never happened); its undo took eth1 down and
    re-enslaved it, which the kernel takes as a no-op on a link already enslaved: eth1 stayed down.  The
    re-enslave now says "up" as well."""
    from ansible_collections.harvester.network.plugins.module_utils.host.ops import SetMaster
    before = Node().bond('bo0', slaves=['eth1'], mode='active-backup').state
    undo = SetMaster(link='eth1', master=None).inverse(before)
    assert [op.command() for op in undo] == ['ip link set eth1 down', 'ip link set eth1 master bo0 up']


def test_deleting_a_bridge_and_its_port_vlans_is_accepted_again():
    """Regression (found by the real-kernel check-mode property test): a ``deleted`` run that deletes a bridge
    and the VLANs of one of its ports was accepted, then refused when run again, because the port is on no bridge
    any more ("vlans[0].port: eth3 is not a bridge port").  Deleting what is already gone is a no-op."""
    from ansible_collections.harvester.network.plugins.module_utils.host import engine, validate
    node = Node().nic('eth3').nic('eth4').bridge('br0', ports=['eth3']).state
    params = engine.check_params('host_network', {
        'state': 'deleted', 'bridges': [{'name': 'br0', 'uplink': 'eth3'}],
        'vlans': [{'port': 'eth3', 'bridge': 'br0', 'vids': ['2-4094']}, {'port': 'gone0', 'vids': ['7']}],
        'probes': {'enabled': False}})
    desired = validate.network_want(params, 'deleted')
    plan = validate.checked_plan(node, desired)
    assert commands(plan) == ['ip link del br0']
    assert commands(validate.checked_plan(plan.state, desired)) == []
    # A port that is on another bridge than the one named is still an error, naming the field.
    other = Node().nic('eth3').bridge('br1', ports=['eth3']).state
    try:
        validate.checked_plan(other, validate.network_want(params, 'deleted'))
    except validate.ValidationError as exc:
        assert 'vlans[0].bridge: eth3 is a port of br1, not of br0' in str(exc), exc
    else:
        raise AssertionError('a port of another bridge was accepted')


def _live_uplink(mtu=1500):
    """A node as the lab's site has it: bond bo0 (eth1, eth2) under the VLAN bridge br0 with a VM port, trunk 100-300."""
    return (Node().bond('bo0', slaves=['eth1', 'eth2'], mtu=mtu).bridge('br0', ports=['bo0', 'vm1'], mtu=mtu)
            .vlans('bo0', {1: 6, 100: 0, 200: 0, 300: 0}).vlans('vm1', {100: 6}).state)


def test_hitless_mtu_order_raise_lower_layers_first_lower_them_last():
    """Issue 15: an MTU change never takes a link down; the bond (and with it its NICs) changes before the bridge
    above it, both ways (the kernel re-derives an unpinned bridge MTU from its ports)."""
    up = want(bonds={'bo0': bond_spec(mtu=9000)}, bridges={'br0': bridge_spec(mtu=9000)})
    plan = make_plan(_live_uplink(), up)
    assert commands(plan) == ['ip link set bo0 mtu 9000', 'ip link set br0 mtu 9000']
    assert_converged(plan, up)
    down = want(bonds={'bo0': bond_spec(mtu=1500)}, bridges={'br0': bridge_spec(mtu=1500)})
    plan = make_plan(_live_uplink(mtu=9000), down)
    assert commands(plan) == ['ip link set bo0 mtu 1500', 'ip link set br0 mtu 1500']
    assert plan.state['links']['eth1']['mtu'] == 1500 and plan.state['links']['br0']['mtu'] == 1500
    assert_converged(plan, down)


def test_hitless_member_and_trunk_changes_are_in_place():
    """Issue 15: a bond member leaves or joins without the bond (or the bridge port) going down, and a trunk change
    adds the new VIDs before it removes the old ones, in one request each way."""
    node = _live_uplink()
    out = want(state='replaced', bonds={'bo0': bond_spec(slaves=['eth1'])})
    plan = make_plan(node, out)
    assert commands(plan) == ['ip link set eth2 nomaster']
    back = want(state='replaced', bonds={'bo0': bond_spec(slaves=['eth1', 'eth2'])})
    plan = make_plan(plan.state, back)
    # the kernel took the leaving NIC down (bond_release); it joins as it is, the bond and its bridge port stay up
    assert plan.have['links']['eth2']['up'] is False
    assert commands(plan) == ['ip link set eth2 master bo0']
    trunk = want(state='replaced', vlans={'bo0': vlan_spec(vids=[100, 200, 400])})
    plan = make_plan(node, trunk)
    assert commands(plan) == ['bridge vlan add dev bo0 vid 400; bridge vlan del dev bo0 vid 300']


def test_hitless_warnings_only_for_what_takes_a_live_bond_down():
    """Issue 15: the plan warns (check mode too) when a kernel rule stops the traffic through a live bond (a mode
    change, lacp_rate, ad_select), and for nothing the planner changes in place."""
    node = _live_uplink()
    for desired in (want(bonds={'bo0': bond_spec(mtu=9000)}, bridges={'br0': bridge_spec(mtu=9000)}),
                    want(state='replaced', bonds={'bo0': bond_spec(slaves=['eth1'])}),
                    want(bonds={'bo0': bond_spec(miimon=200)}),
                    want(state='replaced', vlans={'bo0': vlan_spec(vids=[100, 200, 400])})):
        assert interruptions(make_plan(node, desired).ops, node) == []
    plan = make_plan(node, want(bonds={'bo0': bond_spec(mode='802.3ad')}))
    [warning] = interruptions(plan.ops, node)
    assert warning.startswith('bo0: changing mode takes the bond down and releases its slaves')
    # a bond that is down, or has no slaves, carries nothing: no warning
    idle = Node().bond('bo0', up=False).state
    assert interruptions(make_plan(idle, want(bonds={'bo0': bond_spec(mode='802.3ad')})).ops, idle) == []
