"""The artifact users install: `ansible-galaxy collection build`, then `collection install` into a fresh path, then
a playbook that uses only FQCNs runs from that installed copy, offline, with nothing else on the collections path."""

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from testbeds.common import REPO_ROOT

VENV_BIN = os.path.dirname(sys.executable)
FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'files')
PLAYBOOK = os.path.join(FILES, 'offline_rendered.yml')

with open(os.path.join(REPO_ROOT, 'galaxy.yml'), encoding='utf-8') as _handle:
    GALAXY = yaml.safe_load(_handle)
FQCN = '%s.%s' % (GALAXY['namespace'], GALAXY['name'])

# what must never ship: test beds, the lab, test output, CI, benchmarks, VCS and tool caches
FORBIDDEN = ('testbeds/', 'lab/', 'tests/output/', '.ci/', 'benchmarks/', '.git/', '.hypothesis/', '.pytest_cache/',
             '__pycache__/', '.cache/')
REQUIRED = ('MANIFEST.json', 'FILES.json', 'README.md', 'COPYING', 'meta/runtime.yml', 'plugins/inventory/vms.py',
            'changelogs/changelog.yaml')


def plugin_files(kind):
    folder = os.path.join(REPO_ROOT, 'plugins', kind)
    return sorted('plugins/%s/%s' % (kind, name) for name in os.listdir(folder)
                  if name.endswith('.py') and name != '__init__.py') if os.path.isdir(folder) else []


def run(args, cwd=None, env=None, timeout=300):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, '%s failed (%s):\n%s\n%s' % (' '.join(args), proc.returncode, proc.stdout, proc.stderr)
    return proc


def isolated_env(collections_path, home):
    """Only ``collections_path`` holds collections: no inherited ANSIBLE_* settings, no collections on sys.path."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'K8S_AUTH_')) and k != 'PYTHONPATH')
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections_path), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
               ANSIBLE_HOME=str(home), ANSIBLE_NOCOLOR='1', PATH=VENV_BIN + os.pathsep + os.environ.get('PATH', ''))
    return env


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('build')
    home = tmp_path_factory.mktemp('home')
    run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'build', REPO_ROOT, '--output-path', str(out)],
        env=isolated_env(out, home))
    path = out / ('%s-%s-%s.tar.gz' % (GALAXY['namespace'], GALAXY['name'], GALAXY['version']))
    assert path.is_file(), 'ansible-galaxy built %s, not %s' % (os.listdir(out), path.name)
    return path


@pytest.fixture(scope='module')
def installed(tarball, tmp_path_factory):
    """(collections path, environment) of a fresh install of the tarball."""
    fresh = tmp_path_factory.mktemp('collections')
    env = isolated_env(fresh, tmp_path_factory.mktemp('home'))
    run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '-p', str(fresh), str(tarball)],
        env=env)
    return fresh, env


def test_tarball_ships_the_collection_and_nothing_else(tarball):
    with tarfile.open(tarball) as archive:
        names = [m.name + ('/' if m.isdir() else '') for m in archive.getmembers()]
    shipped = set(n.rstrip('/') for n in names)
    wanted = list(REQUIRED) + plugin_files('modules') + plugin_files('module_utils/cluster') + plugin_files('doc_fragments')
    wanted += ['roles/%s/meta/argument_specs.yml' % role for role in sorted(os.listdir(os.path.join(REPO_ROOT, 'roles')))
               if os.path.isfile(os.path.join(REPO_ROOT, 'roles', role, 'meta', 'argument_specs.yml'))] \
        if os.path.isdir(os.path.join(REPO_ROOT, 'roles')) else []
    missing = [n for n in wanted if n not in shipped]
    assert not missing, 'not in %s: %s' % (tarball.name, missing)
    leaked = [n for n in names if n.startswith(FORBIDDEN) or '/__pycache__/' in n or n.endswith('.pyc')]
    tops = sorted(set(n.split('/', 1)[0] + ('/' if '/' in n else '') for n in leaked))
    assert not leaked, 'must not ship (add them to build_ignore in galaxy.yml): %d files under %s' % (len(leaked), tops)
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile('MANIFEST.json'))
    info = manifest['collection_info']
    assert (info['namespace'], info['name'], info['version']) == (GALAXY['namespace'], GALAXY['name'], GALAXY['version'])


def test_installed_copy_is_complete_and_the_only_one(installed):
    fresh, env = installed
    root = fresh / 'ansible_collections' / GALAXY['namespace'] / GALAXY['name']
    # every file against the checksums in MANIFEST.json/FILES.json, without a Galaxy server
    run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'verify', '--offline', FQCN], env=env)
    listed = json.loads(run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'list', FQCN, '--format', 'json'],
                            env=env).stdout)
    assert listed == {str(fresh / 'ansible_collections'): {FQCN: {'version': GALAXY['version']}}}
    for kind, name in (('module', 'host_vlan_trunk'), ('module', 'vlan_dhcp'), ('inventory', 'vms')):
        docs = json.loads(run([os.path.join(VENV_BIN, 'ansible-doc'), '-t', kind, '--json', '%s.%s' % (FQCN, name)],
                              env=env).stdout)
        assert docs['%s.%s' % (FQCN, name)]['doc']['filename'].startswith(str(root) + '/'), docs


def test_fqcn_playbook_runs_offline_from_the_installed_copy(installed, tmp_path):
    fresh, env = installed
    shutil.copy(PLAYBOOK, tmp_path / 'play.yml')
    proc = run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', 'localhost,',
                '-e', 'ansible_python_interpreter=%s' % sys.executable, 'play.yml'], cwd=str(tmp_path), env=env)
    assert 'failed=0' in proc.stdout, proc.stdout
    with open(tmp_path / 'rendered.json', encoding='utf-8') as handle:
        result = json.load(handle)

    trunk = result['trunk']
    assert trunk['changed'] is False and trunk['failed'] is False
    assert any('bridge vlan add dev eth1 vid 100' in line for line in trunk['rendered']), trunk['rendered']
    assert any('bridge vlan add dev eth1 vid 200-210' in line for line in trunk['rendered']), trunk['rendered']
    assert any('bridge vlan add dev veth1 vid 100 pvid untagged' in line for line in trunk['rendered']), trunk['rendered']
    assert [op['link'] for op in trunk['plan']] == ['eth1', 'veth1']

    dhcp = result['dhcp']
    plan = dhcp['address_plan']
    assert (plan['cidr'], plan['gateway'], plan['server_address'], plan['pool_size']) == (
        '192.168.100.0/24', '192.168.100.1', '192.168.100.2', 100)
    assert 'dhcp-range=set:vlan,192.168.100.100,192.168.100.199,255.255.255.0,12h' in dhcp['config'].splitlines()
    assert 'interface=eth1' in dhcp['config'].splitlines()
    kinds = sorted(obj['kind'] for obj in dhcp['objects'])
    assert 'ConfigMap' in kinds and 'Deployment' in kinds, kinds
