"""Run the role tests on the real beds: ``python tests/integration/roles/launch.py [PYTEST ARGS...]``.

Starts etcd + two kube-apiservers (the cluster bed, profiles "current" and "legacy", certificates valid for the
guest's address of this machine) and runs ``pytest tests/integration/roles`` where the kernel has bonding/802.1Q/VLAN filtering:
natively, or in ONE QEMU guest of the kernel bed with the API server's port forwarded into it. Stops the servers
afterwards; exits with pytest's exit code.
"""

import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from testbeds.cluster import gobuild  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.cluster.controlplane import ControlPlane  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.common import progress  # noqa: E402  pylint: disable=wrong-import-position
from testbeds.kernel import guest  # noqa: E402  pylint: disable=wrong-import-position

GUEST_ADDRESS = guest.HOST_ADDR
TIMEOUT = float(os.environ.get('HN_ROLES_TIMEOUT', '3000'))


def main(argv):
    gobuild.build()
    state = tempfile.mkdtemp(prefix='hn-roles-')
    plane = ControlPlane(os.path.join(state, 'state'), tls_sans=[GUEST_ADDRESS])
    try:
        server = plane.apiserver('current')
        legacy = plane.apiserver('legacy')
        progress('roles: kube-apiserver %s (current) and %s (legacy) ready; running the role tests with their ports '
                 'forwarded' % (server.server, legacy.server))
        cmd = [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', 'tests/integration/roles'] + list(argv)
        output = os.path.join(REPO, 'tests', 'output')
        return guest.run(cmd, cwd=REPO, timeout=TIMEOUT, rw=[output], hostfwd=[server.port, legacy.port],
                         env={'HN_ROLES_KUBECONFIG': server.kubeconfig, 'HN_ROLES_APISERVER_PORT': str(server.port),
                              'HN_ROLES_LEGACY_KUBECONFIG': legacy.kubeconfig,
                              'HN_ROLES_LEGACY_APISERVER_PORT': str(legacy.port)})
    finally:
        plane.stop(remove=True)
        try:
            os.rmdir(state)
        except OSError:
            pass


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
