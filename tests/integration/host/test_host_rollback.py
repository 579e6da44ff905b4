"""Rollback on the real kernel: a failing probe, a netlink error midway; the node ends up exactly as before."""

import socket

import pytest

import witness
from host_support import make_node

from ansible_collections.harvester.network.plugins.module_utils.host import apply, facts
from ansible_collections.harvester.network.plugins.module_utils.host.netlink import FAULTS


@pytest.fixture
def node(make_netns, veth, tmp_path):
    """A node whose management NIC eth4 reaches a real gateway (192.168.122.1, in the switch namespace), with
    a bond and a VLAN bridge already in place."""
    node = make_node(make_netns, veth, tmp_path)
    node.switch.ip('addr', 'add', '192.168.122.1/24', 'dev', 'sw-eth4')
    node.ns.ip('addr', 'add', '192.168.122.10/24', 'dev', 'eth4')
    node.ns.ip('route', 'add', 'default', 'via', '192.168.122.1')
    node.converge('host_network', {
        'bonds': [{'name': 'data-bo', 'mode': 'active-backup', 'slaves': ['eth1'], 'miimon': 100}],
        'bridges': [{'name': 'data-br', 'uplink': 'data-bo', 'ports': ['vm1']}],
        'vlans': [{'port': 'data-bo', 'vids': ['100-199']}, {'port': 'vm1', 'pvid': 150}],
        'probes': {'gateway': False}})
    return node


def test_failing_gateway_probe_restores_exactly(node):
    """The management NIC goes into the data bond by mistake (a bond slave cannot keep its address): the node
    loses its gateway, the default probe notices, and everything done in the same run comes back."""
    before, seen = node.state(), node.snapshot()
    error = node.fail('host_network', {
        'state': 'replaced',
        'bonds': [{'name': 'data-bo', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2', 'eth4'], 'lacp_rate': 'fast'}],
        'bridges': [{'name': 'data-br', 'uplink': 'data-bo', 'ports': ['vm2'], 'mtu': 9000}],
        'vlans': [{'port': 'data-bo', 'vids': '2-4094'}]})
    message = str(error)
    assert 'probe failed' in message and 'ping 192.168.122.1' in message and 'exactly as before' in message
    report = error.result['rollback']
    assert report['restored'] is True and report['undone'] > 0 and report['remaining'] == []
    after = node.state()
    assert facts.differences(before, after) == []
    assert facts.to_config(after) == facts.to_config(before)
    assert error.result['changed'] is False
    assert witness.differences(seen, node.snapshot(), new_link_local_ok=True) == []
    node.ns.run(['ping', '-c', '1', '-W', '5', '192.168.122.1'])


def test_failing_tcp_probe_restores(node):
    """A user probe: the API server port must answer; nothing listens there, so the change is rolled back."""
    before, seen = node.state(), node.snapshot()
    error = node.fail('host_network', {
        'bridges': [{'name': 'data-br', 'uplink': 'data-bo', 'ports': ['vm1', 'vm2'], 'mtu': 9000}],
        'probes': {'gateway': False, 'tcp': [{'host': '192.168.122.1', 'port': 6443, 'timeout': 1.0}]}})
    assert 'tcp 192.168.122.1:6443' in str(error) and error.result['rollback']['restored'] is True
    assert facts.differences(before, node.state()) == []
    assert witness.differences(seen, node.snapshot(), new_link_local_ok=True) == []


def test_probe_passes_keeps_the_change(node):
    listener = None
    with node.switch.enter():
        listener = socket.socket()
    try:
        listener.bind(('192.168.122.1', 6443))
        listener.listen(5)
        result = node.run('host_network', {
            'bridges': [{'name': 'data-br', 'uplink': 'data-bo', 'ports': ['vm1', 'vm2']}],
            'probes': {'tcp': [{'host': '192.168.122.1', 'port': 6443, 'interface': 'eth4'}],
                       'ping': [{'target': '192.168.122.1', 'interface': 'eth4'}]}})
    finally:
        listener.close()
    assert result['changed'] and all(probe['ok'] for probe in result['probes'])
    assert [probe['auto'] for probe in result['probes']] == [True, False, False]
    assert node.link('vm2')['master'] == 'data-br'


def test_netlink_error_midway_restores(node):
    """eth3 vanishes between planning and applying (a NIC unplugged, just before the first request goes out): the
    bond change fails on it, the error says so, and everything done before is undone."""
    before, seen = node.state(), node.snapshot()
    FAULTS.reset()
    FAULTS.inject(1, hook=lambda: node.ns.ip('link', 'del', 'eth3'))
    try:
        error = node.fail('host_network', {
            'bonds': [{'name': 'data-bo', 'slaves': ['eth1', 'eth2', 'eth3'], 'mtu': 4000}],
            'vlans': [{'port': 'data-bo', 'vids': ['300-399']}],
            'probes': {'enabled': False}})
    finally:
        FAULTS.reset()
    message = str(error)
    assert 'apply failed: ip link set eth3' in message and 'No such device' in message
    report = error.result['rollback']
    assert report['vanished'] == ['eth3'] and report['restored'] is True
    journal = dict((entry['op'], entry['status']) for entry in error.result['journal'])
    assert journal['ip link set eth2 master data-bo'] == 'done'
    assert facts.differences(apply.without_links(before, ['eth3', 'sw-eth3']), node.state()) == []
    gone = witness.without_links(seen, ['eth3'])
    assert witness.differences(gone, node.snapshot(), new_link_local_ok=True) == []


def test_rollback_disabled_leaves_the_node(node):
    error = node.fail('host_network', {'bonds': [{'name': 'mgmt-bo', 'slaves': ['eth4']}], 'rollback': False})
    assert 'probe failed' in str(error) and 'rollback disabled' in str(error)
    assert node.link('eth4')['master'] == 'mgmt-bo' and node.addresses('eth4') == []
