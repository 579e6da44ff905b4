"""host_network and host_network_info on the real kernel: the whole node per state, the round trip."""

import copy

import pytest

import witness
from host_support import HARVESTER_NODE, Node, make_node, predicted_exactly


@pytest.fixture
def node(make_netns, veth, tmp_path):
    node = make_node(make_netns, veth, tmp_path)
    node.ns.ip('addr', 'add', '192.168.122.10/24', 'dev', 'eth4')
    node.ns.ip('route', 'add', 'default', 'via', '192.168.122.1', 'dev', 'eth4')
    return node


def test_states_and_round_trip(node):
    merged = node.converge('host_network', HARVESTER_NODE)
    assert node.link('data-br')['mtu'] == 9000 and node.link('data-bo')['master'] == 'data-br'
    assert sorted(node.vlans('data-bo')) == [1, 100, 200]
    assert merged['before']['bonds'] == [] and merged['after']['bonds'][0]['slaves'] == ['eth1', 'eth2']

    # MAC addresses set on a bond and a bridge are gathered, with the other options.
    node.converge('host_bond', {'name': 'data-bo', 'mac': '02:00:00:00:0b:01'})
    node.converge('host_bridge', {'name': 'data-br', 'mac': '02:00:00:00:0b:02'})
    assert node.link('data-bo')['address'] == '02:00:00:00:0b:01'
    assert node.link('data-br')['address'] == '02:00:00:00:0b:02'

    # The round trip: host_network_info's output fed back with overridden changes nothing.
    info = node.run('host_network_info', {})
    gathered = info['gathered']
    assert [(bond['name'], bond['mac']) for bond in gathered['bonds']] == [('data-bo', '02:00:00:00:0b:01')]
    assert [(bridge['name'], bridge['mac']) for bridge in gathered['bridges']] == [('data-br', '02:00:00:00:0b:02')]
    assert {'interface': 'eth4', 'address': '192.168.122.10/24'} in gathered['addresses']
    slaves = [link for link in info['status']['links'] if link.get('bond_slave')]
    assert sorted(link['name'] for link in slaves) == ['eth1', 'eth2']
    rtt = node.run('host_network', dict(copy.deepcopy(gathered), state='overridden'))
    assert rtt['changed'] is False and rtt['commands'] == []
    same = node.run('host_network', {'state': 'gathered'})
    assert same['gathered'] == gathered

    # replaced: listed items exact, others untouched.
    replaced = node.converge('host_network', {
        'state': 'replaced', 'probes': {'enabled': False},
        'bonds': [{'name': 'data-bo', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2', 'eth3'], 'mtu': 9000}],
        'vlans': [{'port': 'data-bo', 'vids': ['100-110']}],
        'addresses': [{'interface': 'data-br', 'address': '10.5.0.2/24'}]})
    assert node.link('eth3')['master'] == 'data-bo' and sorted(node.vlans('data-bo')) == [1] + list(range(100, 111))
    assert node.addresses('data-br') == ['10.5.0.2/24'] and node.addresses('eth4') == ['192.168.122.10/24']
    assert replaced['after']['vlans'][0]['vids'] == ['100-110']

    # overridden: a bond not listed goes; unlisted addresses and routes too.
    node.converge('host_network', {'state': 'merged', 'probes': {'enabled': False},
                                   'bonds': [{'name': 'extra-bo', 'slaves': ['vm3']}]})
    final = copy.deepcopy(node.gathered())
    final['bonds'] = [bond for bond in final['bonds'] if bond['name'] != 'extra-bo']
    final['addresses'] = [a for a in final['addresses'] if a['interface'] != 'data-br']
    node.converge('host_network', dict(final, state='overridden', probes={'enabled': False}))
    assert 'extra-bo' not in node.links() and node.addresses('data-br') == []
    assert node.gathered() == final

    # deleted: the listed bridge and bond go (their ports and slaves are released).
    node.converge('host_network', {'state': 'deleted', 'bridges': [{'name': 'data-br'}],
                                   'bonds': [{'name': 'data-bo'}], 'probes': {'enabled': False}})
    assert 'data-br' not in node.links() and 'data-bo' not in node.links()
    assert node.addresses('eth4') == ['192.168.122.10/24']


def test_rendered_offline(node):
    rendered = node.run('host_network', dict(HARVESTER_NODE, state='rendered'))
    assert rendered['rendered'][0] == 'ip link add data-bo mtu 9000 type bond lacp_rate fast mode 802.3ad ' \
                                      'xmit_hash_policy layer3+4'
    assert 'bridge vlan add dev vm1 vid 100 pvid untagged' in rendered['rendered']
    assert 'data-bo' not in node.links()


def test_check_mode_predicts_the_run(node):
    predicted = node.run('host_network', HARVESTER_NODE, check=True)
    assert predicted['changed'] and 'data-bo' not in node.links()
    real = node.run('host_network', HARVESTER_NODE)
    assert real['plan'] == predicted['plan']
    assert predicted_exactly(predicted['after'], real['after'])
    assert real['diff']['before'] == predicted['diff']['before']
    assert not [w for w in real['warnings'] if 'predicted' in w]
    assert witness.config_differences(predicted['after'], node.snapshot()) == []


# Two identical nodes: NICs and VM ports with fixed MAC addresses, made in the same order (so the same ifindexes).
TWIN = '\n'.join(['link add %s address 02:00:00:00:%02x:01 type veth peer name %sp address 02:00:00:00:%02x:02'
                  % (name, number, name, number) for number, name in enumerate(
                      ('eth1', 'eth2', 'eth3', 'eth4', 'vm1', 'vm2', 'vm3'), 1)])


def test_rendered_replayed_by_iproute2_is_the_real_run(make_netns, tmp_path):
    """``state: rendered`` output, replayed through ``ip -batch``/``bridge -batch`` on a fresh node, leaves the
    same node (as the witness sees it: links, MACs, ifindexes, VLAN tables, addresses, routes, sysfs) as the
    module's real run on its twin."""
    params = dict(HARVESTER_NODE, addresses=[{'interface': 'data-br', 'address': '10.5.0.2/24'},
                                             {'interface': 'data-br', 'address': 'fd00:5::2/64'}],
                  routes=[{'dst': '10.6.0.0/16', 'gateway': '10.5.0.1'}])
    real, replay = make_netns('real'), make_netns('replay')
    for namespace in (real, replay):
        namespace.run(['ip', '-batch', '-'], input=TWIN)
    rendered = Node(replay, None, tmp_path).run('host_network', dict(params, state='rendered'))['rendered']
    assert witness.differences(witness.snapshot(real.name), witness.snapshot(replay.name)) == []
    Node(real, None, tmp_path).run('host_network', params)
    groups = []  # consecutive commands of one tool go through one -batch
    for command in rendered:
        for part in command.replace(' && ', '; ').split('; '):
            tool, line = part.split(' ', 1)
            if line.startswith(('-4 ', '-6 ')):  # no options in a batch line; ip takes the family from the address
                line = line[3:]
            if groups and groups[-1][0] == tool:
                groups[-1][1].append(line)
            else:
                groups.append((tool, [line]))
    for tool, lines in groups:
        replay.run([tool, '-batch', '-'], input='\n'.join(lines) + '\n')
    # Left out: IPv6 autoconfiguration that depends on the order links came up, not on the end state: the replay
    # brings data-br up before the engine would, so its bridge has carrier for a moment, gets its link-local address
    # and completes DAD for fd00:5::2 (local route), where the real run's data-br never had carrier yet; under other
    # timing it is the other way round (the real run's bridge has its link-local address, the replay's not yet), so
    # the bridge's kernel-made link-local address and its routes are left out in both directions.
    found = witness.differences(witness.settled(real.name, pause=1.0), witness.settled(replay.name, pause=1.0))
    assert [line for line in found if not witness.kernel_link_local(line)] == [], found


def test_codecs_agree(node, make_netns, veth, tmp_path, monkeypatch):
    """The built-in codec reads exactly what pyroute2 reads, and applying a plan with either gives the same node."""
    from ansible_collections.harvester.network.plugins.module_utils.host import facts
    from ansible_collections.harvester.network.plugins.module_utils.host.netlink import Netlink
    from host_support import enter_netns
    fast = node.converge('host_network', dict(HARVESTER_NODE, addresses=[
        {'interface': 'data-br', 'address': '10.5.0.2/24'}, {'interface': 'data-br', 'address': 'fd00:5::2/64'}],
        routes=[{'dst': '10.6.0.0/16', 'gateway': '10.5.0.1'}]))
    readings = {}
    for codec in ('fast', 'pyroute2'):
        with enter_netns(node.ns.name):
            nl = Netlink(codec=codec)
        try:
            readings[codec] = nl.read()
        finally:
            nl.close()
    assert readings['fast'] == readings['pyroute2']

    other = make_node(make_netns, veth, tmp_path / 'other')
    other.ns.ip('addr', 'add', '192.168.122.10/24', 'dev', 'eth4')
    other.ns.ip('route', 'add', 'default', 'via', '192.168.122.1', 'dev', 'eth4')
    monkeypatch.setenv('HARVESTER_NETWORK_CODEC', 'pyroute2')
    slow = other.converge('host_network', dict(HARVESTER_NODE, addresses=[
        {'interface': 'data-br', 'address': '10.5.0.2/24'}, {'interface': 'data-br', 'address': 'fd00:5::2/64'}],
        routes=[{'dst': '10.6.0.0/16', 'gateway': '10.5.0.1'}]))
    monkeypatch.delenv('HARVESTER_NETWORK_CODEC')
    assert slow['plan'] == fast['plan']
    assert facts.comparable(other.state()) == facts.comparable(node.state())
