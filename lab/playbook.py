"""ansible-playbook against the lab: the controller runs here (as it would on an admin machine), the node modules in
the nodes' namespaces (through their interpreters, see lab/noderelay.py), the cluster modules against the lab's
kube-apiserver on 127.0.0.1."""

import os
import re
import subprocess
import sys
import threading
import time

from lab.config import INVENTORY, SITE_PLAYBOOK
from testbeds.common import REPO_ROOT, progress

RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)'
                   r'\s+rescued=(\d+)\s+ignored=(\d+)', re.MULTILINE)
FIELDS = ('ok', 'changed', 'unreachable', 'failed', 'skipped', 'rescued', 'ignored')
TIMEOUT = 2400


class PlaybookRun:
    """One ansible-playbook run: exit code, seconds, per-host recap, per-play seconds, changed and failed tasks."""

    def __init__(self, argv, log_path):
        self.argv = argv
        self.log_path = log_path
        self.rc = None
        self.seconds = None
        self.recap = {}
        self.plays = []          # [(play name, seconds)]
        self.changed_tasks = []  # ['TASK name: host']
        self.failures = []       # ['TASK name: host: message']

    def tail(self, lines=40):
        try:
            with open(self.log_path, encoding='utf-8', errors='replace') as handle:
                return ''.join(handle.readlines()[-lines:])
        except OSError:
            return ''

    def summary(self):
        return 'exit %s after %.0fs; %s' % (self.rc, self.seconds or 0, ', '.join(
            '%s ok=%d changed=%d failed=%d' % (host, c['ok'], c['changed'], c['failed'])
            for host, c in sorted(self.recap.items())) or 'no recap')


def collections_root(state_dir):
    """The lab's own ``ansible_collections/harvester/network`` link to this working tree.

    Not the beds' shared one in the cache folder: another checkout's test run may point that one elsewhere at any time.
    """
    root = os.path.join(state_dir, 'collections')
    link = os.path.join(root, 'ansible_collections', 'harvester', 'network')
    if os.path.realpath(link) != os.path.realpath(REPO_ROOT):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(REPO_ROOT, link)
    return root


def environment(state_dir):
    env = dict(os.environ)
    for name in list(env):
        if name == 'KUBECONFIG' or name.startswith('K8S_AUTH_'):
            del env[name]  # the cluster modules get the lab's kubeconfig from harvester_kubeconfig, nothing else
    ansible_home = os.path.join(state_dir, 'ansible')
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_root(state_dir),
        'ANSIBLE_HOME': ansible_home,
        'ANSIBLE_LOCAL_TEMP': os.path.join(ansible_home, 'tmp'),
        'ANSIBLE_PIPELINING': '1',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_RETRY_FILES_ENABLED': '0',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
        'ANSIBLE_DEPRECATION_WARNINGS': '0',
        'PATH': os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', ''),
        'PYTHONUNBUFFERED': '1',
    })
    return env


def command(state_dir, kubeconfig, vars_files, playbook=SITE_PLAYBOOK, extra=()):
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', INVENTORY, playbook]
    nodes = os.path.join(state_dir, 'inventory', 'nodes.yml')  # the nodes HN_LAB_NODES added (lab.lifecycle)
    if os.path.exists(nodes):
        argv[3:3] = ['-i', nodes]
    for path in vars_files:
        argv += ['-e', '@' + path]
    return argv + ['-e', 'lab_dir=%s' % state_dir, '-e', 'harvester_kubeconfig=%s' % kubeconfig] + list(extra)


_TASK = re.compile(r'^(TASK|PLAY|RUNNING HANDLER) \[(.*)\]')
_QUIET = re.compile(r'Validating arguments against arg spec')
_RESULT = re.compile(r'^(ok|changed|fatal|failed|skipping|unreachable): \[([^\]]+)\]')


def run(state_dir, kubeconfig, vars_files, label, log_path, playbook=SITE_PLAYBOOK, extra=(), timeout=TIMEOUT,
        echo=True):
    """Run a playbook with the lab's inventory and vars; progress lines as plays and tasks go by."""
    argv = command(state_dir, kubeconfig, vars_files, playbook, extra)
    result = PlaybookRun(argv, log_path)
    started = time.monotonic()
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, 'w', encoding='utf-8') as log:
        log.write('$ %s\n' % ' '.join(argv))
        log.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                                stderr=subprocess.STDOUT, env=environment(state_dir), text=True,
                                start_new_session=True)
        timer = threading.Timer(timeout, _kill, args=(proc,))
        timer.start()
        play, play_started, task = None, started, None
        try:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                found = _TASK.match(line)
                if found:
                    if found.group(1) == 'PLAY':
                        if play is not None:
                            result.plays.append((play, time.monotonic() - play_started))
                        play, play_started = found.group(2), time.monotonic()
                        if echo:
                            progress('%s: play [%s]' % (label, play))
                    else:
                        task = found.group(2)
                        if echo and not _QUIET.search(task):
                            progress('%s:   %s' % (label, task))
                    continue
                found = _RESULT.match(line)
                if found and task:
                    status, host = found.groups()
                    if status == 'changed':
                        result.changed_tasks.append('%s: %s' % (task, host))
                    elif status in ('fatal', 'failed', 'unreachable'):
                        message = line.strip()
                        result.failures.append('%s: %s' % (task, message[:600]))
                        if echo:
                            progress('%s:   FAILED on %s: %s' % (label, host, message[:300]))
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                _kill(proc)
    if play is not None:
        result.plays.append((play, time.monotonic() - play_started))
    result.plays = _merge(result.plays)
    result.rc = proc.returncode
    result.seconds = time.monotonic() - started
    with open(log_path, encoding='utf-8', errors='replace') as handle:
        text = handle.read()
    result.recap = dict((m.group(1), dict(zip(FIELDS, map(int, m.groups()[1:])))) for m in RECAP.finditer(text))
    return result


def _merge(plays):
    """Consecutive plays of one name (the batches of a ``serial`` play) as one entry: ``name (N batches)``."""
    merged = []
    for name, seconds in plays:
        if merged and merged[-1][0] == name:
            merged[-1][1] += seconds
            merged[-1][2] += 1
        else:
            merged.append([name, seconds, 1])
    return [('%s (%d batches)' % (name, count) if count > 1 else name, seconds) for name, seconds, count in merged]


def _kill(proc):
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
