"""A real ansible-playbook run: check mode and --diff on a node reached through an interpreter wrapper, then the real
run and its idempotence, in ONE ansible-playbook process (two plays: the first with ``check_mode: true``, what
``--check`` sets for every task; a controller's start costs 45-150 s under TCG at load 12), the node's Python the
lab's warm Python (``WarmPython``); and every module's EXAMPLES, run task by task through the engine (argument spec
included) on a node of their own."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from host_support import REPO

MODULES = ('host_bond', 'host_bridge', 'host_vlan_trunk', 'host_network', 'host_network_info')
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(os.sys.executable), 'ansible-playbook')


def lab_host(make_netns, veth, folder, label, python=None):
    """A node with eth0 (192.168.122.10/24, default route to a real gateway) and eth1-eth3, all cabled to a switch
    namespace; returns (inventory line, namespace).  ``python``: a ``warm_python`` fixture's, else a fresh
    interpreter started in the namespace for every task (``ip netns exec``)."""
    ns = make_netns(label)
    switch = make_netns(label + '-sw')
    for nic in ('eth0', 'eth1', 'eth2', 'eth3'):
        veth(ns, nic, switch, 'sw-%s' % nic)
    switch.ip('addr', 'add', '192.168.122.1/24', 'dev', 'sw-eth0')
    ns.ip('addr', 'add', '192.168.122.10/24', 'dev', 'eth0')
    ns.ip('route', 'add', 'default', 'via', '192.168.122.1')
    interpreter = python.interpreter(ns, folder) if python else ns.write_interpreter(folder)
    line = '%s ansible_connection=local ansible_python_interpreter=%s' % (label, interpreter)
    return line, ns


# The node's Python for ansible-playbook: the lab's warm Python (lab/warm.py, the lab's and the roles phase's node
# Python), one process with the standard library, ansible-core's module support and pyroute2 imported, forked for
# every module task into the node's namespace; the module still runs from the AnsiballZ payload the controller sent
# (a module_util missing from it fails as on a real node).  Under TCG a fresh interpreter's start and its imports
# from the payload (no compiled-code cache in a zip) are most of a module task: 60-100 s at load 12.  This client is
# the interpreter ansible runs: it hands its argv, environment, working folder and standard streams to the warm
# Python and exits with the module's exit code (it waits for the warm Python to listen: it starts beside the
# controller).
WARM_CLIENT = r'''
import array, json, os, socket, sys, time
path, netns = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 600
while True:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        break
    except OSError:
        sock.close()
        if time.monotonic() > deadline:
            sys.exit('the warm Python did not listen at %s within 600 s' % path)
        time.sleep(0.5)
request = {'argv': sys.argv[3:], 'env': dict(os.environ), 'cwd': os.getcwd(), 'netns': netns}
sock.sendmsg([json.dumps(request).encode() + b'\n'],
             [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [0, 1, 2]).tobytes())])
answers = b''
while answers.count(b'\n') < 2 and b'error' not in answers:
    chunk = sock.recv(4096)
    if not chunk:
        sys.exit('the warm Python hung up')
    answers += chunk
first = json.loads(answers.split(b'\n')[0])
if 'pid' not in first:
    sys.exit('warm Python: %s' % first)
rc = json.loads(answers.split(b'\n')[1])['rc']
sys.exit(rc if rc >= 0 else 128 - rc)
'''


class WarmPython:
    """lab/warm.py's server, started once; ``interpreter(ns, folder)`` writes the node's interpreter wrapper."""

    def __init__(self, folder):
        self.folder = str(folder)
        self.socket = os.path.join(self.folder, 'warm.sock')
        self.client = os.path.join(self.folder, 'warm_client.py')
        with open(self.client, 'w', encoding='utf-8') as stream:
            stream.write(WARM_CLIENT)
        self.output = ''
        self.server = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, '-m', 'lab.warm', self.socket], cwd=REPO, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE)

    def interpreter(self, ns, folder):
        path = os.path.join(str(folder), 'python-warm-%s' % ns.name)
        with open(path, 'w', encoding='utf-8') as stream:
            stream.write('#!/bin/sh\nexec %s -I -S %s %s %s "$@"\n' % (
                sys.executable, self.client, self.socket, ns.name))
        os.chmod(path, 0o755)
        return path

    def stop(self):
        """Stop the server; returns what it printed ("ready ..." once it listened)."""
        if self.server.returncode is None:
            self.server.terminate()
            self.output = self.server.communicate(timeout=60)[0].decode(errors='replace')
        return self.output


@pytest.fixture
def warm_python(tmp_path_factory):
    warm = WarmPython(tmp_path_factory.mktemp('warm'))
    try:
        yield warm
    finally:
        warm.stop()


# ansible-core has no JSON stdout callback any more (it lives in ansible.posix): a small one writes the results.
RECORDER = '''
import json
import os
import subprocess

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
        self.plays.append({'name': play.get_name(), 'tasks': [], 'links_before': self._links()})

    @staticmethod
    def _links():
        """The witness (iproute2, not the modules) on the node's links as this play starts: HN_WITNESS_NETNS's."""
        netns = os.environ.get('HN_WITNESS_NETNS')
        if not netns:
            return None
        out = subprocess.run(['ip', '-n', netns, '-j', 'link', 'show'], stdout=subprocess.PIPE, check=True).stdout
        return sorted(link['ifname'] for link in json.loads(out))

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


def playbook(folder, inventory, plays, *options, witness_netns=''):
    """Run ``plays`` with one ansible-playbook process; its recorded results (and, with ``witness_netns``, that
    namespace's links as iproute2 shows them at each play's start), stdout and stderr."""
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
               ANSIBLE_PIPELINING='1',  # the module on the interpreter's stdin (as the lab runs them)
               HARVESTER_NETWORK_ROOT=os.path.join(folder, 'root'),  # persist: true writes there
               HN_WITNESS_NETNS=witness_netns)
    result = subprocess.run([ANSIBLE_PLAYBOOK, '-i', inventory_file, book] + list(options), cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=1800, check=False)
    if not os.path.exists(record):
        raise AssertionError('ansible-playbook did not finish:\n%s\n%s' % (
            result.stdout[-3000:], result.stderr[-3000:]))
    with open(record) as stream:
        report = json.load(stream)
    report['stdout'] = result.stdout
    report['stderr'] = result.stderr
    return result.returncode, report


def module_examples(module):
    with open(os.path.join(REPO, 'plugins', 'modules', '%s.py' % module)) as stream:
        source = stream.read()
    start = source.index("EXAMPLES = r'''") + len("EXAMPLES = r'''")
    return yaml.safe_load(source[start:source.index("'''", start)])


def test_check_diff_and_idempotence(make_netns, veth, tmp_path, warm_python):
    """One ansible-playbook run, two plays over the same tasks: "check" (``check_mode: true``) predicts with --diff
    and leaves the node as it was (iproute2 shows no data-bo as the second play starts), "real" converges, runs
    again unchanged (the same task again, and the round trip of what it gathered), and host_vlan_trunk's list
    diff renders in the default callback."""
    line, ns = lab_host(make_netns, veth, tmp_path, 'pbnode', python=warm_python)
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
    trunk = {'name': 'trunk', 'harvester.network.host_vlan_trunk': {'config': [{'port': 'data-bo', 'vids': [300]}]}}
    read = [{'name': 'read', 'harvester.network.host_network_info': {}, 'register': 'node'},
            {'name': 'round trip', 'harvester.network.host_network': round_trip}]
    common = {'hosts': 'nodes', 'gather_facts': False, 'vars': {'vids': [100, 200]}}
    twice = [dict(converge, name='converge'), dict(converge, name='converge again')]
    plays = [dict(common, name='check', check_mode=True, tasks=twice + read),
             dict(common, name='real', tasks=twice + [trunk] + read)]

    code, report = playbook(tmp_path, [line], plays, '--diff', witness_netns=ns.name)
    assert code == 0, report['stdout'][-3000:]
    assert [play['name'] for play in report['plays']] == ['check', 'real'], report['plays']
    check, real = (dict((task['task']['name'], task['hosts']['pbnode']) for task in play['tasks'])
                   for play in report['plays'])
    assert check['converge']['changed'] is True and 'data-bo' in json.dumps(check['converge']['diff'])
    assert 'ip link add data-bo' in check['converge']['commands'][0]
    assert check['converge again']['changed'] is True  # predicted again: check mode changed nothing
    shown = report['stdout'].split('PLAY [real]', 1)[0]
    assert '+' in shown and 'data-bo' in shown, 'no --diff output in check mode'
    assert 'data-bo' not in report['plays'][1]['links_before'], 'check mode changed the node'
    assert set(report['plays'][0]['links_before']) == set(report['plays'][1]['links_before'])

    assert real['converge']['changed'] is True
    assert real['converge again']['changed'] is False and real['round trip']['changed'] is False
    assert real['trunk']['changed'] is True
    shown = report['stdout'].split('PLAY [real]', 1)[1].split('TASK [trunk]', 1)[1].split('TASK [', 1)[0]
    assert '+' in shown and '300' in shown, 'no --diff output for host_vlan_trunk:\n%s' % shown
    assert 'Failure using method' not in report['stdout'] + report.get('stderr', ''), 'a callback failed on a diff'
    assert '300' in ns.bridge('-j', 'vlan', 'show', 'dev', 'data-bo').stdout
    diff = real['converge']['diff']
    diff = diff[0] if isinstance(diff, list) else diff
    assert diff['before']['bonds'] == [] and diff['after']['bonds'][0]['name'] == 'data-bo'
    # the recap counts both plays: the check play's two predicted changes, the real play's converge and trunk
    assert sum(bool(result.get('changed')) for result in real.values()) == 2
    assert report['stats']['pbnode']['changed'] == 4
    assert ns.ip('link', 'show', 'data-bo').returncode == 0
    assert warm_python.stop().startswith('ready'), 'the warm Python did not start'


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
