"""Harvester itself, as far as the lab's ``current`` profile needs it: the cluster bed's stand-in for Harvester's
network manager, network agent reports and webhooks (testbeds/cluster/harvester.py; the storage and VM migration
network settings of harvester_settings.py; the load balancer webhook of harvester_lb.py), run by the keeper against the
lab's kube-apiserver, plus a Node object for each lab node.

Harvester's nodes are Kubernetes Nodes named after the host (the VlanConfigs of the default_vlan role select them by
``kubernetes.io/hostname``), so the webhook's matched-nodes annotation, the agent's VlanStatus per node and the
settings' per-node rules (enough addresses, a VlanConfig on every node) see the two lab nodes, as on a real cluster.
Nothing runs on those Nodes (no kubelet): they are records, like the VMs.
"""

import urllib.parse

from testbeds.cluster.harvester import HarvesterStandIn
from testbeds.common import progress

HOSTNAME_LABEL = 'kubernetes.io/hostname'


def add_nodes(server, names):
    """A Node object per lab node (kept when it exists)."""
    for name in names:
        status, body = server.request('POST', '/api/v1/nodes', {
            'apiVersion': 'v1', 'kind': 'Node',
            'metadata': {'name': name, 'labels': {HOSTNAME_LABEL: name, 'kubernetes.io/os': 'linux'}}})
        if status not in (201, 409):
            raise RuntimeError('creating Node %s: HTTP %s %s' % (name, status, (body or {}).get('message')))


def start(server, node_names):
    """Nodes, then the stand-in (controller + webhook) against ``server`` (a running ``current`` ApiServer)."""
    add_nodes(server, node_names)
    url = urllib.parse.urlparse(server.server)
    standin = HarvesterStandIn(url.hostname, url.port, server.pki).start()
    standin.settle(timeout=60)
    progress('keeper: Harvester stand-in (network manager, agents, webhooks, settings) running; Nodes %s'
             % ', '.join(node_names))
    return standin
