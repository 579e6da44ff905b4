"""Fixtures for the role tests: the lab (nodes as network namespaces), the API server, ansible-playbook runs.

These tests need a kernel with bonding, 802.1Q and VLAN-filtering bridges AND a kube-apiserver the kernel reaches.
``python tests/integration/roles/launch.py`` provides both: it starts the cluster test bed on this machine's loopback
and runs pytest in the kernel bed (a QEMU guest where the running kernel lacks the features) with the API server's
port forwarded.  Without them every test FAILS (never skips).
"""

import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from testbeds.kernel import check

from tests.integration.roles.lab import Lab

# ansible-runner finds ansible-playbook on PATH: put this venv's bin first for the whole session.
os.environ['PATH'] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', '')

KUBECONFIG_ENV = 'HN_ROLES_KUBECONFIG'
PORT_ENV = 'HN_ROLES_APISERVER_PORT'
NEEDS = 'run these tests with `python tests/integration/roles/launch.py` (kernel bed + cluster bed)'
OUTPUT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                      'tests', 'output')
RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)'
                   r'\s+rescued=(\d+)\s+ignored=(\d+)', re.MULTILINE)


@pytest.fixture(scope='session', autouse=True)
def kernel_features():
    ok, reason = check()
    if not ok:
        pytest.fail('%s: %s' % (NEEDS, reason), pytrace=False)


def _kubeconfig(tmp_path_factory, kubeconfig_env, port_env):
    source, port = os.environ.get(kubeconfig_env), os.environ.get(port_env)
    if not source or not port:
        pytest.fail('%s and %s are not set: %s' % (kubeconfig_env, port_env, NEEDS), pytrace=False)
    with open(source, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    address = os.environ.get('HN_HOSTFWD_ADDR', '127.0.0.1')
    for cluster in config['clusters']:
        cluster['cluster']['server'] = 'https://%s:%s' % (address, port)
    path = tmp_path_factory.mktemp('kube') / 'kubeconfig'
    path.write_text(yaml.safe_dump(config))
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture(scope='session')
def kubeconfig(tmp_path_factory):
    """The cluster bed's kubeconfig (Harvester v1.1+ CRDs), pointed at the address this kernel reaches it on."""
    return _kubeconfig(tmp_path_factory, KUBECONFIG_ENV, PORT_ENV)


@pytest.fixture(scope='session')
def legacy_kubeconfig(tmp_path_factory):
    """The same for the API server with the Harvester v0.3/v1.0 CRDs."""
    return _kubeconfig(tmp_path_factory, 'HN_ROLES_LEGACY_KUBECONFIG', 'HN_ROLES_LEGACY_APISERVER_PORT')


@pytest.fixture(scope='session')
def api(kubeconfig):
    """A ``kubernetes`` ApiClient (the official client, not this collection's transport)."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    api_client = config.new_client_from_config(config_file=kubeconfig)
    yield client, api_client
    api_client.close()


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """Two nodes and a switch (see lab.py), deleted after the module."""
    folder = str(tmp_path_factory.mktemp('lab'))
    built = Lab(folder)
    try:
        built.build()
        yield built
    finally:
        built.destroy()


def ansible_env(extra=None, kubeconfig_env=True):
    env = dict(os.environ)
    if not kubeconfig_env:
        for name in list(env):
            if name == 'KUBECONFIG' or name.startswith('K8S_AUTH_'):
                del env[name]
    env.update({
        'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0', 'ANSIBLE_RETRY_FILES_ENABLED': '0',
        'ANSIBLE_HOST_KEY_CHECKING': '0', 'ANSIBLE_LOCALHOST_WARNING': '0', 'ANSIBLE_PIPELINING': '1',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0', 'ANSIBLE_DEPRECATION_WARNINGS': '0',
        'ANSIBLE_COLLECTIONS_PATH': os.environ['ANSIBLE_COLLECTIONS_PATH'],
        'PATH': os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', ''),
        # per-task durations for the timing report (HN_TASK_TIMING names the file)
        'ANSIBLE_CALLBACK_PLUGINS': os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins'),
        'ANSIBLE_CALLBACKS_ENABLED': 'task_timing',
        'HN_TASK_TIMING': os.environ.get('HN_TASK_TIMING') or os.path.join(OUTPUT, 'roles-task-timing.jsonl'),
    })
    env.update(extra or {})
    return env


class PlaybookRun:
    """One ansible-playbook run: its output, exit code, duration and per-host recap."""

    def __init__(self, argv, proc, seconds):
        self.argv = argv
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.seconds = seconds
        self.recap = dict((m.group(1), dict(zip(('ok', 'changed', 'unreachable', 'failed', 'skipped', 'rescued',
                                                 'ignored'), map(int, m.groups()[1:]))))
                          for m in RECAP.finditer(proc.stdout))

    def __repr__(self):
        return 'PlaybookRun(rc=%d, %.0fs, recap=%r)' % (self.rc, self.seconds, self.recap)

    def tail(self, lines=80):
        return '\n'.join(self.output.splitlines()[-lines:])


def ansible_playbook(playbook, inventories, extra_vars=(), env=None, timeout=1500, args=()):
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')]
    for inventory in inventories:
        argv += ['-i', inventory]
    for item in extra_vars:
        argv += ['-e', item]
    argv += list(args) + [playbook]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or ansible_env(),
                          check=False)
    return PlaybookRun(argv, proc, time.monotonic() - started)
