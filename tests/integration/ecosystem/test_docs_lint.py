"""Every module, plugin and role documents itself: ``ansible-doc`` renders each one, ``ansible-doc -l`` lists them all,
and ``antsibull-docs lint-collection-docs --plugin-docs`` finds no problem (reported per file, so a failure names
the plugin that needs fixing).  The lists come from the tree, so a new module or role is covered without edits."""

import json
import os
import re
import subprocess
import sys

import pytest

from testbeds.collection import collections_root
from testbeds.common import REPO_ROOT

VENV_BIN = os.path.dirname(sys.executable)
NAMESPACE = 'harvester.network'
# plugins/<folder> -> ansible-doc type, for the folders whose .py files carry DOCUMENTATION
DOC_TYPES = {'modules': 'module', 'inventory': 'inventory', 'lookup': 'lookup', 'connection': 'connection',
             'callback': 'callback', 'become': 'become', 'cache': 'cache', 'vars': 'vars', 'strategy': 'strategy',
             'shell': 'shell', 'cliconf': 'cliconf', 'httpapi': 'httpapi', 'netconf': 'netconf'}


def documented():
    """(ansible-doc type, short name, path relative to the collection) of every module, plugin and role."""
    found = []
    for folder, kind in sorted(DOC_TYPES.items()):
        path = os.path.join(REPO_ROOT, 'plugins', folder)
        if os.path.isdir(path):
            found.extend((kind, name[:-3], 'plugins/%s/%s' % (folder, name)) for name in sorted(os.listdir(path))
                         if name.endswith('.py') and not name.startswith('_'))
    # filters and tests are documented one per name, in a YAML file beside the .py file that defines them
    for folder, kind in (('filter', 'filter'), ('test', 'test')):
        path = os.path.join(REPO_ROOT, 'plugins', folder)
        if os.path.isdir(path):
            found.extend((kind, name[:-4], 'plugins/%s/%s' % (folder, name)) for name in sorted(os.listdir(path))
                         if name.endswith('.yml'))
    roles = os.path.join(REPO_ROOT, 'roles')
    if os.path.isdir(roles):
        found.extend(('role', name, 'roles/%s/' % name) for name in sorted(os.listdir(roles))
                     if os.path.isdir(os.path.join(roles, name)))
    return found


DOCUMENTED = documented()
IDS = ['%s:%s' % (kind, name) for kind, name, _path in DOCUMENTED]


def env(tmp_home):
    values = dict(os.environ)
    values.update(ANSIBLE_COLLECTIONS_PATH=collections_root(), ANSIBLE_HOME=str(tmp_home), ANSIBLE_NOCOLOR='1',
                  NO_COLOR='1', PATH=VENV_BIN + os.pathsep + os.environ.get('PATH', ''))
    return values


@pytest.fixture(scope='module')
def doc_env(tmp_path_factory):
    return env(tmp_path_factory.mktemp('ansible-home'))


def ansible_doc(doc_env, *args):
    return subprocess.run([os.path.join(VENV_BIN, 'ansible-doc')] + list(args), env=doc_env, capture_output=True,
                          text=True, timeout=180, check=False)


def test_the_tree_has_modules_and_the_inventory_plugin():
    kinds = set((kind, name) for kind, name, _path in DOCUMENTED)
    assert ('inventory', 'vms') in kinds and any(kind == 'module' for kind, _name in kinds), DOCUMENTED


_HEADER = re.compile(r'^> [A-Z]+:? \*?(\S+?)\*? ')


def text_sections(text):
    """{name in the header: its lines} of ``ansible-doc`` text output for several plugins (each starts with a
    header line ``> MODULE harvester.network.vm (path)``, ``> ROLE: *harvester.network.node_prep* (path)``)."""
    sections, current = {}, None
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            current = match.group(1)
            sections[current] = []
        if current is not None:
            sections[current].append(line)
    return dict((name, '\n'.join(lines)) for name, lines in sections.items())


@pytest.fixture(scope='module')
def rendered(doc_env):
    """{kind: (JSON process, text process)} of ONE ``ansible-doc --json`` and ONE text ``ansible-doc`` run for all
    the plugins of a kind (each start of ansible-doc costs about a CPU second). Run per kind on first use."""
    runs = {}

    def get(kind):
        if kind not in runs:
            names = ['%s.%s' % (NAMESPACE, n) for k, n, _path in DOCUMENTED if k == kind]
            runs[kind] = (ansible_doc(doc_env, '-t', kind, '--json', *names), ansible_doc(doc_env, '-t', kind, *names))
        return runs[kind]
    return get


def rendered_one(doc_env, rendered, kind, fqcn):
    """(JSON process, its entry or None, text process, its text) of ``fqcn``: from its kind's one run of each form, or
    from runs of its own when that one failed (ansible-doc stops at the first plugin it cannot render, so the runs
    of its own name the plugin that fails)."""
    json_proc, text_proc = rendered(kind)
    if json_proc.returncode == 0 and '[ERROR]' not in json_proc.stderr:
        entry = json.loads(json_proc.stdout).get(fqcn)
    else:
        json_proc = ansible_doc(doc_env, '-t', kind, '--json', fqcn)
        ok = json_proc.returncode == 0 and '[ERROR]' not in json_proc.stderr
        entry = json.loads(json_proc.stdout).get(fqcn) if ok else None
    if text_proc.returncode != 0:
        text_proc = ansible_doc(doc_env, '-t', kind, fqcn)
    return json_proc, entry, text_proc, text_sections(text_proc.stdout).get(fqcn, '')


@pytest.mark.parametrize('kind, name, path', DOCUMENTED, ids=IDS)
def test_ansible_doc_renders(doc_env, rendered, kind, name, path):
    fqcn = '%s.%s' % (NAMESPACE, name)
    proc, entry, text, section = rendered_one(doc_env, rendered, kind, fqcn)
    assert proc.returncode == 0 and '[ERROR]' not in proc.stderr, '%s:\n%s%s' % (path, proc.stdout, proc.stderr)
    assert entry is not None, '%s: ansible-doc -t %s --json rendered no %s:\n%s' % (path, kind, fqcn, proc.stderr)
    if kind == 'role':  # documented through meta/argument_specs.yml
        main = entry['entry_points'].get('main') or {}
        assert main.get('short_description'), 'roles/%s/meta/argument_specs.yml: main has no short_description' % name
    else:
        assert entry['doc'].get('short_description'), '%s has no short_description' % path
        assert entry['doc'].get('filename', '').endswith(path), entry['doc'].get('filename')
    # the text form too (what a user reads), not only the JSON: a section of its own, headed by its name
    assert text.returncode == 0 and section, '%s: no text section for %s:\n%s%s' % (
        path, fqcn, text.stdout[-3000:], text.stderr)
    assert len(section.splitlines()) > 3, section


@pytest.mark.parametrize('kind', sorted(set(kind for kind, _name, _path in DOCUMENTED)))
def test_ansible_doc_lists_every_one(doc_env, kind):
    proc = ansible_doc(doc_env, '-t', kind, '-l', NAMESPACE, '--json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = set(json.loads(proc.stdout))
    wanted = set('%s.%s' % (NAMESPACE, name) for k, name, _path in DOCUMENTED if k == kind)
    assert listed == wanted, 'ansible-doc -t %s -l: missing %s, unexpected %s' % (
        kind, sorted(wanted - listed), sorted(listed - wanted))


# ---- antsibull-docs -------------------------------------------------------------------------------------------------
_ENTRY = re.compile(r'^(\S+?):\d+:\d+: ')


@pytest.fixture(scope='module')
def antsibull_report(tmp_path_factory):
    """(exit code, {path relative to the collection: [problems]}) of one lint-collection-docs run."""
    collection = os.path.join(collections_root(), 'ansible_collections', 'harvester', 'network')
    proc = subprocess.run([os.path.join(VENV_BIN, 'antsibull-docs'), 'lint-collection-docs', '--plugin-docs', collection],
                          env=env(tmp_path_factory.mktemp('antsibull-home')), capture_output=True, text=True,
                          timeout=600, check=False)
    problems = {}
    current = None
    for line in (proc.stdout + proc.stderr).splitlines():
        match = _ENTRY.match(line)
        if match:
            path = match.group(1)
            current = os.path.relpath(path, collection) if path.startswith(collection) else path
            problems.setdefault(current, []).append(line[match.end():].strip())
        elif line.strip():
            problems.setdefault(current or '(collection)', []).append(line.strip())
    return proc.returncode, problems


@pytest.mark.parametrize('kind, name, path', DOCUMENTED, ids=IDS)
def test_antsibull_docs_lint_is_clean_for(antsibull_report, kind, name, path):
    _rc, problems = antsibull_report
    found = dict((p, lines) for p, lines in problems.items() if p == path or (path.endswith('/') and p.startswith(path)))
    assert not found, 'antsibull-docs lint-collection-docs on %s %s.%s:\n%s' % (
        kind, NAMESPACE, name, '\n'.join('%s: %s' % (p, line) for p, lines in found.items() for line in lines))


def test_antsibull_docs_lint_is_clean_overall(antsibull_report):
    """Nothing anywhere (changelog, runtime.yml, doc fragments, ...) and exit code 0."""
    rc, problems = antsibull_report
    assert rc == 0 and not problems, 'antsibull-docs lint-collection-docs exit %s:\n%s' % (
        rc, '\n'.join('%s: %s' % (p, line) for p, lines in sorted(problems.items()) for line in lines))
