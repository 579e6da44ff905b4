"""The stand-in's part for Harvester's network agent: one VlanStatus per VlanConfig and matched node.

Mirrors harvester/network-controller-harvester at commit 2e5cbea335074e6c13d7a5c550ca5087c03f3f4e (2026-08-20),
pkg/controller/agent/vlanconfig/controller.go; written for this bed from reading it, no code copied. The real agent
runs on every node and builds the node's bond and bridge; the bed has no nodes to build on, so this stand-in plays
every node's agent at once and only writes what the agent reports:

- ``OnChange``: a node listed in the VlanConfig's ``network.harvesterhci.io/matched-nodes`` annotation (``MatchNode``)
  gets its VlanStatus created or updated (``updateStatus``): name ``utils.Name("", <cluster network>, <node>)``
  (pkg/utils/name.go: the joined name, cut to 54 characters, ``-`` and the CRC-32 of the joined name in hex), labels
  ``network.harvesterhci.io/{clusternetwork,vlanconfig,node}``, an owner reference to the VlanConfig, status
  ``clusterNetwork``, ``vlanConfig``, ``linkMonitor`` (the cluster network), ``node`` and the ``ready`` condition:
  True with an empty message, or False with the setup error as message. A node no longer matched (or a status of
  another cluster network after the VlanConfig moved) has its VlanStatus deleted (``removeVLAN`` -> ``deleteStatus``).
- ``OnRemove``: every VlanStatus of the VlanConfig is deleted.

Not modelled: the agent's own finalizer on the VlanConfig, the node labels it adds, the bond and bridge themselves.

What the bed cannot do (a NIC missing on a node, an agent that is down or slow) is set per node by the tests:
``nics[node]``, the NICs the node has (unset: every NIC), makes the agent report upstream's setup error for an uplink
naming another NIC (pkg/network/iface/bond.go ``EnsureBond``: ``get link <nic> failed, error: Link not found``,
netlink's LinkNotFoundError); ``faults[node]``: ``('fail', 'message')`` reports ready False with that message,
``('down',)`` never reports, ``('delay', seconds)`` reports only that many seconds after the agent first saw the
VlanConfig.
"""

import binascii
import datetime
import threading
import time
import urllib.parse

GROUP = 'network.harvesterhci.io'
HN_PATH = '/apis/network.harvesterhci.io/v1beta1'
VS_PATH = HN_PATH + '/vlanstatuses'
# pkg/utils/labels.go
KEY_CN = GROUP + '/clusternetwork'
KEY_VC = GROUP + '/vlanconfig'
KEY_NODE = GROUP + '/node'
MAX_NAME = 63


def status_name(cluster_network, node):
    """``utils.Name("", cluster_network, node)``."""
    name = '%s-%s' % (cluster_network, node)
    suffix = '%08x' % (binascii.crc32(name.encode()) & 0xffffffff)
    return name[:MAX_NAME - 1 - len(suffix)] + '-' + suffix


def vlan_status(vc, node, error=None):
    """The VlanStatus the agent on ``node`` writes for VlanConfig ``vc`` (``error``: the setup error, or None)."""
    cn, name = vc['spec']['clusterNetwork'], vc['metadata']['name']
    condition = {'type': 'ready', 'status': 'False' if error else 'True',
                 'lastUpdateTime': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}
    if error:
        condition['message'] = error  # wrangler's Message(""): omitempty leaves an empty message out
    return {
        'apiVersion': GROUP + '/v1beta1', 'kind': 'VlanStatus',
        'metadata': {'name': status_name(cn, node),
                     'labels': {KEY_CN: cn, KEY_VC: name, KEY_NODE: node},
                     'ownerReferences': [{'apiVersion': vc.get('apiVersion') or GROUP + '/v1beta1',
                                          'kind': 'VlanConfig', 'name': name, 'uid': vc['metadata']['uid']}]},
        'status': {'clusterNetwork': cn, 'vlanConfig': name, 'linkMonitor': cn, 'node': node,
                   'conditions': [condition]},
    }


class AgentStandIn:
    """Every node's agent, for the VlanConfigs the controller stand-in hands over (``reconcile``)."""

    def __init__(self, api, writes, errors, enqueue, matched_nodes):
        self.api, self.writes, self.errors = api, writes, errors
        self.enqueue = enqueue  # (kind, obj) -> None: the controller's queue (for a delayed report)
        self.matched_nodes = matched_nodes
        self.faults = {}
        self.nics = {}
        self._first_seen = {}
        self._timers = []

    def reset(self):
        """Every agent healthy and prompt again (what a test leaves behind)."""
        self.faults = {}
        self.nics = {}
        self._first_seen = {}
        for timer in self._timers:
            timer.cancel()
        self._timers = []

    def _request(self, method, path, body=None, what=''):
        status, answer = self.api.rest.request(method, path + ('?fieldManager=network-controller'
                                                               if method in ('POST', 'PUT') else ''), body)
        self.writes.append((path, what, status))
        if status not in (200, 201, 202, 404, 409):
            self.errors.append('%s %s: HTTP %s %s' % (method, path, status, (answer or {}).get('message')))
        return status, answer

    def statuses(self, vc_name):
        query = urllib.parse.quote('%s=%s' % (KEY_VC, vc_name), safe='=')
        return self.api.items('%s?labelSelector=%s' % (VS_PATH, query))

    def reconcile(self, name, vc):
        """OnChange/OnRemove of VlanConfig ``name`` (``vc`` None or being deleted: removed) on every node."""
        alive = vc is not None and not vc['metadata'].get('deletionTimestamp')
        cn = (vc or {}).get('spec', {}).get('clusterNetwork')
        matched = set(self.matched_nodes(vc)) if alive and cn != 'mgmt' else set()
        for vs in self.statuses(name):
            node = (vs.get('status') or {}).get('node')
            if self.faults.get(node, ('',))[0] == 'down':
                continue
            if node not in matched or vs['status'].get('clusterNetwork') != cn:
                self._request('DELETE', '%s/%s' % (VS_PATH, vs['metadata']['name']), what='vlanstatus removed')
        for node in sorted(matched):
            self._report(vc, node)

    def _report(self, vc, node):
        fault = self.faults.get(node) or ('ok',)
        if fault[0] == 'down':
            return
        if fault[0] == 'delay':
            key = (vc['metadata']['name'], node)
            first = self._first_seen.setdefault(key, time.monotonic())
            left = first + fault[1] - time.monotonic()
            if left > 0:
                timer = threading.Timer(left + 0.05, self.enqueue, args=('vc', vc))
                timer.daemon = True
                timer.start()
                self._timers.append(timer)
                return
        error = fault[1] if fault[0] == 'fail' else None
        missing = [nic for nic in ((vc.get('spec') or {}).get('uplink') or {}).get('nics') or []
                   if node in self.nics and nic not in self.nics[node]]
        if missing and error is None:
            error = 'get link %s failed, error: Link not found' % missing[0]
        wanted = vlan_status(vc, node, error)
        path = '%s/%s' % (VS_PATH, wanted['metadata']['name'])
        have = self.api.get(path)
        if have is None:
            self._request('POST', VS_PATH, wanted, 'vlanstatus')
            return
        old = ((have.get('status') or {}).get('conditions') or [{}])[0]
        new = wanted['status']['conditions'][0]
        if have['metadata'].get('labels') == wanted['metadata']['labels'] and \
                all(have['status'].get(k) == wanted['status'].get(k) for k in ('clusterNetwork', 'vlanConfig', 'node')) \
                and (old.get('status'), old.get('message')) == (new['status'], new.get('message')):
            return  # updateStatus: nothing changed, no write
        have['metadata']['labels'] = wanted['metadata']['labels']
        have['status'] = wanted['status']
        self._request('PUT', path, have, 'vlanstatus')
