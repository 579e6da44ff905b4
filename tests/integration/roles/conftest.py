"""Fixtures for the role tests, on the lab's bed (lab/bed.py): ``<venv>/bin/python -m pytest tests/integration/roles``.

The controller runs here, natively, as on an admin machine: pytest, ansible-playbook, ansible-runner, molecule and
the cluster modules, against the lab keeper's kube-apiservers on 127.0.0.1 (profile "current" and, for the
v0.3/v1.0 migration, "legacy", on one etcd). The nodes are network namespaces where the kernel has bonding, 802.1Q
and VLAN filtering (a QEMU guest of the kernel bed on this project's machines): their Python is the lab's relay
through the job channel, and every iproute2 command of the tests goes the same way. The site is
tests/integration/roles/world.yml, rebuilt fresh for each test module.

Needs root and the beds of scripts/setup.sh; without them every test FAILS (never skips).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

from lab import lifecycle, playbook
from lab.bed import Bed, native_capable
from lab.config import NS_PREFIX, Paths, World
from testbeds.common import REPO_ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD = os.path.join(HERE, 'world.yml')
EXAMPLE_DIR = os.path.join(REPO_ROOT, 'examples', 'inventory')
EXAMPLE_INVENTORY = os.path.join(EXAMPLE_DIR, 'hosts.yml')
EXAMPLE_VARS = os.path.join(EXAMPLE_DIR, 'harvester-network.yml')
PLAYBOOKS = os.path.join(REPO_ROOT, 'playbooks')
OUTPUT = os.path.join(REPO_ROOT, 'tests', 'output')
VIDS = (100, 200)
RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)'
                   r'\s+rescued=(\d+)\s+ignored=(\d+)', re.MULTILINE)
STATE_ENV = 'HN_ROLES_STATE_DIR'  # the session's bed, for ansible_env() (pytest imports conftest twice)


@pytest.fixture(scope='session')
def bed():
    """The lab keeper for the whole session: etcd, the "current" and "legacy" kube-apiservers, the agent."""
    if os.geteuid() != 0:
        pytest.fail('the role tests need root (network namespaces)', pytrace=False)
    if native_capable() and lifecycle.keeper_pid(Paths()):
        pytest.fail('a lab is up on this kernel and would share its namespaces (%s*): `make lab-down` first'
                    % NS_PREFIX, pytrace=False)
    home = os.environ.get('HN_ROLES_HOME') or tempfile.mkdtemp(prefix='hn-roles-')
    lifecycle.stop(Paths(home))  # what an interrupted earlier run in HN_ROLES_HOME left
    built = Bed(home, World(world_path=WORLD, site_vars_path=EXAMPLE_VARS), extra_profiles=('legacy',))
    try:
        started = time.monotonic()
        built.up()
        sys.stderr.write('\n[roles] lab bed up in %.0fs (%s)\n' % (time.monotonic() - started, built.cluster.get('bed')))
        os.environ[STATE_ENV] = built.state_dir
        yield built
    finally:
        os.environ.pop(STATE_ENV, None)
        built.down()
        if not os.environ.get('HN_ROLES_HOME'):
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope='session')
def kubeconfig(bed):
    """The kubeconfig of the API server with the Harvester v1.1+ CRDs."""
    return bed.kubeconfig('current')


@pytest.fixture(scope='session')
def legacy_kubeconfig(bed):
    """The same for the API server with the Harvester v0.3/v1.0 CRDs."""
    return bed.kubeconfig('legacy')


@pytest.fixture(scope='session')
def api(kubeconfig):
    """A ``kubernetes`` ApiClient (the official client, not this collection's transport)."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    api_client = config.new_client_from_config(config_file=kubeconfig)
    yield client, api_client
    api_client.close()


@pytest.fixture(scope='module')
def lab(bed):
    """A fresh site (world.yml) for the module: namespaces, cables, empty node folders."""
    started = time.monotonic()
    bed.build()
    sys.stderr.write('\n[roles] topology built in %.1fs\n' % (time.monotonic() - started))
    return bed


def node_paths(bed, node):
    """Where a node keeps its files in the lab (inventory host vars): the roles' defaults are /etc, /var/lib, /run."""
    root = bed.node_root(node)
    return {
        'node_prep_modules_load_file': os.path.join(root, 'etc', 'modules-load.d', 'harvester-network.conf'),
        'node_prep_sysctl_file': os.path.join(root, 'etc', 'sysctl.d', '90-harvester-network.conf'),
        'dhcp_server_config_dir': os.path.join(root, 'etc', 'harvester-network', 'dhcp'),
        'dhcp_server_lease_dir': os.path.join(root, 'var', 'lib', 'harvester-network', 'dhcp'),
        'dhcp_server_run_dir': os.path.join(root, 'run', 'harvester-network'),
    }


def write_inventory(bed, kubeconfig, folder):
    """An inventory of the bed's nodes (laid over examples/inventory: later sources win) and the lab's overrides of
    the example vars file; returns (inventory path, overrides path)."""
    hosts = {}
    for name in bed.nodes:
        hosts[name] = dict(node_paths(bed, name), ansible_connection='local',
                           ansible_python_interpreter=bed.interpreter(name),
                           ansible_remote_tmp=bed.paths.state('tmp', name))
    inventory = {
        'all': {
            'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}},
            'children': {'harvester_nodes': {'hosts': hosts}},
        },
    }
    path = os.path.join(folder, 'lab-inventory.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(inventory, handle)
    overrides = {
        'harvester_kubeconfig': kubeconfig,
        # no Harvester network agent on the bed's nodes: the default_vlan role builds their node side
        # (docs/who-builds-what.md)
        'default_vlan_manage_host': True,
        # the lab's namespaces have no systemd: dnsmasq runs as a daemon with a PID file
        'dhcp_server_service_manager': 'none',
        # both nodes in one batch (the teardown run uses the default, one node per batch)
        'harvester_serial': 2,
    }
    vars_path = os.path.join(folder, 'lab-vars.yml')
    with open(vars_path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(overrides, handle)
    return path, vars_path


def saved_state(bed, node):
    """A node's saved desired state (what harvester.network's boot unit re-applies), as {section: {name: spec}}."""
    with open(os.path.join(bed.node_root(node), 'etc', 'harvester-network', 'state.json'), encoding='utf-8') as handle:
        doc = json.load(handle)
    assert doc['version'] == 2, doc.get('version')
    return dict((section, dict((key, item['spec']) for key, item in saved['items'].items()))
                for section, saved in doc['sections'].items())


def ansible_env(extra=None):
    """The controller's environment: the lab's (its own collection link, no KUBECONFIG/K8S_AUTH_*), plus the
    per-task timing callback."""
    env = playbook.environment(os.environ[STATE_ENV])
    env.update({
        'ANSIBLE_HOST_KEY_CHECKING': '0',
        # per-task durations for the timing report (HN_TASK_TIMING names the file)
        'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
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


def ansible_playbook(playbook_path, inventories, extra_vars=(), env=None, timeout=1500, args=()):
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')]
    for inventory in inventories:
        argv += ['-i', inventory]
    for item in extra_vars:
        argv += ['-e', item]
    argv += list(args) + [playbook_path]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or ansible_env(),
                          check=False)
    return PlaybookRun(argv, proc, time.monotonic() - started)
