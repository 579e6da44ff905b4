# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kinds this collection manages: API group, version, plural, scope, and what their absence means."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.harvester.network.plugins.module_utils.cluster.transport import quote_name


class Kind(object):
    """A served resource type, e.g. ``Kind('kubevirt.io', 'v1', 'virtualmachines', 'VirtualMachine', True)``."""

    def __init__(self, group, version, plural, kind, namespaced, missing_hint):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.missing_hint = missing_hint

    @property
    def api_version(self):
        return '%s/%s' % (self.group, self.version) if self.group else self.version

    @property
    def group_path(self):
        return '/apis/%s/%s' % (self.group, self.version) if self.group else '/api/%s' % self.version

    def collection_path(self, namespace=None):
        if self.namespaced and namespace:
            return '%s/namespaces/%s/%s' % (self.group_path, quote_name(namespace), self.plural)
        return '%s/%s' % (self.group_path, self.plural)

    def item_path(self, name, namespace=None):
        return '%s/%s' % (self.collection_path(namespace), quote_name(name))

    def __repr__(self):
        return 'Kind(%s)' % self.kind


HARVESTER_NETWORK_GROUP = 'network.harvesterhci.io'

CLUSTER_NETWORK = Kind(HARVESTER_NETWORK_GROUP, 'v1beta1', 'clusternetworks', 'ClusterNetwork', False,
                       'the Harvester network controller is not installed: is this a Harvester cluster?')
NODE_NETWORK = Kind(HARVESTER_NETWORK_GROUP, 'v1beta1', 'nodenetworks', 'NodeNetwork', False,
                    'Harvester v1.1 or newer? NodeNetwork exists only in v0.3/v1.0; use harvester.network.vlan_config '
                    'there, or set api_generation=current')
VLAN_CONFIG = Kind(HARVESTER_NETWORK_GROUP, 'v1beta1', 'vlanconfigs', 'VlanConfig', False,
                   'Harvester older than v1.1? On v0.3/v1.0 the uplink NIC is set with harvester.network.cluster_network '
                   '(default_physical_nic, node_nics), or set api_generation=legacy')
VLAN_STATUS = Kind(HARVESTER_NETWORK_GROUP, 'v1beta1', 'vlanstatuses', 'VlanStatus', False,
                   "Harvester older than v1.1? VlanStatus (the network agent's report per node) came with VlanConfig")
NAD = Kind('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', 'NetworkAttachmentDefinition', True,
           'Multus is not installed, so the cluster has no VLAN networks')
VIRTUAL_MACHINE = Kind('kubevirt.io', 'v1', 'virtualmachines', 'VirtualMachine', True,
                       'KubeVirt is not installed: is this a Harvester cluster?')
VIRTUAL_MACHINE_INSTANCE = Kind('kubevirt.io', 'v1', 'virtualmachineinstances', 'VirtualMachineInstance', True,
                                'KubeVirt is not installed: is this a Harvester cluster?')
SERVICE = Kind('', 'v1', 'services', 'Service', True, 'the core API is not served')
NODE = Kind('', 'v1', 'nodes', 'Node', False, 'the core API is not served')
NAMESPACE = Kind('', 'v1', 'namespaces', 'Namespace', False, 'the core API is not served')
SETTING = Kind('harvesterhci.io', 'v1beta1', 'settings', 'Setting', False,
               'Harvester itself is not installed: is this a Harvester cluster?')
# Harvester's load balancer add-on (harvester/load-balancer-harvester), part of Harvester since v1.2.0
LOAD_BALANCER_GROUP = 'loadbalancer.harvesterhci.io'
LOAD_BALANCER_HINT = ('IP pools and load balancers came with Harvester v1.2.0 (harvester-load-balancer); this '
                      'cluster is older or runs without it')
IP_POOL = Kind(LOAD_BALANCER_GROUP, 'v1beta1', 'ippools', 'IPPool', False, LOAD_BALANCER_HINT)
LOAD_BALANCER = Kind(LOAD_BALANCER_GROUP, 'v1beta1', 'loadbalancers', 'LoadBalancer', True, LOAD_BALANCER_HINT)
VM_IMAGE = Kind('harvesterhci.io', 'v1beta1', 'virtualmachineimages', 'VirtualMachineImage', True,
                'Harvester itself is not installed, so there are no images: use container_disk or pvc disks')
KEY_PAIR = Kind('harvesterhci.io', 'v1beta1', 'keypairs', 'KeyPair', True,
                'Harvester itself is not installed, so there are no key pairs: put the keys into user_data')
