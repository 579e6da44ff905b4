#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vm_info
short_description: Read Harvester (KubeVirt) virtual machines and their NICs' addresses
version_added: 0.1.0
description:
  - One LIST of VirtualMachines and one of VirtualMachineInstances; returns each VM's phase and, per NIC, the
    network, MAC and IP addresses the instance reports (VLAN IPs need the guest agent).
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Only the VM of this name.
    type: str
  namespace:
    description: Only VMs of this namespace; unset means every namespace.
    type: str
  label_selector:
    description: Only VMs with these labels, as a Kubernetes label selector, for example C(app=web).
    type: str
extends_documentation_fragment:
  - harvester.network.cluster_auth
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only.
'''

EXAMPLES = r'''
- name: Addresses of web1
  harvester.network.vm_info:
    name: web1
    namespace: default
  register: info
'''

RETURN = r'''
vms:
  description: The VMs found.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name.
      type: str
      sample: web1
    namespace:
      description: Namespace.
      type: str
      sample: default
    run_strategy:
      description: The VM's run strategy.
      type: str
      sample: Always
    printable_status:
      description: KubeVirt's printable status of the VM.
      type: str
      sample: Running
    phase:
      description: Phase of the running instance, or C(Stopped) when there is none.
      type: str
      sample: Running
    ready:
      description: Whether the instance is Ready.
      type: bool
      sample: true
    node:
      description: Node the instance runs on.
      type: str
      sample: node1
    restart_required:
      description: Whether KubeVirt reports the VM's C(RestartRequired) condition (a change waits for a restart).
      type: bool
      sample: false
    hostname:
      description: The guest host name the VM sets, or null.
      type: str
      sample: web1
    node_selector:
      description: The VM's node selector.
      type: dict
      sample: {"kubernetes.io/hostname": "node1"}
    ssh_keys:
      description: The Harvester KeyPairs of the VM (its C(harvesterhci.io/sshNames) annotation).
      type: list
      elements: str
      sample: ["default/admin"]
    interfaces:
      description: Per NIC; name, network (null for management), management, binding, model, mac, ip_address,
        ip_addresses, guest_interface, state (C(absent) while a hot-unplug is pending, else null).
      type: list
      elements: dict
      sample: [{"name": "nic-1", "network": "default/vlan100", "management": false, "binding": "bridge",
                "mac": "52:54:00:12:34:56", "ip_address": "192.168.100.10", "ip_addresses": ["192.168.100.10"]}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import vm_info_handler


def main():
    run(new_module('vm_info'), vm_info_handler)


if __name__ == '__main__':
    main()
