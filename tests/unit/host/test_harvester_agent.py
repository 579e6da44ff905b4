"""The Harvester agent warning: the naming rule, the detection against this machine's real /proc with a real process
that looks like the agent, and which plans warn."""

import subprocess
import time

import pytest

from ansible_collections.harvester.network.plugins.module_utils.host import harvester_agent, vocabulary
from ansible_collections.harvester.network.plugins.module_utils.host.model import empty_state
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan

from host_nodes import Node
from ansible_collections.harvester.network.plugins.module_utils.host.engine import build_want, check_params


@pytest.mark.parametrize('name, kind', [
    ('harvester-br0', 'bridge'), ('data-br', 'bridge'), ('data-bo', 'bond'), ('mgmt-br', 'bridge'),
    ('abcdefghijkl-br', 'bridge'), ('abcdefghijklm-br', None), ('Data-br', None), ('-br', None), ('br0', None),
    ('bond0', None), ('data-br.100', None), ('eth1', None), ('', None), (None, None)])
def test_harvester_device(name, kind):
    assert vocabulary.harvester_device(name) == kind


def test_node_devices_per_generation():
    assert vocabulary.node_devices('current', 'data', ['eth1', 'eth2']) == {
        'cluster_network': 'data', 'bridge': 'data-br', 'uplink': 'data-bo'}
    assert vocabulary.node_devices('legacy', 'data', ['bond0']) == {
        'cluster_network': 'vlan', 'bridge': 'harvester-br0', 'uplink': 'bond0'}
    assert vocabulary.cluster_network_of_bridge('harvester-br0') == 'vlan'
    assert vocabulary.cluster_network_of_bridge('data-br') == 'data'
    assert vocabulary.cluster_network_of_bridge('br-data') is None


def _start(command):
    """A real process whose command line is ``harvester-network-controller <command> ...`` (argv[0] set by exec -a)."""
    proc = subprocess.Popen(['bash', '-c', 'exec -a harvester-network-controller bash -c "sleep 60; exit 0" %s --node-name x'
                             % command])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open('/proc/%d/cmdline' % proc.pid, 'rb') as handle:
            if handle.read().startswith(b'harvester-network-controller\0'):
                break
        time.sleep(0.05)
    return proc


@pytest.fixture
def fake_agent():
    proc = _start('agent')
    yield proc.pid
    proc.kill()
    proc.wait()


def test_find_agent_sees_a_real_process(fake_agent):
    assert vocabulary.find_agent() == fake_agent


def test_find_agent_ignores_the_manager():
    proc = _start('manager')
    try:
        assert vocabulary.find_agent() is None
    finally:
        proc.kill()
        proc.wait()


def test_find_agent_without_proc(tmp_path):
    assert vocabulary.find_agent(str(tmp_path / 'nothing')) is None


def _plan(module, params, state=None):
    return make_plan(state or empty_state(), build_want(module, check_params(module, params)))


def test_warns_only_when_a_harvester_device_changes_and_the_agent_runs():
    harvester_plan = _plan('host_bridge', {'name': 'data-br'})
    own_plan = _plan('host_bridge', {'name': 'br-lab'})
    warnings = harvester_agent.agent_warnings(harvester_plan.ops, empty_state(), find=lambda: 4242)
    assert len(warnings) == 1
    assert 'pid 4242' in warnings[0] and 'data-br' in warnings[0] and 'default_vlan_manage_host' in warnings[0]
    assert harvester_agent.agent_warnings(own_plan.ops, empty_state(), find=lambda: 4242) == []
    assert harvester_agent.agent_warnings(harvester_plan.ops, empty_state(), find=lambda: None) == []
    assert harvester_agent.agent_warnings([], empty_state(), find=lambda: 4242) == []


def test_the_uplink_counts_a_guest_port_does_not():
    """The NIC under harvester-br0 and a slave of data-bo are the agent's; a veth on data-br (a VM NIC, a DHCP
    server's port) is not."""
    state = (Node().nic('eth1', kind=None).bridge('harvester-br0', ports=['eth1'])
             .bond('data-bo', slaves=['eth2']).bridge('data-br', ports=['data-bo', 'veth1']).state)
    for port, expected in (('eth1', ['harvester-br0']), ('veth1', [])):
        bridge = state['links'][port]['master']
        ops = _plan('host_vlan_trunk', {'bridge': bridge, 'config': [{'port': port, 'vids': [100]}]}, state).ops
        assert ops and harvester_agent.touched_devices(ops, state) == expected
    ops = _plan('host_bond', {'name': 'data-bo', 'slaves': ['eth2'], 'mtu': 9000}, state).ops
    assert harvester_agent.touched_devices(ops, state) == ['data-bo']
