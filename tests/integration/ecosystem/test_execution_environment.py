"""The AWX execution environment definition carries everything the collection's plugins import."""

import ast
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest

from testbeds.common import REPO_ROOT

VENV_BIN = os.path.dirname(sys.executable)


def third_party_imports():
    """Top-level module names imported anywhere under plugins/ that are neither stdlib nor Ansible."""
    names = set()
    for folder, _dirs, files in os.walk(os.path.join(REPO_ROOT, 'plugins')):
        for name in files:
            if not name.endswith('.py'):
                continue
            with open(os.path.join(folder, name), encoding='utf-8') as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split('.')[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split('.')[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ('ansible', 'ansible_collections', '__future__')}


def requirement_names(path):
    """Normalised distribution names listed in a pip requirements file."""
    result = set()
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                result.add(re.split(r'[<>=!~\[; ]', line, maxsplit=1)[0].lower().replace('_', '-'))
    return result


@pytest.fixture(scope='module')
def build_context(tmp_path_factory):
    context = tmp_path_factory.mktemp('ee') / 'context'
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-builder'), 'create', '--file', 'execution-environment.yml',
                           '--context', str(context)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return context


def test_build_context_has_every_python_package_the_plugins_import(build_context):
    imports = third_party_imports()
    assert imports, 'no third-party import found under plugins/: the scan is broken'
    distributions = importlib.metadata.packages_distributions()
    listed = requirement_names(build_context / '_build' / 'requirements.txt')
    missing = {}
    for module in sorted(imports):
        dists = {d.lower().replace('_', '-') for d in distributions.get(module, [module])}
        if not dists & listed:
            missing[module] = sorted(dists)
    assert not missing, 'imported by plugins/ but not in the EE requirements: %s' % missing


def test_build_context_has_system_packages_and_the_collection(build_context):
    bindep = (build_context / '_build' / 'bindep.txt').read_text()
    assert re.search(r'^iproute \[platform:rpm\]', bindep, re.M)
    assert re.search(r'^kmod ', bindep, re.M)
    galaxy = (build_context / '_build' / 'requirements.yml').read_text()
    assert 'harvester.network' in galaxy
    dockerfile = (build_context / 'Dockerfile').read_text()
    assert 'ansible-core' in dockerfile and 'ansible-runner' in dockerfile


def test_collection_metadata_is_introspected_by_ansible_builder(tmp_path):
    """`ansible-builder introspect` (what a build runs on installed collections) finds our requirement files."""
    root = tmp_path / 'ansible_collections' / 'harvester'
    root.mkdir(parents=True)
    os.symlink(REPO_ROOT, root / 'network')
    pip_out, bindep_out = tmp_path / 'pip.txt', tmp_path / 'bindep.txt'
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-builder'), 'introspect', str(tmp_path),
                           '--write-pip', str(pip_out), '--write-bindep', str(bindep_out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = requirement_names(pip_out)
    assert {'pyroute2', 'netaddr', 'kubernetes'} <= found, pip_out.read_text()
    assert 'from collection harvester.network' in pip_out.read_text()
    assert re.search(r'^iproute \[platform:rpm\]', bindep_out.read_text(), re.M), bindep_out.read_text()
