"""lab/traffic.py, the lab's traffic witness, and the pure parts of lab/hitless.py.

The witness runs for real on this machine's kernel (network namespaces, veth, ping: root): an undisturbed flow
loses nothing, and a flow whose cable is cut for a while loses echoes, with every unanswered echo counted
(sent = received + lost) and a gap at least as long as the cut. Its verdict on ping's output (holes, the tail in
flight at the stop, a flow cut for good) is checked on written samples, and so are the recreate way's iproute2
script and the goal's rule for which flows a change concerns."""

import os
import subprocess
import time

import pytest

from lab import hitless, traffic

PREFIX = 'hn-traffic-%d-' % os.getpid()


def _ip(*args):
    return subprocess.run(['ip'] + list(args), check=True, capture_output=True, text=True).stdout


def _reply(seq, when, rtt=0.5):
    return '[%.6f] 64 bytes from 192.0.2.2: icmp_seq=%d ttl=64 time=%s ms\n' % (when, seq, rtt)


def _output(answered, sent, interval=0.01, rtt=0.5):
    text = 'PING 192.0.2.2 (192.0.2.2) 56(84) bytes of data.\n'
    text += ''.join(_reply(seq, 1000 + seq * interval, rtt) for seq in answered)
    return text + '\n--- 192.0.2.2 ping statistics ---\n%d packets transmitted, %d received\n' % (sent, len(answered))


def test_verdict_counts_holes_and_the_tail():
    # 200 sent; 50..59 unanswered (a cut of 10 echoes); 199 and 200 still in flight at the stop
    got = traffic.verdict(_output([s for s in range(1, 199) if not 50 <= s <= 59], 200))
    assert (got['sent'], got['received'], got['holes'], got['tail']) == (200, 188, 10, 2)
    assert got['lost'] == 10  # the tail of 2 is within what was in flight (rtt 0.5 ms: 1 interval + 2)
    assert got['gap_ms'] == pytest.approx(110.0, abs=0.2)  # 49 -> 60: 11 intervals


def test_verdict_counts_a_flow_cut_for_good():
    got = traffic.verdict(_output(range(1, 101), 300))
    assert got['tail'] == 200 and got['lost'] == 200  # far more than in flight: lost, not in flight
    assert traffic.verdict(_output([], 50))['lost'] == 50


def test_verdict_of_an_undisturbed_flow():
    got = traffic.verdict(_output(range(1, 501), 500))
    assert (got['lost'], got['holes'], got['tail']) == (0, 0, 0)
    assert got['gap_ms'] == pytest.approx(10.0, abs=0.1)


@pytest.fixture()
def pairs():
    """Two namespace pairs, each cabled by a veth: 192.0.2.1 -> .2 (to be cut) and 198.51.100.1 -> .2."""
    if os.geteuid() != 0:
        pytest.fail('needs root (network namespaces)', pytrace=False)
    made = []
    try:
        for index, net in enumerate(('192.0.2', '198.51.100')):
            a, b = PREFIX + '%da' % index, PREFIX + '%db' % index
            for name in (a, b):
                _ip('netns', 'add', name)
                made.append(name)
                _ip('-n', name, 'link', 'set', 'lo', 'up')
            _ip('-n', a, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1', 'netns', b)
            _ip('-n', a, 'addr', 'add', net + '.1/24', 'dev', 'v0')
            _ip('-n', b, 'addr', 'add', net + '.2/24', 'dev', 'v1')
            _ip('-n', a, 'link', 'set', 'v0', 'up')
            _ip('-n', b, 'link', 'set', 'v1', 'up')
        yield made
    finally:
        for name in made:
            subprocess.run(['ip', 'netns', 'delete', name], check=False)


def test_flows_on_a_real_kernel(pairs, tmp_path):
    cut, steady = pairs[1], pairs[2]
    plan = {'dir': str(tmp_path), 'interval': 0.01,
            'flows': [{'id': 'cut', 'netns': pairs[0], 'target': '192.0.2.2'},
                      {'id': 'steady', 'netns': steady, 'target': '198.51.100.2'}]}
    assert traffic.start(plan)['stale'] == []
    # started again without a stop (an interrupted run): the old flows are stopped, the new ones write files of
    # their own
    started = traffic.start(plan)
    assert started['stale'] == ['cut', 'steady']
    assert started['not_ready'] == [] and len(started['pids']) == 2
    time.sleep(0.5)
    # the far end stops answering for half a second (its address gone; the sender sees nothing: the echoes are lost
    # on the way, as on a bridge or bond that drops them)
    _ip('-n', cut, 'addr', 'del', '192.0.2.2/24', 'dev', 'v1')
    time.sleep(0.5)
    _ip('-n', cut, 'addr', 'add', '192.0.2.2/24', 'dev', 'v1')
    time.sleep(1.0)
    results = traffic.stop(plan)
    assert os.listdir(str(tmp_path)) == []  # its files are gone with the flows
    for result in results.values():
        assert result['summary'] and result['stop'] is None
        # every echo accounted for: answered, lost, or in flight at the stop
        assert result['sent'] == result['received'] + result['holes'] + result['tail']
    assert results['steady']['lost'] == 0 and results['steady']['received'] > 50
    assert results['cut']['lost'] > 0 and results['cut']['gap_ms'] >= 450
    assert results['cut']['last'] > results['cut']['first']  # it came back after the cut


UPLINK = {'bond': 'data-bo', 'bridge': 'data-br', 'slaves': ['eth1', 'eth2'], 'mode': 'active-backup',
          'miimon': 100, 'downdelay': 0, 'mtu': 1500, 'active': 'eth1', 'vids': [100, 200, 300]}


def test_recreate_way_of_an_mtu_change():
    """Harvester's controller on an MTU change: the bond deleted and added again, its NICs enslaved again (each down,
    master, up), the bond back under the bridge, then the VIDs (the new port has only the bridge's default PVID)."""
    steps = hitless.recreate_steps('mtu_up', 'ns1', UPLINK, UPLINK)
    assert [step['argv'][:4] for step in steps] == [['ip', '-n', 'ns1', '-batch'], ['bridge', '-n', 'ns1', '-batch']]
    assert steps[0]['input'].splitlines() == [
        'link del data-bo', 'link add data-bo mtu 9000 type bond mode active-backup miimon 100', 'link set data-bo up',
        'link set eth1 down', 'link set eth1 master data-bo', 'link set eth1 up',
        'link set eth2 down', 'link set eth2 master data-bo', 'link set eth2 up', 'link set data-bo master data-br']
    assert steps[1]['input'].splitlines() == ['vlan add dev data-bo vid %d' % vid for vid in (100, 200, 300)]
    # back down: to the MTU the stage found, whatever the bond has now
    now = dict(UPLINK, mtu=9000)
    assert 'link add data-bo mtu 1500 type' in hitless.recreate_steps('mtu_down', 'ns1', UPLINK, now)[0]['input']


def test_recreate_way_of_a_member_change_is_in_place():
    out = hitless.recreate_steps('member_out', 'ns1', UPLINK, UPLINK)
    assert out[0]['input'].splitlines() == ['link set eth2 nomaster', 'link set eth2 up']
    back = hitless.recreate_steps('member_in', 'ns1', UPLINK, dict(UPLINK, slaves=['eth1']))
    assert back[0]['input'].splitlines() == ['link set eth2 down', 'link set eth2 master data-bo', 'link set eth2 up']


def test_which_flows_a_change_concerns():
    across = {'id': 'f1', 'nodes': ['node1', 'node2'], 'across': True, 'vid': 100}
    local = {'id': 'f2', 'nodes': ['node1'], 'across': False, 'vid': 300}
    uplinks = {'node1': UPLINK, 'node2': dict(UPLINK, active='eth2')}
    # the member leaving (eth2) carries node2's traffic: the flow across node2 is concerned, the local one is not
    assert hitless.concerned('member', across, uplinks)
    assert hitless.concerned('member', local, uplinks) is None
    assert hitless.concerned('mtu', across, uplinks) is None
    # VID 300 leaves the trunk: a flow on VLAN 300 inside one node does not cross it
    assert hitless.concerned('vlans', local, uplinks) is None
    assert hitless.concerned('vlans', dict(local, across=True, nodes=['node1', 'node2']), uplinks)
    result = {'lost': 3, 'sent': 500, 'received': 497, 'in_flight': 2}
    verdicts = hitless.judge('member', [across, local], {'f1': result, 'f2': result}, uplinks, 0.01)
    assert verdicts['f1'][0] and not verdicts['f2'][0]  # 3 <= 11 + 2 (failover of miimon 100 ms); 3 > 0


def test_a_tcp_session_on_a_real_kernel(pairs, tmp_path):
    """The session witness (change 5): one socket, echoes before the change and after it; an outage in between (the
    server's address gone for half a second) is bridged by TCP's retransmits on the same socket; a session whose
    server is gone for good is reported as failed."""
    client, server = pairs[0], pairs[1]
    plan = {'dir': str(tmp_path), 'interval': 0.01, 'flows': [],
            'sessions': [{'id': 's', 'server_netns': server, 'client_netns': client, 'address': '192.0.2.2',
                          'port': 7070}]}
    started = traffic.start(plan)
    assert started['not_ready'] == [] and len(started['sessions']['s']) == 2
    time.sleep(0.3)
    plan['marks'] = {'before': time.time()}
    _ip('-n', server, 'addr', 'del', '192.0.2.2/24', 'dev', 'v1')
    time.sleep(0.5)
    _ip('-n', server, 'addr', 'add', '192.0.2.2/24', 'dev', 'v1')
    plan['marks']['after'] = time.time()
    time.sleep(2.0)
    got = traffic.stop(plan)['sessions']['s']
    assert got['survived'], got
    assert got['connects'] == 1 and got['accepted'] == 1 and got['peer'] == got['local']
    assert got['before'] > 0 and got['after'] > 0 and got['bytes_after'] > 0 and got['in_order']
    assert got['gap_ms'] >= 450
    assert os.listdir(str(tmp_path)) == []


def test_session_verdict_of_a_broken_session():
    log = '1000.0 1\n1000.1 2\n'
    got = traffic.session_verdict(log, {'connects': 1, 'local': '192.0.2.1:5000', 'error': 'timeout: timed out'},
                                  {'accepted': 1, 'peer': '192.0.2.1:5000'}, {'before': 1000.05, 'after': 1000.2})
    assert (got['before'], got['after'], got['survived']) == (1, 0, False)
    # echoes after the change, but on a second connection: not the same session
    log = '1000.0 1\n1000.3 2\n'
    got = traffic.session_verdict(log, {'connects': 1, 'local': '192.0.2.1:5001'},
                                  {'accepted': 1, 'peer': '192.0.2.1:5000'}, {'before': 1000.05, 'after': 1000.2})
    assert (got['before'], got['after'], got['survived']) == (1, 1, False)


def test_recreate_way_of_bond_options():
    """Harvester's controller on a miimon or mode change (compareBond differs): the bond deleted and added again with
    the new option, the others as they are now; back: the option the stage found."""
    first = hitless.recreate_steps('miimon_a', 'ns1', UPLINK, UPLINK)[0]['input'].splitlines()
    assert first[:2] == ['link del data-bo', 'link add data-bo mtu 1500 type bond mode active-backup miimon 200']
    assert first[-1] == 'link set data-bo master data-br'
    mode = hitless.recreate_steps('mode_a', 'ns1', UPLINK, UPLINK)[0]['input'].splitlines()
    assert mode[1] == 'link add data-bo mtu 1500 type bond mode 802.3ad miimon 100'
    back = hitless.recreate_steps('mode_b', 'ns1', UPLINK, dict(UPLINK, mode='802.3ad'))[0]['input'].splitlines()
    assert back[1] == 'link add data-bo mtu 1500 type bond mode active-backup miimon 100'
    # ours: the option alone, on the live bond
    assert hitless._ours('miimon_a', UPLINK)['bond_options'] == {'miimon': 200}  # pylint: disable=protected-access
    assert hitless._ours('mode_b', UPLINK)['bond_options'] == {'mode': 'active-backup'}  # pylint: disable=protected-access


def test_recreate_way_of_the_management_migration():
    """v0.2.6's Vlan.Setup on the management NIC: the address on the bridge and the gateway route through it before
    the NIC is enslaved, the NIC's routes deleted last; the restore puts the node back."""
    mgmt = {'nic': 'eth0', 'address': '10.10.0.11/24', 'network': '10.10.0.0/24', 'gateway': '10.10.0.1',
            'ip': '10.10.0.11'}
    lines = hitless.recreate_steps('mgmt_in', 'ns1', UPLINK, UPLINK, mgmt)[0]['input'].splitlines()
    assert lines.index('addr add 10.10.0.11/24 dev harvester-br0') < lines.index('link set eth0 master harvester-br0')
    assert lines.index('route append default via 10.10.0.1 dev harvester-br0') < lines.index(
        'link set eth0 master harvester-br0') < lines.index('route del default via 10.10.0.1 dev eth0')
    assert 'addr del' not in ''.join(lines)  # the NIC keeps its address (SyncIPv4Addr copies it)


def test_management_restore_on_a_real_kernel(pairs):
    """The restore after change 5 puts the address, its prefix route and the default route back on the NIC, whether
    the window moved them onto harvester-br0 or never applied the change (a run in the lab failed on that case: the
    restore's ip batch stopped at the missing bridge and the whole stage with it)."""
    node = pairs[0]
    mgmt = {'nic': 'v0', 'address': '192.0.2.1/24', 'network': '192.0.2.0/24', 'gateway': '192.0.2.2',
            'ip': '192.0.2.1'}
    _ip('-n', node, 'route', 'add', 'default', 'via', '192.0.2.2')

    def restored():
        step = hitless.mgmt_restore(node, mgmt)
        subprocess.run(step['argv'], check=True, capture_output=True, text=True)
        routes = _ip('-n', node, 'route', 'show')
        assert 'default via 192.0.2.2 dev v0' in routes and '192.0.2.0/24 dev v0' in routes, routes
        assert '192.0.2.1/24' in _ip('-n', node, 'addr', 'show', 'dev', 'v0')
        assert 'harvester-br0' not in _ip('-n', node, 'link', 'show')
    restored()  # nothing was moved: the bridge is missing, the address already there
    # moved the way the engine's migrate leaves it: the address and routes on the bridge, the NIC its port
    _ip('-n', node, 'link', 'add', 'harvester-br0', 'type', 'bridge')
    _ip('-n', node, 'link', 'set', 'harvester-br0', 'up')
    _ip('-n', node, 'addr', 'add', '192.0.2.1/24', 'dev', 'harvester-br0')
    _ip('-n', node, 'addr', 'del', '192.0.2.1/24', 'dev', 'v0')
    _ip('-n', node, 'link', 'set', 'v0', 'master', 'harvester-br0')
    _ip('-n', node, 'route', 'replace', 'default', 'via', '192.0.2.2', 'dev', 'harvester-br0')
    restored()


def test_selected_changes(monkeypatch):
    monkeypatch.delenv('HN_LAB_HITLESS_CHANGES', raising=False)
    assert [change[0] for change in hitless.selected()] == [change[0] for change in hitless.CHANGES]
    monkeypatch.setenv('HN_LAB_HITLESS_CHANGES', '1-3')
    assert [change[0] for change in hitless.selected()] == ['vlans', 'member', 'mtu']
    monkeypatch.setenv('HN_LAB_HITLESS_CHANGES', '4,6')
    assert [change[0] for change in hitless.selected()] == ['options', 'mode', 'rolling']
    monkeypatch.setenv('HN_LAB_HITLESS_CHANGES', 'all')
    with pytest.raises(ValueError, match='HN_LAB_HITLESS_CHANGES'):
        hitless.selected()


def test_a_mode_change_is_judged_on_coming_back():
    """A mode change (a kernel rule) may cost the flows through the bonds echoes, not their return; flows inside one
    node's bridge must lose nothing."""
    across = {'id': 'f1', 'nodes': ['node1', 'node2'], 'across': True, 'vid': 100}
    local = {'id': 'f2', 'nodes': ['node1'], 'across': False, 'vid': 300}
    uplinks = {'node1': UPLINK, 'node2': UPLINK}
    came_back = {'sent': 300, 'received': 200, 'lost': 100, 'holes': 100, 'tail': 0, 'in_flight': 3}
    cut = {'sent': 300, 'received': 100, 'lost': 200, 'holes': 0, 'tail': 200, 'in_flight': 3}
    verdicts = hitless.judge('mode', [across, local], {'f1': came_back, 'f2': came_back}, uplinks, 0.01)
    assert verdicts['f1'][0] and not verdicts['f2'][0]
    assert not hitless.judge('mode', [across], {'f1': cut}, uplinks, 0.01)['f1'][0]
    rolling = hitless.judge('rolling', [across], {'f1': dict(came_back, lost=0)}, uplinks, 0.01)['f1']
    assert rolling[0] and rolling[1].startswith('one node')
