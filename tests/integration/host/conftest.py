"""Fixtures for the host-networking integration tests: a real kernel and one fresh network namespace per test.

These tests need a kernel with bonding, 802.1Q and VLAN-filtering bridges.  Run them with
``python -m testbeds.kernel run -- <venv>/bin/python -m pytest tests/integration/host``: natively where the kernel
has the features, in a QEMU guest where it does not.  Without the features every test FAILS (never skips).

Fixtures:

``netns``       a fresh, uniquely named network namespace (a :class:`Netns`), deleted after the test even when it
                fails, together with every device in it and every process still running in it.
``make_netns``  a factory for more of them: ``make_netns('sw')`` -> :class:`Netns` (all deleted after the test).
``module_netns`` the same factory for namespaces shared by the tests of one module.
``veth``        ``veth(ns_a, 'name_a', ns_b, 'name_b')``: a veth pair between two namespaces, both ends up.

A :class:`Netns` has ``name`` and ``path`` (``/run/netns/<name>``, what CNI_NETNS wants) and helpers:
``ip(...)`` / ``bridge(...)`` run iproute2 in it, ``batch(text)`` runs ``ip -batch``,
``set_up(name)`` brings a link up, ``run(argv)`` runs any command in it (``ip netns exec``),
``ipr()`` gives a pyroute2 ``IPRoute`` bound to it (closed at teardown), ``with ns.enter():`` moves the
calling thread into it, so code that opens its own netlink sockets (a module's engine) works on it, and
``write_interpreter(folder)`` writes a Python wrapper running in it (for ``ansible_python_interpreter``).
"""

import contextlib
import ctypes
import fcntl
import os
import re
import secrets
import shlex
import signal
import socket
import struct
import subprocess
import sys

import pytest

from testbeds.kernel import check

CMD_TIMEOUT = 120
NETNS_DIR = '/run/netns'
CLONE_NEWNET = 0x40000000
MNT_DETACH = 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_LIBC = ctypes.CDLL(None, use_errno=True)
NEEDS = ('these tests need bonding/8021q/vlan_filtering: run them through '
         '`python -m testbeds.kernel run -- <venv>/bin/python -m pytest tests/integration/host`')


@pytest.fixture(scope='session', autouse=True)
def kernel_features():
    """Fail (never skip) every test here when the running kernel cannot do what they exercise."""
    ok, reason = check()
    if not ok:
        pytest.fail('%s (%s)' % (NEEDS, reason), pytrace=False)
    return reason


def _setns(fd):
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, 'setns: %s' % os.strerror(errno))


def _run(argv, check_rc=True, timeout=CMD_TIMEOUT, **kwargs):
    result = subprocess.run(argv, check=False, timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)
    if check_rc and result.returncode != 0:
        raise AssertionError('%s failed with %d:\n%s%s' % (' '.join(argv), result.returncode, result.stdout,
                                                           result.stderr))
    return result


class Netns:
    """A network namespace made for one test (see the module docstring)."""

    def __init__(self, name):
        self.name = name
        self.path = os.path.join(NETNS_DIR, name)
        self._handles = []

    def __repr__(self):
        return 'Netns(%r)' % self.name

    def ip(self, *args, check_rc=True, timeout=CMD_TIMEOUT):
        """``ip -netns NAME ARGS...``; returns the CompletedProcess (text), raises AssertionError on failure."""
        return _run(['ip', '-netns', self.name] + list(args), check_rc=check_rc, timeout=timeout)

    def batch(self, commands, check_rc=True, timeout=CMD_TIMEOUT):
        """``ip -netns NAME -batch -`` with ``commands`` (lines) on stdin: many changes, one process."""
        return _run(['ip', '-netns', self.name, '-batch', '-'], check_rc=check_rc, timeout=timeout, input=commands)

    def bridge(self, *args, check_rc=True, timeout=CMD_TIMEOUT):
        """``bridge -netns NAME ARGS...``."""
        return _run(['bridge', '-netns', self.name] + list(args), check_rc=check_rc, timeout=timeout)

    def run(self, argv, check_rc=True, timeout=CMD_TIMEOUT, **kwargs):
        """Run ``argv`` inside the namespace (``ip netns exec``); kwargs go to subprocess.run (env, input, ...)."""
        return _run(['ip', 'netns', 'exec', self.name] + list(argv), check_rc=check_rc, timeout=timeout, **kwargs)

    def keep(self, handle):
        """Close ``handle`` (anything with ``close()``, e.g. a witness.Reader running in the namespace) when the
        namespace is deleted, before its processes are killed."""
        self._handles.append(handle)
        return handle

    def ipr(self):
        """A pyroute2 IPRoute whose netlink socket lives in this namespace; closed at teardown."""
        # pyroute2 is imported lazily: it takes seconds under TCG, and only tests that use it should pay.
        from pyroute2 import IPRoute  # pylint: disable=import-outside-toplevel
        with self.enter():
            handle = IPRoute()  # the socket is created here, in this thread, so it belongs to the namespace
        self._handles.append(handle)
        return handle

    @contextlib.contextmanager
    def enter(self):
        """Move the calling thread into the namespace for the block (setns), and back afterwards."""
        target = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)  # fails if the namespace is gone: never recreate it
        try:
            saved = os.open('/proc/thread-self/ns/net', os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(target)
                try:
                    yield self
                finally:
                    _setns(saved)
            finally:
                os.close(saved)
        finally:
            os.close(target)

    def write_interpreter(self, folder, python=None):
        """Write ``folder/python-<name>``, a Python interpreter that runs inside this namespace (for
        ``ansible_python_interpreter`` with ``ansible_connection=local``), and return its path."""
        path = os.path.join(folder, 'python-%s' % self.name)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (
                shlex.quote(self.name), shlex.quote(python or sys.executable)))
        os.chmod(path, 0o755)
        return path

    def pids(self):
        """Processes running in the namespace (what ``ip netns pids`` lists: those whose /proc/PID/ns/net is the
        namespace's file; read here, as starting ``ip`` costs 0.1-0.3 s under emulation)."""
        try:
            target = os.stat(self.path)
        except FileNotFoundError:
            return []
        found = []
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError):
                seen = os.stat('/proc/%s/ns/net' % entry)
                if (seen.st_dev, seen.st_ino) == (target.st_dev, target.st_ino):
                    found.append(int(entry))
        return found

    def destroy(self):
        """Close our sockets, kill what still runs inside, delete the namespace (and so all its devices): what
        ``ip netns delete`` does, unmount the namespace's file (lazily) and remove it."""
        for handle in self._handles:
            with contextlib.suppress(Exception):
                handle.close()
        self._handles = []
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if _LIBC.umount2(self.path.encode(), MNT_DETACH) == 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        if os.path.exists(self.path):
            raise AssertionError('network namespace %s could not be deleted (umount2: %s)' % (
                self.name, os.strerror(ctypes.get_errno())))

    def set_up(self, ifname):
        """Bring a link of the namespace up (SIOCSIFFLAGS on a socket made inside it; no process to start)."""
        with self.enter():
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with sock:
            request = struct.pack('16sH14x', ifname.encode(), 0)
            flags = struct.unpack('16sH14x', fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack('16sH14x', ifname.encode(), flags | IFF_UP))


def _slug(text, size):
    return re.sub(r'[^A-Za-z0-9]+', '-', text).strip('-')[:size].strip('-') or 'test'


def _netns_factory(owner):
    """(make, destroy_all): ``make(label='')`` creates a namespace named after ``owner``."""
    made = []
    test = _slug(owner.replace('test_', '', 1), 20)

    def make(label=''):
        for _attempt in range(5):
            name = 'hn-%s-%s%s' % (test, secrets.token_hex(3), '-' + _slug(label, 12) if label else '')
            if _run(['ip', 'netns', 'add', name], check_rc=False).returncode == 0:
                break
        else:
            raise AssertionError('cannot create a network namespace (ip netns add %s)' % name)
        namespace = Netns(name)
        made.append(namespace)
        namespace.set_up('lo')
        return namespace

    def destroy_all():
        errors = []
        for namespace in reversed(made):
            try:
                namespace.destroy()
            except AssertionError as exc:
                errors.append(str(exc))
        if errors:
            raise AssertionError('; '.join(errors))
    return make, destroy_all


@pytest.fixture
def make_netns(request):
    """Factory: ``make_netns(label='')`` -> a fresh :class:`Netns`; every one is deleted after the test."""
    make, destroy_all = _netns_factory(request.node.name)
    yield make
    destroy_all()


@pytest.fixture(scope='module')
def module_netns(request):
    """Like ``make_netns``, for namespaces shared by the tests of one module (deleted after the last one)."""
    make, destroy_all = _netns_factory(request.module.__name__.split('.')[-1])
    yield make
    destroy_all()


@pytest.fixture
def netns(make_netns):  # pylint: disable=redefined-outer-name
    """A fresh network namespace for this test (a :class:`Netns`), deleted afterwards."""
    return make_netns()


def make_veth(ns_a, name_a, ns_b, name_b, up=True):
    """A veth pair: ``name_a`` in ``ns_a``, ``name_b`` in ``ns_b`` (interface names <= 15 characters)."""
    batch = 'link add %s type veth peer name %s netns %s\n' % (name_a, name_b, ns_b.name)
    if up:
        batch += 'link set %s up\n' % name_a
    ns_a.batch(batch)
    if up:
        ns_b.set_up(name_b)


@pytest.fixture
def veth():
    """``veth(ns_a, name_a, ns_b, name_b, up=True)``: make a veth pair between two namespaces."""
    return make_veth
