# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One network vocabulary for host code, cluster code and the roles: how Harvester names the devices of a cluster
network on a node, the bond modes, what a NIC name may be, the VLAN ID range, and how a Harvester network agent shows
on a node.

Pure Python, no Ansible imports: the host modules (on the node), the cluster modules and the filter plugins (on the
controller) import it alike. It lives in the host package because the node's boot-time unit runs a copy of that
package alone (persist.py): whatever the host engine imports must be inside it.

Upstream (harvester/network-controller-harvester):
- v0.2.6 (1868342528f3bcba6b246471a7232df6556263d4) ``pkg/network/vlan/vlan.go``: ``BridgeName = "harvester-br0"``,
  the one bridge of Harvester v0.3/v1.0, over the ``vlan`` ClusterNetwork's NIC.
- 2e5cbea3 ``pkg/utils/bridge.go``: ``BridgeSuffix = "-br"``, ``BondSuffix = "-bo"``, ``MaxDeviceNameLen = 15``:
  Harvester v1.1+ builds ``<cluster network>-bo`` and ``<cluster network>-br`` per cluster network.
- Both: ``manifests/daemonset.yaml`` (v0.2.6) and the chart run the agent as ``harvester-network-controller agent``
  (``cmd/network-controller/main.go``: subcommands ``agent`` and ``manager``); the agent is what builds the devices.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

LEGACY = 'legacy'
CURRENT = 'current'

LEGACY_BRIDGE = 'harvester-br0'
LEGACY_CLUSTER_NETWORK = 'vlan'
MGMT_CLUSTER_NETWORK = 'mgmt'
BRIDGE_SUFFIX = '-br'
BOND_SUFFIX = '-bo'
MAX_DEVICE_NAME = 15
# A cluster network's name leaves room for the suffix in a 15-character device name.
MAX_CLUSTER_NETWORK_NAME = MAX_DEVICE_NAME - len(BRIDGE_SUFFIX)
CLUSTER_NETWORK_NAME = re.compile(r'^[a-z0-9]([-a-z0-9]{0,%d}[a-z0-9])?$' % (MAX_CLUSTER_NETWORK_NAME - 2))

# The kernel's bonding modes (drivers/net/bonding, bond_mode_tbl), by the names sysfs and Harvester's VlanConfig
# ``bondOptions.mode`` takes (2e5cbea3 pkg/apis/network.harvesterhci.io/v1beta1/vlanconfig.go: the enum of BondMode).
BOND_MODES = ('balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb')

# IEEE 802.1Q VLAN IDs a network or a bridge port may carry: 0 (priority tag) and 4095 are reserved.
VID_MIN = 1
VID_MAX = 4094

# A Linux interface name (the kernel's dev_valid_name): 1-15 characters, no white space, "/" or ":", not "." or "..".
_NIC_NAME = re.compile(r'^[^\s/:]{1,%d}$' % MAX_DEVICE_NAME)


def is_nic_name(name):
    """Whether the kernel takes ``name`` as an interface name (the rule of the kernel's ``dev_valid_name``)."""
    return isinstance(name, str) and bool(_NIC_NAME.match(name)) and name not in ('.', '..')


AGENT_PROGRAM = 'harvester-network-controller'
AGENT_COMMAND = 'agent'


def bridge_name(generation, cluster_network):
    """The node bridge of ``cluster_network``: ``harvester-br0`` on v0.3/v1.0, ``<cluster network>-br`` on v1.1+."""
    if generation == LEGACY:
        return LEGACY_BRIDGE
    return cluster_network + BRIDGE_SUFFIX


def uplink_bond_name(cluster_network):
    """The uplink bond Harvester v1.1+ builds over a cluster network's NICs."""
    return cluster_network + BOND_SUFFIX


def cluster_network_of_bridge(bridge):
    """The cluster network whose bridge ``bridge`` is, or None when the name is not one Harvester gives."""
    if bridge == LEGACY_BRIDGE:
        return LEGACY_CLUSTER_NETWORK
    if bridge and bridge.endswith(BRIDGE_SUFFIX) and CLUSTER_NETWORK_NAME.match(bridge[:-len(BRIDGE_SUFFIX)]):
        return bridge[:-len(BRIDGE_SUFFIX)]
    return None


def harvester_device(name):
    """``bridge`` or ``bond`` when a Harvester network agent would own a device of this name, else None."""
    if not name:
        return None
    if cluster_network_of_bridge(name):
        return 'bridge'
    if name.endswith(BOND_SUFFIX) and CLUSTER_NETWORK_NAME.match(name[:-len(BOND_SUFFIX)]):
        return 'bond'
    return None


def node_devices(generation, cluster_network, nics):
    """What a cluster network is made of on a node: ``{cluster_network, bridge, uplink}``. On v0.3/v1.0 the one
    cluster network is ``vlan`` and the uplink is the NIC (or PXE bond) itself; on v1.1+ the NICs are bonded."""
    if generation == LEGACY:
        return {'cluster_network': LEGACY_CLUSTER_NETWORK, 'bridge': LEGACY_BRIDGE,
                'uplink': nics[0] if nics else None}
    return {'cluster_network': cluster_network, 'bridge': bridge_name(generation, cluster_network),
            'uplink': uplink_bond_name(cluster_network)}


def find_agent(proc='/proc'):
    """The PID of a running Harvester network agent (``harvester-network-controller agent``), or None.

    Read-only and cheap: one small read of ``/proc/<pid>/cmdline`` per process. The agent runs in a pod (a
    DaemonSet), and the node's own /proc lists the processes of every pod, so a module on the node sees it there."""
    try:
        entries = os.listdir(proc)
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, 'cmdline'), 'rb') as handle:
                argv = handle.read(4096).split(b'\0')
        except OSError:
            continue
        if (len(argv) > 1 and os.path.basename(argv[0].decode('utf-8', 'replace')) == AGENT_PROGRAM
                and AGENT_COMMAND.encode() in argv[1:]):
            return int(entry)
    return None
