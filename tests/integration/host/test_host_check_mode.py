"""Check-mode accuracy on the real kernel, over generated configurations (hypothesis).

For each example, in a fresh network namespace: a random starting configuration is applied, then a second random
configuration is run in check mode and for real.  The check-mode plan must be exactly what the real run did, the
predicted end state must be what the kernel then shows (as the engine reads it, and as the independent witness,
iproute2 and sysfs, shows it), and a second real run must change nothing (the witness sees the same node).  A
configuration check mode refuses, the real run must refuse with the same message, and the reverse.
"""

import subprocess

from hypothesis import HealthCheck, Phase, assume, example as explicit, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers as hypothesis_providers
from hypothesis.internal.constants_ast import Constants

import witness
from host_support import Node, enter_netns
from host_strategies import NICS, VM_PORTS, network_params

from ansible_collections.harvester.network.plugins.module_utils.host import engine

EXAMPLES = 75
# Regression: this pair (found by this test) was accepted, then refused when run again ("vlans[0].port: eth3 is not
# a bridge port": the first run deleted the bridge of eth3 together with eth3's VLANs).
DELETED_AGAIN = (
    {'state': 'replaced', 'probes': {'enabled': False},
     'bonds': [{'name': 'bo0', 'mode': 'broadcast', 'slaves': ['eth2', 'eth1'], 'mtu': 1500, 'miimon': 100,
                'arp_interval': 0, 'downdelay': 300}],
     'bridges': [{'name': 'br0', 'vlan_filtering': True, 'default_pvid': 0, 'stp': True, 'promisc': True,
                  'uplink': 'eth3', 'ports': ['vm1', 'vm2']}],
     'vlans': [], 'addresses': []},
    {'state': 'deleted', 'probes': {'enabled': False}, 'bonds': [],
     'bridges': [{'name': 'br0', 'vlan_filtering': True, 'default_pvid': 1, 'stp': True, 'promisc': False,
                  'uplink': 'eth3', 'ports': ['vm1']}],
     'vlans': [{'port': 'eth3', 'bridge': 'br0', 'vids': ['2-4094'], 'pvid': 0}],
     'addresses': [{'interface': 'br0', 'address': '10.1.0.2/24'}, {'interface': 'eth4', 'address': '10.2.0.2/24'}],
     'routes': [{'dst': '172.16.2.0/24', 'gateway': '10.2.0.254', 'interface': 'eth4', 'metric': 0}]})


# Regression (found by this test on 2026-12-06): a replaced run that takes the last port (vm3) off br1 and states
# br1's own VLAN table.  A bridge whose last port leaves gets the MAC address 00:00:00:00:00:00, and the kernel
# refuses VLANs on the bridge itself then (EINVAL at `bridge vlan add dev br1 vid ... self`); check mode accepted it
# and the real run failed and rolled back.  The planner now sets the bridge's own table while the port is still
# there, and the kernel model knows the zero MAC (kernel.py ZERO_MAC).
PORTLESS_BRIDGE_TABLE = (
    {'state': 'replaced', 'probes': {'enabled': False}, 'bonds': [],
     'bridges': [{'name': 'br0', 'vlan_filtering': True, 'default_pvid': 1, 'stp': True, 'promisc': False,
                  'uplink': 'eth3', 'ports': []},
                 {'name': 'br1', 'vlan_filtering': True, 'default_pvid': 1, 'stp': False, 'promisc': False,
                  'ports': ['vm3']}],
     'vlans': [{'port': 'br0', 'bridge': 'br0', 'vids': ['2-4094'], 'pvid': 100}, {'port': 'eth3', 'pvid': 1}],
     'addresses': [{'interface': 'br1', 'address': '10.2.0.3/24'}, {'interface': 'eth4', 'address': '10.3.0.9/24'},
                   {'interface': 'eth4', 'address': '10.3.0.3/24'}],
     'routes': [{'dst': '172.16.2.0/24', 'gateway': '10.2.0.254', 'interface': 'br1', 'metric': 0},
                {'dst': '0.0.0.0/0', 'gateway': '10.3.0.254', 'interface': 'eth4', 'metric': 0}]},
    {'state': 'replaced', 'probes': {'enabled': False},
     'bonds': [{'name': 'bo0', 'mode': 'balance-xor', 'slaves': ['eth2', 'eth1'], 'mtu': 1500}],
     'bridges': [{'name': 'br0', 'vlan_filtering': True, 'default_pvid': 10, 'stp': False, 'promisc': True,
                  'ports': ['vm1', 'vm2']},
                 {'name': 'br1', 'vlan_filtering': True, 'default_pvid': 10, 'stp': False, 'promisc': False,
                  'ports': [], 'mtu': 9000}],
     'vlans': [{'port': 'vm1', 'vids': ['162-216'], 'pvid': 0, 'untagged': ['303', '305', '307']},
               {'port': 'vm2', 'pvid': 100, 'untagged': []}, {'port': 'br0'},
               {'port': 'br1', 'bridge': 'br1', 'vids': ['398', '1156', '1458', '1938', '2027', '4093'], 'pvid': 200,
                'untagged': []}],
     'addresses': [{'interface': 'br0', 'address': '10.1.0.3/24'}],
     'routes': [{'dst': '172.16.1.0/24', 'gateway': '10.1.0.254', 'interface': 'br0', 'metric': 100}]})


# Regressions (found by this test in session 6, on example sets other than CI's): each pair is run as the property
# test runs an example (test_findings_agree_with_the_kernel).
# 1. An 802.3ad bond under br0, then the bond in broadcast mode with ARP monitoring and no slaves, br0 not stated:
#    check mode listed bo0 as a port of br0 (the model cannot know br0's re-derived MTU); it stays the uplink.
# 2. br0's only port (an ARP-monitored bond without slaves) deleted while br0 becomes VLAN-filtering with default
#    PVID 1 and new ports: the default PVID went to the portless bridge (zero MAC: EINVAL) and the run rolled back;
#    it is set once the new ports have joined.
# 3. eth4 (with a route via 10.2.0.254) becomes the uplink of a new bridge while no address is left: the route was
#    re-added and refused by the kernel ("Nexthop has invalid gateway"); now refused alike up front, naming why.
FINDINGS = (
    ({'state': 'replaced', 'probes': {'enabled': False},
      'bonds': [{'name': 'bo0', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2'], 'mtu': 4000, 'lacp_rate': 'fast',
                 'xmit_hash_policy': 'layer2'}],
      'bridges': [{'name': 'br0', 'vlan_filtering': True, 'default_pvid': 1, 'stp': False, 'promisc': True,
                   'uplink': 'bo0', 'ports': []}],
      'vlans': [{'port': 'bo0', 'bridge': 'br0', 'vids': ['1338-1339'], 'pvid': 0},
                {'port': 'br0', 'bridge': 'br0', 'vids': ['3950-3992'], 'pvid': 200}],
      'addresses': [{'interface': 'br0', 'address': '10.1.0.2/24'}]},
     {'state': 'replaced', 'probes': {'enabled': False},
      'bonds': [{'name': 'bo0', 'mode': 'broadcast', 'slaves': [], 'mtu': 1500, 'miimon': 0, 'arp_interval': 100,
                 'arp_ip_target': ['10.1.0.1']}],
      'bridges': [], 'vlans': []}),
    ({'state': 'overridden', 'probes': {'enabled': False},
      'bonds': [{'name': 'bo0', 'mode': 'balance-xor', 'slaves': [], 'miimon': 0, 'arp_interval': 100,
                 'arp_ip_target': ['10.1.0.7', '10.1.0.1'], 'xmit_hash_policy': 'layer2+3'}],
      'bridges': [{'name': 'br0', 'vlan_filtering': False, 'default_pvid': 0, 'stp': False, 'promisc': False,
                   'uplink': 'bo0', 'ports': [], 'mtu': 1500}],
      'vlans': [], 'routes': []},
     {'state': 'overridden', 'probes': {'enabled': False}, 'bonds': [],
      'bridges': [{'name': 'br0', 'vlan_filtering': True, 'default_pvid': 1, 'stp': False, 'promisc': False,
                   'uplink': 'eth3', 'ports': ['vm1'], 'mtu': 1500}],
      'vlans': []}),
    ({'state': 'overridden', 'probes': {'enabled': False}, 'bonds': [], 'bridges': [], 'vlans': [],
      'addresses': [{'interface': 'eth4', 'address': '10.2.0.2/24'}],
      'routes': [{'dst': '172.16.2.0/24', 'gateway': '10.2.0.254', 'interface': 'eth4', 'metric': 100}]},
     {'state': 'overridden', 'probes': {'enabled': False}, 'bonds': [],
      'bridges': [{'name': 'br1', 'vlan_filtering': True, 'default_pvid': 1, 'stp': False, 'promisc': False,
                   'uplink': 'eth4', 'ports': []}],
      'vlans': [], 'addresses': []}),
)


class Scratch:
    """A throw-away namespace per example (the fixtures' namespaces live for the whole test); ``snapshot()`` and
    ``settled()`` read it through a ``witness.Reader``; the property test's example function, which calls
    ``witness.settled`` and ``witness.snapshot`` by name (its source stays as it is: hypothesis derives its examples
    from it), reads through the Reader ``witness.settled`` keeps, and one-shot."""

    counter = 0

    def __init__(self):
        Scratch.counter += 1
        self.name = 'hn-cm-%d' % Scratch.counter
        self.reader = None

    def ip(self, *args, check_rc=True, input_text=None):
        result = subprocess.run(['ip', '-netns', self.name] + list(args), stdout=subprocess.PIPE, input=input_text,
                                stderr=subprocess.PIPE, text=True, check=False)
        if check_rc and result.returncode:
            raise AssertionError('ip %s: %s' % (' '.join(args), result.stderr))
        return result

    def __enter__(self):
        subprocess.run(['ip', 'netns', 'add', self.name], check=True)
        batch = ['link set lo up']
        for nic in NICS:
            batch += ['link add %s type veth peer name p-%s' % (nic, nic), 'link set %s up' % nic,
                      'link set p-%s up' % nic]
        for port in VM_PORTS:
            batch.append('link add %s type veth peer name %sp' % (port, port))
        subprocess.run(['ip', '-netns', self.name, '-batch', '-'], input='\n'.join(batch), text=True, check=True)
        return self

    def settled(self):
        return witness.settled(self.name, reader=self._reader())

    def snapshot(self):
        return witness.snapshot(self.name, reader=self._reader())

    def _reader(self):
        """The namespace's Reader, started on the first read."""
        if self.reader is None:
            self.reader = witness.Reader(self.name)
        return self.reader

    def enter(self):
        return enter_netns(self.name)

    def __exit__(self, *exc):
        if self.reader:
            self.reader.close()
        witness.forget(self.name)  # the Reader witness.settled() kept (the example function calls it by name)
        subprocess.run(['ip', 'netns', 'del', self.name], check=False)


def unknown_free(predicted, actual):
    """Compare a predicted view with the real one; ``None`` in the prediction means "not predicted"."""
    if predicted is None:
        return True
    if isinstance(predicted, dict) and isinstance(actual, dict):
        return set(predicted) == set(actual) and all(unknown_free(predicted[k], actual[k]) for k in predicted)
    if isinstance(predicted, list) and isinstance(actual, list):
        return len(predicted) == len(actual) and all(unknown_free(a, b) for a, b in zip(predicted, actual))
    return predicted == actual


def check_then_real(node, module, params, counts):
    """Check mode, then the real run: (predicted, real), or (None, None) when both refused with the same message."""
    try:
        predicted, refused = node.run(module, params, check=True), None
    except engine.EngineError as exc:
        predicted, refused = None, str(exc)
    try:
        real = node.run(module, params)
    except engine.EngineError as exc:
        assert refused == str(exc), 'check mode %s; the real run refused: %s' % (
            'refused differently: %s' % refused if refused else 'accepted it', exc)
        counts['refused'] += 1
        return None, None
    assert refused is None, 'check mode refused what the real run accepted: %s' % refused
    return predicted, real


def witnessed(module, params, after, snap):
    """What the witness sees differently from a module's predicted ``after``."""
    if module == 'host_network':
        return witness.config_differences(after, snap)
    if module == 'host_vlan_trunk':
        return [problem for item in after for problem in witness.vlan_differences(item, snap)]
    if not after:
        return ['%s: predicted absent, on the node' % params['name']] if params['name'] in snap['links'] else []
    if module == 'host_bond':
        return witness.bond_differences(after, snap)
    return witness.bridge_differences(after, snap)


def pin_examples(monkeypatch):
    """Make the derandomized example set depend on this file and the strategies alone.  Hypothesis (6.1xx) mixes
    into its draws the literal constants of every local module imported so far (providers._get_local_constants():
    each integer draw takes one of them in bounds with probability 0.05), so any edit of the engine, the testbeds or
    another test file, and which test files ran before in the same session, drew another set: the set CI ran (the
    whole host phase) was not the one this file alone ran (session 6).  With no local constants the set is the same
    everywhere (hypothesis is pinned in requirements-test.txt; this private hook is checked to exist)."""
    assert callable(getattr(hypothesis_providers, '_get_local_constants', None)), \
        'hypothesis changed: find how it draws local constants now (requirements-test.txt pins it)'
    monkeypatch.setattr(hypothesis_providers, '_get_local_constants', Constants)
    hypothesis_providers.CONSTANTS_CACHE.cache.clear()


def test_check_mode_predicts_real_runs(tmp_path, monkeypatch):
    counts = {'examples': 0, 'changed': 0, 'operations': 0, 'refused': 0}
    pin_examples(monkeypatch)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],  # no shrinking: each step costs seconds under TCG
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(first=network_params(), second=network_params(states=('merged', 'replaced', 'overridden', 'deleted')),
           module=st.sampled_from(['host_network'] * 4 + ['host_bond', 'host_bridge', 'host_vlan_trunk']))
    @explicit(first=DELETED_AGAIN[0], second=DELETED_AGAIN[1], module='host_network')
    def example(first, second, module):
        params = to_module(module, second)
        assume(params is not None)  # the single-purpose module has nothing to take from this configuration
        with Scratch() as scratch:
            node = Node(scratch, None, tmp_path)
            counts['examples'] += 1
            if check_then_real(node, 'host_network', first, counts) == (None, None):
                return
            predicted, real = check_then_real(node, module, params, counts)
            if real is None:
                return
            assert real['changed'] == predicted['changed']
            assert real.get('plan', []) == predicted.get('plan', []), 'check mode planned differently'
            assert not [w for w in real['warnings'] if 'predicted' in w], real['warnings']
            assert unknown_free(predicted.get('after'), real.get('after')), (predicted.get('after'), real.get('after'))
            seen = witness.settled(scratch.name)
            assert witnessed(module, params, predicted.get('after'), seen) == []
            again = node.run(module, params)
            assert again['changed'] is False, again.get('commands')
            assert witness.differences(seen, witness.snapshot(scratch.name)) == []
            counts['changed'] += bool(real['changed'])
            counts['operations'] += len(real.get('plan', []))

    try:
        example()
    finally:
        hypothesis_providers.CONSTANTS_CACHE.cache.clear()  # drawn without local constants: not for other tests
    # The pinned set (pin_examples) changes the node in 36 of its 76 examples (session 7, the real kernel; 16 are
    # refused alike): a floor just below, so that strategies drifting towards no-ops fail here instead of passing.
    assert counts["changed"] >= 35, counts
    print('check-mode accuracy: %(examples)d configurations, %(refused)d refused alike by check mode and the real'
          ' run, %(changed)d changed, %(operations)d operations' % counts, '(witness reads: %s)' % witness.STATS)


def test_findings_agree_with_the_kernel(tmp_path):
    """FINDINGS, each as the property test runs an example: check mode and the real run accept alike (same plan,
    same end state, which the witness sees; a second run changes nothing) or refuse alike with the same message,
    which for the route of finding 3 names what to fix."""
    counts = {'refused': 0}
    for first, second in FINDINGS:
        with Scratch() as scratch:
            node = Node(scratch, None, tmp_path)
            assert check_then_real(node, 'host_network', first, counts) != (None, None)
            before = scratch.settled()
            predicted, real = check_then_real(node, 'host_network', second, counts)
            if real is None:
                assert witness.differences(before, scratch.snapshot()) == []
                message = str(node.fail('host_network', second, check=True))
                assert 'the route 172.16.2.0/24 via 10.2.0.254 on eth4, which this task keeps, needs an address' \
                    in message, message
                continue
            assert real['changed'] and real.get('plan', []) == predicted.get('plan', [])
            assert unknown_free(predicted.get('after'), real.get('after')), (predicted.get('after'), real.get('after'))
            seen = scratch.settled()
            assert witnessed('host_network', second, predicted.get('after'), seen) == []
            assert node.run('host_network', second)['changed'] is False
            assert witness.differences(seen, scratch.snapshot()) == []
    assert counts['refused'] == 1, counts


def test_bridge_losing_its_last_port_keeps_its_own_table_and_then_refuses_more(tmp_path):
    """PORTLESS_BRIDGE_TABLE: check mode and the real run agree, the run succeeds, the witness sees br1 without a
    MAC address and with the stated table.  Then, br1 having no port, a VLAN more on br1 itself is refused by
    both with the same message naming the field, and the node does not change."""
    counts = {'refused': 0}
    with Scratch() as scratch:
        node = Node(scratch, None, tmp_path)
        assert check_then_real(node, 'host_network', PORTLESS_BRIDGE_TABLE[0], counts) != (None, None)
        predicted, real = check_then_real(node, 'host_network', PORTLESS_BRIDGE_TABLE[1], counts)
        assert real is not None and real['changed'] and real.get('plan', []) == predicted.get('plan', [])
        assert unknown_free(predicted.get('after'), real.get('after')), (predicted.get('after'), real.get('after'))
        seen = scratch.settled()
        assert witnessed('host_network', PORTLESS_BRIDGE_TABLE[1], predicted.get('after'), seen) == []
        assert node.run('host_network', PORTLESS_BRIDGE_TABLE[1])['changed'] is False
        assert seen['links']['br1']['mac'] == '00:00:00:00:00:00' and seen['links']['br1'].get('master') is None
        table = dict((vid, []) for vid in (398, 1156, 1458, 1938, 2027, 4093))
        table[200] = ['PVID']
        assert seen['vlans']['br1'] == table, seen['vlans']['br1']
        more = {'state': 'merged', 'probes': {'enabled': False},
                'vlans': [{'port': 'br1', 'bridge': 'br1', 'vids': ['500']}]}
        message = str(node.fail('host_network', more, check=True))
        assert str(node.fail('host_network', more)) == message
        assert message.startswith('vlans[0]: the kernel refuses VLANs on the bridge br1 itself'), message
        assert witness.differences(seen, scratch.snapshot()) == []


# Changes made with iproute2 (not the engine) for the Reader test: links made, enslaved, renamed (while a master
# and a route refer to them), deleted and made again under the same name with another kind.
READER_STEPS = (
    'link add bo0 type bond mode active-backup miimon 100\nlink set eth1 down\nlink set eth1 master bo0\n'
    'link set bo0 up',
    'link add br0 type bridge vlan_filtering 1\nlink set bo0 master br0\nlink set vm1 master br0\nlink set br0 up\n'
    'addr add 10.1.0.2/24 dev br0\nroute add 172.16.0.0/16 via 10.1.0.254 dev br0',
    'link set br0 down\nlink set br0 name brx\nlink set brx up',
    'link del bo0\nlink del brx\nlink add bo0 type bridge\nlink set eth2 master bo0\nlink set bo0 up',
)


def test_reader_reads_what_a_fresh_read_reads():
    """A Reader kept running over changes returns what one-shot reads (three new processes) return: after each
    step, its snapshot equals one taken by new processes just before or just after it (the node may still change
    by itself between reads: a carrier coming up, IPv6 link-local addressing)."""
    with Scratch() as scratch:
        for step in ('',) + READER_STEPS:
            if step:
                scratch.ip('-batch', '-', input_text=step + '\n')
            for _attempt in range(5):
                before = witness.snapshot(scratch.name)
                kept = scratch.snapshot()
                after = witness.snapshot(scratch.name)
                if kept in (before, after):
                    break
            assert witness.differences(before, kept) == [] or witness.differences(kept, after) == [], \
                (step, witness.differences(before, kept), witness.differences(kept, after))
        assert 'bo0' in kept['links'] and kept['links']['bo0']['kind'] == 'bridge' and 'brx' not in kept['links']
        assert kept['links']['eth2']['master'] == 'bo0' and kept['links']['eth1'].get('master') is None
        assert scratch.reader.restarts == 1  # the rename of br0: the names ip and bridge had cached were stale


def to_module(module, params):
    """The second configuration through one of the single-purpose modules (or host_network itself)."""
    if module == 'host_network':
        return params
    if module == 'host_bond':
        bonds = params.get('bonds') or []
        if not bonds:
            return None
        return dict(bonds[0], state='absent' if params['state'] == 'deleted' else 'present')
    if module == 'host_bridge':
        bridges = params.get('bridges') or []
        if not bridges:
            return None
        return dict(bridges[0], state='absent' if params['state'] == 'deleted' else 'present',
                    purge_ports=params['state'] != 'merged')
    vlans = params.get('vlans') or []
    if not vlans and params['state'] in ('merged', 'replaced'):
        return None
    return {'state': params['state'], 'config': vlans}
