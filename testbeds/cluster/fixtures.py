"""pytest fixtures for cluster-side integration tests (re-exported by tests/integration/cluster/conftest.py).

Session fixtures (the servers start lazily, on the first test that needs them, and always stop at the
end of the session, also on failures, Ctrl-C, SIGTERM; a SIGKILLed pytest takes them along too):

- ``cluster``: the ApiServer with the *current* CRD profile (Harvester v1.1+: VlanConfig, ...), with the Harvester
  network manager + webhook stand-in (testbeds/cluster/harvester.py) active
- ``harvester``: that stand-in (``settle()`` waits until its controller is idle)
- ``legacy_cluster``: the ApiServer with the *legacy* profile (Harvester v0.3/v1.0: NodeNetwork, ...)
- ``plain_cluster``: the ApiServer with the *plain* profile (KubeVirt + Multus CRDs only, no Harvester)
- ``kubeconfig``, ``k8s_env``, ``k8s_client``, ``dynamic_client``: of ``cluster``
- ``legacy_kubeconfig``, ``legacy_k8s_env``, ``legacy_dynamic_client``: of ``legacy_cluster``
- ``cluster_bed``: the ClusterBed that owns both (one etcd, one kube-apiserver per profile)

Per test: ``namespace`` / ``legacy_namespace`` / ``plain_namespace``, a fresh Namespace (its name), deleted
afterwards.
"""

import atexit
import contextlib
import glob
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time

import pytest

from testbeds.cluster import gobuild as _build
from testbeds.cluster.controlplane import ControlPlane, stale
from testbeds.cluster.harvester import HarvesterStandIn

KEEP_ENV = 'HARVESTER_NETWORK_CLUSTER_KEEP'  # set to 1 to keep the state folder (logs) after the session
_PREFIX = 'hn-cluster-'
_KEPT = 'KEPT'  # marker in a kept folder: not removed by later sessions


def _remove_stale_beds():
    """Remove state folders of earlier sessions that were SIGKILLed (their servers died with them)."""
    if os.environ.get(KEEP_ENV) == '1':
        return
    for parent in glob.glob(os.path.join(tempfile.gettempdir(), _PREFIX + '*')):
        state_dir = os.path.join(parent, 'state')
        if os.path.isdir(state_dir) and not os.path.exists(os.path.join(parent, _KEPT)) and stale(state_dir):
            shutil.rmtree(parent, ignore_errors=True)


class ClusterBed:
    """One test session's control plane: created empty, servers started on first use, closed once."""

    def __init__(self, config=None):
        self._config = config
        self._plane = None
        self._closed = False
        self._previous_sigterm = None
        self.timings = {}
        self.harvester = None

    def _capture_disabled(self):
        capman = self._config.pluginmanager.getplugin('capturemanager') if self._config else None
        if capman is None:
            return contextlib.nullcontext()
        return capman.global_and_fixture_disabled()

    def get(self, profile):
        """The running ApiServer of ``profile`` (started on first call)."""
        if self._closed:
            raise RuntimeError('the cluster test bed of this session is already closed')
        if self._plane is None:
            # the first build takes minutes: let its progress through pytest's capturing
            needs_build = not os.access(_build.binary_path(), os.X_OK)
            with self._capture_disabled() if needs_build else contextlib.nullcontext():
                _build.build()
            _remove_stale_beds()
            self._plane = ControlPlane(os.path.join(tempfile.mkdtemp(prefix=_PREFIX), 'state'))
            atexit.register(self.close)
            self._install_sigterm()
        if profile not in self._plane.apiservers:
            started = time.monotonic()
            server = self._plane.apiserver(profile)
            if profile == 'current':
                # Harvester's network manager and webhook act on every object the tests write (issue 11)
                self.harvester = HarvesterStandIn('127.0.0.1', server.port, server.pki).start()
            self.timings[profile] = (server.ready_seconds, time.monotonic() - started)
        return self._plane.apiservers[profile]

    @property
    def state_dir(self):
        return self._plane.state_dir if self._plane else None

    def _install_sigterm(self):
        try:
            self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread: atexit and PR_SET_PDEATHSIG still cover us
            self._previous_sigterm = None

    def _on_sigterm(self, signum, frame):
        self.close()
        previous = self._previous_sigterm
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def close(self):
        """Stop every server and remove the state folder (kept if HARVESTER_NETWORK_CLUSTER_KEEP=1)."""
        if self._closed:
            return
        self._closed = True
        if self.harvester is not None:
            with contextlib.suppress(Exception):
                self.harvester.controller.stop()
        if self._plane is not None:
            keep = os.environ.get(KEEP_ENV) == '1'
            parent = os.path.dirname(self._plane.state_dir)
            self._plane.stop(remove=not keep)
            if keep:
                with open(os.path.join(parent, _KEPT), 'w', encoding='utf-8') as handle:
                    handle.write('kept by %s=1; remove by hand\n' % KEEP_ENV)
                    sys.stderr.write('cluster test bed kept in %s\n' % parent)
            else:
                with contextlib.suppress(OSError):
                    os.rmdir(parent)
        if self._previous_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._previous_sigterm)
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)


_BED_KEY = pytest.StashKey[ClusterBed]()


def unique_name(prefix, hint=''):
    """A DNS-1123 label: ``prefix-<hint>-<random>``, at most 63 characters."""
    hint = re.sub(r'[^a-z0-9]+', '-', hint.lower()).strip('-')[:40].strip('-')
    name = '-'.join(part for part in (prefix, hint, secrets.token_hex(3)) if part)
    return name[:63].strip('-')


@pytest.fixture(scope='session')
def cluster_bed(request):
    bed = ClusterBed(request.config)
    request.config.stash[_BED_KEY] = bed
    try:
        yield bed
    finally:
        bed.close()


@pytest.fixture(scope='session')
def cluster(cluster_bed):
    """kube-apiserver with the current (Harvester v1.1+) CRDs."""
    return cluster_bed.get('current')


@pytest.fixture(scope='session')
def harvester(cluster_bed, cluster):  # pylint: disable=unused-argument
    """The Harvester network manager + webhook stand-in of ``cluster`` (``settle()``, ``controller.writes``)."""
    return cluster_bed.harvester


@pytest.fixture(scope='session')
def legacy_cluster(cluster_bed):
    """kube-apiserver with the legacy (Harvester v0.3/v1.0) CRDs."""
    return cluster_bed.get('legacy')


@pytest.fixture(scope='session')
def plain_cluster(cluster_bed):
    """kube-apiserver with the plain profile: KubeVirt and Multus CRDs only, no Harvester API."""
    return cluster_bed.get('plain')


@pytest.fixture(scope='session')
def kubeconfig(cluster):
    return cluster.kubeconfig


@pytest.fixture(scope='session')
def legacy_kubeconfig(legacy_cluster):
    return legacy_cluster.kubeconfig


@pytest.fixture(scope='session')
def k8s_env(cluster):
    """Environment for subprocesses (ansible-playbook, kubectl): K8S_AUTH_KUBECONFIG and KUBECONFIG set."""
    return cluster.env


@pytest.fixture(scope='session')
def legacy_k8s_env(legacy_cluster):
    return legacy_cluster.env


@pytest.fixture(scope='session')
def k8s_client(cluster):
    """A ``kubernetes.client.ApiClient`` for ``cluster``."""
    client = cluster.api_client()
    yield client
    client.close()


@pytest.fixture(scope='session')
def dynamic_client(cluster, k8s_client):
    """A ``kubernetes.dynamic.DynamicClient`` for ``cluster``."""
    return cluster.dynamic_client(k8s_client)


@pytest.fixture(scope='session')
def legacy_dynamic_client(legacy_cluster):
    client = legacy_cluster.api_client()
    yield legacy_cluster.dynamic_client(client)
    client.close()


def _namespace(server, request):
    name = server.create_namespace(unique_name('t', request.node.name))
    yield name
    server.delete_namespace(name)


@pytest.fixture
def namespace(cluster, request):
    """A fresh Namespace in ``cluster`` (its name); deleted with all it holds after the test."""
    yield from _namespace(cluster, request)


@pytest.fixture
def legacy_namespace(legacy_cluster, request):
    """A fresh Namespace in ``legacy_cluster`` (its name); deleted after the test."""
    yield from _namespace(legacy_cluster, request)


@pytest.fixture
def plain_namespace(plain_cluster, request):
    """A fresh Namespace in ``plain_cluster`` (its name); deleted after the test."""
    yield from _namespace(plain_cluster, request)


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # pylint: disable=unused-argument
    """Report how long the servers took to come up (a hook; conftest re-exports it)."""
    bed = config.stash.get(_BED_KEY, None)
    if bed is None or not bed.timings:
        return
    for profile, (ready, total) in sorted(bed.timings.items()):
        terminalreporter.write_line('cluster test bed: kube-apiserver (%s) ready in %.1f s, CRDs established after %.1f s'
                                    % (profile, ready, total))
