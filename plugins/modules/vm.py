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
  - On plain KubeVirt (no Harvester; O(flavor=plain) or detected) the VM has neither Harvester's C(vmName) label
    nor its C(waitForLeaseInterfaceNames) annotation (KubeVirt labels the VM's pod C(vm.kubevirt.io/name) itself,
    and O(interfaces[].wait_for_lease) still waits by reading the instance); image disks (O(disks[].image)) and
    O(ssh_keys), which name Harvester objects, are refused with their plain equivalents (O(disks[].container_disk),
    O(disks[].pvc), O(disks[].data_volume); keys in O(user_data)).
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
        description:
          - Fixed MAC address; also used to match the NIC in the network data.
          - Quote it in YAML; unquoted, C(52:54:00:00:01:10) is read as a (base 60) number.
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
      wait_for_lease:
        description:
          - Wait for this NIC's IP address in the VirtualMachineInstance's C(status.interfaces[]) (reported by the
            guest agent for a VLAN NIC, see O(guest_agent)), as the Terraform provider's C(wait_for_lease) does.
          - The NIC is listed in the template annotation C(harvesterhci.io/waitForLeaseInterfaceNames), as Harvester
            writes it.
          - With O(state=running) or O(state=restarted) the module waits (up to O(wait_timeout)) even without O(wait).
        type: bool
        default: false
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
      image:
        description:
          - A Harvester VirtualMachineImage (C(namespace/name) or C(name) in the VM's namespace) the disk is made
            from, as Harvester's UI and the Terraform provider do it; the image must exist and be imported.
          - The module writes a claim template into the VM's C(harvesterhci.io/volumeClaimTemplates) annotation (with
            C(harvesterhci.io/imageId), the image's storage class from its C(status.storageClassName), the size, the
            volume and access mode) and a C(persistentVolumeClaim) volume naming it; Harvester creates the claim.
          - Changing O(disks[].size) later changes only the template, not a claim Harvester already created.
        type: str
      size:
        description: With O(disks[].image), the size of the disk (a Kubernetes quantity).
        type: str
        default: 10Gi
      storage_class:
        description:
          - With O(disks[].image), the storage class; it must be the image's own (an image's storage class is set
            when the image is created), so leave it unset.
        type: str
      volume_mode:
        description: With O(disks[].image), the claim's volume mode.
        type: str
        choices: [Block, Filesystem]
        default: Block
      access_mode:
        description: With O(disks[].image), the claim's access mode (C(ReadWriteMany) lets the VM live-migrate).
        type: str
        choices: [ReadWriteMany, ReadWriteOnce, ReadOnlyMany]
        default: ReadWriteMany
      claim_name:
        description:
          - With O(disks[].image), the name of the claim; default the one the VM already uses for that disk, else
            C(<vm>-<disk>).
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
  ssh_keys:
    description:
      - Harvester KeyPairs (C(namespace/name) or C(name) in the VM's namespace) whose public keys the VM gets, as
        Harvester does it; each must exist.
      - The template annotation C(harvesterhci.io/sshNames) lists them, and their C(spec.publicKey) values are added
        to C(ssh_authorized_keys) of the user data, which must then be cloud-config.
    type: list
    elements: str
  hostname:
    description: The guest's host name (C(spec.template.spec.hostname)); KubeVirt's default is the VM's name.
    type: str
  node_selector:
    description:
      - Node labels the VM must run on (C(spec.template.spec.nodeSelector)), for example
        C(kubernetes.io/hostname=node1) as a dictionary.
    type: dict
  nic_hotplug:
    description:
      - When the VM is running, add and remove NICs the way Harvester's Add/Remove NIC actions do instead of
        waiting for a restart; a new NIC is appended, a removed one stays in the spec with state V(absent) so that
        KubeVirt unplugs it.
      - Only virtio C(bridge) NICs on VLAN networks can be hot-plugged, and every NIC needs a MAC address in the
        spec (O(interfaces[].mac_address)); the running VM keeps its cloud-init network data (read at boot only).
      - Needs a cluster whose KubeVirt supports interface hot-plug (the Harvester releases with the Add/Remove NIC
        actions); on an older one the change waits for the next restart, as without this option.
    type: bool
    default: false
  restart_on_change:
    description:
      - When the VM is running and the task changes its template (anything but a hot-plugged NIC), restart it (as
        O(state=restarted) does) so that the change takes effect now.
      - Without it the module warns and returns RV(restart_required=true); KubeVirt marks the VM C(RestartRequired).
    type: bool
    default: false
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
  - harvester.network.cluster_auth.flavor
attributes:
  check_mode:
    support: full
    description: Writes are sent as a server-side dry run; nothing waits.
  diff_mode:
    support: full
    description: Returns before/after of the VirtualMachine.
'''

EXAMPLES = r'''
- name: A VM whose root disk is made from a Harvester image, with an SSH key, a host name and a node
  harvester.network.vm:
    name: db1
    namespace: default
    state: running
    cpu: 2
    memory: 4Gi
    hostname: db1
    node_selector:
      kubernetes.io/hostname: node1
    ssh_keys: [default/admin]
    user_data:
      package_update: true
    interfaces:
      - name: default
        mac_address: "52:54:00:00:01:0f"
      - name: nic-1
        network: default/vlan100
        mac_address: "52:54:00:00:01:10"
        wait_for_lease: true
    guest_agent: true
    disks:
      - name: rootdisk
        image: default/ubuntu-22.04
        size: 20Gi
        boot_order: 1
    wait_timeout: 600

- name: Add a NIC to the running VM without a restart (every NIC has a MAC address)
  harvester.network.vm:
    name: db1
    state: running
    cpu: 2
    memory: 4Gi
    hostname: db1
    node_selector:
      kubernetes.io/hostname: node1
    ssh_keys: [default/admin]
    user_data:
      package_update: true
    interfaces:
      - name: default
        mac_address: "52:54:00:00:01:0f"
      - name: nic-1
        network: default/vlan100
        mac_address: "52:54:00:00:01:10"
      - name: nic-2
        network: default/vlan200
        mac_address: "52:54:00:00:01:11"
    guest_agent: true
    disks:
      - name: rootdisk
        image: default/ubuntu-22.04
        size: 20Gi
        boot_order: 1
    nic_hotplug: true

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

- name: On plain KubeVirt + Multus, a VM with a management NIC and a NIC on VLAN network default/vlan100
  harvester.network.vm:
    name: web2
    flavor: plain
    state: running
    user_data:
      ssh_authorized_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample admin@example]
    interfaces:
      - name: default
      - name: nic-1
        network: default/vlan100
    disks:
      - name: root
        container_disk: quay.io/containerdisks/ubuntu:22.04
'''

RETURN = r'''
flavor:
  description: V(harvester) or V(plain), as given or detected (O(flavor)).
  returned: when O(state) is not V(absent)
  type: str
  sample: harvester
vm:
  description: The VM after the task; phase, strategy, and per NIC network, MAC and IPs.
  returned: when O(state) is not V(absent)
  type: dict
  sample: {"name": "web1", "namespace": "default", "run_strategy": "Always", "phase": "Running", "ready": true,
           "interfaces": [{"name": "nic-1", "network": "default/vlan100", "mac": "52:54:00:12:34:56",
                           "ip_address": "192.168.100.10", "ip_addresses": ["192.168.100.10"]}]}
restart_required:
  description:
    - True when the VM is running and the task changed its template without restarting it (see
      O(restart_on_change)); the change takes effect at its next restart.
  returned: when O(state) is not V(absent)
  type: bool
  sample: false
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
