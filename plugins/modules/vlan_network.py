#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vlan_network
short_description: Manage Harvester VLAN networks (NetworkAttachmentDefinitions)
version_added: 0.1.0
description:
  - Writes the NetworkAttachmentDefinition exactly as Harvester builds it for the cluster's API generation; a bridge
    CNI config on C(harvester-br0) (v0.3/v1.0) or on C(<cluster network>-br) with the uplink MTU (v1.1+), the VLAN ID,
    C(promiscMode), Harvester's labels and its route annotation.
  - One network (O(name)) or many (O(networks)); many are read with one LIST and only the ones that differ are
    written, so a re-run costs a handful of requests.
  - Refuses, before writing anything, duplicate VLAN IDs on one cluster network (unless O(allow_duplicate_vids)),
    unknown cluster networks, and changing or deleting a network that a running VM uses.
  - "Harvester's default leaves the native VLAN on VM ports: the bridge CNI plugin gives a VM's port the network's VLAN
    as PVID (untagged) but keeps the bridge's default VLAN 1 on it, egress untagged, so broadcasts and unknown unicast
    of the uplink's untagged traffic reach every VM of every VLAN network (harvester/harvester#8816).
    O(preserve_default_vlan=false) removes it."
  - On a plain KubeVirt + Multus cluster (no Harvester, O(flavor=plain) or detected), writes a bridge CNI
    NetworkAttachmentDefinition on the node bridge named by O(bridge), with the VLAN (or C(vlanTrunk)), O(mtu) and
    O(preserve_default_vlan) only when given, and no Harvester labels or annotations; O(cluster_network), O(route),
    O(wait) and O(api_generation) are refused there with a message naming them (C(docs/plain-kubevirt.md)).
author:
  - harvester.network developers (@harvester-network)
options:
  name:
    description: Name of one network. Mutually exclusive with O(networks).
    type: str
  namespace:
    description: Namespace of the network(s); the default for items of O(networks).
    type: str
    default: default
  cluster_network:
    description:
      - The cluster network the VLANs ride on (Harvester v1.1+; required there, C(mgmt) for the management network).
      - Leave unset on Harvester v0.3/v1.0, which has the one cluster network C(vlan).
      - Refused with O(flavor=plain), which has no cluster networks (see O(bridge)).
    type: str
  bridge:
    description:
      - With O(flavor=plain) only (required there with O(state=present) or O(prune)), the node bridge the networks'
        VM NICs are attached to, as the bridge CNI config's C(bridge); the VLAN-filtering bridge
        M(harvester.network.host_bridge) built on every node, for example C(br-vlan).
      - With O(prune) and O(allow_duplicate_vids), the networks of this bridge play the part of a cluster network's.
      - Refused on Harvester, where the bridge is the cluster network's (C(<cluster network>-br)).
    type: str
  network_type:
    description:
      - V(vlan) tags traffic with O(vlan_id); V(untagged) (Harvester v1.1+) carries untagged traffic of the uplink.
      - V(trunk) (Harvester's C(L2VlanTrunkNetwork), network controller v1.7, Harvester v1.7) gives a VM NIC the
        VLANs of O(vlan_trunk), tagged, for a guest that tags its own traffic (a nested Harvester, a router VM).
      - V(overlay) (Kube-OVN, Harvester v1.6+, experimental) is read-only in this collection; the task fails with a
        message saying so. M(harvester.network.vlan_network_info) reads overlay networks.
      - The default for items of O(networks).
    type: str
    choices: [vlan, untagged, trunk, overlay]
    default: vlan
  vlan_id:
    description: VLAN ID, 1-4094.
    type: int
  vlan_trunk:
    description:
      - "The VLAN IDs of a trunk network (O(network_type=trunk)), as ranges; required there, refused for other
        types. Written to the bridge CNI config's C(vlanTrunk) with C(\"vlan\": 0), as Harvester does: a range as
        C({\"minID\": a, \"maxID\": b}), one VID (O(vlan_trunk[].max_id) unset or equal) as C({\"id\": n})."
      - Checked as Harvester's webhook checks it, before anything is written (each ID 1-4094, min_id <= max_id), plus
        one rule of this collection, that ranges may not overlap (Harvester would merge them).
      - The same shape as C(vlan_trunk) in M(harvester.network.vlan_network_info)'s result, so a network read there
        can be fed back.
      - A trunk network has no O(vlan_id), no O(route) and no O(preserve_default_vlan), and its VLANs do not count
        for the duplicate VLAN ID check.
    type: list
    elements: dict
    suboptions:
      min_id:
        description: First VLAN ID of the range.
        type: int
        required: true
      max_id:
        description: Last VLAN ID of the range; unset for one VLAN ID.
        type: int
  mtu:
    description:
      - MTU of the network (Harvester v1.1+). Unset means the MTU of the cluster network's uplink.
      - Harvester gives every network the MTU of its cluster network (its webhook rewrites another MTU on create and
        refuses it on update), so a different value is refused before anything is written; change the uplink MTU
        with M(harvester.network.vlan_config) instead.
    type: int
  preserve_default_vlan:
    description:
      - The bridge CNI plugin's C(preserveDefaultVlan) in the config of tagged networks (O(network_type=vlan)); the
        default for items of O(networks).
      - Unset (the default), the key is not managed. A new network gets the config exactly as Harvester writes it,
        without the key, and a network Harvester made is not reported as changed. The plugin then keeps the bridge's
        default VLAN 1 on each VM port as an egress-untagged member, so frames flooded on the native (untagged)
        VLAN reach the VMs of every VLAN network.
      - V(false) has the plugin remove VLAN 1 from the VM ports of this network, so they carry their VLAN only.
        Needs the bridge CNI plugin 1.3.0 or later on the nodes; older plugins ignore the key. Only VM NICs
        attached afterwards get it; ports attached before keep their VLANs until the VM restarts.
      - V(true) writes the key with the plugin's default behaviour (the way back from V(false)).
      - Not allowed on untagged networks, whose ports carry VLAN 1 by design.
    type: bool
  route:
    description:
      - Harvester's route annotation, which tells the UI and the DHCP checks the subnet.
      - Tagged networks only. Harvester drops the route of a network without a VLAN, so a route on an untagged
        network is refused.
      - Harvester's controller adds C(connectivity) to the annotation after it pinged the gateway; that is not a
        change.
    type: dict
    suboptions:
      mode:
        description: V(auto) learns the subnet by DHCP; V(manual) states it.
        type: str
        choices: [auto, manual]
        default: auto
      cidr:
        description: The subnet, for example C(192.168.100.0/24); required with V(manual).
        type: str
      gateway:
        description: The router, inside O(route.cidr); required with V(manual).
        type: str
      dhcp_server:
        description: Address of the DHCP server (Harvester's C(serverIPAddr)).
        type: str
  description:
    description: Free text stored in the C(field.cattle.io/description) annotation.
    type: str
  networks:
    description:
      - Many networks in one task. Module-level O(namespace) and O(network_type) are the defaults of each item.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the network.
        type: str
        required: true
      namespace:
        description: Namespace of the network.
        type: str
      network_type:
        description: V(vlan), V(untagged) or V(trunk), as O(network_type).
        type: str
        choices: [vlan, untagged, trunk, overlay]
      vlan_id:
        description: VLAN ID, 1-4094.
        type: int
      vlan_trunk:
        description: The VLAN ranges of a trunk network, as O(vlan_trunk).
        type: list
        elements: dict
        suboptions:
          min_id:
            description: First VLAN ID of the range.
            type: int
            required: true
          max_id:
            description: Last VLAN ID of the range; unset for one VLAN ID.
            type: int
      mtu:
        description: MTU (Harvester v1.1+, or flavor plain).
        type: int
      preserve_default_vlan:
        description: As O(preserve_default_vlan), for this network.
        type: bool
      route:
        description: Route annotation, as O(route).
        type: dict
        suboptions:
          mode:
            description: V(auto) or V(manual).
            type: str
            choices: [auto, manual]
            default: auto
          cidr:
            description: The subnet.
            type: str
          gateway:
            description: The router.
            type: str
          dhcp_server:
            description: Address of the DHCP server.
            type: str
      description:
        description: Free text.
        type: str
  prune:
    description:
      - With O(networks) and O(state=present), delete the VLAN and untagged networks of this cluster network that are
        not listed, in the namespaces the task names. Trunk and overlay networks are never pruned (delete a trunk
        network by name with O(state=absent)).
      - A network a VM refers to (running or stopped) is not deleted; the task fails and names the VM.
    type: bool
    default: false
  allow_duplicate_vids:
    description: Allow two networks of one cluster network to use the same VLAN ID.
    type: bool
    default: false
  state:
    description: V(present) creates or updates; V(absent) deletes the named network(s).
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - With O(state=present) on Harvester v1.1+, wait until Harvester labels every network of the task ready
        (C(network.harvesterhci.io/ready=true), which its network manager sets while the network's cluster network
        is ready, that is once a node's network agent has reported the uplink; it does not say every node is up;
        M(harvester.network.vlan_config) with O(harvester.network.vlan_config#module:wait=true) waits for each node).
      - On timeout the task fails, names the networks that are not ready, and still reports C(changed) and
        C(changes).
      - Check mode never waits (nothing was written); it warns. Harvester v0.3/v1.0 labels no network ready, so the task
        warns and does not wait.
    type: bool
    default: false
  wait_timeout:
    description: How long O(wait) waits, in seconds.
    type: int
    default: 300
requirements:
  - netaddr
extends_documentation_fragment:
  - harvester.network.cluster_auth
  - harvester.network.cluster_auth.apply
  - harvester.network.cluster_auth.generation
  - harvester.network.cluster_auth.flavor
attributes:
  check_mode:
    support: full
    description: Writes are sent as a server-side dry run.
  diff_mode:
    support: full
    description: Returns one before/after pair per network written.
'''

EXAMPLES = r'''
- name: VLAN 100 on cluster network data, subnet stated
  harvester.network.vlan_network:
    name: vlan100
    cluster_network: data
    vlan_id: 100
    route:
      mode: manual
      cidr: 192.168.100.0/24
      gateway: 192.168.100.1

- name: Exactly these networks on cluster network data in namespace lab
  harvester.network.vlan_network:
    namespace: lab
    cluster_network: data
    prune: true
    networks:
      - {name: vlan100, vlan_id: 100}
      - {name: vlan200, vlan_id: 200}
      - {name: native, network_type: untagged}

- name: VLAN 300 whose VM ports carry VLAN 300 only (no native VLAN 1 flooding into the VMs)
  harvester.network.vlan_network:
    name: vlan300
    cluster_network: data
    vlan_id: 300
    preserve_default_vlan: false

- name: A VM NIC carrying VLANs 100-199 and 300, tagged (a trunk network), once Harvester reports it ready
  harvester.network.vlan_network:
    name: trunk-lab
    cluster_network: data
    network_type: trunk
    vlan_trunk:
      - {min_id: 100, max_id: 199}
      - {min_id: 300}
    wait: true

- name: On plain KubeVirt + Multus (no Harvester), VLAN 100 on the node bridge br-vlan, VM ports on VLAN 100 only
  harvester.network.vlan_network:
    name: vlan100
    flavor: plain
    bridge: br-vlan
    vlan_id: 100
    preserve_default_vlan: false
'''

RETURN = r'''
generation:
  description: The Harvester API generation the task worked with; null with flavor plain.
  returned: always
  type: str
  sample: current
flavor:
  description: V(harvester) or V(plain), as given or detected (O(flavor)).
  returned: always
  type: str
  sample: harvester
networks:
  description:
    - The networks after the task, parsed; the keys of M(harvester.network.vlan_network_info)'s C(networks)
      (C(network_type) one of V(vlan), V(untagged), V(trunk), V(overlay); C(vlan_trunk) null unless V(trunk)).
    - In check mode, when the cluster network does not exist yet (an earlier task of the same run creates it), the
      networks are predicted locally, without a server-side dry run, and a warning says so.
  returned: when O(state=present)
  type: list
  elements: dict
  sample: [{"name": "vlan100", "namespace": "default", "cluster_network": "data", "network_type": "vlan",
            "vlan_id": 100, "vlan_trunk": null, "bridge": "data-br", "mtu": 1500}]
changes:
  description: What was (or in check mode would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "NetworkAttachmentDefinition", "namespace": "default", "name": "vlan100", "action": "create"}]
'''

from ansible_collections.harvester.network.plugins.module_utils.cluster.common import new_module, run
from ansible_collections.harvester.network.plugins.module_utils.cluster.networks import vlan_network_handler


def main():
    run(new_module('vlan_network'), vlan_network_handler, needs_netaddr=True)


if __name__ == '__main__':
    main()
