"""host_bridge on the real kernel: Harvester's bridge, MTU following the uplink, migration of addresses."""

import pytest

from host_support import make_node


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


def test_migrate_refuses_routes_it_does_not_move(node):
    """A route in another table, and a multipath route, through the uplink: the kernel would drop them when the
    uplink's addresses move, and the engine does not move them. The change is refused before anything is written,
    naming each route and the commands that move it; once they are out of the way, the migration runs."""
    node.ns.ip('addr', 'add', '192.168.122.10/24', 'dev', 'eth4')
    node.ns.ip('addr', 'add', '10.1.0.2/24', 'dev', 'eth3')
    node.ns.ip('route', 'add', 'default', 'via', '192.168.122.1')
    node.ns.ip('route', 'add', '10.9.0.0/16', 'via', '192.168.122.254', 'dev', 'eth4', 'table', '100')
    node.ns.ip('route', 'add', '10.7.0.0/16', 'via', '10.1.0.254', 'dev', 'eth3', 'table', '100')
    # What the kernel model says (and the refusal rests on): a link's last IPv4 address leaving takes its routes in
    # every table.
    node.ns.ip('addr', 'add', '10.2.0.2/24', 'dev', 'eth2')
    node.ns.ip('route', 'add', '10.6.0.0/16', 'via', '10.2.0.254', 'dev', 'eth2', 'table', '100')
    node.ns.ip('addr', 'del', '10.2.0.2/24', 'dev', 'eth2')
    assert '10.6.0.0' not in node.ns.ip('route', 'show', 'table', '100').stdout
    node.ns.ip('route', 'add', '10.8.0.0/16', 'nexthop', 'via', '192.168.122.254', 'dev', 'eth4',
               'nexthop', 'via', '10.1.0.254', 'dev', 'eth3')
    table_before = node.ns.ip('route', 'show', 'table', '100').stdout
    main_before = node.ns.ip('route', 'show', 'table', 'main').stdout
    before = node.state()
    assert sorted(before['other_routes']) == [
        'ip -4 route add 10.7.0.0/16 table 100 metric 0 via 10.1.0.254 dev eth3',
        'ip -4 route add 10.8.0.0/16 table main metric 0 nexthop via 192.168.122.254 dev eth4 nexthop via 10.1.0.254'
        ' dev eth3',
        'ip -4 route add 10.9.0.0/16 table 100 metric 0 via 192.168.122.254 dev eth4']
    params = {'name': 'harvester-br0', 'uplink': 'eth4', 'migrate': True}
    for check in (True, False):
        error = node.fail('host_bridge', params, check=check)
        errors = error.result['errors']
        assert len(errors) == 2 and all(e.startswith('bridge.migrate: ip -4 route add 10.') for e in errors), errors
        assert any('(ip -4 route add 10.9.0.0/16 table 100 metric 0 via 192.168.122.254 dev harvester-br0)' in e
                   for e in errors)
        assert any('a multipath route' in e and 'nexthop via 192.168.122.254 dev harvester-br0 nexthop via '
                   '10.1.0.254 dev eth3' in e for e in errors)
        assert 'harvester-br0' not in node.links()
        assert node.ns.ip('route', 'show', 'table', '100').stdout == table_before
        assert node.ns.ip('route', 'show', 'table', 'main').stdout == main_before
    # host_network names the field in its own terms
    error = node.fail('host_network', {'bridges': [params], 'probes': {'enabled': False}})
    assert all(e.startswith('bridges[0].migrate: ') for e in error.result['errors'])

    # What the error says to do: take them out of the way, migrate, put them back through the bridge.
    node.ns.ip('route', 'del', '10.9.0.0/16', 'table', '100')
    node.ns.ip('route', 'del', '10.8.0.0/16')
    node.converge('host_bridge', params)
    node.ns.ip('route', 'add', '10.9.0.0/16', 'via', '192.168.122.254', 'dev', 'harvester-br0', 'table', '100')
    node.ns.ip('route', 'add', '10.8.0.0/16', 'nexthop', 'via', '192.168.122.254', 'dev', 'harvester-br0',
               'nexthop', 'via', '10.1.0.254', 'dev', 'eth3')
    assert node.run('host_bridge', params)['changed'] is False
    assert '10.7.0.0/16 via 10.1.0.254 dev eth3' in node.ns.ip('route', 'show', 'table', '100').stdout
