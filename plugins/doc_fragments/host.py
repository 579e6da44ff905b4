# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the host modules (the ones that change a node's network over netlink).

``harvester.network.host`` is the lock option, requirements and notes of every writing host module.
``harvester.network.host.bond`` and ``harvester.network.host.bridge`` are the options of one bond and one bridge
(the top level of host_bond and host_bridge); ``harvester.network.host.network`` is the same text as the
``bonds`` and ``bridges`` list options of host_network, nested by ``_nested()`` below, so each option is
described once, next to the one argument spec they all use (module_utils/host/argspec.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re


class ModuleDocFragment(object):

    # Writing host modules: the lock option, requirements and the common notes.
    DOCUMENTATION = r'''
options:
  lock_timeout:
    description:
      - Seconds to wait for another harvester.network run on the same node (module runs and the boot-time unit take
        the same lock, C(/run/lock/harvester-network.lock)) before failing.
    type: float
    default: 60.0
  persist:
    description:
      - Also save what this task manages into the node's saved desired state (C(/etc/harvester-network/state.json))
        and install C(harvester-network.service), a boot-time unit that re-applies that state with this same engine
        (copied to C(/var/lib/harvester-network)) before C(network.target), and logs what it did to the journal and
        C(/var/log/harvester-network.log). Re-applying is idempotent.
      - Every writing host module saves into the same state, as if the saved tasks ran again in order. Items a task
        names as exact (V(replaced), V(overridden), M(harvester.network.host_bond), the ports of
        M(harvester.network.host_bridge) with O(harvester.network.host_bridge#module:purge_ports)) replace what was
        saved for them, V(merged) items add to it, and removing an item (V(absent), V(deleted)) removes it from the
        saved state. VLAN tables, addresses and routes the kernel drops as a result go from it too, and a
        migration moves the uplink's saved addresses and routes onto the bridge.
      - Before changing anything, the saved state with this task in it is planned against the node as this task
        leaves it; if re-applying it at boot would change anything, or would fail, the task fails and names it.
      - Ignored with V(gathered) and V(rendered).
    type: bool
    default: false
requirements:
  - Python 3.8+ on the managed node; pyroute2 >= 0.9 only for the reference netlink codec (see the notes)
  - Linux with the bonding, 8021q and bridge (with VLAN filtering) kernel features
  - root privileges (O(ignore:become=true) or a root connection)
notes:
  - The module reads the node over netlink, computes a plan of small operations (each shown with the iproute2 command
    that does the same), and applies it, keeping a journal of inverse operations. If an operation fails, the journal
    is undone and the node is compared with the snapshot taken before the run; whatever still differs is planned back.
    The result's RV(ignore:rollback) says whether the node is exactly as before.
  - A run that is killed while it writes (SIGKILL, out of memory) cannot roll back. Before its first write it keeps
    the node's addresses and routes in C(/run/harvester-network/inflight.json); the next run puts back those the kill
    left removed (a route being moved from the uplink to the bridge, say), where its own desired state wants them,
    and reports them in RV(ignore:interrupted). Check mode predicts that too.
  - After applying, the node is read again and planned against the same desired state; that second plan must be
    empty, otherwise the run fails and is rolled back (so RV(ignore:changed=true) always means the node now matches).
  - Netlink messages are built and parsed by a small built-in codec (pyroute2's general builders cost more than the
    kernel work on a node with hundreds of ports). Setting the environment variable E(HARVESTER_NETWORK_CODEC=pyroute2)
    on the node switches to pyroute2's IPBatch and IPRoute, the reference the built-in codec is tested against.
  - In check mode the plan and the predicted RV(ignore:after) come from a model of the kernel's behaviour (default
    PVIDs of new bridge ports, MTU of bond slaves, routes flushed with a link going down, ...), not from a guess.
'''

    # One bond's options: the top level of host_bond, and bonds[] of host_network (see NETWORK below).
    BOND = r'''
options:
  name:
    description: Name of the bond, at most 15 characters (Harvester v1.1+ names it C(<cluster network>-bo)).
    type: str
    required: true
  mode:
    description:
      - The bonding mode. Changing it needs the bond down and without slaves (the kernel refuses otherwise), so the
        slaves are released and enslaved again; the plan says so in a C(note). This is not hitless, the traffic
        through the bond stops until it is up again (a kernel rule; the lab measures what it costs), and the module
        warns before doing it, in check mode and with C(--diff) too.
      - A new bond without O(mode) gets V(active-backup), Harvester's default.
    type: str
    choices: [balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb]
  slaves:
    description:
      - The NICs of the bond. Left out, the slaves are not changed.
      - M(harvester.network.host_bond), and M(harvester.network.host_network) with V(replaced) or V(overridden), make
        the list exact (slaves not listed are released); M(harvester.network.host_network) with V(merged) adds them.
      - A NIC that is in another bond or bridge is an error; release it there first.
      - Slaves cannot keep addresses; a slave's addresses and routes are removed (the plan lists them).
    type: list
    elements: str
  mtu:
    description: MTU of the bond (the kernel gives it to every slave), 68-65535 and at most what the slaves support.
    type: int
  mac:
    description:
      - MAC address of the bond (unicast). Left out, the kernel uses the first slave's.
      - Gathered output reports the address the bond has, set or taken from a slave; fed back, it changes nothing.
    type: str
  up:
    description: Whether the bond is administratively up.
    type: bool
    default: true
  miimon:
    description: MII link monitoring interval in milliseconds; V(0) disables it. Mutually exclusive with O(arp_interval).
    type: int
  updelay:
    description: Milliseconds to wait before enabling a slave whose link came up; a multiple of O(miimon).
    type: int
  downdelay:
    description: Milliseconds to wait before disabling a slave whose link went down; a multiple of O(miimon).
    type: int
  lacp_rate:
    description: LACPDU rate asked of the partner (mode V(802.3ad) only). Changing it takes the bond down briefly.
    type: str
    choices: [slow, fast]
  xmit_hash_policy:
    description: Transmit hash policy (modes V(balance-xor), V(802.3ad), V(balance-tlb), V(balance-alb)).
    type: str
    choices: [layer2, layer3+4, layer2+3, encap2+3, encap3+4, vlan+srcmac]
  ad_select:
    description: 802.3ad aggregator selection logic (mode V(802.3ad) only). Changing it takes the bond down briefly.
    type: str
    choices: [stable, bandwidth, count]
  primary:
    description: The preferred slave (modes V(active-backup), V(balance-tlb), V(balance-alb)); one of the slaves.
    type: str
  arp_interval:
    description:
      - ARP monitoring interval in milliseconds (modes V(balance-rr), V(active-backup), V(balance-xor),
        V(broadcast)); V(0) disables it. Mutually exclusive with O(miimon).
    type: int
  arp_ip_target:
    description: IPv4 addresses to ARP when O(arp_interval) is set (at most 16).
    type: list
    elements: str
  min_links:
    description: Minimum number of slaves that must be up for the bond to have carrier (mode V(802.3ad) only).
    type: int
'''

    # One bridge's options: the top level of host_bridge, and bridges[] of host_network (see NETWORK below).
    BRIDGE = r'''
options:
  name:
    description: Name of the bridge, at most 15 characters.
    type: str
    required: true
  vlan_filtering:
    description: Whether the bridge filters by VLAN (what Harvester's VLAN networks need).
    type: bool
    default: true
  default_pvid:
    description:
      - The VLAN a new port gets as PVID, untagged (V(0) for none). Changing it moves the ports that still have the
        old default to the new one, as the kernel does.
    type: int
    default: 1
  stp:
    description: Whether the kernel runs the spanning tree protocol on the bridge.
    type: bool
    default: false
  mtu:
    description:
      - MTU of the bridge and of its O(uplink), 68-65535. Left out, the bridge takes the uplink's MTU.
    type: int
  mac:
    description:
      - MAC address of the bridge (unicast). Left out, the kernel picks one from its ports.
      - Gathered output reports the address the bridge has, set or picked by the kernel; fed back, it changes nothing.
    type: str
  promisc:
    description: Promiscuous mode of the bridge device (Harvester turns it on).
    type: bool
    default: true
  up:
    description: Whether the bridge is administratively up.
    type: bool
    default: true
  uplink:
    description:
      - The NIC or bond that connects the bridge to the physical network. It becomes a port and is brought up.
      - It must not be in another bridge or bond (release it there first).
    type: str
  ports:
    description:
      - Other ports (for example the host ends of VM veth pairs). Left out, the ports are not changed.
      - They are added. M(harvester.network.host_bridge) with O(harvester.network.host_bridge#module:purge_ports), and
        M(harvester.network.host_network) with V(replaced) or V(overridden), make the list exact together with the
        uplink (ports not listed are released).
      - Another bridge cannot be a port (the kernel refuses it).
    type: list
    elements: str
  migrate:
    description:
      - Move the uplink's IP addresses and routes to the bridge (the bridge gets them before the uplink loses them,
        gateway routes come last). Needs O(uplink).
      - Safe to repeat; once moved, there is nothing left to move. M(harvester.network.host_network) adds probes and
        automatic rollback around a move of the management addresses.
      - Routes in other tables and multipath routes through the uplink move too (deleted before the uplink loses
        its addresses, which would make the kernel drop them, and added back through the bridge last); the rollback
        puts them back. Any other change that would make the kernel drop such a route (its link enslaved, taken down
        or left without IPv4 addresses) is refused before anything is written, naming the route and what to do.
    type: bool
    default: false
'''


def _nested(text, option, description):
    """The options in ``text`` as the suboptions of the list option ``option``; O(name) references become
    O(option[].name)."""
    lines = text.strip('\n').split('\n')[1:]  # below "options:"
    names = [line.strip()[:-1] for line in lines if line.startswith('  ') and not line.startswith('   ')]
    body = '\n'.join('    ' + line if line else line for line in lines)
    body = re.sub(r'O\((%s)\)' % '|'.join(re.escape(name) for name in names), r'O(%s[].\1)' % option, body)
    return '  %s:\n    description: %s\n    type: list\n    elements: dict\n    suboptions:\n%s\n' % (
        option, description, body)


# Built from the literal fragments above (yamllint checks those), so host_network cannot drift from them.
ModuleDocFragment.NETWORK = 'options:\n%s%s' % (
    _nested(ModuleDocFragment.BOND, 'bonds', 'Bonds; the options are those of M(harvester.network.host_bond).'),
    _nested(ModuleDocFragment.BRIDGE, 'bridges', 'Bridges; the options are those of M(harvester.network.host_bridge)'
            ' except O(harvester.network.host_bridge#module:purge_ports).'))
