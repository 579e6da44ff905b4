#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: host_network_info
short_description: Read a Harvester node's host network in the shape the host modules take
version_added: 0.1.0
description:
  - Reads bonds (with their options and slaves), bridges (with their ports), the VLAN table of every bridge port,
    addresses and main-table routes over netlink (four dumps; VLAN tables come compressed into ranges).
  - RV(gathered) has exactly the shape of M(harvester.network.host_network)'s options; fed back with
    O(harvester.network.host_network#module:state=overridden) it changes nothing.
  - Options a bond's mode ignores are left out, so the output always validates. Link-local IPv6 addresses and
    kernel-made routes (prefix routes, router advertisements) are left out; the kernel makes them itself.
  - RV(status) adds what is state rather than configuration, every link and the bond slave states.
author:
  - harvester.network developers (@harvester-network)
options: {}
requirements:
  - Python 3.8+ on the managed node; pyroute2 >= 0.9 only for the reference netlink codec (E(HARVESTER_NETWORK_CODEC=pyroute2))
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: N/A
  platform:
    platforms: linux
seealso:
  - module: harvester.network.host_network
'''

EXAMPLES = r'''
- name: Read the node's network
  harvester.network.host_network_info:
  register: node

- name: Show the VLANs trunked on each bridge port
  ansible.builtin.debug:
    msg: "{{ item.port }}: {{ item.vids | join(',') }} (PVID {{ item.pvid }})"
  loop: "{{ node.gathered.vlans }}"

- name: Re-assert exactly what was read (a no-op)
  harvester.network.host_network:
    state: overridden
    bonds: "{{ node.gathered.bonds }}"
    bridges: "{{ node.gathered.bridges }}"
    vlans: "{{ node.gathered.vlans }}"
    addresses: "{{ node.gathered.addresses }}"
    routes: "{{ node.gathered.routes }}"
    probes:
      enabled: false
'''

RETURN = r'''
gathered:
  description: The node in the shape of M(harvester.network.host_network)'s options.
  returned: always
  type: dict
  contains:
    bonds:
      description: Bonds with their mode, slaves, MTU, MAC address and the options their mode uses.
      type: list
      elements: dict
    bridges:
      description:
        - Bridges with their options, MAC address and ports. C(uplink) names the bond or physical NIC port with the bridge's MTU
          when there is exactly one; the other ports are in C(ports).
      type: list
      elements: dict
    vlans:
      description: The VLAN table of every bridge port and bridge, as C(vids) (tagged), C(pvid) and C(untagged), VIDs as ranges.
      type: list
      elements: dict
    addresses:
      description: One item per address (C(interface), C(address) with prefix length).
      type: list
      elements: dict
    routes:
      description: Main-table routes not made by the kernel (C(dst), C(gateway), C(interface), C(metric)).
      type: list
      elements: dict
  sample:
    bonds: []
    bridges: [{name: vlan-br, vlan_filtering: true, default_pvid: 1, stp: false, promisc: true, mtu: 1500,
               mac: "52:54:00:12:34:01", up: true, uplink: eth1, ports: []}]
    vlans: [{port: eth1, bridge: vlan-br, vids: ["100-199", "300"], pvid: 1, untagged: ["1"]},
            {port: vlan-br, bridge: vlan-br, vids: [], pvid: 1, untagged: ["1"]}]
    addresses: [{interface: eth0, address: 192.168.122.10/24}]
    routes: [{dst: 0.0.0.0/0, gateway: 192.168.122.1, interface: eth0, metric: 0}]
status:
  description: Every link (C(name), C(kind), C(mtu), C(up), C(master), C(mac), C(max_mtu)) and, for bond slaves, C(bond_slave).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.harvester.network.plugins.module_utils.host.engine import run_module
from ansible_collections.harvester.network.plugins.module_utils.host.netlink import PYROUTE2_IMPORT_ERROR, pyroute2_missing
from ansible_collections.harvester.network.plugins.module_utils.host.profiles import module_spec


def main():
    module = AnsibleModule(**module_spec('host_network_info'))
    if pyroute2_missing():
        module.fail_json(msg=missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)
    run_module(module, 'host_network_info')


if __name__ == '__main__':
    main()
