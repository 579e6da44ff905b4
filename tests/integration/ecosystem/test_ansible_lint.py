"""ansible-lint, production profile (the repository's .ansible-lint), offline: roles, playbooks, the modules' EXAMPLES
and the sample playbook of this folder must be clean; a deliberately bad play proves the linter really reports.

Offline means: ``--offline`` (no ``ansible-galaxy collection install`` of the project, no schema refresh) and the
collection found through ANSIBLE_COLLECTIONS_PATH (the test beds' ``ansible_collections/harvester/network`` link).
As root, every run happens in a fresh network namespace (``unshare --net``), so any download attempt would fail.
"""

import ast
import json
import os
import subprocess
import sys
import textwrap

import pytest

from testbeds.collection import collections_root
from testbeds.common import REPO_ROOT

VENV_BIN = os.path.dirname(sys.executable)
CONFIG = os.path.join(REPO_ROOT, '.ansible-lint')
SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'files', 'offline_rendered.yml')
NO_NETWORK = ['unshare', '--net'] if os.geteuid() == 0 else []


def lint(args, home, cwd=REPO_ROOT):
    """Run ansible-lint; returns (exit code, violations as codeclimate dicts, stderr)."""
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=collections_root(), ANSIBLE_HOME=str(home), NO_COLOR='1',
               PATH=VENV_BIN + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run(NO_NETWORK + [os.path.join(VENV_BIN, 'ansible-lint'), '--offline', '--nocolor',
                                        '-f', 'codeclimate'] + list(args),
                          # a guard only: the roles and playbooks took 42 s quiet and over 600 s at load 20
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False)
    try:
        violations = json.loads(proc.stdout or '[]')
    except ValueError:
        pytest.fail('ansible-lint printed no JSON (exit %s):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, violations, proc.stderr


def line_of(violation):
    location = violation.get('location') or {}
    begin = (location.get('lines') or {}).get('begin') or ((location.get('positions') or {}).get('begin') or {})
    return begin.get('line') if isinstance(begin, dict) else begin


def describe(violations):
    return '\n'.join('%s:%s %s: %s' % (v['location']['path'], line_of(v), v.get('check_name'), v.get('description'))
                     for v in violations)


def assert_clean(result, processed_at_least=1):
    rc, violations, stderr = result
    assert rc == 0 and not violations, 'ansible-lint (production) found:\n%s\n%s' % (describe(violations), stderr[-2000:])
    assert "Profile 'production' was required, and it passed" in stderr, stderr[-2000:]
    counts = [int(word) for word in stderr.split(' files processed')[0].split()[-1:] if word.isdigit()]
    assert counts and counts[0] >= processed_at_least, 'ansible-lint linted fewer files than expected:\n%s' % stderr[-2000:]


def module_examples():
    """{module name: EXAMPLES text} of every module (its EXAMPLES are a task list)."""
    found = {}
    folder = os.path.join(REPO_ROOT, 'plugins', 'modules')
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.endswith('.py') or name.startswith('_'):
            continue
        with open(os.path.join(folder, name), encoding='utf-8') as handle:
            tree = ast.parse(handle.read())
        for node in tree.body:
            if isinstance(node, ast.Assign) and [getattr(t, 'id', None) for t in node.targets] == ['EXAMPLES']:
                found[name[:-3]] = node.value.value
    return found


def test_roles_and_playbooks_are_clean(tmp_path):
    targets = [d for d in ('roles', 'playbooks') if os.path.isdir(os.path.join(REPO_ROOT, d))]
    if not targets:
        targets = [os.path.relpath(SAMPLE, REPO_ROOT)]
    assert_clean(lint(targets, tmp_path / 'home'), processed_at_least=len(targets))


def test_sample_playbook_is_clean(tmp_path):
    assert_clean(lint([os.path.relpath(SAMPLE, REPO_ROOT)], tmp_path / 'home'))


def test_module_examples_are_clean(tmp_path):
    """Each module's EXAMPLES, as the tasks of a play (the text as written, comments and all): one play per module in
    ONE playbook, so ansible-lint starts one ``ansible-playbook --syntax-check`` for all of them instead of one per
    module (a second of CPU each); a violation is named by the module whose play holds its line."""
    examples = module_examples()
    assert examples, 'no module with EXAMPLES found under plugins/modules'
    project = tmp_path / 'examples'
    project.mkdir()
    text, first_lines = '---\n', []
    for name, example in examples.items():
        first_lines.append((text.count('\n') + 1, name))
        text += ('- name: EXAMPLES of harvester.network.%s\n  hosts: all\n  gather_facts: false\n  tasks:\n%s'
                 % (name, textwrap.indent(example.strip('\n') + '\n', '    ')))
    (project / 'examples.yml').write_text(text)
    rc, violations, stderr = lint(['--project-dir', str(project), '-c', CONFIG, '.'], tmp_path / 'home',
                                  cwd=str(project))

    def module_of(violation):
        line = line_of(violation) or 0
        return ([name for first, name in first_lines if first <= line] or ['(before the first play)'])[-1]
    assert rc == 0 and not violations, 'ansible-lint (production) found, in the EXAMPLES of:\n%s\n%s' % (
        '\n'.join('%s: %s' % (module_of(v), describe([v])) for v in violations), stderr[-2000:])
    assert_clean((rc, violations, stderr), processed_at_least=1)


def test_a_bad_play_is_reported(tmp_path):
    """The canary: short module names and a nameless task break the production profile, so ansible-lint must fail."""
    project = tmp_path / 'canary'
    project.mkdir()
    (project / 'bad.yml').write_text(textwrap.dedent('''\
        ---
        - name: A play that breaks the production profile
          hosts: all
          tasks:
            - debug:
                msg: short module name, no task name
            - name: Shell where a module would do
              ansible.builtin.shell: cat /etc/hostname
        '''))
    rc, violations, stderr = lint(['--project-dir', str(project), '-c', CONFIG, 'bad.yml'], tmp_path / 'home',
                                  cwd=str(project))
    rules = set(v.get('check_name') for v in violations)
    assert rc != 0, stderr
    assert {'fqcn[action-core]', 'name[missing]'} <= rules, describe(violations) + stderr[-2000:]
    assert all(v['location']['path'] == 'bad.yml' for v in violations), describe(violations)
