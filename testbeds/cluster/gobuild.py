"""Build kube-apiserver from the published Go modules pinned in ``apiserver/go.mod``.

The binary lands in ``cache_dir('bin', 'kube-apiserver', <version>)``; the Go module and build
caches live under ``cache_dir('go', ...)`` so a second build (or a build after a version bump of a
few modules) takes seconds.  The first build compiles about 2,000 packages and takes many minutes.
"""

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time

from testbeds.common import cache_dir, progress

MODULE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'apiserver')
PACKAGE = 'k8s.io/kubernetes/cmd/kube-apiserver'
BINARY_ENV = 'HARVESTER_NETWORK_KUBE_APISERVER'


class BuildError(RuntimeError):
    """kube-apiserver could not be built."""


def kubernetes_version():
    """Return the k8s.io/kubernetes version the Go module pins (e.g. ``v1.34.4``)."""
    with open(os.path.join(MODULE_DIR, 'go.mod'), encoding='utf-8') as handle:
        match = re.search(r'^require\s+k8s\.io/kubernetes\s+(v\S+)', handle.read(), re.MULTILINE)
    if not match:
        raise BuildError('apiserver/go.mod does not pin k8s.io/kubernetes')
    return match.group(1)


def binary_path(version=None):
    """Where the kube-apiserver binary of ``version`` lives (it may not exist yet)."""
    if os.environ.get(BINARY_ENV):
        return os.environ[BINARY_ENV]
    return os.path.join(cache_dir('bin', 'kube-apiserver', version or kubernetes_version()), 'kube-apiserver')


def go_env(parallel=2):
    """The environment for the Go tool: every cache inside the project's one cache folder."""
    env = dict(os.environ)
    env.update({
        'GOMODCACHE': cache_dir('go', 'mod'),
        'GOCACHE': cache_dir('go', 'build'),
        'GOPATH': cache_dir('go', 'path'),
        # a Go older than go.mod's "go" line fetches a newer toolchain through the module proxy
        'GOTOOLCHAIN': os.environ.get('GOTOOLCHAIN') or 'auto',
        'GOFLAGS': '-mod=readonly -buildvcs=false',
        'GOWORK': 'off',
        'CGO_ENABLED': '0',
        # the compiler itself also runs goroutines; keep the machine usable for others
        'GOMAXPROCS': str(max(1, parallel)),
    })
    return env


def _ldflags(version):
    major, minor = version.lstrip('v').split('.')[:2]
    stamp = []
    for pkg in ('k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'):
        stamp += ['-X', '%s.gitVersion=%s' % (pkg, version),
                  '-X', '%s.gitMajor=%s' % (pkg, major),
                  '-X', '%s.gitMinor=%s' % (pkg, minor),
                  '-X', '%s.gitTreeState=clean' % pkg,
                  '-X', '%s.buildDate=1970-01-01T00:00:00Z' % pkg]
    return ' '.join(['-s', '-w'] + stamp)


@contextlib.contextmanager
def build_lock(path):
    """One build of a binary at a time, across processes (a second session waits, then finds it built)."""
    with open(path, 'w', encoding='utf-8') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def go_tool(what='kube-apiserver'):
    go = shutil.which('go') or ('/usr/local/go/bin/go' if os.path.exists('/usr/local/go/bin/go') else None)
    if not go:
        raise BuildError('the Go tool (go >= 1.24) is needed to build %s and is not on PATH' % what)
    return go


def _count_packages(go, env):
    try:
        out = subprocess.run([go, 'list', '-deps', PACKAGE], cwd=MODULE_DIR, env=env, check=True,
                             capture_output=True, text=True, timeout=900).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise BuildError('go list failed: %s' % (getattr(exc, 'stderr', '') or exc)) from exc
    return len(out.split())


def build(parallel=2, timeout=3600, force=False):
    """Build kube-apiserver if needed and return the path of the binary.

    Instant when the binary exists.  ``parallel`` limits both concurrent package builds and
    GOMAXPROCS (2 keeps the peak near 3 GB).  ``timeout`` bounds the whole go build.
    """
    if os.environ.get(BINARY_ENV):
        path = os.environ[BINARY_ENV]
        if not os.access(path, os.X_OK):
            raise BuildError('%s=%s is not an executable file' % (BINARY_ENV, path))
        return path
    version = kubernetes_version()
    target = binary_path(version)
    if os.access(target, os.X_OK) and not force:
        return target
    with build_lock(os.path.join(os.path.dirname(target), '.build.lock')):
        if os.access(target, os.X_OK) and not force:  # built by a concurrent session meanwhile
            return target
        go = go_tool()
        env = go_env(parallel)
        progress('building kube-apiserver %s from Go modules; the first build takes many minutes '
                 '(3 min measured on 2 idle cores, 10-15 min on a busy machine), later builds seconds' % version)
        progress('Go caches: %s' % cache_dir('go'))
        started = time.monotonic()
        progress('resolving modules (downloads them on the first build)')
        subprocess.run([go, 'mod', 'download'], cwd=MODULE_DIR, env=env, check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL)
        total = _count_packages(go, env)
        progress('compiling up to %d packages with -p %d' % (total, parallel))
        tmp = '%s.tmp.%d' % (target, os.getpid())
        cmd = [go, 'build', '-p', str(parallel), '-v', '-trimpath', '-ldflags', _ldflags(version), '-o', tmp, PACKAGE]
        _run_build(cmd, env, total, started, timeout)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
        progress('kube-apiserver %s built in %.0f s: %s' % (version, time.monotonic() - started, target))
    return target


def _run_build(cmd, env, total, started, timeout):
    """Run go build, reporting progress by the package names ``-v`` prints."""
    tail = []
    done = 0
    last_report = time.monotonic()
    with subprocess.Popen(cmd, cwd=MODULE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        try:
            for line in proc.stdout:
                line = line.rstrip()
                tail = (tail + [line])[-30:]
                if line and not line.startswith(('#', ' ', '\t')):
                    done += 1
                now = time.monotonic()
                if now - started > timeout:
                    raise BuildError('go build did not finish in %d s' % timeout)
                if now - last_report >= 30:
                    progress('compiled %d of at most %d packages' % (done, total))
                    last_report = now
            proc.wait(timeout=max(1, timeout - (time.monotonic() - started)))
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if proc.returncode != 0:
        raise BuildError('go build failed (exit %d); last output:\n%s' % (proc.returncode, '\n'.join(tail)))
