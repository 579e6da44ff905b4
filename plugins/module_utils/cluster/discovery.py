# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""API discovery: which kinds the cluster serves, which Harvester network API generation that means, and whether
the cluster is Harvester at all (the ``flavor``: ``harvester``, or ``plain`` KubeVirt + Multus).

One GET per API group version (``/apis/<group>/<version>``), cached for the life of the module run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import MissingApiError, NotFoundError
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import (
    CLUSTER_NETWORK, NODE_NETWORK, VLAN_CONFIG)
from ansible_collections.harvester.network.plugins.module_utils.host.vocabulary import CURRENT, LEGACY

GENERATIONS = (LEGACY, CURRENT)

HARVESTER = 'harvester'
PLAIN = 'plain'
FLAVORS = (HARVESTER, PLAIN)

GENERATION_NAMES = {
    LEGACY: 'Harvester v0.3/v1.0 (ClusterNetwork "vlan" + NodeNetwork, bridge harvester-br0)',
    CURRENT: 'Harvester v1.1+ (ClusterNetwork + VlanConfig, bridge <cluster network>-br)',
}


class Discovery(object):

    def __init__(self, transport):
        self.transport = transport
        self._served = {}

    def resources(self, kind):
        """The plural names served in ``kind``'s group version (empty set when the group version is not served)."""
        if kind.group_path not in self._served:
            try:
                answer = self.transport.request('GET', kind.group_path)
                names = set(item.get('name') for item in answer.get('resources', []))
            except NotFoundError:
                names = set()
            self._served[kind.group_path] = names
        return self._served[kind.group_path]

    def serves(self, kind):
        return kind.plural in self.resources(kind)

    def require(self, kind):
        if not self.serves(kind):
            raise MissingApiError('this cluster serves no %s (%s): %s' % (kind.kind, kind.api_version, kind.missing_hint),
                                  field='api_generation' if kind in (VLAN_CONFIG, NODE_NETWORK) else None)

    def generation(self, requested='auto'):
        """Return ``legacy`` or ``current``; ``requested`` overrides detection but must be served."""
        self.require(CLUSTER_NETWORK)
        if requested == CURRENT:
            self.require(VLAN_CONFIG)
            return CURRENT
        if requested == LEGACY:
            self.require(NODE_NETWORK)
            return LEGACY
        if self.serves(VLAN_CONFIG):
            return CURRENT
        if self.serves(NODE_NETWORK):
            return LEGACY
        raise MissingApiError('this cluster serves ClusterNetwork but neither VlanConfig (Harvester v1.1+) nor '
                              'NodeNetwork (Harvester v0.3/v1.0): cannot tell the network API generation; '
                              'set api_generation', field='api_generation')

    def flavor(self, requested='auto'):
        """``harvester`` when the cluster serves Harvester's network API (network.harvesterhci.io ClusterNetwork),
        else ``plain`` (KubeVirt + Multus without Harvester). The same cached GET as ``generation``; ``requested``
        overrides detection, and ``harvester`` must be served."""
        if requested == HARVESTER:
            self.require(CLUSTER_NETWORK)
            return HARVESTER
        if requested == PLAIN:
            return PLAIN
        return HARVESTER if self.serves(CLUSTER_NETWORK) else PLAIN
