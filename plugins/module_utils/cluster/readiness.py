# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Harvester reports about a VlanConfig and a VLAN network, and waiting for it (``wait``/``wait_timeout`` of
vlan_config and vlan_network).

Read from harvester/network-controller-harvester @2e5cbea3:

- the VlanConfig's ``network.harvesterhci.io/matched-nodes`` annotation (JSON list of node names; the webhook's
  vlanconfig mutator writes it, the agent on each node acts only when its node is listed: pkg/controller/agent/
  vlanconfig/controller.go ``MatchNode``; the Terraform provider returns it as ``matched_nodes``);
- one VlanStatus per VlanConfig and matched node, written by that node's agent (``updateStatus``): labels
  ``network.harvesterhci.io/vlanconfig``, ``.../clusternetwork``, ``.../node``; ``status.node``; condition
  ``ready`` True once the bond and bridge are up, else False with the setup error as message (the agent retries).
  It is deleted when the node is no longer matched or the VlanConfig goes (``removeVLAN``/``deleteStatus``);
- a NAD's ``network.harvesterhci.io/ready`` label: ``true`` while its cluster network's ``ready`` condition is True
  (pkg/controller/manager/nad/controller.go ``ensureLabels``, clusternetwork/controller.go ``setNadReadyLabel``).
  The manager sets a cluster network ready when any VlanStatus of it exists (manager/vlanconfig/controller.go
  ``SetClusterNetworkReady``), so the label says "some node has reported", not "every node is up".

A VlanStatus carries no generation: after a change of the VlanConfig, a status written for the old spec still reads
ready until the agent rewrites it. Check mode never waits (nothing was written to wait for).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import time

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import WaitTimeout
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import NAD, VLAN_CONFIG, VLAN_STATUS

MATCHED_NODES_ANNOTATION = 'network.harvesterhci.io/matched-nodes'
LABEL_VLAN_CONFIG = 'network.harvesterhci.io/vlanconfig'
LABEL_NODE = 'network.harvesterhci.io/node'
LABEL_READY = 'network.harvesterhci.io/ready'
POLL_SECONDS = 1.0
NO_REPORT = "no VlanStatus yet: Harvester's network agent on the node has not reported"
STALE_AFTER_UPDATE = ('wait: VlanConfig %s was changed; a VlanStatus carries no generation, so a node whose agent '
                      'has not yet acted on the change still shows its status for the previous spec (ready or not)')


def matched_nodes(vlan_config):
    """The node names of a VlanConfig's matched-nodes annotation, sorted (empty when absent or not JSON)."""
    text = (((vlan_config or {}).get('metadata') or {}).get('annotations') or {}).get(MATCHED_NODES_ANNOTATION)
    try:
        nodes = json.loads(text) if text else []
    except ValueError:
        return []
    return sorted(n for n in nodes if isinstance(n, str)) if isinstance(nodes, list) else []


def ready_condition(obj):
    """The ``ready`` condition of a VlanStatus or ClusterNetwork (an empty dict when there is none)."""
    for cond in ((obj or {}).get('status') or {}).get('conditions') or []:
        if cond.get('type') == 'ready':
            return cond
    return {}


def node_states(nodes, statuses):
    """One ``{node, state, message}`` per node of ``nodes`` from the VlanStatus objects ``statuses`` (an iterable):
    ``ready`` (condition ready True), ``failed`` (False: the agent's error as message), ``pending`` (no status or
    no condition yet)."""
    by_node = {}
    for obj in statuses:
        labels = (obj.get('metadata') or {}).get('labels') or {}
        node = (obj.get('status') or {}).get('node') or labels.get(LABEL_NODE)
        by_node[node] = obj
    states = []
    for node in nodes:
        obj = by_node.get(node)
        cond = ready_condition(obj)
        if obj is None:
            states.append({'node': node, 'state': 'pending', 'message': NO_REPORT})
        elif cond.get('status') == 'True':
            states.append({'node': node, 'state': 'ready', 'message': cond.get('message') or ''})
        elif cond.get('status') == 'False':
            states.append({'node': node, 'state': 'failed', 'message': cond.get('message') or ''})
        else:
            states.append({'node': node, 'state': 'pending',
                           'message': 'VlanStatus %s has no ready condition yet' % obj['metadata']['name']})
    return states


def vlan_config_report(service, name, vlan_config):
    """``(matched_nodes, nodes)`` of VlanConfig ``name`` now: its annotation and one LIST of its VlanStatus objects."""
    nodes = matched_nodes(vlan_config)
    statuses = service.list(VLAN_STATUS, label_selector='%s=%s' % (LABEL_VLAN_CONFIG, name)).values() if nodes else []
    return nodes, node_states(nodes, statuses)


def _describe(states):
    return ', '.join('%s (%s: %s)' % (s['node'], s['state'], s['message']) if s['message'] else
                     '%s (%s)' % (s['node'], s['state']) for s in states)


def wait_vlan_config(service, name, timeout, sleep=time.sleep, clock=time.monotonic):
    """Poll until every matched node's VlanStatus is ready; returns ``(vlan_config, matched_nodes, nodes)``.

    A failed status ends the wait at once with the agent's message (the agent retries, but what it reports is a
    setup error such as a missing NIC that a retry does not fix). A VlanConfig matching no node has nothing to wait
    for. Timeout: WaitTimeout naming every node that is not ready and why."""
    deadline = clock() + timeout
    while True:
        vlan_config = service.get(VLAN_CONFIG, name)
        nodes, states = vlan_config_report(service, name, vlan_config)
        failed = [s for s in states if s['state'] == 'failed']
        if failed:
            raise WaitTimeout("Harvester's network agent could not set up the uplink of VlanConfig %s on %s. Fix the "
                              'uplink (nics, bond_mode, mtu, hardware_addr) or the node, then run again'
                              % (name, _describe(failed)), field='wait',
                              details={'matched_nodes': nodes, 'nodes': states})
        if all(s['state'] == 'ready' for s in states):
            return vlan_config, nodes, states
        if clock() >= deadline:
            waiting = [s for s in states if s['state'] != 'ready']
            raise WaitTimeout('timed out after %ss waiting for the uplink of VlanConfig %s on its matched nodes; '
                              'not ready: %s' % (timeout, name, _describe(waiting)), field='wait_timeout',
                              details={'matched_nodes': nodes, 'nodes': states})
        sleep(POLL_SECONDS)


def wait_vlan_config_gone(service, name, timeout, sleep=time.sleep, clock=time.monotonic):
    """Poll until VlanConfig ``name`` and its VlanStatus objects are gone (Harvester's agents tore the uplinks
    down and its finalizers let go)."""
    deadline = clock() + timeout
    while True:
        left = service.list(VLAN_STATUS, label_selector='%s=%s' % (LABEL_VLAN_CONFIG, name))
        if service.get(VLAN_CONFIG, name) is None and not left:
            return
        if clock() >= deadline:
            nodes = sorted((obj.get('status') or {}).get('node') or key[1] for key, obj in left.items())
            raise WaitTimeout('timed out after %ss waiting for VlanConfig %s to be removed; %s'
                              % (timeout, name, 'the uplink is still reported on %s' % ', '.join(nodes) if nodes
                                 else 'the object is still there (finalizers: Harvester has not let it go)'),
                              field='wait_timeout')
        sleep(POLL_SECONDS)


def not_ready_networks(nads, keys):
    """The keys of ``keys`` whose NAD in ``nads`` ({key: object}) lacks ``network.harvesterhci.io/ready: "true"``,
    each with what it carries (the label's value, or that it is missing)."""
    found = []
    for key in keys:
        labels = ((nads.get(key) or {}).get('metadata') or {}).get('labels') or {}
        if key not in nads:
            found.append((key, 'not found'))
        elif labels.get(LABEL_READY) != 'true':
            found.append((key, 'ready label %s' % ('"%s"' % labels[LABEL_READY] if LABEL_READY in labels
                                                   else 'not set yet')))
    return found


def wait_networks_ready(service, keys, timeout, sleep=time.sleep, clock=time.monotonic):
    """Poll (one LIST of NADs per round, all namespaces of ``keys`` at once) until every network of ``keys`` carries
    the ready label ``true``; returns the NADs {key: object}."""
    deadline = clock() + timeout
    namespaces = set(key[0] for key in keys)
    while True:
        nads = service.list(NAD, namespace=next(iter(namespaces)) if len(namespaces) == 1 else None)
        waiting = not_ready_networks(nads, keys)
        if not waiting:
            return nads
        if clock() >= deadline:
            raise WaitTimeout('timed out after %ss waiting for Harvester to report these networks ready: %s. A '
                              "network is ready when its cluster network is (some node's network agent reported its "
                              'uplink): check the VlanConfigs of the cluster network (harvester.network.vlan_config '
                              'with wait=true names the nodes that are not ready)'
                              % (timeout, ', '.join('%s/%s (%s)' % (k[0], k[1], why) for k, why in waiting)),
                              field='wait_timeout')
        sleep(POLL_SECONDS)
