#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vm
short_description: Manage a Harvester (KubeVirt) virtual machine and its NICs
version_added: 0.1.0
description:
  - A KubeVirt VirtualMachine laid out as Harvester does; typed NICs (management; C(masquerade) on the pod network;
    VLAN; C(bridge) on a NetworkAttachmentDefinition through Multus), disks, CPU and memory, and a cloud-init disk
    with user data and generated network data that brings up every NIC (only the first one comes up by itself).
  - Idempotent; fields the server or KubeVirt add (defaults, annotations, status) are not differences, so a re-run
    reports no change.
  - The template carries the label C(harvesterhci.io/vmName) so that M(harvester.network.vm_service) can select it.
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Name of the VM.
    type: str
    required: true
  namespace:
    description: Namespace of the VM.
    type: str
    default: default
  state:
    description:
      - V(present) creates or updates the VM with O(run_strategy) (on create C(RerunOnFailure) when unset).
      - V(running) also makes the strategy one that runs the VM; V(stopped) sets C(Halted).
      - V(restarted) is V(running) plus deleting the running instance so a fresh one starts (what C(virtctl restart)
        does); it always reports a change when the VM was running.
      - V(absent) deletes the VM.
    type: str
    choices: [present, absent, running, stopped, restarted]
    default: present
  run_strategy:
    description: KubeVirt's C(spec.runStrategy).
    type: str
    choices: [Always, RerunOnFailure, Manual, Halted, Once]
  description:
    description: Free text stored in the C(field.cattle.io/description) annotation.
    type: str
  labels:
    description: Labels of the VM and its instances.
    type: dict
  cpu:
    description: Number of virtual CPU cores.
    type: int
    default: 1
  memory:
    description: Memory, as a Kubernetes quantity.
    type: str
    default: 1Gi
  interfaces:
    description: The NICs, in guest order.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the NIC in the VM spec (DNS-1123 label), for example C(default) or C(nic-1).
        type: str
        required: true
      network:
        description:
          - The VLAN network, as C(namespace/name) or C(name) (the VM's namespace). Unset means the management network.
        type: str
      type:
        description: Binding; V(masquerade) (management, the default there) or V(bridge) (VLAN, the default there).
        type: str
        choices: [masquerade, bridge]
      model:
        description: NIC model the guest sees.
        type: str
        choices: [virtio, e1000, e1000e, ne2k_pci, pcnet, rtl8139]
        default: virtio
      mac_address:
        description: Fixed MAC address; also used to match the NIC in the network data.
        type: str
      boot_order:
        description: Boot order of the NIC (PXE).
        type: int
      guest_name:
        description: The NIC's name in the guest for the network data; default C(enp<N>s0) for the Nth NIC.
        type: str
      ip_mode:
        description: How cloud-init brings the NIC up; V(none) leaves it alone.
        type: str
        choices: [dhcp, dhcp6, static, none]
        default: dhcp
      addresses:
        description: With O(interfaces[].ip_mode=static), the NIC's addresses with prefix, for example C(192.168.100.10/24).
        type: list
        elements: str
      gateway:
        description: With O(interfaces[].ip_mode=static), the default gateway (inside one of the addresses' subnets).
        type: str
      dns:
        description: DNS servers for this NIC.
        type: list
        elements: str
  disks:
    description: The disks, each with exactly one source.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the disk.
        type: str
        required: true
      container_disk:
        description: A container image holding the disk image.
        type: str
      pvc:
        description: Name of a PersistentVolumeClaim.
        type: str
      data_volume:
        description: Name of a CDI DataVolume.
        type: str
      device:
        description: Device kind.
        type: str
        choices: [disk, cdrom]
        default: disk
      bus:
        description: Bus; default C(virtio) for disks, C(sata) for CD-ROMs.
        type: str
        choices: [virtio, sata, scsi, usb]
      boot_order:
        description: Boot order.
        type: int
  user_data:
    description:
      - cloud-init user data; a dictionary (written as C(#cloud-config)), or text.
    type: raw
  guest_agent:
    description:
      - Install and start C(qemu-guest-agent) through the user data, which needs cloud-config user data. The agent
        reports the IPs of VLAN NICs.
    type: bool
    default: false
  network_data:
    description:
      - cloud-init network data to use as given (dictionary or text) instead of the generated one.
    type: raw
  network_data_version:
    description:
      - Version of the generated network data; it is generated when the VM has more than one NIC or a NIC that is
        not plain DHCP.
    type: int
    choices: [1, 2]
    default: 1
  wait:
    description: With O(state=running), O(state=restarted) or O(state=stopped), wait until the VM is Ready (or gone).
    type: bool
    default: false
  wait_for_ips:
    description: With O(wait), also wait until every NIC whose O(interfaces[].ip_mode) is not V(none) reports an IP.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 300
requirements:
  - netaddr
extends_documentation_fragment:
  - harvester.network.cluster_auth
  - harvester.network.cluster_auth.apply
attributes:
  check_mode:
    support: full
    description: Writes are sent as a server-side dry run; nothing waits.
  diff_mode:
    support: full
    description: Returns before/after of the VirtualMachine.
'''

EXAMPLES = r'''
- name: A VM on the management network and VLAN 100, both NICs up, the VLAN one static
  harvester.network.vm:
    name: web1
    state: running
    cpu: 2
    memory: 2Gi
    guest_agent: true
    user_data:
      password: changeme
      chpasswd: {expire: false}
    interfaces:
      - name: default
      - name: nic-1
        network: default/vlan100
        ip_mode: static
        addresses: [192.168.100.10/24]
        gateway: 192.168.100.1
    disks:
      - name: root
        container_disk: quay.io/containerdisks/ubuntu:22.04
    wait: true
    wait_for_ips: true
'''

RETURN = r'''
vm:
  description: The VM after the task; phase, strategy, and per NIC network, MAC and IPs.
  returned: when O(state) is not V(absent)
  type: dict
  sample: {"name": "web1", "namespace": "default", "run_strategy": "Always", "phase": "Running", "ready": true,
           "interfaces": [{"name": "nic-1", "network": "default/vlan100", "mac": "52:54:00:12:34:56",
                           "ip_address": "192.168.100.10", "ip_addresses": ["192.168.100.10"]}]}
changes:
  description: What was (or in check mode would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "VirtualMachine", "namespace": "default", "name": "web1", "action": "create"}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.vms import vm_handler


def main():
    run(new_module('vm'), vm_handler, needs_netaddr=True)


if __name__ == '__main__':
    main()
