"""persist: true on the real kernel (the boot unit re-applies after a "reboot", idempotently, and logs), and the lock
that serialises runs on one node."""

import json
import os
import sys
import threading
import time

import pytest

from host_support import HARVESTER_NODE, enter_netns, make_node

from ansible_collections.harvester.network.plugins.module_utils.host import engine, persist


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
    time.sleep(1.0)
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
