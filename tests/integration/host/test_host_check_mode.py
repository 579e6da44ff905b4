"""Check-mode accuracy on the real kernel, over generated configurations (hypothesis).

For each example, in a fresh network namespace: a random starting configuration is applied, then a second random
configuration is run in check mode and for real.  The check-mode plan must be exactly what the real run did, the
predicted end state must be what the kernel then shows, and a second real run must change nothing.
"""

import subprocess

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from host_support import Node, enter_netns
from host_strategies import NICS, VM_PORTS, network_params

from ansible_collections.harvester.network.plugins.module_utils.host import engine

EXAMPLES = 75


class Scratch:
    """A throw-away namespace per example (the fixtures' namespaces live for the whole test)."""

    counter = 0

    def __init__(self):
        Scratch.counter += 1
        self.name = 'hn-cm-%d' % Scratch.counter

    def ip(self, *args, check_rc=True):
        result = subprocess.run(['ip', '-netns', self.name] + list(args), stdout=subprocess.PIPE,
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

    def enter(self):
        return enter_netns(self.name)

    def __exit__(self, *exc):
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


def test_check_mode_predicts_real_runs(tmp_path):
    counts = {'examples': 0, 'changed': 0, 'operations': 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],  # no shrinking: each step costs seconds under TCG
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(first=network_params(), second=network_params(states=('merged', 'replaced', 'overridden', 'deleted')),
           module=st.sampled_from(['host_network'] * 4 + ['host_bond', 'host_bridge', 'host_vlan_trunk']))
    def example(first, second, module):
        with Scratch() as scratch:
            node = Node(scratch, None, tmp_path)
            try:
                node.run('host_network', first)
            except engine.EngineError:
                assume(False)
            params = to_module(module, second)
            assume(params is not None)
            try:
                predicted = node.run(module, params, check=True)
            except engine.EngineError:
                assume(False)
            real = node.run(module, params)
            assert real['changed'] == predicted['changed']
            assert real.get('plan', []) == predicted.get('plan', []), 'check mode planned differently'
            assert not [w for w in real['warnings'] if 'predicted' in w], real['warnings']
            assert unknown_free(predicted.get('after'), real.get('after')), (predicted.get('after'), real.get('after'))
            again = node.run(module, params)
            assert again['changed'] is False, again.get('commands')
            counts['examples'] += 1
            counts['changed'] += bool(real['changed'])
            counts['operations'] += len(real.get('plan', []))

    example()
    assert counts['examples'] >= 50, counts
    assert counts["changed"] >= 40, counts
    print('check-mode accuracy: %(examples)d configurations, %(changed)d changed, %(operations)d operations' % counts)


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
