"""The cluster test bed: a real kube-apiserver + etcd on 127.0.0.1 (envtest style, no controllers).

Command line: ``python -m testbeds.cluster build|up|status|down|kubeconfig|crds`` (see ``__main__``).
Python: ``ControlPlane(state_dir).apiserver('current'|'legacy')`` returns an ``ApiServer``.
pytest: the fixtures in ``testbeds.cluster.fixtures`` (``cluster``, ``legacy_cluster``, ``namespace``, ...).
"""

from testbeds.cluster.gobuild import build, binary_path, kubernetes_version, BuildError
from testbeds.cluster.controlplane import (ApiServer, ControlPlane, ControlPlaneError, PROFILES, down, load_crds,
                                           status)

__all__ = ['ApiServer', 'BuildError', 'ControlPlane', 'ControlPlaneError', 'PROFILES', 'binary_path', 'build', 'down',
           'kubernetes_version', 'load_crds', 'status']
