"""Fixtures for the cluster-side integration tests: a real kube-apiserver + etcd (testbeds/cluster).

``cluster`` / ``legacy_cluster`` are ApiServer handles (``.kubeconfig``, ``.server``, ``.env``,
``.api_client()``, ``.dynamic_client()``, ``.request()``, ``.pki``); ``namespace`` gives each test a
fresh Namespace of ``cluster``.  See testbeds/cluster/fixtures.py for the full list.
"""

# pylint: disable=unused-import
from testbeds.cluster.fixtures import (  # noqa: F401
    cluster,
    cluster_bed,
    dynamic_client,
    harvester,
    k8s_client,
    k8s_env,
    kubeconfig,
    legacy_cluster,
    legacy_dynamic_client,
    legacy_k8s_env,
    legacy_kubeconfig,
    legacy_namespace,
    namespace,
    pytest_terminal_summary,
)
