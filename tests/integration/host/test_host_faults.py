"""Faults at every step of a representative converge, on the real kernel, judged by the independent witness.

The converge (``TARGET`` on the node ``START`` builds with iproute2) uses every kind of operation the engine has:
a bond's mode changed in place (slaves released and re-enslaved, options, MTU), a bond deleted, a bond slave added,
a bridge's STP turned off, a bridge created over an uplink NIC whose addresses, routes and a table-100 route move
onto it, ports added, VLAN tables (a trunk, PVIDs) and links brought up.

* a netlink error at request k, for every k from 1 until the converge completes (the error is injected at the
  codec's send by netlink.FAULTS, the test seam; the engine's own failure handling and rollback run): the node ends
  exactly as it started, ifindexes and MAC addresses included;
* SIGKILL of the module process after k operations (the process stops itself at the seam, the test kills it), at
  three points (none done, a bond slave released, half a migration): the next run converges,
  says what it did, and a third run changes nothing;
* another process changing a link between the engine's read and its first write: reported, not overwritten;
* the rollback itself failing (a link deleted by someone else while it runs): ``restored: false`` with the exact
  differences, and the module process exits non-zero.
"""

import errno
import json
import os
import signal
import subprocess
import sys

import pytest

import witness
from host_support import REPO, Node

from ansible_collections.harvester.network.plugins.module_utils.host import engine, facts
from ansible_collections.harvester.network.plugins.module_utils.host.netlink import FAULTS
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan

NICS = ('eth1', 'eth2', 'eth3', 'eth4')
START = '''link add data-bo type bond mode active-backup miimon 100
link set eth1 down
link set eth1 master data-bo
link set data-bo up
link add old-bo type bond
link set eth4 down
link set eth4 master old-bo
link add data-br type bridge stp_state 1 vlan_filtering 1
link set vm1 master data-br
link set data-br up
addr add 192.168.122.10/24 dev eth3
route add default via 192.168.122.1
route add 10.6.0.0/16 via 192.168.122.1 dev eth3 table 100
'''
TARGET = {
    'state': 'overridden',
    'bonds': [{'name': 'data-bo', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2'], 'lacp_rate': 'fast', 'mtu': 9000}],
    'bridges': [{'name': 'data-br', 'uplink': 'data-bo', 'ports': ['vm1', 'vm2'], 'stp': False},
                {'name': 'mgmt-br', 'uplink': 'eth3', 'migrate': True}],
    'vlans': [{'port': 'data-bo', 'vids': ['100-110', '200']}, {'port': 'vm2', 'pvid': 200}],
    'probes': {'enabled': False},
}
# A module process with the seam armed.  ``stop``: the engine (what the module runs) stops itself just before
# request AT, so that the test can SIGKILL it there.  ``rollback``: the real host_network module (AnsibleModule,
# exit_json/fail_json) whose apply fails at request AT, and whose rollback finds VICTIM deleted by someone else.
DRIVER = r'''
import json, os, signal, subprocess, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.harvester.network.plugins.module_utils.host.netlink import FAULTS
from ansible_collections.harvester.network.plugins.module_utils.host.plan import make_plan
kind, params_file, at, victim = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
if kind == 'stop':
    FAULTS.inject(at, hook=lambda: os.kill(os.getpid(), signal.SIGSTOP))
    from ansible_collections.harvester.network.plugins.module_utils.host import engine
    with open(params_file) as handle:
        params = json.load(handle)['ANSIBLE_MODULE_ARGS']
    engine.run('host_network', params, validated=False)
    sys.exit(3)  # never reached: the test kills the process at request AT
FAULTS.inject(at, code=5)  # EIO: the apply fails at request AT ...
FAULTS.inject(at + 1, hook=lambda: subprocess.run(['ip', 'link', 'del', victim], check=True))  # ... mid-rollback
import runpy
sys.argv = ['host_network', params_file]
runpy.run_module('ansible_collections.harvester.network.plugins.modules.host_network', run_name='__main__')
'''


class FaultNode(Node):
    """A node namespace built straight from iproute2 commands (not by the engine under test)."""

    def __init__(self, make_netns, veth, scratch):
        self._make = (make_netns, veth)
        Node.__init__(self, None, None, scratch)
        self.build()

    def build(self):
        make_netns, veth = self._make
        self.ns, self.switch = make_netns('node'), make_netns('sw')
        for nic in NICS:
            veth(self.ns, nic, self.switch, 'sw-%s' % nic)
        for port in ('vm1', 'vm2'):
            self.ns.ip('link', 'add', port, 'type', 'veth', 'peer', 'name', port + 'p')
        self.switch.ip('addr', 'add', '192.168.122.1/24', 'dev', 'sw-eth3')
        self.ns.run(['ip', '-batch', '-'], input=START)

    def rebuild(self):
        self.ns.destroy()
        self.switch.destroy()
        self.build()

    def snapshot(self):
        return witness.snapshot(self.ns.name)

    def module_process(self, kind, at, victim=''):
        """Start a module process in the node's namespace with the seam armed (see DRIVER); returns the Popen."""
        from testbeds.collection import collections_root  # pylint: disable=import-outside-toplevel
        params_file = os.path.join(str(self.paths.root), 'args.json')
        with open(params_file, 'w', encoding='utf-8') as handle:
            json.dump({'ANSIBLE_MODULE_ARGS': TARGET}, handle)
        return subprocess.Popen(['ip', 'netns', 'exec', self.ns.name, sys.executable, '-c', DRIVER,
                                 collections_root(), kind, params_file, str(at), victim],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                env=dict(os.environ, HARVESTER_NETWORK_ROOT=str(self.paths.root)))

    def first_requests(self):
        """For each operation of the plan to TARGET: the number of the request it starts with (1-based)."""
        want = engine.build_want('host_network', engine.check_params('host_network', TARGET))
        ops = make_plan(self.state(), want).ops
        firsts, count = [], 0
        for op in ops:
            firsts.append(count + 1)
            count += len(op.requests())
        return firsts, count


@pytest.fixture
def node(make_netns, veth, tmp_path):
    FAULTS.reset()
    yield FaultNode(make_netns, veth, tmp_path)
    FAULTS.reset()


def test_error_at_every_request_rolls_back_exactly(node):
    start, start_state = node.snapshot(), node.state()
    failed_ops, k = [], 0
    while True:
        k += 1
        FAULTS.reset()
        FAULTS.inject(k, code=errno.EIO)
        try:
            result = node.run('host_network', TARGET)
        except engine.EngineError as error:
            message, result = str(error), error.result
            assert 'apply failed:' in message and 'fault injected by a test' in message, message
            assert 'rolled back: the node is exactly as before' in message, message
            assert result['rollback']['restored'] is True and result['changed'] is False
            failed = [entry['op'] for entry in result['journal'] if entry['status'] == 'failed']
            assert len(failed) == 1, result['journal']
            failed_ops.append(failed[0])
            remade = [entry['op'].split()[-1] for entry in result['journal']
                      if entry['op'].startswith('ip link del ') and entry['status'] == 'done']
            assert witness.differences(start, node.snapshot(), ignore_index=remade, new_link_local_ok=True) == [], \
                'fault at request %d' % k
            assert facts.differences(start_state, node.state()) == [], 'fault at request %d' % k
            continue
        break
    # The run after the last k met no fault: it converged.  Every operation of its plan failed once, in order.
    plan = result['commands']
    assert result['changed'] is True and FAULTS.armed, 'the fault at request %d was never reached' % k
    assert sorted(set(failed_ops), key=failed_ops.index) == plan, (failed_ops, plan)
    kinds = set(item['op'] for item in result['plan'])
    assert kinds >= {'create_link', 'delete_link', 'set_link', 'set_bond_options', 'set_bridge_options', 'set_master',
                     'set_up', 'set_vlans', 'add_address', 'del_address', 'add_route', 'del_route', 'add_other_route',
                     'del_other_route'}, kinds
    assert witness.config_differences(result['after'], node.snapshot()) == []
    print('fault matrix: %d requests, %d operations (%s), a netlink error at each: all rolled back exactly'
          % (k - 1, len(plan), ', '.join(sorted(kinds))))


def test_kill_after_k_operations_then_the_next_run_repairs(node):
    """SIGKILL at three points of the converge (each costs a fresh node and a module process, 10-40 s under
    emulation): before the first request, with the bond's slave released for its mode change, and in the middle
    of the address migration (the bridge has the address, the NIC still too)."""
    start = node.snapshot()
    plan = node.run('host_network', TARGET, check=True)['plan']
    firsts, _count = node.first_requests()
    assert len(firsts) == len(plan)
    chosen = [0, next(n for n, item in enumerate(plan) if item['command'].endswith('nomaster')),
              next(n for n, item in enumerate(plan) if item['op'] == 'add_address') + 1]
    repaired = []
    for number in chosen:
        if number:
            node.rebuild()
            start = node.snapshot()
        process = node.module_process('stop', firsts[number])
        _pid, status = os.waitpid(process.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), 'the module ended before operation %d: %s' % (number, process.communicate())
        partial = node.snapshot()
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert (witness.differences(start, partial) == []) == (number == 0), 'killed after %d operations' % number
        result = node.run('host_network', TARGET)
        assert result['changed'] is True and result['commands'], 'killed after %d: nothing repaired' % number
        repaired.append('%d -> %d' % (number, len(result['commands'])))
        again = node.run('host_network', TARGET)
        assert again['changed'] is False and again['commands'] == []
        assert witness.config_differences(result['after'], node.snapshot()) == []
    print('killed after k of %d operations, k -> operations the next run did: %s' % (len(plan), ', '.join(repaired)))


def test_concurrent_change_between_read_and_write_is_reported(node):
    """Another process sets eth3's MTU after the engine read the node and before its first request: the run
    keeps that change (it does not own eth3's MTU) and says that the node differs from what it planned."""
    FAULTS.inject(1, hook=lambda: node.ns.ip('link', 'set', 'eth3', 'mtu', '1400'))
    result = node.run('host_network', TARGET)
    warnings = [w for w in result['warnings'] if 'inexactly' in w]
    assert warnings and 'links.eth3.mtu: expected 1500, found 1400' in warnings[0], result['warnings']
    snap = node.snapshot()
    assert snap['links']['eth3']['mtu'] == 1400 and snap['links']['mgmt-br']['mtu'] == 1400


def test_rollback_that_fails_reports_what_differs_and_exits_non_zero(node):
    """The apply fails at its last request; while the rollback runs, someone deletes vm2 (with its peer vm2p):
    the module returns restored false, lists exactly what differs, and exits non-zero."""
    start = node.snapshot()
    _firsts, last = node.first_requests()
    process = node.module_process('rollback', last, victim='vm2')
    out, err = process.communicate(timeout=300)
    assert process.returncode != 0, (out, err)
    result = json.loads(out)
    assert result['failed'] is True and result['rollback']['restored'] is False, result
    assert 'rollback could not restore everything' in result['msg'], result['msg']
    seen = witness.differences(start, node.snapshot(), ignore_index=['old-bo'], new_link_local_ok=True)
    assert seen and all('vm2' in line for line in seen), seen  # vm2 and its peer vm2p: nothing else
    assert sorted(line.split('.')[1].split(':')[0] for line in seen if line.startswith('links.')) == ['vm2', 'vm2p']
    remaining = result['rollback']['remaining']
    assert remaining and all('vm2' in line for line in remaining), remaining
    assert sorted(set(line.split('.')[1].split(':')[0] for line in remaining if line.startswith('links.'))) == [
        'vm2', 'vm2p'], remaining
