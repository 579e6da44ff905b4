"""host_bridge on the real kernel: Harvester's bridge, MTU following the uplink, migration of addresses."""

import json
import time

import pytest

from host_support import make_node

from ansible_collections.harvester.network.plugins.module_utils.host import facts


@pytest.fixture
def node(make_netns, veth, tmp_path):
    return make_node(make_netns, veth, tmp_path)


def test_harvester_bridge_and_mtu(node):
    result = node.converge('host_bridge', {'name': 'vlan-br', 'uplink': 'eth1'})
    link = node.link('vlan-br')
    info = link['linkinfo']['info_data']
    assert info['vlan_filtering'] == 1 and info['stp_state'] == 0 and info['vlan_default_pvid'] == 1
    assert 'PROMISC' in link['flags'] and 'UP' in link['flags']
    assert node.link('eth1')['master'] == 'vlan-br'
    assert result['after']['uplink'] == 'eth1' or result['after']['ports'] == ['eth1']

    # mtu sets the bridge and its uplink together; a VM port with a smaller MTU does not drag the bridge down.
    node.converge('host_bridge', {'name': 'vlan-br', 'uplink': 'eth1', 'mtu': 9000})
    assert node.link('vlan-br')['mtu'] == 9000 and node.link('eth1')['mtu'] == 9000
    node.converge('host_bridge', {'name': 'vlan-br', 'uplink': 'eth1', 'ports': ['vm1']})
    assert node.link('vm1')['mtu'] == 1500 and node.link('vlan-br')['mtu'] == 9000

    # The uplink's MTU changes elsewhere: without mtu, the bridge follows it (harvester#4353).
    node.ns.ip('link', 'set', 'eth1', 'mtu', '4000')
    followed = node.converge('host_bridge', {'name': 'vlan-br', 'uplink': 'eth1'})
    assert followed['changed'] and node.link('vlan-br')['mtu'] == 4000

    # Options Harvester does not offer; default_pvid moves the ports still on the old default.
    node.converge('host_bridge', {'name': 'vlan-br', 'uplink': 'eth1', 'default_pvid': 10, 'stp': True,
                                  'promisc': False})
    info = node.link('vlan-br')['linkinfo']['info_data']
    assert info['vlan_default_pvid'] == 10 and info['stp_state'] == 1
    assert 'PROMISC' not in node.link('vlan-br')['flags']
    assert node.vlans('eth1') == {10: {'PVID', 'Egress Untagged'}}

    # purge_ports: exactly the uplink and the listed ports.
    node.converge('host_bridge', {'name': 'vlan-br', 'uplink': 'eth1', 'ports': ['vm2'], 'purge_ports': True,
                                  'default_pvid': 10, 'stp': True, 'promisc': False})
    assert 'master' not in node.link('vm1') and node.link('vm2')['master'] == 'vlan-br'

    gone = node.converge('host_bridge', {'name': 'vlan-br', 'state': 'absent'})
    assert gone['after'] == {} and 'vlan-br' not in node.links() and 'master' not in node.link('eth1')


def _carrier_changes(node, links):
    """sysfs carrier_changes of ``links`` in the node's namespace (the witness of a link going down and up)."""
    out = node.ns.run(['sh', '-c', 'for l in %s; do cat /sys/class/net/$l/carrier_changes; done' % ' '.join(links)]).stdout
    return dict(zip(links, (int(word) for word in out.split())))


def test_mtu_of_a_live_uplink_never_takes_a_link_down(node):
    """Issue 15 (hitless): changing the MTU of a bond and its bridge changes the bond (with its NICs) first, then the
    bridge, both ways; no link goes down or changes its ifindex (sysfs carrier_changes, iproute2)."""
    node.converge('host_network', {'bonds': [{'name': 'up-bo', 'mode': 'active-backup', 'slaves': ['eth1', 'eth2']}],
                                   'bridges': [{'name': 'up-br', 'uplink': 'up-bo', 'ports': ['vm1']}],
                                   'vlans': [{'port': 'up-bo', 'vids': [100, 200]}]})
    links = ['up-bo', 'up-br', 'eth1', 'eth2', 'vm1']
    index = dict((name, node.link(name)['ifindex']) for name in links)
    flaps = _carrier_changes(node, links)
    for mtu, order in ((9000, ['up-bo', 'up-br']), (1500, ['up-bo', 'up-br'])):
        result = node.converge('host_network', {'bonds': [{'name': 'up-bo', 'mtu': mtu}],
                                                'bridges': [{'name': 'up-br', 'mtu': mtu}]})
        assert result['commands'] == ['ip link set %s mtu %d' % (name, mtu) for name in order]
        assert [node.link(name)['mtu'] for name in ('up-bo', 'up-br', 'eth1', 'eth2')] == [mtu] * 4
        assert node.link('vm1')['mtu'] == 1500  # a VM port keeps its own
    assert dict((name, node.link(name)['ifindex']) for name in links) == index
    assert _carrier_changes(node, links) == flaps
    assert sorted(node.vlans('up-bo')) == [1, 100, 200]


def test_migrate_management_addresses(node):
    """v0.3 on one NIC: address and routes move to the bridge, gateway routes last, and traffic still flows."""
    node.switch.ip('addr', 'add', '192.168.122.1/24', 'dev', 'sw-eth4')
    node.switch.ip('addr', 'add', '10.77.0.1/32', 'dev', 'lo')
    node.ns.ip('addr', 'add', '192.168.122.10/24', 'dev', 'eth4')
    node.ns.ip('route', 'add', 'default', 'via', '192.168.122.1')
    node.ns.ip('route', 'add', '10.10.0.0/16', 'via', '192.168.122.1', 'metric', '50')
    node.switch.ip('route', 'add', 'default', 'via', '192.168.122.10')
    params = {'name': 'harvester-br0', 'uplink': 'eth4', 'migrate': True}
    predicted = node.run('host_bridge', params, check=True)
    result = node.converge('host_bridge', params)
    assert result['plan'] == predicted['plan']
    commands = result['commands']
    assert commands.index('ip addr add 192.168.122.10/24 dev harvester-br0') < commands.index(
        'ip addr del 192.168.122.10/24 dev eth4')
    assert commands[-1] == 'ip -4 route add 0.0.0.0/0 via 192.168.122.1 dev harvester-br0 metric 0'
    assert node.addresses('harvester-br0') == ['192.168.122.10/24'] and node.addresses('eth4') == []
    routes = dict((r['dst'], r) for r in node.routes() if 'gateway' in r)
    assert routes['default']['dev'] == 'harvester-br0' and routes['10.10.0.0/16']['dev'] == 'harvester-br0'
    assert result['after']['uplink_addresses'] == []
    # The node still reaches the world through the bridge.
    node.ns.run(['ping', '-c', '1', '-W', '5', '10.77.0.1'])


def other_routes_node(node):
    node.ns.ip('addr', 'add', '192.168.122.10/24', 'dev', 'eth4')
    node.ns.ip('addr', 'add', '10.1.0.2/24', 'dev', 'eth3')
    node.ns.ip('route', 'add', 'default', 'via', '192.168.122.1')
    node.ns.ip('route', 'add', '10.9.0.0/16', 'via', '192.168.122.254', 'dev', 'eth4', 'table', '100')
    node.ns.ip('route', 'add', '10.7.0.0/16', 'via', '10.1.0.254', 'dev', 'eth3', 'table', '100')
    node.ns.ip('route', 'add', '10.8.0.0/16', 'nexthop', 'via', '192.168.122.254', 'dev', 'eth4',
               'nexthop', 'via', '10.1.0.254', 'dev', 'eth3')


def test_migrate_moves_other_tables_and_multipath(node):
    """A route in another table and a multipath route through the uplink move onto the bridge with the addresses
    (the kernel would drop them when the uplink's last address goes); check mode predicts it, a failing probe
    rolls all of it back, and a change that would drop such a route without moving it is refused."""
    # What the kernel does (and the kernel model says): a link's last IPv4 address leaving takes its routes in
    # every table.
    node.ns.ip('addr', 'add', '10.2.0.2/24', 'dev', 'eth2')
    node.ns.ip('route', 'add', '10.6.0.0/16', 'via', '10.2.0.254', 'dev', 'eth2', 'table', '100')
    node.ns.ip('addr', 'del', '10.2.0.2/24', 'dev', 'eth2')
    assert '10.6.0.0' not in node.ns.ip('route', 'show', 'table', '100').stdout
    other_routes_node(node)
    before = node.state()
    assert sorted(before['other_routes']) == [
        'ip -4 route add 10.7.0.0/16 table 100 metric 0 via 10.1.0.254 dev eth3',
        'ip -4 route add 10.8.0.0/16 table main metric 0 nexthop via 192.168.122.254 dev eth4 nexthop via 10.1.0.254'
        ' dev eth3',
        'ip -4 route add 10.9.0.0/16 table 100 metric 0 via 192.168.122.254 dev eth4']

    # A failing probe: everything, the moved routes included, goes back exactly.
    params = {'bridges': [{'name': 'harvester-br0', 'uplink': 'eth4', 'migrate': True}],
              'probes': {'gateway': False, 'tcp': [{'host': '192.168.122.1', 'port': 9, 'timeout': 1}]}}
    error = node.fail('host_network', params)
    assert error.result['rollback']['restored'] is True, error.result['rollback']
    assert facts.differences(before, node.state()) == []

    params = {'name': 'harvester-br0', 'uplink': 'eth4', 'migrate': True}
    predicted = node.run('host_bridge', params, check=True)
    result = node.converge('host_bridge', params)
    assert result['plan'] == predicted['plan'] and not [w for w in result['warnings'] if 'predicted' in w]
    assert result['commands'][-1] == 'ip -4 route add 10.9.0.0/16 table 100 metric 0 via 192.168.122.254 dev ' \
                                     'harvester-br0'
    table = dict((r['dst'], r) for r in json.loads(node.ns.ip('-j', 'route', 'show', 'table', '100').stdout))
    assert table['10.9.0.0/16']['dev'] == 'harvester-br0' and table['10.7.0.0/16']['dev'] == 'eth3'
    main = dict((r['dst'], r) for r in node.routes())
    assert sorted(hop['dev'] for hop in main['10.8.0.0/16']['nexthops']) == ['eth3', 'harvester-br0']
    assert node.run('host_bridge', params)['changed'] is False


def test_changes_that_would_drop_other_routes_are_refused(node):
    other_routes_node(node)
    table_before = node.ns.ip('route', 'show', 'table', '100').stdout
    before = node.state()
    for check in (True, False):
        error = node.fail('host_bond', {'name': 'bo0', 'slaves': ['eth3']}, check=check)
        errors = error.result['errors']
        assert sorted(e.split(' goes through')[0] for e in errors) == [
            'bond.slaves: ip -4 route add 10.7.0.0/16 table 100 metric 0 via 10.1.0.254 dev eth3',
            'bond.slaves: ip -4 route add 10.8.0.0/16 table main metric 0 nexthop via 192.168.122.254 dev eth4 '
            'nexthop via 10.1.0.254 dev eth3'], errors
        assert all('delete it first (ip -4 route del 10.' in e for e in errors)
    assert facts.differences(before, node.state()) == []
    assert node.ns.ip('route', 'show', 'table', '100').stdout == table_before
    error = node.fail('host_network', {'state': 'overridden', 'probes': {'enabled': False},
                                       'addresses': [{'interface': 'eth4', 'address': '192.168.122.10/24'}]})
    assert all(e.startswith('addresses: ip -4 route add 10.') for e in error.result['errors'])


def test_migrate_under_a_tcp_session(node, tmp_path):
    """Issue 15, change 5 on the real kernel: a TCP session from the switch to the node's management address keeps
    flowing on its one socket while the address and routes move onto harvester-br0 (the lab's session witness,
    lab/traffic.py: the server accepted one connection, from the client's port; echoes before and after)."""
    from lab import traffic  # pylint: disable=import-outside-toplevel
    node.switch.ip('addr', 'add', '192.168.122.1/24', 'dev', 'sw-eth4')
    node.ns.ip('addr', 'add', '192.168.122.10/24', 'dev', 'eth4')
    node.ns.ip('route', 'add', 'default', 'via', '192.168.122.1')
    plan = {'dir': str(tmp_path / 'traffic'), 'interval': 0.01, 'flows': [],
            'sessions': [{'id': 'mgmt', 'server_netns': node.ns.name, 'client_netns': node.switch.name,
                          'address': '192.168.122.10', 'port': 7070}]}
    started = traffic.start(plan)
    assert started['not_ready'] == [], started
    before = time.time()
    # one run (its idempotence and settling are test_migrate_management_addresses'): the claim here is the session
    assert node.run('host_bridge', {'name': 'harvester-br0', 'uplink': 'eth4', 'migrate': True})['changed']
    after = time.time()
    assert node.addresses('harvester-br0') == ['192.168.122.10/24'] and node.addresses('eth4') == []
    time.sleep(1.0)
    plan['marks'] = {'before': before, 'after': after}
    got = traffic.stop(plan)['sessions']['mgmt']
    assert got['survived'], got
    assert got['accepted'] == 1 and got['peer'] == got['local'] and got['bytes_before'] > 0 and got['bytes_after'] > 0
