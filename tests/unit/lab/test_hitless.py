"""The hitless stage's pure logic (lab/hitless.py): the node view between a change's steps (what a node shows,
against the step's target, our way and Harvester's way), where the nodes are read, and change 6's verdict: each
loss placed in the window of the node that was changing (no flow loses more than one node's share)."""

import pytest

from lab import hitless, traffic

NODES = ['node1', 'node2']


def _view(mtu=1500, bridge_mtu=1500, mode='active-backup', miimon=100, slaves=('eth1', 'eth2'),
          vids=(50, 100, 200, 300), mgmt=None):
    """A node's view in iproute2's JSON shapes (ip -d -j link, bridge -j vlan, ip -j addr, ip -j route)."""
    links = [{'ifname': 'eth0', 'mtu': 1500, 'master': 'harvester-br0' if mgmt == 'bridge' else None},
             {'ifname': 'eth1', 'mtu': mtu if 'eth1' in slaves else 1500, 'master': 'data-bo' if 'eth1' in slaves
              else None},
             {'ifname': 'eth2', 'mtu': mtu if 'eth2' in slaves else 1500, 'master': 'data-bo' if 'eth2' in slaves
              else None},
             {'ifname': 'data-bo', 'mtu': mtu, 'master': 'data-br',
              'linkinfo': {'info_kind': 'bond', 'info_data': {'mode': mode, 'miimon': miimon}}},
             {'ifname': 'data-br', 'mtu': bridge_mtu, 'linkinfo': {'info_kind': 'bridge'}}]
    holder = 'harvester-br0' if mgmt == 'bridge' else 'eth0'
    return {'links': [dict((k, v) for k, v in link.items() if v is not None) for link in links],
            'vlans': [{'ifname': 'data-bo', 'vlans': [{'vlan': 1, 'flags': ['PVID', 'Egress Untagged']}] +
                       [{'vlan': vid} for vid in vids]}],
            'addresses': [{'ifname': holder, 'addr_info': [{'local': '10.10.0.11', 'prefixlen': 24}]}],
            'routes': [{'dst': 'default', 'gateway': '10.10.0.1', 'dev': holder}]}


def _read(**kwargs):
    return hitless.read_node(_view(**kwargs), 'data-bo', 'data-br', '10.10.0.11')


def test_read_node_takes_what_the_changes_touch():
    got = _read()
    assert got == {'bond_mtu': 1500, 'master': 'data-br', 'mode': 'active-backup', 'miimon': 100,
                   'slaves': ['eth1', 'eth2'], 'slave_mtu': [1500], 'vids': [50, 100, 200, 300], 'bridge_mtu': 1500,
                   'mgmt_on': ['eth0'], 'nic_master': None, 'default_dev': ['eth0']}
    assert hitless.read_node({'links': []}, 'data-bo', 'data-br') == {'bond': 'missing'}
    # a VLAN link over the bridge: its MTU is read too
    view = _view()
    view['links'].append({'ifname': 'data-br.50', 'mtu': 1500, 'link': 'data-br', 'linkinfo': {'info_kind': 'vlan'}})
    assert hitless.read_node(view, 'data-bo', 'data-br')['vlan_mtu'] == {'data-br.50': 1500}


def test_targets_of_each_first_step_both_ways():
    base = _read()
    assert hitless.target('vlans_a', base, 'ours') == {'vids': [50, 100, 200, 400]}
    assert hitless.target('member_out', base, 'recreate') == {'slaves': ['eth1']}
    # our way sets the bridge's MTU too; Harvester's way recreates the bond with the MTU, the bridge is not set
    assert hitless.target('mtu_up', base, 'ours') == {'bond_mtu': 9000, 'slave_mtu': [9000], 'master': 'data-br',
                                                      'bridge_mtu': 9000}
    assert 'bridge_mtu' not in hitless.target('mtu_up', base, 'recreate')
    assert hitless.target('miimon_a', base, 'ours')['miimon'] == 200
    assert hitless.target('miimon_a', dict(base, miimon=200), 'ours')['miimon'] == 100
    assert hitless.target('mode_a', base, 'ours') == {'mode': '802.3ad', 'slaves': ['eth1', 'eth2'],
                                                      'master': 'data-br', 'vids': [50, 100, 200, 300]}
    # v0.3 migration: ours moves the address, Harvester v0.2.6 copies it (the NIC keeps it)
    assert hitless.target('mgmt_in', base, 'ours')['mgmt_on'] == ['harvester-br0']
    assert hitless.target('mgmt_in', base, 'recreate')['mgmt_on'] == ['eth0', 'harvester-br0']
    with pytest.raises(ValueError):
        hitless.target('mtu_down', base, 'ours')


def test_where_the_nodes_are_read():
    two = ('mtu_up', 'mtu_down')
    assert hitless.plan_holds(two, NODES, False) == [(NODES, 0)]
    assert hitless.plan_holds(('mgmt_in',), NODES, False) == [(NODES, 0)]
    # rolling: node1 changed, node1 back (the end of its window), node2 changed; node2's last step ends the change
    assert hitless.plan_holds(two, NODES, True) == [(['node1'], 0), (['node1'], 1), (['node2'], 0)]


def _hold(nodes, step, fields, time=0.0):
    return {'nodes': nodes, 'step': step, 'time': time, 'fields': fields}


def test_a_node_that_does_not_show_the_change_fails_the_read():
    base = {'node1': _read(), 'node2': _read()}
    steps = ('mtu_up', 'mtu_down')
    changed = {'node1': _read(mtu=9000, bridge_mtu=9000), 'node2': _read(mtu=9000, bridge_mtu=9000)}
    ok, text = hitless.check_hold(steps, 'ours', _hold(NODES, 0, changed), base, NODES)
    assert ok and 'bond_mtu 9000' in text and 'bridge_mtu 9000' in text, text
    # the recreate way leaves the bridge at 1500: not its target, so not judged
    half = {'node1': _read(mtu=9000), 'node2': _read(mtu=9000)}
    assert hitless.check_hold(steps, 'recreate', _hold(NODES, 0, half), base, NODES)[0]
    ok, text = hitless.check_hold(steps, 'ours', _hold(NODES, 0, half), base, NODES)
    assert not ok and 'node1: bridge_mtu 1500 (want 9000)' in text, text
    # a playbook that exited 0 but changed nothing on node2
    ok, text = hitless.check_hold(steps, 'ours', _hold(NODES, 0, dict(changed, node2=_read())), base, NODES)
    assert not ok and 'node2: bond_mtu 1500 (want 9000)' in text, text
    ok, text = hitless.check_hold(steps, 'ours', _hold(NODES, 0, {'node1': changed['node1']}), base, NODES)
    assert not ok and 'node2 not read' in text


def test_rolling_reads_prove_one_node_at_a_time():
    base = {'node1': _read(), 'node2': _read()}
    steps = ('mode_a', 'mode_b')
    lacp = _read(mode='802.3ad')
    holds = [_hold(['node1'], 0, {'node1': lacp, 'node2': _read()}),
             _hold(['node1'], 1, {'node1': _read(), 'node2': _read()}),
             _hold(['node2'], 0, {'node1': _read(), 'node2': lacp})]
    ok, texts = hitless.check_holds(steps, 'ours', holds, base, NODES, True)
    assert ok, texts
    # both nodes changed at once is not a rolling run
    both = [_hold(['node1'], 0, {'node1': lacp, 'node2': lacp})] + holds[1:]
    ok, texts = hitless.check_holds(steps, 'ours', both, base, NODES, True)
    assert not ok and 'node2: mode "802.3ad" (want "active-backup")' in texts[0], texts
    # a read missing (the playbook stopped after node1)
    ok, texts = hitless.check_holds(steps, 'ours', holds[:2], base, NODES, True)
    assert not ok and 'a step did not run' in texts[0]


def test_loss_runs_place_each_loss_in_time():
    answers = dict((seq, (100.0 + seq / 100.0, 0.5)) for seq in range(1, 301) if not 50 <= seq <= 59
                   and not 200 <= seq <= 204)
    assert traffic.loss_runs(answers, 300, 3) == [[50, 59, 100.49, 100.6], [200, 204, 101.99, 102.05]]
    del answers[300], answers[299], answers[298], answers[297]
    assert traffic.loss_runs(answers, 300, 3)[-1] == [297, 300, 102.96, None]  # the tail, longer than in flight
    assert traffic.loss_runs(answers, 298, 3)[-1][1] == 204  # a tail within what was in flight is not a loss


def test_change_6_judged_by_whose_window_each_loss_falls_in():
    holds = [_hold(['node1'], 0, {}, 10.0), _hold(['node1'], 1, {}, 20.0), _hold(['node2'], 0, {}, 30.0)]
    spans = hitless.windows(holds, NODES, True, ('mode_a', 'mode_b'))
    assert spans == [('node1', None, 20.0), ('node2', 20.0, None)]
    across = {'id': 'f1', 'nodes': ['node1', 'node2'], 'across': True}
    to_switch = {'id': 'f2', 'nodes': ['node2'], 'across': True}
    local = {'id': 'f3', 'nodes': ['node1'], 'across': False}
    both = {'sent': 3000, 'received': 2975, 'lost': 25, 'runs': [[500, 511, 15.0, 15.2], [2500, 2512, 25.0, 25.2]]}
    in_node1 = {'sent': 3000, 'received': 2988, 'lost': 12, 'runs': [[500, 511, 15.0, 15.2]]}
    clean = {'sent': 3000, 'received': 3000, 'lost': 0, 'runs': []}
    verdicts = hitless.judge_rolling([across, to_switch, local], {'f1': both, 'f2': in_node1, 'f3': clean}, spans)
    assert verdicts['f1'][0] and verdicts['f1'][2] == {'node1': 12, 'node2': 13}
    # the flow from node2 to the switch lost echoes while node1 changed: more than its node's share
    assert not verdicts['f2'][0] and 'does not cross' in verdicts['f2'][1]
    assert verdicts['f3'][0] and verdicts['f3'][2] == {'node1': 0, 'node2': 0}
    cut = {'sent': 3000, 'received': 2500, 'lost': 500, 'runs': [[2501, 3000, 25.0, None]]}
    assert not hitless.judge_rolling([across], {'f1': cut}, spans)['f1'][0]
    # losses the runs do not account for (more runs than listed) are not judged as placed
    assert not hitless.judge_rolling([across], {'f1': dict(in_node1, lost=40)}, spans)['f1'][0]
    assert not hitless.judge_rolling([local], {}, spans)['f3'][0]
