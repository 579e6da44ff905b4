"""Real ansible-playbook runs (two: each costs tens of seconds under TCG): --check and --diff on a node reached through
an interpreter wrapper, idempotence; and every module's EXAMPLES, run task by task through the engine (argument spec
included) on a node of their own."""

import json
import os
import subprocess

import yaml

from host_support import REPO

MODULES = ('host_bond', 'host_bridge', 'host_vlan_trunk', 'host_network', 'host_network_info')
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(os.sys.executable), 'ansible-playbook')


def lab_host(make_netns, veth, folder, label):
    """A node with eth0 (192.168.122.10/24, default route to a real gateway) and eth1-eth3, all cabled to a switch
    namespace; returns (inventory line, namespace)."""
    ns = make_netns(label)
    switch = make_netns(label + '-sw')
    for nic in ('eth0', 'eth1', 'eth2', 'eth3'):
        veth(ns, nic, switch, 'sw-%s' % nic)
    switch.ip('addr', 'add', '192.168.122.1/24', 'dev', 'sw-eth0')
    ns.ip('addr', 'add', '192.168.122.10/24', 'dev', 'eth0')
    ns.ip('route', 'add', 'default', 'via', '192.168.122.1')
    line = '%s ansible_connection=local ansible_python_interpreter=%s' % (label, ns.write_interpreter(folder))
    return line, ns


# ansible-core has no JSON stdout callback any more (it lives in ansible.posix): a small one writes the results.
RECORDER = '''
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'record'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'name': play.get_name(), 'tasks': []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.plays[-1]['tasks'].append({'task': {'name': task.get_name()}, 'hosts': {}})

    def _record(self, result, **extra):
        data = dict(result._result, **extra)
        self.plays[-1]['tasks'][-1]['hosts'][result._host.get_name()] = data

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, failed=True, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = dict((host, stats.summarize(host)) for host in sorted(stats.processed))
        with open(os.environ['HN_RECORD'], 'w') as stream:
            json.dump({'plays': self.plays, 'stats': summary}, stream, default=str)
'''


def playbook(folder, inventory, plays, *options):
    folder = str(folder)
    inventory_file = os.path.join(folder, 'inventory')
    with open(inventory_file, 'w') as stream:
        stream.write('[nodes]\n%s\n' % '\n'.join(inventory))
    book = os.path.join(folder, 'play.yml')
    with open(book, 'w') as stream:
        yaml.safe_dump(plays, stream, sort_keys=False)
    plugins = os.path.join(folder, 'callbacks')
    os.makedirs(plugins, exist_ok=True)
    with open(os.path.join(plugins, 'record.py'), 'w') as stream:
        stream.write(RECORDER)
    record = os.path.join(folder, 'record.json')
    if os.path.exists(record):
        os.unlink(record)
    env = dict(os.environ, ANSIBLE_CALLBACK_PLUGINS=plugins, ANSIBLE_CALLBACKS_ENABLED='record', HN_RECORD=record,
               ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_LOCAL_TEMP=os.path.join(folder, 'tmp'), ANSIBLE_NOCOLOR='1',
               HARVESTER_NETWORK_ROOT=os.path.join(folder, 'root'))  # persist: true writes there
    result = subprocess.run([ANSIBLE_PLAYBOOK, '-i', inventory_file, book] + list(options), cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900, check=False)
    if not os.path.exists(record):
        raise AssertionError('ansible-playbook did not finish:\n%s\n%s' % (
            result.stdout[-3000:], result.stderr[-3000:]))
    with open(record) as stream:
        report = json.load(stream)
    report['stdout'] = result.stdout
    report['stderr'] = result.stderr
    return result.returncode, report


def task_results(report, host):
    return [(task['task']['name'], task['hosts'][host]) for play in report['plays'] for task in play['tasks']
            if host in task['hosts']]


def module_examples(module):
    with open(os.path.join(REPO, 'plugins', 'modules', '%s.py' % module)) as stream:
        source = stream.read()
    start = source.index("EXAMPLES = r'''") + len("EXAMPLES = r'''")
    return yaml.safe_load(source[start:source.index("'''", start)])


def test_check_diff_and_idempotence(make_netns, veth, tmp_path):
    line, ns = lab_host(make_netns, veth, tmp_path, 'pbnode')
    converge = {'harvester.network.host_network': {
        'bonds': [{'name': 'data-bo', 'mode': '802.3ad', 'slaves': ['eth1', 'eth2'], 'lacp_rate': 'fast'}],
        'bridges': [{'name': 'data-br', 'uplink': 'data-bo'}],
        'vlans': [{'port': 'data-bo', 'vids': '{{ vids }}'}]}}
    round_trip = {'state': 'overridden', 'bonds': '{{ node.gathered.bonds }}', 'bridges': '{{ node.gathered.bridges }}',
                  'vlans': '{{ node.gathered.vlans }}', 'addresses': '{{ node.gathered.addresses }}',
                  'routes': '{{ node.gathered.routes }}'}
    # A module whose view is a list (host_vlan_trunk's config-shaped tables): its --diff must render in the default
    # callback too (it crashed the callback's diff method when the diff was a list). Not in check mode: the bond is
    # not there yet.
    trunk = {'name': 'trunk', 'when': 'not ansible_check_mode',
             'harvester.network.host_vlan_trunk': {'config': [{'port': 'data-bo', 'vids': [300]}]}}
    tasks = [dict(converge, name='converge'), dict(converge, name='converge again'), trunk,
             {'name': 'read', 'harvester.network.host_network_info': {}, 'register': 'node'},
             {'name': 'round trip', 'harvester.network.host_network': round_trip}]
    plays = [{'name': 'A Harvester node', 'hosts': 'nodes', 'gather_facts': False, 'vars': {'vids': [100, 200]},
              'tasks': tasks}]

    code, report = playbook(tmp_path, [line], plays, '--check', '--diff')
    assert code == 0, report['stdout'][-3000:]
    results = dict(task_results(report, 'pbnode'))
    assert results['converge']['changed'] is True and 'data-bo' in json.dumps(results['converge']['diff'])
    assert 'ip link add data-bo' in results['converge']['commands'][0]
    assert '+' in report['stdout'] and 'data-bo' in report['stdout'], 'no --diff output'
    assert ns.ip('link', 'show', 'data-bo', check_rc=False).returncode != 0, 'check mode changed the node'

    code, report = playbook(tmp_path, [line], plays, '--diff')
    assert code == 0, report['stdout'][-3000:]
    results = dict(task_results(report, 'pbnode'))
    assert results['converge']['changed'] is True
    assert results['converge again']['changed'] is False and results['round trip']['changed'] is False
    assert results['trunk']['changed'] is True
    shown = report['stdout'].split('TASK [trunk]', 1)[1].split('TASK [', 1)[0]
    assert '+' in shown and '300' in shown, 'no --diff output for host_vlan_trunk:\n%s' % shown
    assert 'Failure using method' not in report['stdout'] + report.get('stderr', ''), 'a callback failed on a diff'
    assert '300' in ns.bridge('-j', 'vlan', 'show', 'dev', 'data-bo').stdout
    diff = results['converge']['diff']
    diff = diff[0] if isinstance(diff, list) else diff
    assert diff['before']['bonds'] == [] and diff['after']['bonds'][0]['name'] == 'data-bo'
    assert report['stats']['pbnode']['changed'] == 2  # converge and trunk
    assert ns.ip('link', 'show', 'data-bo').returncode == 0


def render(value, variables):
    """Template task arguments the way Ansible does for these examples (native types)."""
    from jinja2 import StrictUndefined  # pylint: disable=import-outside-toplevel
    from jinja2.nativetypes import NativeEnvironment  # pylint: disable=import-outside-toplevel
    if isinstance(value, dict):
        return dict((key, render(item, variables)) for key, item in value.items())
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    if isinstance(value, str) and '{{' in value:
        return NativeEnvironment(undefined=StrictUndefined).from_string(value).render(**variables)
    return value


def test_module_examples_run(make_netns, veth, tmp_path):
    """Every EXAMPLES task runs on a real node; templated arguments and registered results behave as in a play."""
    from host_support import Node  # pylint: disable=import-outside-toplevel
    ran = 0
    for module in MODULES:
        label = 'ex-%s' % module.replace('_', '-')[5:]
        _line, ns = lab_host(make_netns, veth, tmp_path, label)
        node = Node(ns, None, tmp_path / label)
        variables = {}
        for task in module_examples(module):
            name = [key for key in task if '.' in key][0]
            if name == 'ansible.builtin.debug':
                for item in render(task.get('loop', [None]), variables):
                    render(task[name], dict(variables, item=item))
                continue
            args = render(task[name] or {}, variables)
            assert name.startswith('harvester.network.'), name
            try:
                result = node.run(name.split('.')[-1], args)
            except Exception as exc:
                raise AssertionError('%s example %r failed: %s' % (module, task['name'], exc))
            if 'register' in task:
                variables[task['register']] = result
            ran += 1
    assert ran >= 20
