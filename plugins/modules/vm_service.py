#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vm_service
short_description: Give a Harvester VM on the management network a stable address with a Service
version_added: 0.1.0
description:
  - A VM's management-network IP changes when it restarts; a Service selecting the VM (label
    C(harvesterhci.io/vmName)) gives it a stable ClusterIP, a node port or a load balancer address.
  - On plain KubeVirt (O(flavor=plain) or detected) the Service selects KubeVirt's own label of the VM's pod,
    C(vm.kubevirt.io/name), which KubeVirt sets without the VM naming it.
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Name of the Service.
    type: str
    required: true
  namespace:
    description: Namespace of the Service and the VM.
    type: str
    default: default
  vm:
    description: Name of the VM to select. Required with O(state=present).
    type: str
  type:
    description: Service type.
    type: str
    choices: [ClusterIP, NodePort, LoadBalancer]
    default: ClusterIP
  cluster_ip:
    description: A fixed cluster IP from the service range; unset lets the cluster pick one.
    type: str
  ports:
    description: The ports. Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      name:
        description: Port name; required when there is more than one port.
        type: str
      port:
        description: Port of the Service.
        type: int
        required: true
      target_port:
        description: Port in the VM (number or name); defaults to O(ports[].port).
        type: raw
      protocol:
        description: Protocol.
        type: str
        choices: [TCP, UDP, SCTP]
        default: TCP
      node_port:
        description: Fixed node port (30000-32767) with V(NodePort) or V(LoadBalancer).
        type: int
  state:
    description: V(present) creates or updates; V(absent) deletes.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - netaddr
extends_documentation_fragment:
  - harvester.network.cluster_auth
  - harvester.network.cluster_auth.apply
  - harvester.network.cluster_auth.flavor
attributes:
  check_mode:
    support: full
    description: Writes are sent as a server-side dry run.
  diff_mode:
    support: full
    description: Returns before/after of the Service.
'''

EXAMPLES = r'''
- name: SSH to web1 on a node port
  harvester.network.vm_service:
    name: web1-ssh
    vm: web1
    type: NodePort
    ports:
      - {name: ssh, port: 22, node_port: 30022}
'''

RETURN = r'''
service:
  description: The Service after the task (cluster IP and node ports as the server allocated them).
  returned: when O(state=present)
  type: dict
  sample: {"name": "web1-ssh", "namespace": "default", "type": "NodePort", "cluster_ip": "10.0.0.17",
           "ports": [{"name": "ssh", "port": 22, "targetPort": 22, "nodePort": 30022, "protocol": "TCP"}],
           "selector": {"harvesterhci.io/vmName": "web1"}}
changes:
  description: What was (or in check mode would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "Service", "namespace": "default", "name": "web1-ssh", "action": "create"}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import vm_service_handler


def main():
    run(new_module('vm_service'), vm_service_handler, needs_netaddr=True)


if __name__ == '__main__':
    main()
