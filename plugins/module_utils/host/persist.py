# -*- coding: utf-8 -*-
# Copyright (c) harvester.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Persistence and serialisation of runs.

``persist: true`` saves the desired state as JSON (store.py folds every persisting run into one document) and
installs a boot-time systemd unit that re-applies it with this same engine (a copy of this package is installed
next to the state, so the node needs no Ansible, only Python and pyroute2). The unit is idempotent: on a node
already in that state it changes nothing, and it logs what it did to the journal and to a log file.

A lock file (flock) serialises runs on one node: module runs and the boot unit alike.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import pkgutil
import sys
import time

from ansible_collections.harvester.network.plugins.module_utils.host.files import read_bytes, write_atomic

PACKAGE = 'ansible_collections.harvester.network.plugins.module_utils.host'
MODULES = ('__init__', 'apply', 'argspec', 'encoding', 'engine', 'facts', 'field_errors', 'files', 'harvester_agent',
           'kernel', 'model', 'netlink', 'nlmsg', 'ops', 'persist', 'plan', 'probes', 'profiles', 'store', 'validate',
           'vids', 'vocabulary')
UNIT_NAME = 'harvester-network.service'


class Paths:
    """Where things live; ``root`` prefixes every path.  Tests install into a scratch folder, by passing ``root``
    or through the environment variable HARVESTER_NETWORK_ROOT (which reaches modules run by ansible-playbook)."""

    def __init__(self, root=None):
        self.root = root or os.environ.get('HARVESTER_NETWORK_ROOT') or '/'

    def _join(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def state_file(self):
        return self._join('etc', 'harvester-network', 'state.json')

    @property
    def lib_dir(self):
        return self._join('var', 'lib', 'harvester-network', 'lib')

    @property
    def runner(self):
        return self._join('var', 'lib', 'harvester-network', 'apply.py')

    @property
    def log_file(self):
        return self._join('var', 'log', 'harvester-network.log')

    @property
    def unit_file(self):
        return self._join('etc', 'systemd', 'system', UNIT_NAME)

    @property
    def wants_link(self):
        return self._join('etc', 'systemd', 'system', 'multi-user.target.wants', UNIT_NAME)

    @property
    def lock_file(self):
        return self._join('run', 'lock', 'harvester-network.lock')

    @property
    def inflight_file(self):
        """The addresses and routes of the node as a run found them, kept while that run writes (/run: a reboot,
        which rebuilds the node from the saved state, forgets it)."""
        return self._join('run', 'harvester-network', 'inflight.json')


class LockTimeout(Exception):
    pass


class Lock:
    """An exclusive flock on the node's lock file, waiting up to ``timeout`` seconds for another run."""

    def __init__(self, path, timeout=60.0):
        self.path = path
        self.timeout = timeout
        self.fd = None
        self.waited = 0.0

    def __enter__(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() - start >= self.timeout:
                    holder = _read_holder(self.fd)
                    os.close(self.fd)
                    self.fd = None
                    raise LockTimeout('another harvester.network run holds %s (%s) for more than %.0fs; retry later or'
                                      ' raise lock_timeout' % (self.path, holder or 'unknown holder', self.timeout))
                time.sleep(0.05)
        self.waited = time.monotonic() - start
        os.ftruncate(self.fd, 0)
        os.write(self.fd, ('pid %d since %s\n' % (os.getpid(), time.strftime('%Y-%m-%dT%H:%M:%S'))).encode())
        return self

    def __exit__(self, *exc_info):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _read_holder(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode('utf-8', 'replace').strip()
    except OSError:
        return None


# --------------------------------------------------------------------------------------- the JSON codec
# One codec for every saved state: store.py's document (version 2) and the version 1 desired state before it.

def _plain(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, dict):
        return dict((json.dumps(list(key)) if isinstance(key, tuple) else key, _plain(item))
                    for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def to_json(document):
    """A saved state as JSON text: sets become sorted lists, tuple keys (a route's (dst, metric)) JSON lists."""
    return json.dumps(_plain(document), indent=1, sort_keys=True)


def decode_key(section, key):
    """A key of one section read back from JSON (routes are keyed by (dst, metric))."""
    return tuple(json.loads(key)) if section == 'routes' else key


def decode_spec(section, spec):
    """An item of one section read back from JSON, in the types validate.py builds (a set of addresses, the VID
    sets of a port's VLAN spec frozen)."""
    if section == 'addresses':
        return set(spec)
    if section == 'vlans':
        return dict(spec, **dict((key, frozenset(spec[key])) for key in ('vids', 'untagged')
                                 if spec.get(key) is not None))
    return spec


def want_to_json(want):
    """A desired state as a version 1 saved state (what host_network saved before store.py's documents)."""
    return to_json({'version': 1, 'want': want})


def want_from_json(text):
    """A version 1 saved state's desired state."""
    want = json.loads(text)['want']
    for section in ('vlans', 'addresses', 'routes'):
        if want.get(section) is not None:
            want[section] = dict((decode_key(section, key), decode_spec(section, spec))
                                 for key, spec in want[section].items())
    if want.get('vlan_bridges') is not None:
        want['vlan_bridges'] = set(want['vlan_bridges'])
    return want


# --------------------------------------------------------------------------------------- a run in flight

def save_inflight(paths, record):
    """Before a run's first write: keep ``record`` (apply.in_flight(): the node's addresses and routes) where the
    next run finds it if this one dies before it ends (SIGKILL, OOM, power to the process cut)."""
    record = dict(record, pid=os.getpid(), started=time.strftime('%Y-%m-%dT%H:%M:%S'))
    write_atomic(paths.inflight_file, json.dumps(record, sort_keys=True))


def load_inflight(paths):
    """What an interrupted run kept (a dict), or None: no run was interrupted (or its record is unreadable)."""
    data = read_bytes(paths.inflight_file)
    if data is None:
        return None
    try:
        record = json.loads(data.decode('utf-8'))
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def clear_inflight(paths):
    """The run ended (converged, or rolled back to the node it found): nothing is in flight any more."""
    try:
        os.unlink(paths.inflight_file)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


# --------------------------------------------------------------------------------------- the files

RUNNER = '''#!%(python)s
# Installed by harvester.network (persist: true): re-applies the saved host network state.
import sys
sys.path.insert(0, %(lib)r)
from ansible_collections.harvester.network.plugins.module_utils.host import engine
sys.exit(engine.boot_apply(%(state)r, log_file=%(log)r, lock_file=%(lock)r))
'''

UNIT = '''[Unit]
Description=harvester.network: re-apply the saved host network state
Documentation=https://github.com/harvester/harvester-network
DefaultDependencies=no
After=systemd-udevd.service systemd-udev-settle.service network-pre.target
Wants=network-pre.target
Before=network.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%(python)s %(runner)s

[Install]
WantedBy=multi-user.target
'''


def _package_sources():
    """The sources of this package's modules (read through the import system: works from the AnsiballZ zip)."""
    import importlib  # pylint: disable=import-outside-toplevel
    package = importlib.import_module(PACKAGE)
    names = set(MODULES) | set(info[1] for info in pkgutil.iter_modules(package.__path__))
    sources = {}
    for name in sorted(names):
        data = pkgutil.get_data(PACKAGE, '%s.py' % name)
        if data is None:
            raise IOError('cannot read %s.%s' % (PACKAGE, name))
        sources[name] = data
    return sources


def read_state(paths):
    """The saved document's text, or None when there is none."""
    data = read_bytes(paths.state_file)
    return None if data is None else data.decode('utf-8')


def install(text, paths, python=None):
    """Save the document ``text`` and install the runner, the engine copy and the unit.  Returns the files
    changed."""
    python = python or sys.executable
    files = {paths.state_file: text.encode('utf-8')}
    package_dir = os.path.join(paths.lib_dir, *PACKAGE.split('.'))
    parts = PACKAGE.split('.')
    for depth in range(1, len(parts)):
        files[os.path.join(paths.lib_dir, *(parts[:depth] + ['__init__.py']))] = b''
    for name, data in _package_sources().items():
        files[os.path.join(package_dir, '%s.py' % name)] = data
    files[paths.runner] = (RUNNER % {'python': python, 'lib': paths.lib_dir, 'state': paths.state_file,
                                     'log': paths.log_file, 'lock': paths.lock_file}).encode('utf-8')
    files[paths.unit_file] = (UNIT % {'python': python, 'runner': paths.runner}).encode('utf-8')
    changed = []
    for path, data in sorted(files.items()):
        if read_bytes(path) != data:
            write_atomic(path, data, 0o755 if path == paths.runner else 0o644)
            changed.append(path)
    link = paths.wants_link
    target = os.path.join('..', UNIT_NAME)
    if not (os.path.islink(link) and os.readlink(link) == target):
        if not os.path.isdir(os.path.dirname(link)):
            os.makedirs(os.path.dirname(link))
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)
        changed.append(link)
    return changed


def planned_files(text, paths):
    """What install() would change (check mode)."""
    changed = []
    if read_bytes(paths.state_file) != text.encode('utf-8'):
        changed.append(paths.state_file)
    if not os.path.exists(paths.unit_file):
        changed.append(paths.unit_file)
    return changed


def log(path, record):
    """Append one JSON line to the log file (best effort)."""
    try:
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory)
        with open(path, 'a') as stream:
            stream.write(json.dumps(record, sort_keys=True) + '\n')
    except (IOError, OSError):
        pass
