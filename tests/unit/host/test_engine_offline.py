"""What works without a kernel: rendered plans, persistence files, the lock."""

import json
import os
import threading
import time

import pytest

from ansible_collections.harvester.network.plugins.module_utils.host import engine, persist


def test_rendered_trunk_and_network():
    rendered = engine.run('host_vlan_trunk', {'state': 'rendered', 'bridge': 'vlan-br', 'config': [
        {'port': 'eth1', 'vids': '2-4094'}, {'port': 'vm1', 'pvid': 100}]}, validated=False)
    assert rendered['rendered'] == ['bridge vlan add dev eth1 vid 2-4094',
                                    'bridge vlan add dev vm1 vid 100 pvid untagged; bridge vlan del dev vm1 vid 1']
    network = engine.run('host_network', {'state': 'rendered', 'bonds': [
        {'name': 'bo0', 'mode': 'active-backup', 'slaves': ['eth1', 'eth2'], 'primary': 'eth1'}],
        'bridges': [{'name': 'br0', 'uplink': 'bo0'}]}, validated=False)
    assert network['rendered'][0] == 'ip link add bo0 type bond mode active-backup primary eth1'
    assert network['changed'] is False


def test_rendered_needs_the_bridge_offline():
    with pytest.raises(engine.EngineError) as info:
        engine.run('host_vlan_trunk', {'state': 'rendered', 'config': [{'port': 'eth1', 'vids': [5]}]},
                   validated=False)
    assert str(info.value).startswith('config[0].bridge:')


def test_argument_spec_errors_name_the_option():
    with pytest.raises(engine.EngineError) as info:
        engine.run('host_bond', {'name': 'bo0', 'mode': 'round-robin'}, validated=False)
    assert 'mode' in str(info.value) and 'round-robin' in str(info.value)


def test_persisted_state_round_trips(tmp_path):
    want = {'state': 'replaced', 'bonds': {'bo0': {'mode': '802.3ad', 'slaves': ['eth1']}}, 'bridges': None,
            'vlans': {'bo0': {'vids': frozenset([5, 6]), 'pvid': None, 'untagged': None, 'bridge': None}},
            'vlan_bridges': None, 'addresses': {'br0': set(['10.0.0.2/24'])},
            'routes': {('0.0.0.0/0', 0): {'dst': '0.0.0.0/0', 'gateway': '10.0.0.1', 'interface': None,
                                          'metric': 0}}, 'links': None, 'fields': {}}
    text = persist.want_to_json(want)
    assert json.loads(text)['version'] == 1
    assert persist.want_from_json(text) == want
    paths = persist.Paths(str(tmp_path))
    changed = persist.install(text, paths, python='/usr/bin/python3')
    assert paths.state_file in changed and os.path.islink(paths.wants_link)
    assert persist.install(text, paths, python='/usr/bin/python3') == []
    with open(paths.unit_file) as stream:
        assert 'ExecStart=/usr/bin/python3 %s' % paths.runner in stream.read()
    package = os.path.join(paths.lib_dir, 'ansible_collections', 'harvester', 'network', 'plugins', 'module_utils',
                           'host')
    assert {'engine.py', 'nlmsg.py', 'plan.py', 'ops.py'} <= set(os.listdir(package))


def test_lock_waits_and_times_out(tmp_path):
    path = str(tmp_path / 'run' / 'lock')
    with persist.Lock(path, 1):
        with pytest.raises(persist.LockTimeout) as info:
            with persist.Lock(path, 0.2):
                pass
        assert 'pid %d' % os.getpid() in str(info.value)
    waited = []

    def second():
        with persist.Lock(path, 5) as lock:
            waited.append(lock.waited)

    with persist.Lock(path, 1):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
    thread.join(5)
    assert waited and waited[0] >= 0.25


def test_diff_renders_in_ansibles_default_callback():
    """A list-shaped view (host_vlan_trunk) broke the callback's diff ('list' has no splitlines); dicts render."""
    from ansible.plugins.callback import CallbackBase  # pylint: disable=import-outside-toplevel
    before, after = [{'port': 'eth1', 'vids': [100]}], [{'port': 'eth1', 'vids': [100, 300]}]
    with pytest.raises(AttributeError):
        CallbackBase()._get_diff({'before': before, 'after': after})  # the shape we returned before
    shown = CallbackBase()._get_diff(engine.diff_of(before, after))
    assert '+                300' in shown and shown.startswith('--- before')
    bonds = {'bonds': [{'name': 'data-bo'}]}
    assert engine.diff_of({'bonds': []}, bonds) == {'before': {'bonds': []}, 'after': bonds}
