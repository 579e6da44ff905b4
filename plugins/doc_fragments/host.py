# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the host modules (the ones that change a node's network over netlink)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


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
requirements:
  - Python 3.8+ on the managed node; pyroute2 >= 0.9 only for the reference netlink codec (see the notes)
  - Linux with the bonding, 8021q and bridge (with VLAN filtering) kernel features
  - root privileges (O(ignore:become=true) or a root connection)
notes:
  - The module reads the node over netlink, computes a plan of small operations (each shown with the iproute2 command
    that does the same), and applies it, keeping a journal of inverse operations. If an operation fails, the journal
    is undone and the node is compared with the snapshot taken before the run; whatever still differs is planned back.
    The result's RV(ignore:rollback) says whether the node is exactly as before.
  - After applying, the node is read again and planned against the same desired state; that second plan must be
    empty, otherwise the run fails and is rolled back (so RV(ignore:changed=true) always means the node now matches).
  - Netlink messages are built and parsed by a small built-in codec (pyroute2's general builders cost more than the
    kernel work on a node with hundreds of ports). Setting the environment variable E(HARVESTER_NETWORK_CODEC=pyroute2)
    on the node switches to pyroute2's IPBatch and IPRoute, the reference the built-in codec is tested against.
  - In check mode the plan and the predicted RV(ignore:after) come from a model of the kernel's behaviour (default
    PVIDs of new bridge ports, MTU of bond slaves, routes flushed with a link going down, ...), not from a guess.
'''
