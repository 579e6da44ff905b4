"""Helpers of the host-engine integration tests (real kernel; see conftest.py for the namespace fixtures).

A test "node" is a network namespace whose NICs are veth pairs to a "switch" namespace, so they have carrier
and frames really flow.  The engine runs in-process through its Python API, inside the node's namespace.
"""

import contextlib
import ctypes
import json
import os
import sys

import witness
from conftest import make_veth

from ansible_collections.harvester.network.plugins.module_utils.host import engine, facts
from ansible_collections.harvester.network.plugins.module_utils.host.persist import Paths

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
# The hypothesis strategies are shared with the pure planner tests.
sys.path.insert(0, os.path.join(REPO, 'tests', 'unit', 'host'))


_LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def enter_netns(name):
    """Move the calling thread into network namespace ``name`` for the block."""
    target = os.open('/run/netns/%s' % name, os.O_RDONLY | os.O_CLOEXEC)
    saved = os.open('/proc/thread-self/ns/net', os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _LIBC.setns(target, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), 'setns %s' % name)
        try:
            yield
        finally:
            _LIBC.setns(saved, CLONE_NEWNET)
    finally:
        os.close(saved)
        os.close(target)


class Node:
    """The namespace under test plus its switch; ``run()`` drives the engine inside it."""

    def __init__(self, ns, switch, scratch):
        self.ns = ns
        self.switch = switch
        self.paths = Paths(str(scratch))
        self._reader = None

    def reader(self):
        """The witness's readers of the node's namespace (witness.Reader), started on the first read and closed when
        the namespace is deleted."""
        if self._reader is None:
            self._reader = self.ns.keep(witness.Reader(self.ns.name))
        return self._reader

    def snapshot(self):
        """The independent witness's snapshot of the node (iproute2 JSON and sysfs)."""
        return witness.snapshot(self.ns.name, reader=self.reader())

    def settled(self):
        return witness.settled(self.ns.name, reader=self.reader())

    def run(self, module, params, check=False):
        """Run a module through the engine's Python API (argument spec included); returns the result."""
        with self.ns.enter():
            return engine.run(module, dict(params), check_mode=check, validated=False, paths=self.paths)

    def fail(self, module, params, check=False):
        """Run a module that must fail; returns the EngineError."""
        try:
            result = self.run(module, params, check=check)
        except engine.EngineError as exc:
            return exc
        raise AssertionError('%s did not fail: %s' % (module, json.dumps(result, default=str)[:2000]))

    def converge(self, module, params):
        """Apply, then apply again: the second run must be a no-op, and the independent witness (iproute2 and
        sysfs) must see the same node before and after it.  Returns the first result."""
        first = self.run(module, params)
        seen = self.settled()
        second = self.run(module, params)
        assert second['changed'] is False, 'not idempotent: %s' % second.get('commands')
        assert second.get('commands', []) == []
        changed = witness.differences(seen, self.snapshot())
        assert changed == [], 'the second run changed the node: %s' % changed
        return first

    def state(self):
        """The canonical state, read by the engine's own reader."""
        from ansible_collections.harvester.network.plugins.module_utils.host.netlink import Netlink
        with self.ns.enter():
            nl = Netlink()
        try:
            return nl.read()
        finally:
            nl.close()

    def gathered(self):
        return facts.to_config(self.state())

    # Independent oracles: iproute2's JSON output, not the engine's reader.
    def link(self, name):
        return json.loads(self.ns.ip('-j', '-d', 'link', 'show', 'dev', name).stdout)[0]

    def links(self):
        return dict((item['ifname'], item) for item in json.loads(self.ns.ip('-j', '-d', 'link', 'show').stdout))

    def vlans(self, name):
        """{vid: set of flags} of a port, from ``bridge -j vlan show`` (one entry per VID)."""
        data = json.loads(self.ns.bridge('-j', 'vlan', 'show', 'dev', name).stdout or '[]')
        table = {}
        for item in data:
            if item.get('ifname') != name:
                continue
            for entry in item.get('vlans', []):
                first = entry['vlan']
                last = entry.get('vlanEnd', first)
                for vid in range(first, last + 1):
                    table[vid] = set(entry.get('flags', []))
        return table

    def addresses(self, name):
        data = json.loads(self.ns.ip('-j', 'addr', 'show', 'dev', name).stdout)
        return sorted('%s/%s' % (a['local'], a['prefixlen']) for a in data[0]['addr_info']
                      if a.get('scope') != 'link')

    def routes(self):
        return json.loads(self.ns.ip('-j', 'route', 'show', 'table', 'main').stdout)


def predicted_exactly(predicted, real):
    """Check mode's ``after`` is the real run's, except MAC addresses the kernel derives (from a slave or port) or
    picks at random, which check mode reports as None."""
    if isinstance(predicted, dict) and isinstance(real, dict):
        return set(predicted) == set(real) and all(
            (key == 'mac' and predicted[key] is None and real[key]) or predicted_exactly(predicted[key], real[key])
            for key in predicted)
    if isinstance(predicted, list) and isinstance(real, list):
        return len(predicted) == len(real) and all(predicted_exactly(a, b) for a, b in zip(predicted, real))
    return predicted == real


def make_node(make_netns, veth, tmp_path, nics=('eth1', 'eth2', 'eth3', 'eth4'), vm_ports=('vm1', 'vm2', 'vm3')):
    """A node namespace with ``nics`` (veth to a switch namespace, up) and ``vm_ports`` (veth pairs whose
    other end, ``<port>p``, stays in the node, down), like a VM's host-side veth before the CNI attaches it."""
    ns = make_netns('node')
    switch = make_netns('sw')
    if veth is not make_veth:  # a test's own cabling
        for nic in nics:
            veth(ns, nic, switch, 'sw-%s' % nic)
        nics = ()
    # One ip process a namespace (each costs 0.1-0.3 s under emulation), the same links as make_veth makes.
    batch = ['link add %s type veth peer name sw-%s netns %s\nlink set %s up' % (nic, nic, switch.name, nic)
             for nic in nics]
    batch += ['link add %s type veth peer name %sp' % (port, port) for port in vm_ports]
    if batch:
        ns.batch('\n'.join(batch) + '\n')
    if nics:
        switch.batch(''.join('link set sw-%s up\n' % nic for nic in nics))
    return Node(ns, switch, tmp_path)


HARVESTER_NODE = {
    'bonds': [{'name': 'data-bo', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2'], 'lacp_rate': 'fast',
               'xmit_hash_policy': 'layer3+4', 'mtu': 9000}],
    'bridges': [{'name': 'data-br', 'uplink': 'data-bo', 'ports': ['vm1', 'vm2']}],
    'vlans': [{'port': 'data-bo', 'vids': ['100', '200']}, {'port': 'vm1', 'pvid': 100},
              {'port': 'vm2', 'pvid': 200}],
    'probes': {'gateway': False},
}
