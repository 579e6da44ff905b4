# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the collection's roles, as filters: what their vars files used to compute in Jinja. Pure functions of
their arguments (the role's variables, what a module read from the cluster or the node), unit-tested in
tests/unit/roles. Each filter is documented in the YAML file of its name beside this one."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


# VLAN IDs an uplink trunks: 1 is the ports' default PVID (untagged), 0 and 4095 are reserved.
TRUNK_MIN_VID = 2
TRUNK_MAX_VID = 4094


def _vid(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def trunk_vids(networks):
    """The VLAN IDs an uplink must trunk for ``networks`` (items of harvester.network.vlan_network_info ``networks``):
    a ``vlan`` network's ``vlan_id``, every ID of a ``trunk`` network's ``vlan_trunk`` ranges; never 0 or 1 (1 is the
    untagged PVID); ``untagged`` and ``overlay`` networks carry no tagged VLAN on the uplink. Sorted, each once."""
    vids = set()
    for network in networks or []:
        kind = network.get('network_type')
        if kind == 'vlan':
            vid = _vid(network.get('vlan_id'))
            if vid is not None and TRUNK_MIN_VID <= vid <= TRUNK_MAX_VID:
                vids.add(vid)
        elif kind == 'trunk':
            for item in network.get('vlan_trunk') or []:
                low = _vid(item.get('min_id'))
                high = _vid(item.get('max_id', low))
                if low is None or high is None:
                    continue
                vids.update(range(max(low, TRUNK_MIN_VID), min(high, TRUNK_MAX_VID) + 1))
    return sorted(vids)


class FilterModule(object):

    def filters(self):
        return {
            'trunk_vids': trunk_vids,
        }
