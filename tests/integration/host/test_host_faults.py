"""Faults at every step of a representative converge, on the real kernel, judged by the independent witness.

The converge (``TARGET`` on the node ``START`` builds with iproute2) uses every kind of operation the engine has:
a bond's mode changed in place (slaves released and re-enslaved, options, MTU), a bond deleted, a bond slave added,
a bridge's STP turned off, a bridge created over an uplink NIC whose addresses, routes and a table-100 route move
onto it, ports added, VLAN tables (a trunk, PVIDs) and links brought up.

* a netlink error at request k, for every k from 1 until the converge completes (the error is injected at the
  codec's send by netlink.FAULTS, the test seam; the engine's own failure handling and rollback run): the node ends
  exactly as it started, ifindexes and MAC addresses included;
* SIGKILL of the module process before every request r (so after every operation), in a child forked from the
  test process that kills itself at the seam: the next run converges to the node an uninterrupted converge
  leaves and says what it did, the routes a kill inside the migration had removed included;
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
import time

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
# A module process with the seam armed: the real host_network module (AnsibleModule, exit_json/fail_json) whose
# apply fails at request AT, and whose rollback finds VICTIM deleted by someone else.
DRIVER = r'''
import subprocess, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.harvester.network.plugins.module_utils.host.netlink import FAULTS
params_file, at, victim = sys.argv[2], int(sys.argv[3]), sys.argv[4]
FAULTS.inject(at, code=5)  # EIO: the apply fails at request AT ...
FAULTS.inject(at + 1, hook=lambda: subprocess.run(['ip', 'link', 'del', victim], check=True))  # ... mid-rollback
import runpy
sys.argv = ['host_network', params_file]
runpy.run_module('ansible_collections.harvester.network.plugins.modules.host_network', run_name='__main__')
'''


class FaultNode(Node):
    """A node namespace built straight from iproute2 commands (not by the engine under test)."""

    def __init__(self, make_netns, scratch):
        self._make = make_netns
        Node.__init__(self, None, None, scratch)
        self.build()

    def build(self):
        """Two namespaces and two ``ip -batch`` processes (each process costs ~0.1-0.2 s under emulation).  The
        NICs and VM ports get fixed MAC addresses, as hardware has: a rebuilt node is the same node.  (IPv6 duplicate
        address detection stays on: turned off, the witness's snapshot no longer waits for it and then races the
        kernel's delayed carrier update after a rollback, seen as a bridge still showing carrier.)"""
        self.ns, self.switch = self._make('node'), self._make('sw')
        batch = []
        for number, nic in enumerate(NICS, 1):
            batch += ['link add %s address 02:00:00:00:0a:%02x type veth peer name sw-%s netns %s'
                      % (nic, number, nic, self.switch.name), 'link set %s up' % nic]
        for number, port in enumerate(('vm1', 'vm2'), 1):
            batch.append('link add %s address 02:00:00:00:0b:%02x type veth peer name %sp address 02:00:00:00:0c:%02x'
                         % (port, number, port, number))
        self.ns.batch('\n'.join(batch) + '\n' + START)
        self.switch.batch(''.join('link set sw-%s up\n' % nic for nic in NICS)
                          + 'addr add 192.168.122.1/24 dev sw-eth3\n')

    def rebuild(self):
        self.ns.destroy()  # closes the witness's readers of the old namespace (Node.reader)
        self._reader = None
        self.switch.destroy()
        self.build()

    def module_process(self, at, victim):
        """Start a module process in the node's namespace with the seam armed (see DRIVER); returns the Popen."""
        from testbeds.collection import collections_root  # pylint: disable=import-outside-toplevel
        params_file = os.path.join(str(self.paths.root), 'args.json')
        with open(params_file, 'w', encoding='utf-8') as handle:
            json.dump({'ANSIBLE_MODULE_ARGS': TARGET}, handle)
        return subprocess.Popen(['ip', 'netns', 'exec', self.ns.name, sys.executable, '-c', DRIVER,
                                 collections_root(), params_file, str(at), victim],
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
def node(make_netns, tmp_path):
    FAULTS.reset()
    yield FaultNode(make_netns, tmp_path)
    FAULTS.reset()


def test_error_at_every_request_rolls_back_exactly(node):
    start, start_state = node.snapshot(), node.state()
    failed_ops, k = [], 0
    spent = {'run': 0.0, 'witness': 0.0}
    while True:
        k += 1
        FAULTS.reset()
        FAULTS.inject(k, code=errno.EIO)
        began = time.monotonic()
        try:
            result = node.run('host_network', TARGET)
        except engine.EngineError as error:
            spent['run'] += time.monotonic() - began
            began = time.monotonic()
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
            spent['witness'] += time.monotonic() - began
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
          ' (failing runs %.1f s, witness snapshots %.1f s; witness reads since the session began: %s)'
          % (k - 1, len(plan), ', '.join(sorted(kinds)), spent['run'], spent['witness'], witness.STATS))


def killed_before(node, request):
    """Run the converge in a forked child of this test process (the engine already imported: no interpreter to
    start) that SIGKILLs itself just before it sends request ``request``, through the FAULTS seam's hook; the
    requests before it were sent and acked.  Returns once the child is dead."""
    pid = os.fork()
    if pid == 0:  # the child: only os._exit leaves it, so pytest's own teardown never runs twice
        try:
            FAULTS.reset()
            FAULTS.inject(request, hook=lambda: os.kill(os.getpid(), signal.SIGKILL))
            node.run('host_network', TARGET)
        finally:
            os._exit(3)  # pylint: disable=protected-access
    _pid, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
        'the module was to be killed before request %d, it ended with status %#x' % (request, status)


def repaired_node(node, reference):
    """The witness snapshot after the repair run: once equal to ``reference`` (``same_configuration``), or, when
    it never gets there, the one that differs after the node settled (a bond's carrier comes a tick later)."""
    seen = node.snapshot()
    if witness.same_configuration(reference, seen):
        seen = node.settled()
    return seen


def user_routes(snap):
    """{(table, destination, metric)} of the routes someone added (not the kernel's own: connected, local,
    broadcast, multicast), from the witness's route lines; the device is left out (a migration changes it)."""
    found = set()
    for line in snap['routes']:
        family, _sep, rest = line.partition(' ')
        words = dict(word.split('=', 1) for word in rest.split() if '=' in word)
        if words.get('protocol') == 'kernel' or words.get('type') in ('local', 'broadcast', 'multicast', 'anycast'):
            continue
        dst = words.get('dst')
        if dst == 'default':
            dst = '0.0.0.0/0' if family == 'inet' else '::/0'
        found.add((words.get('table', 'main'), dst, words.get('metric', '0')))
    return found


def test_kill_before_every_request_then_the_next_run_repairs(node):
    """SIGKILL of the module before each request r = 1..R of the converge, so after every operation (and inside
    the one that takes two requests); a fresh node each time.  The next run converges: the witness sees the node
    that an uninterrupted converge (r = 1: killed before anything, so the repair is the whole plan) leaves, MACs
    included (the NICs' are fixed), ifindexes and the kernel's own IPv6 link-local addressing left out
    (``witness.same_configuration``); it reports what it did, and the node it leaves is what it says.

    A kill inside the migration (after a route through the uplink was deleted, before it was added through the
    bridge) leaves the node without that route, the default route among them: the next run finds it in the
    record the killed run kept under /run (run/harvester-network/inflight.json), puts it back through the bridge
    and says so (``interrupted``): the routes the witness saw missing after the kill, no more, no fewer."""
    began = time.monotonic()
    start = node.snapshot()
    plan = node.run('host_network', TARGET, check=True)['plan']
    firsts, count = node.first_requests()
    assert len(firsts) == len(plan)
    reference, repaired, restored = None, [], []
    for request in range(1, count + 1):
        if request > 1:
            node.rebuild()
        killed_before(node, request)
        partial = node.snapshot()
        done = witness.same_configuration(start, partial)
        assert (done == []) == (request == 1), 'killed before request %d: %s' % (request, done)
        lost = user_routes(start) - user_routes(partial)
        predicted = node.run('host_network', TARGET, check=True) if lost else None
        result = node.run('host_network', TARGET)
        repaired.append('%d:%d' % (request, len(result['commands'])))
        if lost:  # check mode predicts the repair (the record is read, not written, in check mode)
            assert predicted['plan'] == result['plan'], 'killed before request %d: check mode planned otherwise' % request
            reported = result.get('interrupted', {}).get('lost', [])
            assert len(reported) == len(lost) and all(
                any(dst in line and (table == 'main' or ' table %s ' % table in line) for line in reported)
                for table, dst, _metric in lost), 'killed before request %d: lost %s, reported %s' % (
                    request, sorted(lost), reported)
            assert [w for w in result['warnings'] if w.startswith('a run before this one')], result['warnings']
            restored.append('%d:%s' % (request, ','.join(sorted(dst for _table, dst, _metric in lost))))
        else:
            assert 'interrupted' not in result, 'killed before request %d: %s' % (request, result['interrupted'])
        if reference is None:
            assert result['commands'] == [item['command'] for item in plan]
            reference = node.settled()
            again = node.run('host_network', TARGET)
            assert again['changed'] is False and again['commands'] == []
            assert witness.differences(reference, node.snapshot()) == []
            assert witness.config_differences(result['after'], reference) == []
            continue
        seen = repaired_node(node, reference)
        assert witness.config_differences(result['after'], seen) == [], 'killed before request %d' % request
        assert witness.same_configuration(reference, seen) == [], 'killed before request %d' % request
        assert result['changed'] is True and result['commands'], 'killed before request %d: nothing repaired' % request
        assert not os.path.exists(node.paths.inflight_file), 'killed before request %d: record kept' % request
    assert restored, 'no kill fell inside the migration: the converge no longer moves routes'
    print('killed before request r of %d (%d operations), r:operations the next run did: %s; routes the kill had'
          ' removed and the next run put back: %s (%.0f s; witness reads since the session began: %s)'
          % (count, len(plan), ' '.join(repaired), ' '.join(restored), time.monotonic() - began, witness.STATS))


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
    process = node.module_process(last, 'vm2')
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
