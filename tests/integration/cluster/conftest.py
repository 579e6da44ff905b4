"""Fixtures for the cluster-side integration tests: a real kube-apiserver + etcd (testbeds/cluster).

``cluster`` / ``legacy_cluster`` are ApiServer handles (``.kubeconfig``, ``.server``, ``.env``,
``.api_client()``, ``.dynamic_client()``, ``.request()``, ``.pki``); ``namespace`` gives each test a
fresh Namespace of ``cluster``.  See testbeds/cluster/fixtures.py for the full list.  ``api_rvs`` (below) is the
server-side witness of what a run wrote.
"""

import pytest

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
    plain_cluster,
    plain_namespace,
    pytest_terminal_summary,
)


# ---- server-side proof: resourceVersions read by a client of the test bed, not the collection's transport ----------
# Every collection of the kinds the cluster modules write (resources.py, dhcp.py), listed over all namespaces.
# A kind the server does not serve (e.g. VlanConfig on the legacy profile) answers 404 and is left out.
WRITTEN_KINDS = (
    ('ClusterNetwork', '/apis/network.harvesterhci.io/v1beta1/clusternetworks'),
    ('VlanConfig', '/apis/network.harvesterhci.io/v1beta1/vlanconfigs'),
    ('NodeNetwork', '/apis/network.harvesterhci.io/v1beta1/nodenetworks'),
    ('NetworkAttachmentDefinition', '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions'),
    ('VirtualMachine', '/apis/kubevirt.io/v1/virtualmachines'),
    ('Service', '/api/v1/services'),
    ('ConfigMap', '/api/v1/configmaps'),
    ('PersistentVolumeClaim', '/api/v1/persistentvolumeclaims'),
    ('Deployment', '/apis/apps/v1/deployments'),
    ('IPPool', '/apis/loadbalancer.harvesterhci.io/v1beta1/ippools'),
    ('LoadBalancer', '/apis/loadbalancer.harvesterhci.io/v1beta1/loadbalancers'),
)


class ResourceVersions:
    """``api_rvs(server)``: {(kind, namespace, name): resourceVersion} of every object the cluster modules could have
    written, from one LIST per kind over the bed's own REST client (testbeds/cluster/controlplane.py ``Rest``: stdlib
    HTTPS, not the collection's transport). Equal snapshots before and after a run prove that it created, changed and
    deleted nothing; ``changed(before, after)`` names what it did write.

    On the ``current`` profile the Harvester stand-in's controller writes back asynchronously after each write, so the
    snapshot waits until it is idle first (a snapshot taken while it still works would make a test fail, never pass)."""

    def __init__(self, bed):
        self._bed = bed

    def __call__(self, server, kinds=WRITTEN_KINDS):
        if server.profile == 'current' and self._bed.harvester is not None:
            self._bed.harvester.settle(quiet=0.2)
        versions = {}
        for kind, path in kinds:
            status, body = server.request('GET', path)
            if status == 404:
                continue
            assert status == 200, 'LIST %s: HTTP %s %s' % (path, status, body)
            for item in body.get('items') or []:
                meta = item['metadata']
                versions[(kind, meta.get('namespace', ''), meta['name'])] = meta['resourceVersion']
        return versions

    @staticmethod
    def changed(before, after):
        """Sorted (kind, namespace, name, what) of every object created, updated or deleted between two snapshots."""
        found = []
        for key in sorted(set(before) | set(after)):
            if key not in before:
                found.append(key + ('created',))
            elif key not in after:
                found.append(key + ('deleted',))
            elif before[key] != after[key]:
                found.append(key + ('updated',))
        return found


@pytest.fixture(scope='session')
def api_rvs(cluster_bed):
    """A ResourceVersions witness for any of the session's API servers."""
    return ResourceVersions(cluster_bed)
