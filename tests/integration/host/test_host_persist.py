"""persist: true on the real kernel (the boot unit re-applies after a "reboot", idempotently, and logs), and the lock
that serialises runs on one node."""

import json
import os
import sys
import threading
import time

import pytest
import witness

from host_support import HARVESTER_NODE, enter_netns, make_node

from ansible_collections.harvester.network.plugins.module_utils.host import engine, facts, persist


@pytest.fixture
def node(make_netns, veth, tmp_path):
    return make_node(make_netns, veth, tmp_path / 'root')


def test_persist_and_boot_apply(node):
    params = dict(HARVESTER_NODE, state='replaced', persist=True)
    predicted = node.run('host_network', params, check=True)
    assert node.paths.state_file in predicted['persist']['changed_files']
    assert not os.path.exists(node.paths.state_file)

    result = node.run('host_network', params)
    files = result['persist']['changed_files']
    assert node.paths.state_file in files and node.paths.unit_file in files and node.paths.runner in files
    assert os.readlink(node.paths.wants_link) == '../harvester-network.service'
    with open(node.paths.unit_file) as stream:
        unit = stream.read()
    assert 'ExecStart=%s %s' % (sys.executable, node.paths.runner) in unit
    assert 'Before=network.target' in unit and 'WantedBy=multi-user.target' in unit
    again = node.run('host_network', params)
    assert again['changed'] is False and again['persist']['changed_files'] == []
    expected = node.gathered()

    # "Reboot": the links the kernel does not keep are gone, the NICs are back to their defaults.
    for name in ('data-br', 'data-bo'):
        node.ns.ip('link', 'del', name)
    for nic in ('eth1', 'eth2'):
        node.ns.ip('link', 'set', nic, 'mtu', '1500', 'up')
    boot = node.ns.run([sys.executable, node.paths.runner], check_rc=False)
    assert boot.returncode == 0, boot.stdout + boot.stderr
    assert boot.stdout.startswith('harvester-network: changed')
    assert node.gathered() == expected

    # The unit runs on every boot: on a node already in that state it changes nothing.
    boot = node.ns.run([sys.executable, node.paths.runner], check_rc=False)
    assert boot.returncode == 0 and boot.stdout.startswith('harvester-network: unchanged (0 operations)')
    with open(node.paths.log_file) as stream:
        records = [json.loads(line) for line in stream]
    assert [record['result'] for record in records] == ['changed', 'unchanged']
    assert 'ip link add data-bo mtu 9000 type bond lacp_rate fast mode 802.3ad xmit_hash_policy layer3+4' in \
        records[0]['plan']


def lock_file_descriptors(path):
    """How many descriptors of this process are open on ``path`` (read from /proc, not from the lock)."""
    count = 0
    for name in os.listdir('/proc/self/fd'):
        try:
            count += os.readlink('/proc/self/fd/' + name) == os.path.realpath(path)
        except OSError:
            pass
    return count


def test_lock_serialises_runs(node):
    # A run that cannot get the lock in time says who holds it.
    with persist.Lock(node.paths.lock_file, 1):
        error = node.fail('host_network', dict(HARVESTER_NODE, lock_timeout=0.5))
    assert 'another harvester.network run holds' in str(error) and 'pid %d' % os.getpid() in str(error)
    assert 'data-bo' not in node.links()

    # Two runs at once: the second waits, re-reads the node and finds nothing left to do.
    results = {}

    def worker(label, delay):
        time.sleep(delay)
        with enter_netns(node.ns.name):
            results[label] = engine.run('host_network', dict(HARVESTER_NODE), validated=False, paths=node.paths)

    hold = persist.Lock(node.paths.lock_file, 1)
    hold.__enter__()
    threads = [threading.Thread(target=worker, args=(label, delay)) for label, delay in (('a', 0), ('b', 0.2))]
    for thread in threads:
        thread.start()
    # Release only once both runs are seen waiting (each has the lock file open: this process then holds three
    # descriptors of it), then 0.6 s more; a fixed sleep let a run slowed by a loaded machine reach the lock late.
    deadline = time.monotonic() + 120
    while lock_file_descriptors(node.paths.lock_file) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock_file_descriptors(node.paths.lock_file) == 3, 'the two runs never both waited for the lock'
    time.sleep(0.6)
    hold.__exit__(None, None, None)
    for thread in threads:
        thread.join(120)
    changed = sorted(result['changed'] for result in results.values())
    assert changed == [False, True], results
    assert all(result['lock_wait'] > 0.5 for result in results.values())
    assert node.link('data-bo')['master'] == 'data-br'


def test_boot_apply_reports_failure(node, tmp_path):
    state_file = str(tmp_path / 'state.json')
    want = {'state': 'merged', 'bonds': {'bo9': {'slaves': ['eth9'], 'mode': 'active-backup'}}, 'bridges': None,
            'vlans': None, 'vlan_bridges': None, 'addresses': None, 'routes': None, 'links': None, 'fields': {}}
    with open(state_file, 'w') as stream:
        stream.write(persist.want_to_json(want))
    log_file = str(tmp_path / 'boot.log')
    with enter_netns(node.ns.name):
        code = engine.boot_apply(state_file, log_file=log_file, lock_file=str(tmp_path / 'lock'))
    assert code == 1
    with open(log_file) as stream:
        record = json.loads(stream.readline())
    assert record['result'] == 'failed' and 'eth9 does not exist' in record['error']


def reboot(node, links=(), nics=('eth1', 'eth2', 'eth3', 'eth4')):
    """What a reboot does to the node as far as the saved state is concerned: the bonds and bridges are gone, the
    NICs are back to MTU 1500 (up: the OS brings them up), their VLAN tables and addresses gone with them."""
    for name in links:
        node.ns.ip('link', 'del', name)
    for nic in nics:
        node.ns.ip('link', 'set', nic, 'nomaster')
        node.ns.ip('link', 'set', nic, 'mtu', '1500', 'up')


def boot(node):
    result = node.ns.run([sys.executable, node.paths.runner], check_rc=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_every_module_persists_into_one_state(node):
    """host_bond, host_bridge and host_vlan_trunk save what they manage into the same state as host_network; the
    boot-time unit rebuilds all of it, and removing an item with persist takes it out of the saved state."""
    bond = {'name': 'data-bo', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2'], 'lacp_rate': 'fast', 'mtu': 9000,
            'persist': True}
    predicted = node.run('host_bond', bond, check=True)
    assert predicted['changed'] and node.paths.state_file in predicted['persist']['changed_files']
    assert not os.path.exists(node.paths.state_file)
    result = node.run('host_bond', bond)
    assert node.paths.unit_file in result['persist']['changed_files']
    again = node.run('host_bond', bond)
    assert again['changed'] is False and again['persist']['changed_files'] == []

    node.run('host_bridge', {'name': 'data-br', 'uplink': 'data-bo', 'ports': ['vm1'], 'persist': True})
    node.run('host_network', {'bridges': [{'name': 'mgmt-br', 'uplink': 'eth3'}], 'persist': True,
                              'probes': {'enabled': False}})
    node.run('host_vlan_trunk', {'config': [{'port': 'data-bo', 'vids': [100, 200]}, {'port': 'vm1', 'pvid': 100}],
                                 'persist': True})
    # merged into what is saved: the saved trunk becomes 100, 200, 300 (still a merged spec)
    trunk = {'config': [{'port': 'data-bo', 'vids': [300]}], 'persist': True}
    assert node.run('host_vlan_trunk', trunk, check=True)['persist']['changed_files'] == [node.paths.state_file]
    node.run('host_vlan_trunk', trunk)
    with open(node.paths.state_file) as stream:
        saved = json.load(stream)
    assert saved['version'] == 2
    assert sorted(saved['sections']['bonds']['items']) == ['data-bo']
    assert sorted(saved['sections']['bridges']['items']) == ['data-br', 'mgmt-br']
    assert saved['sections']['vlans']['items']['data-bo'] == {
        'exact': False, 'spec': {'bridge': 'data-br', 'vids': [100, 200, 300], 'untagged': None, 'pvid': None}}
    expected = node.gathered()

    reboot(node, ('data-br', 'mgmt-br', 'data-bo'))
    assert 'data-bo' not in node.links()
    assert boot(node).startswith('harvester-network: changed')
    assert node.gathered() == expected
    assert sorted(node.vlans('data-bo')) == [1, 100, 200, 300] and node.vlans('vm1')[100] >= {'PVID'}
    assert node.link('data-bo')['linkinfo']['info_data']['ad_lacp_rate'] == 'fast'
    assert boot(node).startswith('harvester-network: unchanged (0 operations)')

    # Removing with persist: the saved state loses the item, and a boot no longer creates it.
    node.run('host_bridge', {'name': 'mgmt-br', 'state': 'absent', 'persist': True})
    node.run('host_vlan_trunk', {'state': 'deleted', 'config': [{'port': 'data-bo', 'vids': [200]}], 'persist': True})
    with open(node.paths.state_file) as stream:
        saved = json.load(stream)
    assert sorted(saved['sections']['bridges']['items']) == ['data-br']
    assert saved['sections']['vlans']['items']['data-bo']['spec']['vids'] == [100, 300]
    expected = node.gathered()
    reboot(node, ('data-br', 'data-bo'))
    assert boot(node).startswith('harvester-network: changed')
    assert node.gathered() == expected and 'mgmt-br' not in node.links()


def test_persist_refuses_a_state_that_would_not_boot(node):
    """A saved bridge whose uplink this run deletes would fail at boot: the run fails before changing anything,
    and names the saved item."""
    node.run('host_bond', {'name': 'data-bo', 'slaves': ['eth1'], 'persist': True})
    node.run('host_bridge', {'name': 'data-br', 'uplink': 'data-bo', 'persist': True})
    with open(node.paths.state_file) as stream:
        saved = stream.read()
    before, seen = node.state(), node.settled()
    for check in (True, False):
        error = node.fail('host_bond', {'name': 'data-bo', 'state': 'absent', 'persist': True}, check=check)
        assert str(error).startswith('persist: with this change, the saved state %s would not apply at boot'
                                     % node.paths.state_file), str(error)
        assert 'saved bridges[data-br].uplink: data-bo does not exist' in str(error)
        assert error.result['errors'] == [str(error)]
    assert facts.differences(before, node.state()) == []
    assert witness.differences(seen, node.snapshot()) == []  # iproute2 and sysfs agree
    with open(node.paths.state_file) as stream:
        assert stream.read() == saved
    # Without persist the same change is fine (the saved state is not touched).
    assert node.run('host_bond', {'name': 'data-bo', 'state': 'absent'})['changed'] is True
