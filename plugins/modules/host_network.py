#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: host_network
short_description: Converge a Harvester node's whole host network in one transaction, with probes and rollback
version_added: 0.1.0
description:
  - Bonds, bridges, VLAN trunks, addresses and routes of one node, planned together and applied as one transaction.
  - "The run: read the node over netlink; validate everything (nothing is written when any input is wrong); plan;
    apply with a journal of inverse operations; read again and check that a second plan is empty; run the probes;
    keep the result, or roll back to the exact previous state."
  - Probes are tunable and can be turned off (O(probes)). By default the node's default gateways are pinged after the
    change, but only those that answered before it, so a lab without a gateway does not roll back every change.
  - A network resource module. For each list that is given, V(merged) adds and changes, V(replaced) makes the listed
    items exact, V(overridden) makes the list exact for the whole node (unlisted bonds and bridges are deleted,
    unlisted ports reset, unlisted addresses and routes removed), V(deleted) removes the listed items (all of them for
    an empty list). Lists that are left out are not touched. V(gathered) returns the node in the shape this module
    takes (M(harvester.network.host_network_info) does too); V(rendered) returns the commands offline.
  - Feeding V(gathered) output back with V(overridden) changes nothing.
  - O(persist) saves what the task manages and installs a boot-time systemd unit that re-applies it with this same
    engine (see the option).
author:
  - harvester.network developers (@harvester-network)
options:
  state:
    description: How the lists are applied (see the description).
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered]
    default: merged
  vlans:
    description: VLAN membership of bridge ports; the options are those of M(harvester.network.host_vlan_trunk).
    type: list
    elements: dict
    suboptions:
      port:
        description: A bridge port, or a bridge itself for its own VLANs.
        type: str
        required: true
      bridge:
        description: The bridge of the port (checked when given).
        type: str
      vids:
        description: Tagged VLANs, numbers or ranges like V("100-200,300"); with V(deleted), the VLANs to remove.
        type: list
        elements: raw
      pvid:
        description: The port VLAN ID (untagged by default); V(0) for none.
        type: int
      untagged:
        description: VLANs that leave the port untagged (left out, the PVID).
        type: list
        elements: raw
  addresses:
    description:
      - IP addresses of interfaces. With V(replaced), the interfaces listed get exactly these addresses; with
        V(overridden), interfaces not listed lose theirs (the management address too, unless it is listed).
    type: list
    elements: dict
    suboptions:
      interface:
        description: The interface.
        type: str
        required: true
      address:
        description: The address with its prefix length, for example C(10.0.0.2/24) or C(fd00::2/64).
        type: str
        required: true
  routes:
    description:
      - Routes of the main table, keyed by destination and metric. Routes with a gateway are added last.
    type: list
    elements: dict
    suboptions:
      dst:
        description: Destination network (C(10.1.0.0/16), C(0.0.0.0/0), C(::/0)); V(default) works with a O(routes[].gateway).
        type: str
        required: true
      gateway:
        description: The next hop; it must be inside the subnet of an address after the change.
        type: str
      interface:
        description: The outgoing interface. Left out, the kernel picks it (and it is not compared).
        type: str
      metric:
        description: The route metric. Left out, 0 for IPv4 and 1024 for IPv6 (the kernel defaults).
        type: int
  probes:
    description:
      - Checks run after the change; if one fails the change is rolled back (unless O(rollback=false)).
      - Not run in check mode or when nothing changed.
    type: dict
    suboptions:
      enabled:
        description: Run probes at all.
        type: bool
        default: true
      gateway:
        description: Ping the node's default gateways after the change, those that answered a ping before it.
        type: bool
        default: true
      delay:
        description: Seconds to wait after the change before the first probe (for example for LACP to settle).
        type: float
        default: 0.0
      ping:
        description: Targets that must answer ICMP echo after the change.
        type: list
        elements: dict
        suboptions:
          target:
            description: Address or name to ping.
            type: str
            required: true
          interface:
            description: Send out of this interface only (C(SO_BINDTODEVICE)).
            type: str
          count:
            description: Echo requests to spread over O(probes.ping[].timeout).
            type: int
            default: 3
          timeout:
            description: Seconds to wait for a reply.
            type: float
            default: 3.0
      tcp:
        description: Services that must accept a TCP connection after the change (the API server, SSH, ...).
        type: list
        elements: dict
        suboptions:
          host:
            description: Address or name.
            type: str
            required: true
          port:
            description: TCP port.
            type: int
            required: true
          interface:
            description: Connect out of this interface only.
            type: str
          timeout:
            description: Seconds to keep trying.
            type: float
            default: 3.0
  rollback:
    description:
      - Roll back to the exact previous state when applying fails, when the node does not match after applying, or when
        a probe fails. With V(false), the node is left as it is and the module fails.
    type: bool
    default: true
extends_documentation_fragment:
  - harvester.network.host
  - harvester.network.host.network
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: linux
seealso:
  - module: harvester.network.host_network_info
  - module: harvester.network.host_bond
  - module: harvester.network.host_bridge
  - module: harvester.network.host_vlan_trunk
'''

EXAMPLES = r'''
- name: A Harvester v1.1+ cluster network on a node - bond, VLAN bridge, trunk of the networks in use
  harvester.network.host_network:
    bonds:
      - name: data-bo
        mode: 802.3ad
        slaves: [eth1, eth2]
        lacp_rate: fast
        xmit_hash_policy: layer3+4
        mtu: 9000
    bridges:
      - name: data-br
        uplink: data-bo
    vlans:
      - port: data-bo
        vids: [100, 200]
    probes:
      gateway: false

- name: Move the management address onto a bridge (v0.3 style), with probes; roll back if they fail
  harvester.network.host_network:
    bridges:
      - name: harvester-br0
        uplink: eth0
        migrate: true
    probes:
      delay: 1
      ping:
        - target: 192.168.122.1
          interface: harvester-br0
          timeout: 5

- name: Read the node, in the shape this module takes
  harvester.network.host_network:
    state: gathered
  register: node

- name: Feed it back - nothing changes
  harvester.network.host_network:
    state: overridden
    bonds: "{{ node.gathered.bonds }}"
    bridges: "{{ node.gathered.bridges }}"
    vlans: "{{ node.gathered.vlans }}"
    addresses: "{{ node.gathered.addresses }}"
    routes: "{{ node.gathered.routes }}"

- name: Keep the data network across reboots
  harvester.network.host_network:
    state: replaced
    bonds:
      - name: data-bo
        mode: 802.3ad
        slaves: [eth1, eth2]
    bridges:
      - name: data-br
        uplink: data-bo
    vlans:
      - port: data-bo
        vids: [100, 200]
    persist: true
    probes:
      enabled: false
'''

RETURN = r'''
changed:
  description: Whether the node (or the persisted state) changed.
  returned: always
  type: bool
before:
  description: The node before the run, in the shape of this module's options (C(bonds), C(bridges), C(vlans), C(addresses), C(routes)).
  returned: success, except with V(gathered) and V(rendered)
  type: dict
after:
  description: The node after the run in the same shape (in check mode, as predicted).
  returned: success, except with V(gathered) and V(rendered)
  type: dict
gathered:
  description: The node in the shape of this module's options.
  returned: when O(state=gathered)
  type: dict
  sample:
    bonds: [{name: data-bo, mode: 802.3ad, slaves: [eth1, eth2], mtu: 9000, mac: "52:54:00:12:34:01", up: true,
             miimon: 100, updelay: 0, downdelay: 0, lacp_rate: fast, xmit_hash_policy: layer3+4, ad_select: stable,
             min_links: 0}]
    bridges: [{name: data-br, vlan_filtering: true, default_pvid: 1, stp: false, promisc: true, mtu: 9000,
               mac: "52:54:00:12:34:01", up: true, uplink: data-bo, ports: []}]
    vlans: [{port: data-bo, bridge: data-br, vids: ["100", "200"], pvid: 1, untagged: ["1"]}]
    addresses: [{interface: eth0, address: 192.168.122.10/24}]
    routes: [{dst: 0.0.0.0/0, gateway: 192.168.122.1, interface: eth0, metric: 0}]
rendered:
  description: The iproute2 commands the options amount to on a node with just the named NICs (computed offline).
  returned: when O(state=rendered)
  type: list
  elements: str
plan:
  description: The operations, in order, each with its fields, the equivalent iproute2 C(command) and a C(note) where the
    kernel forces something disruptive. In check mode, what a real run would do; otherwise what it did.
  returned: success, except with V(gathered)
  type: list
  elements: dict
commands:
  description: The iproute2 commands equivalent to RV(plan).
  returned: success, except with V(gathered) and V(rendered)
  type: list
  elements: str
probes:
  description: Each probe with C(ok) and a C(detail) (C(auto) marks the default-gateway probes).
  returned: when probes ran
  type: list
  elements: dict
  sample: [{probe: ping 192.168.122.1, ok: true, detail: reply from 192.168.122.1 after 1 request(s), auto: true}]
journal:
  description: Every operation that ran, with its status (V(done), V(failed), V(skipped)) and the kernel's error.
  returned: when something was applied
  type: list
  elements: dict
interrupted:
  description:
    - What a run before this one, killed while it wrote, had removed and not put back (as the iproute2 commands that
      would add them where they were), with that run's C(pid) and C(started) time. This run puts them back where its
      desired state wants them.
  returned: when an interrupted run left something removed
  type: dict
  sample: {pid: 4242, started: "2026-12-06T22:10:03", lost: ["ip -4 route add 0.0.0.0/0 via 192.168.122.1 dev eth3 metric 0"]}
rollback:
  description:
    - After a failure, what the rollback did. C(undone) counts the inverse operations run from the journal,
      C(reconverged) lists what had to be planned back, C(restored) tells whether the node is exactly as before and
      C(remaining) lists what still differs.
  returned: when a run failed after changing something
  type: dict
persist:
  description: The files O(persist) wrote (or, in check mode, would write), as C(changed_files).
  returned: when O(persist=true)
  type: dict
errors:
  description: The invalid inputs, each naming its field.
  returned: when the input is invalid
  type: list
  elements: str
lock_wait:
  description: Seconds spent waiting for another run's lock.
  returned: when not in check mode
  type: float
elapsed:
  description: Seconds the engine took.
  returned: success
  type: float
timings:
  description: Seconds spent reading the node (C(read)), validating and planning (C(plan)), applying (C(apply)),
    reading and planning again to verify (C(verify)) and probing (C(probes)).
  returned: when the node was read
  type: dict
  sample: {read: 0.004, plan: 0.003, apply: 0.021, verify: 0.006}
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.harvester.network.plugins.module_utils.host.engine import run_module
from ansible_collections.harvester.network.plugins.module_utils.host.netlink import PYROUTE2_IMPORT_ERROR, pyroute2_missing
from ansible_collections.harvester.network.plugins.module_utils.host.profiles import module_spec


def main():
    module = AnsibleModule(**module_spec('host_network'))
    if pyroute2_missing():
        module.fail_json(msg=missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)
    run_module(module, 'host_network')


if __name__ == '__main__':
    main()
