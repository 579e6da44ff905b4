"""Reference CNI plugins built from the published Go modules pinned in ``plugins/go.mod``.

Debian 12's ``containernetworking-plugins`` (1.1.1, ``/usr/lib/cni``) predates the bridge plugin's
``preserveDefaultVlan`` option (plugins >= 1.3.0), so the lab's VM stand-ins use a bridge plugin built here, the way
the cluster bed builds kube-apiserver (testbeds.cluster.gobuild): with the project's Go caches, once per version,
into ``cache_dir('bin', 'cni-plugins', <version>)``. Built in seconds once the modules are cached.
"""

import os
import re
import subprocess
import time

from testbeds.cluster.gobuild import BuildError, build_lock, go_env, go_tool
from testbeds.common import cache_dir, progress

MODULE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'plugins')
MODULE = 'github.com/containernetworking/plugins'
# The plugins the lab runs; the NADs Harvester writes carry "ipam": {}, so no IPAM plugin is needed.
PLUGINS = {'bridge': MODULE + '/plugins/main/bridge'}
BIN_ENV = 'HARVESTER_NETWORK_CNI_BIN'


def plugins_version():
    """The containernetworking/plugins version ``plugins/go.mod`` pins (e.g. ``v1.6.2``)."""
    with open(os.path.join(MODULE_DIR, 'go.mod'), encoding='utf-8') as handle:
        match = re.search(r'^require\s+%s\s+(v\S+)' % re.escape(MODULE), handle.read(), re.MULTILINE)
    if not match:
        raise BuildError('testbeds/cni/plugins/go.mod does not pin %s' % MODULE)
    return match.group(1)


def bin_dir(version=None):
    """The folder of the built plugins (a CNI_PATH); ``$HARVESTER_NETWORK_CNI_BIN`` overrides it."""
    return os.environ.get(BIN_ENV) or cache_dir('bin', 'cni-plugins', version or plugins_version())


def _complete(folder):
    return all(os.access(os.path.join(folder, name), os.X_OK) for name in PLUGINS)


def build(force=False, timeout=1800):
    """Build the plugins if needed; returns their folder. Instant when they exist."""
    if os.environ.get(BIN_ENV):
        if not _complete(os.environ[BIN_ENV]):
            raise BuildError('%s=%s lacks %s' % (BIN_ENV, os.environ[BIN_ENV], ', '.join(sorted(PLUGINS))))
        return os.environ[BIN_ENV]
    version = plugins_version()
    folder = bin_dir(version)
    if _complete(folder) and not force:
        return folder
    with build_lock(os.path.join(folder, '.build.lock')):
        if _complete(folder) and not force:  # built by a concurrent session meanwhile
            return folder
        go = go_tool('the CNI plugins')
        env = go_env()
        started = time.monotonic()
        progress('building the CNI plugins %s (%s) %s from Go modules (seconds once the modules are cached)'
                 % (', '.join(sorted(PLUGINS)), MODULE, version))
        ldflags = '-s -w -X %s/pkg/utils/buildversion.BuildVersion=%s' % (MODULE, version)
        for name, package in sorted(PLUGINS.items()):
            tmp = os.path.join(folder, '.%s.tmp.%d' % (name, os.getpid()))
            try:
                subprocess.run([go, 'build', '-p', '2', '-trimpath', '-ldflags', ldflags, '-o', tmp, package],
                               cwd=MODULE_DIR, env=env, check=True, capture_output=True, text=True, timeout=timeout)
            except subprocess.CalledProcessError as exc:
                output = (exc.stderr or exc.stdout)[-3000:]
                raise BuildError('go build %s failed (exit %d):\n%s' % (package, exc.returncode, output)) from exc
            except subprocess.TimeoutExpired as exc:
                raise BuildError('go build %s did not finish in %ss' % (package, timeout)) from exc
            os.chmod(tmp, 0o755)
            os.replace(tmp, os.path.join(folder, name))
        progress('CNI plugins built in %.0f s: %s' % (time.monotonic() - started, folder))
    return folder
